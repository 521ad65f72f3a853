// What happened to each node of a boot test, in the words an admin needs (pure): the stages the server saw with their
// times, and for a node that did not make it, the first thing that went wrong and what to change.
import type { ConsoleFacts } from './console-events.ts';
import type { StageRequest } from './server-log.ts';

export const STAGES = ['ipxe', 'kernel', 'image', 'system', 'runtime'] as const;

export interface NodeObservation {
  readonly node: string;
  readonly mac: string;
  readonly address: string;
  readonly memoryMiB: number;
  /** Where the node's memory is set in the spec (`file:line:col`), for the RAM hint. */
  readonly memoryAt?: string;
  readonly facts: ConsoleFacts;
  /** Caller's times (ms since the VM started) for console milestones. */
  readonly consoleMs: ReadonlyMap<string, number>;
  readonly requests: readonly StageRequest[];
  /** The address dnsmasq acknowledged to this MAC, if any. */
  readonly dhcpAck?: string;
  /** ms since the VM started when slurmctld first showed the node up (idle, mixed, allocated). */
  readonly slurmUpMs?: number;
  /** Last Slurm state seen (`idle`, `down*`, `drained`, ...) and its reason. */
  readonly slurmState?: string;
  readonly slurmReason?: string;
  /** QEMU exited (the guest powered off, rebooted with -no-reboot, or QEMU failed) before the node was ready. */
  readonly qemuExited?: { readonly code: number | null; readonly stderr: string };
  /** What QEMU printed on stderr so far (its warnings). */
  readonly qemuStderr?: string;
  /** The test's deadline passed before the node was ready. */
  readonly timedOut: boolean;
  /** Kernel arguments carry console=ttyS0 (the console can be read at all). */
  readonly serialConsole: boolean;
  /** The IPv4 address the head's neighbour table holds for this MAC after the boot (what the running node answers at). */
  readonly neighborAddress?: string;
}

export interface Diagnosis {
  readonly problem: string;
  readonly hint: string;
}

const firstOf = (reqs: readonly StageRequest[], stage: string): StageRequest | undefined => reqs.find((r) => r.stage === stage);

