// The Slurm side of an import (pure): a node's NodeName keys as spec settings, and the slurm: section (cluster name,
// preemption, partitions) from slurm.conf as slurmctld reads it.
import { kernelReserveMiB } from '../compile/slurm-conf.ts';
import { compareHostnames, compressHostlist, expandHostlist } from '../spec/hostlist.ts';
import { HERD_OWNED_NODE } from '../spec/slurm-keys.ts';
import { parseSlurmTime } from '../spec/units.ts';
import type { Fields } from './factor.ts';
import { globalValue, slurmTopology, type GresLine, type SlurmNodeDef, type SlurmSite } from './slurm-conf.ts';

/** The smallest installed RAM herd turns into this RealMemory (no image size in the spec), preferring whole GiB. */
const memoryCache = new Map<number, number | string>();
export function memoryForRealMemory(real: number): number | string {
  const hit = memoryCache.get(real);
  if (hit !== undefined) return hit;
  const m = invertRealMemory(real);
  if (memoryCache.size > 10_000) memoryCache.clear();
  memoryCache.set(real, m);
  return m;
}

function invertRealMemory(real: number): number | string {
  const f = (m: number): number => m - kernelReserveMiB(m);
  // f grows by 0 or 1 per MiB, so solutions sit next to real + 256 (small nodes) or real / 0.97 (the 3% reserve).
  const guess = Math.floor(real / 0.97);
  const candidates = [...Array.from({ length: 9 }, (_, i) => real + 252 + i), ...Array.from({ length: 41 }, (_, i) => guess - 20 + i)].filter((m) => m >= 1);
  const sols = [...new Set(candidates)].filter((m) => f(m) === real).sort((a, b) => a - b);
  const gib = sols.find((m) => m % 1024 === 0);
  const m = gib ?? sols[0] ?? real + 256;
  return m % 1024 === 0 ? `${m / 1024}GiB` : m;
}

