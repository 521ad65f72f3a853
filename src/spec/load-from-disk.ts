// I/O twin of checkSpec: finds the spec file, reads it and everything it references, then delegates to the pure core.
// Every read goes through one ConfinedDir of the spec's folder: a spec-named path that leaves the folder (written as an
// absolute path elsewhere, with `..`, or through a symlink) is reported on the spec line that names it and never opened,
// only regular files are read, FIFOs and devices never (they could hang or stream forever), and sizes are capped.
import { closeSync, statSync, type BigIntStats, type Dirent } from 'node:fs';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { herdFailure } from '../diagnostics/diagnostic.ts';
import { ConfinedDir, fileKind, isPathBlocked, readBounded, specRelative } from '../fs/confined-dir.ts';
import { checkSpec, type SpecCheck } from './check-spec.ts';
import type { AuxInputs } from './resolve.ts';
import { MAX_INPUT_BYTES, MAX_OVERLAY_ENTRIES, MAX_TOTAL_INPUT_BYTES, type InputProblem } from './input-problems.ts';

export interface SpecOnDisk extends SpecCheck {
  /** Absolute path of the spec file. */
  readonly specPath: string;
  readonly specDir: string;
  /** The spec path as shown to the user (relative to cwd). */
  readonly displayPath: string;
  /** sha256 over the spec and every file it pulled in, in a fixed order (and the overlay symlinks, when there are any). */
  readonly specHash: string;
  /** Every input file read (absolute path -> bytes), for hashing and for later stages (overlay templates). All are inside specDir. */
  readonly inputs: ReadonlyMap<string, Uint8Array>;
  /** Symlinks listed in site overlay folders (absolute path -> link target); never followed, never read. */
  readonly symlinks: ReadonlyMap<string, string>;
  /** Permission bits (mode & 0o7777, from the fstat of the open file) of every entry of `inputs`: overlay files keep theirs on the nodes. */
  readonly inputModes: ReadonlyMap<string, number>;
}

const errno = (e: unknown): string => (e as NodeJS.ErrnoException | undefined)?.code ?? 'error';
const SPEC_NAME = /\.ya?ml$/i;

interface SpecLocation {
  readonly specPath: string;
  readonly specDir: string;
  /** The spec file's name in specDir. */
  readonly name: string;
  readonly inFolder: boolean;
}

function findSpec(path: string, cwd: string): SpecLocation {
  const abs = resolve(cwd, path);
  let isDir: boolean;
  try {
    isDir = statSync(abs).isDirectory(); // the user's own path: followed, once
  } catch (e) {
    if (['ENOENT', 'ENOTDIR'].includes(errno(e))) throw herdFailure('cli/spec-not-found', `no spec at ${path}`, 'pass a cluster.yaml or the folder holding it, e.g. herd validate clusters/lab');
    throw herdFailure('cli/spec-unreadable', `cannot read ${path} (${errno(e)})`, 'check the path and its permissions');
  }
  if (isDir) return { specPath: join(abs, 'cluster.yaml'), specDir: abs, name: 'cluster.yaml', inFolder: true };
  if (!SPEC_NAME.test(basename(abs))) throw herdFailure('cli/spec-unreadable', `${path} is not a .yaml file; herd reads a spec only from a *.yaml or *.yml file`, 'pass a cluster.yaml or the folder holding it');
  return { specPath: abs, specDir: dirname(abs), name: basename(abs), inFolder: false };
}

/** `path` may be a spec file or a folder holding cluster.yaml. Throws a HerdFailure when it is neither. */
export function locateSpec(path: string, cwd: string): string {
  return findSpec(path, cwd).specPath;
}

/** What a file is, for messages ("a FIFO"), from its lstat. */
function kindOf(st: BigIntStats | null): string {
  if (!st || st.isFile()) return 'not a regular file';
  return st.isSymbolicLink() ? 'a symlink to something that is not a regular file' : fileKind(st);
}

type Read = { readonly bytes: Buffer; readonly mode: number } | { readonly missing: true } | { readonly problem: InputProblem };

/**
 * Read the regular file `rel` inside `dir`. `follow`: a symlink at the last component is followed while it stays inside (a
 * name the spec wrote); otherwise it is refused (entries of an overlay folder are listed as symlinks before this is asked).
 * `shown` is the path as the spec wrote it, for messages.
 */
