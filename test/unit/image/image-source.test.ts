import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImageSource, type OpenImageOptions } from '../../../src/image/source/open-image-source.ts';
import { parseImageRef } from '../../../src/image/source/source-ref.ts';
import { layerCache } from '../../../src/image/tree/content-store.ts';
import { describeTree } from '../../fixtures/oci/describe.ts';
import { putBlob, putImage, sha256, tarLayer, tarOfFiles, writeIndex, writeLayout, type LayerEntry } from '../../fixtures/oci/build.ts';

const work = mkdtempSync(join(tmpdir(), 'herd-image-source-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const opts: OpenImageOptions = { baseDir: work, scratchDir: work };

const L1: LayerEntry[] = [
  { name: 'etc', type: 'directory' },
  { name: 'etc/os-release', content: 'ID=herd\n' },
  { name: 'etc/hostname', content: 'base\n' },
  { name: 'usr', type: 'directory' },
  { name: 'usr/bin', type: 'directory' },
  { name: 'usr/bin/sh', content: '#!sh', mode: 0o755 },
  { name: 'usr/bin/ash', type: 'link', linkname: 'usr/bin/sh' },
  { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
];
const L2: LayerEntry[] = [
  { name: 'etc/.wh.hostname', content: '' },
  { name: 'etc/motd', content: 'hello', uid: 1000, gid: 1000 },
];
const EXPECTED_PATHS = ['bin', 'etc', 'etc/motd', 'etc/os-release', 'usr', 'usr/bin', 'usr/bin/ash', 'usr/bin/sh'];

let tar1: Buffer;
let tar2: Buffer;
beforeAll(async () => {
  tar1 = await tarLayer(L1);
  tar2 = await tarLayer(L2);
});

let cacheN = 0;
/** Build twice: into a fresh cache (decompress, verify, tee) and again from the cache (headers only); both must agree. */
async function treeOf(ref: string, o: OpenImageOptions = opts) {
  const src = await openImageSource(ref, o);
  try {
    const cache = layerCache(join(work, `cache-${cacheN++}`));
    const hits: boolean[] = [];
    const described = await describeTree(await src.buildTree({ cache, onLayer: (_l, _i, _s, hit) => hits.push(hit) }));
    const again = await describeTree(await src.buildTree({ cache, onLayer: (_l, _i, _s, hit) => hits.push(hit) }));
    expect(again).toEqual(described);
    expect(hits).toEqual([...src.layers.map(() => false), ...src.layers.map(() => true)]);
    return { src, described };
  } finally {
    await src.close();
  }
}

async function filesUnder(dir: string): Promise<{ name: string; data: Buffer }[]> {
  const out: { name: string; data: Buffer }[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.push({ name: relative(dir, join(e.parentPath, e.name)), data: await readFile(join(e.parentPath, e.name)) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

describe('oci: layouts', () => {
  it('reads a tagged image: config, layers in order, whiteouts applied, hard links kept', async () => {
    await writeLayout(join(work, 'layout'), 'v1', { layers: [tar1, tar2], env: ['A=1'] });
    const { src, described } = await treeOf('oci:layout:v1');
    expect(src.config).toMatchObject({ os: 'linux', architecture: 'amd64', env: ['A=1'] });
    expect(src.layers.map((l) => l.diffId)).toEqual([sha256(tar1), sha256(tar2)]);
    expect(described.map((d) => d.path)).toEqual(EXPECTED_PATHS);
    // ash sorts first, so it carries the data and sh is the link.
    expect(described.find((d) => d.path === 'usr/bin/ash')).toMatchObject({ mode: 0o755 });
    expect(described.find((d) => d.path === 'usr/bin/ash')?.hardlinkTo).toBeUndefined();
    expect(described.find((d) => d.path === 'usr/bin/sh')).toMatchObject({ hardlinkTo: 'usr/bin/ash' });
    expect(described.find((d) => d.path === 'etc/motd')).toMatchObject({ uid: 1000, sha256: createHash('sha256').update('hello').digest('hex') });
    // The only image is found without a tag too; a wrong tag names the ones there are.
    expect((await treeOf('oci:layout')).described).toEqual(described);
    await expect(openImageSource('oci:layout:nope', opts)).rejects.toMatchObject({ code: 'no-matching-manifest', message: expect.stringContaining('tags: v1') });
    // Two images and no tag: which one is ambiguous.
    const two = join(work, 'two');
    const a = await putImage(two, { layers: [tar1] });
    const b = await putImage(two, { layers: [tar1, tar2] });
    await writeIndex(two, [{ ...a, annotations: { 'org.opencontainers.image.ref.name': 'a' } }, { ...b, annotations: { 'org.opencontainers.image.ref.name': 'b' } }]);
    await expect(openImageSource('oci:two', opts)).rejects.toMatchObject({ code: 'no-matching-manifest', message: expect.stringContaining('several images') });
    expect((await treeOf('oci:two:b')).described).toEqual(described);
  });

  it('follows an image index to the requested platform (linux/amd64 by default)', async () => {
    const dir = join(work, 'multi');
    const amd = await putImage(dir, { layers: [tar1] });
    const arm = await putImage(dir, { layers: [tar1, tar2], architecture: 'arm64' });
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [
      { ...arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd.digest, size: amd.size, platform: { os: 'unknown', architecture: 'unknown' } },
    ] };
    const idx = await putBlob(dir, 'application/vnd.oci.image.index.v1+json', Buffer.from(JSON.stringify(index)));
    await writeIndex(dir, [{ ...idx, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }]);
    const amdTree = await treeOf('oci:multi:multi');
    expect(amdTree.src.manifestDigest).toBe(amd.digest);
    expect(amdTree.described.map((d) => d.path)).toContain('etc/hostname');
    const armTree = await treeOf('oci:multi:multi', { ...opts, platform: { os: 'linux', architecture: 'aarch64' } });
    expect(armTree.src.manifestDigest).toBe(arm.digest);
    await expect(openImageSource('oci:multi:multi', { ...opts, platform: { os: 'linux', architecture: 'riscv64' } })).rejects.toMatchObject({
      code: 'no-matching-manifest',
      message: expect.stringContaining('available: linux/arm64/v8, linux/amd64'),
    });
  });

  it('refuses a single-platform image built for another architecture', async () => {
    await writeLayout(join(work, 'arm'), 'a', { layers: [tar1], architecture: 'arm64' });
    await expect(openImageSource('oci:arm:a', opts)).rejects.toMatchObject({ code: 'no-matching-manifest', message: expect.stringContaining('linux/arm64, not linux/amd64') });
  });

  it('a layer blob that does not match its digest fails naming the blob, and leaves nothing in the store', async () => {
    const dir = join(work, 'tampered');
    const m = await writeLayout(dir, 't', { layers: [tar1, tar2] });
    const manifest = JSON.parse((await readFile(join(dir, 'blobs', 'sha256', m.digest.slice(7)))).toString()) as { layers: { digest: string }[] };
    const bad = manifest.layers[1]?.digest.slice(7) as string;
    await writeFile(join(dir, 'blobs', 'sha256', bad), zlib.gzipSync(await tarLayer([{ name: 'evil', content: 'EVIL CONTENT' }])));
    const cache = layerCache(join(work, 'cache-tampered'));
    const src = await openImageSource('oci:tampered:t', opts);
    const err = await src.buildTree({ cache }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'digest-mismatch', file: join(dir, 'blobs', 'sha256', bad) });
    expect((err as Error).message).toContain(`but the image says sha256:${bad}`);
    // Layer 1 verified and stays cached; nothing of layer 2 is, not even in tmp/.
    expect(await cache.has(sha256(tar1))).toBe(true);
    expect(await cache.has(sha256(tar2))).toBe(false);
    expect(readdirSync(join(work, 'cache-tampered', 'layers', 'sha256'))).toEqual([`${sha256(tar1).slice(7)}.tar`]);
    expect(readdirSync(join(work, 'cache-tampered', 'tmp'))).toEqual([]);
    // Garbage (not even gzip) is reported as the digest mismatch it is, not as a gzip error.
    await writeFile(join(dir, 'blobs', 'sha256', bad), Buffer.from('\x1f\x8bgarbage'));
    await expect(src.buildTree({ cache })).rejects.toMatchObject({ code: 'digest-mismatch' });
  });

  it('a bad entry mid-layer fails with the layer and entry named, and closes the blob it was reading', async () => {
    const big = Buffer.alloc(4 << 20);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    const bad = await tarLayer([{ name: 'big', content: big }, { name: 'l', type: 'link', linkname: 'missing' }, { name: 'after', content: big }]);
    await writeLayout(join(work, 'badentry'), 'b', { layers: [tar1, bad] });
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    const src = await openImageSource('oci:badentry:b', opts);
    await expect(src.buildTree({ cache: layerCache(join(work, 'cache-badentry')) })).rejects.toMatchObject({
      code: 'bad-layer-entry',
      message: expect.stringMatching(/^layer 2\/2 .*blobs\/sha256\/[0-9a-f]{64}: l: hard link to \/missing/),
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(fds()).toBe(before);
    expect(readdirSync(join(work, 'cache-badentry', 'tmp'))).toEqual([]);
  });

  it('a tampered manifest fails when the source is opened', async () => {
    const dir = join(work, 'badmanifest');
    const m = await writeLayout(dir, 't', { layers: [tar1] });
    const path = join(dir, 'blobs', 'sha256', m.digest.slice(7));
    await writeFile(path, (await readFile(path)).toString().replace('"schemaVersion":2', '"schemaVersion":2 '));
    await expect(openImageSource('oci:badmanifest:t', opts)).rejects.toMatchObject({ code: 'digest-mismatch', file: path });
  });

  it('zstd layers: decompressed where Node has zstd, otherwise a clear error with a way out', async () => {
    const z = zlib as unknown as { zstdCompressSync?: (b: Buffer) => Buffer };
    const dir = join(work, 'zstd');
    const blob = z.zstdCompressSync === undefined ? Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tar1]) : z.zstdCompressSync(tar1);
    const layer = await putBlob(dir, 'application/vnd.oci.image.layer.v1.tar+zstd', blob);
    const cfg = await putBlob(dir, 'application/vnd.oci.image.config.v1+json', Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(tar1)] } })));
    const man = await putBlob(dir, 'application/vnd.oci.image.manifest.v1+json', Buffer.from(JSON.stringify({ schemaVersion: 2, config: cfg, layers: [layer] })));
    await writeIndex(dir, [man]);
    const run = treeOf('oci:zstd');
    if (z.zstdCompressSync === undefined) await expect(run).rejects.toMatchObject({ code: 'unsupported', message: expect.stringContaining('zstd needs Node >= 22.15'), hint: expect.stringContaining('--dest-compress-format gzip') });
    else expect((await run).described.map((d) => d.path)).toContain('usr/bin/sh');
  });
});

