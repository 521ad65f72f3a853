// Unit tests for pigz-style parallel gzip, checked by GNU gzip and by zlib's own inflater.
import { spawnSync } from 'node:child_process';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gzipParallel, type GzipParallelOptions } from '../../../src/artifacts/gzip-parallel.ts';

const KiB = 1024;

/** Deterministic text-like and binary-like bytes (a seeded LCG; compressible, but not trivially). */
function sample(size: number, seed = 1): Buffer {
  const words = ['node', 'slurm', 'warewulf', 'image', 'overlay', 'kernel', 'cluster', 'partition', '=', '\n', ' ', '0x7f', 'ELF'];
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0;
  let off = 0;
  while (off < size) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    if (x % 7 === 0) {
      out[off++] = x >>> 24;
    } else {
      off += out.write(words[(x >>> 8) % words.length]!, off);
    }
  }
  return out;
}

async function gz(input: Uint8Array | Uint8Array[], opts: GzipParallelOptions): Promise<{ bytes: Buffer; chunks: Buffer[] }> {
  const pieces = Array.isArray(input) ? input : [input];
  const chunks: Buffer[] = [];
  for await (const c of gzipParallel(pieces, opts)) chunks.push(Buffer.from(c));
  return { bytes: Buffer.concat(chunks), chunks };
}

function gnuGunzip(b: Buffer): Buffer {
  const r = spawnSync('gzip', ['-dc'], { input: b, maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  expect(r.stderr.toString()).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

describe('gzipParallel', () => {
  const B = 64 * KiB;
  const data = sample(5 * B + 123);

  it.each([0, 1, B - 1, B, B + 1, 5 * B + 123])('round-trips %i bytes through gzip -d and zlib', async (n) => {
    const input = data.subarray(0, n);
    const { bytes } = await gz(input, { workers: 2, blockSize: B });
    expect(gnuGunzip(bytes).equals(input)).toBe(true);
    expect(zlib.gunzipSync(bytes).equals(input)).toBe(true);
  });

  it('writes one gzip member: one header, one deflate stream to the end, CRC-32 and length of the whole', async () => {
    const { bytes } = await gz(data, { workers: 2, blockSize: B });
    expect([...bytes.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    const body = bytes.subarray(10, bytes.length - 8);
    // inflateRaw stops at the final block; it must consume every byte between header and trailer.
    const { engine, buffer } = zlib.inflateRawSync(body, { info: true }) as unknown as { engine: { bytesWritten: number }; buffer: Buffer };
    expect(engine.bytesWritten).toBe(body.length);
    expect(buffer.equals(data)).toBe(true);
    expect(bytes.readUInt32LE(bytes.length - 8)).toBe(zlib.crc32(data));
    expect(bytes.readUInt32LE(bytes.length - 4)).toBe(data.length);
  });

  it('ends every block but the last with a sync flush (00 00 ff ff), so blocks are independent', async () => {
    const { chunks } = await gz(data, { workers: 3, blockSize: B });
    const blocks = chunks.slice(1, -1);
    expect(blocks).toHaveLength(6);
    for (const b of blocks.slice(0, -1)) expect([...b.subarray(-4)]).toEqual([0, 0, 0xff, 0xff]);
    expect([...blocks.at(-1)!.subarray(-4)]).not.toEqual([0, 0, 0xff, 0xff]);
  });

  it('gives identical bytes for any worker count and any input chunking', async () => {
    const ref = (await gz(data, { workers: 0, blockSize: B })).bytes;
    for (const workers of [1, 2, 5]) expect((await gz(data, { workers, blockSize: B })).bytes.equals(ref)).toBe(true);
    const ragged = [data.subarray(0, 1), data.subarray(1, 70_000), data.subarray(70_000, 70_001), data.subarray(70_001)];
    expect((await gz(ragged, { workers: 2, blockSize: B })).bytes.equals(ref)).toBe(true);
  });

  it('with transientChunks yields reused views that give the same bytes when copied before the next pull', async () => {
    const ref = (await gz(data, { workers: 2, blockSize: B })).bytes;
    const views: Uint8Array[] = [];
    const copies: Buffer[] = [];
    for await (const c of gzipParallel([data], { workers: 2, blockSize: B, maxInFlight: 2, transientChunks: true })) {
      views.push(c);
      copies.push(Buffer.from(c));
    }
    expect(Buffer.concat(copies).equals(ref)).toBe(true);
    // The views share memory that later blocks overwrote, which is why the option is opt-in.
    expect(views.slice(1, -1).every((v) => v.buffer instanceof SharedArrayBuffer)).toBe(true);
    expect(Buffer.concat(views).equals(ref)).toBe(false);
  });

  it('primes each block with the previous 32 KiB: size stays within 1% of serial zlib at the same level', async () => {
    const big = sample(2 << 20, 7);
    for (const level of [1, 6, 9]) {
      const serial = zlib.gzipSync(big, { level }).length;
      const { bytes } = await gz(big, { workers: 2, level, blockSize: 128 * KiB });
      expect(bytes.length / serial).toBeLessThan(1.01);
      expect(gnuGunzip(bytes).equals(big)).toBe(true);
    }
  });

  it('reads ahead only a bounded number of blocks', async () => {
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 200; i++) {
        pulled += 16 * KiB;
        yield data.subarray(0, 16 * KiB);
      }
    }
    let blocks = 0;
    let maxAhead = 0;
    for await (const c of gzipParallel(source(), { workers: 2, blockSize: 32 * KiB, maxInFlight: 4 })) {
      if (c.length > 10) blocks++;
      maxAhead = Math.max(maxAhead, pulled - blocks * 32 * KiB);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(blocks).toBe(100);
    expect(maxAhead).toBeLessThanOrEqual((4 + 2) * 32 * KiB);
  });

  it('rejects bad options', async () => {
    await expect(gz(data, { workers: 1, level: 0 })).rejects.toThrow(/level must be 1..9/);
    await expect(gz(data, { workers: 1, blockSize: 1024 })).rejects.toThrow(/blockSize/);
    await expect(gz(data, { workers: -1 })).rejects.toThrow(/workers/);
  });

  it('propagates a failing source', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield data;
      throw new Error('disk on fire');
    }
    const drain = async (): Promise<void> => {
      for await (const c of gzipParallel(failing(), { workers: 2, blockSize: B })) void c;
    };
    await expect(drain()).rejects.toThrow('disk on fire');
  });
});
