import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpioNewc } from '../../../src/artifacts/cpio-newc.ts';
import { cpioIndexFromJson, cpioIndexToJson, readCpioIndex, type ArchiveEntry } from '../../../src/image/verify/read-cpio.ts';
import { chunked, el10Tree, treeToEntries } from './fix-fixtures.ts';

let dir: string;
let root: string;
let gnuArchive: Buffer;

const TYPE_OF = (st: Stats): ArchiveEntry['type'] =>
  st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : 'socket';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'herd-readcpio-'));
  root = join(dir, 'root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'usr/lib/modules/6.1.0-x'), { recursive: true });
  mkdirSync(join(root, 'var/log/munge'), { recursive: true });
  chmodSync(join(root, 'var/log/munge'), 0o700);
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nmunge:x:995:995::/run/munge:/sbin/nologin\n');
  writeFileSync(join(root, 'etc/empty'), '');
  writeFileSync(join(root, 'usr/lib/modules/6.1.0-x/modules.builtin'), 'kernel/drivers/net/e1000/e1000.ko\n');
  writeFileSync(join(root, 'usr/lib/modules/6.1.0-x/big.ko'), Buffer.alloc(300_001, 7));
  writeFileSync(join(root, 'usr/suid'), 'x');
  chmodSync(join(root, 'usr/suid'), 0o4755);
  writeFileSync(join(root, 'é-ünï.txt'), 'utf8 name');
  symlinkSync('usr/lib', join(root, 'lib'));
  linkSync(join(root, 'etc/passwd'), join(root, 'etc/passwd-hardlink'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  // GNU cpio, as Warewulf runs it: relative names fed on stdin, newc format.
  const list = execFileSync('find', ['.', '-mindepth', '1'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean).sort().join('\n');
  gnuArchive = execFileSync('cpio', ['--quiet', '-o', '-H', 'newc'], { cwd: root, input: `${list}\n`, maxBuffer: 1 << 26 });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readCpioIndex', () => {
  it('reads a GNU cpio archive: every entry agrees with lstat of the source and with cpio -t', async () => {
    const idx = await readCpioIndex(chunked(gnuArchive, 513));
    const listed = execFileSync('cpio', ['-t', '--quiet'], { input: gnuArchive, encoding: 'utf8' }).split('\n').filter(Boolean).map((n) => n.replace(/^\.\//, ''));
    expect(idx.entries.map((e) => e.path)).toEqual(listed);
    for (const e of idx.entries) {
      const st = lstatSync(join(root, e.path));
      expect([e.path, e.type, e.mode, e.uid, e.gid, e.mtime, e.nlink]).toEqual([e.path, TYPE_OF(st), st.mode & 0o7777, st.uid, st.gid, Math.floor(st.mtimeMs / 1000), st.nlink]);
      if (e.type === 'symlink') expect(e.target).toBe(readlinkSync(join(root, e.path)));
      // A hard-linked file's data travels with one of its names only.
      if (e.type === 'file' && st.nlink === 1) expect(e.size).toBe(st.size);
    }
    const links = idx.entries.filter((e) => e.path.startsWith('etc/passwd'));
    expect(new Set(links.map((e) => e.ino)).size).toBe(1);
    expect(links.map((e) => e.size).sort()).toEqual([0, lstatSync(join(root, 'etc/passwd')).size]);
    expect(idx.bytes).toBeLessThanOrEqual(gnuArchive.length);
  });

  it('keeps only the requested small files (passwd, group, modules.builtin under lib or usr/lib) and skips other data', async () => {
    const idx = await readCpioIndex(chunked(gnuArchive, 4096));
    expect([...idx.files.keys()].sort()).toEqual(['etc/passwd', 'usr/lib/modules/6.1.0-x/modules.builtin']);
    expect(Buffer.from(idx.files.get('etc/passwd')!).toString()).toBe(readFileSync(join(root, 'etc/passwd'), 'utf8'));
    const capped = await readCpioIndex(chunked(gnuArchive), { keep: (p) => p.endsWith('.ko'), maxKeepBytes: 300_000 });
    expect(capped.files.size).toBe(0);
    const kept = await readCpioIndex(chunked(gnuArchive), { keep: (p) => p.endsWith('.ko'), maxKeepBytes: 300_001 });
    expect(kept.files.get('usr/lib/modules/6.1.0-x/big.ko')?.length).toBe(300_001);
  });

  it('reads a gzip-compressed archive (.img.gz) the same way', async () => {
    const plain = await readCpioIndex(chunked(gnuArchive));
    const gz = await readCpioIndex(chunked(gzipSync(gnuArchive), 1000));
    expect(gz.entries).toEqual(plain.entries);
    expect(gz.files).toEqual(plain.files);
  });

  it('reads back herd\'s own writer exactly as its content index describes the archive', async () => {
    const stream = cpioNewc(treeToEntries(el10Tree()));
    const parts: Uint8Array[] = [];
    for await (const c of stream.chunks) parts.push(c);
    const idx = await readCpioIndex(chunked(Buffer.concat(parts), 100));
    const written = stream.contents();
    expect(idx.entries.map((e) => e.path)).toEqual(written.map((c) => c.path));
    for (const [i, e] of idx.entries.entries()) {
      const c = written[i]!;
      expect([e.path, e.mode, e.uid, e.gid]).toEqual([c.path, c.mode, c.uid, c.gid]);
      expect(c.type === 'hardlink' ? 'file' : c.type).toBe(e.type);
    }
    const dev = idx.entries.find((e) => e.path === 'dev/console');
    expect([dev?.type, dev?.rdevMajor, dev?.rdevMinor]).toEqual(['char', 5, 1]);
  });

  it('fails on a truncated archive, a missing trailer and a foreign format; ignores bytes after the trailer', async () => {
    for (const cut of [50, 200, gnuArchive.length - 700]) {
      await expect(readCpioIndex(chunked(gnuArchive.subarray(0, cut)))).rejects.toThrow(/archive ends at byte/);
    }
    const odc = execFileSync('cpio', ['--quiet', '-o', '-H', 'odc'], { cwd: root, input: 'etc/passwd\n' });
    await expect(readCpioIndex(chunked(odc))).rejects.toThrow(/bad magic "070707".*old portable format/);
    await expect(readCpioIndex(chunked(Buffer.from('not a cpio archive at all, certainly not one of 110 bytes.........................................................')))).rejects.toThrow(/bad magic/);
    const extra = await readCpioIndex(chunked(Buffer.concat([gnuArchive, Buffer.from('garbage after the trailer')])));
    expect(extra.entries.length).toBe((await readCpioIndex(chunked(gnuArchive))).entries.length);
  });

  it('survives a JSON round trip for a build cache', async () => {
    const idx = await readCpioIndex(chunked(gnuArchive));
    const back = cpioIndexFromJson(JSON.parse(JSON.stringify(cpioIndexToJson(idx))));
    expect(back).toEqual(idx);
  });
});
