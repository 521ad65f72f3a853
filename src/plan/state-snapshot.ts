// State snapshots (pure): what is deployed on a target, published by the head (`herd state export`, `herd apply --publish-state`)
// so that pull-request jobs plan against it (`herd plan --state FILE`) without reaching the head. Hashes only, never file content.
//
// A snapshot holds the state manifest, the pending-apply journal and the live look (type, sha256, mode, owner ids) of every path herd
// owns there (recorded or journaled). Its id is the sha256 of that content, so a head whose state and owned files have not moved gives
// the same id again: apply recomputes it on the head and refuses a saved plan made against another one.
import { z } from 'zod';
import { herdFailure, type HerdFailure } from '../diagnostics/diagnostic.ts';
import { canonicalJson } from './canonical-json.ts';
import { ABSENT, type LiveFile, type LiveState, type Plan } from './plan-types.ts';
import { pendingJournalSchema, rebootRecordSchema, stateManifestSchema, type PendingJournal, type RebootRecord, type StateManifest } from './state-manifest.ts';

export const SNAPSHOT_FORMAT_VERSION = 1 as const;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const snapshotFileSchema = z.strictObject({
  path: z.string(),
  /** absent: nothing there; file: a regular file; other: a directory, symlink or device is in the way. */
  type: z.enum(['absent', 'file', 'other']),
  sha256: sha256.optional(),
  size: z.number().int().nonnegative().optional(),
  mode: z.number().int().min(0).max(0o7777).optional(),
  uid: z.number().int().optional(),
  gid: z.number().int().optional(),
  /** Managed-block files: whether herd's marker line was found (then sha256 is the block's only). */
  block: z.enum(['found', 'none']).optional(),
});

export const stateSnapshotSchema = z.strictObject({
  formatVersion: z.literal(SNAPSHOT_FORMAT_VERSION),
  kind: z.literal('herd-state-snapshot'),
  /** sha256 of the canonical JSON of everything below except `herdVersion` and `root` (which name who looked and where, not what is there). */
  snapshotId: sha256,
  herdVersion: z.string(),
  cluster: z.string().nullable(),
  /** The target root on the head, absolute: a plan made against the snapshot is applied there. */
  root: z.string(),
  manifestHash: sha256.nullable(),
  manifest: stateManifestSchema.nullable(),
  pending: pendingJournalSchema.nullable(),
  leftoverTempFiles: z.array(z.string()),
  /** Sorted by path: every path the manifest records or the journal names. */
  files: z.array(snapshotFileSchema),
  /**
   * The nodes still to reboot into what was applied (var/lib/herd/reboots.json), so a plan made against the snapshot shows them as a
   * plan on the head does. Not part of snapshotId: herd rollout updates the record without changing any file herd owns, and a saved
   * plan must stay appliable across a rollout. Absent in snapshots of older herds.
   */
  reboots: rebootRecordSchema.optional(),
});

export type SnapshotFile = z.infer<typeof snapshotFileSchema>;
export type StateSnapshot = z.infer<typeof stateSnapshotSchema>;

export interface SnapshotInput {
  readonly herdVersion: string;
  readonly cluster: string | null;
  readonly root: string;
  readonly manifestHash: string | null;
  readonly manifest: StateManifest | undefined;
  readonly pending: PendingJournal | undefined;
  readonly reboots?: RebootRecord | undefined;
  readonly live: LiveState;
  readonly hash: (text: string) => string;
}

function fileOf(path: string, l: LiveFile): SnapshotFile {
  if (l.type !== 'file') return { path, type: l.type };
  return {
    path,
    type: 'file',
    sha256: l.sha256!,
    size: l.size!,
    mode: l.mode!,
    ...(l.uid !== undefined ? { uid: l.uid } : {}),
    ...(l.gid !== undefined ? { gid: l.gid } : {}),
    ...(l.block ? { block: l.block } : {}),
  };
}

const idBody = (s: Omit<StateSnapshot, 'snapshotId'>) => {
  const { herdVersion: _v, root: _r, reboots: _b, ...rest } = s;
  return rest;
};

/** The snapshot of a target from its stored state and a live scan that covered at least every recorded and journaled path. */
export function buildSnapshot(input: SnapshotInput): StateSnapshot {
  const owned = new Set([...(input.manifest?.entries ?? []).map((e) => e.path), ...Object.keys(input.pending?.paths ?? {})]);
  const files = [...owned].sort().map((p) => fileOf(p, input.live.files.get(p) ?? ABSENT));
  const body = {
    formatVersion: SNAPSHOT_FORMAT_VERSION,
    kind: 'herd-state-snapshot' as const,
    herdVersion: input.herdVersion,
    cluster: input.cluster,
    root: input.root,
    manifestHash: input.manifestHash,
    manifest: input.manifest ?? null,
    pending: input.pending ?? null,
    leftoverTempFiles: [...(input.live.leftoverTempFiles ?? [])].sort(),
    files,
    ...(input.reboots && Object.keys(input.reboots.nodes).length > 0 ? { reboots: input.reboots } : {}),
  };
  return { ...body, snapshotId: input.hash(canonicalJson(idBody(body))) };
}

export function serializeSnapshot(s: StateSnapshot): string {
  return canonicalJson(s, 2) + '\n';
}

export type SnapshotParse = { ok: true; snapshot: StateSnapshot } | { ok: false; failure: HerdFailure };

