// Turn an image tree into cpio entries (pure apart from reading file content lazily through content refs).
// Entries come out parents first in byte order (walkTree), hard links share a link key, mtimes are clamped.
import type { CpioEntry } from '../../artifacts/cpio-newc.ts';
import { walkTree, type FsTree } from '../tree/fs-tree.ts';
import { readContent } from '../tree/content-store.ts';

export interface TreeToCpioOptions {
  /** SOURCE_DATE_EPOCH: no mtime in the archive is later than this (reproducible builds across rebuilds of layers). */
  readonly sourceDateEpoch?: number;
}

export function treeToCpioEntries(tree: FsTree, options: TreeToCpioOptions = {}): CpioEntry[] {
  const clamp = (t: number): number => (options.sourceDateEpoch !== undefined && t > options.sourceDateEpoch ? options.sourceDateEpoch : Math.max(0, t));
  const out: CpioEntry[] = [];
  for (const e of walkTree(tree)) {
    const n = e.inode;
    const base = { path: e.path, mode: n.mode & 0o7777, uid: n.uid, gid: n.gid, mtime: clamp(n.mtime) };
    switch (n.type) {
      case 'directory':
        out.push({ ...base, type: 'directory' });
        break;
      case 'symlink':
        out.push({ ...base, type: 'symlink', target: n.linkname ?? '' });
        break;
      case 'char':
      case 'block':
        out.push({ ...base, type: n.type, rdevMajor: n.devMajor ?? 0, rdevMinor: n.devMinor ?? 0 });
        break;
      case 'fifo':
        out.push({ ...base, type: 'fifo' });
        break;
      case 'file': {
        const ref = n.content;
        out.push({
          ...base,
          type: 'file',
          size: n.size,
          ...(ref ? { data: () => readContent(ref) } : { data: new Uint8Array(0) }),
          ...(e.nlink > 1 ? { linkKey: `ino:${e.ino}` } : {}),
        });
        break;
      }
    }
  }
  return out;
}
