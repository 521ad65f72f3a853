// State snapshots and saved plans on disk (I/O): take a target's snapshot from an open session, read a published snapshot,
// and write herd's output files (saved plans, snapshots) beside the user's other files without ever replacing a file herd did not write.
import { realpathSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { sha256Hex, type ArtifactSet } from '../artifacts/artifact.ts';
import { herdFailure, isHerdFailure } from '../diagnostics/diagnostic.ts';
import { ConfinedDir, fileKind, isPathBlocked } from '../fs/confined-dir.ts';
import { buildSnapshot, parseSnapshot, type StateSnapshot } from '../plan/state-snapshot.ts';
import type { LiveState } from '../plan/plan-types.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { readStoredState, type StoredState } from './manifest-io.ts';
import { scanLive } from './live-scan.ts';

/** A published snapshot is a few MB for thousands of nodes; anything far larger is not one. */
const MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024;

export interface SnapshotOf {
  readonly root: string;
  readonly stored: StoredState;
  readonly live: LiveState;
}

/** The snapshot of what an open target session saw (its scan covers every recorded and journaled path). */
export function snapshotOfSession(session: SnapshotOf, herdVersion: string, cluster: string | null): StateSnapshot {
  return buildSnapshot({
    herdVersion,
    cluster: session.stored.manifest?.cluster ?? cluster,
    root: session.root,
    manifestHash: session.stored.manifestHash,
    manifest: session.stored.manifest,
    pending: session.stored.pending,
    reboots: session.stored.reboots,
    live: session.live,
    hash: sha256Hex,
  });
}

/** Re-read the state and re-scan the live files through `dir` (after an apply, still under its lock) and snapshot them. */
export async function snapshotAfterApply(root: string, dir: ConfinedDir, desired: ArtifactSet, herdVersion: string, cluster: string | null): Promise<StateSnapshot> {
  dir.flush();
  const stored = readStoredState(dir);
  const live = await scanLive(dir, desired, stored);
  return snapshotOfSession({ root, stored, live }, herdVersion, cluster);
}

/**
 * Read and check a published snapshot named by the user (`abs`, shown as `shown`). The path is the user's own, so a symlink in it is
 * followed once (as for --root); what it leads to must be a regular file outside kernel filesystems, read through a confined folder.
 */
export function readSnapshotFile(abs: string, shown: string): StateSnapshot {
  const hint = 'on the head run: herd state export --out FILE (or download the snapshot the head published)';
  const cannot = (why: string) => herdFailure('state/unreadable', `cannot read the state snapshot ${shown}: ${why}`, hint);
  let real: string;
  try {
    real = realpathSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw herdFailure('state/unreadable', `the state snapshot ${shown} does not exist`, hint);
    throw cannot((e as Error).message);
  }
  let dir: ConfinedDir;
  try {
    dir = ConfinedDir.open(dirname(real), { what: 'folder' });
  } catch (e) {
    throw cannot((e as Error).message);
  }
  let bytes: Buffer | undefined;
  try {
    const st = dir.lstat(basename(real));
    if (st && !st.isFile()) throw cannot(`${real} is ${fileKind(st)}, not a file`);
    bytes = dir.readFile(basename(real), MAX_SNAPSHOT_BYTES);
  } catch (e) {
    if (isHerdFailure(e)) throw e;
    throw cannot((e as Error).message);
  } finally {
    dir.close();
  }
  if (bytes === undefined) throw herdFailure('state/unreadable', `the state snapshot ${shown} does not exist`, hint);
  const parsed = parseSnapshot(bytes.toString('utf8'), shown, sha256Hex);
  if (!parsed.ok) throw parsed.failure;
  return parsed.snapshot;
}

export interface OutputFileKind {
  /** What the file is, in messages: "saved plan", "state snapshot". */
  readonly what: string;
  /** An existing file is replaced only when this says herd wrote it (its text, read up to 512 MiB). */
  readonly isOurs: (text: string) => boolean;
  readonly hint: string;
}

/** Before any work: an output path whose folder is missing or that holds something herd would not replace fails now, not after an apply. */
export function checkOutputEarly(abs: string, shown: string, k: OutputFileKind): void {
  let dir: ConfinedDir;
  try {
    dir = ConfinedDir.open(dirname(abs), { what: 'folder' });
  } catch (e) {
    throw herdFailure('cli/out-unsafe', `cannot write the ${k.what} to ${shown}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? `${dirname(abs)} does not exist` : (e as Error).message}`, k.hint);
  }
  try {
    const st = dir.lstat(basename(abs));
    if (st && !st.isFile()) throw herdFailure('cli/out-unsafe', `${shown} exists and is not a regular file; herd never replaces it`, k.hint);
    if (st && !k.isOurs(dir.readFile(basename(abs), MAX_SNAPSHOT_BYTES)?.toString('utf8') ?? '')) throw herdFailure('cli/out-unsafe', `${shown} exists and is not a ${k.what} herd wrote; herd never replaces it`, k.hint);
  } catch (e) {
    if (isPathBlocked(e)) throw herdFailure('cli/out-unsafe', `cannot write the ${k.what} to ${shown}: ${e.message}`, k.hint);
    throw e;
  } finally {
    dir.close();
  }
}

/**
 * Write one of herd's output files to the user's path: its folder is the user's own path (followed once), the file itself is never
 * written through a symlink, and an existing file is replaced only when it is one herd wrote of the same kind (never a spec or anything else).
 */
export async function writeOutputFile(abs: string, shown: string, text: string, k: OutputFileKind): Promise<void> {
  let dir: ConfinedDir;
  try {
    dir = ConfinedDir.open(dirname(abs), { what: 'folder' });
  } catch (e) {
    throw herdFailure('cli/out-unsafe', `cannot write the ${k.what} to ${shown}: ${(e as Error).message}`, k.hint);
  }
  try {
    const name = basename(abs);
    const st = dir.lstat(name);
    if (st && !st.isFile()) throw herdFailure('cli/out-unsafe', `${shown} exists and is not a regular file; herd never replaces it`, k.hint);
    if (st) {
      let text = '';
      try {
        text = dir.readFile(name, MAX_SNAPSHOT_BYTES)?.toString('utf8') ?? '';
      } catch {
        text = '';
      }
      if (!k.isOurs(text)) throw herdFailure('cli/out-unsafe', `${shown} exists and is not a ${k.what} herd wrote; herd never replaces it`, k.hint);
    }
    await writeFileAtomic(dir, name, Buffer.from(text), 0o644);
  } finally {
    dir.close();
  }
}

export const SAVED_PLAN_FILE: OutputFileKind = {
  what: 'saved plan',
  isOurs: (text) => text.startsWith('herd-saved-plan ') || /"kind"\s*:\s*"herd-saved-plan"/.test(text),
  hint: 'choose a new file name, e.g. --out plan.herd',
};

export const STATE_SNAPSHOT_FILE: OutputFileKind = {
  what: 'state snapshot',
  isOurs: (text) => /"kind"\s*:\s*"herd-state-snapshot"/.test(text),
  hint: 'choose a new file name, e.g. --out state.json',
};
