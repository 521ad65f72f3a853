// Reading and writing herd's state in a target (I/O): the manifest, the pending-apply journal and the stored content indexes.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ContentEntry } from '../artifacts/artifact.ts';
import { herdFailure } from '../diagnostics/diagnostic.ts';
import {
  parsePendingJournal,
  parseStateManifest,
  serializePendingJournal,
  serializeStateManifest,
  type PendingJournal,
  type StateManifest,
} from '../plan/state-manifest.ts';
import { fsyncDir, unlinkIfPresent, writeFileAtomic } from './atomic-write.ts';
import { contentsDirOf, manifestFileOf, pendingFileOf, stateDirOf } from './paths.ts';

export interface StoredState {
  readonly manifest?: StateManifest;
  /** sha256 of the manifest file's bytes; null when there is no manifest (a fresh target). Saved plans bind to it. */
  readonly manifestHash: string | null;
  /** mtime of the manifest file in ns: entries whose ctime is not older are "racily clean" and always re-hashed. */
  readonly manifestMtimeNs: bigint | null;
  readonly pending?: PendingJournal;
}

function readIfPresent(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw herdFailure('state/unreadable', `cannot read ${path}: ${(e as Error).message}`, 'check its permissions (herd plan and apply need read access to the whole target)');
  }
}

/** Read the manifest and the journal; throws a HerdFailure (state/unreadable, state/unsupported-version) when either is damaged. */
export function readStoredState(root: string): StoredState {
  const file = manifestFileOf(root);
  const bytes = readIfPresent(file);
  let manifest: StateManifest | undefined;
  let manifestHash: string | null = null;
  let manifestMtimeNs: bigint | null = null;
  if (bytes) {
    const parsed = parseStateManifest(bytes.toString('utf8'), file);
    if (!parsed.ok) throw parsed.failure;
    manifest = parsed.value;
    manifestHash = createHash('sha256').update(bytes).digest('hex');
    manifestMtimeNs = statSync(file, { bigint: true }).mtimeNs;
  }
  const pendingBytes = readIfPresent(pendingFileOf(root));
  let pending: PendingJournal | undefined;
  if (pendingBytes) {
    const parsed = parsePendingJournal(pendingBytes.toString('utf8'), pendingFileOf(root));
    if (!parsed.ok) throw parsed.failure;
    pending = parsed.value;
  }
  return { ...(manifest ? { manifest } : {}), manifestHash, manifestMtimeNs, ...(pending ? { pending } : {}) };
}

/** Atomically replace the manifest; returns the sha256 of the bytes written. */
export async function writeManifest(root: string, manifest: StateManifest, fsync = true): Promise<string> {
  const bytes = Buffer.from(serializeStateManifest(manifest));
  await writeFileAtomic(manifestFileOf(root), bytes, 0o644, fsync);
  return createHash('sha256').update(bytes).digest('hex');
}

export async function writePending(root: string, journal: PendingJournal, fsync = true): Promise<void> {
  await writeFileAtomic(pendingFileOf(root), Buffer.from(serializePendingJournal(journal)), 0o644, fsync);
}

export function removePending(root: string, fsync = true): void {
  if (unlinkIfPresent(pendingFileOf(root)) && fsync) fsyncDir(stateDirOf(root));
}

const indexFileOf = (root: string, sha: string) => join(contentsDirOf(root), `${sha}.json`);

/** The content index stored when an archive with this hash was applied; undefined when none is stored or it is unreadable (diffs are advisory). */
export function readContentIndex(root: string, sha: string): readonly ContentEntry[] | undefined {
  try {
    const parsed = JSON.parse(readFileSync(indexFileOf(root, sha), 'utf8')) as unknown;
    return Array.isArray(parsed) ? (parsed as ContentEntry[]) : undefined;
  } catch {
    return undefined;
  }
}

/** Store an archive's content index by its sha256, so a later plan can diff what changes inside; returns false when already stored. */
export async function writeContentIndex(root: string, sha: string, entries: readonly ContentEntry[], fsync = true): Promise<boolean> {
  const file = indexFileOf(root, sha);
  if (readIfPresent(file)) return false;
  await writeFileAtomic(file, Buffer.from(JSON.stringify(entries) + '\n'), 0o644, fsync);
  return true;
}

/** Remove stored indexes no manifest entry refers to any more. */
export function pruneContentIndexes(root: string, keep: ReadonlySet<string>): void {
  let names: string[];
  try {
    names = readdirSync(contentsDirOf(root));
  } catch {
    return;
  }
  for (const name of names) {
    const sha = name.replace(/\.json$/, '');
    if (!keep.has(sha)) unlinkIfPresent(join(contentsDirOf(root), name));
  }
}
