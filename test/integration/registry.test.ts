// pullImage against a real docker-registry on 127.0.0.1, filled by skopeo from OCI layouts built here; skopeo also checks the results.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA } from '../../src/image/registry/manifest.ts';
import { pullImage, type PullOptions, type PullResult } from '../../src/image/registry/pull.ts';

const exec = promisify(execFile);
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hex = (d: string) => d.slice('sha256:'.length);

let work = '';
let registry: ChildProcess | undefined;
const servers: Server[] = [];
let regHost = '';
let proxy: { host: string; log: string[]; corrupt: Set<string> };
const pushed: Record<string, { manifest: string; layers: string[] }> = {};

async function tool(cmd: string, args: string[]): Promise<string> {
  try {
    return (await exec(cmd, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function tarGz(files: Record<string, string>): Promise<{ gz: Buffer; diffId: string }> {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  const tar = Buffer.concat(chunks);
  return { gz: gzipSync(tar), diffId: sha(tar) };
}

type Arch = { architecture: string; variant?: string };

// One OCI image as blobs: two gzip layers, a config with correct diff_ids, and the manifest.
async function makeImage(arch: Arch, seed: string): Promise<{ blobs: Buffer[]; desc: Record<string, unknown>; layers: string[] }> {
  const l1 = await tarGz({ 'etc/os-release': `ID=herdtest\nARCH=${arch.architecture}\n` });
  const l2 = await tarGz({ [`usr/share/herd/${seed}`]: `${seed}\n`.repeat(2000) });
  const config = Buffer.from(JSON.stringify({ ...arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [l1.diffId, l2.diffId] }, config: { Env: ['PATH=/usr/bin'] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: sha(config), size: config.length },
      layers: [l1.gz, l2.gz].map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(b), size: b.length })),
    }),
  );
  return {
    blobs: [l1.gz, l2.gz, config, manifest],
    desc: { mediaType: MEDIA.ociManifest, digest: sha(manifest), size: manifest.length, platform: { os: 'linux', ...arch } },
    layers: [sha(l1.gz), sha(l2.gz)],
  };
}

async function writeLayout(dir: string, blobs: Buffer[], top: Record<string, unknown>, tag: string): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const b of blobs) await writeFile(join(dir, 'blobs', 'sha256', hex(sha(b))), b);
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const { platform: _p, ...desc } = top;
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...desc, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
}

async function push(layout: string, tag: string, dest: string, all = false): Promise<void> {
  await tool('skopeo', ['--insecure-policy', 'copy', '--quiet', ...(all ? ['--all'] : []), '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${regHost}/${dest}`]);
}

// Forwards to the registry, logs every request, and flips one byte of any response whose path is in `corrupt`.
async function startProxy(targetPort: number): Promise<typeof proxy> {
  const log: string[] = [];
  const corrupt = new Set<string>();
  const server = createServer((q, r) => {
    log.push(`${q.method} ${q.url}`);
    const up = request({ host: '127.0.0.1', port: targetPort, method: q.method, path: q.url, headers: q.headers }, (res) => {
      if (!corrupt.has(q.url ?? '')) {
        r.writeHead(res.statusCode ?? 502, res.headers);
        res.pipe(r);
        return;
      }
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const body = Buffer.concat(parts);
        body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 0x20;
        r.writeHead(res.statusCode ?? 502, res.headers).end(body);
      });
    });
    up.on('error', () => r.writeHead(502).end());
    q.pipe(up);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { host: `127.0.0.1:${(server.address() as { port: number }).port}`, log, corrupt };
}

// A loopback-only fetch: a routing bug must fail the test, never reach a real registry.
const guarded: PullOptions['fetch'] = (input, init) => {
  const u = new URL(String(input));
  return u.hostname === '127.0.0.1' ? fetch(input, init) : Promise.reject(new Error(`test tried to reach ${u.host}`));
};

async function cacheDir(): Promise<string> {
  return mkdtemp(join(work, 'cache-'));
}

async function cacheFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['blobs/sha256', 'layouts/sha256', 'tmp']) out.push(...(await readdir(join(dir, sub)).catch(() => [])).map((f) => `${sub}/${f}`));
  return out;
}

