// Integration: `herd build --out` makes the image and each node's system and runtime overlays from a real busybox rootfs,
// and a Debian kernel under QEMU boots the gzip'd image + overlays through Warewulf 4.6.5's own wwinit (/init ->
// /warewulf/run-init -> init.d scripts -> the image's /sbin/init). The node comes up with the hostname and address that
// only its overlays carry. An image too big for a node's RAM is refused by the build, before anything could boot.
import { chmodSync, closeSync, cpSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHeadRoot } from '../fixtures/head-root.ts';
import { runHerd, type HerdRun } from '../fixtures/run-herd.ts';
import { bootImage, type BootResult } from './qemu/boot.ts';
import { ensureDebianKernel, type DebianKernel } from './qemu/kernel-cache.ts';
import { IMAGE_INIT_RAN, imageOwnInit, OVERLAY_BOOT_END, overlayReportInit, parseOverlayReport, WWINIT_FIRST_LINE } from './qemu/overlay-init.ts';
import { addSlurmStubs } from '../fixtures/stub-rootfs.ts';
import { buildTinyRootfs } from './qemu/tiny-rootfs.ts';

const CACHE = fileURLToPath(new URL('../.cache', import.meta.url));
const BOOT_TIMEOUT_MS = 150_000; // ~5-10 s on an idle 2-core runner, 20-30 s when the cores are shared
const EPOCH = '1700000000';

const spec = (stack: 'NetworkManager' | 'networkd', opts: { source?: string; c1Memory?: string } = {}): string => `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: tiny
warewulf: { version: "4.6.5", layout: upstream }
head: { name: head, address: 10.9.0.1 }
network: { cidr: 10.9.0.0/24, interface: eth0, gateway: 10.9.0.1, dns: [10.9.0.1], stack: ${stack} }
images:
  tiny:
    source: dir:${opts.source ?? 'rootfs'}
    pins: { munge: 995 }
    kernel: { copy_to_boot: true }
    requires: [slurmd, munged]
defaults: { image: tiny, driver: e1000, memory: 512MiB, cpus: 1, device: eth0 }
nodes:
  c1: { mac: "52:54:00:12:34:56", address: 10.9.0.2${opts.c1Memory ? `, memory: ${opts.c1Memory}` : ''} }
  c2: { mac: "52:54:00:12:34:57", address: 10.9.0.3 }
slurm:
  partitions:
    normal: { nodes: "c[1-2]", default: true }
`;

const work = mkdtempSync(join(tmpdir(), 'herd-overlay-boot-'));
let head: string | undefined;
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (head) rmSync(head, { recursive: true, force: true });
});

const specDir = join(work, 'cluster');
const outNm = join(work, 'out-nm');
const outNetworkd = join(work, 'out-networkd');
let kernel: DebianKernel;
let buildNm: HerdRun;
let buildNetworkd: HerdRun;

const provision = (out: string, rel: string): string => join(out, 'var/lib/warewulf/provision', rel);
const initrdsFor = (out: string, node: string): string[] => [
  provision(out, 'images/tiny.img.gz'),
  provision(out, `overlays/${node}/__SYSTEM__.img.gz`),
  provision(out, `overlays/${node}/__RUNTIME__.img.gz`),
];
const vmlinuz = (out: string): string => join(out, 'var/lib/warewulf/chroots/tiny/rootfs/lib/modules', kernel.version, 'vmlinuz');

const MACS: Record<string, string> = { c1: '52:54:00:12:34:56', c2: '52:54:00:12:34:57' };

function build(file: string, out: string): Promise<HerdRun> {
  return runHerd(['build', join(specDir, file), '--out', out], work, { env: { HERD_HEAD_ROOT: head!, SOURCE_DATE_EPOCH: EPOCH } });
}

function tail(r: BootResult): string {
  return `console tail:\n${r.console.split('\n').slice(-60).join('\n')}\nqemu stderr: ${r.stderr}`;
}

async function boot(out: string, node: string, initrds = initrdsFor(out, node)): Promise<{ r: BootResult; report: Map<string, string> }> {
  const r = await bootImage({
    kernel: vmlinuz(out),
    initrds,
    memoryMiB: 512,
    nic: 'e1000',
    mac: MACS[node], // the node's own MAC from the spec, as its keyfile and .link file match on it
    marker: new RegExp(`${OVERLAY_BOOT_END}|${IMAGE_INIT_RAN}|Kernel panic`),
    timeoutMs: BOOT_TIMEOUT_MS,
  });
  console.info(`${node} (${out === outNm ? 'NetworkManager' : 'networkd'}, ${initrds.length} initrds): marker after ${r.markerMs} ms, qemu exited after ${r.durationMs} ms`);
  return { r, report: parseOverlayReport(r.console) };
}

