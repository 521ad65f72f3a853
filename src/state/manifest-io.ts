// Reading and writing herd's state in a target (I/O): the manifest, the pending-apply journal and the stored content indexes.
import { createHash } from 'node:crypto';
import { closeSync, type BigIntStats } from 'node:fs';
import type { ContentEntry } from '../artifacts/artifact.ts';
import { herdFailure } from '../diagnostics/diagnostic.ts';
import { isPathBlocked, readBounded, type ConfinedDir } from '../fs/confined-dir.ts';
import {
  parsePendingJournal,
  parseRebootRecord,
  parseStateManifest,
  serializePendingJournal,
  serializeRebootRecord,
  serializeStateManifest,
  type PendingJournal,
  type RebootRecord,
  type RecordedStat,
  type StateManifest,
} from '../plan/state-manifest.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { CONTENTS_REL, MANIFEST_REL, PENDING_REL, REBOOTS_REL, STATE_DIR } from './paths.ts';

/** Files herd keeps in its state directory are small; anything larger is not herd's and is refused, never read whole. */
const MAX_STATE_FILE = 256 * 1024 * 1024;

export interface StoredState {
  readonly manifest?: StateManifest;
  /** sha256 of the manifest file's bytes; null when there is no manifest (a fresh target). Saved plans bind to it. */
  readonly manifestHash: string | null;
  /** mtime of the manifest file in ns: entries whose ctime is not older are "racily clean" and always re-hashed. */
  readonly manifestMtimeNs: bigint | null;
  readonly pending?: PendingJournal;
  /** Nodes awaiting a reboot (absent file: none). Not part of manifestHash: a rollout changes no file herd owns. */
  readonly reboots?: RebootRecord;
}

/** A state file's bytes and its stat (from the open descriptor), or undefined when absent; anything but a regular file inside the root is refused. */
function readIfPresent(dir: ConfinedDir, rel: string): { bytes: Buffer; mtimeNs: bigint } | undefined {
  const shown = dir.hostPath(rel);
  try {
    const o = dir.openRead(rel);
    if (!o) return undefined;
    try {
      const bytes = readBounded(o.fd, o.stat.size, MAX_STATE_FILE);
      if (bytes === undefined) throw new Error(`it is larger than ${MAX_STATE_FILE} bytes`);
      return { bytes, mtimeNs: o.stat.mtimeNs };
    } finally {
      closeSync(o.fd);
    }
  } catch (e) {
    if (isPathBlocked(e)) {
      throw herdFailure('state/unsafe-path', `cannot read herd's state: ${e.message}`, 'herd reads and writes its state only inside the target root; move the symlink or file away and run herd plan again');
    }
    throw herdFailure('state/unreadable', `cannot read ${shown}: ${(e as Error).message}`, 'check its permissions (herd plan and apply need read access to the whole target)');
  }
}

/** Read the manifest and the journal; throws a HerdFailure (state/unreadable, state/unsupported-version) when either is damaged. */
export function readStoredState(dir: ConfinedDir): StoredState {
  const file = dir.hostPath(MANIFEST_REL);
  const read = readIfPresent(dir, MANIFEST_REL);
  const bytes = read?.bytes;
  let manifest: StateManifest | undefined;
  let manifestHash: string | null = null;
  let manifestMtimeNs: bigint | null = null;
  if (bytes) {
    const parsed = parseStateManifest(bytes.toString('utf8'), file);
    if (!parsed.ok) throw parsed.failure;
    manifest = parsed.value;
    manifestHash = createHash('sha256').update(bytes).digest('hex');
    manifestMtimeNs = read!.mtimeNs;
  }
  const pendingBytes = readIfPresent(dir, PENDING_REL)?.bytes;
  let pending: PendingJournal | undefined;
  if (pendingBytes) {
    const parsed = parsePendingJournal(pendingBytes.toString('utf8'), dir.hostPath(PENDING_REL));
    if (!parsed.ok) throw parsed.failure;
    pending = parsed.value;
  }
  const reboots = readRebootRecord(dir);
  return { ...(manifest ? { manifest } : {}), manifestHash, manifestMtimeNs, ...(pending ? { pending } : {}), ...(reboots ? { reboots } : {}) };
}

