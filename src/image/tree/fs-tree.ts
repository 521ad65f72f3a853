// In-memory filesystem tree of an image rootfs (pure): inodes with metadata and content references, never file data.
//
// Hard links are modelled as several directory entries sharing one Inode object, the way a real filesystem does it:
// removing or replacing one name leaves the others (and the content) alone. That is what `umoci unpack` produces
// on disk, so layer application can follow it rule for rule. Paths are normalized like runc's CleanPath: no leading
// slash, `.`/`..` resolved lexically and clamped at the root; the root itself is ''.
import { ImageError } from '../source/image-error.ts';

export type InodeType = 'file' | 'directory' | 'symlink' | 'char' | 'block' | 'fifo';

/**
 * Where a regular file's bytes are. `range`: `size` bytes at `offset` of a file herd wrote (a cached uncompressed layer),
 * see content-store.ts; `host`: a file of a dir: source, opened again by descriptor when read and checked against
 * `stamp`; `bytes`: inline (tests, small generated files).
 */
export type ContentRef =
  | { readonly kind: 'range'; readonly path: string; readonly offset: number; readonly size: number; readonly sha256?: string }
  | { readonly kind: 'host'; readonly files: HostFiles; readonly rel: string; readonly size: number; readonly stamp: FileStamp; readonly sha256?: string }
  | { readonly kind: 'bytes'; readonly data: Uint8Array };

/** What a dir: source file was when it was walked; reading it later must find the very same file, unchanged. */
export interface FileStamp {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  /** Set by the kernel on every change, and not settable from userspace: what makes the stamp trustworthy. */
  readonly ctimeNs: bigint;
}

/** Regular files of a host directory, opened without following symlinks (a ConfinedDir below the spec folder). */
export interface HostFiles {
  /** The file's path, for messages only. */
  where(rel: string): string;
  /** Descriptor and fstat of the regular file `rel`; undefined when it is gone. Throws PathBlocked when it is anything else. */
  openRead(rel: string): { fd: number; stat: FileStamp & { isFile(): boolean } } | undefined;
}

export interface InodeMeta {
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time, whole seconds since the epoch. */
  mtime: number;
  xattrs: Readonly<Record<string, Uint8Array>>;
}

export interface Inode extends InodeMeta {
  type: InodeType;
  /** Content size for files; 0 for everything else. */
  size: number;
  /** Files only; absent for an empty file. */
  content?: ContentRef;
  /** Symlink target, verbatim. */
  linkname?: string;
  devMajor?: number;
  devMinor?: number;
  /** Directories only: entries by name. Unordered; walkTree sorts. */
  children?: Map<string, Inode>;
}

export interface FsTree {
  readonly root: Inode;
}

/** One name in the tree, as walkTree yields it. */
export interface TreeEntry {
  readonly path: string;
  readonly inode: Inode;
  /** Inode number, 1-based in walk order, shared by all names of a hard-link group. */
  readonly ino: number;
  /** Number of names of this inode in the tree (always 1 for directories). */
  readonly nlink: number;
  /** For the second and later names of a hard-link group: the first name in walk order. */
  readonly hardlinkTo?: string;
}

export const NO_XATTRS: Readonly<Record<string, Uint8Array>> = Object.freeze({});

/** Metadata of directories created implicitly (a layer has `a/b/c` but no entry for `a/b`): like mkdir -p with umask 022. */
export const IMPLICIT_DIR: Readonly<InodeMeta> = Object.freeze({ mode: 0o755, uid: 0, gid: 0, mtime: 0, xattrs: NO_XATTRS });

export function createTree(rootMeta: Partial<InodeMeta> = {}): FsTree {
  return { root: { ...IMPLICIT_DIR, ...rootMeta, type: 'directory', size: 0, children: new Map() } };
}

