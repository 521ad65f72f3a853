// Where `herd build --out DIR` may write, and the swap that replaces DIR only once the new tree is complete (I/O shell).
// herd owns an output folder only when it carries herd's marker file: the project, the spec folder, home, `/`, kernel filesystems,
// files, devices, symlinks and foreign folders are refused, never replaced. The new tree is built in a sibling temp folder and
// swapped in by two renames, so a failure at any point leaves DIR as it was.
import { createHash } from 'node:crypto';
import { accessSync, closeSync, constants as fsConstants, fchmodSync, lstatSync, mkdirSync, realpathSync, rmdirSync, statfsSync, statSync, type BigIntStats } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { herdFailure, isHerdFailure } from '../diagnostics/diagnostic.ts';
import { ConfinedDir, fileKind, isPathBlocked, isSpecialPlace, readBounded, writeAllSync } from '../fs/confined-dir.ts';
import { unsafeArtifactPath } from '../state/paths.ts';
import { trackTemp } from '../fs/temp-registry.ts';
import { commitTree, stageTree, treeUnchanged } from '../state/tree-write.ts';
import { recordedStatOf } from '../state/manifest-io.ts';
import type { RecordedStat } from '../plan/state-manifest.ts';
import type { Artifact } from '../artifacts/artifact.ts';

/** The file herd leaves at the top of every tree it builds: its presence is the only permission to replace the folder. */
export const OUT_MARKER = '.herd-build';
/** Canonical JSON (sorted keys), identical on every run so builds stay byte-identical. */
export const OUT_MARKER_TEXT = '{"formatVersion":1,"kind":"herd-build"}\n';
// The marker lists every file's stamp: about 150 bytes each, 20,000 files (10,000 nodes' overlays) in 3 MB.
const MARKER_MAX_BYTES = 64 * 1024 * 1024;
const KEEP_OUT = 'choose a folder that does not exist yet, an empty folder, or one herd built before (e.g. --out build/lab)';

/** True when `text` is herd's marker (any formatVersion: a newer herd's tree is still herd's). Pure. */
export function isOutMarker(text: string): boolean {
  try {
    const v = JSON.parse(text) as { kind?: unknown; formatVersion?: unknown } | null;
    return typeof v === 'object' && v !== null && v.kind === 'herd-build' && Number.isInteger(v.formatVersion);
  } catch {
    return false;
  }
}

/** A folder the output must never be, nor hold: replacing the output as a whole would delete it. */
export interface GuardedPlace {
  readonly what: string;
  readonly real: string;
}

/** The guarded place that `outReal` is, or is an ancestor of; undefined when none. Pure (real paths in, no I/O). */
export function swallowedPlace(outReal: string, places: readonly GuardedPlace[]): GuardedPlace | undefined {
  const prefix = outReal === '/' ? '/' : outReal + '/';
  return places.find((p) => p.real === outReal || p.real.startsWith(prefix));
}

/** What is at DIR now: nothing, an empty folder, or a folder herd built; (dev, ino) pin the folder that was checked. */
export type OutState = { readonly kind: 'absent' } | { readonly kind: 'empty' | 'herd'; readonly dev: bigint; readonly ino: bigint };

export interface OutDirCheck {
  /** DIR as the user wrote it, for messages. */
  readonly out: string;
  /** Real path the tree will have (existing parts' symlinks resolved). */
  readonly real: string;
  readonly parentReal: string;
  readonly name: string;
  /** Parent folders that do not exist yet, outermost first; herd creates them (and removes them again on failure). */
  readonly missingParents: readonly string[];
  readonly state: OutState;
}

export interface OutDirContext {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The folder holding the spec. */
  readonly specDir: string;
}

/** One file of the tree, relative to DIR; `sha256`/`size`, when given, are checked against the bytes written. */
export interface OutFile {
  readonly path: string;
  readonly mode: number;
  readonly bytes?: Uint8Array;
  readonly produce?: () => AsyncIterable<Uint8Array>;
  readonly sha256?: string;
  readonly size?: number;
  /** 'tree': a folder unpacked from the archive `produce` streams (an image's chroot), see state/tree-write.ts. */
  readonly kind?: string;
  readonly tree?: Artifact['tree'];
}

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;
const unsafe = (message: string, hint = KEEP_OUT) => herdFailure('build/out-unsafe', message, hint);

function realOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/** Whether `name` in `parent` holds herd's marker as a regular file (a symlinked or oversized marker does not count). */
function hasMarker(parent: ConfinedDir, name: string): boolean {
  try {
    const b = parent.readFile(`${name}/${OUT_MARKER}`, MARKER_MAX_BYTES);
    return b !== undefined && isOutMarker(b.toString('utf8'));
  } catch {
    return false;
  }
}

