// Helpers shared by the plan renderers (pure): hash labels, node grouping, file and content-entry descriptions.
import type { ContentEntry, Impact } from '../artifacts/artifact.ts';
import { compareHostnames, compressHostlist } from '../spec/hostlist.ts';
import { octal } from './plan-json.ts';
import type { Drift, PlanAction } from './plan-types.ts';

export const shortHash = (sha: string): string => `sha256:${sha.slice(0, 12)}…`;

/** How a secret appears anywhere in a plan: its hash, never its bytes. */
export const secretLabel = (sha: string): string => `(secret ${shortHash(sha)})`;

export const ACTION_SYMBOL = { create: '+', update: '~', delete: '-', 'no-op': ' ' } as const;

export function impactLabel(impact: Impact): string {
  return impact.service && (impact.class === 'daemon-reload' || impact.class === 'daemon-restart') ? `${impact.class} ${impact.service}` : impact.class;
}

export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

export interface NodeGroup {
  /** Hostlist of the nodes an artifact affects; '' for artifacts that name no node (head-node config). */
  readonly nodes: string;
  readonly actions: readonly PlanAction[];
}

/** Group actions by the node set they affect: artifacts naming no node first, then by first node in natural order. */
export function groupByNodes(actions: readonly PlanAction[]): NodeGroup[] {
  const groups = new Map<string, { first: string; actions: PlanAction[] }>();
  for (const a of actions) {
    const sorted = [...a.nodes].sort(compareHostnames);
    const key = compressHostlist(sorted);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { first: sorted[0] ?? '', actions: [] }));
    g.actions.push(a);
  }
  return [...groups.entries()]
    .sort(([ka, a], [kb, b]) => (ka === '' ? -1 : kb === '' ? 1 : compareHostnames(a.first, b.first) || (ka < kb ? -1 : ka > kb ? 1 : 0)))
    .map(([nodes, g]) => ({ nodes, actions: g.actions }));
}

/** "sha256:abc… → sha256:def…, mode 0644 → 0600" for an update; secrets keep the same shape, hash only. */
export function describeChange(a: PlanAction): string {
  const parts: string[] = [];
  const hash = (sha: string) => (a.secret ? secretLabel(sha) : shortHash(sha));
  if (a.action === 'create' && a.after) parts.push(`${hash(a.after.sha256)}, ${formatSize(a.after.size)}, mode ${octal(a.after.mode)}`);
  if (a.action === 'delete' && a.before) parts.push(`${hash(a.before.sha256)}`);
  if (a.action === 'update' && a.after) {
    if (a.reasons.includes('content')) parts.push(`${a.before ? hash(a.before.sha256) : 'not a file'} → ${hash(a.after.sha256)}`);
    if (a.reasons.includes('mode') && a.before) parts.push(`mode ${octal(a.before.mode)} → ${octal(a.after.mode)}`);
    if (a.reasons.includes('owner')) parts.push(`owner → ${a.after.owner}:${a.after.group}`);
  }
  if (a.reasons.includes('missing')) parts.push('deleted on the target since the last apply');
  if (a.reasons.includes('interrupted-leftover')) parts.push('left by an apply that did not finish');
  return parts.join(', ');
}

export function describeDrift(d: Drift, secret: boolean): string {
  const hash = (sha: string | null) => (sha === null ? 'none' : secret ? secretLabel(sha) : shortHash(sha));
  switch (d.kind) {
    case 'content':
      return `edited outside herd since the last apply (recorded ${hash(d.recordedSha256)}, now ${hash(d.liveSha256)})`;
    case 'unmanaged':
      return `a file herd did not write is in the way (${hash(d.liveSha256)})`;
    case 'mode':
      return 'permissions changed outside herd since the last apply';
    case 'missing':
      return 'deleted outside herd since the last apply; apply writes it again';
    case 'rebuilt':
      return `rebuilt by Warewulf (wwctl overlay build) from herd's templates: the same files in other bytes (now ${hash(d.liveSha256)}); apply writes herd's archive back, nothing for the node to do`;
    case 'not-a-file':
      return `${d.detail ?? 'a directory, symlink or device is in the way'}; herd never replaces or follows it: remove it by hand`;
  }
}

export function describeEntry(e: ContentEntry): string {
  const size = e.type === 'file' ? ` ${formatSize(e.size)}` : '';
  return `${e.path}  ${e.type} ${octal(e.mode)} ${e.uid}:${e.gid}${size}`;
}

/** One line per content-diff change, capped so a large image diff stays readable. */
export function contentDiffLines(a: PlanAction, max = 50): string[] {
  const d = a.contentDiff;
  if (!d) return [];
  const lines = [
    ...d.added.map((e) => `+ ${describeEntry(e)}`),
    ...d.removed.map((e) => `- ${describeEntry(e)}`),
    ...d.changed.map((c) => {
      const b = c.before;
      const n = c.after;
      const what: string[] = [];
      if (b.type !== n.type) what.push(`${b.type} → ${n.type}`);
      if (b.mode !== n.mode) what.push(`mode ${octal(b.mode)} → ${octal(n.mode)}`);
      if (b.uid !== n.uid || b.gid !== n.gid) what.push(`owner ${b.uid}:${b.gid} → ${n.uid}:${n.gid}`);
      if (b.size !== n.size) what.push(`size ${formatSize(b.size)} → ${formatSize(n.size)}`);
      else if (b.sha256 !== n.sha256) what.push('content');
      return `~ ${c.path}  ${what.join(', ')}`;
    }),
  ].sort((x, y) => (x.slice(2) < y.slice(2) ? -1 : x.slice(2) > y.slice(2) ? 1 : 0));
  return lines.length > max ? [...lines.slice(0, max), `… and ${lines.length - max} more`] : lines;
}

export function contentDiffSummary(a: PlanAction): string | undefined {
  if (a.contentDiff) return `contents: ${a.contentDiff.added.length} added, ${a.contentDiff.removed.length} removed, ${a.contentDiff.changed.length} changed`;
  if (a.contentDiffUnavailable) return 'contents: previous index not stored, only hashes can be compared';
  if (a.action === 'create' && a.contentEntries !== undefined) return `contents: ${a.contentEntries} entries`;
  return undefined;
}
