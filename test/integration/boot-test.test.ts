// Integration: `herd boot-test` for real (root, QEMU, dnsmasq, munged, slurmctld in a network namespace it makes).
// The tiny busybox cluster boots all the way through iPXE, herd serve's five stages and Warewulf's wwinit, then powers off:
// the command must say exactly that (stages timed, the VM stopped after the image's /init, no Slurm), keep the logs, and
// leave no namespace, process or scratch folder behind, Ctrl-C included.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyTinyCluster, type AppliedRoot } from '../fixtures/applied-root.ts';
import { makeHeadRoot } from '../fixtures/head-root.ts';
import { runHerd, type HerdRun } from '../fixtures/run-herd.ts';
import { removeStaleSandboxes } from '../../src/boottest/sandbox.ts';

const CACHE = fileURLToPath(new URL('../.cache', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const env = (head: string) => ({ HERD_HEAD_ROOT: head, PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', NO_COLOR: '1' });

/** Namespaces and scratch folders a boot test of process `pid` would leave. */
const leftovers = (pid: number): string[] => {
  const ns = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
  return [...ns, ...readdirSync(tmpdir())].filter((n) => n === `herdbt-${pid}` || n.startsWith(`herdbt-${pid}-`));
};

const ORACLE_WORK = process.env.WW_ORACLE_WORK ?? '/tmp/ww-oracle';
const ORACLE_BIN = join(ORACLE_WORK, 'bin', 'wworacle');
const haveOracle = existsSync(ORACLE_BIN);
if (!haveOracle && process.env.CI_REQUIRE_ORACLE === '1') throw new Error(`CI_REQUIRE_ORACLE=1 but the Warewulf oracle ${ORACLE_BIN} is missing (run ../shared/oracles/warewulf/build.sh)`);

/**
 * Processes of boot test `pid` still alive (zombies aside). A SIGKILLed process takes a moment to finish exiting, so this
 * waits, up to a deadline that is never the point of the test, for the list to empty, and returns what is left.
 */
async function processesLeft(pid: number): Promise<string[]> {
  const list = () => execFileSync('ps', ['-eo', 'stat=,args='], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`herdbt-${pid}-`) && !l.trim().startsWith('Z'));
  for (let deadline = Date.now() + 60_000; list().length > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 200));
  return list();
}

let applied: AppliedRoot;
let head: string;
let run: HerdRun;
let wwRun: HerdRun | undefined;

beforeAll(async () => {
  applied = await applyTinyCluster(CACHE);
  head = makeHeadRoot({ install: false });
  // Software emulation, as every QEMU test here: on some CI machines /dev/kvm opens but KVM cannot run iPXE (nested
  // virtualisation), and the test is about herd's boot, not the machine's KVM.
  run = await runHerd(['boot-test', applied.specDir, 'c1', '--root', applied.root, '--timeout', '600', '--accel', 'tcg'], applied.work, { env: env(head) });
  if (haveOracle) {
    wwRun = await runHerd(['boot-test', applied.specDir, 'c1', '--root', applied.root, '--timeout', '600', '--accel', 'tcg', '--warewulfd', ORACLE_BIN, '--warewulf-install', join(ORACLE_WORK, 'root')], applied.work, { env: env(head) });
  }
}, 1_200_000);

afterAll(() => {
  applied?.cleanup();
  if (head) rmSync(head, { recursive: true, force: true });
});

describe('herd boot-test on the tiny cluster (boots, then powers off: no Slurm)', () => {
  it('serves c1 every stage over the Warewulf protocol after dnsmasq\'s DHCP, and times each', () => {
    const row = run.stdout.split('\n').find((l) => l.startsWith('c1 '));
    expect(row, run.stdout + run.stderr).toBeDefined();
    // node, dhcp, ipxe, kernel, image, system, runtime: a time each; slurmd up: none; result FAIL.
    const cells = row!.trim().split(/\s+/);
    expect(cells.slice(1, 7).every((c) => /^\d+\.\d+s$/.test(c)), row).toBe(true);
    expect(cells.slice(7)).toEqual(['-', 'FAIL']);
    expect(run.stderr).toMatch(/network namespace herdbt-\d+-?\S*: bridge herdbr0 with 10\.9\.0\.1\/24/);
    expect(run.stderr).toContain('slurmctld running as head (10.9.0.1)');
  });

  it('diagnoses the stop by how far the node got, exits 1 and keeps the logs', () => {
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toContain("c1: the VM stopped (QEMU exit 0) after reaching the image's /init");
    expect(run.stdout).toContain('FAIL: 0 of 1 node ready');
    const kept = /logs kept in (\S+)/.exec(run.stdout)?.[1];
    expect(kept).toBeDefined();
    const files = readdirSync(kept!).sort();
    expect(files).toEqual(['console-c1.log', 'dnsmasq.log', 'serve.log', 'slurmctld.log']);
    expect(readFileSync(join(kept!, 'dnsmasq.log'), 'utf8')).toMatch(/DHCPACK\(herdbr0\) 10\.9\.0\.2 52:54:00:12:34:56 c1/);
    expect(readFileSync(join(kept!, 'console-c1.log'), 'utf8')).toContain('HERD-OVERLAY-BOOT-END');
    // The munge key never lands in the kept folder.
    const key = readFileSync(join(head, 'etc/munge/munge.key'));
    for (const f of files) expect(readFileSync(join(kept!, f)).includes(key)).toBe(false);
  });

  it('leaves no namespace, scratch folder or VM behind', () => {
    expect(leftovers(process.pid)).toEqual([]);
  });
});

describe.skipIf(!haveOracle)('the same boot served by the real warewulfd (Warewulf 4.6.5\'s own server) from the same root', () => {
  it('serves c1 every stage, so the node reaches the image\'s /init exactly as with herd serve', () => {
    const r = wwRun!;
    expect(r.stderr, r.stdout + r.stderr).toContain('dnsmasq and warewulfd listening on 10.9.0.1');
    const cells = r.stdout.split('\n').find((l) => l.startsWith('c1 '))!.trim().split(/\s+/);
    expect(cells.slice(1, 7).every((c) => /^\d+\.\d+s$/.test(c)), r.stdout).toBe(true);
    expect(r.stdout).toContain("c1: the VM stopped (QEMU exit 0) after reaching the image's /init");
    expect(r.stdout).toContain('stages as warewulfd saw the requests');
    const kept = /logs kept in (\S+)/.exec(r.stdout)![1]!;
    expect(readFileSync(join(kept, 'console-c1.log'), 'utf8')).toContain('HERD-OVERLAY-BOOT-END');
    expect(readFileSync(join(kept, 'serve.log'), 'utf8')).toMatch(/wworacle: listening on 10\.9\.0\.1:9873/);
  });
});

describe('herd boot-test refuses what it cannot do, before starting anything', () => {
  it('a node the spec does not have', async () => {
    const r = await runHerd(['boot-test', applied.specDir, 'c9', '--root', applied.root], applied.work, { env: env(head) });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('the spec has no node named c9');
  });

  it('missing programs, each with its Debian package', async () => {
    const r = await runHerd(['boot-test', applied.specDir, 'c1', '--root', applied.root], applied.work, { env: { ...env(head), PATH: '/nonexistent' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('qemu-system-x86_64 (Debian: apt-get install qemu-system-x86)');
    expect(r.stderr).toContain('dnsmasq (Debian: apt-get install dnsmasq-base)');
    expect(leftovers(process.pid)).toEqual([]);
  });

  it('a NIC driver QEMU cannot emulate, named with the ones it can', async () => {
    const spec = readFileSync(join(applied.specDir, 'cluster.yaml'), 'utf8');
    const copy = join(applied.work, 'igb');
    execFileSync('mkdir', ['-p', copy]);
    writeFileSync(join(copy, 'cluster.yaml'), spec.replace('driver: e1000', 'driver: igb'));
    const r = await runHerd(['boot-test', copy, 'c1', '--root', applied.root], applied.work, { env: env(head) });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('QEMU has no model of the NIC driver igb (nodes c1)');
    expect(r.stderr).toContain('boot-test emulates virtio_net, e1000, e1000e, rtl8139, vmxnet3');
  });

  it('bad --timeout and --accel values', async () => {
    expect((await runHerd(['boot-test', applied.specDir, '--timeout', 'soon'], applied.work, { env: env(head) })).code).toBe(3);
    expect((await runHerd(['boot-test', applied.specDir, '--accel', 'hvf'], applied.work, { env: env(head) })).stderr).toContain('--accel hvf is not auto, kvm or tcg');
  });
});

describe('Ctrl-C during a boot test', () => {
  it('stops the VMs and daemons, removes the namespace and scratch folder, and exits 130', async () => {
    const child = spawn(process.execPath, [join(REPO, 'bin/herd.js'), 'boot-test', applied.specDir, 'c1', '--root', applied.root, '--accel', 'tcg'], { cwd: applied.work, env: { ...process.env, ...env(head) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // Interrupt once the VM is being booted: everything (namespace, dnsmasq, serve, slurmctld, QEMU) exists then.
    await new Promise<void>((resolve) => child.stderr.on('data', () => err.includes('booting c1') && resolve()));
    const pid = child.pid!;
    expect(leftovers(pid).length).toBeGreaterThan(0);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code, err).toBe(130);
    expect(err).toContain('herd boot-test: interrupted (SIGINT); the VMs, daemons and network namespace were stopped and removed');
    expect(leftovers(pid)).toEqual([]);
    // No process of that run is left: its children all had the parent-death signal and sat in its namespace.
    expect(await processesLeft(pid)).toEqual([]);
  }, 300_000);
});

describe('a boot test killed outright (SIGKILL: no exit handler runs)', () => {
  it('takes its VMs and daemons with it (parent-death signal), and the next run removes its namespace and scratch folder', async () => {
    const child = spawn(process.execPath, [join(REPO, 'bin/herd.js'), 'boot-test', applied.specDir, 'c1', '--root', applied.root, '--accel', 'tcg'], { cwd: applied.work, env: { ...process.env, ...env(head) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    await new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => ((err += d.toString()), err.includes('booting c1') && resolve())));
    const pid = child.pid!;
    child.kill('SIGKILL');
    await new Promise<void>((resolve) => child.on('close', () => resolve()));
    const left = leftovers(pid);
    expect(left.length, 'a killed run cannot clean up after itself').toBeGreaterThan(0);
    const removed = await removeStaleSandboxes();
    expect(removed.sort()).toEqual(expect.arrayContaining(left.sort()));
    expect(leftovers(pid)).toEqual([]);
    expect(await processesLeft(pid)).toEqual([]);
  }, 300_000);
});
