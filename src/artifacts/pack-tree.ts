// Packs a directory tree into a reproducible newc image (.img) and/or pigz-style .img.gz plus its content index (I/O: walks, reads and writes the file system).
//
// Speed notes, measured on the 2-core bench machine (bench/image-pack.ts, 55k entries): a synchronous lstat walk
// costs ~0.4 s of CPU against ~1.7 s for promise-based lstat at 16-64 in flight, so the walk is synchronous (it is
// over before compression starts). File contents are read ahead by a reader thread (pack-reader.ts) so disk reads
// overlap compression; output files are written asynchronously (a few writes in flight) so write-back does not stall
// it either. The compressor threads need every core; the calling thread only walks, writes cpio headers, hashes
// (content index, CRC) and copies.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { ContentEntry } from './artifact.ts';
import { CPIO_PASSTHROUGH_MIN, cpioNewc, sortCpioEntries, type CpioEntry } from './cpio-newc.ts';
import { gzipParallel } from './gzip-parallel.ts';
import { startReader, type FileReader } from './pack-reader.ts';

export interface PackOutputs {
  /** Uncompressed cpio: a file path (written to `<path>.partial`, renamed on success) or a stream. */
  readonly img?: string | Writable;
  /** Gzip-compressed cpio, same forms. */
  readonly gz?: string | Writable;
}

export interface PackOptions {
  /** Clamp every mtime to at most this many seconds since the epoch (SOURCE_DATE_EPOCH). */
  readonly sourceDateEpoch?: number;
  /** Compressor threads. Default os.availableParallelism(). */
  readonly workers?: number;
  readonly level?: number;
  readonly blockSize?: number;
  /** Return false to leave out a path (relative, no leading '/'); a left-out directory is not descended. */
  readonly filter?: (relPath: string, stats: fs.Stats) => boolean;
  /** Skip entries on another file system than `root` (bind mounts, /proc), as Warewulf's image build does. Default true. */
  readonly oneFileSystem?: boolean;
}

export interface OutputDigest {
  readonly sha256: string;
  readonly size: number;
}

export interface PackResult {
  /** Content index in archive order. */
  readonly contents: readonly ContentEntry[];
  /** Bytes of the uncompressed cpio stream. */
  readonly cpioSize: number;
  readonly img?: OutputDigest;
  readonly gz?: OutputDigest;
}

const PIECE = 1 << 20;

/**
 * Streams a file that should be `size` bytes; fails if it shrank or grew since lstat. Files shorter than
 * CPIO_PASSTHROUGH_MIN are read into `scratch`, which the cpio writer copies from before it asks for more.
 */
function* readFile(abs: string, size: number, scratch: Buffer): Generator<Uint8Array> {
  const fd = fs.openSync(abs, 'r');
  try {
    if (size < PIECE) {
      // One read of size+1 both fetches the content and shows whether the file grew.
      const buf = size < CPIO_PASSTHROUGH_MIN ? scratch : Buffer.allocUnsafe(size + 1);
      let got = 0;
      for (let n = -1; n !== 0 && got <= size; got += n) n = fs.readSync(fd, buf, got, size + 1 - got, null);
      if (got !== size) throw new Error(`pack: ${abs} changed while being archived (${size} bytes at lstat, ${got > size ? 'more' : got} now)`);
      yield buf.subarray(0, size);
      return;
    }
    let left = size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(PIECE, left));
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, null);
        if (n === 0) throw new Error(`pack: ${abs} shrank while being archived`);
        got += n;
      }
      left -= got;
      yield buf;
    }
    if (fs.readSync(fd, Buffer.allocUnsafe(1), 0, 1, null) !== 0) throw new Error(`pack: ${abs} grew while being archived`);
  } finally {
    fs.closeSync(fd);
  }
}