/** A node's hardware and Slurm keys as flat spec settings into `f`; `memoryFrom` collects the comment for each inferred memory. */
export function slurmNodeFields(s: SlurmNodeDef, gresLine: GresLine | undefined, f: Fields, memoryFrom: Map<string, string>): void {
  const num = (k: string): number | undefined => {
    const v = s.fields.get(k)?.value;
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  const topo = slurmTopology(s.fields);
  if (topo.cpus !== undefined) f.cpus = topo.cpus;
  if (topo.sockets !== undefined) f.sockets = topo.sockets;
  if (topo.cores !== undefined) f.cores_per_socket = topo.cores;
  if (topo.threads !== undefined) f.threads_per_core = topo.threads;
  const real = num('RealMemory');
  if (real !== undefined) {
    f.memory = memoryForRealMemory(real);
    memoryFrom.set(JSON.stringify(f.memory), `inferred: installed RAM that leaves RealMemory=${real} (slurm.conf) after the kernel's share; add images.<name>.size and raise it by as much`);
  }
  const gres = s.fields.get('Gres')?.value;
  if (gres) {
    const m = /^gpu:([^:,]+):(\d+)$/.exec(gres);
    if (m) {
      const count = Number(m[2]);
      const gpus: Record<string, unknown> = { type: m[1], count };
      const g = gresLine;
      const dflt = count === 1 ? '/dev/nvidia0' : `/dev/nvidia[0-${count - 1}]`;
      if (g?.file && g.file !== dflt) gpus.file = g.file;
      f.gpus = gpus;
    }
  }
  const feats = s.fields.get('Features')?.value;
  if (feats) f['slurm\u0001features'] = feats.split(',').filter((x) => x !== '');
  const weight = num('Weight');
  if (weight !== undefined) f['slurm\u0001weight'] = weight;
  for (const [k, p] of s.fields) if (!HERD_OWNED_NODE.includes(k)) f[`slurm\u0001extra\u0001${k}`] = p.value;
}

/** The spec's slurm: section. `members` of each herd profile let a partition name profiles instead of a hostlist. */
export function mapSlurm(slurm: SlurmSite, name: string, profilesOf: ReadonlyMap<string, readonly string[]>, allNodes: readonly string[], slurmExtra: Readonly<Record<string, string | null>> | undefined): Record<string, unknown> {
  const slurmDoc: Record<string, unknown> = {};
  const cn = globalValue(slurm, 'ClusterName')?.value;
  if (cn && cn !== name) slurmDoc.cluster_name = cn;
  const rts = globalValue(slurm, 'ReturnToService')?.value;
  if (rts !== undefined && rts !== '2' && /^[0-2]$/.test(rts)) slurmDoc.return_to_service = Number(rts);
  if (rts === undefined) slurmDoc.return_to_service = 0;
  const ptype = globalValue(slurm, 'PreemptType')?.value ?? 'preempt/none';
  const pmode = globalValue(slurm, 'PreemptMode')?.value?.toUpperCase();
  const tiers = new Set(slurm.partitions.map((p) => p.fields.get('PriorityTier')?.value ?? '1'));
  const want = ptype === 'preempt/none' ? 'OFF' : pmode && ['CANCEL', 'REQUEUE', 'SUSPEND,GANG', 'GANG,SUSPEND'].includes(pmode) ? (pmode.startsWith('GANG') ? 'SUSPEND,GANG' : pmode) : 'REQUEUE';
  if (want !== (tiers.size > 1 ? 'REQUEUE' : 'OFF')) slurmDoc.preempt_mode = want;
  if (slurmExtra && Object.keys(slurmExtra).length > 0) slurmDoc.extra = { ...slurmExtra };
  const members = new Map<string, string[]>();
  for (const [n, ps] of profilesOf) for (const p of ps) (members.get(p) ?? members.set(p, []).get(p)!).push(n);
  const parts: Record<string, unknown> = {};
  for (const p of slurm.partitions) {
    const e: Record<string, unknown> = {};
    const nodesV = p.fields.get('Nodes')?.value;
    if (nodesV !== undefined) {
      const ex = nodesV.toUpperCase() === 'ALL' ? { ok: true as const, names: [...allNodes] } : expandHostlist(nodesV);
      const set = ex.ok ? [...new Set(ex.names)].sort(compareHostnames) : [];
      const inSet = new Set(set);
      const within = [...members].filter(([, ms]) => ms.every((x) => inSet.has(x))).sort(([a], [b]) => (a < b ? -1 : 1));
      const single = within.find(([, ms]) => ms.length === set.length);
      // The fewest profiles covering the set: largest first, each kept only when it adds nodes.
      const chosen: string[] = [];
      const covered = new Set<string>();
      for (const [p, ms] of [...within].sort(([a, x], [b, y]) => y.length - x.length || (a < b ? -1 : 1))) {
        if (ms.some((x) => !covered.has(x))) {
          chosen.push(p);
          for (const x of ms) covered.add(x);
        }
      }
      if (single) e.profiles = [single[0]];
      else if (set.length > 0 && covered.size === set.length) e.profiles = chosen.sort();
      else if (set.length > 0) e.nodes = compressHostlist(set);
    }
    for (const [k, v] of p.fields) {
      if (k === 'Nodes') continue;
      if (k === 'Default') { if (v.value.toUpperCase() === 'YES') e.default = true; continue; }
      // Times in Slurm's canonical form: a bare 30 is minutes and 2:00 is two minutes, which readers often misread.
      const time = (t: string): string => { const x = parseSlurmTime(t); return x.ok ? x.canonical : t; };
      if (k === 'MaxTime') { if (time(v.value) !== 'UNLIMITED') e.max_time = time(v.value); continue; }
      if (k === 'DefaultTime') { e.default_time = time(v.value); continue; }
      if (k === 'PriorityTier' && /^\d+$/.test(v.value)) { if (v.value !== '1') e.priority_tier = Number(v.value); continue; }
      if (k === 'PreemptMode' && ['OFF', 'CANCEL', 'REQUEUE', 'SUSPEND'].includes(v.value.toUpperCase())) { e.preempt_mode = v.value.toUpperCase(); continue; }
      if (k === 'State' && ['UP', 'DOWN', 'DRAIN', 'INACTIVE'].includes(v.value.toUpperCase())) { if (v.value.toUpperCase() !== 'UP') e.state = v.value.toUpperCase(); continue; }
      ((e.extra ??= {}) as Record<string, string>)[k] = v.value;
    }
    const order = ['profiles', 'nodes', 'default', 'max_time', 'default_time', 'priority_tier', 'preempt_mode', 'state', 'extra'];
    parts[p.name] = Object.fromEntries(Object.entries(e).sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)));
  }
  slurmDoc.partitions = parts;
  return slurmDoc;
}