/** What every node booted from herd's artifacts through wwinit must show, whatever its name and address. */
function expectWwinitBoot(r: BootResult, report: Map<string, string>, node: string): void {
  expect(r.console, tail(r)).not.toContain('Initramfs unpacking failed');
  expect(r.console, tail(r)).not.toMatch(/Kernel panic/);
  expect(r.console, tail(r)).not.toContain(IMAGE_INIT_RAN);
  expect(r.ok, tail(r)).toBe(true);
  expect(r.exitCode, tail(r)).toBe(0); // poweroff -f from the image's init, not a panic or our kill
  // wwinit's own /init and run-init, with their init.d scripts, ran before the image's init.
  expect(r.console).toContain(WWINIT_FIRST_LINE);
  expect(r.console).toContain('warewulf: loading /warewulf/config...');
  expect(r.console).toContain('warewulf: using initial rootfs and invoking /warewulf/run-init...');
  expect(r.console).toContain('warewulf: running scripts in /warewulf/init.d...');
  for (const s of ['20-loopback', '50-ipmi', '75-vnfs_fixes', '80-wwclient', '90-selinux']) expect(r.console).toContain(`warewulf: ${s}`);
  expect(r.console).toContain('Starting wwclient'); // no /usr/lib/systemd/systemd in the image: 80-wwclient tries, harmlessly
  expect(r.console).toContain('warewulf: invoking /sbin/init...');
  expect(report.get('INIT-PID'), tail(r)).toBe('1'); // exec'd all the way down: the image's init is PID 1
  expect(report.get('WWINIT-INIT')).toBe('yes');
  expect(report.get('STAT init')).toBe('755 0 0');
  expect(report.get('WWCONFIG')).toBe(`${node} /sbin/init initramfs`);
  expect(report.get('STAT wwconfig')).toBe('600 0 0');
  expect(report.get('LO')).toBe('up'); // 20-loopback ran
  // System overlay: secrets with the modes and owners daemons insist on.
  expect(report.get('STAT munge.key')).toBe('400 995 995');
  expect(report.get('STAT ssh_host_ed25519_key')).toBe('600 0 0');
  // Runtime overlay, unpacked last.
  expect(report.get('RUNTIME-PASSWD')).toBe('1');
  expect(report.get('STAT authorized_keys')).toBe('600 0 0');
  expect(report.get('SLURM-CONF')).toBe('ClusterName=tiny');
  expect(report.has('MODPROBE-FAILED')).toBe(false);
}

function expectAddressOnEth0(r: BootResult, report: Map<string, string>, cidr: string): void {
  expect(report.get('APPLIED'), tail(r)).toBe(cidr);
  expect(r.console).toMatch(new RegExp(`^\\s+inet ${cidr.replace(/\./g, '\\.')} .*\\beth0$`, 'm')); // from `ip -4 addr show eth0`
}

beforeAll(async () => {
  kernel = await ensureDebianKernel(CACHE);
  const rootfs = join(specDir, 'rootfs');
  buildTinyRootfs(rootfs, { kernel, modules: ['e1000'], mtime: 1_700_000_000, initScript: imageOwnInit() });
  // The image's own identity, which the overlays must replace.
  writeFileSync(join(rootfs, 'etc/hostname'), 'from-image\n');
  writeFileSync(join(rootfs, 'etc/hosts'), '127.0.0.1 localhost from-image\n');
  unlinkSync(join(rootfs, 'sbin/init')); // busybox's init link
  writeFileSync(join(rootfs, 'sbin/init'), overlayReportInit({ module: 'e1000', device: 'eth0' }));
  chmodSync(join(rootfs, 'sbin/init'), 0o755);
  addSlurmStubs(rootfs);
  writeFileSync(join(specDir, 'cluster.yaml'), spec('NetworkManager'));
  writeFileSync(join(specDir, 'networkd.yaml'), spec('networkd'));
  head = makeHeadRoot();
  buildNm = await build('cluster.yaml', outNm);
  buildNetworkd = await build('networkd.yaml', outNetworkd);
}, 600_000);

describe('herd build --out writes the image and per-node overlays', () => {
  it('exits 0 with the gzip image, the kernel and both overlays of c1 and c2', () => {
    expect(buildNm.code, buildNm.stderr).toBe(0);
    expect(buildNetworkd.code, buildNetworkd.stderr).toBe(0);
    for (const out of [outNm, outNetworkd]) {
      expect(existsSync(vmlinuz(out))).toBe(true);
      for (const node of ['c1', 'c2']) {
        for (const gz of initrdsFor(out, node)) {
          const bytes = readFileSync(gz);
          expect(bytes.subarray(0, 2).toString('hex'), gz).toBe('1f8b');
          // The .gz holds exactly the plain archive herd also wrote (what the kernel unpacks is what the index describes).
          expect(gunzipSync(bytes).equals(readFileSync(gz.replace(/\.gz$/, ''))), gz).toBe(true);
        }
      }
    }
    // Per-node content: the two system overlays differ, the runtime overlays (no per-node file) need not.
    expect(readFileSync(provision(outNm, 'overlays/c1/__SYSTEM__.img')).equals(readFileSync(provision(outNm, 'overlays/c2/__SYSTEM__.img')))).toBe(false);
  });
});

