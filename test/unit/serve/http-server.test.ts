import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeServeCommand } from '../../../src/cli/commands/serve.ts';
import { ConfinedDir } from '../../../src/fs/confined-dir.ts';
import { compileSpecAt } from '../../../src/pipeline.ts';
import { formatLogLine, startServe, unixDate, type RunningServer } from '../../../src/serve/http-server.ts';
import { serveModelOf } from '../../../src/serve/serve-model.ts';
import type { ClusterModel } from '../../../src/spec/model.ts';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const C1 = '52:54:00:aa:00:01';
const S = 'srv/warewulf';
const IMG_BYTES = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));

let scratch: string;
let root: string;
let outside: string;
let lab: ClusterModel;
let server: RunningServer;
let secureServer: RunningServer;
let log = '';

function put(rel: string, bytes: Buffer | string): void {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), bytes);
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'herd-serve-unit-'));
  root = join(scratch, 'root');
  outside = join(scratch, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'TOP SECRET');
  put(`${S}/provision/images/rockylinux-10.img`, IMG_BYTES);
  put(`${S}/provision/images/rockylinux-10.img.gz`, 'gz bytes');
  put(`${S}/chroots/rockylinux-10/rootfs/lib/modules/6.12.0-55.el10.x86_64/vmlinuz`, 'kernel bytes');
  put(`${S}/provision/overlays/c1/__SYSTEM__.img`, 'system');
  put(`${S}/provision/overlays/c1/__RUNTIME__.img`, 'runtime');
  // Planted: c1's system .gz is a symlink out of the root, and c2's whole overlay folder is one.
  mkdirSync(join(root, `${S}/provision/overlays/c1`), { recursive: true });
  symlinkSync(join(outside, 'secret'), join(root, `${S}/provision/overlays/c1/__SYSTEM__.img.gz`));
  symlinkSync(outside, join(root, `${S}/provision/overlays/c2`));
  writeFileSync(join(outside, '__SYSTEM__.img'), 'TOP SECRET');
  const r = await compileSpecAt('clusters/lab', REPO, { images: false });
  lab = r.model!;
  const common = { rootDisplay: root, host: '127.0.0.1', port: 0, log: (l: string) => (log += l) };
  server = await startServe({ ...common, root: ConfinedDir.open(root, { what: 'root' }), model: (port) => serveModelOf(lab, { port, secure: false }) });
  secureServer = await startServe({ ...common, root: ConfinedDir.open(root, { what: 'root' }), model: (port) => serveModelOf(lab, { port, secure: true }) });
});

afterAll(async () => {
  await server?.close();
  await secureServer?.close();
  rmSync(scratch, { recursive: true, force: true });
});