/** Parse a snapshot file's text; the id is recomputed, so an edited snapshot is refused rather than planned against. Never throws. */
export function parseSnapshot(text: string, file: string, hash: (text: string) => string): SnapshotParse {
  const again = `download it again, or on the head run: herd state export --out ${file}`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, failure: herdFailure('state/unreadable', `${file} is not a state snapshot (not valid JSON: ${(e as Error).message})`, again) };
  }
  const doc = json as { kind?: unknown; formatVersion?: unknown };
  if (typeof doc !== 'object' || doc === null || doc.kind !== 'herd-state-snapshot') {
    return { ok: false, failure: herdFailure('state/unreadable', `${file} is not a herd state snapshot (its "kind" is not "herd-state-snapshot")`, again) };
  }
  if (doc.formatVersion !== SNAPSHOT_FORMAT_VERSION) {
    return {
      ok: false,
      failure: herdFailure('state/unsupported-version', `${file} is a state snapshot of formatVersion ${String(doc.formatVersion)}; this herd reads version ${SNAPSHOT_FORMAT_VERSION}`, 'export the snapshot with the same herd version that plans against it'),
    };
  }
  const parsed = stateSnapshotSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'unknown shape';
    return { ok: false, failure: herdFailure('state/unreadable', `${file} is not a valid state snapshot (${where})`, again) };
  }
  const s = parsed.data;
  const { snapshotId: _id, ...rest } = s;
  if (hash(canonicalJson(idBody(rest))) !== s.snapshotId) {
    return { ok: false, failure: herdFailure('state/modified-snapshot', `${file} was modified after herd wrote it: its content does not match its snapshotId`, again) };
  }
  return { ok: true, snapshot: s };
}

/** The live state a plan against the snapshot sees: the recorded look of every owned path; any other path is taken as absent (apply re-checks on the head). */
export function liveStateOf(s: StateSnapshot): LiveState {
  const files = new Map<string, LiveFile>();
  for (const f of s.files) {
    if (f.type === 'absent') files.set(f.path, ABSENT);
    else if (f.type === 'other') files.set(f.path, { type: 'other', blocked: `${f.path} is not a regular file on the target (as recorded in the state snapshot)` });
    else {
      files.set(f.path, {
        type: 'file',
        sha256: f.sha256!,
        size: f.size!,
        mode: f.mode!,
        ...(f.uid !== undefined ? { uid: f.uid } : {}),
        ...(f.gid !== undefined ? { gid: f.gid } : {}),
        ...(f.block ? { block: f.block } : {}),
        hashed: false,
      });
    }
  }
  return { files, contentIndexes: new Map(), ...(s.pending ? { pending: s.pending } : {}), ...(s.leftoverTempFiles.length ? { leftoverTempFiles: s.leftoverTempFiles } : {}) };
}

/** What differs between the snapshot a plan was made against and the target now, in words; undefined when they are the same. */
export function snapshotDifference(then: Pick<StateSnapshot, 'snapshotId' | 'manifestHash' | 'files' | 'pending'>, now: Pick<StateSnapshot, 'snapshotId' | 'manifestHash' | 'files' | 'pending'>): string | undefined {
  if (then.snapshotId === now.snapshotId) return undefined;
  if (then.manifestHash !== now.manifestHash) return 'the target was applied to since (the state manifest changed)';
  const before = new Map(then.files.map((f) => [f.path, canonicalJson(f)]));
  const after = new Map(now.files.map((f) => [f.path, canonicalJson(f)]));
  const moved = [...new Set([...before.keys(), ...after.keys()])].sort().filter((p) => before.get(p) !== after.get(p));
  if (moved.length > 0) {
    const shown = moved.slice(0, 5).join(', ') + (moved.length > 5 ? ` and ${moved.length - 5} more` : '');
    return `the files herd owns on the target changed since (edited, removed or re-moded outside herd: ${shown})`;
  }
  if (canonicalJson(then.pending) !== canonicalJson(now.pending)) return 'an apply was interrupted on the target since (its journal changed)';
  return 'the target state changed since';
}

/**
 * A plan made against a snapshot knows the live files by hash only: a text diff from "live" would read as the whole file being new
 * (or, for drift, deleted), so those diffs are dropped and the change is shown by hashes. Diffs of files that do not exist yet stay,
 * and so do those of `known` paths, whose live text was recovered and checked against the snapshot's hash.
 */
export function withoutLiveDiffs(plan: Plan, known: ReadonlySet<string> = new Set()): Plan {
  return {
    ...plan,
    actions: plan.actions.map((a) => {
      if ((a.before === null || known.has(a.path)) && !a.drift?.diff) return a;
      const { diff: _d, ...rest } = a;
      const drift = a.drift?.diff ? (({ diff: _x, ...d }) => d)(a.drift) : a.drift;
      return a.before === null || known.has(a.path) ? { ...a, drift } : { ...rest, drift };
    }),
  };
}

/** The snapshot's live state with the recovered texts of `texts` (already checked against the recorded hashes) attached for diffs. */
export function withLiveTexts(live: LiveState, texts: ReadonlyMap<string, Uint8Array>): LiveState {
  if (texts.size === 0) return live;
  const files = new Map(live.files);
  for (const [path, bytes] of texts) {
    const f = files.get(path);
    if (f?.type === 'file') files.set(path, { ...f, bytes });
  }
  return { ...live, files };
}
