// Packs a real tree with packDirectory and checks the result with GNU cpio, bsdtar and gzip (runs as root: devices, owners).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpioNewc, sortCpioEntries } from '../../src/artifacts/cpio-newc.ts';
import { gzipParallel } from '../../src/artifacts/gzip-parallel.ts';
import { packDirectory, scanDirectory, type PackResult } from '../../src/artifacts/pack-tree.ts';

const SDE = 1_700_000_000;
const OLD = 1_600_000_000;
const FUTURE = 2_000_000_000;
const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

function run(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer } = {}): { stdout: Buffer; stderr: string } {
  const r = spawnSync(cmd, args, { ...opts, maxBuffer: 1 << 28 });
  if (r.error) throw new Error(`${cmd} is required for this test: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return { stdout: r.stdout, stderr: r.stderr.toString() };
}

/** A deterministic pseudo-random binary blob (an xorshift stream). */
function blob(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

let work = '';
let src = '';
let result: PackResult;
const img = (): string => join(work, 'image.img');
const gz = (): string => join(work, 'image.img.gz');

/** Builds the source tree; every path and attribute below is asserted on after a round trip. */
function buildTree(root: string): void {
  const mk = (p: string, mode = 0o755): void => {
    fs.mkdirSync(join(root, p), { recursive: true, mode });
  };
  const put = (p: string, data: string | Buffer, mode = 0o644): void => fs.writeFileSync(join(root, p), data, { mode });
  for (const d of ['bin', 'dev', 'etc', 'run', 'usr/bin', 'usr/sbin', 'usr/lib', 'usr/share/ünïcødé', 'var/empty', 'srv/a dir with spaces']) mk(d);
  mk('tmp');
  fs.chmodSync(join(root, 'tmp'), 0o1777);
  put('etc/hosts', '127.0.0.1 localhost\n');
  put('etc/shadow', 'root:*:19000::::::\n', 0o600);
  fs.chownSync(join(root, 'etc/shadow'), 0, 42);
  put('etc/owned', 'x', 0o640);
  fs.chownSync(join(root, 'etc/owned'), 1234, 5678);
  put('bin/busybox', blob(300 * 1024 + 3, 7), 0o755);
  fs.chmodSync(join(root, 'bin/busybox'), 0o4755);
  fs.linkSync(join(root, 'bin/busybox'), join(root, 'usr/bin/sh'));
  fs.linkSync(join(root, 'bin/busybox'), join(root, 'usr/sbin/init'));
  put('usr/lib/libbig.so.1', Buffer.concat([blob(3 << 20, 11), Buffer.from('tail')]));
  put('usr/lib/empty', '');
  put('usr/lib/pair-a', 'pair\n');
  fs.linkSync(join(root, 'usr/lib/pair-a'), join(root, 'usr/lib/pair-b'));
  put('usr/share/ünïcødé/日本語 file.txt', 'konnichiwa\n');
  put('usr/share/emoji 🚀', Buffer.from([0xf0, 0x9f, 0x9a, 0x80]));
  put('srv/a dir with spaces/x y', 'spaces\n');
  put('srv/future', 'from the future\n');
  fs.symlinkSync('usr/lib', join(root, 'lib'));
  fs.symlinkSync('/usr/share/zoneinfo/UTC', join(root, 'etc/localtime'));
  fs.symlinkSync('libbig.so.1', join(root, 'usr/lib/libbig.so'));
  run('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3']);
  run('mknod', ['-m', '660', join(root, 'dev/loop0'), 'b', '7', '0']);
  run('mkfifo', ['-m', '600', join(root, 'run/initctl')]);
  const all = walk(root).reverse();
  for (const p of all) fs.lutimesSync(join(root, p), OLD, OLD);
  fs.utimesSync(join(root, 'srv/future'), FUTURE, FUTURE);
}

function walk(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(rel ? join(root, rel) : root).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    out.push(p);
    if (fs.lstatSync(join(root, p)).isDirectory()) out.push(...walk(root, p));
  }
  return out;
}

interface Desc {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sha?: string;
  target?: string;
  rdev?: number;
  mtime: number;
}

function describeTree(root: string): Map<string, Desc> {
  const m = new Map<string, Desc>();
  for (const p of walk(root)) {
    const abs = join(root, p);
    const st = fs.lstatSync(abs);
    const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'other';
    const d: Desc = { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.isFile() ? st.size : 0, mtime: Math.floor(st.mtimeMs / 1000) };
    if (st.isFile()) d.sha = sha(fs.readFileSync(abs));
    if (st.isSymbolicLink()) d.target = fs.readlinkSync(abs);
    if (st.isCharacterDevice() || st.isBlockDevice()) d.rdev = st.rdev;
    m.set(p, d);
  }
  return m;
}

/** The source tree as an extraction should reproduce it: mtimes clamped to SOURCE_DATE_EPOCH. */
function expected(): Map<string, Desc> {
  const m = describeTree(src);
  for (const d of m.values()) d.mtime = Math.min(d.mtime, SDE);
  return m;
}

/** Compares an extracted tree with the source; directory and symlink mtimes are left out where the tool does not restore them. */
function expectSameTree(root: string, opts: { dirMtime: boolean; linkMtime: boolean }): void {
  const want = expected();
  const got = describeTree(root);
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [p, w] of want) {
    const g = { ...got.get(p)! };
    const e = { ...w };
    if ((w.type === 'dir' && !opts.dirMtime) || (w.type === 'symlink' && !opts.linkMtime)) g.mtime = e.mtime = 0;
    if (w.type === 'symlink') g.mode = e.mode = 0o777;
    expect({ p, ...g }).toEqual({ p, ...e });
  }
  const ino = (p: string): [number, number] => {
    const st = fs.lstatSync(join(root, p));
    return [st.ino, st.nlink];
  };
  expect(ino('usr/bin/sh')).toEqual(ino('bin/busybox'));
  expect(ino('usr/sbin/init')).toEqual(ino('bin/busybox'));
  expect(ino('bin/busybox')[1]).toBe(3);
  expect(ino('usr/lib/pair-b')).toEqual(ino('usr/lib/pair-a'));
  expect(ino('usr/lib/pair-a')[1]).toBe(2);
}

beforeAll(async () => {
  for (const tool of ['cpio', 'bsdtar', 'gzip', 'mknod', 'mkfifo']) run('sh', ['-c', `command -v ${tool}`]);
  work = fs.mkdtempSync(join(tmpdir(), 'herd-cpio-oracle-'));
  src = join(work, 'src');
  fs.mkdirSync(src);
  buildTree(src);
  result = await packDirectory(src, { img: img(), gz: gz() }, { sourceDateEpoch: SDE, workers: 2, blockSize: 64 * 1024 });
});

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('packDirectory against GNU cpio, bsdtar and gzip', () => {
  it('writes outputs whose digests and index match the tree', () => {
    const imgBytes = fs.readFileSync(img());
    expect(result.img).toEqual({ sha256: sha(imgBytes), size: imgBytes.length });
    expect(result.cpioSize).toBe(imgBytes.length);
    expect(result.gz!.sha256).toBe(sha(fs.readFileSync(gz())));
    expect(fs.existsSync(`${img()}.partial`)).toBe(false);
    const want = expected();
    for (const c of result.contents) {
      const w = want.get(c.path)!;
      if (c.type === 'file') expect([c.path, c.sha256, c.size]).toEqual([c.path, w.sha, w.size]);
      if (c.type === 'symlink') expect(c.sha256).toBe(sha(w.target!));
    }
    expect(result.contents.filter((c) => c.type === 'hardlink').map((c) => c.path)).toEqual(['usr/bin/sh', 'usr/lib/pair-b', 'usr/sbin/init']);
  });

  it('GNU cpio -t lists the content index, in order', () => {
    const listed = run('cpio', ['-t', '--quiet'], { input: fs.readFileSync(img()) }).stdout.toString().split('\n').filter(Boolean);
    expect(listed).toEqual(result.contents.map((c) => c.path));
    expect(new Set(listed)).toEqual(new Set(walk(src)));
  });

  it('is byte-identical to GNU cpio -o -H newc --reproducible for the same entries (inodes from 0, no hard links)', async () => {
    const entries = sortCpioEntries(scanDirectory(src, { filter: (_p, st) => !(st.isFile() && st.nlink > 1) }));
    const parts: Uint8Array[] = [];
    for await (const c of cpioNewc(entries, { inodeBase: 0 }).chunks) parts.push(c);
    const gnu = run('cpio', ['-o', '-H', 'newc', '--reproducible', '--quiet'], { cwd: src, input: Buffer.from(entries.map((e) => `${e.path}\n`).join('')) }).stdout;
    expect(Buffer.concat(parts).equals(gnu)).toBe(true);
  });

  it('GNU cpio -idm --no-absolute-filenames restores content, modes, owners, devices, symlinks and hard links', () => {
    const dir = join(work, 'x-gnu');
    fs.mkdirSync(dir);
    run('cpio', ['-idmv', '--no-absolute-filenames', '--quiet'], { cwd: dir, input: fs.readFileSync(img()) });
    // GNU cpio sets a directory's mtime when it creates it, before creating its children (which change it again).
    expectSameTree(dir, { dirMtime: false, linkMtime: false });
  });

  it('bsdtar lists and extracts the image and the .img.gz the same way', () => {
    const listing = run('bsdtar', ['-tvf', img()]).stdout.toString();
    // libarchive shows newc hard links as it reads them: the first link empty, the last one carrying the data.
    expect(listing).toMatch(/^-rwsr-xr-x +3 0 +0 +0 .* bin\/busybox$/m);
    expect(listing).toMatch(/^-rwsr-xr-x +3 0 +0 +307203 .* usr\/sbin\/init link to bin\/busybox$/m);
    expect(listing).toMatch(/^crw-rw-rw- +1 0 +0 +1,3 .* dev\/null$/m);
    expect(listing).toMatch(/^lrwxrwxrwx .* etc\/localtime -> \/usr\/share\/zoneinfo\/UTC$/m);
    expect(listing).toContain('usr/share/ünïcødé/日本語 file.txt');
    for (const [name, file] of [['x-bsdtar', img()], ['x-bsdtar-gz', gz()]] as const) {
      const dir = join(work, name);
      fs.mkdirSync(dir);
      run('bsdtar', ['-xpf', file, '-C', dir]);
      expectSameTree(dir, { dirMtime: true, linkMtime: true });
    }
  });

  it('the .img.gz is one gzip stream that gzip -dc turns back into the .img', () => {
    const out = run('gzip', ['-dc', gz()]).stdout;
    expect(out.equals(fs.readFileSync(img()))).toBe(true);
    run('gzip', ['-t', gz()]);
  });

  it('packs reproducibly: same bytes with another worker count and again', async () => {
    const again = await packDirectory(src, { gz: join(work, 'again.img.gz') }, { sourceDateEpoch: SDE, workers: 1, blockSize: 64 * 1024 });
    expect(again.gz).toEqual(result.gz);
    expect(again.contents).toEqual(result.contents);
  });

  it('fails, leaving no output behind, when a file changes between the walk and its read', async () => {
    const tree = join(work, 'changing');
    fs.mkdirSync(tree);
    fs.writeFileSync(join(tree, 'log'), 'one\n');
    const out = join(work, 'changing.img.gz');
    // The filter runs right after the walk's lstat of each path: growing the file there makes the lstat size stale.
    const grow = (p: string): boolean => (p === 'log' && fs.appendFileSync(join(tree, 'log'), 'two\n'), true);
    await expect(packDirectory(tree, { gz: out }, { filter: grow, workers: 1 })).rejects.toThrow(/changing\/log: changed while being archived \(4 bytes at lstat, more now\)/);
    expect(fs.existsSync(out) || fs.existsSync(`${out}.partial`)).toBe(false);
  });

  it('prunes filtered directories', async () => {
    const r = await packDirectory(src, { img: join(work, 'filtered.img') }, { sourceDateEpoch: SDE, filter: (p) => p !== 'usr/share' });
    const listed = run('cpio', ['-t', '--quiet'], { input: fs.readFileSync(join(work, 'filtered.img')) }).stdout.toString();
    expect(listed).not.toContain('usr/share');
    expect(r.contents.some((c) => c.path.startsWith('usr/share'))).toBe(false);
    expect(listed.split('\n').filter(Boolean)).toHaveLength(r.contents.length);
  });
});

describe('archives beyond 4 GiB (newc stores no offsets, sizes up to 4 GiB - 1)', () => {
  const zero = Buffer.alloc(16 << 20);
  const size = 2 ** 32 - 1;
  function* big(): Generator<Uint8Array> {
    for (let left = size; left > 0; left -= zero.length) yield zero.subarray(0, Math.min(left, zero.length));
  }
  const entries = () => [
    { path: 'big', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, mtime: 0, size, data: big },
    { path: 'after', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, mtime: 0, data: Buffer.from('hello\n') },
  ];

  async function feed(chunks: AsyncIterable<Uint8Array>, shell: string): Promise<string> {
    const child = spawn('sh', ['-c', shell], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<number | null>((r) => child.on('close', r));
    for await (const c of chunks) if (!child.stdin.write(c)) await new Promise((r) => child.stdin.once('drain', r));
    child.stdin.end();
    expect([await closed, err]).toEqual([0, '']);
    return out;
  }

  it('GNU cpio finds the entry after a 4 GiB - 1 file, plain and through parallel gzip', async () => {
    const plain = cpioNewc(entries());
    expect(await feed(plain.chunks, 'cpio -i --to-stdout --quiet after')).toBe('hello\n');
    expect(plain.bytesWritten()).toBe(4294967808);
    expect(plain.contents()[0]!.sha256).toBe(run('sh', ['-c', `head -c ${size} /dev/zero | sha256sum`]).stdout.toString().slice(0, 64));
    const viaGzip = cpioNewc(entries());
    expect(await feed(gzipParallel(viaGzip.chunks, { workers: 2, level: 1, blockSize: 1 << 20 }), 'gzip -dc | cpio -i --to-stdout --quiet after')).toBe('hello\n');
  });
});
