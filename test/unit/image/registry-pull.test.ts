// pullImage against a fake distribution server on 127.0.0.1: Bearer token flow, redirects, mirrors, verification and the cache.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { MEDIA } from '../../../src/image/registry/manifest.ts';
import { pullImage, type PullOptions } from '../../../src/image/registry/pull.ts';

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

interface Logged { path: string; auth?: string; accept?: string; status: number }
interface Fake {
  base: string;
  host: string;
  log: Logged[];
  blobs: Map<string, Buffer>;
  manifests: Map<string, { body: Buffer; type: string }>;
  mode: { auth: 'none' | 'bearer' | 'basic'; tokenStatus: number; redirect: boolean; tamper: Set<string>; extra: Set<string> };
  storageLog: Logged[];
}

const servers: Server[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function listen(handler: (q: IncomingMessage, r: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

// A distribution v2 server reduced to what a pull needs; every request is logged so tests can count them.
async function startFake(): Promise<Fake> {
  const fake = { log: [], storageLog: [], blobs: new Map(), manifests: new Map(), mode: { auth: 'none', tokenStatus: 200, redirect: false, tamper: new Set(), extra: new Set() } } as unknown as Fake;
  const serveBlob = (digest: string, r: ServerResponse) => {
    const b = fake.blobs.get(digest);
    if (!b) return void r.writeHead(404).end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown' }] }));
    let body = fake.mode.tamper.has(digest) ? Buffer.from(b.map((x, i) => (i === 0 ? x ^ 1 : x))) : b;
    if (fake.mode.extra.has(digest)) body = Buffer.concat([body, Buffer.from('junk')]);
    r.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  };
  const storage = await listen((q, r) => {
    fake.storageLog.push({ path: q.url ?? '', auth: q.headers.authorization, status: 200 });
    serveBlob(decodeURIComponent(new URL(q.url ?? '', 'http://x').pathname.split('/')[2] ?? ''), r);
  });
  const { port } = await listen((q, r) => {
    const url = new URL(q.url ?? '', 'http://x');
    const entry: Logged = { path: url.pathname + url.search, auth: q.headers.authorization, accept: q.headers.accept, status: 200 };
    fake.log.push(entry);
    const send = (status: number, headers: Record<string, string | number>, body?: Buffer | string) => {
      entry.status = status;
      r.writeHead(status, headers).end(body);
    };
    if (url.pathname === '/token') {
      const scope = url.searchParams.get('scope') ?? '';
      if (url.searchParams.get('service') !== 'fake-registry' || !scope.startsWith('repository:')) return send(400, {});
      return send(fake.mode.tokenStatus, { 'content-type': 'application/json' }, JSON.stringify({ token: `tok ${scope}` }));
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) return send(404, {});
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    if (fake.mode.auth === 'basic' && q.headers.authorization === undefined) return send(401, { 'www-authenticate': 'Basic realm="fake"' });
    if (fake.mode.auth === 'bearer' && q.headers.authorization !== `Bearer tok repository:${repo}:pull`) {
      return send(401, { 'www-authenticate': `Bearer realm="${fake.base}/token",service="fake-registry",scope="repository:${repo}:pull"` }, JSON.stringify({ errors: [{ code: 'UNAUTHORIZED' }] }));
    }
    if (kind === 'blobs') {
      if (fake.mode.redirect) return send(307, { location: `http://127.0.0.1:${storage.port}/storage/${ref}?sig=1` });
      return serveBlob(ref, r);
    }
    const man = fake.manifests.get(`${repo}@${ref}`);
    if (!man) return send(404, { 'content-type': 'application/json' }, JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
    const body = fake.mode.tamper.has(ref) ? Buffer.concat([man.body, Buffer.from(' ')]) : man.body;
    send(200, { 'content-type': man.type, 'docker-content-digest': sha(man.body), 'content-length': body.length }, body);
  });
  fake.host = `127.0.0.1:${port}`;
  fake.base = `http://${fake.host}`;
  return fake;
}

type Arch = { os: string; architecture: string; variant?: string };
function addImage(fake: Fake, repo: string, arch: Arch, seed: string, docker = false): { digest: string; size: number; layers: string[]; config: string } {
  const layers = [1, 2].map((i) => Buffer.from(`${seed}-layer-${i}-`.repeat(500 * i)));
  const config = json({ ...arch, rootfs: { type: 'layers', diff_ids: [] }, config: {} });
  for (const b of [...layers, config]) fake.blobs.set(sha(b), b);
  const manifest = json({
    schemaVersion: 2,
    mediaType: docker ? MEDIA.dockerManifest : MEDIA.ociManifest,
    config: { mediaType: docker ? MEDIA.dockerConfig : MEDIA.ociConfig, digest: sha(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(l), size: l.length })),
  });
  fake.manifests.set(`${repo}@${sha(manifest)}`, { body: manifest, type: docker ? MEDIA.dockerManifest : MEDIA.ociManifest });
  return { digest: sha(manifest), size: manifest.length, layers: layers.map(sha), config: sha(config) };
}

function tag(fake: Fake, repo: string, name: string, digest: string) {
  const m = fake.manifests.get(`${repo}@${digest}`);
  if (!m) throw new Error('no such manifest');
  fake.manifests.set(`${repo}@${name}`, m);
}

async function cacheFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['blobs/sha256', 'layouts/sha256', 'tmp']) out.push(...(await readdir(join(dir, sub)).catch(() => [])).map((f) => `${sub}/${f}`));
  return out;
}

async function newCache(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'herd-reg-unit-'));
  dirs.push(d);
  return d;
}

