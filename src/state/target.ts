// Open a target for planning or applying (I/O): take the lock, read the stored state, scan the live files and plan, in that order.
import { existsSync } from 'node:fs';
import type { ArtifactSet } from '../artifacts/artifact.ts';
import { herdFailure } from '../diagnostics/diagnostic.ts';
import { planChanges } from '../plan/plan-changes.ts';
import type { LiveState, Plan } from '../plan/plan-types.ts';
import { acquireLock, type LockHandle, type LockInfo } from './lock.ts';
import { readStoredState, type StoredState } from './manifest-io.ts';
import { scanLive, type ScanStats } from './live-scan.ts';
import { stateDirOf, unsafeArtifactPath } from './paths.ts';

export interface OpenTargetOptions {
  /** apply: always lock (creating the state directory); plan: lock only if the state directory exists (a fresh target has nothing to protect). */
  readonly purpose: 'plan' | 'apply';
  /** Recorded in the lock, e.g. "herd apply clusters/lab". */
  readonly command: string;
  readonly lockTimeoutMs?: number;
  readonly now?: () => Date;
  readonly onLockWait?: (holder: LockInfo | undefined) => void;
  readonly stats?: ScanStats;
}

export interface TargetSession {
  readonly root: string;
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
  const wantLock = options.purpose === 'apply' || existsSync(stateDirOf(root));
  let lock: LockHandle | undefined;
  if (wantLock) {
    try {
      lock = await acquireLock(root, {
        command: options.command,
        timeoutMs: options.lockTimeoutMs ?? 0,
        ...(options.now ? { now: options.now } : {}),
        ...(options.onLockWait ? { onWait: options.onLockWait } : {}),
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
        throw herdFailure('state/unwritable', `cannot take the lock in ${stateDirOf(root)}: ${(e as Error).message}`, 'run herd as a user who may write the target (on a head node: root)');
      }
      throw e;
    }
  }
  try {
    const stored = readStoredState(root);
    const live = await scanLive(root, desired, stored, options.stats);
    const plan = planChanges(desired, stored.manifest, live);
    return { root, lock, stored, live, plan, release: () => lock?.release() };
  } catch (e) {
    lock?.release();
    throw e;
  }
}
