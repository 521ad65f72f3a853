// Integration: herd builds every node's __SYSTEM__ and __RUNTIME__ from a real image (busybox rootfs with munge and slurm
// users) and a head root (fresh munge key, SSH host keys, Warewulf 4.6.5's wwinit/wwclient from the upstream tarball).
// A change rebuilds exactly the nodes it touches; a rebuilt image rebuilds the overlays that read its accounts; missing
// head files leave overlays pending; clashes and secrets are handled as the issue demands.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSpecAt, type CompileResult } from '../../src/pipeline.ts';
import { contentEntries, type Artifact } from '../../src/artifacts/artifact.ts';
import { ensureDebianKernel } from './qemu/kernel-cache.ts';
import { buildTinyRootfs } from './qemu/tiny-rootfs.ts';
import { makeHeadRoot, warewulfOracleDir } from '../fixtures/head-root.ts';
import { addSlurmStubs } from '../fixtures/stub-rootfs.ts';
import { runHerd } from '../fixtures/run-herd.ts';

const CACHE = fileURLToPath(new URL('../.cache', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'herd-overlay-build-'));
const heads: string[] = [];
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  for (const h of heads) rmSync(h, { recursive: true, force: true });
});

const spec = (c2Address = '10.9.0.3'): string => `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: tiny
warewulf: { version: "4.6.5", layout: upstream }
head: { name: head, address: 10.9.0.1 }
network: { cidr: 10.9.0.0/24, interface: eth0, gateway: 10.9.0.1, dns: [10.9.0.1] }
images:
  tiny:
    source: dir:rootfs
    pins: { munge: 995 }
    requires: [slurmd, munged]
defaults: { image: tiny, driver: e1000, memory: 512MiB, cpus: 1, device: eth0 }
nodes:
  c1: { mac: "52:54:00:12:34:56", address: 10.9.0.2 }
  c2: { mac: "52:54:00:12:34:57", address: ${c2Address} }
slurm:
  partitions:
    normal: { nodes: "c[1-2]", default: true }
`;

const specDir = join(work, 'cluster');
let head: string;
let first: CompileResult;
const get = (r: CompileResult, suffix: string): Artifact | undefined => r.artifacts?.artifacts.find((a) => a.path.endsWith(suffix));
const compile = (headRoot: string, cacheDir = join(work, 'cache')) => compileSpecAt(specDir, work, { headRoot, cacheDir, sourceDateEpoch: 1_700_000_000, workers: 1 });
const errors = (r: CompileResult) => r.diagnostics.filter((d) => d.severity === 'error');

async function bytesOf(a: Artifact): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of a.produce!()) parts.push(c);
  return Buffer.concat(parts);
}

beforeAll(async () => {
  if (!warewulfOracleDir()) throw new Error('the Warewulf 4.6.5 tarball (../shared/oracles/warewulf) is needed for wwinit/wwclient');
  const kernel = await ensureDebianKernel(CACHE);
  buildTinyRootfs(join(specDir, 'rootfs'), { kernel, modules: ['e1000'], mtime: 1_700_000_000 });
  addSlurmStubs(join(specDir, 'rootfs'));
  writeFileSync(join(specDir, 'cluster.yaml'), spec());
  head = makeHeadRoot();
  heads.push(head);
  first = await compile(head);
}, 600_000);

