// dir: sources read by descriptor: a file must be the one the walk saw, unchanged, when it is hashed and when it is packed;
// per-file hashes are reused only while the (dev, ino, size, mtime, ctime) stamp holds. Swaps are made by hooks, not timing.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfinedDir } from '../../../src/fs/confined-dir.ts';
import { openFileHashIndex } from '../../../src/image/source/file-hashes.ts';
import { readRootfsDir, type RootfsDirOptions } from '../../../src/image/source/rootfs-dir.ts';
import { readContent } from '../../../src/image/tree/content-store.ts';
import { lookup, type ContentRef, type FsTree } from '../../../src/image/tree/fs-tree.ts';

const work = mkdtempSync(join(tmpdir(), 'herd-rootfs-dir-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const SECRET = 'HOST-ONLY-SECRET';
writeFileSync(join(work, 'host-secret'), `${SECRET}\n`);

let n = 0;
let spec: string;
let dir: ConfinedDir;
beforeEach(() => {
  spec = join(work, `spec-${n++}`);
  mkdirSync(join(spec, 'rootfs/etc'), { recursive: true });
  writeFileSync(join(spec, 'rootfs/etc/hostname'), 'node\n');
  writeFileSync(join(spec, 'rootfs/etc/motd'), 'hello\n');
  dir = ConfinedDir.open(spec, { what: 'spec folder' });
});
afterEach(() => dir.close());

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const walk = (o: RootfsDirOptions = {}): Promise<{ tree: FsTree }> => readRootfsDir(dir, 'rootfs', join(spec, 'rootfs'), o);
const refOf = (tree: FsTree, path: string): ContentRef => lookup(tree, path)?.content as ContentRef;

async function text(ref: ContentRef): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const c of readContent(ref)) parts.push(c);
  return Buffer.concat(parts).toString();
}

describe('a dir: file is read by descriptor, and only as the walk saw it', () => {
  it('hashes every file once the walk is done and packs the same bytes', async () => {
    const { tree } = await walk();
    expect(refOf(tree, 'etc/hostname')).toMatchObject({ kind: 'host', rel: 'etc/hostname', size: 5, sha256: sha('node\n') });
    expect(await text(refOf(tree, 'etc/hostname'))).toBe('node\n');
  });

  it.each([
    ['swapped for a symlink to a host file', (f: string) => {
      rmSync(f);
      symlinkSync(join(work, 'host-secret'), f);
    }],
    ['replaced by another file (rename over it)', (f: string) => {
      writeFileSync(`${f}.new`, 'evil\n');
      renameSync(`${f}.new`, f);
    }],
    ['rewritten in place, size and mtime restored', (f: string) => {
      const st = statSync(f);
      writeFileSync(f, 'evil\n');
      utimesSync(f, st.atime, st.mtime);
    }],
    ['removed', (f: string) => rmSync(f)],
  ])('fails with "changed while reading" when packed after the file was %s', async (_name, change) => {
    const { tree } = await walk();
    change(join(spec, 'rootfs/etc/hostname'));
    const err = await text(refOf(tree, 'etc/hostname')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'source-changed', message: expect.stringContaining('changed while reading') });
    expect((err as Error).message).not.toContain(SECRET);
    // The other files are untouched and still read.
    expect(await text(refOf(tree, 'etc/motd'))).toBe('hello\n');
  });

  it('fails when a directory on the way is swapped for a symlink leading out, between the walk and the hashing', async () => {
    const err = await walk({
      afterWalk: () => {
        renameSync(join(spec, 'rootfs/etc'), join(spec, 'rootfs/etc.old'));
        mkdirSync(join(work, 'host-etc'), { recursive: true });
        writeFileSync(join(work, 'host-etc/hostname'), `${SECRET}\n`);
        symlinkSync(join(work, 'host-etc'), join(spec, 'rootfs/etc'));
      },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'source-changed' });
    expect((err as Error).message).not.toContain(SECRET);
  });

  it('reads a rootfs reached through a symlink inside the spec folder, and refuses one that leads out', async () => {
    symlinkSync('rootfs', join(spec, 'current'));
    const { tree } = await readRootfsDir(dir, 'current', join(spec, 'current'));
    expect(await text(refOf(tree, 'etc/motd'))).toBe('hello\n');
    symlinkSync(join(work, 'host-etc'), join(spec, 'away'));
    await expect(readRootfsDir(dir, 'away', join(spec, 'away'))).rejects.toMatchObject({ code: 'source-changed' });
  });
});