/**
 * The trees (images unpacked into their chroots) the previous build left in `name`, as its marker recorded them right after
 * writing: the tree's hash and its top folder's stat. A tree is reused only while its hash is the one wanted and treeUnchanged
 * holds (the rule apply's plan uses for a target's chroot), so a no-change build does not unpack tens of thousands of files again.
 */
interface MarkedTree extends RecordedStat {
  readonly sha256: string;
}
/**
 * The previous build's marker: its trees, and its files with the stamp each had when the build ended (hash and stat). A file
 * is reused (moved into the new build, not produced and written again: 2,000 nodes' gzipped overlays) only while its hash is
 * the one wanted and its stat is the recorded one, with a ctime older than the marker's own (as the live scan trusts a target
 * file: an edit moves ctime, which cannot be set from user space).
 */
interface PreviousBuild {
  readonly trees: Record<string, MarkedTree>;
  readonly files: Record<string, MarkedTree>;
  /** The marker's mtime (ns), or undefined: then no file is reused. */
  readonly markerMtimeNs?: string;
}
function previousBuild(parent: ConfinedDir, name: string): PreviousBuild {
  // Text and mtime from one descriptor: the mtime belongs to the very marker read.
  let o: ReturnType<ConfinedDir['openRead']>;
  try {
    o = parent.openRead(`${name}/${OUT_MARKER}`);
    const b = o === undefined ? undefined : readBounded(o.fd, o.stat.size, MARKER_MAX_BYTES);
    if (o === undefined || b === undefined) return { trees: {}, files: {} };
    const v = JSON.parse(b.toString('utf8')) as { trees?: unknown; files?: unknown } | null;
    const map = (x: unknown): Record<string, MarkedTree> => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, MarkedTree>) : {});
    return { trees: map(v?.trees), files: map(v?.files), markerMtimeNs: String(o.stat.mtimeNs) };
  } catch {
    return { trees: {}, files: {} };
  } finally {
    if (o) closeSync(o.fd);
  }
}

/** Whether the previous build's file at `rel` is still exactly what its marker recorded for the artifact `f`. */
function sameFile(parent: ConfinedDir, rel: string, f: OutFile, prev: PreviousBuild): boolean {
  const m = prev.files[f.path];
  if (m === undefined || f.sha256 === undefined || m.sha256 !== f.sha256 || prev.markerMtimeNs === undefined) return false;
  const st = parent.lstat(rel);
  if (!st?.isFile() || Number(st.mode & 0o7777n) !== f.mode || st.ctimeNs >= BigInt(prev.markerMtimeNs)) return false;
  const now = recordedStatOf(st);
  return now.size === m.size && (f.size === undefined || now.size === f.size) && treeUnchanged(m, now);
}

function treeStamp(parent: ConfinedDir, rel: string, sha256: string): MarkedTree | undefined {
  const st = parent.lstat(rel);
  return st?.isDirectory() ? { sha256, ...recordedStatOf(st) } : undefined;
}

const sameTree = (a: MarkedTree | undefined, b: MarkedTree | undefined): boolean => a !== undefined && b !== undefined && a.sha256 === b.sha256 && treeUnchanged(a, b);

/** Classify `name` in `parent`; throws the refusal when it may not be replaced. */
function classify(parent: ConfinedDir, name: string, out: string): OutState {
  const shown = `--out ${out}`;
  const st = parent.lstat(name);
  if (st === null) return { kind: 'absent' };
  if (st.isSymbolicLink()) throw unsafe(`${shown} is a symlink; herd never replaces a symlink or writes through one`, 'pass the folder itself, if it is empty or one herd built before');
  if (!st.isDirectory()) throw unsafe(`${shown} is ${fileKind(st)}, not a folder; herd never replaces it`);
  const entries = parent.readdir(name) ?? [];
  if (entries.length === 0) return { kind: 'empty', dev: st.dev, ino: st.ino };
  if (hasMarker(parent, name)) return { kind: 'herd', dev: st.dev, ino: st.ino };
  throw herdFailure(
    'build/out-not-herds',
    `${shown} (${parent.hostPath(name)}) is a folder herd did not build: it is not empty and has no ${OUT_MARKER} marker, and herd never deletes what it did not create`,
    `choose an empty folder or one herd built before, or empty ${out} yourself`,
  );
}

