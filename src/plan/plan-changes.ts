// planChanges (pure): compare the desired artifact set with the state manifest and the live target, giving sorted typed actions.
import { contentCount, contentEntries, isPendingPath, type Artifact, type ArtifactSet, type Impact } from '../artifacts/artifact.ts';
import { diffContents } from './content-diff.ts';
import { ABSENT, type ChangeReason, type Drift, type FileState, type LiveFile, type LiveState, type Plan, type PlanAction } from './plan-types.ts';
import type { ManifestEntry, StateManifest } from './state-manifest.ts';
import { MAX_DIFF_BYTES, unifiedDiff } from './text-diff.ts';

const comparePaths = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Text configs that are not secret get unified diffs; the live scanner keeps their bytes when they differ. */
export function isDiffable(a: Pick<Artifact, 'kind' | 'secret' | 'bytes'>): boolean {
  return (a.kind === 'config' || a.kind === 'index') && !a.secret && a.bytes !== undefined && a.bytes.length <= MAX_DIFF_BYTES;
}

export const isArchive = (a: Pick<Artifact, 'kind'>): boolean => a.kind === 'image' || a.kind === 'overlay';

function fileStateOf(a: Artifact): FileState {
  return { sha256: a.sha256, size: a.size, mode: a.mode, owner: a.owner, group: a.group };
}

function liveFileState(l: LiveFile): FileState | null {
  return l.type === 'file' ? { sha256: l.sha256!, size: l.size!, mode: l.mode! } : null;
}

const sameImpact = (a: Impact, b: Impact) => a.class === b.class && a.service === b.service && a.reason === b.reason;
const sameNodes = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((n, i) => n === b[i]);

/** The manifest entry no longer describes the desired artifact, though the file on disk already matches it. */
function needsRecord(d: Artifact, m: ManifestEntry | undefined): boolean {
  if (!m) return true;
  return (
    m.sha256 !== d.sha256 ||
    m.size !== d.size ||
    m.mode !== d.mode ||
    m.owner !== d.owner ||
    m.group !== d.group ||
    m.kind !== d.kind ||
    Boolean(m.secret) !== Boolean(d.secret) ||
    !sameImpact(m.impact, d.impact) ||
    !sameNodes(m.nodes, d.nodes)
  );
}

function planDesired(d: Artifact, m: ManifestEntry | undefined, l: LiveFile, herdHashes: ReadonlySet<string>, live: LiveState): PlanAction {
  const diffable = isDiffable(d);
  const base = {
    path: d.path,
    kind: d.kind,
    secret: Boolean(d.secret),
    after: fileStateOf(d),
    recordedSha256: m?.sha256 ?? null,
    impact: d.impact,
    nodes: d.nodes,
    ...(d.description ? { description: d.description } : {}),
    ...(isArchive(d) && d.contents ? { contentEntries: contentCount(d.contents) } : {}),
    ...(d.overlay ? { overlay: d.overlay } : {}),
  };
  if (l.type === 'absent') {
    const drift: Drift | null = m ? { kind: 'missing', blocking: false, recordedSha256: m.sha256, liveSha256: null } : null;
    const diff = diffable ? unifiedDiff(d.path, undefined, d.bytes, ['absent', 'planned']) : undefined;
    return { ...base, action: 'create', reasons: [m ? 'missing' : 'new'], before: null, drift, ...(diff ? { diff } : {}) };
  }
  if (l.type === 'other') {
    return { ...base, action: 'update', reasons: ['content'], before: null, drift: { kind: 'not-a-file', blocking: true, recordedSha256: m?.sha256 ?? null, liveSha256: null, ...(l.blocked ? { detail: l.blocked } : {}) } };
  }
  const liveSha = l.sha256!;
  if (d.block && l.block === 'none') {
    // A file without the marker line has no block yet: herd appends marker and block below every line already there, so nothing is overwritten.
    const diff = diffable ? unifiedDiff(d.path, undefined, d.bytes, ['live, no block', 'planned block']) : undefined;
    const reasons: ChangeReason[] = l.mode !== d.mode ? ['content', 'mode'] : ['content'];
    return { ...base, action: 'update', reasons, before: liveFileState(l), drift: null, ...(diff ? { diff } : {}) };
  }
  const contentSame = liveSha === d.sha256;
  const reasons: ChangeReason[] = [];
  if (!contentSame) reasons.push('content');
  if (l.mode !== d.mode) reasons.push('mode');
  if (contentSame && m && (m.owner !== d.owner || m.group !== d.group)) reasons.push('owner');

  let drift: Drift | null = null;
  // Bytes herd wrote itself (recorded, or journaled by an apply that crashed) are never drift, so a half-done apply re-plans cleanly.
  if (!contentSame && !herdHashes.has(liveSha)) {
    const driftDiff = m && m.sha256 === d.sha256 && diffable ? unifiedDiff(d.path, d.bytes, l.bytes, ['recorded', 'live']) : undefined;
    drift = { kind: m ? 'content' : 'unmanaged', blocking: true, recordedSha256: m?.sha256 ?? null, liveSha256: liveSha, ...(driftDiff ? { diff: driftDiff } : {}) };
  } else if (m && liveSha === m.sha256 && l.mode !== m.mode && l.mode !== d.mode) {
    drift = { kind: 'mode', blocking: false, recordedSha256: m.sha256, liveSha256: liveSha };
  }

  const before = liveFileState(l);
  if (reasons.length === 0) {
    return { ...base, action: 'no-op', reasons: needsRecord(d, m) ? ['record'] : [], before, drift: null };
  }
  const extra: { diff?: string; contentDiff?: PlanAction['contentDiff']; contentDiffUnavailable?: boolean } = {};
  if (!contentSame && diffable) {
    const diff = unifiedDiff(d.path, l.bytes, d.bytes, ['live', 'planned']);
    if (diff) extra.diff = diff;
  }
  if (!contentSame && isArchive(d) && d.contents) {
    const previous = live.contentIndexes.get(liveSha);
    if (previous) extra.contentDiff = diffContents(previous, contentEntries(d.contents));
    else extra.contentDiffUnavailable = true;
  }
  return { ...base, action: 'update', reasons, before, drift, ...extra };
}

