// The chroot tree writer: an archive unpacked by herd (stageTree/commitTree) must equal the same archive unpacked by GNU cpio
// (the oracle), and an archive GNU cpio made from a folder must come back as that folder. Runs as root in CI (owners are checked).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, chmodSync, linkSync, chownSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cpioNewc, type CpioEntry } from '../../../src/artifacts/cpio-newc.ts';
import { readNewc } from '../../../src/artifacts/cpio-read.ts';
import { ConfinedDir } from '../../../src/fs/confined-dir.ts';
import { commitTree, oldTreePathFor, stageTree } from '../../../src/state/tree-write.ts';
import { tempPathFor } from '../../../src/state/paths.ts';

const isRoot = process.getuid?.() === 0;
const T = 1_700_000_000;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const scratch = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'herd-tree-'));
  dirs.push(d);
  return d;
};
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function archive(entries: readonly CpioEntry[]): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of cpioNewc(entries).chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** Every entry below `root`: type, mode, owner, size, content hash or link target, and which names share an inode. */
function describeTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(root, r);
      const st = lstatSync(p);
      const owner = isRoot ? ` ${st.uid}:${st.gid}` : '';
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[r] = `dir ${mode}${owner}`; // GNU cpio -m restores file mtimes, not folders'
        walk(r);
      } else if (st.isSymbolicLink()) out[r] = `link -> ${readlinkSync(p)}${owner}`;
      else if (st.isFile()) {
        const first = inodes.get(st.ino);
        if (first === undefined) inodes.set(st.ino, r);
        out[r] = `file ${mode}${owner} ${st.size} ${sha(readFileSync(p))} nlink=${st.nlink} mtime=${Math.floor(st.mtimeMs / 1000)}${first ? ` same-inode-as=${first}` : ''}`;
      } else out[r] = 'other';
    }
  };
  walk('');
  return out;
}