describe('archives', () => {
  it('oci-archive: reads blobs in place from the tar and gives the same tree as the layout', async () => {
    const layout = join(work, 'layout');
    writeFileSync(join(work, 'layout.tar'), await tarOfFiles(await filesUnder(layout)));
    expect((await treeOf('oci-archive:layout.tar:v1')).described).toEqual((await treeOf('oci:layout:v1')).described);
  });

  async function legacyDockerArchive(gzipSecondLayer: boolean): Promise<Buffer> {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['D=1'] }, rootfs: { type: 'layers', diff_ids: [sha256(tar1), sha256(tar2)] } }));
    const cfgName = `${sha256(config).slice(7)}.json`;
    const manifest = [{ Config: cfgName, RepoTags: ['herd/test:1'], Layers: ['aaa/layer.tar', 'bbb/layer.tar'] }];
    return tarOfFiles([
      { name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) },
      { name: cfgName, data: config },
      { name: 'aaa/layer.tar', data: tar1 },
      { name: 'bbb/layer.tar', data: gzipSecondLayer ? zlib.gzipSync(tar2) : tar2 },
    ]);
  }

  it('docker-archive (classic docker save): selects by tag, verifies diff_ids, accepts gzip layers', async () => {
    writeFileSync(join(work, 'docker.tar'), await legacyDockerArchive(true));
    const expected = (await treeOf('oci:layout:v1')).described;
    const { src, described } = await treeOf('docker-archive:docker.tar:herd/test:1');
    expect(src.config?.env).toEqual(['D=1']);
    expect(described).toEqual(expected);
    expect((await treeOf('docker-archive:docker.tar')).described).toEqual(expected);
    expect((await treeOf('docker-archive:docker.tar:docker.io/herd/test:1')).described).toEqual(expected);
    await expect(openImageSource('docker-archive:docker.tar:other:2', opts)).rejects.toMatchObject({ code: 'no-matching-manifest', message: expect.stringContaining('herd/test:1') });
  });

  it('docker-archive compressed as a whole (docker save | gzip): spilled to scratch, removed on close', async () => {
    writeFileSync(join(work, 'docker.tar.gz'), zlib.gzipSync(await legacyDockerArchive(false)));
    const scratch = join(work, 'scratch');
    mkdirSync(scratch);
    const src = await openImageSource('docker-archive:docker.tar.gz', { ...opts, scratchDir: scratch });
    expect(readdirSync(scratch)).toHaveLength(1);
    expect(await describeTree(await src.buildTree({ cache: layerCache(join(work, 'cache-gz')) }))).toEqual((await treeOf('oci:layout:v1')).described);
    await src.close();
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('docker-archive from Docker >= 25 (an OCI layout plus manifest.json) and a tampered layer in it', async () => {
    const dir = join(work, 'docker25');
    const l1 = await putBlob(dir, 'application/vnd.oci.image.layer.v1.tar', tar1);
    const l2 = await putBlob(dir, 'application/vnd.oci.image.layer.v1.tar', tar2);
    const cfg = await putBlob(dir, 'application/vnd.oci.image.config.v1+json', Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [l1.digest, l2.digest] } })));
    const man = await putBlob(dir, 'application/vnd.oci.image.manifest.v1+json', Buffer.from(JSON.stringify({ schemaVersion: 2, config: cfg, layers: [l1, l2] })));
    await writeIndex(dir, [{ ...man, annotations: { 'org.opencontainers.image.ref.name': '1', 'io.containerd.image.name': 'docker.io/herd/test:1' } }]);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: `blobs/sha256/${cfg.digest.slice(7)}`, RepoTags: ['herd/test:1'], Layers: [l1, l2].map((l) => `blobs/sha256/${l.digest.slice(7)}`) }]));
    writeFileSync(join(work, 'docker25.tar'), await tarOfFiles(await filesUnder(dir)));
    expect((await treeOf('docker-archive:docker25.tar:herd/test:1')).described).toEqual((await treeOf('oci:layout:v1')).described);
    const files = (await filesUnder(dir)).map((f) => (f.name === `blobs/sha256/${l2.digest.slice(7)}` ? { ...f, data: tar1 } : f));
    writeFileSync(join(work, 'docker25-bad.tar'), await tarOfFiles(files));
    await expect(treeOf('docker-archive:docker25-bad.tar')).rejects.toMatchObject({ code: 'digest-mismatch', file: `${join(work, 'docker25-bad.tar')}!blobs/sha256/${l2.digest.slice(7)}` });
  });
});

