// An archive's entry index as an in-memory tree, so verification resolves symlinks (bin -> usr/bin) exactly as the image tree code does (pure).
//
// Also reports entries the kernel's initramfs unpacker would not create: it makes no parent directories (each entry
// is created with a plain open/mkdir/mknod/symlink at its path), so a name whose parent directory is missing, or is
// not a directory, silently does not exist on the booted node.
import { IMPLICIT_DIR, NO_XATTRS, createTree, lookup, newInode, setInode, splitPath, type FsTree, type Inode } from '../tree/fs-tree.ts';
import type { ArchiveEntry } from './read-cpio.ts';

export interface ArchiveTree {
  readonly tree: FsTree;
  /** Entries that would not unpack at boot, with why. */
  readonly unreachable: readonly { readonly path: string; readonly reason: string }[];
}

export function archiveTree(entries: readonly ArchiveEntry[]): ArchiveTree {
  const tree = createTree();
  const unreachable: { path: string; reason: string }[] = [];
  // Hard links: the kernel links names that share (dev, ino) when nlink ≥ 2; the data comes with the last name.
  const links = new Map<string, Inode>();
  for (const e of entries) {
    const parts = splitPath(e.path);
    if (parts.length === 0) continue;
    const parent = lookup(tree, parts.slice(0, -1));
    if (parent === undefined || parent.type !== 'directory') {
      unreachable.push({ path: e.path, reason: parent === undefined ? 'its parent directory is not in the archive before it' : `its parent is a ${parent.type}` });
      continue;
    }
    const meta = { mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, xattrs: NO_XATTRS };
    if (e.type === 'file' && e.nlink >= 2) {
      const key = `${e.devMajor}:${e.devMinor}:${e.ino}`;
      const shared = links.get(key);
      if (shared !== undefined) {
        shared.size = Math.max(shared.size, e.size);
        setInode(tree, parts, shared, IMPLICIT_DIR);
        continue;
      }
      const inode = newInode('file', meta, { size: e.size });
      links.set(key, inode);
      setInode(tree, parts, inode, IMPLICIT_DIR);
      continue;
    }
    const extra: Partial<Inode> = e.type === 'symlink' ? { linkname: e.target ?? '' } : e.type === 'file' ? { size: e.size } : e.type === 'char' || e.type === 'block' ? { devMajor: e.rdevMajor, devMinor: e.rdevMinor } : {};
    const inode = newInode(e.type === 'socket' ? 'fifo' : e.type, meta, extra);
    setInode(tree, parts, inode, IMPLICIT_DIR);
  }
  return { tree, unreachable };
}
