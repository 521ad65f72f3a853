// The apply executor (I/O): carry out a plan on a locked target so a crash at any point leaves every file old or new, and the manifest last.
//
// Order: journal the hashes about to be written → stage every new file as a verified, fsynced temp beside its target (all fallible work:
// producing images, hash checks, disk space; on failure the temps are removed and nothing on the target has changed) → rename each temp
// over its target, chmod/chown, unlink deletions → fsync the touched directories → store content indexes → write the manifest → drop the journal.
import { chmodSync, chownSync, lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import { isPendingPath, type Artifact, type ArtifactSet } from '../artifacts/artifact.ts';
import { herdFailure, isHerdFailure } from '../diagnostics/diagnostic.ts';
import { applyBlocker } from '../plan/apply-blocker.ts';
import { isArchive } from '../plan/plan-changes.ts';
import type { LiveState, Plan, PlanAction } from '../plan/plan-types.ts';
import { STATE_FORMAT_VERSION, type Generation, type ManifestEntry, type PendingJournal, type RecordedStat, type StateManifest } from '../plan/state-manifest.ts';
import { commitStaged, fsyncDir, stageFile, unlinkIfPresent } from './atomic-write.ts';
import type { LockHandle } from './lock.ts';
import { pruneContentIndexes, removePending, writeContentIndex, writeManifest, writePending, type StoredState } from './manifest-io.ts';
import type { OwnerResolver } from './owners.ts';
import { targetPathOf, tempPathFor, unsafeArtifactPath } from './paths.ts';

export type ApplyOpKind =
  | 'pending-written'
  | 'temp-cleaned'
  | 'chunk-written'
  | 'staged'
  | 'renamed'
  | 'chmod'
  | 'chown'
  | 'unlinked'
  | 'dir-synced'
  | 'index-written'
  | 'manifest-written'
  | 'pending-removed';

/** One completed file operation; `n` counts from 1. A test hook can pause or kill the process after any of them. */
export interface ApplyOp {
  readonly n: number;
  readonly kind: ApplyOpKind;
  readonly path?: string;
}

export interface ApplyInput {
  readonly root: string;
  /** The caller holds the lock for the whole plan-and-apply; apply checks it is still held before the first write. */
  readonly lock: LockHandle;
  readonly desired: ArtifactSet;
  readonly stored: StoredState;
  readonly live: LiveState;
  /** planChanges(desired, stored.manifest, live), computed under the same lock. */
  readonly plan: Plan;
  readonly cluster: string;
  readonly overwriteDrift: boolean;
  readonly generation: { readonly specHash: string; readonly specCommit: string | null; readonly herdVersion: string };
  readonly now: () => Date;
  readonly resolveOwner?: OwnerResolver;
  readonly onOp?: (op: ApplyOp) => Promise<void> | void;
  /** false skips fsync; for benchmarks that build throwaway trees only. */
  readonly fsync?: boolean;
}

export interface ApplyResult {
  /** False when there was nothing to write (not even the manifest). */
  readonly applied: boolean;
  readonly created: number;
  readonly updated: number;
  readonly deleted: number;
  readonly recorded: number;
  readonly manifestHash: string | null;
}

const writesContent = (a: PlanAction) => a.action === 'create' || (a.action === 'update' && a.reasons.includes('content'));

function statOf(abs: string): RecordedStat {
  const st = lstatSync(abs, { bigint: true });
  return { size: Number(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), ino: String(st.ino) };
}

function failed(message: string, changedSomething: boolean) {
  return herdFailure(
    'state/apply-failed',
    `${message}; ${changedSomething ? 'some files were already replaced (each is complete, old or new)' : 'nothing on the target was changed'}`,
    changedSomething ? 'fix the cause, then run herd plan to see exactly what is left, and apply again' : 'fix the cause and apply again',
  );
}

/**
 * Apply `plan` to the target. Refuses (before any write) blocking drift without `overwriteDrift`, unsafe paths and a lost lock.
 * Throws a HerdFailure `state/apply-failed` when a write fails; the message says whether anything on the target changed.
 */
export async function applyPlan(input: ApplyInput): Promise<ApplyResult> {
  const { root, plan, stored, live } = input;
  const fsync = input.fsync !== false;
  const blocker = applyBlocker(plan, input.overwriteDrift);
  if (blocker) throw blocker;
  const desired = new Map(input.desired.artifacts.map((a) => [a.path, a]));
  for (const a of plan.actions) {
    const why = unsafeArtifactPath(a.path);
    if (why) throw herdFailure('state/bad-artifact-path', `artifact path ${a.path} ${why}`, 'this is a compiler bug; please report it');
  }
  const changes = plan.actions.filter((a) => a.action !== 'no-op');
  const records = plan.actions.filter((a) => a.action === 'no-op' && a.reasons.length > 0);
  if (!input.lock.held()) throw herdFailure('state/lock-lost', `the lock on ${root} is no longer held by this process`, 'another herd took it over; run herd plan again');
  if (changes.length === 0 && records.length === 0) {
    // An apply killed after its manifest but before dropping its journal left nothing undone but the journal and its temp files.
    if (stored.pending) {
      for (const p of Object.keys(stored.pending.paths)) unlinkIfPresent(tempPathFor(targetPathOf(root, p)));
      removePending(root, fsync);
    }
    return { applied: false, created: 0, updated: 0, deleted: 0, recorded: 0, manifestHash: stored.manifestHash };
  }

  let n = 0;
  const op = async (kind: ApplyOpKind, path?: string) => {
    n += 1;
    await input.onOp?.({ n, kind, ...(path !== undefined ? { path } : {}) });
  };
  const resolveOwner = input.resolveOwner ?? (() => undefined);
  const writes = changes.filter(writesContent);

  if (changes.length > 0) {
    const paths: Record<string, string[]> = {};
    for (const [p, hashes] of Object.entries(stored.pending?.paths ?? {})) paths[p] = [...hashes];
    for (const a of writes) paths[a.path] = [...new Set([...(paths[a.path] ?? []), a.after!.sha256])].sort();
    const journal: PendingJournal = {
      formatVersion: STATE_FORMAT_VERSION,
      kind: 'herd-pending',
      pid: input.lock.info.pid,
      host: input.lock.info.host,
      command: input.lock.info.command,
      since: input.now().toISOString(),
      paths,
    };
    await writePending(root, journal, fsync);
    await op('pending-written');
    for (const p of Object.keys(stored.pending?.paths ?? {})) {
      if (unlinkIfPresent(tempPathFor(targetPathOf(root, p)))) await op('temp-cleaned', p);
    }
  }

  // Stage: all the fallible work, before the first target file changes.
  const staged = new Map<string, string>();
  try {
    for (const a of writes) {
      const d = desired.get(a.path);
      if (!d) throw herdFailure('state/artifact-unavailable', `${a.path} is in the plan but not in the compiled artifacts`, 'run herd plan again');
      const owner = resolveOwner(d.owner, d.group);
      const temp = await stageFile(targetPathOf(root, a.path), d, {
        mode: d.mode,
        ...(owner ? { owner } : {}),
        fsync,
        onChunk: () => op('chunk-written', a.path),
      });
      staged.set(a.path, temp);
      await op('staged', a.path);
    }
  } catch (e) {
    for (const temp of staged.values()) unlinkIfPresent(temp);
    if (stored.pending) await writePending(root, stored.pending, fsync);
    else removePending(root, fsync);
    throw failed(isHerdFailure(e) ? e.message : `staging failed: ${(e as Error).message}`, false);
  }

  // Commit: each rename is atomic; from here on a crash leaves a mix of old and new files, which the journal explains to the next plan.
  const touchedDirs = new Set<string>();
  const counts = { created: 0, updated: 0, deleted: 0 };
  const ids = new Map<string, { uid: number; gid: number } | undefined>();
  try {
    for (const a of changes) {
      const abs = targetPathOf(root, a.path);
      const d = desired.get(a.path);
      if (a.action === 'delete') {
        if (unlinkIfPresent(abs)) touchedDirs.add(dirname(abs));
        counts.deleted++;
        await op('unlinked', a.path);
        continue;
      }
      const owner = d ? resolveOwner(d.owner, d.group) : undefined;
      ids.set(a.path, owner);
      if (staged.has(a.path)) {
        commitStaged(staged.get(a.path)!, abs);
        touchedDirs.add(dirname(abs));
        await op('renamed', a.path);
      } else if (d) {
        // Mode- or owner-only update: both are single atomic inode changes, no temp file needed.
        if (a.reasons.includes('mode')) {
          chmodSync(abs, d.mode);
          await op('chmod', a.path);
        }
        if (owner) {
          chownSync(abs, owner.uid, owner.gid);
          await op('chown', a.path);
        }
      }
      if (a.action === 'create') counts.created++;
      else counts.updated++;
    }
    if (fsync) {
      for (const dir of [...touchedDirs].sort()) {
        fsyncDir(dir);
        await op('dir-synced', dir);
      }
    }
  } catch (e) {
    for (const temp of staged.values()) unlinkIfPresent(temp);
    throw failed(`writing the target failed: ${(e as Error).message}`, true);
  }

  for (const a of writes) {
    const d = desired.get(a.path)!;
    if (isArchive(d) && d.contents && (await writeContentIndex(root, d.sha256, d.contents, fsync))) await op('index-written', a.path);
  }

  const manifestHash = await writeManifest(root, buildManifest(input, desired, ids), fsync);
  await op('manifest-written');
  pruneContentIndexes(root, new Set([...desired.values()].filter(isArchive).map((d) => d.sha256)));
  if (stored.pending || changes.length > 0) {
    removePending(root, fsync);
    await op('pending-removed');
  }
  return { applied: true, ...counts, recorded: records.length, manifestHash };
}

/** The manifest after apply: one entry per desired artifact, stat taken now for everything this apply touched. */
function buildManifest(input: ApplyInput, desired: ReadonlyMap<string, Artifact>, ids: ReadonlyMap<string, { uid: number; gid: number } | undefined>): StateManifest {
  const previous = input.stored.manifest;
  const recorded = new Map((previous?.entries ?? []).map((e) => [e.path, e]));
  const byPath = new Map(input.plan.actions.map((a) => [a.path, a]));
  const generation = Math.max(-1, ...(previous?.generations ?? []).map((g) => g.generation)) + 1;
  const entries: ManifestEntry[] = [];
  for (const d of desired.values()) {
    const a = byPath.get(d.path);
    const m = recorded.get(d.path);
    const touched = a !== undefined && (a.action !== 'no-op' || a.reasons.length > 0);
    const live = input.live.files.get(d.path);
    const stat = touched || !m ? statOf(targetPathOf(input.root, d.path)) : (live?.stat ?? m.stat);
    const applied = ids.has(d.path) ? ids.get(d.path) : m && m.owner === d.owner && m.group === d.group && m.uid !== null ? { uid: m.uid, gid: m.gid! } : undefined;
    entries.push({
      path: d.path,
      kind: d.kind,
      sha256: d.sha256,
      size: d.size,
      mode: d.mode,
      owner: d.owner,
      group: d.group,
      uid: applied?.uid ?? null,
      gid: applied?.gid ?? null,
      ...(d.secret ? { secret: true } : {}),
      nodes: [...d.nodes],
      impact: { class: d.impact.class, ...(d.impact.service ? { service: d.impact.service } : {}), ...(d.impact.reason ? { reason: d.impact.reason } : {}) },
      generation: touched || !m ? generation : m.generation,
      stat,
    });
  }
  // Entries of pending artifacts (not producible this run) are carried over unchanged.
  for (const e of previous?.entries ?? []) if (!desired.has(e.path) && isPendingPath(input.desired, e.path)) entries.push(e);
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const used = new Set(entries.map((e) => e.generation));
  const generations: Generation[] = (previous?.generations ?? []).filter((g) => used.has(g.generation));
  if (used.has(generation)) {
    generations.push({ generation, specHash: input.generation.specHash, specCommit: input.generation.specCommit, herdVersion: input.generation.herdVersion, appliedAt: input.now().toISOString() });
  }
  return { formatVersion: STATE_FORMAT_VERSION, kind: 'herd-state', cluster: input.cluster, generations, entries };
}