function readInside(dir: ConfinedDir, rel: string, shown: string, follow: boolean, max: number): Read {
  let opened: { fd: number; stat: BigIntStats } | undefined;
  try {
    opened = follow ? dir.openReadFollowing(rel) : dir.openRead(rel);
  } catch (e) {
    if (!isPathBlocked(e)) return { problem: { kind: 'unreadable', path: shown, code: errno(e) } };
    if (e.kind === 'escape') return { problem: { kind: 'outside', path: shown, link: e.at === '' ? shown : e.at, target: e.target ?? '..' } };
    if (e.kind === 'loop') return { problem: { kind: 'loop', path: shown } };
    if (e.kind === 'not-a-directory') return { missing: true };
    let st: BigIntStats | null = null;
    try {
      st = dir.lstat(rel);
    } catch {
      st = null;
    }
    return { problem: { kind: 'not-regular', path: shown, what: kindOf(st) } };
  }
  if (!opened) return { missing: true };
  try {
    const bytes = readBounded(opened.fd, opened.stat.size, max);
    return bytes ? { bytes, mode: Number(opened.stat.mode & 0o7777n) } : { problem: { kind: 'too-large', path: shown, limit: max } };
  } catch (e) {
    return { problem: { kind: 'unreadable', path: shown, code: errno(e) } };
  } finally {
    closeSync(opened.fd);
  }
}

/** Open the spec's folder and read the spec in it. Throws a HerdFailure when it cannot or must not be read. */
function readSpecFile(loc: SpecLocation, path: string): { dir: ConfinedDir; bytes: Buffer; mode: number } {
  let dir: ConfinedDir;
  try {
    dir = ConfinedDir.open(loc.specDir, { what: 'spec folder' });
  } catch (e) {
    if (isPathBlocked(e) && e.kind === 'special') throw herdFailure('cli/spec-unreadable', `${path} is on a kernel filesystem (/proc, /sys, /dev); herd reads no spec there`, 'pass a cluster.yaml or the folder holding it');
    throw herdFailure('cli/spec-unreadable', `cannot open the folder of ${path} (${isPathBlocked(e) ? e.kind : errno(e)})`, 'check the path and its permissions');
  }
  const r = readInside(dir, loc.name, loc.name, true, MAX_INPUT_BYTES);
  if ('bytes' in r) return { dir, bytes: r.bytes, mode: r.mode };
  dir.close();
  if ('missing' in r) {
    if (loc.inFolder) throw herdFailure('cli/spec-not-found', `${path} has no cluster.yaml`, 'a cluster folder holds its spec as cluster.yaml');
    throw herdFailure('cli/spec-not-found', `no spec at ${path}`, 'pass a cluster.yaml or the folder holding it, e.g. herd validate clusters/lab');
  }
  const p = r.problem;
  const name = loc.inFolder ? join(path, loc.name) : path;
  switch (p.kind) {
    case 'outside':
      throw herdFailure('cli/spec-unreadable', `${name} leads through the symlink ${p.link} to ${p.target}, outside its folder; herd follows a spec's symlinks only inside its folder`, 'pass the spec file the link points to, so that the files it names are found beside it');
    case 'too-large':
      throw herdFailure('cli/spec-unreadable', `${name} is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MiB; herd does not read it`, 'check that this is the cluster spec');
    case 'not-regular':
      throw herdFailure('cli/spec-unreadable', `${name} is ${p.what}, not a regular file`, 'pass a cluster.yaml or the folder holding it');
    case 'loop':
      throw herdFailure('cli/spec-unreadable', `${name} has too many levels of symlinks`, 'pass the spec file itself');
    default:
      throw herdFailure('cli/spec-unreadable', `cannot read ${name} (${p.kind === 'unreadable' ? p.code : p.kind})`, 'check the path and its permissions');
  }
}

/** Everything the spec pulled in, as it is gathered: bytes by absolute path, symlinks, and the byte budget left. */
interface Gathered {
  readonly inputs: Map<string, Uint8Array>;
  readonly inputModes: Map<string, number>;
  /** The inputs that are site overlay files (their modes land on the nodes, so they join the hash). */
  readonly overlayInputs: Set<string>;
  readonly symlinks: Map<string, string>;
  budget: number;
  entries: number;
}

