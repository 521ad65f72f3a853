// `dir:PATH` sources (I/O): walk an existing rootfs with lstat into an FsTree whose files refer to the host files.
//
// Ownership and modes are taken as found (a rootfs unpacked without root is owned by the unpacking user; use an
// image or a tarball to keep real ownership). Hard links are found by device and inode number. Like Warewulf's
// image build (ignore_xdev), nothing below a mount point is read: the mount point itself is kept, empty. Only
// directories are tested for that: on overlayfs, regular files can report the underlying filesystem's device.
// Extended attributes are not read: Node has no xattr API (and the cpio images herd writes cannot carry them).
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createTree, newInode, NO_XATTRS, type FsTree, type Inode, type InodeMeta, type InodeType } from '../tree/fs-tree.ts';
import { decodeName } from '../tree/tar-header.ts';
import { ImageError, ioError } from './image-error.ts';

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

type BigStats = Awaited<ReturnType<typeof bigLstat>>;

async function bigLstat(path: string) {
  try {
    return await lstat(path, { bigint: true });
  } catch (e) {
    throw ioError(e, path, 'reading the rootfs');
  }
}

function metaOf(st: BigStats): InodeMeta {
  return { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: Number(st.mtimeNs / 1_000_000_000n), xattrs: NO_XATTRS };
}

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

export async function readRootfsDir(root: string): Promise<RootfsDirResult> {
  const rootStat = await bigLstat(root);
  if (!rootStat.isDirectory()) {
    throw new ImageError('bad-source-ref', `${root} is not a directory`, { file: root, hint: 'dir: takes an unpacked rootfs directory; use tar: for a rootfs tarball.' });
  }
  const tree = createTree(metaOf(rootStat));
  const warnings: string[] = [];
  const byIno = new Map<string, Inode>();
  const stack: { host: string; rel: string; node: Inode }[] = [{ host: root, rel: '', node: tree.root }];
  while (stack.length > 0) {
    const { host, rel, node } = stack.pop() as (typeof stack)[number];
    let names: Buffer[];
    try {
      names = await readdir(host, { encoding: 'buffer' });
    } catch (e) {
      throw ioError(e, host, 'listing the rootfs');
    }
    for (const raw of names) {
      const name = decodeName(raw, host);
      const hostPath = join(host, name);
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const st = await bigLstat(hostPath);
      const type = TYPES.get(st.mode & S_IFMT);
      const children = node.children as Map<string, Inode>;
      if (type === undefined || type === 'socket') {
        warnings.push(`${relPath}: ${type ?? 'unknown file type'} skipped`);
        continue;
      }
      if (type === 'directory' && st.dev !== rootStat.dev) {
        children.set(name, newInode('directory', metaOf(st)));
        warnings.push(`${relPath}: mount point, contents skipped`);
        continue;
      }
      const key = `${st.dev}:${st.ino}`;
      const linked = type !== 'directory' && st.nlink > 1n ? byIno.get(key) : undefined;
      if (linked !== undefined) {
        children.set(name, linked);
        continue;
      }
      const inode = await makeInode(type, st, hostPath);
      if (type !== 'directory' && st.nlink > 1n) byIno.set(key, inode);
      children.set(name, inode);
      if (type === 'directory') stack.push({ host: hostPath, rel: relPath, node: inode });
    }
  }
  return { tree, warnings };
}

async function makeInode(type: InodeType, st: BigStats, hostPath: string): Promise<Inode> {
  const meta = metaOf(st);
  switch (type) {
    case 'file': {
      const size = Number(st.size);
      return newInode('file', meta, size === 0 ? { size } : { size, content: { kind: 'range', path: hostPath, offset: 0, size } });
    }
    case 'symlink': {
      let target: Buffer;
      try {
        target = await readlink(hostPath, { encoding: 'buffer' });
      } catch (e) {
        throw ioError(e, hostPath, 'reading a symlink');
      }
      return newInode('symlink', meta, { linkname: decodeName(target, hostPath) });
    }
    case 'char':
    case 'block': {
      const { major, minor } = devNumbers(st.rdev);
      return newInode(type, meta, { devMajor: major, devMinor: minor });
    }
    default:
      return newInode(type, meta);
  }
}