/** The reboot record, or undefined when there is none; throws a HerdFailure when it is damaged. */
/** A stat as herd records it beside each file it wrote (and a tree's top folder), to trust it unchanged later. */
export function recordedStatOf(st: BigIntStats): RecordedStat {
  return { size: Number(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), ino: String(st.ino) };
}

export function readRebootRecord(dir: ConfinedDir): RebootRecord | undefined {
  const bytes = readIfPresent(dir, REBOOTS_REL)?.bytes;
  if (!bytes) return undefined;
  const parsed = parseRebootRecord(bytes.toString('utf8'), dir.hostPath(REBOOTS_REL));
  if (!parsed.ok) throw parsed.failure;
  return parsed.value;
}

/** Atomically replace the reboot record (old or new bytes after a crash, never a mix); an empty record removes the file. */
export async function writeRebootRecord(dir: ConfinedDir, record: RebootRecord, fsync = true): Promise<void> {
  if (Object.keys(record.nodes).length === 0) {
    if (dir.unlink(REBOOTS_REL) && fsync) dir.fsyncDir(STATE_DIR);
    return;
  }
  await writeFileAtomic(dir, REBOOTS_REL, Buffer.from(serializeRebootRecord(record)), 0o644, fsync);
}

/** Atomically replace the manifest; returns the sha256 of the bytes written. */
export async function writeManifest(dir: ConfinedDir, manifest: StateManifest, fsync = true): Promise<string> {
  const bytes = Buffer.from(serializeStateManifest(manifest));
  await writeFileAtomic(dir, MANIFEST_REL, bytes, 0o644, fsync);
  return createHash('sha256').update(bytes).digest('hex');
}

export async function writePending(dir: ConfinedDir, journal: PendingJournal, fsync = true): Promise<void> {
  await writeFileAtomic(dir, PENDING_REL, Buffer.from(serializePendingJournal(journal)), 0o644, fsync);
}

export function removePending(dir: ConfinedDir, fsync = true): void {
  if (dir.unlink(PENDING_REL) && fsync) dir.fsyncDir(STATE_DIR);
}

const indexFileOf = (sha: string) => `${CONTENTS_REL}/${sha}.json`;

/** The content index stored when an archive with this hash was applied; undefined when none is stored or it is unreadable (diffs are advisory). */
export function readContentIndex(dir: ConfinedDir, sha: string): readonly ContentEntry[] | undefined {
  try {
    const bytes = readIfPresent(dir, indexFileOf(sha))?.bytes;
    if (!bytes) return undefined;
    const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
    return Array.isArray(parsed) ? (parsed as ContentEntry[]) : undefined;
  } catch {
    return undefined;
  }
}

/** Store an archive's content index by its sha256, so a later plan can diff what changes inside; returns false when already stored. */
export async function writeContentIndex(dir: ConfinedDir, sha: string, entries: readonly ContentEntry[], fsync = true): Promise<boolean> {
  const file = indexFileOf(sha);
  if (dir.lstat(file)) return false;
  await writeFileAtomic(dir, file, Buffer.from(JSON.stringify(entries) + '\n'), 0o644, fsync);
  return true;
}

/** Remove stored indexes no manifest entry refers to any more: only files herd names `<sha256>.json`, nothing else found there. */
export function pruneContentIndexes(dir: ConfinedDir, keep: ReadonlySet<string>): void {
  let names: string[];
  try {
    names = (dir.readdir(CONTENTS_REL) ?? []).filter((e) => e.isFile()).map((e) => e.name);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^([0-9a-f]{64})\.json$/.exec(name);
    if (m && !keep.has(m[1]!)) dir.unlink(`${CONTENTS_REL}/${name}`);
  }
}
