// The apply executor (I/O): carry out a plan on a locked target so a crash at any point leaves every file old or new, and the manifest last.
//
// Order: journal the hashes about to be written → stage every new file as a verified, fsynced temp beside its target (all fallible work:
// producing images, hash checks, disk space; on failure the temps are removed and nothing on the target has changed) → rename each temp
// over its target, chmod/chown, unlink deletions → fsync the touched directories → store content indexes → write the manifest → drop the journal.
import { closeSync, fchmodSync, fchownSync } from 'node:fs';
import { posix } from 'node:path';
import { contentEntries, isPendingPath, sha256Hex, type Artifact, type ArtifactSet } from '../artifacts/artifact.ts';
import { herdFailure, isHerdFailure } from '../diagnostics/diagnostic.ts';
import { isPathBlocked, type ConfinedDir } from '../fs/confined-dir.ts';
import { applyBlocker } from '../plan/apply-blocker.ts';
import { isArchive } from '../plan/plan-changes.ts';
import type { LiveState, Plan, PlanAction } from '../plan/plan-types.ts';
import { STATE_FORMAT_VERSION, type Generation, type ManifestEntry, type PendingJournal, type RecordedStat, type StateManifest } from '../plan/state-manifest.ts';
import { commitStaged, stageFile } from './atomic-write.ts';
import type { LockHandle } from './lock.ts';
import { pruneContentIndexes, recordedStatOf, removePending, writeContentIndex, writeManifest, writePending, writeRebootRecord, type StoredState } from './manifest-io.ts';
import { recordNeeded, rebootNodesOf } from '../rollout/reboot-record.ts';
import type { OwnerResolver } from './owners.ts';
import { composeBlockFile, splitAtMarker } from './managed-block.ts';
import { tempPathFor, unsafeArtifactPath } from './paths.ts';
import { commitTree, removeOwnTemp, stageTree } from './tree-write.ts';

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
  /** The target root opened by openTarget: every path below it is resolved without leaving it. */
  readonly dir: ConfinedDir;
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

function statOf(dir: ConfinedDir, rel: string): RecordedStat {
  const st = dir.lstat(rel);
  if (!st) throw Object.assign(new Error(`${rel} disappeared right after herd wrote it`), { code: 'ENOENT' });
  return recordedStatOf(st);
}

/** Why a write failed, in words an admin acts on (disk full, read-only, permissions), without a stack. */
function causeOf(e: unknown): string {
  if (isHerdFailure(e) || isPathBlocked(e)) return (e as Error).message;
  const code = (e as NodeJS.ErrnoException).code;
  const known: Record<string, string> = { ENOSPC: 'the disk is full', EDQUOT: 'the disk quota is exceeded', EROFS: 'the file system is read-only', EACCES: 'permission denied', EPERM: 'operation not permitted', EIO: 'an I/O error' };
  return code && known[code] ? `${known[code]} (${(e as Error).message})` : (e as Error).message;
}

function failed(message: string, changed: readonly string[]) {
  if (changed.length === 0) return herdFailure('state/apply-failed', `${message}; nothing on the target was changed`, 'fix the cause and apply again');
  const shown = changed.slice(0, 20).join(', ') + (changed.length > 20 ? ` and ${changed.length - 20} more` : '');
  return herdFailure(
    'state/apply-partial',
    `${message}; ${changed.length} file(s) were already changed (each is complete, old or new): ${shown}`,
    'fix the cause, then run herd plan to see exactly what is left (the journal marks these as herd\'s own), and apply again',
  );
}

/**
 * Apply `plan` to the target. Refuses (before any write) blocking drift without `overwriteDrift`, unsafe paths and a lost lock.
 * Throws a HerdFailure `state/apply-failed` when a write fails before any target file changed, `state/apply-partial` (naming each changed file) after.
 */