async function* chunksOf(b: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function herdUnpack(bytes: Buffer, chunk = 7): Promise<{ root: string; target: string; skipped: number }> {
  const root = scratch();
  const dir = ConfinedDir.open(root, { what: 'target root' });
  const target = 'var/lib/warewulf/chroots/compute/rootfs';
  const r = await stageTree(dir, target, { produce: () => chunksOf(bytes, chunk), sha256: sha(bytes), size: bytes.length }, { mode: 0o755, chown: isRoot, fsync: false });
  expect(r.temp).toBe(tempPathFor(target));
  commitTree(dir, r.temp, target);
  dir.close();
  return { root, target: join(root, target), skipped: r.skipped };
}

function gnuUnpack(bytes: Buffer): string {
  const d = scratch();
  const r = spawnSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames', ...(isRoot ? [] : ['--no-preserve-owner'])], { cwd: d, input: bytes });
  expect(r.status, r.stderr.toString()).toBe(0);
  return d;
}

const big = Buffer.alloc(300_000, 7);
const entries: CpioEntry[] = ([
  { path: 'bin', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: T },
  { path: 'bin/sh', type: 'file', mode: 0o755, uid: 0, gid: 0, mtime: T, data: Buffer.from('#!/bin/busybox\n') },
  { path: 'boot', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: T },
  { path: 'boot/vmlinuz-6.1.0', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: T, data: big, linkKey: 'k' },
  { path: 'etc', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: T },
  { path: 'etc/munge', type: 'directory', mode: 0o700, uid: 995, gid: 995, mtime: T },
  { path: 'etc/munge/.keep', type: 'file', mode: 0o400, uid: 995, gid: 995, mtime: T, data: new Uint8Array(0) },
  { path: 'etc/ro', type: 'directory', mode: 0o555, uid: 0, gid: 0, mtime: T },
  { path: 'etc/ro/inside', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: T, data: Buffer.from('x') },
  { path: 'lib', type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: T, target: 'usr/lib' },
  { path: 'lib/modules', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: T },
  { path: 'lib/modules/6.1.0', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: T },
  { path: 'lib/modules/6.1.0/vmlinuz', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: T, data: big, linkKey: 'k' },
  { path: 'usr', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: T },
  { path: 'usr/bin', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: T },
  { path: 'usr/bin/passwd', type: 'file', mode: 0o4755, uid: 0, gid: 0, mtime: T, data: Buffer.from('suid') },
  { path: 'usr/lib', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: T },
  { path: 'dev', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: T },
  { path: 'dev/console', type: 'char', mode: 0o600, uid: 0, gid: 0, mtime: T, rdevMajor: 5, rdevMinor: 1 },
] satisfies CpioEntry[] as CpioEntry[]).filter((e) => !e.path.startsWith('lib/'));

describe('stageTree / commitTree', () => {
  it('unpacks an image archive exactly as GNU cpio does (modes, owners, links, hard links, set-uid, read-only folders), whatever the chunking', async () => {
    const bytes = await archive(entries);
    const oracle = describeTree(gnuUnpack(bytes));
    delete oracle['dev/console']; // the one entry herd does not create (no mknod in Node; wwinit mounts devtmpfs)
    for (const chunk of [1, 7, 4096, bytes.length].slice(bytes.length > 100_000 ? 1 : 0)) {
      const got = await herdUnpack(bytes, chunk);
      expect(got.skipped).toBe(1);
      const mine = describeTree(got.target);
      for (const k of new Set([...Object.keys(mine), ...Object.keys(oracle)])) expect(`${k}: ${mine[k]}`).toBe(`${k}: ${oracle[k]}`);
    }
    expect(oracle['usr/bin/passwd']).toMatch(/^file 4755/);
    expect(oracle['etc/ro']).toMatch(/^dir 555/);
  });

  it('reads what GNU cpio writes from a real folder, and gives that folder back', async () => {
    const src = scratch();
    mkdirSync(join(src, 'a/b'), { recursive: true });
    writeFileSync(join(src, 'a/b/f'), 'hello\n');
    writeFileSync(join(src, 'a/big'), big);
    linkSync(join(src, 'a/big'), join(src, 'a/big2'));
    symlinkSync('../a/b/f', join(src, 'a/l'));
    chmodSync(join(src, 'a/b'), 0o750);
    if (isRoot) chownSync(join(src, 'a/b/f'), 12, 34);
    const list = spawnSync('sh', ['-c', 'find . -mindepth 1 | LC_ALL=C sort'], { cwd: src }).stdout;
    const made = spawnSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: src, input: list, maxBuffer: 1 << 26 });
    expect(made.status).toBe(0);
    const names: string[] = [];
    for await (const e of readNewc(chunksOf(made.stdout, 13))) names.push(e.name);
    expect(names).toEqual(list.toString().trim().split('\n').map((n) => n.replace(/^\.\//, '')));
    const got = await herdUnpack(made.stdout, 13);
    const strip = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.replace(/ mtime=\d+/, '')]));
    expect(strip(describeTree(got.target))).toEqual(strip(describeTree(src)));
  });

  it('replaces the previous tree only after the new one is complete, and removes it', async () => {
    const first = await archive(entries);
    const { root, target } = await herdUnpack(first);
    const dir = ConfinedDir.open(root, { what: 'target root' });
    const rel = 'var/lib/warewulf/chroots/compute/rootfs';
    const second = await archive([{ path: 'only', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: T, data: Buffer.from('new') }]);
    const r = await stageTree(dir, rel, { produce: () => chunksOf(second, 5), sha256: sha(second), size: second.length }, { mode: 0o755, chown: isRoot, fsync: true });
    expect(describeTree(target)['bin/sh']).toBeDefined(); // nothing changed before the commit
    commitTree(dir, r.temp, rel);
    expect(Object.keys(describeTree(target))).toEqual(['only']);
    expect(existsSync(join(root, oldTreePathFor(rel)))).toBe(false);
    expect(existsSync(join(root, tempPathFor(rel)))).toBe(false);
    dir.close();
  });

  it('refuses an archive that is not the planned one, or damaged, or leaving the tree, and leaves no temp folder', async () => {
    const root = scratch();
    const dir = ConfinedDir.open(root, { what: 'target root' });
    const rel = 'chroots/x/rootfs';
    const good = await archive(entries);
    await expect(stageTree(dir, rel, { produce: () => chunksOf(good, 99), sha256: '0'.repeat(64), size: good.length }, { mode: 0o755, chown: false })).rejects.toMatchObject({ message: expect.stringContaining('plan expects') });
    await expect(stageTree(dir, rel, { produce: () => chunksOf(good.subarray(0, 500), 99), sha256: sha(good), size: good.length }, { mode: 0o755, chown: false })).rejects.toMatchObject({ message: expect.stringContaining('ends inside') });
    const evil = Buffer.from(good.toString('latin1').replace('bin/sh', '../../'), 'latin1');
    await expect(stageTree(dir, rel, { produce: () => chunksOf(evil, 99), sha256: sha(evil), size: evil.length }, { mode: 0o755, chown: false })).rejects.toMatchObject({ message: expect.stringContaining('leaves the tree') });
    expect(existsSync(join(root, tempPathFor(rel)))).toBe(false);
    expect(existsSync(join(root, 'x'))).toBe(false);
    dir.close();
  });

  it('adds the extras (a kernel the image excludes) where the archive has nothing, and checks their hashes', async () => {
    const bytes = await archive(entries.filter((e) => !e.path.startsWith('boot')));
    const kernelBytes = Buffer.from('kernel image');
    const extra = { path: 'boot/vmlinuz-6.1.0', mode: 0o644, sha256: sha(kernelBytes), size: kernelBytes.length, produce: () => chunksOf(kernelBytes, 5) };
    const root = scratch();
    const dir = ConfinedDir.open(root, { what: 'target root' });
    const rel = 'chroots/x/rootfs';
    const tree = { archive: { sha256: sha(bytes), size: bytes.length }, extras: [extra] };
    const r = await stageTree(dir, rel, { produce: () => chunksOf(bytes, 64), sha256: 'tree', size: 0, tree }, { mode: 0o755, chown: false });
    commitTree(dir, r.temp, rel);
    expect(readFileSync(join(root, rel, 'boot/vmlinuz-6.1.0'), 'utf8')).toBe('kernel image');
    expect(lstatSync(join(root, rel, 'boot')).isDirectory()).toBe(true);
    const bad = { archive: tree.archive, extras: [{ ...extra, sha256: '1'.repeat(64) }] };
    await expect(stageTree(dir, rel, { produce: () => chunksOf(bytes, 64), sha256: 'tree', size: 0, tree: bad }, { mode: 0o755, chown: false })).rejects.toMatchObject({ message: expect.stringContaining('/boot/vmlinuz-6.1.0') });
    expect(readFileSync(join(root, rel, 'boot/vmlinuz-6.1.0'), 'utf8')).toBe('kernel image'); // the applied tree is untouched
    dir.close();
  });

  it('never writes through a symlink in the image to a place outside the tree', async () => {
    const root = scratch();
    mkdirSync(join(root, 'etc'));
    const dir = ConfinedDir.open(root, { what: 'target root' });
    const rel = 'chroots/x/rootfs';
    const bytes = await archive([
      { path: 'up', type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: T, target: '../../../etc' },
      { path: 'up/passwd', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: T, data: Buffer.from('root::0:0::/:/bin/sh\n') },
    ]);
    await expect(stageTree(dir, rel, { produce: () => chunksOf(bytes, 64), sha256: sha(bytes), size: bytes.length }, { mode: 0o755, chown: false })).rejects.toBeDefined();
    expect(existsSync(join(root, 'etc/passwd'))).toBe(false);
    dir.close();
  });
});
