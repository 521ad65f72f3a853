// Small text files of an image tree, read and rewritten in place (I/O: reads content refs, which may point into the layer cache; writing is pure).
import { readContent } from '../tree/content-store.ts';
import { lookup, resolvePath, type FsTree, type Inode } from '../tree/fs-tree.ts';

/** Account and config files are small; anything bigger is not what we think it is. */
const MAX_TEXT_BYTES = 64 * 1024 * 1024;

export interface TreeText {
  /** Path after following symlinks (where a rewrite must go). */
  readonly path: string;
  readonly inode: Inode;
  readonly text: string;
}

/**
 * A regular file's text, following symlinks inside the image; undefined when there is no such file. `latin1` maps each
 * byte to one character, so a file that is not valid UTF-8 (a Latin-1 GECOS field) survives a rewrite byte for byte.
 */
export async function readTreeText(tree: FsTree, path: string, encoding: 'utf8' | 'latin1' = 'utf8'): Promise<TreeText | undefined> {
  const parts = resolvePath(tree, path);
  const inode = lookup(tree, parts);
  if (inode?.type !== 'file') return undefined;
  if (inode.size > MAX_TEXT_BYTES) throw new Error(`/${parts.join('/')} is ${inode.size} bytes; herd reads at most ${MAX_TEXT_BYTES} bytes of it`);
  const pieces: Uint8Array[] = [];
  if (inode.content !== undefined) for await (const c of readContent(inode.content)) pieces.push(c);
  return { path: parts.join('/'), inode, text: Buffer.concat(pieces).toString(encoding) };
}

/** Replace a file's content, keeping its inode (metadata and any hard links to it). */
export function rewriteTreeText(inode: Inode, text: string, encoding: 'utf8' | 'latin1' = 'utf8'): void {
  const data = new Uint8Array(Buffer.from(text, encoding));
  inode.content = { kind: 'bytes', data };
  inode.size = data.length;
}
