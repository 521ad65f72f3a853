// The plan model (pure): what the live target looks like, and the typed, sorted actions that would make it match the spec.
import type { ArtifactKind, ContentEntry, Impact, OverlayInfo, PendingArtifacts } from '../artifacts/artifact.ts';
import type { PendingJournal, RecordedStat } from './state-manifest.ts';
import type { SlurmVersion } from '../spec/slurm-keys.ts';

export type PlanActionKind = 'create' | 'update' | 'delete' | 'no-op';

/**
 * Why an action exists. new: not on the target yet; missing: herd wrote it but it is gone; content/mode/owner: that attribute differs;
 * removed-from-spec: herd wrote it and the spec no longer has it; interrupted-leftover: written by an apply that crashed, for a path no longer wanted;
 * record: the file already matches, only the manifest is behind; forget: a recorded file that is already gone (or not a file) and no longer wanted.
 */
export type ChangeReason = 'new' | 'missing' | 'content' | 'mode' | 'owner' | 'removed-from-spec' | 'interrupted-leftover' | 'record' | 'forget';

/**
 * content: edited since herd wrote it; mode: chmod'ed since; missing: deleted since; unmanaged: a file herd never wrote sits where an artifact goes;
 * not-a-file: a directory, symlink or device sits there; rebuilt: an overlay archive `wwctl overlay build` rewrote from herd's
 * templates, holding the same entries in other bytes (not blocking, and nothing for nodes to do). Blocking drift stops apply unless `--overwrite-drift` (not-a-file always stops it).
 */
export type DriftKind = 'content' | 'mode' | 'missing' | 'unmanaged' | 'not-a-file' | 'rebuilt';

export interface FileState {
  readonly sha256: string;
  readonly size: number;
  readonly mode: number;
  readonly owner?: string;
  readonly group?: string;
}

export interface Drift {
  readonly kind: DriftKind;
  readonly blocking: boolean;
  /** Hash herd recorded for this path (null: never recorded). */
  readonly recordedSha256: string | null;
  /** Hash on the target now (null: absent or not a file). */
  readonly liveSha256: string | null;
  /** Unified diff recorded → live, when both texts are known and the file is not secret. */
  readonly diff?: string;
  /** not-a-file: what is in the way, with its path. */
  readonly detail?: string;
}

export interface ContentChange {
  readonly path: string;
  readonly before: ContentEntry;
  readonly after: ContentEntry;
}

/**
 * One file inside an overlay archive that a plan adds, removes or changes, read from the archive on the target and the planned one.
 * Hidden entries (secrets, files read on the head) carry hashes only; `diff` is never set for them.
 */
export interface ArchiveFileChange {
  readonly path: string;
  /** null: the file is new. */
  readonly before: ContentEntry | null;
  /** null: the file goes. */
  readonly after: ContentEntry | null;
  /** The stricter of the two sides' `hidden`: only hashes may be shown. */
  readonly hidden?: 'secret' | 'head-file';
  /** Unified diff of the file's text, previous → planned (an absent side is the empty file). */
  readonly diff?: string;
  /** Content changed but no text diff is shown: hidden, binary, too-large (over the read bound or the diff's edit bound), not-read (archive unreadable, or past the reading cap). */
  readonly noDiff?: 'hidden' | 'binary' | 'too-large' | 'not-read';
}

/** What changes inside an overlay archive, file by file; shared by every node whose change is identical. */
export interface ArchiveChanges {
  /** Sorted by path. */
  readonly files: readonly ArchiveFileChange[];
  /** archive: both archives were read for text diffs; index: no archive was read (nothing to diff as text, unreadable, or past the reading cap). */
  readonly source: 'archive' | 'index';
}

/** Files added, removed or changed inside an image or overlay, from the two content indexes. */
export interface ContentDiff {
  readonly added: readonly ContentEntry[];
  readonly removed: readonly ContentEntry[];
  readonly changed: readonly ContentChange[];
}