// Refuses anything but loopback, so a routing bug cannot leak a request to a real registry.
const guardedFetch: PullOptions['fetch'] = (input, init) => {
  const u = new URL(String(input));
  if (u.hostname !== '127.0.0.1') return Promise.reject(new Error(`test tried to reach ${u.host}`));
  return fetch(input, init);
};

let fake: Fake;
let img: ReturnType<typeof addImage>;
beforeEach(async () => {
  fake = await startFake();
  img = addImage(fake, 'test/img', { os: 'linux', architecture: 'amd64' }, 'a');
  tag(fake, 'test/img', 'v1', img.digest);
});

describe('pullImage against a fake registry', () => {
  it('gets an anonymous Bearer token once and sends it on every later request', async () => {
    fake.mode.auth = 'bearer';
    const cacheDir = await newCache();
    const res = await pullImage(`docker://${fake.host}/test/img:v1`, { cacheDir, fetch: guardedFetch });
    expect(res).toMatchObject({ manifestDigest: img.digest, configDigest: img.config, resolvedDigest: img.digest, platform: { os: 'linux', architecture: 'amd64' } });
    expect(res.layers.map((l) => l.digest)).toEqual(img.layers);
    const tokenCalls = fake.log.filter((l) => l.path.startsWith('/token'));
    expect(tokenCalls).toHaveLength(1);
    expect(tokenCalls[0]?.path).toBe('/token?service=fake-registry&scope=repository%3Atest%2Fimg%3Apull');
    const v2 = fake.log.filter((l) => l.path.startsWith('/v2/'));
    expect(v2[0]).toMatchObject({ status: 401, auth: undefined });
    expect(v2.slice(1).every((l) => l.status === 200 && l.auth === 'Bearer tok repository:test/img:pull')).toBe(true);
    expect(v2.slice(1).map((l) => l.path).sort()).toEqual([...img.layers, img.config].map((d) => `/v2/test/img/blobs/${d}`).concat('/v2/test/img/manifests/v1').sort());
    for (const t of [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest]) expect(v2[0]?.accept).toContain(t);
    // The layout holds exactly the manifest, config and layers, each file hashing to its name.
    const index = JSON.parse(await readFile(join(res.layoutDir, 'index.json'), 'utf8'));
    expect(index.manifests).toEqual([{ mediaType: MEDIA.ociManifest, digest: img.digest, size: img.size, platform: { architecture: 'amd64', os: 'linux' } }]);
    expect(JSON.parse(await readFile(join(res.layoutDir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const names = (await readdir(join(res.layoutDir, 'blobs/sha256'))).sort();
    expect(names.map((n) => `sha256:${n}`)).toEqual([img.digest, img.config, ...img.layers].sort());
    for (const n of names) expect(sha(await readFile(join(res.layoutDir, 'blobs/sha256', n)))).toBe(`sha256:${n}`);
  });

  it('fails with IMAGE.REGISTRY_AUTH on a Basic challenge or a refused token', async () => {
    fake.mode.auth = 'basic';
    await expect(pullImage(`${fake.host}/test/img:v1`, { cacheDir: await newCache(), fetch: guardedFetch })).rejects.toMatchObject({ code: 'IMAGE.REGISTRY_AUTH', message: expect.stringContaining('requires credentials') });
    fake.mode.auth = 'bearer';
    fake.mode.tokenStatus = 403;
    await expect(pullImage(`${fake.host}/test/img:v1`, { cacheDir: await newCache(), fetch: guardedFetch })).rejects.toMatchObject({ code: 'IMAGE.REGISTRY_AUTH', message: expect.stringContaining('HTTP 403') });
  });

  it('follows blob redirects to another origin without sending it the registry token', async () => {
    fake.mode.auth = 'bearer';
    fake.mode.redirect = true;
    const res = await pullImage(`${fake.host}/test/img:v1`, { cacheDir: await newCache(), fetch: guardedFetch });
    expect(res.manifestDigest).toBe(img.digest);
    expect(fake.storageLog).toHaveLength(3);
    expect(fake.storageLog.every((l) => l.auth === undefined && l.path.endsWith('?sig=1'))).toBe(true);
  });

  it('serves a second pull from the cache: a tag costs one manifest GET, a digest costs nothing, even offline', async () => {
    const cacheDir = await newCache();
    const first = await pullImage(`${fake.host}/test/img:v1`, { cacheDir, fetch: guardedFetch });
    expect(first.downloaded.blobs).toBe(4);
    const before = fake.log.length;
    const second = await pullImage(`${fake.host}/test/img:v1`, { cacheDir, fetch: guardedFetch });
    expect(fake.log.slice(before).map((l) => l.path)).toEqual(['/v2/test/img/manifests/v1']);
    expect(second).toEqual({ ...first, downloaded: { blobs: 1, bytes: img.size } });
    const mark = fake.log.length;
    let calls = 0;
    const counting: PullOptions['fetch'] = (i, n) => ((calls += 1), guardedFetch(i, n));
    const pinned = await pullImage(`${fake.host}/test/img@${first.resolvedDigest}`, { cacheDir, fetch: counting });
    const offline = await pullImage(`${fake.host}/test/img@${first.resolvedDigest}`, { cacheDir, offline: true });
    expect(calls).toBe(0);
    expect(fake.log.length).toBe(mark);
    expect(pinned.layoutDir).toBe(first.layoutDir);
    expect(offline.downloaded).toEqual({ blobs: 0, bytes: 0 });
    await expect(pullImage(`${fake.host}/test/img:v1`, { cacheDir, offline: true })).rejects.toMatchObject({ code: 'IMAGE.NOT_CACHED' });
  });

  it('selects the platform from a Docker manifest list, variant-aware', async () => {
    const arm = addImage(fake, 'test/img', { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'b', true);
    const amd = addImage(fake, 'test/img', { os: 'linux', architecture: 'amd64' }, 'c', true);
    const list = json({
      schemaVersion: 2,
      mediaType: MEDIA.dockerList,
      manifests: [
        { mediaType: MEDIA.dockerManifest, digest: arm.digest, size: arm.size, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
        { mediaType: MEDIA.dockerManifest, digest: amd.digest, size: amd.size, platform: { architecture: 'amd64', os: 'linux' } },
      ],
    });
    fake.manifests.set('test/img@multi', { body: list, type: MEDIA.dockerList });
    const cacheDir = await newCache();
    const a = await pullImage(`${fake.host}/test/img:multi`, { cacheDir, fetch: guardedFetch });
    const b = await pullImage(`${fake.host}/test/img:multi`, { cacheDir, fetch: guardedFetch, platform: 'linux/arm64' });
    expect(a).toMatchObject({ manifestDigest: amd.digest, resolvedDigest: sha(list), manifestMediaType: MEDIA.dockerManifest, platform: { architecture: 'amd64' } });
    expect(b).toMatchObject({ manifestDigest: arm.digest, resolvedDigest: sha(list), platform: { architecture: 'arm64', variant: 'v8' } });
    expect(JSON.parse(await readFile(join(b.layoutDir, 'index.json'), 'utf8')).manifests[0].platform).toEqual({ architecture: 'arm64', os: 'linux', variant: 'v8' });
    await expect(pullImage(`${fake.host}/test/img:multi`, { cacheDir, fetch: guardedFetch, platform: 'linux/ppc64le' })).rejects.toMatchObject({ code: 'IMAGE.PLATFORM_NOT_FOUND' });
    await expect(pullImage(`${fake.host}/test/img@${arm.digest}`, { cacheDir, fetch: guardedFetch })).rejects.toMatchObject({ code: 'IMAGE.PLATFORM_MISMATCH' });
  });

  it.each([
    ['a tampered layer', 'tamper', 'layer', 'IMAGE.DIGEST_MISMATCH'],
    ['a tampered manifest', 'tamper', 'manifest', 'IMAGE.DIGEST_MISMATCH'],
    ['a layer with trailing junk', 'extra', 'layer', 'IMAGE.SIZE_MISMATCH'],
  ] as const)('rejects %s and leaves nothing in the cache', async (_name, how, what, code) => {
    const target = what === 'layer' ? img.layers[1] : img.digest;
    fake.mode[how].add(target ?? '');
    const cacheDir = await newCache();
    const ref = what === 'manifest' ? `${fake.host}/test/img@${img.digest}` : `${fake.host}/test/img:v1`;
    await expect(pullImage(ref, { cacheDir, fetch: guardedFetch })).rejects.toMatchObject({ code });
    expect(await cacheFiles(cacheDir)).toEqual([]);
  });

  it('reports an unknown digest as not found and caches nothing', async () => {
    const cacheDir = await newCache();
    const wrong = `sha256:${'0'.repeat(64)}`;
    await expect(pullImage(`${fake.host}/test/img:v1@${wrong}`, { cacheDir, fetch: guardedFetch })).rejects.toMatchObject({
      code: 'IMAGE.MANIFEST_NOT_FOUND',
      message: expect.stringContaining(`manifest ${wrong} of ${fake.host}/test/img:v1@${wrong} not found on ${fake.base}: MANIFEST_UNKNOWN`),
    });
    expect(await cacheFiles(cacheDir)).toEqual([]);
  });

  it('routes through the mirror, and to the origin only when fallback is on', async () => {
    const m = addImage(fake, 'library/busybox', { os: 'linux', architecture: 'amd64' }, 'd');
    tag(fake, 'library/busybox', 'latest', m.digest);
    const res = await pullImage('docker://busybox', { cacheDir: await newCache(), fetch: guardedFetch, mirror: fake.base });
    expect(res).toMatchObject({ manifestDigest: m.digest, reference: 'docker.io/library/busybox:latest' });
    const dead = await listen(() => undefined);
    await new Promise((r) => dead.server.close(r));
    const mirror = `http://127.0.0.1:${dead.port}`;
    await expect(pullImage(`${fake.host}/test/img:v1`, { cacheDir: await newCache(), fetch: guardedFetch, mirror })).rejects.toMatchObject({ code: 'IMAGE.REGISTRY_UNREACHABLE', message: expect.stringContaining('ECONNREFUSED') });
    const viaOrigin = await pullImage(`${fake.host}/test/img:v1`, { cacheDir: await newCache(), fetch: guardedFetch, mirror, fallbackToOrigin: true });
    expect(viaOrigin.manifestDigest).toBe(img.digest);
  });
});
