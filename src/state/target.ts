// Open a target for planning or applying (I/O): take the lock, read the stored state, scan the live files and plan, in that order.
import { isAbsolute, relative, sep } from 'node:path';
import type { ArtifactSet } from '../artifacts/artifact.ts';
import { herdFailure, type HerdFailure } from '../diagnostics/diagnostic.ts';
import { ConfinedDir, isPathBlocked } from '../fs/confined-dir.ts';
import { planChanges } from '../plan/plan-changes.ts';
import type { LiveState, Plan } from '../plan/plan-types.ts';
import { addArchiveChanges, recognizeRebuilt } from './archive-changes.ts';
import { acquireLock, type LockHandle, type LockInfo } from './lock.ts';
import { readStoredState, type StoredState } from './manifest-io.ts';
import { scanLive, type ScanStats } from './live-scan.ts';
import { STATE_DIR, stateDirOf, unsafeArtifactPath } from './paths.ts';

export interface OpenTargetOptions {
  /** apply: always lock (creating the state directory); plan: lock only if the state directory exists (a fresh target has nothing to protect). */
  readonly purpose: 'plan' | 'apply';
  /** Recorded in the lock, e.g. "herd apply clusters/lab". */
  readonly command: string;
  readonly lockTimeoutMs?: number;
  readonly now?: () => Date;
  readonly onLockWait?: (holder: LockInfo | undefined) => void;
  readonly stats?: ScanStats;
  /**
   * A folder `root` must stay inside, for roots herd derives itself (the default `.herd/<cluster>/root` beside the spec): the spec
   * folder's content comes from a pull request, so a committed `.herd -> /` must not turn a demo apply into a write to the real /etc.
   */
  readonly confineTo?: string;
}

export interface TargetSession {
  readonly root: string;
  /** The target root, opened once: every read and write below it goes through this (undefined: plan of a root that does not exist yet). */
  readonly dir: ConfinedDir | undefined;
  readonly lock: LockHandle | undefined;
  readonly stored: StoredState;
  readonly live: LiveState;
  readonly plan: Plan;
  /** Release the lock; safe to call twice. */
  release(): void;
}

/** Plan `desired` against the target at `root` under its lock. The caller must release() the session (the lock stays held for apply). */
export async function openTarget(root: string, desired: ArtifactSet, options: OpenTargetOptions): Promise<TargetSession> {
  for (const a of desired.artifacts) {
    const why = unsafeArtifactPath(a.path);
    if (why) throw herdFailure('state/bad-artifact-path', `artifact path ${a.path} ${why}`, 'this is a compiler bug; please report it');
  }
  const dir = openTargetDir(root, options.purpose === 'apply', options.confineTo);
  let wantLock = false;
  try {
    wantLock = dir !== undefined && (options.purpose === 'apply' || dir.isDirectory(STATE_DIR));
  } catch (e) {
    dir?.close();
    if (isPathBlocked(e)) throw unsafeState(e.message);
    throw e;
  }
  let lock: LockHandle | undefined;
  if (wantLock) {
    try {
      lock = await acquireLock(dir!, {
        command: options.command,
        timeoutMs: options.lockTimeoutMs ?? 0,
        ...(options.now ? { now: options.now } : {}),
        ...(options.onLockWait ? { onWait: options.onLockWait } : {}),
      });
    } catch (e) {
      dir?.close();
      if (isPathBlocked(e)) throw unsafeState(e.message);
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
        throw herdFailure('state/unwritable', `cannot take the lock in ${stateDirOf(root)}: ${(e as Error).message}`, 'run herd as a user who may write the target (on a head node: root)');
      }
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw herdFailure('state/unwritable', `cannot take the lock in ${stateDirOf(root)}: the disk is full (${(e as Error).message}); nothing on the target was changed`, 'free space on the target file system and run herd again');
      }
      throw e;
    }
  }
  try {
    const stored = dir ? readStoredState(dir) : { manifestHash: null, manifestMtimeNs: null };
    const live = await scanLive(dir, desired, stored, options.stats);
    // Overlay updates read as per-file text diffs: the archives are read here, under the lock, through the same confined root.
    // An overlay archive Warewulf rebuilt from herd's templates (the same entries) is drift apply may overwrite.
    const plan = await recognizeRebuilt(dir, desired, await addArchiveChanges(dir, desired, planChanges(desired, stored.manifest, live)));
    return {
      root,
      dir,
      lock,
      stored,
      live,
      plan,
      release: () => {
        lock?.release();
        dir?.close();
      },
    };
  } catch (e) {
    lock?.release();
    dir?.close();
    throw e;
  }
}

const unsafeState = (why: string): HerdFailure =>
  herdFailure('state/unsafe-path', `herd's state directory cannot be used: ${why}`, 'herd keeps its state, lock and temp files inside the target root only; move the symlink or file away and run herd plan again');

/**
 * Open the target root. The root itself is the user's own path (a symlink there is followed once); below it nothing leaves it.
 * apply creates a missing root; plan of a missing root sees an empty target (undefined). Kernel filesystems and non-directories are refused.
 */
export function openTargetDir(root: string, create: boolean, confineTo?: string): ConfinedDir | undefined {
  if (confineTo !== undefined) return openDerivedRoot(root, create, confineTo);
  try {
    return ConfinedDir.open(root, { what: 'target root', create });
  } catch (e) {
    if (isPathBlocked(e)) {
      throw herdFailure('state/bad-root', e.kind === 'special' ? e.message : `the target root ${root} is not a directory`, 'pass --root a directory: / on a head node, or a scratch folder');
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'EEXIST') throw herdFailure('state/bad-root', `the target root ${root} is not a directory (a file is in its path)`, 'pass --root a directory: / on a head node, or a scratch folder');
    if (code === 'ENOENT') return undefined;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw herdFailure('state/unwritable', `cannot open the target root ${root}: ${(e as Error).message}`, 'run herd as a user who may write the target (on a head node: root)');
    }
    throw herdFailure('state/bad-root', `cannot open the target root ${root}: ${(e as Error).message}`, 'pass --root a directory: / on a head node, or a scratch folder');
  }
}

/** A root herd derived from `base` (the spec folder): reached from `base` without leaving it, created there when `create`. */
function openDerivedRoot(root: string, create: boolean, base: string): ConfinedDir | undefined {
  const rel = relative(base, root);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw herdFailure('state/bad-root', `the target root ${root} is not inside ${base}`, 'pass --root explicitly');
  let top: ConfinedDir;
  try {
    top = ConfinedDir.open(base, { what: 'spec folder' });
  } catch (e) {
    throw herdFailure('state/bad-root', `cannot open the spec folder ${base}: ${(e as Error).message}`, 'check the spec path');
  }
  try {
    return top.subdir(rel.split(sep).join('/'), { what: 'target root', create });
  } catch (e) {
    if (isPathBlocked(e)) {
      throw herdFailure('state/unsafe-path', `the default target root cannot be used: ${e.message}`, `herd keeps its local state in ${rel} inside the spec folder; remove the symlink (never commit .herd/), or pass --root explicitly`);
    }
    throw e;
  } finally {
    top.close();
  }
}