/**
 * Decide whether `out` may receive a build: throws a HerdFailure (build/out-unsafe, build/out-not-herds) naming the path when
 * it is or holds the current folder, the spec folder, `/` or the home folder, lies on a kernel filesystem, is a symlink or
 * not a folder, or is a non-empty folder without herd's marker. Changes nothing; call it again right before writing.
 */
export function checkOutDir(out: string, ctx: OutDirContext): OutDirCheck {
  const shown = `--out ${out}`;
  const abs = resolve(ctx.cwd, out);
  // The deepest part of the path that exists; the rest is created later, one folder at a time.
  let existing = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      lstatSync(existing);
      break;
    } catch (e) {
      if (errno(e) !== 'ENOENT' && errno(e) !== 'ENOTDIR') throw e;
      tail.unshift(basename(existing));
      existing = dirname(existing);
    }
  }
  let prefixReal: string;
  try {
    prefixReal = realpathSync(existing);
  } catch {
    throw unsafe(`${shown}: ${existing} is a symlink that leads nowhere`);
  }
  const real = tail.length > 0 ? join(prefixReal, ...tail) : prefixReal;
  const homes = [ctx.env.HOME, homedir()].filter((h): h is string => typeof h === 'string' && h !== '');
  const places: GuardedPlace[] = [
    { what: 'the root folder', real: '/' },
    { what: 'the current folder', real: realOr(ctx.cwd) },
    { what: 'the spec folder', real: realOr(ctx.specDir) },
    ...homes.map((h) => ({ what: 'your home folder', real: realOr(h) })),
  ];
  const hit = swallowedPlace(real, places);
  if (hit) {
    const what = hit.real === real ? hit.what : `a parent of ${hit.what} ${hit.real}`;
    throw unsafe(`${shown}${real === out ? '' : ` (${real})`} is ${what}; herd build replaces its output folder as a whole, so it would delete it`, `${KEEP_OUT}, that holds none of these`);
  }
  let fsType: number | undefined;
  try {
    fsType = Number(statfsSync(prefixReal).type);
  } catch {
    fsType = undefined;
  }
  if (isSpecialPlace(real, fsType)) throw unsafe(`${shown}${real === out ? '' : ` (${real})`} is on a kernel filesystem; herd never writes there`);
  const name = basename(real);
  const parentReal = dirname(real);
  const missingParents: string[] = [];
  for (let i = 0; i < tail.length - 1; i++) missingParents.push(join(prefixReal, ...tail.slice(0, i + 1)));
  if (tail.length > 0) {
    if (!statSync(prefixReal).isDirectory()) throw unsafe(`${shown}: ${existing} is in the way, it is ${fileKind(statSync(prefixReal))}, not a folder`);
    mustWrite(shown, prefixReal);
    return { out, real, parentReal, name, missingParents, state: { kind: 'absent' } };
  }
  // DIR exists: a symlink is judged as itself (lstat), never by what it points to.
  const own = lstatSync(abs);
  if (own.isSymbolicLink()) throw unsafe(`${shown} is a symlink (to ${real}); herd never replaces a symlink or writes through one`, 'pass the folder itself, if it is empty or one herd built before');
  if (!own.isDirectory()) throw unsafe(`${shown} is ${fileKind(own)}, not a folder; herd never replaces it`);
  mustWrite(shown, parentReal);
  const parent = ConfinedDir.open(parentReal, { what: 'output folder' });
  try {
    return { out, real, parentReal, name, missingParents, state: classify(parent, name, out) };
  } finally {
    parent.close();
  }
}


const sameDir = (st: BigIntStats | null, state: OutState): boolean => st !== null && st.isDirectory() && state.kind !== 'absent' && st.dev === state.dev && st.ino === state.ino;

/** A temp name herd creates (mkdtemp) beside DIR: `.<name>.herd-<what>-XXXXXX`, recognisable as herd's. */
function siblingTemp(parent: ConfinedDir, name: string, what: 'tmp' | 'old'): string {
  const made = parent.mkdtemp('', `.${name.slice(0, 200)}.herd-${what}-`);
  if (!parent.lstat(made)?.isDirectory()) throw unsafe(`${parent.hostPath(made)} changed while herd created it`);
  return made;
}

