// Apply one uncompressed layer tar on top of an FsTree, per the OCI image-spec layer rules (I/O only via the content sink).
//
// The rules follow what `umoci unpack` (oci/layer/tar_extract.go) does on a real filesystem, which is the oracle
// of test/integration/oci-umoci.test.ts:
// - the directory part of every name is resolved through symlinks already in the tree, scoped to the root;
// - a later entry replaces whatever is at its path, subtree included, except that a directory over a directory
//   only updates metadata (xattrs are replaced, not merged) and keeps the children;
// - `.wh.NAME` removes NAME and `.wh..wh..opq` empties its directory, but only of what lower layers put there:
//   paths this layer has already created (and their ancestors) survive, whatever the order inside the layer;
// - a hard link (linkname relative to the root) shares the target's inode: a later whiteout or replacement of
//   the target leaves the link and its content intact, and the link carries no metadata of its own;
// - missing parent directories are created with IMPLICIT_DIR metadata (0755 root:root, mtime 0).
import { ImageError } from '../source/image-error.ts';
import type { ContentSink } from './content-store.ts';
import { IMPLICIT_DIR, lookup, mkdirAll, newInode, removePath, resolvePath, setInode, splitPath, type FsTree, type Inode, type InodeMeta } from './fs-tree.ts';
import { readTar, streamSource, type ByteSource, type TarEntry } from './tar-reader.ts';
import type { TarHeader } from './tar-header.ts';
import type { UnpackBudget } from './unpack-budget.ts';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

export interface ApplyLayerOptions {
  /** Names the layer in errors, e.g. `layer 2/5 sha256:ab12… of oci:/srv/img:rocky9`. */
  readonly where: string;
  readonly sink: ContentSink;
  /** Interpret `.wh.` entries (true for image layers; false for a plain rootfs tarball, where they are just files). */
  readonly whiteouts?: boolean;
  readonly implicitDir?: InodeMeta;
  /** Checked before each entry's data is read; throws ImageError('too-big') when the tree would not fit. */
  readonly budget?: UnpackBudget;
}

export interface ApplyStats {
  entries: number;
  whiteouts: number;
  /** Bytes of regular-file data in the layer. */
  bytes: number;
}

/** Apply a layer given as uncompressed tar bytes (or a prepared ByteSource). */
export async function applyLayer(tree: FsTree, tar: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | ByteSource, opts: ApplyLayerOptions): Promise<ApplyStats> {
  const src = isByteSource(tar) ? tar : streamSource(tar, opts.where);
  const upper = new Set<string>();
  const stats: ApplyStats = { entries: 0, whiteouts: 0, bytes: 0 };
  const whiteouts = opts.whiteouts ?? true;
  const implicit = opts.implicitDir ?? IMPLICIT_DIR;
  for await (const entry of readTar(src)) {
    const h = entry.header;
    stats.entries++;
    const where = `${opts.where}: ${h.name}`;
    try {
      const parts = splitPath(h.name);
      if (parts.length === 0) {
        if (h.type !== 'directory') throw new ImageError('bad-layer-entry', `${where}: refusing to make the image root a ${h.type}`);
        setInode(tree, [], newInode('directory', meta(h)));
        continue;
      }
      const name = parts[parts.length - 1] as string;
      const dir = resolvePath(tree, parts.slice(0, -1));
      if (whiteouts && name.startsWith(WHITEOUT_PREFIX)) {
        stats.whiteouts++;
        if (name === OPAQUE_WHITEOUT) whiteout(tree, upper, dir, true);
        else if (name === WHITEOUT_PREFIX) throw new ImageError('bad-layer-entry', `${where}: whiteout without a name`);
        else whiteout(tree, upper, [...dir, name.slice(WHITEOUT_PREFIX.length)], false);
        continue;
      }
      const path = [...dir, name];
      let createdDirs = 0;
      const parent = mkdirAll(tree, dir, implicit, () => createdDirs++);
      const existing = parent.children?.get(name);
      if (existing !== undefined && !(existing.type === 'directory' && h.type === 'directory')) removePath(tree, path);
      // Before the entry's data is read (makeInode hands it to the sink).
      opts.budget?.entry(tree, { path: path.join('/'), type: h.type === 'hardlink' ? 'file' : h.type, size: h.type === 'file' ? h.size : 0, createdDirs }, where);
      setInode(tree, path, await makeInode(tree, h, entry, opts.sink, where), implicit);
      if (h.type === 'file') stats.bytes += h.size;
      for (let i = path.length; i > 0; i--) {
        const key = path.slice(0, i).join('/');
        if (upper.has(key)) break;
        upper.add(key);
      }
    } catch (e) {
      if (e instanceof ImageError && e.code === 'bad-layer-entry' && !e.message.startsWith(opts.where)) {
        throw new ImageError(e.code, `${where}: ${e.message}`, { file: e.file, hint: e.hint, cause: e });
      }
      throw e;
    }
  }
  return stats;
}

function isByteSource(x: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | ByteSource): x is ByteSource {
  return typeof (x as ByteSource).readExact === 'function';
}

function meta(h: TarHeader): InodeMeta {
  return { mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, xattrs: h.xattrs };
}

async function makeInode(tree: FsTree, h: TarHeader, entry: TarEntry, sink: ContentSink, where: string): Promise<Inode> {
  switch (h.type) {
    case 'file': {
      const inode = newInode('file', meta(h), { size: h.size });
      if (h.size > 0) inode.content = await sink.put({ dataOffset: entry.dataOffset, size: h.size, body: entry.body });
      return inode;
    }
    case 'directory':
      return newInode('directory', meta(h));
    case 'symlink':
      if (h.linkname === '') throw new ImageError('bad-layer-entry', `${where}: symlink with an empty target`);
      return newInode('symlink', meta(h), { linkname: h.linkname });
    case 'char':
    case 'block':
      return newInode(h.type, meta(h), { devMajor: h.devMajor, devMinor: h.devMinor });
    case 'fifo':
      return newInode('fifo', meta(h));
    case 'hardlink': {
      const parts = splitPath(h.linkname);
      const target = parts.length === 0 ? tree.root : lookup(tree, [...resolvePath(tree, parts.slice(0, -1)), parts[parts.length - 1] as string]);
      if (target === undefined) {
        throw new ImageError('bad-layer-entry', `${where}: hard link to /${parts.join('/')}, which does not exist at this point of the layer`, {
          hint: 'A hard link must come after its target, in the same or a lower layer.',
        });
      }
      if (target.type === 'directory') throw new ImageError('bad-layer-entry', `${where}: hard link to directory /${parts.join('/')}`);
      return target;
    }
  }
}

/**
 * Remove `target` (or, opaque, the contents of directory `target`) unless this layer created it. Paths in
 * `upper` are kept and searched for lower-layer children to remove instead.
 */
function whiteout(tree: FsTree, upper: ReadonlySet<string>, target: readonly string[], opaque: boolean): void {
  const node = lookup(tree, target);
  if (node === undefined) return;
  const visit = (parts: readonly string[], inode: Inode, top: boolean): void => {
    if (!upper.has(parts.join('/')) && !(opaque && top)) {
      removePath(tree, parts);
      return;
    }
    if (inode.type !== 'directory') return;
    for (const [name, child] of [...(inode.children as Map<string, Inode>)]) visit([...parts, name], child, false);
  };
  visit(target, node, true);
}