function readInventory(dir: ConfinedDir, specDir: string, cwd: string, named: string, got: Gathered): NonNullable<AuxInputs['inventory']> {
  const rel = specRelative(named, specDir, dir.real);
  if (rel === undefined) return { file: named, text: undefined, problem: { kind: 'outside', path: named } };
  const abs = posix.join(specDir, rel);
  const file = relative(cwd, abs) || abs;
  if (rel === '') return { file, text: undefined, problem: { kind: 'not-regular', path: named, what: 'the spec folder itself' } };
  const r = readInside(dir, rel, named, true, Math.min(MAX_INPUT_BYTES, got.budget));
  if ('missing' in r) return { file, text: undefined };
  if ('problem' in r) return { file, text: undefined, problem: r.problem.kind === 'too-large' && r.problem.limit < MAX_INPUT_BYTES ? { kind: 'too-many', path: named, limit: MAX_TOTAL_INPUT_BYTES, unit: 'bytes' } : r.problem };
  got.inputs.set(abs, r.bytes);
  got.inputModes.set(abs, r.mode);
  got.budget -= r.bytes.length;
  return { file, text: r.bytes.toString('utf8') };
}

type OverlayProblems = { entry: boolean; problem: InputProblem }[];

/**
 * List a site overlay folder: directories are walked (without recursion), regular files read, symlinks listed with their
 * targets and never followed (a systemd `.wants` link names a path on the node, and may dangle here), anything else reported.
 */
function readOverlay(dir: ConfinedDir, specDir: string, named: string, got: Gathered): { files?: string[]; symlinks: Record<string, string>; problems: OverlayProblems } {
  const symlinks: Record<string, string> = {};
  const problems: OverlayProblems = [];
  const rel = specRelative(named, specDir, dir.real);
  if (rel === undefined) return { symlinks, problems: [{ entry: false, problem: { kind: 'outside', path: named } }] };
  const blocked = (e: unknown, shown: string, entry: boolean): OverlayProblems => {
    if (!isPathBlocked(e)) return [{ entry, problem: { kind: 'unreadable', path: shown, code: errno(e) } }];
    if (e.kind === 'escape') return [{ entry, problem: { kind: 'outside', path: shown, link: e.at === '' ? shown : e.at, target: e.target ?? '..' } }];
    if (e.kind === 'loop') return [{ entry, problem: { kind: 'loop', path: shown } }];
    return [];
  };
  try {
    if (!dir.isDirectory(rel)) return { symlinks, problems };
  } catch (e) {
    return { symlinks, problems: blocked(e, named, false) };
  }
  const files: string[] = [];
  const shown = (inner: string): string => posix.join(named, inner);
  const pending = [''];
  while (pending.length > 0) {
    const sub = pending.pop()!;
    let entries: Dirent[] | undefined;
    try {
      entries = dir.readdir(sub === '' ? rel : posix.join(rel, sub));
    } catch (e) {
      // A directory listed a moment ago was swapped for a symlink that leaves: never followed, reported.
      for (const p of blocked(e, shown(sub), true)) problems.push(p);
      continue;
    }
    for (const ent of entries ?? []) {
      const inner = sub === '' ? ent.name : `${sub}/${ent.name}`;
      const full = rel === '' ? inner : `${rel}/${inner}`;
      if (++got.entries > MAX_OVERLAY_ENTRIES) {
        problems.push({ entry: false, problem: { kind: 'too-many', path: named, limit: MAX_OVERLAY_ENTRIES, unit: 'entries' } });
        return { files, symlinks, problems };
      }
      let type: 'dir' | 'file' | 'link' | 'other' = ent.isDirectory() ? 'dir' : ent.isFile() ? 'file' : ent.isSymbolicLink() ? 'link' : 'other';
      let st: BigIntStats | null = null;
      let target = '';
      try {
        if (type === 'other') {
          // The directory entry may not carry a type (some filesystems): ask lstat, which never follows.
          st = dir.lstat(full);
          type = st?.isDirectory() ? 'dir' : st?.isFile() ? 'file' : st?.isSymbolicLink() ? 'link' : 'other';
        }
        if (type === 'link') target = dir.readlink(full);
      } catch (e) {
        if (errno(e) === 'ENOENT') continue; // removed while listed
        problems.push({ entry: true, problem: { kind: 'unreadable', path: shown(inner), code: isPathBlocked(e) ? e.kind : errno(e) } });
        continue;
      }
      if (type === 'dir') pending.push(inner);
      else if (type === 'link') {
        symlinks[inner] = target;
        got.symlinks.set(posix.join(specDir, full), target);
        files.push(inner);
      } else if (type === 'other') {
        if (st) problems.push({ entry: true, problem: { kind: 'not-regular', path: shown(inner), what: kindOf(st) } });
      } else {
        if (got.budget <= 0) {
          problems.push({ entry: false, problem: { kind: 'too-many', path: named, limit: MAX_TOTAL_INPUT_BYTES, unit: 'bytes' } });
          return { files, symlinks, problems };
        }
        const r = readInside(dir, full, shown(inner), false, Math.min(MAX_INPUT_BYTES, got.budget));
        if ('bytes' in r) {
          const abs = posix.join(specDir, full);
          got.inputs.set(abs, r.bytes);
          got.inputModes.set(abs, r.mode);
          got.overlayInputs.add(abs);
          got.budget -= r.bytes.length;
          files.push(inner);
        } else if ('problem' in r) problems.push({ entry: true, problem: r.problem });
      }
    }
  }
  return { files: files.sort(), symlinks, problems };
}

