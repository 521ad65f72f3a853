// The boot test itself (I/O shell): in a network namespace of its own, the head (dnsmasq from herd's DHCP settings, herd serve
// on the applied root, munged and slurmctld on herd's slurm.conf) and one QEMU per node on a tap, network-booting through the
// NIC's iPXE ROM. Ready means the seed's payoff: every node's slurmd registered and `srun -N<n> -l hostname` printed each name.
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import type { ClusterModel, NodeModel } from '../spec/model.ts';
import { compressHostlist } from '../spec/hostlist.ts';
import { consoleFacts, hasSerialConsole, MilestoneClock } from './console-events.ts';
import { nodeRow, type NodeObservation, type NodeRow } from './diagnose.ts';
import { bootTestDnsmasqConf, dnsmasqAcks } from './dnsmasq-conf.ts';
import { headSlurmConf } from './head-slurm-conf.ts';
import { Sandbox, stopProcess, type Identity } from './sandbox.ts';
import { ServerLogReader } from './server-log.ts';

/** QEMU's emulated NIC for the spec's driver (kernel module name); each has an iPXE ROM in Debian's ipxe-qemu. */
export const QEMU_NICS: Readonly<Record<string, string>> = { virtio_net: 'virtio-net-pci', e1000: 'e1000', e1000e: 'e1000e', rtl8139: 'rtl8139', vmxnet3: 'vmxnet3' };

export interface BootTestInput {
  readonly model: ClusterModel;
  readonly nodes: readonly NodeModel[];
  readonly sandbox: Sandbox;
  /** The applied root herd serve serves. */
  readonly rootPath: string;
  /** The spec folder, for the herd serve child. */
  readonly specDir: string;
  /** `node bin/herd.js`, as an argv prefix. */
  readonly herd: readonly string[];
  /** Environment for the herd serve child (HERD_HEAD_ROOT and the like). */
  readonly env: Readonly<Record<string, string>>;
  readonly slurmConf: string;
  /** nodes.conf and warewulf.conf as compiled (warewulfd reads them). */
  readonly nodesConf?: string;
  readonly warewulfConf?: string;
  readonly gresConf?: string;
  readonly mungeKey: Uint8Array;
  readonly accel: 'kvm' | 'tcg';
  /** Which server answers the nodes: herd serve (default) or Warewulf's own warewulfd (`wwctl server`) on the same root. */
  readonly server?: WarewulfdServer;
  readonly timeoutMs: number;
  /** Progress lines (stderr). */
  readonly progress: (line: string) => void;
}

/** Warewulf's own server: its binary (`wwctl`, or the oracle build's `wworacle`) and the root of its install (etc/warewulf/ipxe, usr/share). */
export interface WarewulfdServer {
  readonly binary: string;
  readonly installRoot: string;
  /** The iPXE templates of that install (`etc/warewulf/ipxe/*.ipxe`), by file name. */
  readonly ipxeTemplates: ReadonlyMap<string, Uint8Array>;
}

/**
 * warewulf.conf for warewulfd in the sandbox: herd's own file with a `paths:` section pointing at the applied root (chroots,
 * provision), an empty site overlay folder and a scratch sysconfdir holding nodes.conf and the install's iPXE templates.
 */
export function warewulfdConf(herdConf: string, p: { sysconfdir: string; datadir: string; root: string; stateDir: string; scratch: string }): string {
  if (/^paths:/m.test(herdConf)) throw new Error('herd\'s warewulf.conf already has a paths: section');
  const at = (rel: string) => `${p.root}/${p.stateDir}/${rel}`;
  return `${herdConf.trimEnd()}
# herd boot-test: warewulfd serves the applied root from a scratch configuration
paths:
  sysconfdir: ${p.sysconfdir}
  localstatedir: ${p.scratch}/var
  cachedir: ${p.scratch}/cache
  srvdir: ${p.scratch}/srv
  datadir: ${p.datadir}
  wwoverlaydir: ${p.scratch}/site-overlays
  wwchrootdir: ${at('chroots')}
  wwprovisiondir: ${at('provision')}
`;
}

export interface BootTestResult {
  readonly rows: readonly NodeRow[];
  /** The srun command line and what it printed; undefined when not every node got ready. */
  readonly srun?: { readonly command: string; readonly code: number; readonly output: string; readonly ok: boolean };
  readonly ok: boolean;
  /** Console logs by node, kept for failures. */
  readonly consoles: ReadonlyMap<string, string>;
  readonly logs: { readonly slurmctld: string; readonly dnsmasq: string; readonly serve: string };
  readonly network: string;
  /** `herd serve` or `warewulfd`. */
  readonly server: string;
}

const SERVE_PORT = 9873;