function planUnwanted(path: string, m: ManifestEntry | undefined, l: LiveFile, herdHashes: ReadonlySet<string>): PlanAction | undefined {
  const base = {
    path,
    kind: m?.kind ?? ('config' as const),
    secret: Boolean(m?.secret),
    after: null,
    recordedSha256: m?.sha256 ?? null,
    impact: m?.impact ?? { class: 'none' as const },
    nodes: m?.nodes ?? [],
  };
  if (l.type !== 'file') {
    // Already gone, or replaced by something that is not a file: herd only drops its record, it never removes what it did not write.
    return m ? { ...base, action: 'no-op', reasons: ['forget'], before: null, drift: null } : undefined;
  }
  const before = liveFileState(l);
  if (herdHashes.has(l.sha256!)) {
    return { ...base, action: 'delete', reasons: [m ? 'removed-from-spec' : 'interrupted-leftover'], before, drift: null };
  }
  if (!m) return undefined;
  return {
    ...base,
    action: 'delete',
    reasons: ['removed-from-spec'],
    before,
    drift: { kind: 'content', blocking: true, recordedSha256: m.sha256, liveSha256: l.sha256! },
  };
}

/**
 * Plan the changes that make the target match `desired`.
 * `manifest` is what herd recorded at the last apply (undefined for a fresh target); `live` is what scanLive found for every path of both.
 * Deterministic: actions are sorted by path, and only the given values are read.
 */
export function planChanges(desired: ArtifactSet, manifest: StateManifest | undefined, live: LiveState): Plan {
  const wanted = new Map(desired.artifacts.map((a) => [a.path, a]));
  const recorded = new Map((manifest?.entries ?? []).map((e) => [e.path, e]));
  const journaled = live.pending?.paths ?? {};
  // Pending artifacts (not producible this run) are left exactly as the last apply recorded them.
  const paths = [...new Set([...wanted.keys(), ...recorded.keys(), ...Object.keys(journaled)])].filter((p) => wanted.has(p) || !isPendingPath(desired, p)).sort(comparePaths);
  const actions: PlanAction[] = [];
  for (const path of paths) {
    const d = wanted.get(path);
    const m = recorded.get(path);
    const l = live.files.get(path) ?? ABSENT;
    const herdHashes = new Set([...(m ? [m.sha256] : []), ...(journaled[path] ?? [])]);
    const action = d ? planDesired(d, m, l, herdHashes, live) : planUnwanted(path, m, l, herdHashes);
    if (action) actions.push(action);
  }
  const p = live.pending;
  const pending = [...(desired.pending ?? [])].sort((x, y) => comparePaths(x.prefix, y.prefix));
  return {
    actions,
    interrupted: p ? { pid: p.pid, host: p.host, command: p.command, since: p.since, leftoverTempFiles: [...(live.leftoverTempFiles ?? [])] } : null,
    ...(pending.length > 0 ? { pending } : {}),
    ...(desired.slurmVersion ? { slurmVersion: desired.slurmVersion } : {}),
  };
}
