// The live scan (I/O): stat and, only where needed, hash every target file a plan concerns, so drift is seen without reading 10,000 files.
//
// Fast path: a file whose size, mtime, ctime and inode all equal what herd recorded right after writing it is trusted to still hold the recorded hash.
// ctime cannot be set from user space, so an edit (even one that restores mtime with touch) or a replace (new inode) is always re-hashed.
// Racy case, as in git's index: a file changed within the same clock tick as herd's own write would keep an equal ctime, so any entry whose
// ctime is not strictly older than the manifest's own mtime is re-hashed too. What remains trusted is a file rewritten in place with the same
// size in the same tick as herd's write, before the manifest was written; that needs a concurrent writer during apply, which the lock excludes for herd.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, readFileSync } from 'node:fs';
import type { ArtifactSet, ContentEntry } from '../artifacts/artifact.ts';
import { herdFailure } from '../diagnostics/diagnostic.ts';
import { isArchive, isDiffable } from '../plan/plan-changes.ts';
import type { LiveFile, LiveState } from '../plan/plan-types.ts';
import { MAX_DIFF_BYTES } from '../plan/text-diff.ts';
import { readContentIndex, type StoredState } from './manifest-io.ts';
import { targetPathOf, tempPathFor } from './paths.ts';

/** Files above this are hashed by streaming instead of one read. */
const STREAM_ABOVE = 16 * 1024 * 1024;

async function hashStream(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function lstatOrNull(abs: string) {
  try {
    return lstatSync(abs, { bigint: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    // A parent path component is a file: nothing can be written here, which the plan reports as not-a-file.
    if (code === 'ENOTDIR') return 'other' as const;
    throw herdFailure('state/unreadable', `cannot stat ${abs}: ${(e as Error).message}`, 'check permissions on the target root');
  }
}

export interface ScanStats {
  /** Files read and hashed (the rest were trusted from the manifest's recorded stat). */
  hashed: number;
  statted: number;
}

/**
 * Look at every path the plan concerns: desired artifacts, recorded entries and paths journaled by an unfinished apply.
 * Keeps file bytes only for text configs whose content differs (for diffs), and loads stored content indexes only for archives that differ.
 */
export async function scanLive(root: string, desired: ArtifactSet, stored: StoredState, stats?: ScanStats): Promise<LiveState> {
  const wanted = new Map(desired.artifacts.map((a) => [a.path, a]));
  const recorded = new Map((stored.manifest?.entries ?? []).map((e) => [e.path, e]));
  const journaled = Object.keys(stored.pending?.paths ?? {});
  const paths = new Set([...wanted.keys(), ...recorded.keys(), ...journaled]);
  const files = new Map<string, LiveFile>();
  const contentIndexes = new Map<string, readonly ContentEntry[]>();

  for (const path of paths) {
    const abs = targetPathOf(root, path);
    const st = lstatOrNull(abs);
    if (stats) stats.statted++;
    if (st === null) {
      files.set(path, { type: 'absent' });
      continue;
    }
    if (st === 'other' || !st.isFile()) {
      files.set(path, { type: 'other' });
      continue;
    }
    const stat = { size: Number(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), ino: String(st.ino) };
    const m = recorded.get(path);
    const trusted =
      m !== undefined &&
      stored.manifestMtimeNs !== null &&
      st.ctimeNs < stored.manifestMtimeNs &&
      m.stat.size === stat.size &&
      m.stat.mtimeNs === stat.mtimeNs &&
      m.stat.ctimeNs === stat.ctimeNs &&
      m.stat.ino === stat.ino;
    let sha: string;
    let bytes: Buffer | undefined;
    if (trusted) {
      sha = m.sha256;
    } else {
      if (stats) stats.hashed++;
      if (stat.size > STREAM_ABOVE) sha = await hashStream(abs);
      else {
        bytes = readFileSync(abs);
        sha = createHash('sha256').update(bytes).digest('hex');
      }
    }
    const d = wanted.get(path);
    const keepBytes = d !== undefined && sha !== d.sha256 && isDiffable(d) && stat.size <= MAX_DIFF_BYTES;
    if (keepBytes && !bytes) bytes = readFileSync(abs);
    if (d && isArchive(d) && d.contents && sha !== d.sha256 && !contentIndexes.has(sha)) {
      const index = readContentIndex(root, sha);
      if (index) contentIndexes.set(sha, index);
    }
    files.set(path, {
      type: 'file',
      sha256: sha,
      size: stat.size,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      stat,
      hashed: !trusted,
      ...(keepBytes && bytes ? { bytes } : {}),
    });
  }

  const leftoverTempFiles = journaled.filter((p) => existsSync(tempPathFor(targetPathOf(root, p)))).map((p) => tempPathFor(p));
  return {
    files,
    contentIndexes,
    ...(stored.pending ? { pending: stored.pending } : {}),
    ...(leftoverTempFiles.length ? { leftoverTempFiles: leftoverTempFiles.sort() } : {}),
  };
}