/** Memory QEMU gives a node: the spec's, or 1 GiB where the spec says nothing. */
const memoryOf = (n: NodeModel): number => n.memoryMiB ?? 1024;

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', fsConstants.R_OK | fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** `auto` picks KVM when /dev/kvm can be opened, else software emulation. */
export function chooseAccel(want: 'auto' | 'kvm' | 'tcg'): 'kvm' | 'tcg' {
  return want === 'auto' ? (kvmUsable() ? 'kvm' : 'tcg') : want;
}

function qemuArgs(n: NodeModel, tap: string, accel: 'kvm' | 'tcg'): string[] {
  const nic = QEMU_NICS[n.driver ?? 'virtio_net']!;
  // The VM has the spec's CPU topology, so slurmd reports what slurm.conf says and the node is not drained as "inval".
  const smp = `cpus=${n.cpus},sockets=${n.sockets},cores=${n.coresPerSocket},threads=${n.threadsPerCore}`;
  return [
    '-accel', accel,
    '-m', String(memoryOf(n)),
    '-smp', smp,
    '-nographic', '-no-reboot',
    // Network boot only; a failed boot ends in "No bootable device", and reboot-timeout with -no-reboot then ends QEMU.
    '-boot', 'order=n,reboot-timeout=1000',
    '-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`,
    '-device', `${nic},netdev=n0,mac=${n.mac}`,
  ];
}

interface Vm {
  readonly node: NodeModel;
  readonly proc: ChildProcess;
  console: string;
  stderr: string;
  readonly startedMs: number;
  /** When each console milestone first showed, in ms since the VM started. */
  readonly clock: MilestoneClock;
  exited?: { code: number | null };
}

const SLURM_UP = /^(idle|mixed|alloc|allocated|completing)$/;