function devNumbers(rdev: number): { rdevMajor: number; rdevMinor: number } {
  const r = BigInt(rdev);
  const major = ((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn);
  const minor = (r & 0xffn) | ((r >> 12n) & ~0xffn);
  return { rdevMajor: Number(major), rdevMinor: Number(minor) };
}

type ScanOptions = Pick<PackOptions, 'sourceDateEpoch' | 'filter' | 'oneFileSystem'>;

/**
 * Walks `root` (not included itself) and describes every entry for the cpio writer. File data is read lazily and
 * synchronously, and the data functions share one read buffer: consume one file's pieces before starting the next
 * (cpioNewc does). packDirectory replaces these readers with a read-ahead thread.
 */
export function scanDirectory(root: string, options: ScanOptions = {}): CpioEntry[] {
  const scratch = Buffer.allocUnsafe(CPIO_PASSTHROUGH_MIN + 1);
  return walkTree(root, options).map(([e, abs]) => (e.type === 'file' ? { ...e, data: () => readFile(abs, e.size ?? 0, scratch) } : e));
}

/** The walk itself: entries (files without data) paired with their absolute paths. */
function walkTree(root: string, options: ScanOptions): [CpioEntry, string][] {
  const rootDev = fs.statSync(root).dev;
  const sde = options.sourceDateEpoch;
  if (sde !== undefined && (!Number.isInteger(sde) || sde < 0)) throw new Error(`pack: sourceDateEpoch must be a non-negative integer, got ${sde}`);
  const xdev = options.oneFileSystem ?? true;
  const out: [CpioEntry, string][] = [];
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const dir = rel === '' ? root : join(root, rel);
    for (const name of fs.readdirSync(dir)) {
      const path = rel === '' ? name : `${rel}/${name}`;
      // readdir decodes names as UTF-8 and turns invalid bytes into U+FFFD, which would archive a different name.
      if (name.includes('\uFFFD')) throw new Error(`pack: ${join(root, path)}: file name is not valid UTF-8 (or contains U+FFFD); not supported`);
      const abs = `${dir}/${name}`;
      const st = fs.lstatSync(abs);
      if (xdev && st.dev !== rootDev) continue;
      if (options.filter && !options.filter(path, st)) continue;
      let mtime = Math.max(0, Math.floor(st.mtimeMs / 1000));
      if (sde !== undefined && mtime > sde) mtime = sde;
      const mode = st.mode & 0o7777;
      const { uid, gid } = st;
      if (st.isFile()) {
        const size = st.size;
        if (st.nlink > 1) {
          const big = fs.lstatSync(abs, { bigint: true });
          out.push([{ path, type: 'file', mode, uid, gid, mtime, size, linkKey: `${big.dev}:${big.ino}` }, abs]);
        } else {
          out.push([{ path, type: 'file', mode, uid, gid, mtime, size }, abs]);
        }
      } else if (st.isDirectory()) {
        out.push([{ path, type: 'directory', mode, uid, gid, mtime }, abs]);
        stack.push(path);
      } else if (st.isSymbolicLink()) {
        out.push([{ path, type: 'symlink', mode, uid, gid, mtime, target: fs.readlinkSync(abs) }, abs]);
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        out.push([{ path, type: st.isCharacterDevice() ? 'char' : 'block', mode, uid, gid, mtime, ...devNumbers(st.rdev) }, abs]);
      } else if (st.isFIFO()) {
        out.push([{ path, type: 'fifo', mode, uid, gid, mtime }, abs]);
      } else if (st.isSocket()) {
        out.push([{ path, type: 'socket', mode, uid, gid, mtime }, abs]);
      }
    }
  }
  return out;
}

interface Sink {
  write(chunk: Uint8Array): Promise<void>;
  /** Flushes and closes; returns the digest of everything written. */
  end(): Promise<OutputDigest>;
  abort(): Promise<void>;
}

/**
 * A file sink batching into 4 MiB writes (three buffers in rotation, so writes overlap the work), or a stream sink
 * honouring back-pressure. Both copy what they are given before returning: the chunks they get are transient.
 */