interface Reply {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

function get(path: string, opts: { method?: string; headers?: Record<string, string>; localPort?: number; port?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: opts.port ?? server.port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {}, ...(opts.localPort ? { localPort: opts.localPort, agent: false } : {}) }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('herd serve over HTTP', () => {
  it('listens on 127.0.0.1 and serves the iPXE script with the bound port', async () => {
    expect(server.host).toBe('127.0.0.1');
    const r = await get(`/ipxe/${C1.replaceAll(':', '-')}`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text');
    expect(r.body.toString()).toContain(`set baseuri http://10.0.0.1:${server.port}/provision/${C1}\n`);
  });

  it('serves files whole, as HEAD (headers only) and as one range (206 with Content-Range)', async () => {
    const full = await get(`/provision/${C1}?stage=image`);
    expect(full.status).toBe(200);
    expect(full.body.equals(IMG_BYTES)).toBe(true);
    expect(full.headers['accept-ranges']).toBe('bytes');
    expect(full.headers['last-modified']).toMatch(/GMT$/);
    const head = await get(`/provision/${C1}?stage=image`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('4096');
    expect(head.body.length).toBe(0);
    const part = await get(`/provision/${C1}?stage=image`, { headers: { Range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe('bytes 100-199/4096');
    expect(part.body.equals(IMG_BYTES.subarray(100, 200))).toBe(true);
    const tail = await get(`/provision/${C1}?stage=image`, { headers: { Range: 'bytes=-6' } });
    expect(tail.body.equals(IMG_BYTES.subarray(4090))).toBe(true);
    const headPart = await get(`/provision/${C1}?stage=image`, { method: 'HEAD', headers: { Range: 'bytes=0-9' } });
    expect([headPart.status, headPart.headers['content-length'], headPart.body.length]).toEqual([206, '10', 0]);
  });

  it('answers 416 for a range that cannot be satisfied', async () => {
    const r = await get(`/provision/${C1}?stage=image`, { headers: { Range: 'bytes=4096-' } });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe('bytes */4096');
    expect((await get(`/provision/${C1}?stage=image`, { headers: { Range: 'bytes=9-3' } })).status).toBe(416);
  });

  it('gives an unknown MAC the unconfigured script and logs it as warewulfd does', async () => {
    const r = await get('/provision/52-54-00-FF-FF-01');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toContain('HW address: 52:54:00:ff:ff:01');
    expect(log).toMatch(/^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}\] request from hwaddr:52:54:00:ff:ff:01 ipaddr:127\.0\.0\.1:\d+ \| stage:ipxe\n\[[^\]]+\] WARN {3}: node not configured: 52:54:00:ff:ff:01\n\[[^\]]+\] ERROR {2}: 52:54:00:ff:ff:01 \(unknown\/unconfigured node\)\n/m);
  });

  it.each([
    ['a `..` in the path', '/provision/../../../../etc/passwd', 301],
    ['an encoded `..`', '/provision/%2e%2e/%2e%2e/%2e%2e/etc/passwd', 301],
    ['an absolute path after the prefix', '//etc/passwd', 404],
    ['a path outside every route', '/etc/passwd', 404],
    ['a MAC with encoded slashes', `/provision/${encodeURIComponent('../../../../etc/passwd')}?stage=image`, 301],
    ['a MAC with encoded slashes and no dots', `/provision/${encodeURIComponent('x/etc/passwd')}?stage=image`, 400],
    ['a symlink planted at a served file', `/provision/${C1}?stage=system&compress=gz`, 404],
    ['a node folder that is a symlink out of the root', '/provision/52:54:00:aa:00:02?stage=system', 404],
    ['an overlay set naming a path', `/provision/${C1}?stage=system&overlay=..%2F..%2F..%2F..%2Fetc%2Fpasswd`, 400],
  ])('never serves a file outside the root: %s', async (_l, path, status) => {
    const r = await get(path);
    expect(r.status).toBe(status);
    expect(r.body.toString()).not.toContain('TOP SECRET');
    expect(r.body.toString()).not.toContain('root:');
  });

  it('refuses the runtime overlay to an unprivileged source port with 401 when secure, and logs DENIED', async () => {
    const r = await get(`/overlay-runtime/${C1}`, { port: secureServer.port });
    expect(r.status).toBe(401);
    expect(log).toMatch(/DENIED : Non-privileged port: 127\.0\.0\.1:\d+\n/);
    expect((await get(`/overlay-runtime/${C1}`)).body.toString()).toBe('runtime');
  });

  it.skipIf(process.getuid?.() !== 0)('serves the runtime overlay to a privileged source port when secure (needs root to bind one)', async () => {
    const r = await get(`/overlay-runtime/${C1}`, { port: secureServer.port, localPort: 987 });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('runtime');
  });

  it('keeps serving after a file it served is replaced, as herd apply does (rename over it)', async () => {
    unlinkSync(join(root, `${S}/provision/overlays/c1/__RUNTIME__.img`));
    put(`${S}/provision/overlays/c1/__RUNTIME__.img`, 'runtime v2');
    expect((await get(`/overlay-runtime/${C1}`)).body.toString()).toBe('runtime v2');
  });
});

describe('log format', () => {
  it('stamps lines with Go\'s UnixDate and prefixes levels as wwlog does at the default level', () => {
    const t = new Date(Date.UTC(2026, 0, 5, 3, 4, 5));
    expect(unixDate(t)).toBe('Mon Jan  5 03:04:05 UTC 2026');
    expect(formatLogLine({ level: 'INFO', message: 'send x -> c1' }, t)).toBe('[Mon Jan  5 03:04:05 UTC 2026] send x -> c1\n');
    expect(formatLogLine({ level: 'DENIED', message: 'no' }, t)).toBe('[Mon Jan  5 03:04:05 UTC 2026] DENIED : no\n');
  });
});

describe('herd serve (the command)', () => {
  function io() {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (c) => (err += String(c)));
    return { io: { stdin: Readable.from([]), stdout, stderr, env: {}, cwd: REPO }, err: () => err };
  }

  it('serves the root for the spec until stopped, then closes and exits 0', async () => {
    const { io: streams, err } = io();
    let seen: Reply | undefined;
    const cmd = makeServeCommand({
      compile: compileSpecAt,
      untilStopped: async (s) => {
        expect(s.host).toBe('127.0.0.1');
        seen = await get(`/provision/${C1}?stage=kernel`, { port: s.port });
      },
    });
    const code = await cmd.run({ positionals: ['clusters/lab'], values: { root, listen: '127.0.0.1:0' } }, { io: streams, format: 'text', color: false, interactive: false });
    expect(code).toBe(0);
    expect(seen?.status).toBe(200);
    expect(seen?.body.toString()).toBe('kernel bytes');
    expect(err()).toMatch(/herd serve: serving .* for \d+ nodes of lab on http:\/\/127\.0\.0\.1:\d+\n/);
    expect(err()).toContain(`request from hwaddr:${C1} ipaddr:127.0.0.1:`);
    expect(err()).toContain('herd serve: stopped\n');
  });

  it('refuses a bad --listen and a missing root with exit 3 failures', async () => {
    const { io: streams } = io();
    const cmd = makeServeCommand({ compile: compileSpecAt, untilStopped: async () => {} });
    const ctx = { io: streams, format: 'text' as const, color: false, interactive: false };
    await expect(cmd.run({ positionals: ['clusters/lab'], values: { root, listen: 'nonsense:port' } }, ctx)).rejects.toMatchObject({ kind: 'herd-failure', rule: 'cli/usage' });
    await expect(cmd.run({ positionals: ['clusters/lab'], values: { root, listen: '127.0.0.1:0', advertise: '9873' } }, ctx)).rejects.toMatchObject({ kind: 'herd-failure', rule: 'cli/usage' });
    await expect(cmd.run({ positionals: ['clusters/lab'], values: { root: join(scratch, 'nope'), listen: '127.0.0.1:0' } }, ctx)).rejects.toMatchObject({ kind: 'herd-failure' });
  });
});
