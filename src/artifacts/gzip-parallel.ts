// pigz-style gzip: one gzip member whose deflate blocks are compressed in parallel on worker threads (pure: output depends only on input bytes, level and block size; spawns threads, does no I/O).
//
// Why one member with independent blocks: the kernel's initramfs unpacker rejects a gzip stream cut into members at
// arbitrary offsets ("junk at the end of compressed archive"), and per-chunk cpio trailers would stop GNU `cpio -i`.
// pigz's scheme gives a single member readable by gzip, zlib and the kernel: each block is raw-deflated on its own,
// primed with the previous 32 KiB of input as dictionary (so the ratio stays within a fraction of a percent of
// serial gzip), and ended with a sync flush so the pieces concatenate byte-aligned; the last block ends with
// Z_FINISH. The CRC-32 and length in the trailer cover the whole input; the CRC is computed here on the calling
// thread with zlib.crc32 (about 0.25 s per GiB), which keeps workers free of ordering concerns.
// Blocks travel to and from the workers through SharedArrayBuffer slots (see gzip-worker.ts), not per-block buffers.
// Output bytes depend on (input, level, blockSize) only, never on the number of workers or timing.
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import { GZIP_WORKER_SOURCE } from './gzip-worker.ts';

export interface GzipParallelOptions {
  /** Worker threads; the caller passes e.g. os.availableParallelism(). 0 compresses on the calling thread (same bytes). */
  readonly workers: number;
  /** zlib level 1..9. Default 6. */
  readonly level?: number;
  /**
   * Uncompressed bytes per independently compressed block, ≥ 32 KiB. Default 1 MiB, eight times pigz's 128 KiB, because
   * each block re-hashes its 32 KiB dictionary: 256 KiB measured ~15% less CPU than 128 KiB, and 1 MiB another ~4-9%
   * less than 256 KiB (bench/image-pack.ts tree, issue #17) for +0.03% size. Memory: about 2 MiB per block in flight.
   */
  readonly blockSize?: number;
  /** Blocks submitted but not yet yielded; bounds memory. Default 4 per worker (at least 4). */
  readonly maxInFlight?: number;
  /**
   * Yield views into reused shared buffers, valid only until the next chunk is requested, instead of a fresh copy of
   * each block. Only for consumers that copy or finish with a chunk before pulling the next (not for stream.write).
   */
  readonly transientChunks?: boolean;
}

const DICT = 32 * 1024;

interface Job {
  readonly seq: number;
  readonly slot: number;
  readonly dictLen: number;
  readonly dataLen: number;
  readonly last: boolean;
  readonly level: number;
}

/** Shared input/output memory: slot i of `input` holds [dictionary][data], slot i of `output` its deflate bytes. */
interface Slots {
  readonly input: Uint8Array;
  readonly output: Uint8Array;
  readonly slotIn: number;
  readonly slotOut: number;
}

interface Pool {
  /** Resolves to the block's deflate bytes: a view of its output slot, or an own buffer. */
  run(job: Job): Promise<Uint8Array>;
  close(): Promise<void>;
}

interface WorkerReply {
  seq: number;
  len?: number;
  big?: ArrayBuffer;
  error?: string;
}

/** The same computation as the worker, for workers: 0. */
function inlinePool(m: Slots): Pool {
  const deflate = (job: Job): Uint8Array => {
    const base = job.slot * m.slotIn;
    const opts: zlib.ZlibOptions = { level: job.level, finishFlush: job.last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH };
    if (job.dictLen > 0) opts.dictionary = m.input.subarray(base, base + job.dictLen);
    return zlib.deflateRawSync(m.input.subarray(base + job.dictLen, base + job.dictLen + job.dataLen), opts);
  };
  return { run: (job) => Promise.resolve().then(() => deflate(job)), close: async () => {} };
}

