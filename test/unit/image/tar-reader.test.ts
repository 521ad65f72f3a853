import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ImageError } from '../../../src/image/source/image-error.ts';
import { fileSource, readTar, streamSource } from '../../../src/image/tree/tar-reader.ts';
import type { TarHeader } from '../../../src/image/tree/tar-header.ts';
import { endOfArchive, gnuLongEntry, paxEntry, rawEntry, tarLayer, T0 } from '../../fixtures/oci/build.ts';

interface Read {
  header: TarHeader;
  data: Buffer;
  dataOffset: number;
}

async function readAll(tar: Uint8Array, chunk = 1000): Promise<Read[]> {
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < tar.length; i += chunk) yield tar.subarray(i, i + chunk);
  }
  const out: Read[] = [];
  for await (const e of readTar(streamSource(chunks(), 'test.tar'))) {
    const parts: Uint8Array[] = [];
    for await (const c of e.body) parts.push(c.slice());
    out.push({ header: e.header, data: Buffer.concat(parts), dataOffset: e.dataOffset });
  }
  return out;
}

const work = mkdtempSync(join(tmpdir(), 'herd-tar-reader-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('readTar on tar-stream output', () => {
  it('reads types, ownership, modes, devices, text xattrs and data at the right offsets', async () => {
    const tar = await tarLayer([
      { name: 'etc/', type: 'directory', mode: 0o750, uid: 1, gid: 2 },
      { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n', mode: 0o4755, uid: 1000, gid: 1001, mtime: T0 + 5 },
      { name: 'etc/link', type: 'link', linkname: 'etc/passwd' },
      { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
      { name: 'run/fifo', type: 'fifo' },
      { name: 'x', content: 'x', pax: { 'SCHILY.xattr.user.comment': 'héllo' } },
    ]);
    const got = await readAll(tar);
    expect(got.map((e) => [e.header.name.replace(/\/$/, ''), e.header.type])).toEqual([
      ['etc', 'directory'],
      ['etc/passwd', 'file'],
      ['etc/link', 'hardlink'],
      ['bin', 'symlink'],
      ['dev/null', 'char'],
      ['dev/sda', 'block'],
      ['run/fifo', 'fifo'],
      ['x', 'file'],
    ]);
    const passwd = got[1] as Read;
    expect(passwd.header).toMatchObject({ mode: 0o4755, uid: 1000, gid: 1001, mtime: T0 + 5, size: 26 });
    expect(passwd.data.toString()).toBe('root:x:0:0::/root:/bin/sh\n');
    expect(tar.subarray(passwd.dataOffset, passwd.dataOffset + 26).toString()).toBe(passwd.data.toString());
    expect(got[0]?.header).toMatchObject({ mode: 0o750, uid: 1, gid: 2 });
    expect(got[2]?.header.linkname).toBe('etc/passwd');
    expect(got[4]?.header).toMatchObject({ devMajor: 1, devMinor: 3, mode: 0o666 });
    expect(Buffer.from(got[7]?.header.xattrs['user.comment'] ?? []).toString()).toBe('héllo');
  });

  it('round-trips random names, sizes and chunkings (property)', async () => {
    const nameArb = fc.stringMatching(/^[a-zA-Z0-9éß中_.-]{1,40}$/).filter((s) => s !== '.' && s !== '..');
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.record({ dirs: fc.array(nameArb, { maxLength: 5 }), base: nameArb, size: fc.integer({ min: 0, max: 3000 }) }), {
          minLength: 1,
          maxLength: 8,
          selector: (e) => [...e.dirs, e.base].join('/'),
        }),
        fc.integer({ min: 1, max: 1500 }),
        async (files, chunk) => {
          const entries = files.map((f, i) => ({ name: [...f.dirs, f.base].join('/'), content: Buffer.alloc(f.size, i + 1) }));
          const got = await readAll(await tarLayer(entries), chunk);
          expect(got.map((e) => e.header.name)).toEqual(entries.map((e) => e.name));
          expect(got.map((e) => e.data.equals(Buffer.from(entries[got.indexOf(e)]?.content ?? '')))).toEqual(entries.map(() => true));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('readTar on GNU tar output (independent writer)', () => {
  const root = join(work, 'gnu-src');
  const longDir = 'd'.repeat(60) + '/' + 'é'.repeat(40);
  mkdirSync(join(root, longDir), { recursive: true });
  const longFile = `${longDir}/${'f'.repeat(90)}.txt`;
  writeFileSync(join(root, longFile), 'long name content');
  symlinkSync('../' + 't'.repeat(150), join(root, 'longlink'));
  linkSync(join(root, longFile), join(root, 'hard'));

  for (const format of ['gnu', 'pax']) {
    it(`reads ${format} long names, long link targets and hard links`, async () => {
      const tar = execFileSync('tar', [`--format=${format}`, '--numeric-owner', '--sort=name', '-C', root, '-cf', '-', '.'], { maxBuffer: 1 << 26 });
      const got = await readAll(tar);
      const byName = new Map(got.map((e) => [e.header.name.replace(/^\.\//, '').replace(/\/$/, ''), e]));
      expect(byName.get(longFile)?.data.toString()).toBe('long name content');
      expect(byName.get('longlink')?.header).toMatchObject({ type: 'symlink', linkname: '../' + 't'.repeat(150) });
      const names = ['hard', longFile];
      const links = names.filter((n) => byName.get(n)?.header.type === 'hardlink');
      expect(links).toHaveLength(1);
      const link = links[0] as string;
      expect(byName.get(link)?.header.linkname.replace(/^\.\//, '')).toBe(names.find((n) => n !== link));
    });
  }
});

describe('readTar on hand-encoded entries', () => {
  it('keeps binary PAX xattr values byte for byte and applies PAX uid/gid/mtime/path', async () => {
    const cap = Uint8Array.from([0x01, 0x00, 0x00, 0x02, 0x80, 0xff, 0x0a, 0x00, 0xc3, 0x28]);
    const tar = Buffer.concat([
      paxEntry({ 'SCHILY.xattr.security.capability': cap, uid: '3000000000', gid: '42', mtime: '1700000123.75', path: 'usr/bin/ping' }),
      rawEntry({ name: 'ignored-short-name', data: 'ELF' }),
      endOfArchive(),
    ]);
    const [e] = await readAll(tar);
    expect(e?.header).toMatchObject({ name: 'usr/bin/ping', uid: 3000000000, gid: 42, mtime: 1700000123 });
    expect(Buffer.from(e?.header.xattrs['security.capability'] ?? []).equals(Buffer.from(cap))).toBe(true);
    expect(e?.data.toString()).toBe('ELF');
  });

  it('reads GNU L/K long names and base-256 uids', async () => {
    const name = `usr/share/${'n'.repeat(200)}`;
    const target = `/opt/${'t'.repeat(180)}`;
    const tar = Buffer.concat([
      gnuLongEntry('L', name),
      rawEntry({ name: name.slice(0, 99), data: 'a', gnu: true, uid: 0o7777777 + 10, base256Uid: true }),
      gnuLongEntry('L', `${name}.lnk`),
      gnuLongEntry('K', target),
      rawEntry({ name: 'short', typeflag: '2', linkname: target.slice(0, 99), gnu: true }),
      endOfArchive(),
    ]);
    const got = await readAll(tar);
    expect(got.map((e) => [e.header.name, e.header.type, e.header.linkname])).toEqual([
      [name, 'file', ''],
      [`${name}.lnk`, 'symlink', target],
    ]);
    expect(got[0]?.header.uid).toBe(0o7777777 + 10);
  });

  it('treats old-style typeflag NUL with a trailing slash as a directory, and ignores data of header-only types', async () => {
    const tar = Buffer.concat([rawEntry({ name: 'olddir/', typeflag: '\0' }), rawEntry({ name: 'f', typeflag: '\0', data: 'z' }), endOfArchive()]);
    expect((await readAll(tar)).map((e) => [e.header.name, e.header.type, e.data.toString()])).toEqual([
      ['olddir/', 'directory', ''],
      ['f', 'file', 'z'],
    ]);
  });

  it('rejects a bad checksum, a truncated archive, sparse files and non-UTF-8 names with ImageErrors', async () => {
    const good = rawEntry({ name: 'a', data: 'hello' });
    const corrupt = Buffer.from(good);
    corrupt[0] = 0x62;
    await expect(readAll(Buffer.concat([corrupt, endOfArchive()]))).rejects.toMatchObject({ code: 'bad-tar', message: expect.stringContaining('checksum') });
    await expect(readAll(good.subarray(0, 515))).rejects.toMatchObject({ code: 'bad-tar', message: expect.stringContaining('truncated') });
    await expect(readAll(Buffer.concat([rawEntry({ name: 's', typeflag: 'S' }), endOfArchive()]))).rejects.toMatchObject({ code: 'unsupported' });
    const latin1 = rawEntry({ name: 'x', data: '' });
    latin1[0] = 0xe9;
    latin1.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of latin1) sum += b;
    latin1.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
    const err = await readAll(Buffer.concat([latin1, endOfArchive()])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).message).toContain('\\xe9');
  });

  it('accepts an archive without end-of-archive blocks and drains data after them', async () => {
    expect(await readAll(rawEntry({ name: 'a', data: 'b' }))).toHaveLength(1);
    expect(await readAll(Buffer.concat([rawEntry({ name: 'a', data: 'b' }), endOfArchive(), Buffer.alloc(4096, 7)]))).toHaveLength(1);
  });
});

describe('fileSource', () => {
  async function readFile(path: string, size: number): Promise<Read[]> {
    const fh = await open(path);
    try {
      const out: Read[] = [];
      for await (const e of readTar(fileSource(fh, size, path))) {
        const parts: Uint8Array[] = [];
        // Read every other body, skip the rest: both must leave the reader at the next header.
        if (out.length % 2 === 0) for await (const c of e.body) parts.push(c.slice());
        out.push({ header: e.header, data: Buffer.concat(parts), dataOffset: e.dataOffset });
      }
      return out;
    } finally {
      await fh.close();
    }
  }

  it('gives the same entries and offsets as the stream reader, through its read-ahead window', async () => {
    const entries = Array.from({ length: 400 }, (_, i) => ({ name: `d${i % 7}/f${i}`, content: Buffer.alloc((i * 997) % 5000, i) }));
    entries.push({ name: 'big', content: Buffer.alloc(3 << 20, 9) });
    const tar = await tarLayer(entries);
    const path = join(work, 'file-source.tar');
    writeFileSync(path, tar);
    const fromFile = await readFile(path, tar.length);
    const fromStream = await readAll(tar, 4096);
    expect(fromFile.map((e) => [e.header.name, e.dataOffset])).toEqual(fromStream.map((e) => [e.header.name, e.dataOffset]));
    fromFile.forEach((e, i) => {
      if (i % 2 === 0) expect(e.data.equals(fromStream[i]?.data ?? Buffer.alloc(0))).toBe(true);
    });
    writeFileSync(path, tar.subarray(0, tar.length - 1024 - 700_000));
    await expect(readFile(path, tar.length - 1024 - 700_000)).rejects.toMatchObject({ code: 'bad-tar', message: expect.stringContaining('truncated') });
  });
});