describe('rootfs inputs', () => {
  it('tar: a gzip rootfs tarball, whiteout-looking names kept', async () => {
    writeFileSync(join(work, 'rootfs.tar.gz'), zlib.gzipSync(Buffer.concat([await tarLayer([...L1, { name: 'etc/.wh.kept', content: 'x' }])])));
    const { src, described } = await treeOf('tar:rootfs.tar.gz');
    expect(src.config).toBeUndefined();
    expect(described.map((d) => d.path)).toEqual(['bin', 'etc', 'etc/.wh.kept', 'etc/hostname', 'etc/os-release', 'usr', 'usr/bin', 'usr/bin/ash', 'usr/bin/sh']);
  });

  it('dir: walks a rootfs with lstat: types, modes, symlinks, hard links by inode, fifos', async () => {
    const root = join(work, 'rootfs');
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    writeFileSync(join(root, 'usr/bin/sh'), '#!sh', { mode: 0o755 });
    linkSync(join(root, 'usr/bin/sh'), join(root, 'usr/bin/ash'));
    symlinkSync('usr/bin', join(root, 'bin'));
    writeFileSync(join(root, 'empty'), '');
    execFileSync('mkfifo', ['-m', '0600', join(root, 'fifo')]);
    const { described } = await treeOf('dir:rootfs');
    expect(described.map((d) => [d.path, d.type, d.hardlinkTo ?? d.linkname ?? ''])).toEqual([
      ['bin', 'symlink', 'usr/bin'],
      ['empty', 'file', ''],
      ['fifo', 'fifo', ''],
      ['usr', 'directory', ''],
      ['usr/bin', 'directory', ''],
      ['usr/bin/ash', 'file', ''],
      ['usr/bin/sh', 'file', 'usr/bin/ash'],
    ]);
    expect(described.find((d) => d.path === 'usr/bin/ash')).toMatchObject({ mode: 0o755, sha256: createHash('sha256').update('#!sh').digest('hex') });
    expect(described.find((d) => d.path === 'fifo')?.mode).toBe(0o600);
  });
});

