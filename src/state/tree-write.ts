// Writing a tree artifact (I/O): an image unpacked into the chroot that Warewulf's own image tools read.
//
// Why herd writes the whole tree: Warewulf 4.6 finds a node's kernel in the image's chroot (kernel.FromNode), and its image
// tools rebuild `<name>.img` from that chroot: `wwctl image build --force`, `image exec`/`shell` (which rebuild after the
// command), `image copy`, `image import` and `image syncuser --build` all run image.Build, which writes `cpio --create` of
// the chroot straight over the served image. With only the kernel there, one habitual command would turn every node's
// image into a near-empty one. With the full tree there, Warewulf's rebuild packs the very files herd packed
// (test/integration/image-chroot.test.ts runs Warewulf 4.6.5's own image.Build on it), so the habit is harmless.
//
// The tree is unpacked from the image archive itself (one source of truth: the tree holds exactly the archive's entries),
// into a private temp folder beside the chroot, through the confined walk (no symlink inside the tree is ever followed:
// links are created, not resolved). Only when every entry is written and the stream's sha256 matches the plan is the old
// tree moved aside and the new one renamed into place. Device nodes, FIFOs and sockets are not created (Node has no
// mknod, and a stateless node's /dev is a devtmpfs that wwinit mounts): they are counted and said in the result.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, fchmodSync, fchownSync, futimesSync } from 'node:fs';
import { posix } from 'node:path';
import { herdFailure } from '../diagnostics/diagnostic.ts';
import { CpioFormatError, newcType, readNewc } from '../artifacts/cpio-read.ts';
import { writeAllSync, type ConfinedDir } from '../fs/confined-dir.ts';
import type { Artifact, TreeExtra } from '../artifacts/artifact.ts';
import type { RecordedStat } from '../plan/state-manifest.ts';
import { tempPathFor, TEMP_MARK } from './paths.ts';

export interface TreeSource {
  /** Streams the archive. */
  readonly produce?: () => AsyncIterable<Uint8Array>;
  /** The archive's hash and size when there is no `tree` (a bare archive). */
  readonly sha256: string;
  readonly size: number;
  readonly tree?: Artifact['tree'];
}

export interface TreeOptions {
  /** Mode of the tree's top folder. */
  readonly mode: number;
  /** Owner of the top folder; entries keep the archive's numeric owners when `chown` is set. */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** Give entries the archive's uid/gid (only root can); without it, they belong to the user running herd. */
  readonly chown: boolean;
  readonly fsync?: boolean;
  readonly onChunk?: () => Promise<void> | void;
}

export interface TreeResult {
  readonly temp: string;
  readonly entries: number;
  /** Entries not created: device nodes, FIFOs, sockets. */
  readonly skipped: number;
}

/**
 * The one rule by which a tree (an image's chroot) is trusted to be the one herd wrote, in a target (the plan) and in a build
 * folder (build --out): its top folder is the same inode with the same mtime and ctime as right after herd renamed it into place
 * (an entry added, removed or renamed at its top, or the folder replaced, changes them). A tree is never walked or re-hashed for
 * this, so there is no racy-tick rule as for files: the rename that put it in place can share a clock tick with the record.
 */
export function treeUnchanged(recorded: Pick<RecordedStat, 'ino' | 'mtimeNs' | 'ctimeNs'> | undefined, now: Pick<RecordedStat, 'ino' | 'mtimeNs' | 'ctimeNs'>): boolean {
  return recorded !== undefined && recorded.ino === now.ino && recorded.mtimeNs === now.mtimeNs && recorded.ctimeNs === now.ctimeNs;
}

/** Where the previous tree waits while the new one is renamed into place (a herd temp name, swept like the others). */
export const oldTreePathFor = (target: string): string => posix.join(posix.dirname(target), `.${posix.basename(target)}-old${TEMP_MARK}`);

/** Remove a leftover temp of ours at `rel`, whatever its kind (a crashed stage leaves a folder). */
export function removeOwnTemp(dir: ConfinedDir, rel: string): boolean {
  const st = dir.lstat(rel);
  if (!st) return false;
  if (st.isDirectory()) return dir.removeTree(rel);
  return dir.unlink(rel);
}

