// herd's layer application against `umoci unpack --rootless` (Debian package umoci) and skopeo's format conversions.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImageSource } from '../../src/image/source/open-image-source.ts';
import { layerCache, type LayerCache } from '../../src/image/tree/content-store.ts';
import { hardLinkGroups, type FsTree } from '../../src/image/tree/fs-tree.ts';
import { endOfArchive, gnuLongEntry, paxEntry, rawEntry, tarLayer, T0, writeLayout, type LayerEntry } from '../fixtures/oci/build.ts';
import { describeTree, type Described } from '../fixtures/oci/describe.ts';
import { readBundle, type BundleEntry } from '../fixtures/oci/umoci-bundle.ts';

const work = mkdtempSync(join(tmpdir(), 'herd-oci-umoci-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(cmd: string, args: string[]): string {
  try {
    // umoci creates implicit parent directories with mode 0777 &^ umask; pin the umask herd's IMPLICIT_DIR assumes.
    return execFileSync('sh', ['-c', 'umask 022; exec "$@"', 'sh', cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; status?: number };
    if (err.status === 127) throw new Error(`${cmd} is not installed (Debian: apt-get install ${cmd})`);
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr ?? String(e)}`);
  }
}

const big = Buffer.alloc(300_000);
for (let i = 0, x = 12345; i < big.length; i++) {
  x = (x * 1103515245 + 12345) >>> 0;
  big[i] = x >>> 24;
}
const LONG = `opt/${'l'.repeat(120)}/${'é'.repeat(70)}.txt`;
const GNU_LONG = `usr/share/${'g'.repeat(140)}/file`;
const BIN_XATTR = Uint8Array.from([0x80, 0xff, 0x00, 0x01, 0x0a, 0xc3]);

const dir = (name: string, e: Partial<LayerEntry> = {}): LayerEntry => ({ name, type: 'directory', ...e });
const file = (name: string, content: string | Uint8Array, e: Partial<LayerEntry> = {}): LayerEntry => ({ name, content, ...e });
const wh = (name: string): LayerEntry => ({ name, content: '' });

/** tar-stream output and hand-encoded entries in one archive. */
function joinTars(...parts: Buffer[]): Buffer {
  const strip = (b: Buffer): Buffer => (b.length >= 1024 && b.subarray(b.length - 1024).every((x) => x === 0) ? b.subarray(0, b.length - 1024) : b);
  return Buffer.concat([...parts.map(strip), endOfArchive()]);
}

async function layers(): Promise<Buffer[]> {
  const l1 = await tarLayer([
    dir('./'),
    dir('etc', { mtime: T0 + 1 }),
    file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'),
    file('etc/shadow', 'root:*:1::::::\n', { mode: 0o640, gid: 42 }),
    file('etc/hostname', 'base\n'),
    file('etc/hostname2', 'was a file\n'),
    dir('etc/conf.d'),
    file('etc/conf.d/a', 'a'),
    file('etc/conf.d/b', 'b'),
    { name: 'etc/localtime', type: 'symlink', linkname: '/usr/share/zoneinfo/UTC' },
    dir('usr'),
    dir('usr/bin'),
    dir('usr/lib', { pax: { 'SCHILY.xattr.user.old': 'gone later' } }),
    file('usr/bin/sh', '#!/bin/sh v1\n', { mode: 0o755 }),
    file('usr/bin/tool', 'setuid tool', { mode: 0o4755 }),
    { name: 'usr/bin/sh-link', type: 'link', linkname: 'usr/bin/sh' },
    { name: 'usr/bin/h2', type: 'link', linkname: '/usr/bin/tool' },
    file('usr/lib/libc.so.6', big, { mode: 0o755 }),
    { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
    { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
    dir('dev'),
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
    dir('run'),
    { name: 'run/initctl', type: 'fifo', mode: 0o600 },
    dir('home'),
    dir('home/user', { uid: 1000, gid: 1000, mode: 0o700 }),
    file('home/user/.bashrc', 'export X=1\n', { uid: 1000, gid: 1000 }),
    dir('tmp', { mode: 0o1777 }),
    dir('var'),
    dir('var/cache'),
    dir('var/cache/app'),
    file('var/cache/app/data', 'cached'),
    dir('opt'),
    dir('opt/café'),
    file('opt/café/inner', 'x'),
    dir('opt/日本語'),
    file('opt/日本語/ファイル.txt', 'utf-8 name'),
    file(LONG, 'pax long name'),
    file('srv/implicit/deep/file', 'parents implied'),
    file('etc/comment', 'c', { pax: { 'SCHILY.xattr.user.comment': 'text xattr' } }),
  ]);
  const raw1 = Buffer.concat([
    gnuLongEntry('L', GNU_LONG),
    rawEntry({ name: GNU_LONG.slice(0, 99), data: 'gnu long name', gnu: true }),
    paxEntry({ path: 'usr/bin/ping', 'SCHILY.xattr.user.bin': BIN_XATTR }),
    rawEntry({ name: 'placeholder', data: 'ping', mode: 0o755 }),
  ]);
  const l2 = await tarLayer([
    wh('etc/.wh.hostname'),
    wh('var/.wh.cache'),
    file('etc/conf.d/c', 'c (before the opaque marker)'),
    wh('etc/conf.d/.wh..wh..opq'),
    file('etc/conf.d/d', 'd (after the opaque marker)'),
    file('opt/café', 'a directory became a file'),
    dir('etc/hostname2', { mode: 0o750 }),
    file('etc/hostname2/child', 'a file became a directory'),
    { name: 'usr/bin/sh-link2', type: 'link', linkname: 'usr/bin/sh' },
    dir('usr/lib', { mode: 0o750, mtime: T0 + 7, pax: { 'SCHILY.xattr.user.new': 'replaced xattrs' } }),
    file('lib/libnew.so', 'through the lib symlink'),
    file('etc/passwd', 'root:x:0:0:root:/root:/bin/bash\n', { mtime: T0 + 2 }),
  ]);
  const l3 = await tarLayer([
    wh('usr/bin/.wh.tool'),
    file('usr/bin/sh', '#!/bin/sh v2\n', { mode: 0o755 }),
    file('etc/shadow', 'root:!:2::::::\n', { mode: 0o600 }),
    wh('etc/.wh.shadow'),
    wh('home/.wh.user'),
    file('home/user/new', 'recreated under an implicit dir', { uid: 1000 }),
  ]);
  return [joinTars(l1, raw1), l2, l3];
}

interface Comparable {
  path: string;
  type: string;
  mode: number;
  size: number;
  sha256?: string;
  linkname?: string;
  owner?: string;
  mtime?: number;
  xattrs?: Record<string, string>;
}

const EMPTY_SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const byPath = (a: { path: string }, b: { path: string }): number => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));

/**
 * herd's tree as rootless umoci can show it: devices become empty regular files with the device's mode;
 * ownership only where umoci can store user.rootlesscontainers (files, directories); user.* xattrs only.
 * Directory mtimes are not comparable for implicit directories (umoci: time of mkdir; herd: 0) and their
 * parents (umoci restores only an entry's immediate parent, so the mkdir bumps the grandparent to now; herd
 * keeps the time the layer declared).
 */
function herdView(d: readonly Described[], noMtime: ReadonlySet<string>): Comparable[] {
  return d
    .map((e): Comparable => {
      const device = e.type === 'char' || e.type === 'block';
      const ownerKnown = e.type === 'file' || e.type === 'directory' || device;
      const userX = Object.fromEntries(Object.entries(e.xattrs ?? {}).filter(([k]) => k.startsWith('user.')));
      return {
        path: e.path,
        type: device ? 'file' : e.type,
        mode: e.type === 'symlink' ? 0o777 : e.mode,
        size: device ? 0 : e.type === 'file' ? e.size : 0,
        ...(e.type === 'file' || device ? { sha256: e.sha256 ?? EMPTY_SHA } : {}),
        ...(e.linkname === undefined ? {} : { linkname: e.linkname }),
        ...(ownerKnown ? { owner: `${e.uid}:${e.gid}` } : {}),
        ...(noMtime.has(e.path) ? {} : { mtime: e.mtime }),
        ...(ownerKnown ? { xattrs: userX } : {}),
      };
    })
    .sort(byPath);
}

function umociView(b: readonly BundleEntry[], noMtime: ReadonlySet<string>): Comparable[] {
  return b
    .map(
      (e): Comparable => ({
        path: e.path,
        type: e.type,
        mode: e.mode,
        size: e.size,
        ...(e.sha256 === undefined ? {} : { sha256: e.sha256 }),
        ...(e.linkname === undefined ? {} : { linkname: e.linkname }),
        ...(e.owner === undefined ? {} : { owner: e.owner }),
        ...(noMtime.has(e.path) ? {} : { mtime: e.mtime }),
        ...(e.type === 'file' || e.type === 'directory' ? { xattrs: e.xattrs } : {}),
      }),
    )
    .sort(byPath);
}

function umociLinkGroups(b: readonly BundleEntry[]): string[][] {
  const groups = new Map<bigint, string[]>();
  for (const e of b) if (e.type !== 'directory' && e.nlink > 1) groups.set(e.ino, [...(groups.get(e.ino) ?? []), e.path]);
  return [...groups.values()].map((g) => g.sort()).sort((x, y) => (x[0] as string).localeCompare(y[0] as string));
}

async function herdTree(ref: string, cache: LayerCache): Promise<{ tree: FsTree; described: Described[] }> {
  const src = await openImageSource(ref, { baseDir: work, scratchDir: work });
  try {
    const tree = await src.buildTree({ cache });
    return { tree, described: await describeTree(tree) };
  } finally {
    await src.close();
  }
}

async function compareWithUmoci(layoutRef: string, name: string): Promise<Described[]> {
  const bundle = join(work, `bundle-${name}`);
  run('umoci', ['unpack', '--rootless', '--image', layoutRef, bundle]);
  const { tree, described } = await herdTree(`oci:${layoutRef}`, layerCache(join(work, `cache-${name}`)));
  const oracle = await readBundle(bundle);
  const implicit = described.filter((d) => d.type === 'directory' && d.mtime === 0).map((d) => d.path);
  const noMtime = new Set([...implicit, ...implicit.map((p) => p.split('/').slice(0, -1).join('/'))]);
  expect(herdView(described, noMtime)).toEqual(umociView(oracle, noMtime));
  expect(hardLinkGroups(tree).map((g) => [...g].sort())).toEqual(umociLinkGroups(oracle));
  return described;
}

let tars: Buffer[];
beforeAll(async () => {
  run('umoci', ['--version']);
  run('skopeo', ['--version']);
  tars = await layers();
});

describe('herd vs umoci unpack --rootless', () => {
  it('on a layout umoci wrote itself (umoci init/new/raw add-layer)', async () => {
    const layout = join(work, 'umoci-layout');
    run('umoci', ['init', '--layout', layout]);
    run('umoci', ['new', '--image', `${layout}:t`]);
    for (const [i, t] of tars.entries()) {
      const f = join(work, `layer${i}.tar`);
      writeFileSync(f, t);
      run('umoci', ['raw', 'add-layer', '--image', `${layout}:t`, f]);
    }
    const described = await compareWithUmoci(`${layout}:t`, 'umoci');
    // The scenarios the comparison covers really are in the result (so an empty tree cannot pass).
    const paths = described.map((d) => d.path);
    for (const p of ['etc/conf.d/c', 'etc/conf.d/d', 'etc/hostname2/child', 'usr/lib/libnew.so', 'usr/bin/h2', 'home/user/new', LONG, GNU_LONG, 'opt/日本語/ファイル.txt']) expect(paths).toContain(p);
    for (const p of ['etc/hostname', 'var/cache', 'etc/conf.d/a', 'usr/bin/tool', 'home/user/.bashrc', 'opt/café/inner']) expect(paths).not.toContain(p);
    expect(described.find((d) => d.path === 'etc/shadow')?.mode).toBe(0o600);
    expect(described.find((d) => d.path === 'dev/null')).toMatchObject({ type: 'char', dev: '1:3' });
    expect(described.find((d) => d.path === 'usr/bin/ping')?.xattrs?.['user.bin']).toBe(Buffer.from(BIN_XATTR).toString('base64'));
  });

  it('on a layout herd\'s fixtures wrote (gzip layers, hand-made index.json)', async () => {
    await writeLayout(join(work, 'herd-layout'), 'v1', { layers: tars });
    await compareWithUmoci(`${join(work, 'herd-layout')}:v1`, 'herd');
  });
});

describe('skopeo conversions', () => {
  it('oci, oci-archive and docker-archive copies of one image give the same tree', async () => {
    const layout = join(work, 'herd-layout');
    await writeLayout(layout, 'v1', { layers: tars });
    run('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci:${layout}:v1`, `oci-archive:${join(work, 'img.oci.tar')}:v1`]);
    run('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci:${layout}:v1`, `docker-archive:${join(work, 'img.docker.tar')}:herd/test:v1`]);
    // A separate cache each, so every format's blobs are really read and verified.
    const cache = (n: string): LayerCache => layerCache(join(work, `cache-skopeo-${n}`));
    const fromOci = (await herdTree(`oci:${layout}:v1`, cache('oci'))).described;
    expect(fromOci.length).toBeGreaterThan(40);
    expect((await herdTree('oci-archive:img.oci.tar:v1', cache('oci-archive'))).described).toEqual(fromOci);
    expect((await herdTree('docker-archive:img.docker.tar:herd/test:v1', cache('docker-archive'))).described).toEqual(fromOci);
    expect((await herdTree('docker-archive:img.docker.tar', cache('docker-archive-2'))).described).toEqual(fromOci);
  });
});
