// Byte-stream plumbing for blobs (I/O): compression sniffing and decompression, digest taps, reading files and ranges.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { ImageError, ioError } from './image-error.ts';

export type Compression = 'none' | 'gzip' | 'zstd' | 'bzip2' | 'xz';

/** Compression by magic number; media types are not trusted (docker-archive layers have none, some registries mislabel). */
export function detectCompression(head: Uint8Array): Compression {
  const b = (i: number): number => head[i] ?? -1;
  if (b(0) === 0x1f && b(1) === 0x8b) return 'gzip';
  if (b(0) === 0x28 && b(1) === 0xb5 && b(2) === 0x2f && b(3) === 0xfd) return 'zstd';
  if (b(0) === 0x42 && b(1) === 0x5a && b(2) === 0x68) return 'bzip2';
  if (b(0) === 0xfd && b(1) === 0x37 && b(2) === 0x7a && b(3) === 0x58 && b(4) === 0x5a && b(5) === 0x00) return 'xz';
  return 'none';
}

type ZstdFactory = () => NodeJS.ReadWriteStream;

/** Node >= 22.15 has zstd in zlib; Node 20 does not. */
function zstdFactory(): ZstdFactory | undefined {
  const f = (zlib as unknown as { createZstdDecompress?: ZstdFactory }).createZstdDecompress;
  return typeof f === 'function' ? f : undefined;
}

async function* prepend(head: Uint8Array[], it: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* head;
  // for-await (not it.next() by hand) so that stopping early returns `it`, closing the file behind it.
  yield* { [Symbol.asyncIterator]: () => it };
}

/** Uncompressed bytes of a possibly compressed stream (gzip; zstd where Node supports it). `what` names it in errors. */
export async function* decompress(src: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
  const it = src[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let have = 0;
  while (have < 6) {
    const r = await it.next();
    if (r.done === true) break;
    head.push(r.value);
    have += r.value.length;
  }
  const kind = detectCompression(Buffer.concat(head));
  if (kind === 'none') {
    yield* prepend(head, it);
    return;
  }
  let transform: NodeJS.ReadWriteStream;
  if (kind === 'gzip') transform = zlib.createGunzip();
  else if (kind === 'zstd' && zstdFactory() !== undefined) transform = (zstdFactory() as ZstdFactory)();
  else {
    await it.return?.();
    throw new ImageError('unsupported', `${what} is ${kind}-compressed, which herd cannot decompress${kind === 'zstd' ? ` on Node ${process.versions.node} (zstd needs Node >= 22.15)` : ''}`, {
      hint:
        kind === 'zstd'
          ? 'Run herd on Node >= 22.15, or convert the image to gzip layers: skopeo copy --dest-compress-format gzip oci:SRC oci:DST'
          : 'Convert the image to gzip layers, e.g. skopeo copy --dest-compress-format gzip.',
    });
  }
  const input = Readable.from(prepend(head, it), { objectMode: false });
  const done = pipeline(input, transform as unknown as NodeJS.WritableStream);
  done.catch(() => undefined);
  try {
    for await (const c of transform as unknown as AsyncIterable<Buffer>) yield c;
    await done;
  } catch (e) {
    if (e instanceof ImageError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new ImageError('bad-tar', `${what}: ${kind} data is corrupt: ${msg}`, { cause: e });
  } finally {
    input.destroy();
    (transform as unknown as Readable).destroy();
  }
}

export interface DigestTap {
  readonly stream: AsyncIterable<Uint8Array>;
  /** `algo:hex` of everything that passed through, and its length; valid once the stream is exhausted. */
  result(): { digest: string; size: number };
}

export function digestAlgorithm(digest: string, where: string): 'sha256' | 'sha512' {
  const m = /^(sha256|sha512):([a-f0-9]+)$/.exec(digest);
  if (m === null || (m[1] === 'sha256' ? 64 : 128) !== (m[2] as string).length) {
    throw new ImageError(m === null && /^[a-z0-9]+:/.test(digest) ? 'unsupported' : 'bad-layout', `${where}: unsupported or malformed digest "${digest}"`);
  }
  return m[1] as 'sha256' | 'sha512';
}

export function digestTap(src: AsyncIterable<Uint8Array>, algo: 'sha256' | 'sha512'): DigestTap {
  const h = createHash(algo);
  let size = 0;
  let final: string | undefined;
  return {
    stream: (async function* () {
      for await (const c of src) {
        h.update(c);
        size += c.length;
        yield c;
      }
      final = `${algo}:${h.digest('hex')}`;
    })(),
    result() {
      if (final === undefined) throw new Error('digestTap: stream not exhausted');
      return { digest: final, size };
    },
  };
}

/** Something that reads at a position: an open FileHandle, or a descriptor wrapped by `fdReader`. */
export interface PositionalReader {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/**
 * Bytes `[start, start + size)` of an already open file, read by position: the file is the one opened, whatever its name
 * points at by now. Stops early at the end of the file (digests and tar framing catch a short read).
 */
export async function* readOpen(file: PositionalReader, start: number, size: number, what: string): AsyncGenerator<Uint8Array> {
  let at = start;
  const end = start + size;
  while (at < end) {
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, end - at));
    let n: number;
    try {
      ({ bytesRead: n } = await file.read(buf, 0, buf.length, at));
    } catch (e) {
      throw ioError(e, what, `reading ${what}`);
    }
    if (n === 0) return;
    at += n;
    yield n === buf.length ? buf : buf.subarray(0, n);
  }
}

/** Bytes `[start, start + size)` of a file herd wrote itself (a scratch or cache file), by path. */
export async function* readRange(file: string, start: number, size: number | undefined, what: string): AsyncGenerator<Uint8Array> {
  if (size === 0) return;
  const opts = size === undefined ? { start, highWaterMark: 1 << 20 } : { start, end: start + size - 1, highWaterMark: 1 << 20 };
  try {
    for await (const c of createReadStream(file, opts) as AsyncIterable<Buffer>) yield c;
  } catch (e) {
    throw ioError(e, file, `reading ${what}`);
  }
}

/** Image metadata (index.json, manifests, configs) is small; anything bigger is not what it claims to be. */
export const MAX_METADATA_BYTES = 32 << 20;

/** All of `src`, which must be metadata: stops reading past `max` bytes with an error naming `where`. */
export async function readAll(src: AsyncIterable<Uint8Array>, where = 'image metadata', max = MAX_METADATA_BYTES): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const c of src) {
    size += c.length;
    if (size > max) throw new ImageError('bad-layout', `${where} is larger than ${max} bytes, which no image metadata is`, { file: where });
    parts.push(c);
  }
  return Buffer.concat(parts);
}