export async function applyPlan(input: ApplyInput): Promise<ApplyResult> {
  const { root, dir, plan, stored } = input;
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
      for (const p of Object.keys(stored.pending.paths)) unlinkTemp(dir, tempPathFor(p));
      removePending(dir, fsync);
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
    try {
      await writePending(dir, journal, fsync);
    } catch (e) {
      throw failed(`writing the apply journal failed: ${causeOf(e)}`, []);
    }
    await op('pending-written');
    for (const p of Object.keys(stored.pending?.paths ?? {})) {
      if (unlinkTemp(dir, tempPathFor(p))) await op('temp-cleaned', p);
    }
  }

  // Stage: all the fallible work, before the first target file changes. Directories are resolved afresh from here on (not from the
  // plan's scan), so a parent swapped for a symlink since the plan is seen and refused, and a moved directory is not written into.
  dir.flush();
  const staged = new Map<string, string>();
  try {
    for (const a of writes) {
      const d = desired.get(a.path);
      if (!d) throw herdFailure('state/artifact-unavailable', `${a.path} is in the plan but not in the compiled artifacts`, 'run herd plan again');
      const owner = resolveOwner(d.owner, d.group);
      const recordedSha = stored.manifest?.entries.find((e) => e.path === d.path)?.sha256;
      const source = d.block ? blockFileSource(dir, d, [...(recordedSha ? [recordedSha] : []), ...(stored.pending?.paths[d.path] ?? [])]) : d;
      const onChunk = () => op('chunk-written', a.path);
      const temp =
        d.kind === 'tree'
          ? (await stageTree(dir, a.path, d, { mode: d.mode, ...(owner ? { owner } : {}), chown: owner !== undefined, fsync, onChunk })).temp
          : await stageFile(dir, a.path, source, { mode: d.mode, ...(owner ? { owner } : {}), fsync, onChunk });
      staged.set(a.path, temp);
      await op('staged', a.path);
    }
  } catch (e) {
    for (const temp of staged.values()) unlinkTemp(dir, temp);
    try {
      if (stored.pending) await writePending(dir, stored.pending, fsync);
      else removePending(dir, fsync);
    } catch {
      // The journal only lists hashes herd may have written; a stale one makes the next plan more careful, never wrong.
    }
    throw failed(isHerdFailure(e) || isPathBlocked(e) ? (e as Error).message : `staging failed: ${causeOf(e)}`, []);
  }

  // Nodes this apply makes reboot-worthy are recorded before the first rename: a crash after a rename must not lose the need (the next apply
  // would see the new image as already there), while a crash before it only leaves an extra reboot, which is the safe side.
  const rebootNodes = rebootNodesOf(plan);
  if (rebootNodes.length > 0) {
    try {
      // stored.reboots was read under the lock this apply holds, so it is the record as it is now.
      await writeRebootRecord(dir, recordNeeded(stored.reboots, rebootNodes, nextGeneration(stored.manifest)), fsync);
    } catch (e) {
      for (const temp of staged.values()) unlinkTemp(dir, temp);
      throw failed(`recording the nodes that need a reboot failed: ${causeOf(e)}`, []);
    }
  }

  // Commit: each rename is atomic; from here on a crash leaves a mix of old and new files, which the journal explains to the next plan.
  dir.flush();
  const touchedDirs = new Set<string>();
  const counts = { created: 0, updated: 0, deleted: 0 };
  const ids = new Map<string, { uid: number; gid: number } | undefined>();
  const changed: string[] = [];
  const recordedKind = new Map((stored.manifest?.entries ?? []).map((e) => [e.path, e.kind]));
  let manifestHash: string;
  // Trees first: Warewulf's image build skips an image whose .img is newer (ctime) than everything in its chroot, so a
  // habitual non-forced `wwctl image build` leaves the image herd just wrote alone.
  const committedTrees: string[] = [];
  const commitOrder = [...changes.filter((a) => desired.get(a.path)?.kind === 'tree'), ...changes.filter((a) => desired.get(a.path)?.kind !== 'tree')];
  try {
    for (const a of commitOrder) {
      const d = desired.get(a.path);
      if (a.action === 'delete') {
        if (unlinkRecorded(dir, a.path, recordedKind.get(a.path))) {
          touchedDirs.add(posix.dirname(a.path));
          changed.push(a.path);
        }
        counts.deleted++;
        await op('unlinked', a.path);
        continue;
      }
      const owner = d ? resolveOwner(d.owner, d.group) : undefined;
      ids.set(a.path, owner);
      if (staged.has(a.path)) {
        if (d?.kind === 'tree') {
          commitTree(dir, staged.get(a.path)!, a.path);
          committedTrees.push(a.path);
        } else commitStaged(dir, staged.get(a.path)!, a.path);
        staged.delete(a.path);
        changed.push(a.path);
        touchedDirs.add(posix.dirname(a.path));
        await op('renamed', a.path);
      } else if (d) {
        // Mode- or owner-only update: single atomic inode changes on a descriptor opened without following symlinks,
        // so a file swapped for a symlink after the plan is refused instead of changing the symlink's target.
        await changeMetadata(dir, a.path, a.reasons.includes('mode') ? d.mode : undefined, owner, op, d.kind === 'tree');
        changed.push(a.path);
      }
      if (a.action === 'create') counts.created++;
      else counts.updated++;
    }
    newerThanTrees(dir, committedTrees, commitOrder.filter((a) => desired.get(a.path)?.kind === 'image' && writesContent(a)).map((a) => a.path));
    if (fsync) {
      for (const d of [...touchedDirs].sort()) {
        dir.fsyncDir(d);
        await op('dir-synced', d);
      }
    }
    for (const a of writes) {
      const d = desired.get(a.path)!;
      if (isArchive(d) && d.contents && (await writeContentIndex(dir, d.sha256, contentEntries(d.contents), fsync))) await op('index-written', a.path);
    }
    manifestHash = await writeManifest(dir, buildManifest(input, desired, ids), fsync);
  } catch (e) {
    for (const temp of staged.values()) unlinkTemp(dir, temp);
    throw failed(`writing the target failed: ${causeOf(e)}`, changed);
  }
  await op('manifest-written');
  try {
    pruneContentIndexes(dir, new Set([...desired.values()].filter(isArchive).map((d) => d.sha256)));
    if (stored.pending || changes.length > 0) {
      removePending(dir, fsync);
      await op('pending-removed');
    }
  } catch (e) {
    // Everything is applied and recorded; a journal left behind only makes the next plan re-check these paths.
    throw herdFailure('state/apply-cleanup', `the apply is complete and recorded, but cleaning up herd's journal failed: ${causeOf(e)}`, 'run herd plan; it finishes the cleanup');
  }
  return { applied: true, ...counts, recorded: records.length, manifestHash };
}

