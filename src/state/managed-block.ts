// Managed blocks (pure): a file herd owns only below a marker line, as Warewulf's IncludeBlock does for /etc/hosts; the lines above are the site's.
import { sha256Hex } from '../artifacts/artifact.ts';

/** What herd writes above the marker when it creates the file: the admin's lines go there and are kept. */
export const FRESH_BLOCK_PREFIX = '# Site entries go above the marker line; herd (like wwctl configure) rewrites only what follows it.\n';

export interface SplitFile {
  /** The bytes up to and including the marker line's newline (one is added when the file ends on the marker line). */
  readonly prefix: Buffer;
  /** The managed block: everything after the marker line. */
  readonly block: Buffer;
}

/**
 * Split live bytes at the first line containing `marker` (Warewulf's rule: `strings.Contains(line, marker)`), or undefined when no line does.
 * The marker line itself is kept as the site wrote it.
 */
export function splitAtMarker(bytes: Uint8Array, marker: string): SplitFile | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let start = 0;
  while (start < buf.length) {
    const nl = buf.indexOf(0x0a, start);
    const end = nl === -1 ? buf.length : nl;
    if (buf.toString('utf8', start, end).includes(marker)) {
      if (nl === -1) return { prefix: Buffer.concat([buf, Buffer.from('\n')]), block: Buffer.alloc(0) };
      return { prefix: buf.subarray(0, nl + 1), block: buf.subarray(nl + 1) };
    }
    start = end + 1;
  }
  return undefined;
}

/** sha256 of the managed block of `bytes`, or null when the file has no marker line. */
export function blockSha(bytes: Uint8Array, marker: string): string | null {
  const s = splitAtMarker(bytes, marker);
  return s ? sha256Hex(s.block) : null;
}

/**
 * The whole file to write: the live lines above the marker (byte for byte) + the marker line + `block`.
 * `live` undefined (no file) or `replaceWhole` (the file is one herd wrote whole, before it owned only the block) start from a short herd comment;
 * a live file without a marker keeps all of its lines and gets the marker appended, as Warewulf does.
 */
export function composeBlockFile(live: Uint8Array | undefined, block: Uint8Array, marker: string, replaceWhole = false): Buffer {
  if (live === undefined || replaceWhole) return Buffer.concat([Buffer.from(`${FRESH_BLOCK_PREFIX}${marker}\n`), block]);
  const split = splitAtMarker(live, marker);
  if (split) return Buffer.concat([split.prefix, block]);
  const text = Buffer.from(live.buffer, live.byteOffset, live.length);
  const sep = text.length === 0 || text[text.length - 1] === 0x0a ? '' : '\n';
  return Buffer.concat([text, Buffer.from(`${sep}${marker}\n`), block]);
}