describe('per-file hashes between builds', () => {
  const old = (): bigint => BigInt(Date.now() + 3_600_000) * 1_000_000n;

  it('reuses a hash while the stamp holds, without reading the file', async () => {
    const idx = await openFileHashIndex(join(spec, 'hashes'), 'src', { now: old });
    await walk({ hashes: idx });
    const again = await openFileHashIndex(join(spec, 'hashes'), 'src', { now: old });
    let opened = 0;
    const spy = new Proxy(dir, { get: (t, p) => (p === 'openRead' ? (rel: string) => (opened++, t.openRead(rel)) : Reflect.get(t, p, t) as unknown) });
    const { tree } = await readRootfsDir(spy, 'rootfs', join(spec, 'rootfs'), { hashes: again });
    expect(opened).toBe(0);
    expect(refOf(tree, 'etc/hostname')).toMatchObject({ sha256: sha('node\n') });
  });

  it('leaves the index file alone when a walk used exactly what it holds, and rewrites it when an entry went away', async () => {
    const idxDir = join(spec, 'hashes');
    const save = async () => {
      await walk({ hashes: await openFileHashIndex(idxDir, 'src', { now: old }) });
    };
    await save();
    const file = join(idxDir, readdirSync(idxDir)[0]!);
    const before = statSync(file, { bigint: true });
    await save();
    const same = statSync(file, { bigint: true });
    expect([same.ino, same.mtimeNs]).toEqual([before.ino, before.mtimeNs]);
    rmSync(join(spec, 'rootfs/etc/motd'));
    await save();
    const after = statSync(file, { bigint: true });
    expect(after.ino).not.toBe(before.ino);
    expect(Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { hashes: object }).hashes)).toHaveLength(1);
  });

  it('hashes again when the content changed but size and mtime did not (ctime moved)', async () => {
    await walk({ hashes: await openFileHashIndex(join(spec, 'hashes'), 'src', { now: old }) });
    const f = join(spec, 'rootfs/etc/hostname');
    const st = statSync(f);
    writeFileSync(f, 'evil\n');
    utimesSync(f, st.atime, st.mtime);
    const { tree } = await walk({ hashes: await openFileHashIndex(join(spec, 'hashes'), 'src', { now: old }) });
    expect(refOf(tree, 'etc/hostname')).toMatchObject({ sha256: sha('evil\n') });
  });

  it('does not remember a hash taken within the racy window of the file\'s ctime', async () => {
    // The clock is pinned one nanosecond after the file's ctime, so a slow machine cannot carry the hash out of the window.
    const st = statSync(join(spec, 'rootfs/etc/hostname'), { bigint: true });
    const now = (): bigint => st.ctimeNs + 1n;
    await walk({ hashes: await openFileHashIndex(join(spec, 'hashes'), 'src', { now }) });
    const idx = await openFileHashIndex(join(spec, 'hashes'), 'src', { now });
    expect(idx.get({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs })).toBeUndefined();
  });

  it('ignores an index it cannot use', async () => {
    mkdirSync(join(spec, 'hashes'));
    const file = join(spec, 'hashes', `${createHash('sha256').update('src').digest('hex')}.json`);
    const st = statSync(join(spec, 'rootfs/etc/hostname'), { bigint: true });
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    writeFileSync(file, JSON.stringify({ format: 1, hashes: { [key]: 'not a hash' } }));
    const { tree } = await walk({ hashes: await openFileHashIndex(join(spec, 'hashes'), 'src', { now: old }) });
    expect(refOf(tree, 'etc/hostname')).toMatchObject({ sha256: sha('node\n') });
    writeFileSync(file, '{');
    expect((await openFileHashIndex(join(spec, 'hashes'), 'src')).get({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs })).toBeUndefined();
  });

  it('uses its own columnar index, and none of it when one hash in it is not a hash', async () => {
    await walk({ hashes: await openFileHashIndex(join(spec, 'hashes'), 'src', { now: old }) });
    const file = join(spec, 'hashes', readdirSync(join(spec, 'hashes'))[0]!);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { format: number; keys: string[]; hashes: string[] };
    expect(saved).toMatchObject({ format: 2, keys: expect.any(Array), hashes: expect.any(Array) });
    expect(saved.hashes.sort()).toEqual([sha('hello\n'), sha('node\n')].sort());
    const st = statSync(join(spec, 'rootfs/etc/hostname'), { bigint: true });
    const stamp = { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
    expect((await openFileHashIndex(join(spec, 'hashes'), 'src', { now: old })).get(stamp)).toBe(sha('node\n'));
    writeFileSync(file, JSON.stringify({ ...saved, hashes: saved.hashes.map((h, i) => (i === 0 ? h.toUpperCase() : h)) }));
    expect((await openFileHashIndex(join(spec, 'hashes'), 'src', { now: old })).get(stamp)).toBeUndefined();
  });

  it('a remembered hash that does not match the bytes fails the pack, not the image', async () => {
    const st = statSync(join(spec, 'rootfs/etc/hostname'), { bigint: true });
    const idx = await openFileHashIndex(join(spec, 'hashes'), 'src', { now: old });
    idx.set({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs }, sha('other\n'));
    await idx.save();
    const { tree } = await walk({ hashes: await openFileHashIndex(join(spec, 'hashes'), 'src', { now: old }) });
    await expect(text(refOf(tree, 'etc/hostname'))).rejects.toMatchObject({ code: 'source-changed', message: expect.stringContaining('not what herd hashed') });
  });
});