/**
 * The text of every file a spec read, keyed by the path diagnostics name it with (the spec's display path, else relative to
 * cwd, as the inventory's diagnostics name it), for code frames. Every input lies inside the spec folder, so nothing else is
 * ever quoted.
 */
export function sourceTexts(spec: SpecOnDisk, cwd: string): Map<string, string> {
  const sources = new Map<string, string>();
  for (const [abs, bytes] of spec.inputs) {
    const rel = abs === spec.specPath ? spec.displayPath : relative(cwd, abs) || abs;
    sources.set(rel, Buffer.from(bytes).toString('utf8'));
  }
  return sources;
}

export function loadSpecFromDisk(path: string, cwd: string): SpecOnDisk {
  const loc = findSpec(path, cwd);
  const { specPath, specDir } = loc;
  const displayPath = relative(cwd, specPath) || specPath;
  const { dir, bytes, mode } = readSpecFile(loc, path);
  const got: Gathered = { inputs: new Map([[specPath, bytes]]), inputModes: new Map([[specPath, mode]]), overlayInputs: new Set(), symlinks: new Map(), budget: MAX_TOTAL_INPUT_BYTES - bytes.length, entries: 0 };
  let result: SpecCheck;
  try {
    result = checkSpec(displayPath, bytes, (paths) => {
      const overlayFiles: Record<string, string[] | undefined> = {};
      const overlaySymlinks: Record<string, Record<string, string>> = {};
      const overlayProblems: Record<string, OverlayProblems> = {};
      for (const [name, named] of Object.entries(paths.overlays)) {
        const o = readOverlay(dir, specDir, named, got);
        overlayFiles[name] = o.files;
        overlaySymlinks[name] = o.symlinks;
        if (o.problems.length > 0) overlayProblems[name] = o.problems;
      }
      const aux = { overlayFiles, overlaySymlinks, overlayProblems };
      return paths.inventory === undefined ? aux : { ...aux, inventory: readInventory(dir, specDir, cwd, paths.inventory, got) };
    });
  } finally {
    dir.close();
  }
  const h = createHash('sha256');
  for (const [p, b] of [...got.inputs].sort(([a], [b2]) => (a < b2 ? -1 : 1))) {
    h.update(relative(specDir, p)).update('\0').update(String(b.length)).update('\0').update(b);
  }
  // Symlinks joined the hash with the overlay rework; a spec without any hashes exactly as before.
  if (got.symlinks.size > 0) {
    h.update('\0symlinks\0');
    for (const [p, t] of [...got.symlinks].sort(([a], [b2]) => (a < b2 ? -1 : 1))) h.update(relative(specDir, p)).update('\0').update(t).update('\0');
  }
  // Overlay files keep their mode on the nodes, so a chmod must make a saved plan stale. Only modes other than 0644 join
  // the hash: a spec whose overlay files are all 0644 hashes exactly as before.
  const modes = [...got.overlayInputs].filter((p) => got.inputModes.get(p) !== 0o644).sort();
  if (modes.length > 0) {
    h.update('\0modes\0');
    for (const p of modes) h.update(relative(specDir, p)).update('\0').update(got.inputModes.get(p)!.toString(8)).update('\0');
  }
  return { ...result, specPath, specDir, displayPath, specHash: h.digest('hex'), inputs: got.inputs, inputModes: got.inputModes, symlinks: got.symlinks };
}
