// Integration (issue 14): the admin's habit `wwctl overlay build` on a head herd applied to. herd writes every overlay it
// renders itself as a Warewulf site overlay (src/overlay/warewulf-twin.ts); real Warewulf 4.6.5 (the oracle built from the
// upstream tarball) then builds every node's __SYSTEM__ and __RUNTIME__ from herd's nodes.conf, and each archive holds what
// herd's does: every path, type, mode, owner, content and link target (both archives unpacked by GNU cpio as root).
// The cluster has two images whose slurm ids differ (a site file owned by slurm: one path, two owners), per-node Handlebars files, a symlink, a
// binary without a trailing newline, an empty file, and one node with a file Warewulf's template output would mangle: that
// node's system overlay build fails with herd's reason and leaves its images as they were. Then the condo example itself
// (312 nodes, two images, inventory, site overlays with Handlebars), its images built from the same small rootfs: Warewulf
// builds every node, and every archive equals herd's. Needs root (owners) and the oracle.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDebianKernel } from './qemu/kernel-cache.ts';
import { buildTinyRootfs } from './qemu/tiny-rootfs.ts';
import { makeHeadRoot, warewulfOracleDir } from '../fixtures/head-root.ts';
import { addSlurmStubs } from '../fixtures/stub-rootfs.ts';
import { runHerd } from '../fixtures/run-herd.ts';
import { freePort, get, waitUntilUp } from '../fixtures/local-http.ts';

const CACHE = fileURLToPath(new URL('../.cache', import.meta.url));
const ORACLE = warewulfOracleDir();
const ORACLE_WORK = process.env.WW_ORACLE_WORK ?? '/tmp/ww-oracle';
const BIN = join(ORACLE_WORK, 'bin', 'wworacle');
const HAVE = ORACLE !== undefined && existsSync(BIN) && process.getuid?.() === 0;
const REQUIRED = process.env.CI_REQUIRE_ORACLE === '1';

const work = mkdtempSync(join(tmpdir(), 'herd-ww-twin-'));
let head = '';
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (head) rmSync(head, { recursive: true, force: true });
});

const SPEC = `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: twin
# Warewulf's own default profile's overlays (every network stack among them), herd's two added.
warewulf:
  version: "4.6.5"
  layout: upstream
  base_overlays: [wwinit, wwclient, fstab, hostname, ssh.host_keys, issue, resolv, udev.netname, systemd.netname, ifcfg, NetworkManager, ifupdown, wicked, ignition, herd-boot, hosts, ssh.authorized_keys, syncuser, herd-slurm]
head: { name: head, address: 10.9.0.1 }
network: { cidr: 10.9.0.0/24, interface: eth0, gateway: 10.9.0.1, dns: [10.9.0.1] }
images:
  tiny-a: { source: "dir:rootfs", pins: { munge: 995, slurm: 202 }, requires: [slurmd, munged] }
  tiny-b: { source: "dir:rootfs", pins: { munge: 995, slurm: 203 }, requires: [slurmd, munged] }
overlays:
  site-files: { kind: system, owners: { "etc/site/slurm.conf": "slurm:slurm" }, modes: { "etc/site/slurm.conf": "0640" } }
  site-motd: { kind: runtime }
  odd: { kind: system }
defaults: { image: tiny-a, driver: e1000, memory: 512MiB, cpus: 1, device: eth0, overlays: [site-files, site-motd] }
nodes:
  c1: { mac: "52:54:00:12:34:56", address: 10.9.0.2 }
  c2: { mac: "52:54:00:12:34:57", address: 10.9.0.3, image: tiny-b }
  c3: { mac: "52:54:00:12:34:58", address: 10.9.0.4, overlays: [site-files, site-motd, odd] }
slurm:
  partitions:
    normal: { nodes: "c[1-3]", default: true }
`;

const specDir = join(work, 'cluster');
const root = join(work, 'root');
const wwOut = join(work, 'ww');
let ww: { status: number | null; out: string };
let buildOutput = '';

function put(rel: string, body: string | Uint8Array, mode = 0o644): void {
  const p = join(specDir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, body);
  chmodSync(p, mode);
}

interface Seen {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  content?: string;
  target?: string;
}