/**
 * The whole file for a managed-block artifact: the live lines above the marker, read now under the lock (so an edit made since the plan is kept), plus the block.
 * A live file without a marker that herd itself wrote whole (`herdShas`: recorded or journaled) is replaced, not kept above the marker.
 */
function blockFileSource(dir: ConfinedDir, d: Artifact, herdShas: readonly string[]): { bytes: Uint8Array; sha256: string; size: number } {
  const live = dir.readFile(d.path, 64 * 1024 * 1024);
  const replaceWhole = live !== undefined && !splitAtMarker(live, d.block!.marker) && herdShas.includes(sha256Hex(live));
  const bytes = composeBlockFile(live, d.bytes!, d.block!.marker, replaceWhole);
  return { bytes, sha256: sha256Hex(bytes), size: bytes.length };
}

/**
 * Warewulf's image build skips an image when its .img's ctime is strictly later than every ctime in the chroot. Renames in
 * one apply can fall in the same tick of the kernel's coarse clock, so after the trees are in place each image written in the
 * same apply gets its ctime moved past the newest tree (a no-op fchmod once the clock has ticked, waiting a millisecond at a time).
 */
function newerThanTrees(dir: ConfinedDir, trees: readonly string[], images: readonly string[]): void {
  if (trees.length === 0 || images.length === 0) return;
  const newest = trees.reduce((m, t) => {
    const c = dir.lstat(t)?.ctimeNs ?? 0n;
    return c > m ? c : m;
  }, 0n);
  const tick = new Int32Array(new SharedArrayBuffer(4));
  for (const rel of images) {
    for (let i = 0; i < 1000; i++) {
      const o = dir.openRead(rel);
      if (!o) break;
      try {
        if (o.stat.ctimeNs > newest) break;
        Atomics.wait(tick, 0, 0, 1);
        fchmodSync(o.fd, Number(o.stat.mode & 0o7777n));
      } finally {
        closeSync(o.fd);
      }
    }
  }
}

