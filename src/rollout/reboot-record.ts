// The reboot record's transitions (pure): which nodes an apply made reboot-worthy, which herd rollout asked Slurm to reboot, which came back.
import { nextSteps } from '../plan/runbook.ts';
import type { Plan } from '../plan/plan-types.ts';
import { STATE_FORMAT_VERSION, type AwaitingReboot, type RebootRecord } from '../plan/state-manifest.ts';
import { compareHostnames, expandHostlist } from '../spec/hostlist.ts';

export const EMPTY_REBOOT_RECORD: RebootRecord = { formatVersion: STATE_FORMAT_VERSION, kind: 'herd-reboots', nodes: {} };

/**
 * The nodes applying `plan` makes reboot-worthy: exactly those the runbook's `scontrol reboot` step names (a new image, __SYSTEM__ overlay,
 * address or DHCP entry, all of which a node reads only at boot). Added nodes are powered on and removed ones powered off, so neither is here.
 */
export function rebootNodesOf(plan: Plan): string[] {
  const step = nextSteps(plan).find((s) => s.class === 'reboot' && s.command?.startsWith('scontrol reboot '));
  if (!step || step.nodes === '') return [];
  const names = expandHostlist(step.nodes);
  return names.ok ? [...new Set(names.names)].sort(compareHostnames) : [];
}

/** After an apply of `generation`: each node needs a reboot since then (a newer generation supersedes an older need and any pending request). */
export function recordNeeded(record: RebootRecord | undefined, nodes: readonly string[], generation: number): RebootRecord {
  const next = { ...(record ?? EMPTY_REBOOT_RECORD).nodes };
  for (const n of nodes) next[n] = { since: generation, requestedAt: null };
  return { formatVersion: STATE_FORMAT_VERSION, kind: 'herd-reboots', nodes: next };
}

/** herd rollout asked Slurm to reboot `nodes` at `at` (ISO time): they stay awaiting until seen back. */
export function recordRequested(record: RebootRecord, nodes: readonly string[], at: string): RebootRecord {
  const next = { ...record.nodes };
  for (const n of nodes) if (next[n]) next[n] = { ...next[n]!, requestedAt: at };
  return { ...record, nodes: next };
}

/**
 * `node` came back from a reboot that started after generation `seen` was applied: it is done, unless an apply recorded a newer need since
 * (compare-and-set on `since`, so a rollout racing a later apply never forgets the newer generation).
 */
export function recordBack(record: RebootRecord, node: string, seen: number): RebootRecord {
  const entry = record.nodes[node];
  if (!entry || entry.since > seen) return record;
  const next = { ...record.nodes };
  delete next[node];
  return { ...record, nodes: next };
}

/** The nodes awaiting a reboot, in hostname order. */
export function awaitingReboot(record: RebootRecord | undefined): AwaitingReboot[] {
  return Object.entries(record?.nodes ?? {})
    .map(([node, e]) => ({ node, since: e.since, requestedAt: e.requestedAt }))
    .sort((a, b) => compareHostnames(a.node, b.node));
}