/** An overlay archive unpacked by GNU cpio (as root: owners kept), as comparable records. */
function unpack(img: string, into: string): Map<string, Seen> {
  mkdirSync(into, { recursive: true });
  execFileSync('sh', ['-c', 'cpio -idm --quiet --no-absolute-filenames < "$1"', 'sh', img], { cwd: into });
  const seen = new Map<string, Seen>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(into, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(into, r));
      const base = { mode: (st.mode & 0o7777).toString(8), uid: st.uid, gid: st.gid };
      if (st.isSymbolicLink()) seen.set(r, { type: 'symlink', ...base, mode: '', target: readlinkSync(join(into, r)) });
      else if (st.isDirectory()) {
        seen.set(r, { type: 'directory', ...base });
        walk(r);
      } else {
        const bytes = readFileSync(join(into, r));
        const text = bytes.toString('utf8');
        seen.set(r, { type: 'file', ...base, content: /^[\t\n\x20-\x7e]*$/.test(text) && bytes.length < 4096 ? text : `sha256:${createHash('sha256').update(bytes).digest('hex')}` });
      }
    }
  };
  walk('');
  return seen;
}

describe.skipIf(!HAVE && !REQUIRED)("wwctl overlay build on herd's head makes the overlays herd made", () => {
  beforeAll(async () => {
    const kernel = await ensureDebianKernel(CACHE);
    buildTinyRootfs(join(specDir, 'rootfs'), { kernel, modules: ['e1000'], mtime: 1_700_000_000 });
    addSlurmStubs(join(specDir, 'rootfs'));
    writeFileSync(join(specDir, 'cluster.yaml'), SPEC);
    put('overlays/site-files/etc/site/node.conf.hbs', 'node={{ name }}\naddress={{ address }}\n');
    put('overlays/site-files/etc/site/shared.conf', 'the same on every node\n');
    put('overlays/site-files/etc/site/empty', '');
    put('overlays/site-files/etc/site/slurm.conf', 'owned by each image\'s slurm id\n');
    put('overlays/site-files/usr/local/sbin/site-check', '#!/bin/sh\nexit 0\n', 0o755);
    put('overlays/site-files/etc/site/blob.bin', new Uint8Array([0, 1, 2, 0x7b, 0x7b, 10, 255, 254, 13]));
    mkdirSync(join(specDir, 'overlays/site-files/etc/site/current'), { recursive: true });
    symlinkSync('../site/shared.conf', join(specDir, 'overlays/site-files/etc/site/link'));
    put('overlays/site-motd/etc/motd.hbs', 'Welcome to {{ name }}\n');
    // What Warewulf would take for its own marker, not content: c3's system overlay cannot go through Warewulf's templates.
    put('overlays/odd/etc/odd.conf', 'a line\n{{ /* file "elsewhere" */ }}\n');
    head = makeHeadRoot();
    const built = await runHerd(['apply', specDir, '--root', root, '--yes'], work, { env: { HERD_HEAD_ROOT: head } });
    buildOutput = built.stdout + built.stderr;
    expect(built.code, buildOutput).toBe(0);
    // Warewulf's build, its output beside herd's (the images herd wrote stay where warewulfd serves them).
    mkdirSync(wwOut, { recursive: true });
    const r = spawnSync('bash', [join(ORACLE!, 'run.sh'), 'overlay-build', join(root, 'etc/warewulf/nodes.conf'), join(root, 'var/lib/warewulf/overlays'), wwOut], { encoding: 'utf8', maxBuffer: 256 << 20 });
    ww = { status: r.status, out: `${r.stdout}${r.stderr}` };
  }, 900_000);

  it("herd's build warns that c3's system overlay cannot be rebuilt by Warewulf, naming the line, and no other", () => {
    expect(buildOutput).toMatch(/overlay\/warewulf-rebuild[^\n]*\n?[^\n]*wwctl overlay build cannot make the system overlay of c3 as herd built it: \/etc\/odd\.conf holds a line Warewulf would take for its own file or softlink marker/);
    expect(buildOutput.match(/overlay\/warewulf-rebuild/g)).toHaveLength(1);
  });

  it("Warewulf's build fails for c3's system overlay only, with herd's reason", () => {
    expect(ww.status, ww.out).not.toBe(0);
    expect(ww.out).toMatch(/c3 system overlay.*herd: \/etc\/odd\.conf holds a line Warewulf would take for its own file or softlink marker/s);
    expect(existsSync(join(wwOut, 'overlays/c3/__SYSTEM__.img'))).toBe(false);
    for (const n of ['c1', 'c2']) for (const s of ['__SYSTEM__', '__RUNTIME__']) expect(existsSync(join(wwOut, `overlays/${n}/${s}.img`)), `${n} ${s}`).toBe(true);
    expect(existsSync(join(wwOut, 'overlays/c3/__RUNTIME__.img'))).toBe(true);
  });

  for (const [node, stage] of [['c1', '__SYSTEM__'], ['c1', '__RUNTIME__'], ['c2', '__SYSTEM__'], ['c2', '__RUNTIME__'], ['c3', '__RUNTIME__']] as const) {
    it(`${node} ${stage}: Warewulf's archive holds exactly herd's entries`, () => {
      const herd = unpack(join(root, `var/lib/warewulf/provision/overlays/${node}/${stage}.img`), join(work, 'x-herd', node, stage));
      const theirs = unpack(join(wwOut, `overlays/${node}/${stage}.img`), join(work, 'x-ww', node, stage));
      expect(herd.size).toBeGreaterThan(5);
      expect(Object.fromEntries(theirs)).toEqual(Object.fromEntries(herd));
    });
  }

  it("the comparison sees what matters: a file owned by each image's slurm id, the munge key, per-node files", () => {
    const sys = (n: string) => unpack(join(wwOut, `overlays/${n}/__SYSTEM__.img`), join(work, 'y', n));
    const [c1, c2] = [sys('c1'), sys('c2')];
    expect([c1.get('etc/site/slurm.conf')?.uid, c1.get('etc/site/slurm.conf')?.mode]).toEqual([202, '640']);
    expect([c2.get('etc/site/slurm.conf')?.uid, c2.get('etc/site/slurm.conf')?.mode]).toEqual([203, '640']);
    expect(c1.get('etc/munge/munge.key')).toMatchObject({ uid: 995, mode: '400' });
    expect(c1.get('etc/munge/munge.key')?.content).toBe(readFileSync(join(head, 'etc/munge/munge.key')).length === 1024 ? c2.get('etc/munge/munge.key')?.content : 'x');
    expect(c1.get('etc/site/node.conf')?.content).toBe('node=c1\naddress=10.9.0.2\n');
    const motd = unpack(join(wwOut, 'overlays/c2/__RUNTIME__.img'), join(work, 'z')).get('etc/motd');
    expect(motd?.content).toBe('Welcome to c2\n');
    // Every network stack of Warewulf's default profile, as herd renders Warewulf's own templates (several files each).
    for (const p of ['etc/sysconfig/network-scripts/ifcfg-default.conf', 'etc/sysconfig/network', 'etc/network/interfaces.d/default', 'etc/wicked/ifconfig/ifcfg-default.xml', 'warewulf/ignition.json', 'etc/issue', 'etc/resolv.conf']) expect(c1.has(p), p).toBe(true);
    expect(c1.get('etc/sysconfig/network-scripts/ifcfg-default.conf')?.content).toContain('IPADDR=10.9.0.2\n');
  });

  it("herd's plan tells Warewulf's rebuild of an archive (same entries, other bytes) from an edit; apply writes its own back without --overwrite-drift", async () => {
    const env = { env: { HERD_HEAD_ROOT: head } };
    const ours = (n: string, f: string) => join(root, `var/lib/warewulf/provision/overlays/${n}/${f}`);
    for (const f of ['__SYSTEM__.img', '__SYSTEM__.img.gz', '__RUNTIME__.img']) copyFileSync(join(wwOut, 'overlays/c1', f), ours('c1', f));
    // c2's runtime archive in c1's place: other files (c2's motd), so that one is an edit, not a rebuild.
    copyFileSync(join(wwOut, 'overlays/c2/__RUNTIME__.img.gz'), ours('c1', '__RUNTIME__.img.gz'));
    const plan = await runHerd(['plan', specDir, '--root', root, '--format', 'json'], work, env);
    const drifts = JSON.parse(plan.stdout).result.drift as { path: string; kind: string; blocking: boolean; detail?: string }[];
    const drift = (f: string) => drifts.find((a) => a.path === `var/lib/warewulf/provision/overlays/c1/${f}`);
    for (const f of ['__SYSTEM__.img', '__SYSTEM__.img.gz', '__RUNTIME__.img']) expect(drift(f), f).toMatchObject({ kind: 'rebuilt', blocking: false });
    expect(drift('__RUNTIME__.img.gz')).toMatchObject({ kind: 'content', blocking: true });
    const refused = await runHerd(['apply', specDir, '--root', root, '--yes'], work, env);
    expect(refused.code).not.toBe(0);
    expect(readFileSync(ours('c1', '__RUNTIME__.img.gz'))).toEqual(readFileSync(join(wwOut, 'overlays/c2/__RUNTIME__.img.gz')));
    copyFileSync(join(wwOut, 'overlays/c1/__RUNTIME__.img.gz'), ours('c1', '__RUNTIME__.img.gz'));
    // A twin removed by hand: apply makes it again from an unchanged spec (its hash from the build cache, its bytes made anew).
    const hostsTwin = join(root, 'var/lib/warewulf/overlays/hosts');
    const hostsTemplate = readFileSync(join(hostsTwin, 'rootfs/etc/hosts.ww'));
    rmSync(hostsTwin, { recursive: true });
    const applied = await runHerd(['apply', specDir, '--root', root, '--yes'], work, env);
    expect(readFileSync(join(hostsTwin, 'rootfs/etc/hosts.ww'))).toEqual(hostsTemplate);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect((await runHerd(['plan', specDir, '--root', root, '--detailed-exitcode'], work, env)).code).toBe(0);
  });
  it("a twin whose data Warewulf cannot read fails the build with herd's words, rather than giving nodes empty files", () => {
    const data = join(root, 'var/lib/warewulf/overlays/hosts/herd');
    renameSync(data, `${data}.aside`);
    try {
      const out = join(work, 'ww-unreadable');
      mkdirSync(out, { recursive: true });
      const r = spawnSync('bash', [join(ORACLE!, 'run.sh'), 'overlay-build', join(root, 'etc/warewulf/nodes.conf'), join(root, 'var/lib/warewulf/overlays'), out, 'c1'], { encoding: 'utf8', maxBuffer: 256 << 20 });
      expect(r.status).not.toBe(0);
      expect(`${r.stdout}${r.stderr}`).toMatch(/herd: wwctl overlay build cannot read \/var\/lib\/warewulf\/overlays\/hosts\/herd\/blobs\/[0-9a-f]{64} \(herd apply writes it\)/);
      expect(existsSync(join(out, 'overlays/c1/__RUNTIME__.img'))).toBe(false);
    } finally {
      renameSync(`${data}.aside`, data);
    }
  });
  it("warewulfd builds a node's missing overlay from herd's templates, and serves what herd built", async () => {
    // warewulfd (Warewulf's own `wwctl server`) builds an overlay image that is missing when a node asks for it. Its
    // provision folder is a copy of herd's without c1's __SYSTEM__; the iPXE templates sit beside nodes.conf, so run.sh
    // serves that nodes.conf where it is (herd's templates read relative to it).
    cpSync(join(ORACLE_WORK, 'root/etc/warewulf/ipxe'), join(root, 'etc/warewulf/ipxe'), { recursive: true });
    const prov = join(work, 'prov-ww');
    cpSync(join(root, 'var/lib/warewulf/provision'), prov, { recursive: true });
    for (const f of ['__SYSTEM__.img', '__SYSTEM__.img.gz']) rmSync(join(prov, 'overlays/c1', f));
    const port = await freePort();
    let log = '';
    const server = spawn('bash', [join(ORACLE!, 'run.sh'), 'server', join(root, 'etc/warewulf/nodes.conf'), join(root, 'var/lib/warewulf/overlays'), prov, String(port)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    server.stdout!.on('data', (c) => (log += String(c)));
    server.stderr!.on('data', (c) => (log += String(c)));
    try {
      await waitUntilUp(port, server, () => log);
      const r = await get(port, '/provision/52:54:00:12:34:56?stage=system&compress=gz');
      expect(r.status, log.slice(-2000)).toBe(200);
      const img = join(work, 'served-c1-system.img');
      writeFileSync(img, gunzipSync(r.body));
      const served = unpack(img, join(work, 'x-served'));
      const ours = unpack(join(root, 'var/lib/warewulf/provision/overlays/c1/__SYSTEM__.img'), join(work, 'x-ours-served'));
      expect(Object.fromEntries(served)).toEqual(Object.fromEntries(ours));
      expect(existsSync(join(prov, 'overlays/c1/__SYSTEM__.img'))).toBe(true);
    } finally {
      try {
        process.kill(-server.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
      rmSync(join(root, 'etc/warewulf/ipxe'), { recursive: true, force: true });
    }
  });
});

describe.skipIf(!HAVE && !REQUIRED)('the condo example: wwctl overlay build makes every node\'s archives as herd made them', () => {
  const condo = join(work, 'condo');
  const condoRoot = join(work, 'condo-root');
  const condoWw = join(work, 'condo-ww');
  let r: { status: number | null; out: string };
  let nodes: string[] = [];
  beforeAll(async () => {
    cpSync(join(fileURLToPath(new URL('../..', import.meta.url)), 'clusters/condo'), condo, { recursive: true, filter: (src) => !src.split('/').includes('.herd') });
    // The two OCI images become the small test rootfs (with the programs the images require), the NIC driver its e1000.
    let text = readFileSync(join(condo, 'cluster.yaml'), 'utf8');
    for (const [from, to] of [[/source: oci:images\/rocky10-cpu[^\n]*/, 'source: dir:rootfs'], [/source: oci:images\/rocky10-gpu[^\n]*/, 'source: dir:rootfs'], [/driver: ice/, 'driver: e1000']] as const) {
      const next = text.replace(from, to);
      expect(next, String(from)).not.toBe(text);
      text = next;
    }
    writeFileSync(join(condo, 'cluster.yaml'), text);
    const kernel = await ensureDebianKernel(CACHE);
    buildTinyRootfs(join(condo, 'rootfs'), { kernel, modules: ['e1000'], mtime: 1_700_000_000 });
    addSlurmStubs(join(condo, 'rootfs'));
    for (const f of ['sbin/mount.nfs', 'usr/bin/nvidia-smi']) {
      mkdirSync(join(condo, 'rootfs', f, '..'), { recursive: true });
      writeFileSync(join(condo, 'rootfs', f), '#!/bin/sh\nexit 0\n');
      chmodSync(join(condo, 'rootfs', f), 0o755);
    }
    const applied = await runHerd(['apply', condo, '--root', condoRoot, '--yes'], work, { env: { HERD_HEAD_ROOT: head || (head = makeHeadRoot()) } });
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout + applied.stderr).not.toMatch(/warewulf-rebuild/);
    nodes = readdirSync(join(condoRoot, 'var/lib/warewulf/provision/overlays')).sort();
    mkdirSync(condoWw, { recursive: true });
    const ww = spawnSync('bash', [join(ORACLE!, 'run.sh'), 'overlay-build', join(condoRoot, 'etc/warewulf/nodes.conf'), join(condoRoot, 'var/lib/warewulf/overlays'), condoWw], { encoding: 'utf8', maxBuffer: 256 << 20 });
    r = { status: ww.status, out: `${ww.stdout}${ww.stderr}` };
  }, 1_800_000);

  it("Warewulf builds all 312 nodes' overlays from herd's templates without an error", () => {
    expect(nodes).toHaveLength(312);
    expect(r.status, r.out.slice(-2000)).toBe(0);
  });

  it('every archive of every node holds exactly herd\'s entries', () => {
    let compared = 0;
    for (const n of nodes) {
      for (const stage of ['__SYSTEM__', '__RUNTIME__']) {
        const ours = unpack(join(condoRoot, `var/lib/warewulf/provision/overlays/${n}/${stage}.img`), join(work, 'cx-herd', n, stage));
        const theirs = unpack(join(condoWw, `overlays/${n}/${stage}.img`), join(work, 'cx-ww', n, stage));
        expect(Object.fromEntries(theirs), `${n} ${stage}`).toEqual(Object.fromEntries(ours));
        rmSync(join(work, 'cx-herd', n), { recursive: true, force: true });
        rmSync(join(work, 'cx-ww', n), { recursive: true, force: true });
        compared++;
      }
    }
    expect(compared).toBe(624);
  }, 600_000);
});