async function openSink(target: string | Writable): Promise<Sink> {
  const hash = createHash('sha256');
  let size = 0;
  if (typeof target !== 'string') {
    return {
      async write(chunk) {
        hash.update(chunk);
        size += chunk.length;
        if (!target.write(Buffer.from(chunk))) await new Promise<void>((resolve, reject) => {
          const done = (err?: Error): void => {
            target.off('drain', done);
            target.off('error', done);
            if (err) reject(err);
            else resolve();
          };
          target.on('drain', done);
          target.on('error', done);
        });
      },
      async end() {
        await new Promise<void>((resolve, reject) => target.end((err?: Error | null) => (err ? reject(err) : resolve())));
        return { sha256: hash.digest('hex'), size };
      },
      async abort() {},
    };
  }
  const partial = `${target}.partial`;
  const fh = await fs.promises.open(partial, 'w');
  const BATCH = 4 << 20;
  let buf: Buffer = Buffer.allocUnsafe(BATCH);
  let fill = 0;
  let pos = 0;
  const spare: Buffer[] = [];
  const pending: { done: Promise<unknown>; buf: Buffer }[] = [];
  const flush = async (): Promise<void> => {
    if (fill === 0) return;
    pending.push({ done: fh.write(buf, 0, fill, pos), buf });
    pos += fill;
    fill = 0;
    if (pending.length > 2) {
      const oldest = pending.shift()!;
      await oldest.done;
      spare.push(oldest.buf);
    }
    buf = spare.pop() ?? Buffer.allocUnsafe(BATCH);
  };
  return {
    async write(chunk) {
      hash.update(chunk);
      size += chunk.length;
      for (let off = 0; off < chunk.length; ) {
        const n = Math.min(chunk.length - off, BATCH - fill);
        buf.set(chunk.subarray(off, off + n), fill);
        fill += n;
        off += n;
        if (fill === BATCH) await flush();
      }
    },
    async end() {
      await flush();
      await Promise.all(pending.splice(0).map((p) => p.done));
      await fh.close();
      await fs.promises.rename(partial, target);
      return { sha256: hash.digest('hex'), size };
    },
    async abort() {
      await Promise.allSettled(pending.splice(0).map((p) => p.done));
      await fh.close().catch(() => {});
      await fs.promises.rm(partial, { force: true });
    },
  };
}

/**
 * Sorts the walked entries and wires file data to a read-ahead thread. The cpio writer reads each file once, in
 * archive order, and a hard-link group at its last link, so that is the order the reader is given.
 */
function withReader(walked: [CpioEntry, string][]): { entries: CpioEntry[]; reader: FileReader } {
  const order = sortCpioEntries(walked.map(([e, abs]) => ({ path: e.path, e, abs })));
  const lastLink = new Map<string, number>();
  order.forEach((x, i) => {
    if (x.e.linkKey !== undefined) lastLink.set(x.e.linkKey, i);
  });
  const files: [string, number][] = [];
  const fileNumber: number[] = [];
  order.forEach((x, i) => {
    if (x.e.type !== 'file' || (x.e.linkKey !== undefined && lastLink.get(x.e.linkKey) !== i)) return;
    fileNumber[i] = files.length;
    files.push([x.abs, x.e.size ?? 0]);
  });
  const reader = startReader(files);
  const entries = order.map(({ e }, i): CpioEntry => {
    if (e.type !== 'file') return e;
    const k = fileNumber[e.linkKey === undefined ? i : lastLink.get(e.linkKey)!]!;
    return { ...e, data: () => reader.take(k) };
  });
  return { entries, reader };
}

/** Walks `root`, writes the archive to the requested outputs and returns the content index and output digests. */
export async function packDirectory(root: string, outputs: PackOutputs, options: PackOptions = {}): Promise<PackResult> {
  const { entries, reader } = withReader(walkTree(root, options));
  const sinks: Sink[] = [];
  try {
    // Every consumer below copies a chunk before asking for the next, so both stages may reuse their buffers.
    const archive = cpioNewc(entries, { transientChunks: true });
    const img = outputs.img === undefined ? undefined : await openSink(outputs.img);
    if (img) sinks.push(img);
    const gz = outputs.gz === undefined ? undefined : await openSink(outputs.gz);
    if (gz) sinks.push(gz);
    async function* tee(): AsyncGenerator<Uint8Array> {
      for await (const chunk of archive.chunks) {
        if (img) await img.write(chunk);
        yield chunk;
      }
    }
    if (gz) {
      const compressed = gzipParallel(tee(), {
        workers: options.workers ?? availableParallelism(),
        level: options.level ?? 6,
        transientChunks: true,
        ...(options.blockSize ? { blockSize: options.blockSize } : {}),
      });
      for await (const chunk of compressed) await gz.write(chunk);
    } else {
      for await (const chunk of tee()) void chunk;
    }
    const imgDigest = img ? await img.end() : undefined;
    const gzDigest = gz ? await gz.end() : undefined;
    sinks.length = 0;
    return { contents: archive.contents(), cpioSize: archive.bytesWritten(), ...(imgDigest ? { img: imgDigest } : {}), ...(gzDigest ? { gz: gzDigest } : {}) };
  } finally {
    await Promise.all([reader.close(), ...sinks.map((s) => s.abort())]);
  }
}