function workerPool(size: number, m: Slots): Pool {
  const waiting = new Map<number, { slot: number; resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
  const queue: Job[] = [];
  const idle: Worker[] = [];
  const workers: Worker[] = [];
  let failure: Error | undefined;
  let closing = false;
  const fail = (err: Error): void => {
    failure ??= err;
    for (const w of waiting.values()) w.reject(failure);
    waiting.clear();
    queue.length = 0;
  };
  const workerData = { input: m.input.buffer, output: m.output.buffer, slotIn: m.slotIn, slotOut: m.slotOut };
  for (let i = 0; i < size; i++) {
    // execArgv: [] keeps the parent's loaders (e.g. --import tsx) out of the workers: the eval'd script needs none.
    const w = new Worker(GZIP_WORKER_SOURCE, { eval: true, execArgv: [], workerData });
    w.on('message', (r: WorkerReply) => {
      const p = waiting.get(r.seq);
      waiting.delete(r.seq);
      if (p) {
        if (r.error !== undefined || r.len === undefined) p.reject(new Error(`gzip worker: ${r.error ?? 'no output'}`));
        else p.resolve(r.big ? new Uint8Array(r.big) : m.output.subarray(p.slot * m.slotOut, p.slot * m.slotOut + r.len));
      }
      const next = queue.shift();
      if (next) w.postMessage(next);
      else idle.push(w);
    });
    w.on('error', (err) => fail(new Error(`gzip worker crashed: ${err.message}`)));
    w.on('exit', (code) => {
      if (!closing) fail(new Error(`gzip worker exited unexpectedly (code ${code})`));
    });
    workers.push(w);
    idle.push(w);
  }
  return {
    run(job) {
      if (failure) return Promise.reject(failure);
      return new Promise<Uint8Array>((resolve, reject) => {
        waiting.set(job.seq, { slot: job.slot, resolve, reject });
        const w = idle.pop();
        if (w) w.postMessage(job);
        else queue.push(job);
      });
    },
    async close() {
      closing = true;
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/** The 10-byte gzip header: no name, mtime 0 (reproducible), OS 3 (Unix), XFL as gzip sets it for the level. */
export function gzipHeader(level: number): Uint8Array {
  const xfl = level >= 9 ? 2 : level === 1 ? 4 : 0;
  return Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3);
}

function gzipTrailer(crc: number, length: number): Uint8Array {
  const t = Buffer.alloc(8);
  t.writeUInt32LE(crc >>> 0, 0);
  t.writeUInt32LE(length % 2 ** 32, 4);
  return t;
}

interface Slot {
  readonly promise: Promise<Uint8Array>;
  value?: Uint8Array;
}

/**
 * Compresses `source` into one gzip member; yields the header, each compressed block in input order, then the trailer.
 * Reads ahead at most `maxInFlight` blocks, so memory stays bounded whatever the input size.
 */
export async function* gzipParallel(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: GzipParallelOptions): AsyncGenerator<Uint8Array> {
  const level = options.level ?? 6;
  const blockSize = options.blockSize ?? 1024 * 1024;
  const workers = options.workers;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new Error(`gzip: level must be 1..9, got ${level}`);
  if (!Number.isInteger(blockSize) || blockSize < DICT) throw new Error(`gzip: blockSize must be an integer ≥ ${DICT}`);
  if (!Number.isInteger(workers) || workers < 0) throw new Error(`gzip: workers must be a non-negative integer`);
  const maxInFlight = options.maxInFlight ?? Math.max(4, 4 * workers);
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new Error(`gzip: maxInFlight must be a positive integer`);
  const own = (b: Uint8Array): Uint8Array => (options.transientChunks ? b : b.slice());

  // Job j uses slot j % slots. Slot reuse is safe: job j + slots is filled only after job j was yielded and the
  // consumer asked for more, because at most maxInFlight jobs are submitted and not yet yielded.
  const slots = maxInFlight + 1;
  const slotIn = DICT + blockSize;
  const slotOut = blockSize + (blockSize >> 4) + 1024; // above zlib's deflateBound for one block plus a sync flush
  const mem: Slots = { input: new Uint8Array(new SharedArrayBuffer(slots * slotIn)), output: new Uint8Array(new SharedArrayBuffer(slots * slotOut)), slotIn, slotOut };
  const pool = workers === 0 ? inlinePool(mem) : workerPool(workers, mem);
  const inflight: Slot[] = [];
  let seq = 0;
  let crc = 0;
  let total = 0;
  let dictLen = 0;
  let dataLen = 0;

  const submit = (last: boolean): void => {
    const slot = seq % slots;
    const job: Job = { seq, slot, dictLen, dataLen, last, level };
    seq++;
    if (!last) {
      // The next block's dictionary is the last 32 KiB of this one's data.
      const end = slot * slotIn + dictLen + dataLen;
      mem.input.copyWithin((seq % slots) * slotIn, end - DICT, end);
      dictLen = DICT;
      dataLen = 0;
    }
    const s: Slot = { promise: pool.run(job) };
    // A rejection is observed when the slot is awaited in order; this handler only keeps it from counting as unhandled.
    s.promise.then(
      (v) => (s.value = v),
      () => {},
    );
    inflight.push(s);
  };

  try {
    yield gzipHeader(level);
    for await (const piece of source) {
      crc = zlib.crc32(piece, crc);
      total += piece.length;
      for (let off = 0; off < piece.length; ) {
        if (dataLen === blockSize) {
          submit(false);
          while (inflight.length >= maxInFlight) yield own(await inflight.shift()!.promise);
          while (inflight[0]?.value) yield own(inflight.shift()!.value!);
        }
        const n = Math.min(blockSize - dataLen, piece.length - off);
        mem.input.set(piece.subarray(off, off + n), (seq % slots) * slotIn + dictLen + dataLen);
        dataLen += n;
        off += n;
      }
    }
    submit(true);
    while (inflight.length > 0) yield own(await inflight.shift()!.promise);
    yield gzipTrailer(crc, total);
  } finally {
    await pool.close();
  }
}
