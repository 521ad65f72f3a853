// Where file data lives (I/O): a cache of uncompressed layer tars, content sinks for layer application, reading refs back.
//
// Strategy: file data is never held in memory or in the tree. While a layer streams by, its decompressed bytes are
// written once, sequentially, to `<cache>/layers/<alg>/<hex>.tar` (keyed by the layer's diff_id), and every
// regular file becomes a reference to a byte range of that file. Packing then reads surviving files at their
// offsets, in any order, with no per-file work at build time:
// - one sequential write per layer instead of one file per file (per-file spilling measured ~1 ms per file on
//   this machine's disk: a minute for a 60k-file image, against a few seconds for this);
// - memory stays proportional to the number of entries;
// - a rebuild of an unchanged image reads only tar headers from the cache (data is skipped by seeking);
// - the cached tar is renamed into place only after the layer's digests verified, so a corrupt or tampered blob
//   leaves nothing in the cache.
// The cost is disk: the cache holds whole uncompressed layers, data later whited out included.
// dir: sources are not copied: their files are `host` refs, opened again by descriptor (never through a symlink) when
// packed, and used only if they are still the file the walk saw, unchanged, with the content hashed then (readHost).
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, read } from 'node:fs';
import { access, mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isPathBlocked } from '../../fs/confined-dir.ts';
import { ImageError, ioError, sourceChanged } from '../source/image-error.ts';
import type { ContentRef, FileStamp } from './fs-tree.ts';

const readAt = promisify(read);

/** A regular file's data as layer application meets it. */
export interface FileData {
  /** Offset of the data in the uncompressed layer. */
  readonly dataOffset: number;
  readonly size: number;
  /** The bytes; a sink may leave them unread (they are then skipped). */
  readonly body: AsyncIterable<Uint8Array>;
}

export interface ContentSink {
  put(file: FileData): Promise<ContentRef>;
}

/** Refer to each file by its offset in `path`, the cached copy of the layer being applied. Reads nothing. */
export function rangeSink(path: string): ContentSink {
  return { put: async (f) => ({ kind: 'range', path, offset: f.dataOffset, size: f.size }) };
}

/** Keep file data inline in the tree: for tests and tiny generated layers only. */
export function inlineSink(): ContentSink {
  return {
    async put(f) {
      const parts: Uint8Array[] = [];
      for await (const c of f.body) parts.push(c.slice());
      return { kind: 'bytes', data: Buffer.concat(parts) };
    },
  };
}

export interface LayerWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Move the written bytes to the cache under `key`. */
  commit(key: string): Promise<void>;
  abort(): Promise<void>;
}

export interface LayerCache {
  readonly dir: string;
  /** Where the uncompressed layer with this digest (`sha256:…`) is, once cached. */
  path(key: string): string;
  has(key: string): Promise<boolean>;
  create(): Promise<LayerWriter>;
}

export function layerCache(dir: string): LayerCache {
  const path = (key: string): string => {
    const m = /^(sha256|sha512):([a-f0-9]+)$/.exec(key);
    if (m === null) throw new ImageError('bad-layout', `not a digest: ${key}`);
    return join(dir, 'layers', m[1] as string, `${m[2] as string}.tar`);
  };
  return {
    dir,
    path,
    async has(key) {
      try {
        await access(path(key));
        return true;
      } catch {
        return false;
      }
    },
    async create() {
      const tmpDir = join(dir, 'tmp');
      await mkdir(tmpDir, { recursive: true });
      const tmp = join(tmpDir, `layer-${randomUUID()}.tar`);
      const fh = await open(tmp, 'w');
      // Write-behind at explicit offsets: decompression and parsing go on while the disk catches up.
      let at = 0;
      let failed: unknown;
      const pending = new Set<Promise<void>>();
      const writeAt = async (chunk: Uint8Array, pos: number): Promise<void> => {
        for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off, pos + off)).bytesWritten;
      };
      let closed = false;
      const settle = async (): Promise<void> => {
        await Promise.allSettled([...pending]);
        if (!closed) {
          closed = true;
          await fh.close();
        }
      };
      return {
        async write(chunk) {
          if (failed !== undefined) throw ioError(failed, tmp, 'caching a layer');
          const p: Promise<void> = writeAt(chunk, at).then(
            () => void pending.delete(p),
            (e: unknown) => {
              failed = e;
              pending.delete(p);
            },
          );
          at += chunk.length;
          pending.add(p);
          if (pending.size >= 16) await Promise.race(pending);
        },
        async commit(key) {
          await settle();
          if (failed !== undefined) throw ioError(failed, tmp, 'caching a layer');
          const final = path(key);
          await mkdir(join(final, '..'), { recursive: true });
          await rename(tmp, final);
        },
        async abort() {
          await settle();
          await rm(tmp, { force: true });
        },
      };
    },
  };
}

