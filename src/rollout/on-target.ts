// A rollout against a target's reboot record (I/O): which nodes await a reboot, and recording each request and each node seen back.
//
// The target lock is taken only around each small record update, not for the whole rollout (which may wait hours for jobs to drain): herd plan
// and herd apply stay usable meanwhile. Correctness does not need the long lock: a node is marked done only if its record still says the
// generation the rollout started from (recordBack's compare-and-set), so an apply made during the rollout leaves its newer need in place.
// Every update replaces the record atomically, so Ctrl-C (which exits at once) leaves it either before or after one update, never torn.
import { herdFailure } from '../diagnostics/diagnostic.ts';
import type { ConfinedDir } from '../fs/confined-dir.ts';
import type { AwaitingReboot, RebootRecord } from '../plan/state-manifest.ts';
import { acquireLock } from '../state/lock.ts';
import { readRebootRecord, writeRebootRecord } from '../state/manifest-io.ts';
import { awaitingReboot, EMPTY_REBOOT_RECORD, recordBack, recordRequested } from './reboot-record.ts';

export interface RecordUpdater {
  /** The nodes awaiting a reboot now. */
  awaiting(): AwaitingReboot[];
  requested(nodes: readonly string[], at: Date): Promise<void>;
  back(node: string, since: number): Promise<void>;
}

/** Reads and updates the reboot record of the opened target `dir`, each update under the target lock (waiting up to `lockTimeoutMs`). */
export function recordUpdater(dir: ConfinedDir, command: string, lockTimeoutMs: number): RecordUpdater {
  const update = async (change: (r: RebootRecord) => RebootRecord): Promise<void> => {
    const lock = await acquireLock(dir, { command, timeoutMs: lockTimeoutMs });
    try {
      if (!lock.held()) throw herdFailure('state/lock-lost', 'lost the target lock while recording a reboot', 'run herd rollout again');
      await writeRebootRecord(dir, change(readRebootRecord(dir) ?? EMPTY_REBOOT_RECORD));
    } finally {
      lock.release();
    }
  };
  return {
    awaiting: () => awaitingReboot(readRebootRecord(dir)),
    requested: (nodes, at) => update((r) => recordRequested(r, nodes, at.toISOString())),
    back: (node, since) => update((r) => recordBack(r, node, since)),
  };
}