export interface PlanAction {
  readonly action: PlanActionKind;
  /** Relative to the target root, no leading slash. */
  readonly path: string;
  readonly kind: ArtifactKind;
  readonly secret: boolean;
  readonly reasons: readonly ChangeReason[];
  /** The file on the target now (null when absent or not a regular file). */
  readonly before: FileState | null;
  /** The file the spec wants (null for a delete). */
  readonly after: FileState | null;
  readonly recordedSha256: string | null;
  readonly drift: Drift | null;
  readonly impact: Impact;
  readonly nodes: readonly string[];
  readonly description?: string;
  /** Unified diff live → planned for text configs (never for secrets). */
  readonly diff?: string;
  /** For image/overlay updates: what changes inside. */
  readonly contentDiff?: ContentDiff;
  /** For archives: number of entries in the planned content index. */
  readonly contentEntries?: number;
  /** An archive update whose previous content index is not stored, so only hashes can be shown. */
  readonly contentDiffUnavailable?: boolean;
  /** For overlay archives: whose overlay this is (the artifact's OverlayInfo; absent for deletes, which have no artifact). */
  readonly overlay?: OverlayInfo;
  /** For overlay .img updates: the files that change inside, with text diffs (set by the target scan, which reads the archives). */
  readonly archiveChanges?: ArchiveChanges;
}

export interface InterruptedApply {
  readonly pid: number;
  readonly host: string;
  readonly command: string;
  readonly since: string;
  /** Temp files the crashed apply left beside their targets; the next apply removes them. */
  readonly leftoverTempFiles: readonly string[];
}

export interface Plan {
  /** Sorted by path; one per path in desired ∪ recorded (plus leftovers of an interrupted apply). */
  readonly actions: readonly PlanAction[];
  readonly interrupted: InterruptedApply | null;
  /** Artifacts the compiler could not produce this run (sorted by prefix): the target keeps what the last apply wrote there. */
  readonly pending?: readonly PendingArtifacts[];
  /** Slurm release the runbook's Slurm steps follow (the spec's slurm.version); absent: 22.05. */
  readonly slurmVersion?: SlurmVersion;
}

/** lstat of a target file, as scanLive saw it. */
export interface LiveFile {
  readonly type: 'absent' | 'file' | 'other';
  /** For 'other': what is in the way, named (a symlink leaving the root, a directory, a device). */
  readonly blocked?: string;
  readonly sha256?: string;
  readonly size?: number;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly stat?: RecordedStat;
  /** False when the stat fast path trusted the manifest's hash instead of reading the file. */
  readonly hashed?: boolean;
  /** Kept only when a text diff will be shown (non-secret text configs that differ). */
  readonly bytes?: Uint8Array;
  /**
   * For a managed-block artifact: 'found' when the file has the marker line (then sha256 and bytes are the block's only),
   * 'none' when it has none (sha256 is the whole file's; herd appends its block and keeps every line).
   */
  readonly block?: 'found' | 'none';
}

export interface LiveState {
  readonly files: ReadonlyMap<string, LiveFile>;
  /** Stored content indexes of archives now on the target, by sha256, for content diffs. */
  readonly contentIndexes: ReadonlyMap<string, readonly ContentEntry[]>;
  /** Journal of an apply that did not finish. */
  readonly pending?: PendingJournal;
  readonly leftoverTempFiles?: readonly string[];
}

export const ABSENT: LiveFile = { type: 'absent' };

/** True for actions that change the target (not plain no-ops, not manifest bookkeeping). */
export const isChange = (a: PlanAction): boolean => a.action !== 'no-op';

export interface PlanSummary {
  readonly create: number;
  readonly update: number;
  readonly delete: number;
  readonly unchanged: number;
  readonly drift: number;
  readonly blockingDrift: number;
  /** Manifest-only catch-ups (record/forget): not changes to the target. */
  readonly stateOnly: number;
  /** Path prefixes the compiler could not produce this run (kept on the target as last applied). */
  readonly pending: number;
  /** Something to write or drift to look at: what apply asks consent for. */
  readonly applyNeeded: boolean;
  /** What `--detailed-exitcode` reports as 2: changes, drift, or pending artifacts (the target does not match the whole spec). */
  readonly changesPresent: boolean;
}

export function summarizePlan(plan: Plan): PlanSummary {
  const count = (k: PlanActionKind) => plan.actions.filter((a) => a.action === k).length;
  const drift = plan.actions.filter((a) => a.drift);
  const create = count('create');
  const update = count('update');
  const del = count('delete');
  const applyNeeded = create + update + del > 0 || drift.length > 0;
  const pending = plan.pending?.length ?? 0;
  return {
    create,
    update,
    delete: del,
    unchanged: count('no-op'),
    drift: drift.length,
    blockingDrift: drift.filter((a) => a.drift!.blocking).length,
    stateOnly: plan.actions.filter((a) => a.action === 'no-op' && a.reasons.length > 0).length,
    pending,
    applyNeeded,
    changesPresent: applyNeeded || pending > 0,
  };
}
