// Pack one composed overlay stage into Warewulf's archive pair (pure: bytes in, bytes out; no I/O): the cpio newc `.img`
// and its gzip `.img.gz`, byte-reproducible from the same entries.
//
// Gzip: one member (the kernel's initramfs unpacker rejects a stream cut into members), made of raw-deflate segments each
// ended with a sync flush, so they concatenate byte-aligned (pigz's scheme, see gzip-parallel.ts). A large content
// buffer shared by many nodes (wwclient's ~10 MB static binary sits in every node's __SYSTEM__) passes through the cpio
// writer as its own chunk; its compressed segment is made once per buffer and reused for every node, so 10,000 system
// overlays cost one compression of the binary plus each node's few KiB of configuration.
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { cpioNewc, type CpioEntry } from '../artifacts/cpio-newc.ts';
import { gzipHeader } from '../artifacts/gzip-parallel.ts';
import type { ContentEntry } from '../artifacts/artifact.ts';
import type { ComposedEntry } from './compose.ts';

const LEVEL = 6;
/** Compressed segments of shared large buffers, by buffer identity. */
const segmentCache = new WeakMap<Uint8Array, Buffer>();

function cpioEntries(entries: readonly ComposedEntry[]): CpioEntry[] {
  return entries.map((e) =>
    e.type === 'file'
      ? { path: e.path, type: 'file', mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, size: e.content?.length ?? 0, data: e.content ?? new Uint8Array(0) }
      : e.type === 'symlink'
        ? { path: e.path, type: 'symlink', mode: 0o777, uid: e.uid, gid: e.gid, mtime: e.mtime, target: e.target ?? '' }
        : { path: e.path, type: 'directory', mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime },
  );
}

/**
 * Shared contents at least this long reach the compressor as their own buffer, compressed once for all nodes. An overlay
 * is mostly small files: a 64 KiB batch buffer (not the 1 MiB one images use) keeps 20,000 archives from churning memory.
 */
const SHARED_MIN = 32 * 1024;
const CHUNK = 64 * 1024;

/** The `.img` bytes as chunks (shared contents of SHARED_MIN or more come through as the very same buffers). */
export function cpioChunks(entries: readonly ComposedEntry[]): AsyncIterable<Uint8Array> {
  return cpioNewc(cpioEntries(entries), { passthroughMin: SHARED_MIN, chunkSize: CHUNK }).chunks;
}

const syncDeflate = (b: Uint8Array): Buffer => zlib.deflateRawSync(b, { level: LEVEL, finishFlush: zlib.constants.Z_SYNC_FLUSH });

/** gzip of a chunk stream, reusing the compressed segment of every large buffer it has seen before. */
export async function* gzipReusing(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield gzipHeader(LEVEL);
  let crc = 0;
  let length = 0;
  let small: Uint8Array[] = [];
  let smallLen = 0;
  const flushSmall = (): Buffer | undefined => {
    if (smallLen === 0) return undefined;
    const seg = syncDeflate(small.length === 1 ? small[0]! : Buffer.concat(small, smallLen));
    small = [];
    smallLen = 0;
    return seg;
  };
  for await (const c of chunks) {
    crc = zlib.crc32(c, crc);
    length += c.length;
    if (c.length >= SHARED_MIN) {
      const pending = flushSmall();
      if (pending) yield pending;
      let seg = segmentCache.get(c);
      if (seg === undefined) {
        seg = syncDeflate(c);
        segmentCache.set(c, seg);
      }
      yield seg;
    } else {
      // Copy: the writer may reuse its batch buffer for the next chunk.
      small.push(Buffer.from(c));
      smallLen += c.length;
      if (smallLen >= CHUNK) {
        const seg = flushSmall();
        if (seg) yield seg;
      }
    }
  }
  const last = smallLen > 0 ? Buffer.concat(small, smallLen) : Buffer.alloc(0);
  yield zlib.deflateRawSync(last, { level: LEVEL, finishFlush: zlib.constants.Z_FINISH });
  const t = Buffer.alloc(8);
  t.writeUInt32LE(crc >>> 0, 0);
  t.writeUInt32LE(length % 2 ** 32, 4);
  yield t;
}

export interface PackedStage {
  readonly img: { readonly sha256: string; readonly size: number };
  readonly gz: { readonly sha256: string; readonly size: number };
}

/** Hash both outputs in one pass (nothing is kept: the bytes are made again when apply asks for them). */
export async function measureStage(entries: readonly ComposedEntry[]): Promise<PackedStage> {
  const imgHash = createHash('sha256');
  const gzHash = createHash('sha256');
  let imgSize = 0;
  let gzSize = 0;
  const tee = async function* (): AsyncGenerator<Uint8Array> {
    for await (const c of cpioChunks(entries)) {
      imgHash.update(c);
      imgSize += c.length;
      yield c;
    }
  };
  for await (const c of gzipReusing(tee())) {
    gzHash.update(c);
    gzSize += c.length;
  }
  return { img: { sha256: imgHash.digest('hex'), size: imgSize }, gz: { sha256: gzHash.digest('hex'), size: gzSize } };
}

/** Hash and size of the `.img` alone (a tree artifact's archive). */
export async function measureCpio(entries: readonly ComposedEntry[]): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of cpioChunks(entries)) {
    h.update(c);
    size += c.length;
  }
  return { sha256: h.digest('hex'), size };
}

/** The content index the plan diffs, with each entry's origin and hidden flag. */
export function stageContents(entries: readonly ComposedEntry[]): ContentEntry[] {
  return entries.map((e) => ({
    path: e.path,
    type: e.type,
    mode: e.type === 'symlink' ? 0o777 : e.mode,
    uid: e.uid,
    gid: e.gid,
    size: e.type === 'file' ? (e.content?.length ?? 0) : e.type === 'symlink' ? Buffer.byteLength(e.target ?? '') : 0,
    ...(e.sha256 !== undefined ? { sha256: e.sha256 } : {}),
    ...(e.hidden ? { hidden: e.hidden } : {}),
    ...(e.origin ? { origin: e.origin } : {}),
  }));
}