/** Remove one of herd's own temp files (or a tree artifact's temp folder) if present (never following a symlink). */
function unlinkTemp(dir: ConfinedDir, rel: string): boolean {
  try {
    return removeOwnTemp(dir, rel);
  } catch (e) {
    if (isPathBlocked(e)) return false;
    throw e;
  }
}

/**
 * Delete a file herd recorded: only a regular file at that exact path (a symlink or directory put there since is left alone);
 * a recorded tree (an image's chroot herd unpacked) only as the folder it is, removed without following any link inside.
 */
function unlinkRecorded(dir: ConfinedDir, rel: string, kind: string | undefined): boolean {
  const st = dir.lstat(rel);
  if (kind === 'tree') return st?.isDirectory() === true && dir.removeTree(rel);
  if (!st || !st.isFile()) return false;
  return dir.unlink(rel);
}

async function changeMetadata(dir: ConfinedDir, rel: string, mode: number | undefined, owner: { uid: number; gid: number } | undefined, op: (kind: ApplyOpKind, path?: string) => Promise<void>, tree = false): Promise<void> {
  if (tree) {
    // A tree's own folder: reached through the confined walk, its last component not followed (lchown; chmodDir opens it O_NOFOLLOW).
    if (!dir.lstat(rel)?.isDirectory()) throw Object.assign(new Error(`${rel} is no longer a folder`), { code: 'ENOTDIR' });
    if (owner) {
      dir.lchown(rel, owner.uid, owner.gid);
      await op('chown', rel);
    }
    if (mode !== undefined) {
      dir.chmodDir(rel, mode);
      await op('chmod', rel);
    }
    return;
  }
  // openRead checks the descriptor's own fstat: a regular file, never a symlink swapped in since the plan.
  const fd = dir.openRead(rel)?.fd;
  if (fd === undefined) throw Object.assign(new Error(`${rel} disappeared since the plan`), { code: 'ENOENT' });
  try {
    if (mode !== undefined) {
      fchmodSync(fd, mode);
      await op('chmod', rel);
    }
    if (owner) {
      fchownSync(fd, owner.uid, owner.gid);
      await op('chown', rel);
    }
  } finally {
    closeSync(fd);
  }
}

/** The number this apply's generation gets: one past the newest recorded. */
const nextGeneration = (manifest: StateManifest | undefined): number => (manifest?.generations ?? []).reduce((m, g) => Math.max(m, g.generation), -1) + 1;

/** The manifest after apply: one entry per desired artifact, stat taken now for everything this apply touched. */
function buildManifest(input: ApplyInput, desired: ReadonlyMap<string, Artifact>, ids: ReadonlyMap<string, { uid: number; gid: number } | undefined>): StateManifest {
  const previous = input.stored.manifest;
  const recorded = new Map((previous?.entries ?? []).map((e) => [e.path, e]));
  const byPath = new Map(input.plan.actions.map((a) => [a.path, a]));
  const generation = nextGeneration(previous);
  const entries: ManifestEntry[] = [];
  for (const d of desired.values()) {
    const a = byPath.get(d.path);
    const m = recorded.get(d.path);
    const touched = a !== undefined && (a.action !== 'no-op' || a.reasons.length > 0);
    const live = input.live.files.get(d.path);
    const stat = touched || !m ? statOf(input.dir, d.path) : (live?.stat ?? m.stat);
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