describe('QEMU boots herd\'s artifacts through Warewulf 4.6.5\'s wwinit', () => {
  let c1Passed = false;

  it('c1 (NetworkManager keyfile) comes up as c1 with 10.9.0.2/24 on eth0', async () => {
    const { r, report } = await boot(outNm, 'c1');
    expectWwinitBoot(r, report, 'c1');
    expect(report.get('HOSTNAME'), tail(r)).toBe('c1'); // the image says from-image
    expect(report.get('HOSTS')).toBe('10.9.0.2 c1');
    expect(report.get('NM-ADDRESS')).toBe('10.9.0.2/24');
    expect(report.get('NETWORKD-ADDRESS')).toBe('-');
    expect(report.get('STAT nmconnection')).toBe('600 0 0');
    // The keyfile matches the NIC by MAC: the guest NIC has c1's MAC, so NetworkManager would take this keyfile.
    expect(report.get('NM-MAC')).toBe('52:54:00:12:34:56');
    expect(report.get('NIC-MAC')).toBe('52:54:00:12:34:56');
    expectAddressOnEth0(r, report, '10.9.0.2/24');
    c1Passed = true;
  });

  it('c2 boots the same image with its own overlays as c2 with 10.9.0.3/24', async (ctx) => {
    if (!c1Passed) ctx.skip('c1 did not boot; c2 would fail the same way');
    const { r, report } = await boot(outNm, 'c2');
    expectWwinitBoot(r, report, 'c2');
    expect(report.get('HOSTNAME'), tail(r)).toBe('c2');
    expect(report.get('HOSTS')).toBe('10.9.0.3 c2');
    expect(report.get('NM-ADDRESS')).toBe('10.9.0.3/24');
    expect(report.get('NM-MAC')).toBe('52:54:00:12:34:57');
    expect(report.get('NIC-MAC')).toBe('52:54:00:12:34:57'); // c2's own NIC: its keyfile would match it
    expectAddressOnEth0(r, report, '10.9.0.3/24');
  });

  it('with network.stack: networkd, c1 applies the .network file\'s Address=', async (ctx) => {
    if (!c1Passed) ctx.skip('c1 did not boot; the networkd variant would fail the same way');
    const { r, report } = await boot(outNetworkd, 'c1');
    expectWwinitBoot(r, report, 'c1');
    expect(report.get('HOSTNAME'), tail(r)).toBe('c1');
    expect(report.get('NETWORKD-ADDRESS')).toBe('10.9.0.2/24');
    expect(report.get('NM-ADDRESS')).toBe('-');
    expect(report.get('STAT nmconnection')).toBe('missing');
    expectAddressOnEth0(r, report, '10.9.0.2/24');
  });

  it('control: the image alone boots its own /init with its own hostname (what the overlays replaced)', async (ctx) => {
    if (!c1Passed) ctx.skip('c1 did not boot');
    const { r, report } = await boot(outNm, 'c1', [provision(outNm, 'images/tiny.img.gz')]);
    expect(r.console, tail(r)).not.toContain('Initramfs unpacking failed');
    expect(report.get('IMAGE-INIT-RAN'), tail(r)).toBe('from-image');
    expect(r.console).not.toContain(WWINIT_FIRST_LINE);
    expect(r.exitCode, tail(r)).toBe(0);
  });
});

describe('an image too big for a node\'s RAM', () => {
  it('is refused by herd build with image/too-big-for-ram, and nothing is written', async () => {
    // The same rootfs plus 40 MiB: about 58 MiB unpacked, more than the 32 MiB tmpfs of a 64 MiB node.
    const big = join(specDir, 'rootfs-big');
    cpSync(join(specDir, 'rootfs'), big, { recursive: true, verbatimSymlinks: true });
    closeSync(openSync(join(big, 'padding.bin'), 'w'));
    truncateSync(join(big, 'padding.bin'), 40 << 20);
    writeFileSync(join(specDir, 'small-ram.yaml'), spec('NetworkManager', { source: 'rootfs-big', c1Memory: '64MiB' }));
    const out = join(work, 'out-small-ram');
    const r = await build('small-ram.yaml', out);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/error image\/too-big-for-ram: .*c1 has 64\.0 MiB/);
    expect(existsSync(out)).toBe(false);
  });
});
