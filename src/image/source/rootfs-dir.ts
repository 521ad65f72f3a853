// `dir:PATH` sources (I/O): walk a rootfs below the spec folder into an FsTree whose files refer back to it.
//
// Everything goes through the spec folder's ConfinedDir: directories are listed and entries lstat'ed by descriptor, and no
// symlink is followed (one swapped in for a directory during the walk would be followed only while it stays inside the
// spec folder). Each regular file is recorded with its stamp (dev, ino, size, mtime, ctime). Once the walk is done, every
// file's content is hashed, or its hash reused from an earlier build while the stamp is unchanged (file-hashes.ts); the
// hashes key the build cache. The file then becomes a `host` content ref: packing opens it again by descriptor without
// following symlinks, and fails the build unless it is the same file, unchanged, with the same hash (content-store.ts).
// A file swapped for a symlink to a host file in the middle of a build stops the build; it never reaches the image.
//
// Ownership and modes are taken as found (a rootfs unpacked without root is owned by the unpacking user; use an
// image or a tarball to keep real ownership). Hard links are found by device and inode number. Like Warewulf's
// image build (ignore_xdev), nothing below a mount point is read: the mount point itself is kept, empty. Only
// directories are tested for that: on overlayfs, regular files can report the underlying filesystem's device.
// Extended attributes are not read: Node has no xattr API (and the cpio images herd writes cannot carry them).
// File names are read as UTF-8; a name that is not is refused, as in layers.
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { isPathBlocked, type ConfinedDir } from '../../fs/confined-dir.ts';
import { contentSha256 } from '../tree/content-store.ts';
import { createTree, newInode, NO_XATTRS, type FileStamp, type FsTree, type HostFiles, type Inode, type InodeMeta, type InodeType } from '../tree/fs-tree.ts';
import type { UnpackBudget } from '../tree/unpack-budget.ts';
import type { FileHashIndex } from './file-hashes.ts';
import { ImageError, ioError, sourceChanged } from './image-error.ts';

const S_IFMT = 0o170000n;
const TYPES = new Map<bigint, InodeType | 'socket'>([
  [0o100000n, 'file'],
  [0o040000n, 'directory'],
  [0o120000n, 'symlink'],
  [0o020000n, 'char'],
  [0o060000n, 'block'],
  [0o010000n, 'fifo'],
  [0o140000n, 'socket'],
]);

function metaOf(st: BigIntStats): InodeMeta {
  return { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: Number(st.mtimeNs / 1_000_000_000n), xattrs: NO_XATTRS };
}

const stampOf = (st: BigIntStats): FileStamp => ({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs });

