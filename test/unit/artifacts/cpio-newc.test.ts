// Unit tests for the newc writer, read back by GNU cpio and by cpio-stream's extractor (both independent of the writer).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { compareArchivePaths, cpioNewc, sortCpioEntries, type CpioEntry, type CpioOptions } from '../../../src/artifacts/cpio-newc.ts';

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
const T = 1_700_000_000;
const file = (path: string, data: string | Uint8Array, extra: Partial<CpioEntry> = {}): CpioEntry => ({
  path,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  mtime: T,
  data: typeof data === 'string' ? Buffer.from(data) : data,
  ...extra,
});
const node = (path: string, type: CpioEntry['type'], extra: Partial<CpioEntry> = {}): CpioEntry => ({ path, type, mode: 0o755, uid: 0, gid: 0, mtime: T, ...extra });

async function write(entries: readonly CpioEntry[], opts?: CpioOptions): Promise<{ bytes: Buffer; contents: ReturnType<ReturnType<typeof cpioNewc>['contents']> }> {
  const s = cpioNewc(entries, opts);
  const parts: Uint8Array[] = [];
  for await (const c of s.chunks) parts.push(c);
  const bytes = Buffer.concat(parts);
  expect(s.bytesWritten()).toBe(bytes.length);
  return { bytes, contents: s.contents() };
}