/** The archive name as a path below the tree: `./etc/x` and `/etc/x` are `etc/x`; `.` is the tree itself (''). */
function entryPath(name: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new CpioFormatError(`the image archive names ${JSON.stringify(name)}, which leaves the tree`);
  return parts.join('/');
}

/** Pulls the producer through a sha256, so the stream is checked while it is unpacked; `rest()` reads what follows the trailer. */
function hashed(produce: () => AsyncIterable<Uint8Array>, onChunk?: () => Promise<void> | void) {
  const hash = createHash('sha256');
  let size = 0;
  const it = produce()[Symbol.asyncIterator]();
  const pull = async (): Promise<IteratorResult<Uint8Array>> => {
    const r = await it.next();
    if (!r.done) {
      hash.update(r.value);
      size += r.value.length;
      await onChunk?.();
    }
    return r;
  };
  return {
    // readNewc closes its source after the trailer; the padding after it still belongs to the archive, so return() is not passed on.
    source: { [Symbol.asyncIterator]: () => ({ next: pull, return: async () => ({ done: true as const, value: undefined }) }) },
    async abort(): Promise<void> {
      await it.return?.();
    },
    async rest(): Promise<{ sha: string; size: number }> {
      while (!(await pull()).done);
      return { sha: hash.digest('hex'), size };
    },
  };
}

/**
 * Unpack the archive `source` into the temp folder beside `target` and return it, verified; nothing at `target` changes.
 * Throws a HerdFailure when the archive is damaged or is not the one the plan expects (the temp folder is removed).
 */
export async function stageTree(dir: ConfinedDir, target: string, source: TreeSource, options: TreeOptions): Promise<TreeResult> {
  if (!source.produce) throw herdFailure('state/artifact-unavailable', `${target}: the tree artifact has no producer`, 'this is a compiler bug; please report it');
  const temp = tempPathFor(target);
  removeOwnTemp(dir, temp);
  removeOwnTemp(dir, oldTreePathFor(target));
  dir.mkdirs(posix.dirname(target));
  dir.mkdir(temp, 0o700);
  // Entries are written through a confined view of the new tree itself: a symlink in the image is followed (as the kernel's
  // unpacker would) only while it stays inside the tree, so no entry can land elsewhere in the target root.
  const t = dir.subdir(temp, { what: 'image tree' })!;
  const dirs: { rel: string; mode: number; uid: number; gid: number; mtime: number }[] = [];
  const links = new Map<number, { rel: string; fd: number | undefined; left: number; mode: number; uid: number; gid: number; mtime: number }>();
  let entries = 0;
  let skipped = 0;
  const h = hashed(source.produce, options.onChunk);
  const finishFile = (fd: number, mode: number, uid: number, gid: number, mtime: number) => {
    // chown first: it clears set-user-ID bits, which the chmod after it puts back.
    if (options.chown) fchownSync(fd, uid, gid);
    fchmodSync(fd, mode);
    futimesSync(fd, mtime, mtime);
    // No fsync per file: one syncfs of the whole tree below flushes them all before the rename (8,600 fsyncs took 48 s
    // for the demo image, against 5 s for the unpack itself).
  };
  try {
    for await (const e of readNewc(h.source)) {
      const sub = entryPath(e.name);
      const rel = sub;
      const perm = e.mode & 0o7777;
      entries++;
      switch (newcType(e.mode)) {
        case 'directory':
          if (sub !== '') {
            if (!t.isDirectory(rel)) t.mkdir(rel, 0o700);
            dirs.push({ rel, mode: perm, uid: e.uid, gid: e.gid, mtime: e.mtime });
          }
          break;
        case 'file': {
          if (sub === '') throw new CpioFormatError('the image archive has a file in place of its top folder');
          const group = e.nlink > 1 ? links.get(e.ino) : undefined;
          if (group) {
            // A later link of a hard-link group: the same inode under another name; the group's data comes with one of its links.
            t.link(group.rel, rel);
            if (e.data.length > 0 && group.fd !== undefined) writeAllSync(group.fd, e.data);
            group.left -= 1;
            if (group.left <= 0 && group.fd !== undefined) {
              finishFile(group.fd, group.mode, group.uid, group.gid, group.mtime);
              closeSync(group.fd);
              group.fd = undefined;
            }
            break;
          }
          const fd = t.createExclusive(rel, 0o600, false);
          writeAllSync(fd, e.data);
          if (e.nlink > 1) {
            links.set(e.ino, { rel, fd, left: e.nlink - 1, mode: perm, uid: e.uid, gid: e.gid, mtime: e.mtime });
          } else {
            try {
              finishFile(fd, perm, e.uid, e.gid, e.mtime);
            } finally {
              closeSync(fd);
            }
          }
          break;
        }
        case 'symlink':
          t.symlink(new TextDecoder().decode(e.data), rel);
          if (options.chown) t.lchown(rel, e.uid, e.gid);
          t.lutimes(rel, e.mtime);
          break;
        default:
          skipped++;
      }
    }
    for (const g of links.values()) {
      if (g.fd === undefined) continue;
      finishFile(g.fd, g.mode, g.uid, g.gid, g.mtime);
      closeSync(g.fd);
      g.fd = undefined;
    }
    const got = await h.rest();
    const want = source.tree?.archive ?? source;
    if (got.sha !== want.sha256 || got.size !== want.size) throw mismatch(target, 'the image unpacked', got, want);
    for (const x of source.tree?.extras ?? []) await writeExtra(t, target, x, options);
    // Folders last, deepest first: a read-only folder (0555) must still take its entries while they are written.
    for (let i = dirs.length - 1; i >= 0; i--) {
      const d = dirs[i]!;
      if (options.chown) t.lchown(d.rel, d.uid, d.gid);
      t.chmodDir(d.rel, d.mode);
      t.lutimes(d.rel, d.mtime);
    }
    if (options.owner) dir.lchown(temp, options.owner.uid, options.owner.gid);
    dir.chmodDir(temp, options.mode);
    // One syncfs for the whole tree instead of an fsync per folder: `sync -f` only flushes, it reads and writes nothing there.
    if (options.fsync) spawnSync('sync', ['-f', dir.hostPath(temp)], { stdio: 'ignore' });
    t.close();
    return { temp, entries, skipped };
  } catch (e) {
    t.close();
    for (const g of links.values()) if (g.fd !== undefined) closeSync(g.fd);
    await h.abort().catch(() => undefined);
    try {
      removeOwnTemp(dir, temp);
    } catch {
      // The next stage removes it first.
    }
    if (e instanceof CpioFormatError) throw herdFailure('state/artifact-damaged', `${target}: ${e.message}`, 'rebuild the image (herd build) and apply again');
    throw e;
  }
}