/** Linux dev_t encoding (glibc gnu_dev_major/minor). */
export function devNumbers(rdev: bigint): { major: number; minor: number } {
  return {
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

export interface RootfsDirResult {
  readonly tree: FsTree;
  readonly warnings: readonly string[];
}

export interface RootfsDirOptions {
  /** Counts the tree against what the image may take, entry by entry. */
  readonly budget?: UnpackBudget;
  /** Hashes of earlier builds, reused while a file's stamp is unchanged. */
  readonly hashes?: FileHashIndex;
  /** For tests: called once the walk is done, before any file content is read. */
  readonly afterWalk?: () => void | Promise<void>;
}

function notUtf8(where: string): ImageError {
  return new ImageError('unsupported', `${where}: a file name or symlink target in it is not valid UTF-8`, { file: where, hint: 'herd handles UTF-8 file names only; rename the file in the image.' });
}

/**
 * Walk the rootfs at `rel` below `dir` (the spec folder; `where` names it in messages), then hash its files. The rootfs
 * itself may be reached through symlinks inside the spec folder; nothing below it is followed.
 */
export async function readRootfsDir(dir: ConfinedDir, rel: string, where: string, opts: RootfsDirOptions = {}): Promise<RootfsDirResult> {
  const sub = (p: string): string => (rel === '' ? p : p === '' ? rel : `${rel}/${p}`);
  // Names below the rootfs come from readdir (one component each, never '.' or '..'), so joining them needs no normalising.
  const whereDir = join(where, '/');
  const at = (p: string): string => (p === '' ? where : `${whereDir}${p}`);
  const guard = <T>(p: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (isPathBlocked(e)) throw sourceChanged(at(p), 'a directory on its path is now a symlink that leads out, or something else than a directory');
      throw ioError(e, at(p), 'reading the rootfs');
    }
  };
  const rootStat = guard('', () => dir.statDir(rel));
  if (rootStat === null) throw new ImageError('not-found', `${where} does not exist (while reading the rootfs)`, { file: where });
  const tree = createTree(metaOf(rootStat));
  const warnings: string[] = [];
  const byIno = new Map<string, Inode>();
  const files: { inode: Inode; rel: string; stamp: FileStamp }[] = [];
  const stack: { rel: string; node: Inode }[] = [{ rel: '', node: tree.root }];
  while (stack.length > 0) {
    const { rel: dirRel, node } = stack.pop() as (typeof stack)[number];
    // Listed and lstat'ed through the directory's one descriptor (a no-change plan of a large rootfs is mostly this loop).
    const entries = guard(dirRel, () => dir.readdirLstat(sub(dirRel)));
    if (entries === undefined) throw sourceChanged(at(dirRel), 'it is gone');
    for (const { name, stat: st } of entries) {
      const relPath = dirRel === '' ? name : `${dirRel}/${name}`;
      if (st === null) throw name.includes('\uFFFD') ? notUtf8(at(dirRel)) : sourceChanged(at(relPath), 'it is gone');
      const type = TYPES.get(st.mode & S_IFMT);
      const children = node.children as Map<string, Inode>;
      if (type === undefined || type === 'socket') {
        warnings.push(`${relPath}: ${type ?? 'unknown file type'} skipped`);
        continue;
      }
      const key = type !== 'directory' && st.nlink > 1n ? `${st.dev}:${st.ino}` : undefined;
      const linked = key === undefined ? undefined : byIno.get(key);
      opts.budget?.entry(tree, { path: relPath, type, size: type === 'file' && linked === undefined ? Number(st.size) : 0, createdDirs: 0 }, at(relPath));
      if (type === 'directory' && st.dev !== rootStat.dev) {
        children.set(name, newInode('directory', metaOf(st)));
        warnings.push(`${relPath}: mount point, contents skipped`);
        continue;
      }
      if (linked !== undefined) {
        children.set(name, linked);
        continue;
      }
      const inode = makeInode(type, st, () => {
        const target = guard(relPath, () => dir.readlink(sub(relPath)));
        if (target.includes('\uFFFD')) throw notUtf8(at(dirRel));
        return target;
      });
      if (type === 'file' && inode.size > 0) files.push({ inode, rel: relPath, stamp: stampOf(st) });
      if (key !== undefined) byIno.set(key, inode);
      children.set(name, inode);
      if (type === 'directory') stack.push({ rel: relPath, node: inode });
    }
  }
  await opts.afterWalk?.();
  // Every file is reached afresh from the spec folder (not through the directories the walk kept open), so a directory
  // swapped since the walk is noticed, not read around.
  dir.flush();
  const host: HostFiles = { where: at, openRead: (p) => dir.openRead(sub(p)) };
  for (const f of files) {
    const ref = { kind: 'host', files: host, rel: f.rel, size: f.inode.size, stamp: f.stamp } as const;
    let sha256 = opts.hashes?.get(f.stamp);
    if (sha256 === undefined) {
      sha256 = await contentSha256(ref);
      opts.hashes?.set(f.stamp, sha256);
    }
    f.inode.content = { ...ref, sha256 };
  }
  await opts.hashes?.save();
  return { tree, warnings };
}

function makeInode(type: InodeType, st: BigIntStats, linkTarget: () => string): Inode {
  const meta = metaOf(st);
  switch (type) {
    case 'file':
      return newInode('file', meta, { size: Number(st.size) });
    case 'symlink':
      return newInode('symlink', meta, { linkname: linkTarget() });
    case 'char':
    case 'block': {
      const { major, minor } = devNumbers(st.rdev);
      return newInode(type, meta, { devMajor: major, devMinor: minor });
    }
    default:
      return newInode(type, meta);
  }
}