// The layout must satisfy skopeo (inspect, and a copy that re-verifies every blob) and hash correctly file by file.
async function checkLayout(res: PullResult, arch: string): Promise<void> {
  const info = JSON.parse(await tool('skopeo', ['inspect', `oci:${res.layoutDir}`])) as { Digest: string; Architecture: string; Os: string; Layers: string[] };
  expect(info).toMatchObject({ Digest: res.manifestDigest, Architecture: arch, Os: 'linux', Layers: res.layers.map((l) => l.digest) });
  await tool('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci:${res.layoutDir}`, `dir:${await mkdtemp(join(work, 'copy-'))}`]);
  const index = JSON.parse(await readFile(join(res.layoutDir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  expect(index.manifests.map((m) => m.digest)).toEqual([res.manifestDigest]);
  const names = await readdir(join(res.layoutDir, 'blobs', 'sha256'));
  expect(names.map((n) => `sha256:${n}`).sort()).toEqual([res.manifestDigest, res.configDigest, ...res.layers.map((l) => l.digest)].sort());
  for (const n of names) expect(sha(await readFile(join(res.layoutDir, 'blobs', 'sha256', n)))).toBe(`sha256:${n}`);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'herd-registry-it-'));
  for (const bin of ['docker-registry', 'skopeo']) {
    await tool('sh', ['-c', `command -v ${bin}`]).catch(() => {
      throw new Error(`${bin} is not installed; CI must install the Debian package ${bin}`);
    });
  }
  const port = await freePort();
  regHost = `127.0.0.1:${port}`;
  const config = `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(work, 'storage')}\nhttp:\n  addr: ${regHost}\n  secret: herd-test\n`;
  await writeFile(join(work, 'config.yml'), config);
  const child = spawn('docker-registry', ['serve', join(work, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  registry = child;
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://${regHost}/v2/`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (i > 100 || child.exitCode !== null) throw new Error(`docker-registry did not come up on ${regHost}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  proxy = await startProxy(port);

  const amd = await makeImage({ architecture: 'amd64' }, 'amd64');
  const arm = await makeImage({ architecture: 'arm64', variant: 'v8' }, 'arm64');
  const victim = await makeImage({ architecture: 'amd64' }, 'victim');
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [amd.desc, arm.desc] }));
  const lay = join(work, 'layout');
  await writeLayout(join(lay, 'single'), amd.blobs, amd.desc, 'v1');
  await writeLayout(join(lay, 'multi'), [...amd.blobs, ...arm.blobs, index], { mediaType: MEDIA.ociIndex, digest: sha(index), size: index.length }, 'v1');
  await writeLayout(join(lay, 'victim'), victim.blobs, victim.desc, 'v1');
  await push(join(lay, 'single'), 'v1', 'test/img:v1');
  await push(join(lay, 'multi'), 'v1', 'test/multi:v1', true);
  await push(join(lay, 'victim'), 'v1', 'test/victim:v1');
  await push(join(lay, 'single'), 'v1', 'library/busybox:latest');
  await tool('skopeo', ['--insecure-policy', 'copy', '--quiet', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${join(lay, 'single')}:v1`, `docker://${regHost}/test/docker:v1`]);
  pushed.amd = { manifest: amd.desc.digest as string, layers: amd.layers };
  pushed.arm = { manifest: arm.desc.digest as string, layers: arm.layers };
  pushed.victim = { manifest: victim.desc.digest as string, layers: victim.layers };
  pushed.index = { manifest: sha(index), layers: [] };
});

afterAll(async () => {
  if (registry && registry.exitCode === null) {
    const exited = new Promise((r) => registry?.once('exit', r));
    registry.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  if (work) await rm(work, { recursive: true, force: true });
});

describe('pullImage from docker-registry', () => {
  it('pulls by tag and by digest into a layout that skopeo reads and verifies', async () => {
    const dir = await cacheDir();
    const byTag = await pullImage(`docker://${regHost}/test/img:v1`, { cacheDir: dir, fetch: guarded });
    const remote = JSON.parse(await tool('skopeo', ['inspect', '--tls-verify=false', `docker://${regHost}/test/img:v1`])) as { Digest: string };
    expect(byTag).toMatchObject({ manifestDigest: remote.Digest, resolvedDigest: pushed.amd?.manifest, platform: { os: 'linux', architecture: 'amd64' } });
    await checkLayout(byTag, 'amd64');
    const byDigest = await pullImage(`docker://${regHost}/test/img@${remote.Digest}`, { cacheDir: await cacheDir(), fetch: guarded });
    expect({ ...byDigest, layoutDir: '', downloaded: null }).toEqual({ ...byTag, layoutDir: '', downloaded: null, reference: `${regHost}/test/img@${remote.Digest}` });
    await checkLayout(byDigest, 'amd64');
  });

  it('pulls a Docker schema2 image as skopeo pushed it', async () => {
    const raw = await tool('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${regHost}/test/docker:v1`]);
    expect(JSON.parse(raw).mediaType).toBe(MEDIA.dockerManifest);
    const res = await pullImage(`${regHost}/test/docker:v1`, { cacheDir: await cacheDir(), fetch: guarded });
    expect(res).toMatchObject({ manifestDigest: sha(Buffer.from(raw)), manifestMediaType: MEDIA.dockerManifest });
    await checkLayout(res, 'amd64');
  });

  it('selects amd64 by default and arm64 when asked from a pushed OCI index', async () => {
    const raw = JSON.parse(await tool('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${regHost}/test/multi:v1`])) as { manifests: { digest: string; platform: { architecture: string } }[] };
    const byArch = Object.fromEntries(raw.manifests.map((m) => [m.platform.architecture, m.digest]));
    const dir = await cacheDir();
    const amd = await pullImage(`${regHost}/test/multi:v1`, { cacheDir: dir, fetch: guarded });
    const arm = await pullImage(`${regHost}/test/multi:v1`, { cacheDir: dir, fetch: guarded, platform: 'linux/arm64' });
    expect(amd).toMatchObject({ manifestDigest: byArch.amd64, resolvedDigest: pushed.index?.manifest, platform: { architecture: 'amd64' } });
    expect(arm).toMatchObject({ manifestDigest: byArch.arm64, resolvedDigest: pushed.index?.manifest, platform: { architecture: 'arm64', variant: 'v8' } });
    await checkLayout(amd, 'amd64');
    await checkLayout(arm, 'arm64');
    await expect(pullImage(`${regHost}/test/multi:v1`, { cacheDir: dir, fetch: guarded, platform: 'linux/riscv64' })).rejects.toMatchObject({ code: 'IMAGE.PLATFORM_NOT_FOUND', message: expect.stringContaining('linux/amd64, linux/arm64/v8') });
  });

  it('fails clearly on a digest the registry does not have, caching nothing', async () => {
    const dir = await cacheDir();
    const wrong = `sha256:${'e'.repeat(64)}`;
    await expect(pullImage(`docker://${regHost}/test/img:v1@${wrong}`, { cacheDir: dir, fetch: guarded })).rejects.toMatchObject({
      code: 'IMAGE.MANIFEST_NOT_FOUND',
      message: expect.stringMatching(new RegExp(`manifest ${wrong} of .* not found on http://${regHost}: MANIFEST_UNKNOWN`)),
    });
    expect(await cacheFiles(dir)).toEqual([]);
  });

  it('rejects a manifest altered in transit, caching nothing', async () => {
    const dir = await cacheDir();
    const path = `/v2/test/img/manifests/${pushed.amd?.manifest}`;
    proxy.corrupt.add(path);
    try {
      await expect(pullImage(`${proxy.host}/test/img@${pushed.amd?.manifest}`, { cacheDir: dir, fetch: guarded })).rejects.toMatchObject({ code: 'IMAGE.DIGEST_MISMATCH' });
    } finally {
      proxy.corrupt.delete(path);
    }
    expect(await cacheFiles(dir)).toEqual([]);
  });

  it('rejects a blob corrupted in the registry storage, caching nothing', async () => {
    const layer = pushed.victim?.layers[1] ?? '';
    const file = join(work, 'storage', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex(layer).slice(0, 2), hex(layer), 'data');
    const good = await readFile(file);
    const bad = Buffer.from(good);
    bad[bad.length >> 1] = (bad[bad.length >> 1] ?? 0) ^ 0xff;
    await writeFile(file, bad);
    const dir = await cacheDir();
    try {
      await expect(pullImage(`${regHost}/test/victim:v1`, { cacheDir: dir, fetch: guarded })).rejects.toMatchObject({ code: 'IMAGE.DIGEST_MISMATCH', message: expect.stringContaining(layer) });
    } finally {
      await writeFile(file, good);
    }
    expect(await cacheFiles(dir)).toEqual([]);
    expect((await pullImage(`${regHost}/test/victim:v1`, { cacheDir: dir, fetch: guarded })).layers[1]?.digest).toBe(layer);
  });

  it('serves a second pull from the cache: no blob GETs by tag, no requests at all by digest', async () => {
    const dir = await cacheDir();
    const first = await pullImage(`${proxy.host}/test/multi:v1`, { cacheDir: dir, fetch: guarded });
    expect(proxy.log.filter((l) => l.includes('/blobs/')).length).toBeGreaterThan(0);
    proxy.log.length = 0;
    const again = await pullImage(`${proxy.host}/test/multi:v1`, { cacheDir: dir, fetch: guarded });
    expect(proxy.log).toEqual(['GET /v2/test/multi/manifests/v1']);
    expect(again.layoutDir).toBe(first.layoutDir);
    proxy.log.length = 0;
    const pinned = await pullImage(`${proxy.host}/test/multi:v1@${first.resolvedDigest}`, { cacheDir: dir, fetch: guarded });
    expect(proxy.log).toEqual([]);
    expect(pinned.manifestDigest).toBe(first.manifestDigest);
  });

  it('routes a Docker Hub reference to the mirror', async () => {
    proxy.log.length = 0;
    const res = await pullImage('docker://busybox', { cacheDir: await cacheDir(), fetch: guarded, mirror: `http://${proxy.host}` });
    expect(res).toMatchObject({ reference: 'docker.io/library/busybox:latest', manifestDigest: pushed.amd?.manifest });
    expect(proxy.log[0]).toBe('GET /v2/library/busybox/manifests/latest');
    expect(proxy.log.filter((l) => l.includes('/v2/library/busybox/blobs/'))).toHaveLength(3);
    await checkLayout(res, 'amd64');
  });
});