async function writeFileIn(parent: ConfinedDir, rel: string, f: OutFile): Promise<void> {
  if (f.kind === 'tree' && f.produce && f.sha256 !== undefined && f.size !== undefined) {
    // The folder as apply writes it; owners are the archive's only when herd runs as root.
    const staged = await stageTree(parent, rel, { produce: f.produce, sha256: f.sha256, size: f.size, ...(f.tree ? { tree: f.tree } : {}) }, { mode: f.mode, chown: process.getuid?.() === 0 });
    commitTree(parent, staged.temp, rel);
    return;
  }
  // Exclusive create without following symlinks, 0600 while it is written; the mode is set on the descriptor.
  const fd = parent.createExclusive(rel, 0o600, true);
  try {
    const hash = createHash('sha256');
    let size = 0;
    const put = (c: Uint8Array): void => {
      hash.update(c);
      writeAllSync(fd, c);
      size += c.length;
    };
    if (f.bytes) put(f.bytes);
    else if (f.produce) for await (const c of f.produce()) put(c);
    if ((f.sha256 !== undefined && hash.digest('hex') !== f.sha256) || (f.size !== undefined && size !== f.size)) {
      throw herdFailure('build/artifact-mismatch', `${f.path}: the bytes written do not match the artifact's recorded sha256/size`, 'this is a compiler bug; please report it');
    }
    fchmodSync(fd, f.mode);
  } finally {
    closeSync(fd);
  }
}

/** Remove the old tree moved aside, only if it is still the folder that was checked and still herd's. Returns a warning when it stays. */
function removeTrash(parent: ConfinedDir, trash: string, was: OutState): string | undefined {
  const path = parent.hostPath(trash);
  const left = `the previous build was moved to ${path} and left there: `;
  try {
    if (!sameDir(parent.lstat(trash), was)) return left + 'it changed while herd ran';
    if (was.kind === 'empty') parent.rmdir(trash);
    else if (hasMarker(parent, trash)) parent.removeTree(trash); // symlinks inside are removed as links, never followed
    else return left + `it no longer carries herd's ${OUT_MARKER} marker`;
  } catch (e) {
    return left + (e as Error).message;
  }
  return undefined;
}

/**
 * Write `files` (plus herd's marker) into a new sibling temp folder and swap it in for `check.real`, which is checked again
 * first. On any failure the temp folder (and any parent folder herd created) is removed and DIR is left untouched; system
 * errors become a build/write-failed HerdFailure. Returns warnings (e.g. an old tree herd could not safely remove).
 */
