// slurm.conf and gres.conf from the resolved model (pure): literal NodeAddr always, one NodeName line per hardware class.
import type { ClusterModel, NodeModel } from '../spec/model.ts';
import { compareHostnames, compressHostlist, compressOrdered } from '../spec/hostlist.ts';
import type { SlurmVersion } from '../spec/slurm-keys.ts';
import type { Impact } from '../artifacts/artifact.ts';

/** Memory the kernel keeps for itself: slurmd drains a node whose reported memory is below RealMemory. */
export function kernelReserveMiB(memoryMiB: number): number {
  return Math.max(256, Math.ceil(memoryMiB * 0.03));
}

/**
 * RealMemory promised to jobs: installed RAM minus the kernel's reservation and minus the image, because a stateless
 * node's root filesystem lives in RAM (its tmpfs) and jobs must not be promised it.
 */
export function realMemoryMiB(model: ClusterModel, n: NodeModel): number | undefined {
  if (n.memoryMiB === undefined) return undefined;
  const image = model.images[n.image]?.sizeMiB ?? 0;
  return Math.max(1, Math.floor(n.memoryMiB - kernelReserveMiB(n.memoryMiB) - image));
}

function hardwareFields(model: ClusterModel, n: NodeModel): [string, string][] {
  const f: [string, string][] = [
    ['CPUs', String(n.cpus)],
    ['Sockets', String(n.sockets)],
    ['CoresPerSocket', String(n.coresPerSocket)],
    ['ThreadsPerCore', String(n.threadsPerCore)],
  ];
  const mem = realMemoryMiB(model, n);
  if (mem !== undefined) f.push(['RealMemory', String(mem)]);
  if (n.gpus) f.push(['Gres', `gpu:${n.gpus.type}:${n.gpus.count}`]);
  if (n.slurm.features.length > 0) f.push(['Features', n.slurm.features.join(',')]);
  if (n.slurm.weight !== undefined) f.push(['Weight', String(n.slurm.weight)]);
  for (const [k, v] of Object.entries(n.slurm.extra).sort(([a], [b]) => (a < b ? -1 : 1))) f.push([k, v]);
  f.push(['State', 'UNKNOWN']);
  return f;
}

/** Longest line we emit; bigger groups are split so no parser buffer is ever at risk. */
const MAX_LINE = 4000;

/** NodeName lines: nodes with identical hardware share a line; NodeAddr lists addresses in the same order as the names expand. */
export function nodeLines(model: ClusterModel): string[] {
  const groups = new Map<string, { fields: [string, string][]; nodes: NodeModel[] }>();
  for (const n of model.nodes) {
    const fields = hardwareFields(model, n);
    const key = JSON.stringify(fields);
    const g = groups.get(key);
    if (g) g.nodes.push(n);
    else groups.set(key, { fields, nodes: [n] });
  }
  const lines: string[] = [];
  const emit = (nodes: NodeModel[], fields: [string, string][]): void => {
    const sorted = [...nodes].sort((a, b) => compareHostnames(a.name, b.name));
    const names = compressHostlist(sorted.map((n) => n.name));
    // compressHostlist expands back in sorted order, so the addresses follow that order (never a name slurmd must resolve).
    const addrs = compressOrdered(sorted.map((n) => n.address));
    const line = `NodeName=${names} NodeAddr=${addrs} ${fields.map(([k, v]) => `${k}=${v}`).join(' ')}`;
    if (line.length > MAX_LINE && sorted.length > 1) {
      const half = Math.ceil(sorted.length / 2);
      emit(sorted.slice(0, half), fields);
      emit(sorted.slice(half), fields);
    } else lines.push(line);
  };
  const ordered = [...groups.values()].sort((a, b) => compareHostnames(a.nodes[0]!.name, b.nodes[0]!.name));
  for (const g of ordered) emit(g.nodes, g.fields);
  return lines;
}

