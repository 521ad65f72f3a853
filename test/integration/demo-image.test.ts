// Integration: clusters/demo is a real systemd compute node. Its `prepare` assembles the image from Debian 12 packages
// (in a copy of the spec folder, .debs cached under test/.cache/), herd builds the image and the nodes' overlays against
// the stand-in head root prepare made, and QEMU boots c1 from them (kernel + image + c1's __SYSTEM__ + __RUNTIME__)
// through Warewulf 4.6.5's wwinit to multi-user.target, with munged and slurmd running. slurmctld is not reachable here
// (restricted slirp): slurmd must still be up and trying to reach the controller at the head's address.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { warewulfOracleDir } from '../fixtures/head-root.ts';
import { runHerd, type HerdRun } from '../fixtures/run-herd.ts';
import { bootImage, packDirWithGnuCpio, type BootResult } from './qemu/boot.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const DEMO = join(REPO, 'clusters', 'demo');
const CACHE = join(REPO, 'test', '.cache', 'demo-debs');
const REQUIRED = process.env.CI_REQUIRE_ORACLE === '1';
// A boot takes 25-60 s on an idle 2-core runner, several minutes when the cores are shared: generous, never asserted.
const BOOT_TIMEOUT_MS = 540_000;
const REPORT_END = 'DEMO-REPORT end';

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, name)));
}

/** What this test needs on the machine; empty when everything is there. */
function missingTools(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (prepare unpacks packages owned by system users)');
  for (const [tool, pkg] of [['apt-get', 'apt'], ['dpkg-deb', 'dpkg'], ['systemctl', 'systemd'], ['ssh-keygen', 'openssh-client'], ['cpio', 'cpio'], ['qemu-system-x86_64', 'qemu-system-x86']] as const) {
    if (!onPath(tool)) missing.push(`${tool} (Debian: ${pkg})`);
  }
  if (!existsSync('/usr/sbin/slurmctld')) missing.push('/usr/sbin/slurmctld (Debian: slurmctld, from slurm-wlm)');
  if (!existsSync('/usr/share/warewulf/overlays/wwinit') && warewulfOracleDir() === undefined) missing.push('warewulf-4.6.5.tar.gz (set HERD_WW_ORACLE)');
  return missing;
}

const missing = missingTools();
if (missing.length > 0) console.warn(`demo-image: ${REQUIRED ? 'failing' : 'skipping'}: missing ${missing.join(', ')}`);

const strip = (s: string): string => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

function tail(r: BootResult, lines = 80): string {
  return `console tail:\n${strip(r.console).split('\n').slice(-lines).join('\n')}\nqemu stderr: ${r.stderr}`;
}

/** `NAME value` lines the report unit printed between its begin and end markers. */
function parseReport(consoleText: string): Map<string, string[]> {
  const text = strip(consoleText);
  const start = text.lastIndexOf('DEMO-REPORT begin');
  const out = new Map<string, string[]>();
  if (start < 0) return out;
  for (const line of text.slice(start).split('\n')) {
    const m = /^(DR-[A-Z0-9-]+)(?: (.*))?$/.exec(line.trim());
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2] ?? '']);
  }
  return out;
}

/**
 * A fourth initrd, the test's own: a unit that waits for the boot to finish and prints what only the running node
 * knows to /dev/console (agetty hangs up ttyS0, so not there). Started after multi-user.target as Type=simple, so the
 * boot does not wait for it and `is-system-running --wait` sees the finished boot.
 */