describe('per-node overlays from a real image and head', () => {
  it('builds both stages for both nodes, in Warewulf 4.6.5\'s provision layout, with their impacts', () => {
    expect(errors(first), JSON.stringify(errors(first), null, 2)).toEqual([]);
    for (const n of ['c1', 'c2']) {
      for (const f of ['__SYSTEM__.img', '__SYSTEM__.img.gz', '__RUNTIME__.img', '__RUNTIME__.img.gz']) {
        const a = get(first, `var/lib/warewulf/provision/overlays/${n}/${f}`);
        expect(a, `${n}/${f}`).toBeDefined();
        expect(a!.kind).toBe('overlay');
        expect(a!.nodes).toEqual([n]);
        expect(a!.impact.class).toBe(f.startsWith('__SYSTEM__') ? 'reboot' : 'runtime-refresh');
      }
      // The munge key and host keys ride in __SYSTEM__: owner-only.
      expect(get(first, `overlays/${n}/__SYSTEM__.img`)!.mode).toBe(0o600);
    }
    expect(first.artifacts!.pending ?? []).toEqual([]);
  });

  it('puts the node\'s own settings and Warewulf\'s wwinit in __SYSTEM__, owned and moded as a node needs them', async () => {
    const sys = get(first, 'overlays/c1/__SYSTEM__.img')!;
    const idx = new Map(contentEntries(sys.contents)!.map((e) => [e.path, e]));
    expect(idx.get('init')).toMatchObject({ type: 'file', mode: 0o755, origin: 'wwinit' });
    expect(idx.get('warewulf/config')).toMatchObject({ mode: 0o600, origin: 'wwinit' });
    expect(idx.get('etc/munge/munge.key')).toMatchObject({ mode: 0o400, uid: 995, gid: 995, hidden: 'secret', origin: 'herd-boot' });
    expect(idx.get('etc/ssh/ssh_host_ed25519_key')).toMatchObject({ mode: 0o600, hidden: 'secret' });
    expect(idx.get('etc/NetworkManager/system-connections/herd-provision.nmconnection')).toMatchObject({ mode: 0o600, uid: 0 });
    // GNU cpio reads the archive herd made and finds c1's own values.
    const dir = join(work, 'x-c1');
    mkdirSync(dir, { recursive: true });
    execFileSync('cpio', ['-idm', '--quiet', '-D', dir], { input: await bytesOf(sys) });
    expect(readFileSync(join(dir, 'etc/hostname'), 'utf8')).toBe('c1\n');
    expect(readFileSync(join(dir, 'etc/NetworkManager/system-connections/herd-provision.nmconnection'), 'utf8')).toMatch(/^address1=10\.9\.0\.2\/24,10\.9\.0\.1$/m);
    expect(readFileSync(join(dir, 'warewulf/config'), 'utf8')).toContain('WWHOSTNAME=c1\n');
    expect(readFileSync(join(dir, 'etc/munge/munge.key')).equals(readFileSync(join(head, 'etc/munge/munge.key')))).toBe(true);
  });

  it('gives __RUNTIME__ the image\'s accounts after pins plus the site\'s users, hosts and slurm.conf', async () => {
    const dir = join(work, 'x-c1-rt');
    mkdirSync(dir, { recursive: true });
    execFileSync('cpio', ['-idm', '--quiet', '-D', dir], { input: await bytesOf(get(first, 'overlays/c1/__RUNTIME__.img')!) });
    const passwd = readFileSync(join(dir, 'etc/passwd'), 'utf8');
    expect(passwd).toMatch(/^munge:x:995:995:/m); // pinned in the image
    expect(passwd).toMatch(/^alice:x:1001:1001:/m); // the head's site user
    expect(readFileSync(join(dir, 'etc/hosts'), 'utf8')).toMatch(/^10\.9\.0\.3\s+c2$/m);
    expect(readFileSync(join(dir, 'etc/slurm/slurm.conf'), 'utf8')).toMatch(/^NodeName=c\[1-2\] NodeAddr=10\.9\.0\.\[2-3\] /m);
    expect(statSync(join(dir, 'root/.ssh')).mode & 0o777).toBe(0o700);
  });

  it('GNU cpio and bsdtar list every overlay archive identically (names, types, modes, owners, sizes)', async () => {
    for (const a of first.artifacts!.artifacts.filter((x) => x.kind === 'overlay')) {
      const file = join(work, `list-${a.path.replaceAll('/', '_')}`);
      writeFileSync(file, await bytesOf(a));
      const env = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };
      // Both print ls -l style lines: mode, links, owner, group, size, date, name (bsdtar -v -n: numeric owners).
      const norm = (out: string): string[] => out.trim().split('\n').map((l) => { const f = l.split(/\s+/); return [f[0], f[2], f[3], f[0]!.startsWith('d') ? '' : f[4], f.slice(8).join(' ')].join(' '); });
      const gnu = norm(execFileSync('sh', ['-c', `gzip -dcf < '${file}' | cpio -itv --quiet --numeric-uid-gid`], { encoding: 'utf8', env }));
      const bsd = norm(execFileSync('bsdtar', ['-tvnf', file, '--numeric-owner'], { encoding: 'utf8', env }));
      expect(bsd, a.path).toEqual(gnu);
      if (!a.path.endsWith('.gz')) expect(gnu.length, a.path).toBe(contentEntries(a.contents)!.length);
    }
  });

  it('rebuilds nothing when nothing changed, and gives the same hashes', async () => {
    const index = join(work, 'cache', 'overlays', 'index.json');
    const stamp = (): string => { const st = statSync(index, { bigint: true }); return `${st.ino}:${st.mtimeNs}:${st.size}`; };
    const before = stamp();
    const again = await compile(head);
    expect(again.imageSummary!.join('\n')).toMatch(/overlays: 0 built, 4 unchanged/);
    // Nothing packed and nothing else used: the cache index is not written again.
    expect(stamp()).toBe(before);
    for (const a of first.artifacts!.artifacts.filter((x) => x.kind === 'overlay')) expect(get(again, a.path)!.sha256, a.path).toBe(a.sha256);
  });

  it('is byte-reproducible from an empty cache, and each .img.gz unpacks to its .img', async () => {
    const fresh = await compile(head, join(work, 'cache-fresh'));
    for (const a of first.artifacts!.artifacts.filter((x) => x.kind === 'overlay')) expect(get(fresh, a.path)!.sha256, a.path).toBe(a.sha256);
    const img = get(first, 'overlays/c2/__SYSTEM__.img')!;
    const gz = get(first, 'overlays/c2/__SYSTEM__.img.gz')!;
    const bytes = await bytesOf(img);
    expect(execFileSync('gzip', ['-dc'], { input: await bytesOf(gz) }).equals(bytes)).toBe(true);
    expect(execFileSync('sha256sum', [], { input: bytes, encoding: 'utf8' }).slice(0, 64)).toBe(img.sha256);
  });

  it('changing c2\'s address rebuilds c2\'s __SYSTEM__ only, and every __RUNTIME__ (hosts)', async () => {
    writeFileSync(join(specDir, 'cluster.yaml'), spec('10.9.0.4'));
    try {
      const r = await compile(head);
      expect(errors(r)).toEqual([]);
      // c2's __SYSTEM__, and one __RUNTIME__ archive (c1's and c2's are the same bytes: hosts, users, slurm.conf).
      expect(r.imageSummary!.join('\n')).toMatch(/overlays: 2 built, 2 unchanged/);
      expect(get(r, 'overlays/c1/__SYSTEM__.img')!.sha256).toBe(get(first, 'overlays/c1/__SYSTEM__.img')!.sha256);
      expect(get(r, 'overlays/c2/__SYSTEM__.img')!.sha256).not.toBe(get(first, 'overlays/c2/__SYSTEM__.img')!.sha256);
      for (const n of ['c1', 'c2']) expect(get(r, `overlays/${n}/__RUNTIME__.img`)!.sha256).not.toBe(get(first, `overlays/${n}/__RUNTIME__.img`)!.sha256);
      // Same size, new content: the keyfile's mtime moved, so wwclient will rewrite it on a running node.
      const before = contentEntries(get(first, 'overlays/c2/__SYSTEM__.img')!.contents)!.find((e) => e.path.endsWith('.nmconnection'))!;
      const after = contentEntries(get(r, 'overlays/c2/__SYSTEM__.img')!.contents)!.find((e) => e.path.endsWith('.nmconnection'))!;
      expect(after.size).toBe(before.size);
      expect(after.sha256).not.toBe(before.sha256);
    } finally {
      writeFileSync(join(specDir, 'cluster.yaml'), spec());
    }
  });

  it('a rebuilt image with a new account rebuilds the overlays that read its accounts (the seed\'s stale-passwd trap)', async () => {
    const passwd = join(specDir, 'rootfs', 'etc', 'passwd');
    const saved = readFileSync(passwd);
    appendFileSync(passwd, 'chrony:x:996:996::/var/lib/chrony:/sbin/nologin\n');
    try {
      const r = await compile(head);
      expect(errors(r)).toEqual([]);
      for (const n of ['c1', 'c2']) {
        const rt = get(r, `overlays/${n}/__RUNTIME__.img`)!;
        expect(rt.sha256).not.toBe(get(first, `overlays/${n}/__RUNTIME__.img`)!.sha256);
        expect(contentEntries(rt.contents)!.find((e) => e.path === 'etc/passwd')!.sha256).not.toBe(contentEntries(get(first, `overlays/${n}/__RUNTIME__.img`)!.contents)!.find((e) => e.path === 'etc/passwd')!.sha256);
      }
    } finally {
      writeFileSync(passwd, saved);
    }
  });

  it('leaves __SYSTEM__ pending, naming the munge key, when the head has none; __RUNTIME__ still builds', async () => {
    const bare = makeHeadRoot({ mungeKey: false });
    heads.push(bare);
    const r = await compile(bare);
    expect(errors(r)).toEqual([]);
    const pending = r.artifacts!.pending ?? [];
    expect(pending.map((p) => p.prefix).filter((p) => p.includes('/provision/overlays/'))).toEqual(['var/lib/warewulf/provision/overlays/c1/__SYSTEM__.img', 'var/lib/warewulf/provision/overlays/c2/__SYSTEM__.img']);
    expect(pending.find((p) => p.prefix.includes('/provision/overlays/'))!.reason).toContain('/etc/munge/munge.key does not exist on this machine');
    // The Warewulf templates of herd's overlays wait for every node's overlays: all of them are kept as applied.
    expect(pending.find((p) => p.prefix === 'var/lib/warewulf/overlays/')?.reason).toContain('wait until the overlays of c[1-2] are built');
    expect(r.artifacts!.artifacts.filter((a) => a.path.startsWith('var/lib/warewulf/overlays/'))).toEqual([]);
    expect(get(r, 'overlays/c1/__SYSTEM__.img')).toBeUndefined();
    expect(get(r, 'overlays/c1/__RUNTIME__.img')).toBeDefined();
    const w = r.diagnostics.find((d) => d.rule === 'overlay/pending')!;
    expect(w.message).toContain('system overlays of c[1-2] are pending');
  });

  it('takes wwinit from a site copy that shadows the distribution one, as Warewulf does, and refuses an edited template', async () => {
    const shadow = makeHeadRoot();
    heads.push(shadow);
    mkdirSync(join(shadow, 'var/lib/warewulf/overlays'), { recursive: true });
    execFileSync('cp', ['-a', join(shadow, 'usr/share/warewulf/overlays/wwinit'), join(shadow, 'var/lib/warewulf/overlays/wwinit')]);
    appendFileSync(join(shadow, 'var/lib/warewulf/overlays/wwinit/rootfs/warewulf/config.ww'), 'WWEXTRA={{ .Tags.extra }}\n');
    const r = await compile(shadow);
    const d = r.diagnostics.filter((x) => x.rule === 'overlay/template-changed');
    expect(d.length, JSON.stringify(r.diagnostics, null, 2)).toBeGreaterThan(0);
    expect(d[0]!.message).toContain('/var/lib/warewulf/overlays');
    expect(r.artifacts).toBeUndefined();
  });

  it('refuses a site user whose name the image has with another ID, naming both entries', async () => {
    const clash = makeHeadRoot({ install: false, sitePasswd: 'munge2:x:1001:1001::/:/bin/sh\nslurm:x:1002:1002::/:/bin/sh\n' });
    heads.push(clash);
    const r = await compile(clash);
    const d = r.diagnostics.filter((x) => x.rule === 'overlay/account-clash');
    expect(d.length).toBeGreaterThan(0);
    expect(d.map((x) => x.message).join('\n')).toMatch(/slurm.*64030.*1002|slurm.*1002.*64030/);
    expect(r.artifacts).toBeUndefined();
  });

  it('shows the munge key only by hash: its bytes appear in no plan format and no log', async () => {
    const key = readFileSync(join(head, 'etc/munge/munge.key'));
    const root = join(work, 'target');
    for (const format of ['text', 'json', 'markdown']) {
      const r = await runHerd(['plan', specDir, '--root', root, '--format', format], work, { env: { HERD_HEAD_ROOT: head } });
      const out = r.stdout + r.stderr;
      for (const enc of ['hex', 'base64'] as const) expect(out.includes(key.toString(enc).slice(0, 40)), `${format} ${enc}`).toBe(false);
      expect(out.includes(key.subarray(0, 32).toString('latin1'))).toBe(false);
    }
    const applied = await runHerd(['apply', specDir, '--root', root, '--yes'], work, { env: { HERD_HEAD_ROOT: head } });
    expect(applied.code, applied.stderr).toBe(0);
    const sys = join(root, 'var/lib/warewulf/provision/overlays/c1/__SYSTEM__.img');
    expect(statSync(sys).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'var/lib/warewulf/provision/overlays/c1/__RUNTIME__.img')).mode & 0o777).toBe(0o644);
  }, 300_000);

  it('reports an overlay image rebuilt behind herd\'s back (wwctl overlay build) as drift, and apply puts herd\'s back', async () => {
    const root = join(work, 'target');
    const env = { env: { HERD_HEAD_ROOT: head } };
    expect((await runHerd(['apply', specDir, '--root', root, '--yes'], work, env)).code).toBe(0);
    expect((await runHerd(['plan', specDir, '--root', root, '--detailed-exitcode'], work, env)).code).toBe(0);
    // What `wwctl overlay build` does: a fresh archive of Warewulf's own templates with new mtimes, same file name.
    const sys = join(root, 'var/lib/warewulf/provision/overlays/c2/__SYSTEM__.img');
    const fake = join(work, 'ww-rebuilt');
    mkdirSync(join(fake, 'etc'), { recursive: true });
    writeFileSync(join(fake, 'etc/hostname'), 'c2\n');
    const rebuilt = execFileSync('sh', ['-c', `cd '${fake}' && find etc -print | cpio -o -H newc --quiet`]);
    writeFileSync(sys, rebuilt);
    const plan = await runHerd(['plan', specDir, '--root', root, '--detailed-exitcode', '--format', 'json'], work, env);
    expect(plan.code, plan.stderr).toBe(2);
    const j = (JSON.parse(plan.stdout) as { result: { changes: { path: string; drift: { kind: string } | null }[] } }).result;
    const c = j.changes.find((x) => x.path === 'var/lib/warewulf/provision/overlays/c2/__SYSTEM__.img')!;
    expect(c.drift?.kind).toBe('content');
    expect(j.changes.filter((x) => x.drift !== null).map((x) => x.path)).toEqual(['var/lib/warewulf/provision/overlays/c2/__SYSTEM__.img']);
    const refused = await runHerd(['apply', specDir, '--root', root, '--yes'], work, env);
    expect(refused.code).not.toBe(0); // drift is not overwritten silently
    const forced = await runHerd(['apply', specDir, '--root', root, '--yes', '--overwrite-drift'], work, env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(execFileSync('sha256sum', [sys], { encoding: 'utf8' }).slice(0, 64)).toBe(get(first, 'overlays/c2/__SYSTEM__.img')!.sha256);
  }, 300_000);
});