/** The first failure of a node that never became ready; undefined when it did. */
export function diagnose(o: NodeObservation): Diagnosis | undefined {
  if (o.slurmUpMs !== undefined && o.qemuExited === undefined) return undefined;
  const f = o.facts;
  const served = (stage: string) => firstOf(o.requests, stage);
  const refused = o.requests.find((r) => r.problem !== undefined && r.sent === undefined && r.stage !== 'runtime');
  if (o.qemuExited && !f.milestones.has('ipxe') && o.requests.length === 0) {
    return { problem: `QEMU exited (code ${o.qemuExited.code ?? 'killed'}) before the NIC's boot ROM ran${o.qemuExited.stderr.trim() ? `: ${o.qemuExited.stderr.trim().split('\n').pop()}` : ''}`, hint: 'check that qemu-system-x86 and ipxe-qemu are installed and the spec names a NIC driver QEMU emulates' };
  }
  // The ROM's banner and then nothing: iPXE never asked for an address. Seen where /dev/kvm opens but KVM cannot run the
  // guest's firmware (nested virtualisation: QEMU warns the host lacks CPU features); software emulation boots.
  if (!f.dhcpTried && !f.dhcpFailed && f.milestones.has('ipxe') && !f.milestones.has('dhcp') && o.dhcpAck === undefined && o.requests.length === 0) {
    return { problem: 'iPXE stopped after its banner and never asked for an address', hint: `the VM's firmware hangs: on a machine whose KVM cannot run it (nested virtualisation), pass --accel tcg${o.qemuStderr?.trim() ? ` (QEMU said: ${o.qemuStderr.trim().split('\n').pop()})` : ''}` };
  }
  if (f.dhcpFailed || (o.dhcpAck === undefined && served('ipxe') === undefined && f.milestones.has('ipxe') && !f.milestones.has('dhcp'))) {
    return { problem: `no DHCP answer for ${o.mac}: iPXE could not configure the NIC`, hint: 'the node\'s MAC in the spec must be the one the NIC sends; dnsmasq answered only the MACs herd compiled' };
  }
  if (f.ipxeAddress !== undefined && f.ipxeAddress !== o.address) {
    return { problem: `iPXE got ${f.ipxeAddress} by DHCP, but the spec gives ${o.node} ${o.address}`, hint: 'another dhcp-host entry or the dynamic range answered this MAC: check for a duplicate MAC' };
  }
  if (refused) {
    return { problem: `herd serve answered stage ${refused.stage} with "${refused.problem}"`, hint: refused.stage === 'ipxe' ? 'is the node\'s MAC in the spec the one it booted with?' : 'run herd apply (herd plan shows what is missing or pending), then boot again' };
  }
  if (served('ipxe') === undefined && f.milestones.has('dhcp')) {
    return { problem: `iPXE got an address but never fetched its script from herd serve${f.fetchError ? `: ${f.fetchError}` : ''}`, hint: 'the DHCP answer must chain to http://<head>:9873/ipxe/${mac:hexhyp}; herd serve must listen on the head address' };
  }
  if (f.initramfsFailed) {
    return { problem: `the image does not fit in ${o.node}'s ${o.memoryMiB} MiB of RAM: ${f.initramfsFailed}`, hint: `raise the node's memory${o.memoryAt ? ` (${o.memoryAt})` : ''}: the in-RAM root gets half of it, so it needs at least twice the unpacked image plus room for /run and /tmp` };
  }
  if (f.panic) return { problem: f.panic, hint: 'the console log kept for this node shows what led to the panic' };
  if (f.loginHost !== undefined && f.loginHost !== o.node) {
    return { problem: `${o.node} came up named "${f.loginHost}"`, hint: 'its system overlay sets /etc/hostname: was it built for this node (herd plan)?' };
  }
  if (o.neighborAddress !== undefined && o.neighborAddress !== o.address) {
    return { problem: `${o.node} came up at ${o.neighborAddress}, but the spec gives it ${o.address}`, hint: 'its system overlay\'s network file (NetworkManager keyfile or systemd-networkd .network) sets the address: was it built for this node (herd plan)?' };
  }
  if (f.failedUnits.length > 0) {
    return { problem: `units failed on ${o.node}: ${f.failedUnits.join(', ')}`, hint: 'the console log kept for this node has systemd\'s messages; munge needs the key owned by its pinned UID, slurmd needs network-online' };
  }
  const reached = [...STAGES].reverse().find((s) => served(s) !== undefined);
  const where = f.milestones.has('login') ? 'the login prompt' : f.milestones.has('systemd') ? 'systemd' : f.milestones.has('init') ? 'the image\'s /init' : f.milestones.has('kernel') ? 'the kernel' : reached ? `stage ${reached}` : f.milestones.has('ipxe') ? 'iPXE' : 'nothing';
  if (o.qemuExited) return { problem: `the VM stopped (QEMU exit ${o.qemuExited.code ?? 'killed'}) after reaching ${where}`, hint: 'the console log kept for this node shows the last messages' };
  if (o.slurmState !== undefined && o.slurmUpMs === undefined) {
    return { problem: `slurmctld sees ${o.node} as ${o.slurmState}${o.slurmReason ? ` (${o.slurmReason})` : ''}`, hint: 'slurmctld\'s log in the kept folder says why; a node that never registered has no slurmd talking to the head (munge key, network, slurm.conf)' };
  }
  if (o.timedOut) {
    const console = o.serialConsole ? '' : ' (no console=ttyS0 in the kernel arguments, so the console shows nothing after iPXE)';
    return { problem: `not ready in time: got as far as ${where}${console}`, hint: 'raise --timeout on a busy machine, or read the kept console log' };
  }
  return { problem: 'did not become ready', hint: 'read the kept console log' };
}

const secs = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}s`);

export interface NodeRow {
  readonly node: string;
  readonly cells: readonly string[];
  readonly ok: boolean;
  readonly diagnosis?: Diagnosis;
}

export const ROW_HEADER = ['node', 'dhcp', ...STAGES, 'slurmd up', 'result'] as const;

/** One table row: stage request times as the server saw them, the time slurmctld saw the node up, and the verdict. */
export function nodeRow(o: NodeObservation): NodeRow {
  const d = diagnose(o);
  const dhcpMs = o.consoleMs.get('dhcp');
  const cells = [
    o.node,
    o.dhcpAck !== undefined || dhcpMs !== undefined ? secs(dhcpMs) : '-',
    ...STAGES.map((s) => {
      const r = firstOf(o.requests, s);
      if (!r) return '-';
      return r.sent === undefined && r.problem !== undefined ? `${secs(r.atMs)} (${r.problem.length > 24 ? 'failed' : r.problem})` : secs(r.atMs);
    }),
    secs(o.slurmUpMs),
    d ? 'FAIL' : 'ready',
  ];
  return { node: o.node, cells, ok: d === undefined, ...(d ? { diagnosis: d } : {}) };
}

/** A plain-text table (columns padded) or a markdown table for a pull request. */
export function renderTable(rows: readonly NodeRow[], format: 'text' | 'markdown'): string {
  const all = [[...ROW_HEADER], ...rows.map((r) => [...r.cells])];
  if (format === 'markdown') {
    const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
    return [line(all[0]!), line(all[0]!.map(() => '---')), ...all.slice(1).map(line)].join('\n') + '\n';
  }
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