const mismatch = (target: string, what: string, got: { sha: string; size: number }, want: { sha256: string; size: number }) =>
  herdFailure(
    'state/artifact-hash-mismatch',
    `${target}: ${what} was ${got.size} bytes with sha256 ${got.sha}, but the plan expects ${want.size} bytes with sha256 ${want.sha256}`,
    'the artifact is not reproducible; nothing was renamed into place. Please report it with the spec',
  );

/** An extra file (the kernel an image's excludes kept out of its archive), written where the archive has nothing at its path. */
async function writeExtra(t: ConfinedDir, target: string, x: TreeExtra, options: TreeOptions): Promise<void> {
  const there = t.lstat(x.path);
  if (there?.isFile()) return;
  if (there) throw herdFailure('state/artifact-damaged', `${target}: /${x.path} is not a file in the image, so the kernel cannot be placed there`, 'check kernel: in the spec');
  const parent = posix.dirname(x.path);
  if (parent !== '.') t.mkdirs(parent);
  const fd = t.createExclusive(x.path, 0o600, false);
  try {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of x.produce()) {
      hash.update(chunk);
      writeAllSync(fd, chunk);
      size += chunk.length;
      await options.onChunk?.();
    }
    const got = { sha: hash.digest('hex'), size };
    if (got.sha !== x.sha256 || got.size !== x.size) throw mismatch(target, `/${x.path}`, got, x);
    if (options.owner && options.chown) fchownSync(fd, options.owner.uid, options.owner.gid);
    fchmodSync(fd, x.mode);
  } finally {
    closeSync(fd);
  }
}

/** Swap the staged tree in: the old tree (if any) is renamed aside, the new one renamed into place, then the old one removed. */
export function commitTree(dir: ConfinedDir, temp: string, target: string): void {
  const old = oldTreePathFor(target);
  const live = dir.lstat(target);
  if (live?.isDirectory()) dir.rename(target, old);
  dir.rename(temp, target);
  if (live?.isDirectory()) dir.removeTree(old);
}