/**
 * The bytes of a ref. Range refs are checked: the file must still hold `size` bytes at `offset`. Host refs are opened by
 * descriptor without following symlinks, and must be the file the walk saw, unchanged before and after reading (and hash
 * to `sha256` when the ref carries it).
 */
export async function* readContent(ref: ContentRef): AsyncGenerator<Uint8Array> {
  if (ref.kind === 'bytes') {
    yield ref.data;
    return;
  }
  if (ref.kind === 'host') {
    yield* readHost(ref);
    return;
  }
  if (ref.size === 0) return;
  let seen = 0;
  try {
    const stream = createReadStream(ref.path, { start: ref.offset, end: ref.offset + ref.size - 1, highWaterMark: 1 << 20 });
    for await (const c of stream as AsyncIterable<Buffer>) {
      seen += c.length;
      yield c;
    }
  } catch (e) {
    throw ioError(e, ref.path, 'reading file content');
  }
  if (seen !== ref.size) {
    throw new ImageError('io', `${ref.path} changed while herd was using it (${ref.size} bytes expected at offset ${ref.offset}, ${seen} read)`, {
      file: ref.path,
      hint: 'Do not modify the source or the cache while herd builds from it.',
    });
  }
}

const sameStamp = (a: FileStamp, b: FileStamp): boolean => a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;

const CHUNK = 1 << 20;

async function* readHost(ref: Extract<ContentRef, { kind: 'host' }>): AsyncGenerator<Uint8Array> {
  const where = ref.files.where(ref.rel);
  let opened;
  try {
    opened = ref.files.openRead(ref.rel);
  } catch (e) {
    if (isPathBlocked(e)) throw sourceChanged(where, e.kind === 'escape' ? 'a directory on its path is now a symlink that leads out' : 'it is no longer a regular file reached without leaving the source');
    throw ioError(e, where, 'reading the image source');
  }
  if (opened === undefined) throw sourceChanged(where, 'it is gone');
  const { fd, stat } = opened;
  try {
    if (stat.dev !== ref.stamp.dev || stat.ino !== ref.stamp.ino) throw sourceChanged(where, 'it is another file now');
    if (!sameStamp(stat, ref.stamp)) throw sourceChanged(where, 'its size or times differ from when it was listed');
    const hash = ref.sha256 === undefined ? undefined : createHash('sha256');
    let at = 0;
    while (at < ref.size) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, ref.size - at));
      let n: number;
      try {
        ({ bytesRead: n } = await readAt(fd, buf, 0, buf.length, at));
      } catch (e) {
        throw ioError(e, where, 'reading the image source');
      }
      if (n === 0) break;
      at += n;
      const chunk = n === buf.length ? buf : buf.subarray(0, n);
      hash?.update(chunk);
      yield chunk;
    }
    if (at !== ref.size || !sameStamp(fstatSync(fd, { bigint: true }), ref.stamp)) throw sourceChanged(where, 'it was modified while herd read it');
    if (hash !== undefined && hash.digest('hex') !== ref.sha256) throw sourceChanged(where, 'its content is not what herd hashed before');
  } finally {
    closeSync(fd);
  }
}

/** sha256 (hex) of a ref's content, read when the ref does not carry it. */
export async function contentSha256(ref: ContentRef): Promise<string> {
  if (ref.kind !== 'bytes' && ref.sha256 !== undefined) return ref.sha256;
  const h = createHash('sha256');
  for await (const c of readContent(ref)) h.update(c);
  return h.digest('hex');
}

export function refSize(ref: ContentRef): number {
  return ref.kind === 'bytes' ? ref.data.length : ref.size;
}