/**
 * Settings whose Slurm default changed between supported versions (DEFAULT_* in src/common/read_config.h at each tag), with the value
 * herd keeps. PriorityType: priority/basic (FIFO within a partition's PriorityTier) on 22.05, priority/multifactor on 24.11. SelectType
 * (select/linear on 22.05, select/cons_tres later) and TaskPlugin are written for every version above.
 */
const PINNED: readonly { key: string; herd: string; defaults: Readonly<Record<SlurmVersion, string>> }[] = [
  { key: 'PriorityType', herd: 'priority/basic', defaults: { '22.05': 'priority/basic', '24.11': 'priority/multifactor' } },
];

/** The pinned settings `version` would otherwise change. */
export function versionPins(version: SlurmVersion): [string, string][] {
  return PINNED.filter((p) => p.defaults[version] !== p.herd).map((p) => [p.key, p.herd]);
}

export function renderSlurmConf(model: ClusterModel, header: string): string {
  const s = model.slurm;
  const hasGpus = model.nodes.some((n) => n.gpus);
  const global: [string, string][] = [
    ['ClusterName', s.clusterName],
    ['SlurmctldHost', `${model.head.name}(${model.head.address})`],
    ['SlurmUser', 'slurm'],
    ['SlurmdUser', 'root'],
    ['AuthType', 'auth/munge'],
    ['CredType', 'cred/munge'],
    ['StateSaveLocation', '/var/spool/slurmctld'],
    ['SlurmdSpoolDir', '/var/spool/slurmd'],
    ['SlurmctldPidFile', '/run/slurmctld.pid'],
    ['SlurmdPidFile', '/run/slurmd.pid'],
    ['SlurmctldLogFile', '/var/log/slurm/slurmctld.log'],
    ['SlurmdLogFile', '/var/log/slurm/slurmd.log'],
    // cgroup tracking and confinement work on stateless nodes as long as the image mounts cgroupfs (systemd does).
    ['ProctrackType', 'proctrack/cgroup'],
    ['TaskPlugin', 'task/cgroup,task/affinity'],
    ['SelectType', 'select/cons_tres'],
    ['SelectTypeParameters', 'CR_Core_Memory'],
    ['SchedulerType', 'sched/backfill'],
    ['MpiDefault', 'none'],
    // 2: a stateless node that went down in the boot race returns to service as soon as it registers.
    ['ReturnToService', String(s.returnToService)],
    ['SlurmdTimeout', '300'],
    ['SlurmctldTimeout', '120'],
  ];
  // Defaults that changed after 22.05 are written out where the version's own default differs from herd's choice, so a cluster
  // schedules alike on every supported version (22.05's output stays as it was).
  for (const [k, v] of versionPins(s.version)) global.push([k, v]);
  if (hasGpus) global.push(['GresTypes', 'gpu']);
  global.push(['PreemptType', s.preemptType]);
  if (s.preemptType !== 'preempt/none') global.push(['PreemptMode', s.preemptMode]);
  // Site extras override herd's defaults in place (a key twice makes slurmctld complain), the rest follow sorted.
  const extras = Object.entries(s.extra).sort(([a], [b]) => (a < b ? -1 : 1));
  const rest: [string, string][] = [];
  for (const [k, v] of extras) {
    const i = global.findIndex(([g]) => g.toLowerCase() === k.toLowerCase());
    if (i >= 0) global[i] = [global[i]![0], v];
    else rest.push([k, v]);
  }
  if (s.configless) {
    // slurmctld serves slurm.conf (and gres.conf) to every slurmd that asks with --conf-server; kept with the site's own
    // SlurmctldParameters when there are some.
    const i = global.findIndex(([k]) => k === 'SlurmctldParameters');
    const j = rest.findIndex(([k]) => k.toLowerCase() === 'slurmctldparameters');
    if (j >= 0) rest[j] = [rest[j]![0], rest[j]![1].split(',').includes('enable_configless') ? rest[j]![1] : `${rest[j]![1]},enable_configless`];
    else if (i < 0) global.push(['SlurmctldParameters', 'enable_configless']);
  }
  // slurm.extra's nulls: herd defaults the spec leaves to Slurm (an imported site that never set them).
  const omit = new Set(s.omit.map((k) => k.toLowerCase()));
  const lines = [...global.filter(([k]) => !omit.has(k.toLowerCase())).map(([k, v]) => `${k}=${v}`), ...rest.map(([k, v]) => `${k}=${v}`)];
  lines.push('#', '# Nodes: one line per hardware class, literal NodeAddr in the order the names expand.');
  for (const l of nodeLines(model)) lines.push(l); // one line per hardware group: unbounded, so no push(...spread)
  lines.push('#', '# Partitions: owners (higher PriorityTier) preempt guests when preemption is on.');
  for (const p of s.partitions) {
    const f: string[] = [`PartitionName=${p.name}`, `Nodes=${compressHostlist(p.nodes)}`, `Default=${p.default ? 'YES' : 'NO'}`, `MaxTime=${p.maxTime}`];
    if (p.defaultTime) f.push(`DefaultTime=${p.defaultTime}`);
    f.push(`PriorityTier=${p.priorityTier}`);
    if (p.preemptMode) f.push(`PreemptMode=${p.preemptMode}`);
    for (const [k, v] of Object.entries(p.extra).sort(([a], [b]) => (a < b ? -1 : 1))) f.push(`${k}=${v}`);
    f.push(`State=${p.state}`);
    lines.push(f.join(' '));
  }
  return header + lines.join('\n') + '\n';
}

