// Slurm rules (pure): partitions, time strings, pass-through keys, preemption and node topology.
import { diagnosticAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { parseSlurmTime } from '../units.ts';
import { didYouMean } from '../did-you-mean.ts';
import { canonicalKey, DEFAULT_SLURM_VERSION, HERD_DEFAULT_GLOBAL, HERD_OWNED_GLOBAL, HERD_OWNED_NODE, HERD_OWNED_PARTITION, SLURM_KEYS, SLURM_VERSIONS, type SlurmKeyTable, type SlurmVersion } from '../slurm-keys.ts';
import { settingsLayers, type RuleCheck } from './rule.ts';

/** Exactly one default partition: with none jobs without -p are rejected; with two the last silently wins. */
export const checkDefaultPartition: RuleCheck = ({ spec, index }) => {
  const parts = Object.entries(spec.slurm?.partitions ?? {});
  if (parts.length === 0) return [];
  const defaults = parts.filter(([, p]) => p.default === true);
  if (defaults.length === 1) return [];
  if (defaults.length === 0) return [diagnosticAt(index.at(['slurm', 'partitions']), 'slurm/default-partition', 'error', 'no partition is the default', `set default: true on one partition (e.g. ${parts[0]![0]}); otherwise jobs submitted without -p are rejected`)];
  return defaults.slice(1).map(([name]) =>
    diagnosticAt(index.at(['slurm', 'partitions', name, 'default']), 'slurm/default-partition', 'error', `partition ${name} is a second default (also ${defaults[0]![0]})`, 'keep default: true on one partition only; Slurm would silently use the last one', [{ message: 'first default', ...index.at(['slurm', 'partitions', defaults[0]![0], 'default']) }]),
  );
};

/** Time strings as slurmctld reads them; `2:00` is two minutes, not two hours. */
export const checkSlurmTimes: RuleCheck = ({ spec, index }) => {
  const out: Diagnostic[] = [];
  for (const [name, p] of Object.entries(spec.slurm?.partitions ?? {})) {
    for (const field of ['max_time', 'default_time'] as const) {
      const v = p[field];
      if (v === undefined) continue;
      const at = index.at(['slurm', 'partitions', name, field]);
      const t = parseSlurmTime(v);
      if (!t.ok) out.push(diagnosticAt(at, 'slurm/time-format', 'error', `${field} of partition ${name}: ${t.reason}`, 'e.g. 2:00:00 for two hours, 1-00:00:00 for a day, UNLIMITED'));
      else if (t.form === 'm:s') out.push(diagnosticAt(at, 'slurm/ambiguous-time', 'warning', `${field} "${String(v)}" of partition ${name} means ${t.minutes} minutes in Slurm (M:S), not hours`, `write ${String(v)}:00 for hours, or ${t.minutes} to say minutes plainly`));
      else if (t.minutes === 0) out.push(diagnosticAt(at, 'slurm/ambiguous-time', 'warning', `${field} of partition ${name} is zero: jobs are killed at once`, 'use UNLIMITED for no limit'));
    }
    const max = p.max_time === undefined ? undefined : parseSlurmTime(p.max_time);
    const def = p.default_time === undefined ? undefined : parseSlurmTime(p.default_time);
    if (max?.ok && def?.ok && max.minutes !== 'UNLIMITED' && (def.minutes === 'UNLIMITED' || def.minutes > max.minutes)) {
      out.push(diagnosticAt(index.at(['slurm', 'partitions', name, 'default_time']), 'slurm/time-format', 'error', `default_time of partition ${name} exceeds its max_time`, 'Slurm silently drops a DefaultTime above MaxTime; lower it'));
    }
  }
  return out;
};

type Section = 'global' | 'node' | 'partition';

function checkExtras(extra: Record<string, unknown> | undefined, path: (string | number)[], section: Section, version: SlurmVersion, owned: readonly string[], what: string, index: Parameters<RuleCheck>[0]['index']): Diagnostic[] {
  const out: Diagnostic[] = [];
  const table: SlurmKeyTable = SLURM_KEYS[version];
  const known = table[section];
  for (const key of Object.keys(extra ?? {})) {
    const at = index.keyAt([...path, key]);
    const canon = canonicalKey(key, known);
    if (canon && ['NodeAddr', 'NodeHostname'].includes(canon)) {
      out.push(diagnosticAt(at, 'slurm/node-name-resolution', 'error', `${canon} in ${what} would override the literal NodeAddr herd writes`, 'remove it: herd writes each node\'s address as NodeAddr so slurmd never resolves its own name (EL\'s nss-myhostname answers with an IPv6 link-local address slurmd cannot bind)'));
    } else if (canon && owned.includes(canon)) {
      out.push(diagnosticAt(at, 'slurm/owned-key', 'error', `${canon} is written by herd from the spec and cannot be set in ${what}`, 'set it through the spec field that owns it'));
    } else if (!canon) {
      const defunct = section === 'global' ? canonicalKey(key, table.defunct) : undefined;
      const elsewhere = SLURM_VERSIONS.filter((v) => v !== version && canonicalKey(key, SLURM_KEYS[v][section]) !== undefined);
      if (defunct) {
        out.push(diagnosticAt(at, 'slurm/version-key', 'error', `${defunct} is defunct in Slurm ${version}: slurmctld logs an error and ignores it`, elsewhere.length ? `valid in Slurm ${elsewhere.join(', ')}, not in ${version}; remove it, or set slurm.version` : 'remove it'));
      } else if (elsewhere.length > 0) {
        const name = canonicalKey(key, SLURM_KEYS[elsewhere[0]!][section])!;
        out.push(diagnosticAt(at, 'slurm/version-key', 'error', `"${key}" is not a ${what} key Slurm ${version} knows`, `${name} is valid in Slurm ${elsewhere.join(', ')}, not in ${version}; set slurm.version${version === DEFAULT_SLURM_VERSION ? ` (default ${DEFAULT_SLURM_VERSION})` : ''} or remove it`));
      } else {
        const guess = didYouMean(key, known);
        out.push(diagnosticAt(at, 'slurm/unknown-key', 'error', `"${key}" is not a ${what} key Slurm ${version} knows`, guess ? `did you mean "${guess}"? (slurmctld refuses unknown keys)` : 'slurmctld refuses unknown keys; check the slurm.conf man page'));
      }
    }
  }
  return out;
}

/** Pass-through keys must be real keys of the spec's Slurm version and must not fight what herd writes. */
export const checkSlurmExtras: RuleCheck = ({ spec, model, index }) => {
  const v = model.slurm.version;
  const out = checkExtras(spec.slurm?.extra, ['slurm', 'extra'], 'global', v, HERD_OWNED_GLOBAL, 'slurm.extra', index);
  for (const [key, value] of Object.entries(spec.slurm?.extra ?? {})) {
    if (value !== null) continue;
    const canon = canonicalKey(key, SLURM_KEYS[v].global);
    if (canon === undefined || HERD_OWNED_GLOBAL.includes(canon)) continue; // reported above
    if (!HERD_DEFAULT_GLOBAL.includes(canon)) {
      out.push(diagnosticAt(index.keyAt(['slurm', 'extra', key]), 'slurm/omit-unwritten', 'error', `slurm.extra ${canon}: null leaves out a key herd writes by default, and herd writes no ${canon}`, `remove it (herd leaves out only ${HERD_DEFAULT_GLOBAL.join(', ')})`));
    }
  }
  for (const [name, p] of Object.entries(spec.slurm?.partitions ?? {})) for (const d of checkExtras(p.extra, ['slurm', 'partitions', name, 'extra'], 'partition', v, HERD_OWNED_PARTITION, `partition ${name}'s extra`, index)) out.push(d);
  for (const [path, layer] of settingsLayers(spec)) for (const d of checkExtras(layer?.slurm?.extra, [...path, 'slurm', 'extra'], 'node', v, HERD_OWNED_NODE, 'node slurm.extra', index)) out.push(d);
  return out;
};

/** Per-partition SUSPEND needs a global mode with GANG, or nothing is ever preempted (the owner job just waits). */
export const checkPreemption: RuleCheck = ({ spec, model, index }) => {
  const out: Diagnostic[] = [];
  const global = model.slurm.preemptMode;
  for (const [name, p] of Object.entries(spec.slurm?.partitions ?? {})) {
    if (p.preempt_mode === 'SUSPEND' && !global.includes('GANG')) {
      out.push(diagnosticAt(index.at(['slurm', 'partitions', name, 'preempt_mode']), 'slurm/preempt-mode', 'error', `partition ${name} uses PreemptMode=SUSPEND while the cluster mode is ${global}`, 'Slurm accepts this and then never preempts; set slurm.preempt_mode: SUSPEND,GANG or drop the partition setting'));
    }
    if (p.preempt_mode !== undefined && p.preempt_mode !== 'OFF' && global === 'OFF') {
      out.push(diagnosticAt(index.at(['slurm', 'partitions', name, 'preempt_mode']), 'slurm/preempt-mode', 'error', `partition ${name} sets preempt_mode but preemption is off for the cluster`, 'give partitions different priority_tier values or set slurm.preempt_mode'));
    }
  }
  if (spec.slurm?.preempt_mode && spec.slurm.preempt_mode !== 'OFF' && new Set(model.slurm.partitions.map((p) => p.priorityTier)).size < 2) {
    out.push(diagnosticAt(index.at(['slurm', 'preempt_mode']), 'slurm/preempt-mode', 'warning', `preempt_mode ${spec.slurm.preempt_mode} has no effect: every partition has the same priority_tier`, 'give the owners\' partition a higher priority_tier than the guests\''));
  }
  return out;
};

/** CPUs must equal Sockets x CoresPerSocket x ThreadsPerCore, or slurmd reports the node invalid. */
export const checkCpuTopology: RuleCheck = ({ model }) => {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const n of model.nodes) {
    const product = n.sockets * n.coresPerSocket * n.threadsPerCore;
    if (product === n.cpus) continue;
    const key = `${n.entry}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(diagnosticAt(n.at.cpus ?? n.at.cores_per_socket ?? n.at.name, 'slurm/cpu-topology', 'error', `node ${n.name}: cpus ${n.cpus} != sockets ${n.sockets} x cores_per_socket ${n.coresPerSocket} x threads_per_core ${n.threadsPerCore}`, 'make them agree (take them from `slurmd -C` on the hardware); slurmd marks a mismatching node invalid'));
  }
  return out;
};