export function newInode(type: InodeType, meta: InodeMeta, extra: Partial<Inode> = {}): Inode {
  const inode: Inode = { type, mode: meta.mode & 0o7777, uid: meta.uid, gid: meta.gid, mtime: meta.mtime, xattrs: meta.xattrs, size: 0, ...extra };
  if (type === 'directory') inode.children = new Map();
  if (type === 'symlink') inode.mode = 0o777;
  return inode;
}

/** Path components after lexical cleaning (runc CleanPath): `/./a//b/../c/` -> ['a', 'c']; `../../x` -> ['x']. */
export function splitPath(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

export function normalizePath(path: string): string {
  return splitPath(path).join('/');
}

/** Order of UTF-8 bytes (= code points), which is what `LC_ALL=C sort` and Go's sort of names give. */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

// Surrogates (code points above U+FFFF) must sort after U+E000..U+FFFF, unlike in UTF-16 code-unit order.
function fixup(c: number): number {
  return c < 0xd800 ? c : c >= 0xe000 ? c - 0x800 : c + 0x2000;
}

/** The inode at a path, not following symlinks anywhere (a symlink in the middle means: not found). */
export function lookup(tree: FsTree, path: string | readonly string[]): Inode | undefined {
  let node: Inode | undefined = tree.root;
  for (const part of typeof path === 'string' ? splitPath(path) : path) {
    node = node.children?.get(part);
    if (node === undefined) return undefined;
  }
  return node;
}

const MAX_SYMLINKS = 255;

/**
 * Resolve every component of a path through the tree's symlinks, scoped to the root the way
 * filepath-securejoin does it (absolute targets restart at the root, `..` never leaves it). Components that do
 * not exist are kept literally. Returns the resolved components.
 */
export function resolvePath(tree: FsTree, path: string | readonly string[]): string[] {
  const pending = typeof path === 'string' ? splitPath(path) : [...path];
  const out: string[] = [];
  const stack: Inode[] = [tree.root];
  let links = 0;
  pending.reverse();
  while (pending.length > 0) {
    const part = pending.pop() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0) {
        out.pop();
        stack.pop();
      }
      continue;
    }
    const parent = stack[stack.length - 1];
    const node = parent?.children?.get(part);
    if (node?.type === 'symlink') {
      if (++links > MAX_SYMLINKS) {
        throw new ImageError('bad-layer-entry', `too many levels of symbolic links resolving /${[...out, part].join('/')}`);
      }
      const target = node.linkname ?? '';
      if (target.startsWith('/')) {
        out.length = 0;
        stack.length = 1;
      }
      const parts = target.split('/');
      for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i] as string);
      continue;
    }
    out.push(part);
    stack.push(node ?? MISSING);
  }
  return out;
}

const MISSING: Inode = Object.freeze({ ...IMPLICIT_DIR, type: 'fifo', size: 0 }) as Inode;

/**
 * The directory at `parts`, creating missing components with `implicit` metadata (mkdir -p); throws if one is not a
 * directory. `onCreate` is told about each directory made.
 */
export function mkdirAll(tree: FsTree, parts: readonly string[], implicit: InodeMeta = IMPLICIT_DIR, onCreate?: () => void): Inode {
  let node = tree.root;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    const children = node.children as Map<string, Inode>;
    let next = children.get(part);
    if (next === undefined) {
      next = newInode('directory', implicit);
      children.set(part, next);
      onCreate?.();
    } else if (next.type !== 'directory') {
      throw new ImageError('bad-layer-entry', `/${parts.slice(0, i + 1).join('/')} is a ${next.type}, not a directory, but entries are added under it`);
    }
    node = next;
  }
  return node;
}

/**
 * Put an inode at a path (parents created as needed). Whatever was there is replaced, subtree included, except
 * that a directory over a directory keeps the old children (tar semantics: the entry only updates metadata).
 */