export async function runBootTest(i: BootTestInput): Promise<BootTestResult> {
  const { model, sandbox: sb } = i;
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const head = model.head;
  const network = `${head.address}/${model.network.prefix}`;

  // Files the head's daemons read, all in the scratch folder.
  const hosts = ['127.0.0.1 localhost', `${head.address} ${head.name}`, ...model.nodes.map((n) => `${n.address} ${n.name}`), ''].join('\n');
  const identity: Identity & { mungeDir: string } = {
    hostname: head.name,
    hostsFile: sb.write('etc/hosts', hosts),
    resolvFile: sb.write('etc/resolv.conf', ''),
    mungeDir: sb.path('munge'),
  };
  sb.dir.mkdirs('munge');
  sb.dir.chmodDir('munge', 0o755);
  sb.dir.mkdirs('munge-state');
  sb.dir.chmodDir('munge-state', 0o700);
  const keyFile = sb.write('munge-state/munge.key', i.mungeKey, 0o400);
  sb.dir.mkdirs('slurm/state');
  const conf = sb.write('slurm/slurm.conf', headSlurmConf(i.slurmConf, { stateDir: sb.path('slurm/state'), logFile: sb.path('slurm/slurmctld.log'), pidFile: sb.path('slurm/slurmctld.pid') }));
  if (i.gresConf !== undefined) sb.write('slurm/gres.conf', i.gresConf);
  sb.write('dnsmasq.conf', bootTestDnsmasqConf(model, sb.bridge, { leaseFile: sb.path('dnsmasq.leases'), pidFile: sb.path('dnsmasq.pid') }));
  const slurmEnv = { SLURM_CONF: conf };

  const taps = i.nodes.map((_, k) => `herdtap${k}`);
  await sb.createNetwork(network, taps);
  i.progress(`network namespace ${sb.ns}: bridge ${sb.bridge} with ${network}, taps ${taps.join(', ')}`);

  // munged, then slurmctld, both named as the head and seeing munge's socket at its default path.
  const munged = sb.spawn(
    ['munged', '-F', '--force', '--socket=/run/munge/munge.socket.2', `--key-file=${keyFile}`, `--log-file=${sb.path('munge-state/munged.log')}`,
      `--pid-file=${sb.path('munge-state/munged.pid')}`, `--seed-file=${sb.path('munge-state/munged.seed')}`],
    { identity, cwd: sb.dirPath, output: 'pipe' },
  );
  let mungeOut = '';
  munged.stdout!.on('data', (d: Buffer) => (mungeOut += d.toString()));
  munged.stderr!.on('data', (d: Buffer) => (mungeOut += d.toString()));
  await until(() => sb.dir.lstat('munge/munge.socket.2') !== null || munged.exitCode !== null, 20_000);
  if (sb.dir.lstat('munge/munge.socket.2') === null) throw new Error(`munged did not start on the head: ${mungeOut.trim() || 'no output'}`);

  let ctldLog = '';
  const ctld = sb.spawn(['slurmctld', '-D', '-f', conf], { identity, env: slurmEnv, cwd: sb.dirPath, output: 'pipe' });
  ctld.stdout!.on('data', (d: Buffer) => (ctldLog += d.toString()));
  ctld.stderr!.on('data', (d: Buffer) => (ctldLog += d.toString()));
  await until(() => ctldLog.includes('Running as primary controller') || ctld.exitCode !== null, 60_000);
  if (!ctldLog.includes('Running as primary controller')) throw new Error(`slurmctld did not start on herd's slurm.conf:\n${ctldLog.split('\n').slice(-15).join('\n')}`);
  i.progress(`slurmctld running as ${head.name} (${head.address}) on herd's slurm.conf`);

  let dnsLog = '';
  const dns = sb.spawn(['dnsmasq', '-k', `--conf-file=${sb.path('dnsmasq.conf')}`, '--log-facility=-'], { cwd: sb.dirPath, output: 'pipe' });
  dns.stdout!.on('data', (d: Buffer) => (dnsLog += d.toString()));
  dns.stderr!.on('data', (d: Buffer) => (dnsLog += d.toString()));

  const serveLog = new ServerLogReader();
  let serveText = '';
  const serverName = i.server ? 'warewulfd' : 'herd serve';
  let serve: ChildProcess;
  if (i.server) {
    const ww = i.server;
    for (const d of ['ww/etc/warewulf/ipxe', 'ww/var', 'ww/cache', 'ww/srv', 'ww/site-overlays']) sb.dir.mkdirs(d);
    sb.write('ww/etc/warewulf/nodes.conf', i.nodesConf ?? '');
    for (const [name, body] of ww.ipxeTemplates) sb.write(`ww/etc/warewulf/ipxe/${name}`, body);
    const wwConf = sb.write('ww/etc/warewulf/warewulf.conf', warewulfdConf(i.warewulfConf ?? '', {
      sysconfdir: sb.path('ww/etc'), datadir: `${ww.installRoot.replace(/\/$/, '')}/usr/share`, root: i.rootPath, stateDir: model.warewulf.stateDir, scratch: sb.path('ww'),
    }));
    serve = sb.spawn([ww.binary, '--warewulfconf', wwConf, 'server'], { env: { WW_ORACLE_LISTEN: head.address }, cwd: sb.dirPath, output: 'pipe' });
  } else {
    serve = sb.spawn([...i.herd, 'serve', i.specDir, '--root', i.rootPath, '--listen', `${head.address}:${SERVE_PORT}`], { env: i.env, cwd: sb.dirPath, output: 'pipe' });
  }
  const onServer = (d: Buffer) => {
    serveText += d.toString();
    serveLog.push(d.toString(), now());
  };
  serve.stderr!.on('data', onServer);
  serve.stdout!.on('data', onServer);
  // Up means a TCP connection to the head address succeeds from inside the namespace (the same for both servers).
  const probe = `require('net').connect(${SERVE_PORT}, ${JSON.stringify(head.address)}).on('connect', () => process.exit(0)).on('error', () => process.exit(1))`;
  await until(async () => serve.exitCode !== null || dns.exitCode !== null || (await sb.run([process.execPath, '-e', probe], { cwd: sb.dirPath, timeoutMs: 10_000 })).code === 0, 60_000, 500);
  if (dns.exitCode !== null) throw new Error(`dnsmasq did not start: ${dnsLog.trim()}`);
  if (serve.exitCode !== null) throw new Error(`${serverName} did not start: ${serveText.trim()}`);
  i.progress(`dnsmasq and ${serverName} listening on ${head.address}; booting ${i.nodes.map((n) => n.name).join(', ')} (${i.accel === 'tcg' ? 'software emulation' : 'KVM'})`);

  const vms: Vm[] = i.nodes.map((n, k) => {
    const proc = sb.spawn(['qemu-system-x86_64', ...qemuArgs(n, taps[k]!, i.accel)], { cwd: sb.dirPath, output: 'pipe' });
    const vm: Vm = { node: n, proc, console: '', stderr: '', startedMs: now(), clock: new MilestoneClock() };
    proc.stdout!.setEncoding('latin1');
    proc.stdout!.on('data', (d: string) => {
      vm.console += d;
      vm.clock.push(d, now() - vm.startedMs);
    });
    proc.stderr!.on('data', (d: Buffer) => (vm.stderr += d.toString()));
    proc.on('exit', (code) => (vm.exited = { code }));
    return vm;
  });

  const names = i.nodes.map((n) => n.name);
  const slurm = new Map<string, { state: string; reason: string; upMs?: number }>();
  const deadline = i.timeoutMs;
  const settled = (vm: Vm): boolean => vm.exited !== undefined || slurm.get(vm.node.name)?.upMs !== undefined;
  while (now() < deadline && !vms.every(settled)) {
    await sleep(2000);
    const r = await sb.run(['sinfo', '-h', '-N', '-n', names.join(','), '-o', '%N|%T|%E'], { identity, env: slurmEnv, cwd: sb.dirPath, timeoutMs: 30_000 });
    for (const line of r.stdout.split('\n')) {
      const [name, state, reason] = line.split('|');
      const vm = vms.find((v) => v.node.name === name);
      if (!name || !state || !vm) continue;
      const prev = slurm.get(name);
      const up = SLURM_UP.test(state) ? (prev?.upMs ?? now() - vm.startedMs) : undefined;
      slurm.set(name, { state, reason: reason === 'none' ? '' : (reason ?? ''), ...(up !== undefined ? { upMs: up } : {}) });
    }
  }

  const acks = dnsmasqAcks(dnsLog);
  // What each MAC answers at now, as the head's ARP table saw it: a node up at the wrong address shows here.
  const neigh = await sb.run(['ip', '-4', 'neigh', 'show', 'dev', sb.bridge], { cwd: sb.dirPath, timeoutMs: 10_000 });
  const neighbors = new Map<string, string[]>();
  for (const m of neigh.stdout.matchAll(/^(\d+\.\d+\.\d+\.\d+) lladdr ([0-9a-f:]{17})/gm)) neighbors.set(m[2]!, [...(neighbors.get(m[2]!) ?? []), m[1]!]);
  // iPXE used the right address (DHCP); an entry with another one is the booted system's own configuration.
  const strayAddress = (n: NodeModel): string | undefined => (neighbors.get(n.mac.toLowerCase()) ?? []).find((a) => a !== n.address);
  const serial = (n: NodeModel) => hasSerialConsole(n.kernelArgs);
  const observe = (vm: Vm): NodeObservation => {
    const n = vm.node;
    const s = slurm.get(n.name);
    const memAt = n.at.memory;
    return {
      node: n.name,
      mac: n.mac,
      address: n.address,
      memoryMiB: memoryOf(n),
      ...(memAt ? { memoryAt: `${memAt.file}:${memAt.line ?? 1}:${memAt.column ?? 1}` } : {}),
      facts: consoleFacts(vm.console),
      consoleMs: vm.clock.seen,
      requests: serveLog.forMac(n.mac).map((r) => ({ ...r, atMs: r.atMs - vm.startedMs })),
      ...(acks.has(n.mac.toLowerCase()) ? { dhcpAck: acks.get(n.mac.toLowerCase())! } : {}),
      ...(s?.upMs !== undefined ? { slurmUpMs: s.upMs } : {}),
      ...(s ? { slurmState: s.state, slurmReason: s.reason } : {}),
      ...(vm.exited && s?.upMs === undefined ? { qemuExited: { code: vm.exited.code, stderr: vm.stderr } } : {}),
      ...(vm.stderr.trim() !== '' ? { qemuStderr: vm.stderr } : {}),
      timedOut: !settled(vm),
      serialConsole: serial(n),
      ...(strayAddress(n) !== undefined && s?.upMs === undefined ? { neighborAddress: strayAddress(n)! } : {}),
    };
  };

  let srun: BootTestResult['srun'];
  if (vms.every((vm) => slurm.get(vm.node.name)?.upMs !== undefined)) {
    const list = compressHostlist(names);
    const cmd = ['srun', `-N${names.length}`, '-w', list, '--chdir=/', '-l', 'hostname'];
    i.progress(`all ${names.length} nodes up in Slurm; running ${cmd.join(' ')}`);
    const r = await sb.run(cmd, { identity, env: slurmEnv, cwd: sb.dirPath, timeoutMs: 180_000 });
    const got = r.stdout.split('\n').map((l) => /^(\d+): (\S+)$/.exec(l.trim())).filter((m): m is RegExpExecArray => m !== null).map((m) => m[2]!).sort();
    const ok = r.code === 0 && JSON.stringify(got) === JSON.stringify([...names].sort());
    srun = { command: cmd.join(' '), code: r.code, output: (r.stdout + (ok ? '' : r.stderr)).trim(), ok };
  }
  const rows = vms.map((vm) => nodeRow(observe(vm)));
  await Promise.all(vms.map((vm) => stopProcess(vm.proc, 0)));
  return {
    rows,
    ...(srun ? { srun } : {}),
    ok: rows.every((r) => r.ok) && srun?.ok === true,
    consoles: new Map(vms.map((vm) => [vm.node.name, vm.console.replace(/\r\n/g, '\n')])),
    logs: { slurmctld: ctldLog, dnsmasq: dnsLog, serve: serveText },
    network,
    server: serverName,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds or `ms` pass (a deadline for a daemon to start, not a timing assertion). */
async function until(check: () => boolean | Promise<boolean>, ms: number, everyMs = 100): Promise<void> {
  const end = performance.now() + ms;
  while (!(await check()) && performance.now() < end) await sleep(everyMs);
}