export async function writeOutDir(check: OutDirCheck, files: readonly OutFile[]): Promise<{ warnings: string[] }> {
  for (const f of files) {
    const why = f.path === OUT_MARKER ? `is herd's own marker file ${OUT_MARKER}` : unsafeArtifactPath(f.path);
    if (why !== undefined) throw herdFailure('build/artifact-path-unsafe', `artifact path ${JSON.stringify(f.path)} ${why}`, 'this is a compiler bug; please report it');
  }
  const shown = `--out ${check.out}`;
  const created: string[] = [];
  let parent: ConfinedDir | undefined;
  let tmp: string | undefined;
  let trash: string | undefined;
  const borrowed: string[] = [];
  // Files are written with awaits in between, so a Ctrl-C can land mid-write: the half-written folder is then removed (interrupt.ts).
  let forgetTmp = (): void => {};
  try {
    for (const p of check.missingParents) {
      try {
        mkdirSync(p, { mode: 0o755 });
        created.push(p);
      } catch (e) {
        if (errno(e) !== 'EEXIST') throw e;
      }
      const st = lstatSync(p);
      if (!st.isDirectory()) throw unsafe(`${shown}: ${p} is in the way, it is not a folder`);
    }
    parent = ConfinedDir.open(check.parentReal, { what: 'output folder' });
    if (parent.real !== check.parentReal) throw unsafe(`${shown}: ${check.parentReal} changed while herd ran (it now leads to ${parent.real})`);
    tmp = siblingTemp(parent, check.name, 'tmp');
    const confined = parent;
    const made = tmp;
    forgetTmp = trackTemp(parent.hostPath(tmp), () => confined.removeTree(made));
    const previous: PreviousBuild = check.state.kind === 'herd' ? previousBuild(parent, check.name) : { trees: {}, files: {} };
    const trees: Record<string, MarkedTree> = {};
    const stamps: Record<string, MarkedTree> = {};
    for (const f of files) {
      const at = `${tmp}/${f.path}`;
      const old = `${check.name}/${f.path}`;
      const tree = f.kind === 'tree';
      if (tree ? f.sha256 !== undefined && sameTree(previous.trees[f.path], treeStamp(parent, old, f.sha256)) : sameFile(parent, old, f, previous)) {
        // The previous build's tree or file, unchanged: moved into the new one (the old folder is discarded below anyway).
        parent.mkdirs(dirname(at));
        parent.rename(old, at);
        borrowed.push(f.path);
      } else await writeFileIn(parent, at, f);
      if (f.sha256 === undefined) continue;
      if (tree) {
        const stamp = treeStamp(parent, at, f.sha256);
        if (stamp) trees[f.path] = stamp;
      } else {
        const st = parent.lstat(at);
        if (st?.isFile()) stamps[f.path] = { sha256: f.sha256, ...recordedStatOf(st) };
      }
    }
    const marker = Object.keys(trees).length === 0 && Object.keys(stamps).length === 0 ? OUT_MARKER_TEXT : `${JSON.stringify({ formatVersion: 1, kind: 'herd-build', trees, files: stamps })}\n`;
    await writeFileIn(parent, `${tmp}/${OUT_MARKER}`, { path: OUT_MARKER, mode: 0o644, bytes: new TextEncoder().encode(marker) });
    // mkdtemp made it 0700 (private while half-written); publish it as an ordinary folder.
    if (!parent.lstat(tmp)?.isDirectory()) throw unsafe(`${parent.hostPath(tmp)} changed while herd wrote it`);
    parent.chmodDir(tmp, 0o755);
    // Check DIR again: it may have changed while the spec compiled.
    const now = classify(parent, check.name, check.out);
    const warnings: string[] = [];
    if (now.kind === 'absent') {
      // rename(2) replaces only an empty folder that appeared meanwhile; a file or a non-empty folder makes it fail.
      parent.rename(tmp, check.name);
      tmp = undefined;
    } else {
      trash = siblingTemp(parent, check.name, 'old');
      const moved = trash;
      const putBack = (): void => {
        trash = undefined; // from here on the moved folder is never removed, only put back (or reported where it is)
        try {
          parent!.rename(moved, check.name);
        } catch (e) {
          throw unsafe(`${shown}: herd moved the folder aside to ${parent!.hostPath(moved)} and could not move it back (${(e as Error).message})`, `move ${parent!.hostPath(moved)} back to ${check.real} by hand`);
        }
      };
      parent.rename(check.name, moved); // replaces the empty folder herd just made
      if (!sameDir(parent.lstat(moved), now)) {
        putBack();
        throw unsafe(`${shown} changed while herd was replacing it; it was left as it is`);
      }
      try {
        parent.rename(tmp, check.name);
        tmp = undefined;
      } catch (e) {
        putBack();
        throw e;
      }
      const w = removeTrash(parent, moved, now);
      trash = undefined;
      if (w) warnings.push(w);
    }
    const done = parent;
    tryQuietly(() => done.fsyncDir('')); // DIR is already replaced: a failed fsync must not report it as untouched
    return { warnings };
  } catch (e) {
    const p = parent;
    // The trash folder is removed only while empty (rmdir): if the old tree is still in it, it stays, and the failure says where.
    if (p && trash !== undefined) tryQuietly(() => p.rmdir(trash!));
    // Trees taken from the previous build go back to it before the new folder is removed (the previous one is in place again).
    if (p && tmp !== undefined) for (const t of borrowed) tryQuietly(() => p.rename(`${tmp}/${t}`, `${check.name}/${t}`));
    if (p && tmp !== undefined) tryQuietly(() => p.removeTree(tmp!));
    for (const c of created.reverse()) tryQuietly(() => rmdirSync(c));
    if (isHerdFailure(e)) throw e;
    if (errno(e) !== undefined || isPathBlocked(e)) throw herdFailure('build/write-failed', `could not write the build for ${shown}: ${(e as Error).message}; the folder was left as it was`, 'fix the cause above and run herd build again');
    throw e;
  } finally {
    forgetTmp();
    parent?.close();
  }
}

/** Refuse now, before compiling, a folder herd could not create its sibling temp folder in: read-only, or not the user's to write. */
function mustWrite(shown: string, dir: string): void {
  try {
    accessSync(dir, fsConstants.W_OK);
  } catch (e) {
    const why = errno(e) === 'EROFS' ? 'is on a read-only filesystem' : errno(e) === 'EACCES' || errno(e) === 'EPERM' ? 'is not writable by you' : `cannot be written (${(e as Error).message})`;
    throw unsafe(`${shown}: ${dir} ${why}; herd writes the new tree beside the output folder`, 'choose a place you can write to (e.g. --out build/lab in your project)');
  }
}

function tryQuietly(f: () => void): void {
  try {
    f();
  } catch {
    // Cleanup of herd's own temp folders is best effort; a leftover is recognisable by its .herd-tmp-/.herd-old- name.
  }
}