function reportInitrd(dir: string, out: string): void {
  const put = (rel: string, body: string, mode = 0o644): void => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), body);
    chmodSync(join(dir, rel), mode);
  };
  put('etc/systemd/system/demo-report.service', [
    '[Unit]', 'Description=demo-image test report', 'After=multi-user.target', '',
    '[Service]', 'Type=simple', 'ExecStart=/usr/local/sbin/demo-report', '',
    '[Install]', 'WantedBy=multi-user.target', '',
  ].join('\n'));
  mkdirSync(join(dir, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
  symlinkSync('/etc/systemd/system/demo-report.service', join(dir, 'etc/systemd/system/multi-user.target.wants/demo-report.service'));
  put('usr/local/sbin/demo-report', `#!/bin/sh
exec >/dev/console 2>&1
state=$(timeout 300 systemctl is-system-running --wait)
# slurmd tries the controller when it starts; give it a moment to log that attempt.
i=0; while [ $i -lt 30 ] && ! grep -qs '10.77.0.1\\|slurmctld\\|controller' /var/log/slurm/slurmd.log; do sleep 1; i=$((i+1)); done
echo "DEMO-REPORT begin"
echo "DR-STATE $state"
echo "DR-HOSTNAME $(hostname)"
echo "DR-ANALYZE $(systemd-analyze time 2>&1 | head -n1)"
echo "DR-ONLINE $(systemd-analyze blame --no-pager 2>/dev/null | grep -m1 wait-online)"
for u in network-online.target munge.service slurmd.service; do echo "DR-AT $u $(systemctl show -P ActiveEnterTimestampMonotonic $u)"; done
echo "DR-TARGET $(systemctl is-active multi-user.target)"
for u in munge slurmd ssh systemd-networkd; do echo "DR-ACTIVE $u $(systemctl is-active $u.service)"; done
systemctl list-units --failed --plain --no-legend | sed 's/^/DR-FAILED /'
ip -o -4 addr show | awk '{print "DR-ADDR " $2 " " $4}'
echo "DR-UNMUNGE $(munge -n | unmunge | sed -n 's/^STATUS: *//p')"
echo "DR-MUNGE-KEY $(stat -c '%a %U %G' /etc/munge/munge.key)"
echo "DR-SLURMD-PID $(pidof slurmd || echo none)"
tail -n 20 /var/log/slurm/slurmd.log | sed 's/^/DR-SLURMD-LOG /'
journalctl -b -p warning --no-pager -o short-monotonic | tail -n 20 | sed 's/^/DR-JOURNAL /'
if [ -x /usr/local/sbin/slurmctld ]; then
  # The head, played inside c1: the host's own slurmctld (same Slurm release) on the head's address, with the head's
  # hostname in its own UTS namespace (slurmctld only runs on the SlurmctldHost it is named as). Then a job.
  ip addr add 10.77.0.1/32 dev lo
  mkdir -p /var/spool/slurmctld && chown slurm:slurm /var/spool/slurmctld
  unshare --uts sh -c 'hostname head && exec /usr/local/sbin/slurmctld'
  i=0; state=; while [ $i -lt 180 ]; do state=$(sinfo -h -n c1 -o %T 2>/dev/null); [ "$state" = idle ] && break; sleep 1; i=$((i+1)); done
  echo "DR-SINFO $state"
  echo "DR-SRUN $(timeout 180 srun -w c1 -N1 -l hostname 2>&1 | tr '\n' ' ')"
  tail -n 15 /var/log/slurm/slurmctld.log | sed 's/^/DR-SLURMCTLD-LOG /'
  tail -n 8 /var/log/slurm/slurmd.log | sed 's/^/DR-SLURMD-LOG2 /'
fi
echo "${REPORT_END}"
`, 0o755);
  // Debian's slurmctld (slurm-wlm's alternatives link resolved), for the controller the test plays.
  const ctld = realpathSync('/usr/sbin/slurmctld');
  mkdirSync(join(dir, 'usr/local/sbin'), { recursive: true });
  copyFileSync(ctld, join(dir, 'usr/local/sbin/slurmctld'));
  chmodSync(join(dir, 'usr/local/sbin/slurmctld'), 0o755);
  packDirWithGnuCpio(dir, out);
}

const work = mkdtempSync(join(tmpdir(), 'herd-demo-image-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const specDir = join(work, 'demo');
const out = join(work, 'out');
const provision = (rel: string): string => join(out, 'var/lib/warewulf/provision', rel);
let prepareLog = '';
let build: HerdRun | undefined;
let spec: { nodes: Record<string, { mac: string; address: string }>; defaults: { memory: string; driver: string; device: string }; images: Record<string, { kernel: { args: string[] } }> };

function mebibytes(size: string): number {
  const m = /^(\d+)\s*(MiB|GiB)$/.exec(size);
  if (!m) throw new Error(`unexpected memory size ${size} in clusters/demo/cluster.yaml`);
  return Number(m[1]) * (m[2] === 'GiB' ? 1024 : 1);
}

describe.skipIf(missing.length > 0 && !REQUIRED)('clusters/demo: a Debian 12 systemd node built by prepare + herd boots under QEMU', () => {
  beforeAll(async () => {
    if (missing.length > 0) return; // the first test reports it
    // Only the spec and the script: never the repository's own image/ or .herd/ (and nothing is written there).
    mkdirSync(specDir);
    for (const f of ['cluster.yaml', 'prepare']) copyFileSync(join(DEMO, f), join(specDir, f));
    chmodSync(join(specDir, 'prepare'), 0o755);
    spec = parse(readFileSync(join(specDir, 'cluster.yaml'), 'utf8'));
    mkdirSync(CACHE, { recursive: true });
    try {
      prepareLog = execFileSync(join(specDir, 'prepare'), ['--dir', specDir], {
        encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HERD_DEMO_CACHE: CACHE }, maxBuffer: 64 << 20,
      });
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; status?: number };
      prepareLog = `prepare exited ${err.status}:\n${err.stdout ?? ''}${err.stderr ?? String(e)}`;
      return;
    }
    // No HERD_HEAD_ROOT: the spec's head: settings name the stand-in head prepare made under the copy's .herd/.
    build = await runHerd(['build', specDir, '--out', out], work);
  }, 1_200_000);

  it('has what it needs on this machine (CI_REQUIRE_ORACLE=1 makes a gap a failure)', () => {
    expect(missing, `missing: ${missing.join(', ')}`).toEqual([]);
  });

  it('prepare makes the rootfs and the head root, and herd builds the image and both nodes\' overlays, nothing pending', () => {
    expect(existsSync(join(specDir, 'image', 'rootfs', 'usr', 'sbin', 'slurmd-wlm')), prepareLog).toBe(true);
    const head = join(specDir, '.herd', 'head');
    expect(existsSync(join(head, 'etc/munge/munge.key'))).toBe(true);
    expect(existsSync(join(head, 'usr/share/warewulf/overlays/wwinit/rootfs/init'))).toBe(true);
    expect(build?.code, `${build?.stderr}\n${build?.stdout}`).toBe(0);
    expect(build!.stderr, build!.stderr).toMatch(/image debian-12: built/);
    expect(build!.stderr, build!.stderr).toMatch(/\b0 pending or failed, for 2 nodes/);
    for (const f of ['images/debian-12.img.gz', 'overlays/c1/__SYSTEM__.img.gz', 'overlays/c1/__RUNTIME__.img.gz', 'overlays/c2/__SYSTEM__.img.gz', 'overlays/c2/__RUNTIME__.img.gz']) {
      expect(existsSync(provision(f)), f).toBe(true);
    }
    // What herd boot-test relies on: the spec's kernel args (console=ttyS0) reach nodes.conf, hence iPXE.
    expect(readFileSync(join(out, 'etc/warewulf/nodes.conf'), 'utf8')).toContain('- console=ttyS0');
  });

  it('c1 boots to multi-user.target as c1 with munged and slurmd running, no failed unit, and runs a job', async () => {
    expect(build?.code, 'herd build did not succeed').toBe(0);
    const boot = join(out, 'var/lib/warewulf/chroots/debian-12/rootfs/boot');
    const vmlinuz = readdirSync(boot).find((n) => n.startsWith('vmlinuz-'));
    expect(vmlinuz, `no vmlinuz-* in ${boot}`).toBeDefined();
    const report = join(work, 'report.img.gz');
    reportInitrd(join(work, 'report'), report);
    const c1 = spec.nodes['c1']!;
    const driver = spec.defaults.driver;
    const r = await bootImage({
      kernel: join(boot, vmlinuz!),
      initrds: [provision('images/debian-12.img.gz'), provision('overlays/c1/__SYSTEM__.img.gz'), provision('overlays/c1/__RUNTIME__.img.gz'), report],
      memoryMiB: mebibytes(spec.defaults.memory),
      append: spec.images['debian-12']!.kernel.args.join(' '),
      nic: driver === 'virtio_net' ? 'virtio' : 'e1000',
      mac: c1.mac,
      marker: new RegExp(`${REPORT_END}|Kernel panic|Initramfs unpacking failed`),
      timeoutMs: BOOT_TIMEOUT_MS,
      graceMs: 2_000,
    });
    const text = strip(r.console);
    console.info(`demo c1: report after ${r.markerMs} ms (qemu start to boot finished + slurmd's first attempt), qemu ended after ${r.durationMs} ms`);
    expect(text, tail(r)).not.toContain('Initramfs unpacking failed');
    expect(text, tail(r)).not.toMatch(/Kernel panic/);
    expect(r.ok, `no report within ${BOOT_TIMEOUT_MS} ms\n${tail(r)}`).toBe(true);
    // Booted the Warewulf way: wwinit's /init ran the image's systemd.
    expect(text, tail(r)).toContain('warewulf: invoking /sbin/init...');
    expect(text, tail(r)).toMatch(/^c1 login: /m); // the hostname comes only from c1's system overlay
    // systemd stops printing status lines while serial-getty holds the console (ttyS0), so "Reached target" and
    // "Started slurmd" may or may not appear depending on timing: the report below says it for sure.
    expect(text.split('\n').filter((l) => l.includes('[FAILED]')), tail(r)).toEqual([]);
    const rep = parseReport(r.console);
    console.info(['DR-STATE', 'DR-ANALYZE', 'DR-AT', 'DR-ADDR', 'DR-SLURMD-LOG', 'DR-JOURNAL', 'DR-SINFO', 'DR-SRUN', 'DR-SLURMCTLD-LOG', 'DR-SLURMD-LOG2'].flatMap((k) => (rep.get(k) ?? []).map((v) => `${k} ${v}`)).join('\n'));
    const one = (k: string): string | undefined => rep.get(k)?.[0];
    expect(one('DR-STATE'), tail(r)).toBe('running'); // boot finished, no unit failed
    expect(one('DR-TARGET'), tail(r)).toBe('active');
    expect(rep.get('DR-FAILED') ?? [], tail(r)).toEqual([]);
    expect(one('DR-HOSTNAME'), tail(r)).toBe('c1');
    expect(rep.get('DR-ACTIVE'), tail(r)).toEqual(['munge active', 'slurmd active', 'ssh active', 'systemd-networkd active']);
    // The NIC got the spec's device name (herd's .link file) and the spec's address (herd's .network file).
    expect(rep.get('DR-ADDR'), tail(r)).toContain(`${spec.defaults.device} ${c1.address}/24`);
    // The head's key, owned by the pinned munge user, works: a credential made here decodes here.
    expect(one('DR-MUNGE-KEY'), tail(r)).toBe('400 munge munge');
    expect(one('DR-UNMUNGE'), tail(r)).toMatch(/^Success/);
    // Before any controller exists, slurmd stays up and tries the one at the head's address.
    expect(one('DR-SLURMD-PID'), tail(r)).toMatch(/^\d+$/);
    expect((rep.get('DR-SLURMD-LOG') ?? []).join('\n'), tail(r)).toMatch(/10\.77\.0\.1|slurmctld|controller/);
    // With a slurmctld on the head's address (played inside c1), the node goes idle and runs a job: herd's slurm.conf,
    // the munge key and the image's slurmstepd/cgroup setup all work together.
    const ctldLog = ['DR-SLURMCTLD-LOG', 'DR-SLURMD-LOG2'].flatMap((k) => (rep.get(k) ?? []).map((v) => `${k} ${v}`)).join('\n');
    expect(one('DR-SINFO'), `${ctldLog}\n${tail(r)}`).toBe('idle');
    expect(one('DR-SRUN')?.trim(), `${ctldLog}\n${tail(r)}`).toBe('0: c1');
  });
});

// The demo's whole point, over the network: herd boot-test boots c1 and c2 through their NICs' iPXE ROMs, with dnsmasq,
// the server, munged and slurmctld on the head address in a namespace of its own, until srun runs on both. Then the
// same with Warewulf 4.6.5's own warewulfd serving the same root.
const ORACLE_BIN = join(process.env.WW_ORACLE_WORK ?? '/tmp/ww-oracle', 'bin', 'wworacle');
const bootTestMissing = [...missing, ...['dnsmasq', 'munged', 'slurmctld', 'srun'].filter((t) => !onPath(t) && !existsSync(`/usr/sbin/${t}`)).map((t) => `${t} (Debian: dnsmasq-base, munge, slurm-wlm)`)];

describe.skipIf(bootTestMissing.length > 0 && !REQUIRED)('herd boot-test clusters/demo c1 c2: network boot to a Slurm job', () => {
  let md: HerdRun;
  let ww: HerdRun | undefined;
  beforeAll(async () => {
    if (bootTestMissing.length > 0 || build?.code !== 0) return;
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
    // Software emulation: /dev/kvm may open on a machine whose KVM cannot run iPXE (nested virtualisation).
    md = await runHerd(['boot-test', specDir, 'c1', 'c2', '--format', 'markdown', '--accel', 'tcg'], work, { env });
    if (existsSync(ORACLE_BIN)) {
      ww = await runHerd(['boot-test', specDir, 'c[1-2]', '--accel', 'tcg', '--warewulfd', ORACLE_BIN, '--warewulf-install', join(process.env.WW_ORACLE_WORK ?? '/tmp/ww-oracle', 'root')], work, { env });
    }
  }, 1_800_000);

  it('has what it needs (CI_REQUIRE_ORACLE=1 makes a gap a failure)', () => {
    expect(bootTestMissing, `missing: ${bootTestMissing.join(', ')}`).toEqual([]);
    expect(build?.code, 'the demo must build first').toBe(0);
  });

  it('passes: both nodes served every stage, came up in Slurm, and srun -N2 -l hostname printed each name', () => {
    expect(md.code, md.stdout + md.stderr).toBe(0);
    const rows = md.stdout.split('\n').filter((l) => /^\| c[12] \|/.test(l));
    expect(rows.length, md.stdout).toBe(2);
    for (const row of rows) {
      const cells = row.split('|').map((c) => c.trim()).filter((c) => c !== '');
      // node, dhcp, ipxe, kernel, image, system, runtime, slurmd up: a time each; then ready.
      expect(cells.slice(1, 8).every((c) => /^\d+\.\d+s$/.test(c)), row).toBe(true);
      expect(cells[8]).toBe('ready');
    }
    expect(md.stdout).toContain('`srun -N2 -w c[1-2] --chdir=/ -l hostname`:');
    const out = /```\n([\s\S]*?)\n```/.exec(md.stdout)?.[1]?.split('\n').sort();
    expect(out).toEqual(['0: c1', '1: c2']);
    expect(md.stdout).toContain("PASS: 2 nodes booted from herd's artifacts (served by herd serve) and ran a Slurm job");
  });

  it.skipIf(!existsSync(ORACLE_BIN) && !REQUIRED)('passes the same with the real warewulfd serving herd\'s applied root', () => {
    expect(ww, 'the Warewulf oracle (build.sh) is missing').toBeDefined();
    expect(ww!.code, ww!.stdout + ww!.stderr).toBe(0);
    expect(ww!.stderr).toContain('dnsmasq and warewulfd listening on 10.77.0.1');
    expect(ww!.stdout).toContain("PASS: 2 nodes booted from herd's artifacts (served by warewulfd) and ran a Slurm job");
  });
});