export function setInode(tree: FsTree, path: string | readonly string[], inode: Inode, implicit: InodeMeta = IMPLICIT_DIR): void {
  const parts = typeof path === 'string' ? splitPath(path) : path;
  if (parts.length === 0) {
    if (inode.type !== 'directory') throw new ImageError('bad-layer-entry', 'refusing to make the root of the image a non-directory');
    Object.assign(tree.root, { mode: inode.mode, uid: inode.uid, gid: inode.gid, mtime: inode.mtime, xattrs: inode.xattrs });
    return;
  }
  const parent = mkdirAll(tree, parts.slice(0, -1), implicit);
  const name = parts[parts.length - 1] as string;
  const children = parent.children as Map<string, Inode>;
  const old = children.get(name);
  if (old?.type === 'directory' && inode.type === 'directory' && old !== inode) inode.children = old.children;
  children.set(name, inode);
}

/** Remove a name (and the subtree below a directory). Returns whether it existed. The root cannot be removed. */
export function removePath(tree: FsTree, path: string | readonly string[]): boolean {
  const parts = typeof path === 'string' ? splitPath(path) : path;
  if (parts.length === 0) return false;
  const parent = lookup(tree, parts.slice(0, -1));
  return parent?.children?.delete(parts[parts.length - 1] as string) ?? false;
}

function sortedChildren(dir: Inode): [string, Inode][] {
  return [...(dir.children ?? [])].sort((a, b) => compareNames(a[0], b[0]));
}

function countNames(tree: FsTree): Map<Inode, number> {
  const counts = new Map<Inode, number>();
  const stack: Inode[] = [tree.root];
  while (stack.length > 0) {
    const dir = stack.pop() as Inode;
    for (const child of (dir.children as Map<string, Inode>).values()) {
      if (child.type === 'directory') stack.push(child);
      else counts.set(child, (counts.get(child) ?? 0) + 1);
    }
  }
  return counts;
}

/**
 * Every name in the tree except the root, depth first with each directory's entries in byte order (parents
 * before children; the order Go's filepath.Walk lists a directory tree in).
 */
export function* walkTree(tree: FsTree): Generator<TreeEntry> {
  const counts = countNames(tree);
  const firstName = new Map<Inode, { path: string; ino: number }>();
  let nextIno = 1;
  const stack: { prefix: string; items: [string, Inode][]; i: number }[] = [{ prefix: '', items: sortedChildren(tree.root), i: 0 }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as (typeof stack)[number];
    const item = frame.items[frame.i++];
    if (item === undefined) {
      stack.pop();
      continue;
    }
    const [name, inode] = item;
    const path = frame.prefix + name;
    if (inode.type === 'directory') {
      yield { path, inode, ino: nextIno++, nlink: 1 };
      stack.push({ prefix: `${path}/`, items: sortedChildren(inode), i: 0 });
      continue;
    }
    const nlink = counts.get(inode) ?? 1;
    const first = nlink > 1 ? firstName.get(inode) : undefined;
    if (first !== undefined) {
      yield { path, inode, ino: first.ino, nlink, hardlinkTo: first.path };
      continue;
    }
    const ino = nextIno++;
    if (nlink > 1) firstName.set(inode, { path, ino });
    yield { path, inode, ino, nlink };
  }
}

/** Names of every inode that has more than one, each group in walk order, groups ordered by their first name. */
export function hardLinkGroups(tree: FsTree): string[][] {
  const groups = new Map<Inode, string[]>();
  for (const e of walkTree(tree)) {
    if (e.nlink < 2) continue;
    const g = groups.get(e.inode);
    if (g === undefined) groups.set(e.inode, [e.path]);
    else g.push(e.path);
  }
  return [...groups.values()];
}

export interface TreeStats {
  readonly entries: number;
  readonly files: number;
  /** Sum of file sizes, each hard-linked inode counted once: the unpacked size. */
  readonly bytes: number;
}

export function treeStats(tree: FsTree): TreeStats {
  let entries = 0;
  let files = 0;
  let bytes = 0;
  for (const e of walkTree(tree)) {
    entries++;
    if (e.inode.type === 'file' && e.hardlinkTo === undefined) {
      files++;
      bytes += e.inode.size;
    }
  }
  return { entries, files, bytes };
}