describe('parseImageRef', () => {
  it('splits transport, path (relative to the spec) and tag the way skopeo does', () => {
    expect(parseImageRef('oci:images/rocky:9.5', '/spec')).toEqual({ transport: 'oci', path: '/spec/images/rocky', tag: '9.5' });
    expect(parseImageRef('oci-archive:/abs/x.tar', '/spec')).toEqual({ transport: 'oci-archive', path: '/abs/x.tar' });
    expect(parseImageRef('docker-archive:x.tar:quay.io/a/b:1', '/spec')).toEqual({ transport: 'docker-archive', path: '/spec/x.tar', reference: 'quay.io/a/b:1' });
    expect(parseImageRef('docker-archive:x.tar:@1', '/spec')).toEqual({ transport: 'docker-archive', path: '/spec/x.tar', sourceIndex: 1 });
    expect(parseImageRef('dir:root:fs', '/spec')).toEqual({ transport: 'dir', path: '/spec/root:fs' });
    expect(parseImageRef('docker://ghcr.io/x/y:1', '/spec')).toEqual({ transport: 'docker', reference: 'ghcr.io/x/y:1' });
    for (const bad of ['rocky:9', 'oci:', 'oci:x:', 'ftp:x']) expect(() => parseImageRef(bad, '/spec')).toThrow(expect.objectContaining({ code: 'bad-source-ref' }));
  });

  it('names missing inputs and wrong kinds clearly', async () => {
    await expect(openImageSource('oci:does-not-exist', opts)).rejects.toMatchObject({ code: 'not-found', message: expect.stringContaining('does-not-exist does not exist') });
    await expect(openImageSource('oci:rootfs.tar.gz', opts)).rejects.toMatchObject({ code: 'bad-source-ref', hint: expect.stringContaining('oci-archive:') });
    mkdirSync(join(work, 'plain'), { recursive: true });
    await expect(openImageSource('oci:plain', opts)).rejects.toMatchObject({ code: 'bad-layout', message: expect.stringContaining('no oci-layout file') });
    await expect(openImageSource('docker://x/y', opts)).rejects.toMatchObject({ code: 'unsupported' });
  });
});
