// The plan model (pure): what the live target looks like, and the typed, sorted actions that would make it match the spec.
import type { ArtifactKind, ContentEntry, Impact } from '../artifacts/artifact.ts';
import type { PendingJournal, RecordedStat } from './state-manifest.ts';

export type PlanActionKind = 'create' | 'update' | 'delete' | 'no-op';

/**
 * Why an action exists. new: not on the target yet; missing: herd wrote it but it is gone; content/mode/owner: that attribute differs;
 * removed-from-spec: herd wrote it and the spec no longer has it; interrupted-leftover: written by an apply that crashed, for a path no longer wanted;
 * record: the file already matches, only the manifest is behind; forget: a recorded file that is already gone (or not a file) and no longer wanted.
 */
export type ChangeReason = 'new' | 'missing' | 'content' | 'mode' | 'owner' | 'removed-from-spec' | 'interrupted-leftover' | 'record' | 'forget';

/**
 * content: edited since herd wrote it; mode: chmod'ed since; missing: deleted since; unmanaged: a file herd never wrote sits where an artifact goes;
 * not-a-file: a directory, symlink or device sits there. Blocking drift stops apply unless `--overwrite-drift` (not-a-file always stops it).
 */
export type DriftKind = 'content' | 'mode' | 'missing' | 'unmanaged' | 'not-a-file';

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
  readonly changesPresent: boolean;
}

export function summarizePlan(plan: Plan): PlanSummary {
  const count = (k: PlanActionKind) => plan.actions.filter((a) => a.action === k).length;
  const drift = plan.actions.filter((a) => a.drift);
  const create = count('create');
  const update = count('update');
  const del = count('delete');
  return {
    create,
    update,
    delete: del,
    unchanged: count('no-op'),
    drift: drift.length,
    blockingDrift: drift.filter((a) => a.drift!.blocking).length,
    stateOnly: plan.actions.filter((a) => a.action === 'no-op' && a.reasons.length > 0).length,
    changesPresent: create + update + del > 0 || drift.length > 0,
  };
}