/**
 * cgroup.conf, shipped wherever slurm.conf is. The same text serves 22.05 and 24.11: every key below is in both versions' cgroup.conf
 * table and none is one 24.11 calls defunct (as it does CgroupAutomount); autodetect picks cgroup/v2 on a unified-hierarchy host
 * such as EL10 or Debian 13. herd's slurm.conf tracks and confines jobs with cgroups, and Slurm 22.05
 * without this file gives slurmstepd no cgroup mount point ("cannot read (null)/system.slice/<node>_slurmstepd.scope/
 * cgroup.controllers"), so every job step fails with "Plugin initialization failed" although slurmd registers fine.
 * Found by herd boot-test on a Debian 12 node.
 */
export function renderCgroupConf(model: ClusterModel, header: string): string {
  const lines = [
    'CgroupPlugin=autodetect',
    'ConstrainCores=yes',
    'ConstrainRAMSpace=yes',
    // GPUs are handed to jobs by device cgroup; without GPUs there is nothing to confine.
    ...(model.nodes.some((n) => n.gpus) ? ['ConstrainDevices=yes'] : []),
  ];
  return header + lines.join('\n') + '\n';
}

/** What a cgroup.conf change needs: slurmd reads it only at start, and from 23.11 scontrol reconfigure starts slurmd anew. */
export function cgroupConfImpact(model: ClusterModel): Impact {
  return model.slurm.version === '22.05'
    ? { class: 'daemon-restart', service: 'slurmd', reason: 'slurmd reads cgroup.conf only at start: restart slurmd on the compute nodes' }
    : { class: 'slurm-reconfigure', reason: `Slurm ${model.slurm.version}: scontrol reconfigure restarts slurmd in place, which reads cgroup.conf` };
}

/** gres.conf for GPU nodes: one line per (type, count, file) class. */
export function renderGresConf(model: ClusterModel, header: string): string | undefined {
  const groups = new Map<string, string[]>();
  for (const n of model.nodes) {
    if (!n.gpus) continue;
    const key = `Name=gpu Type=${n.gpus.type} File=${n.gpus.file}`;
    { const list = groups.get(key); if (list) list.push(n.name); else groups.set(key, [n.name]); }
  }
  if (groups.size === 0) return undefined;
  const lines = [...groups].map(([k, names]) => `NodeName=${compressHostlist(names)} ${k}`).sort();
  return header + lines.join('\n') + '\n';
}