function gnu(args: string[], input: Buffer): { stdout: Buffer; stderr: string; status: number | null } {
  const r = spawnSync('cpio', args, { input, maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr.toString(), status: r.status };
}
const gnuList = (b: Buffer): string[] => gnu(['-t', '--quiet'], b).stdout.toString('utf8').split('\n').filter((l) => l !== '');

interface CsHeader {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: Date;
  size: number;
  devmajor: number;
  devminor: number;
  rdevmajor: number;
  rdevminor: number;
  linkname?: string;
}
const cpioStream = createRequire(import.meta.url)('cpio-stream') as {
  extract(): NodeJS.WritableStream & { on(ev: 'entry', f: (h: CsHeader, s: NodeJS.ReadableStream, cb: () => void) => void): void };
  pack(o: { format: string }): NodeJS.ReadableStream & { entry(h: Record<string, unknown>, data: Buffer): void; finalize(): void };
};

/** Reads an archive with cpio-stream's extractor (names decoded as ASCII by that library, so compare non-ASCII loosely). */
function csRead(bytes: Buffer): Promise<{ h: CsHeader; data: Buffer }[]> {
  return new Promise((resolve, reject) => {
    const out: { h: CsHeader; data: Buffer }[] = [];
    const ex = cpioStream.extract();
    ex.on('entry', (h, stream, cb) => {
      const parts: Buffer[] = [];
      stream.on('data', (d: Buffer) => parts.push(d));
      stream.on('end', () => {
        out.push({ h, data: Buffer.concat(parts) });
        cb();
      });
    });
    ex.on('finish', () => resolve(out));
    ex.on('error', reject);
    Readable.from([bytes]).pipe(ex);
  });
}

describe('cpio newc writer', () => {
  const tree: CpioEntry[] = sortCpioEntries([
    node('etc', 'directory'),
    node('etc/empty.d', 'directory', { mode: 0o700 }),
    file('etc/hosts', '127.0.0.1 localhost\n'),
    file('etc/zero', ''),
    file('etc/ünïcødé 日本 🚀.conf', 'utf8 name\n', { uid: 4242, gid: 4243, mode: 0o600 }),
    file('etc/with space', 'sp'),
    node('etc/link', 'symlink', { mode: 0o777, target: 'hosts' }),
    file('bin/busybox', Buffer.from([0, 1, 2, 255, 254]), { mode: 0o4755, linkKey: 'bb' }),
    node('bin', 'directory'),
    node('usr/bin/sh', 'file', { mode: 0o4755, linkKey: 'bb', size: 5 }),
    node('usr', 'directory'),
    node('usr/bin', 'directory'),
    node('dev', 'directory'),
    node('dev/null', 'char', { mode: 0o666, rdevMajor: 1, rdevMinor: 3 }),
    node('dev/loop0', 'block', { mode: 0o660, gid: 6, rdevMajor: 7, rdevMinor: 0 }),
    node('dev/initctl', 'fifo', { mode: 0o600 }),
    node('dev/log', 'socket', { mode: 0o666 }),
  ]);

  it('sorts parents before children, components by UTF-8 bytes', () => {
    expect(tree.map((e) => e.path)).toEqual([
      'bin', 'bin/busybox', 'dev', 'dev/initctl', 'dev/log', 'dev/loop0', 'dev/null', 'etc', 'etc/empty.d', 'etc/hosts', 'etc/link',
      'etc/with space', 'etc/zero', 'etc/ünïcødé 日本 🚀.conf', 'usr', 'usr/bin', 'usr/bin/sh',
    ]);
    // '-' (0x2d) sorts before '/' in plain byte order, which would put a-b between a and a/x.
    expect(['a/x', 'a-b', 'a'].sort(compareArchivePaths)).toEqual(['a', 'a/x', 'a-b']);
  });

  it('writes an archive GNU cpio lists entry for entry, UTF-8 names included', async () => {
    const { bytes } = await write(tree);
    expect(bytes.length % 512).toBe(0);
    expect(gnuList(bytes)).toEqual(tree.map((e) => e.path));
    const v = gnu(['-tvn', '--quiet'], bytes).stdout.toString();
    expect(v).toMatch(/^crw-rw-rw- +1 0 +0 +1, +3 .* dev\/null$/m);
    expect(v).toMatch(/^brw-rw---- +1 0 +6 +7, +0 .* dev\/loop0$/m);
    expect(v).toMatch(/^prw------- .* dev\/initctl$/m);
    expect(v).toMatch(/^srw-rw-rw- .* dev\/log$/m);
    expect(v).toMatch(/^lrwxrwxrwx .* etc\/link -> hosts$/m);
    expect(v).toMatch(/^-rw------- +1 4242 +4243 +10 .* etc\/ünïcødé 日本 🚀\.conf$/m);
    expect(v).toMatch(/^-rwsr-xr-x +2 0 +0 +5 .* usr\/bin\/sh$/m);
  });

  it('encodes header fields: inodes from 1, nlink, dev 0, rdev, mtime, hard-link data on the last link only', async () => {
    const { bytes } = await write(tree);
    const got = await csRead(bytes);
    const by = new Map(got.map((g) => [g.h.name, g]));
    expect(got.map((g) => g.h.ino)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 2]);
    for (const g of got) {
      expect([g.h.devmajor, g.h.devminor, g.h.mtime.getTime() / 1000]).toEqual([0, 0, T]);
    }
    const bb = by.get('bin/busybox')!;
    const sh = by.get('usr/bin/sh')!;
    expect([bb.h.nlink, bb.h.size, bb.data.length]).toEqual([2, 0, 0]);
    expect([sh.h.nlink, sh.h.size, [...sh.data]]).toEqual([2, 5, [0, 1, 2, 255, 254]]);
    expect(sh.h.mode).toBe(0o104755);
    expect(by.get('usr')!.h.nlink).toBe(3);
    expect(by.get('etc')!.h.nlink).toBe(3);
    expect(by.get('etc/empty.d')!.h.nlink).toBe(2);
    expect([by.get('dev/null')!.h.rdevmajor, by.get('dev/null')!.h.rdevminor, by.get('dev/null')!.h.mode]).toEqual([1, 3, 0o20666]);
    expect(by.get('etc/link')!.h.linkname).toBe('hosts');
    // GNU cpio finds the shared data under the last link (extraction to disk is checked in test/integration/cpio-oracle).
    const out = gnu(['-i', '--to-stdout', '--quiet', 'usr/bin/sh'], bytes).stdout;
    expect([...out]).toEqual([0, 1, 2, 255, 254]);
  });

  it('produces the content index while writing', async () => {
    const { contents } = await write(tree);
    const by = new Map(contents.map((c) => [c.path, c]));
    expect(contents.map((c) => c.path)).toEqual(tree.map((e) => e.path));
    expect(by.get('etc/hosts')).toEqual({ path: 'etc/hosts', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 20, sha256: sha('127.0.0.1 localhost\n') });
    expect(by.get('etc/zero')!.sha256).toBe(sha(''));
    expect(by.get('etc/link')).toMatchObject({ type: 'symlink', size: 5, sha256: sha('hosts') });
    expect(by.get('bin/busybox')).toMatchObject({ type: 'file', size: 5, sha256: sha(Buffer.from([0, 1, 2, 255, 254])) });
    expect(by.get('usr/bin/sh')).toMatchObject({ type: 'hardlink', size: 0, sha256: sha('bin/busybox') });
    expect(by.get('dev/null')).toEqual({ path: 'dev/null', type: 'char', mode: 0o666, uid: 0, gid: 0, size: 0 });
    expect(by.get('etc/empty.d')).toMatchObject({ type: 'directory', size: 0 });
  });

  it('pads names of 1..8 bytes and data of 0..8 bytes so both readers agree on every entry', async () => {
    const entries: CpioEntry[] = [];
    for (let n = 1; n <= 8; n++) {
      for (let d = 0; d <= 8; d++) entries.push(file(`${d}${'x'.repeat(n - 1)}`, Buffer.alloc(d, 0x41 + n), { mtime: T + n }));
    }
    const unique = sortCpioEntries(entries);
    expect(unique).toHaveLength(72);
    const { bytes } = await write(unique, { padTo: 4 });
    expect(bytes.length % 4).toBe(0);
    expect(gnuList(bytes)).toEqual(unique.map((e) => e.path));
    const all = gnu(['-i', '--to-stdout', '--quiet'], bytes);
    expect(all.stderr).toBe('');
    expect(all.stdout.equals(Buffer.concat(unique.map((e) => e.data as Uint8Array)))).toBe(true);
    const cs = await csRead(bytes);
    expect(cs.map((g) => [g.h.name, g.data.toString()])).toEqual(unique.map((e) => [e.path, Buffer.from(e.data as Uint8Array).toString()]));
  });

  it('streams data from iterables and batches small entries into large chunks', async () => {
    const many = Array.from({ length: 5000 }, (_, i) => file(`f${String(i).padStart(5, '0')}`, `${i}\n`));
    const s = cpioNewc([...many, { ...file('big', ''), size: 3 << 20, data: async function* () { for (let i = 0; i < 3; i++) yield Buffer.alloc(1 << 20, i); } }]);
    const sizes: number[] = [];
    const parts: Uint8Array[] = [];
    for await (const c of s.chunks) {
      sizes.push(c.length);
      parts.push(c);
    }
    expect(sizes.length).toBeLessThan(10);
    expect(gnuList(Buffer.concat(parts))).toHaveLength(5001);
  });

  it('with transientChunks reuses one buffer and writes the same bytes', async () => {
    const big = Array.from({ length: 3000 }, (_, i) => file(`f${String(i).padStart(4, '0')}`, `${i}`.repeat(20)));
    const ref = (await write(big)).bytes;
    const copies: Buffer[] = [];
    const seen = new Set<ArrayBufferLike>();
    for await (const c of cpioNewc(big, { transientChunks: true, chunkSize: 16 * 1024 }).chunks) {
      copies.push(Buffer.from(c));
      seen.add(c.buffer);
    }
    expect(Buffer.concat(copies).equals(ref)).toBe(true);
    expect(copies.length).toBeGreaterThan(5);
    expect(seen.size).toBe(1);
  });

  it('is byte-for-byte reproducible', async () => {
    const a = await write(tree);
    const b = await write(tree);
    expect(sha(a.bytes)).toBe(sha(b.bytes));
    expect(a.contents).toEqual(b.contents);
  });

  it('rejects what it cannot encode before writing anything', () => {
    const bad = (e: Partial<CpioEntry>): (() => unknown) => () => cpioNewc([{ ...file('x', ''), ...e }]);
    expect(bad({ size: 2 ** 32, data: () => [] })).toThrow(/4294967295 bytes \(4 GiB - 1\)/);
    expect(bad({ path: '/abs' })).toThrow(/must be relative/);
    expect(bad({ path: 'a/../b' })).toThrow(/'\.\.'/);
    expect(bad({ path: 'TRAILER!!!' })).toThrow(/end the archive/);
    expect(bad({ path: 'é'.repeat(2048) })).toThrow(/ignores names over 4095 bytes/);
    expect(bad({ mode: 0o10644 })).toThrow(/permission bits/);
    expect(bad({ uid: -1 })).toThrow(/uid -1/);
    expect(bad({ mtime: 2 ** 32 })).toThrow(/mtime/);
    expect(() => cpioNewc([file('x', ''), file('x', '')])).toThrow(/duplicate path x/);
    expect(() => cpioNewc([file('a', 'ab', { linkKey: 'k' }), file('b', 'abc', { linkKey: 'k' })])).toThrow(/disagree on size/);
  });

  it('fails the stream when data does not match the declared size', async () => {
    await expect(write([{ ...file('x', ''), size: 4, data: () => [Buffer.from('abc')] }])).rejects.toThrow(/3 bytes but the declared size is 4/);
    await expect(write([{ ...file('x', ''), size: 2, data: () => [Buffer.from('abc')] }])).rejects.toThrow(/longer than its declared size 2/);
  });
});

describe('why not cpio-stream packer', () => {
  it('counts a UTF-8 name in UTF-16 units, so GNU cpio reads back a truncated name', async () => {
    const name = 'dé日.txt'; // 7 UTF-16 units, 10 UTF-8 bytes
    const pack = cpioStream.pack({ format: 'newc' });
    const parts: Buffer[] = [];
    pack.on('data', (d: Buffer) => parts.push(d));
    const done = new Promise((r) => pack.on('end', r));
    pack.entry({ name, mode: 0o100644, mtime: new Date(0) }, Buffer.from('hello\n'));
    pack.finalize();
    await done;
    const theirs = Buffer.concat(parts);
    expect(theirs.subarray(94, 102).toString()).toBe('00000008'); // namesize: 7 units + NUL, not 11 bytes
    expect(gnuList(theirs)).toEqual(['dé日.t']);

    const ours = (await write([file(name, 'hello\n')])).bytes;
    expect(ours.subarray(94, 102).toString()).toBe('0000000B');
    expect(gnuList(ours)).toEqual([name]);
    expect(gnu(['-i', '--to-stdout', '--quiet'], ours).stdout.toString()).toBe('hello\n');
  });
});
