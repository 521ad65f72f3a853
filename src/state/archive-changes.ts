// File-level overlay diffs for a plan (I/O): read the previous overlay archive on the target and the planned one, and attach
// per-file changes with text diffs to the overlay .img updates.
//
// Cost stays with what changes: only .img updates are read (never no-ops, never the .img.gz twin), and nodes whose change is
// identical by hash (from the content index herd stored when it applied the archive) share one read of one representative, so
// the same edit on 10,000 nodes reads two archives. Distinct change sets are read up to a cap; past it they keep hash-level
// changes. Diffs are advisory: an archive that cannot be read leaves the hash-level changes (or today's "index not stored").
import { createHash } from 'node:crypto';
import { closeSync, createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { contentEntries, type Artifact, type ArtifactSet, type ContentEntry } from '../artifacts/artifact.ts';
import type { ConfinedDir } from '../fs/confined-dir.ts';
import { readCpioIndex, type CpioIndex } from '../image/verify/read-cpio.ts';
import { ARCHIVE_TEXT_MAX, changeKey, fileChangesOf, textPaths, withTextDiffs } from '../plan/archive-diff.ts';
import { diffContents, isEmptyContentDiff } from '../plan/content-diff.ts';
import type { ArchiveChanges, Plan, PlanAction } from '../plan/plan-types.ts';

/** Distinct change sets whose archives are read for text diffs; the same count always gives the same plan (a count, not a timeout). */
export const MAX_ARCHIVE_READS = 100;

/** Without a stored index, files up to this size are hashed from the previous archive to find what changed; larger ones are not compared by content. */
const HASH_READ_MAX = 64 * 1024 * 1024;

/** Without a stored index the whole previous archive is held while it is hashed; one larger than this is not read (an overlay is a few MiB). */
const HASH_ARCHIVE_MAX = 512 * 1024 * 1024;

export interface ArchiveChangeOptions {
  readonly maxReads?: number;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** `use` applied to a stream of the file at `rel` on the target (opened without following symlinks); undefined when it cannot be read. */
async function readTarget<T>(dir: ConfinedDir, rel: string, use: (stream: ReturnType<typeof createReadStream>) => Promise<T | undefined>): Promise<T | undefined> {
  let fd: number | undefined;
  try {
    const o = dir.openRead(rel);
    if (!o) return undefined;
    fd = o.fd;
    const stream = createReadStream('', { fd, highWaterMark: 1024 * 1024 });
    fd = undefined; // the stream owns it now and closes it when it ends or is destroyed
    try {
      return await use(stream);
    } finally {
      stream.destroy();
    }
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The archive at `rel` on the target, indexed, keeping the files `keep` names (up to `max` bytes each); undefined when unreadable. */
function readTargetArchive(dir: ConfinedDir, rel: string, keep: (path: string) => boolean, max: number): Promise<CpioIndex | undefined> {
  return readTarget(dir, rel, (stream) => readCpioIndex(stream, { keep, maxKeepBytes: max }));
}

/** The planned archive, indexed from its bytes or its producer, keeping the files `keep` names; undefined when it cannot be produced. */
async function readPlannedArchive(a: Artifact, keep: (path: string) => boolean): Promise<CpioIndex | undefined> {
  const source: AsyncIterable<Uint8Array> | undefined = a.produce ? a.produce() : a.bytes ? (async function* () { yield a.bytes!; })() : undefined;
  if (!source) return undefined;
  try {
    return await readCpioIndex(source, { keep, maxKeepBytes: ARCHIVE_TEXT_MAX });
  } catch {
    return undefined;
  }
}

/**
 * Content entries of an archive read back (the shape herd's cpio writer indexes): files hashed from their kept bytes, symlinks by
 * their target, later hard links by the first link's path. A file not kept (over `HASH_READ_MAX`) has no hash.
 */
function entriesOf(index: CpioIndex): ContentEntry[] {
  const firstLink = new Map<string, string>();
  const out: ContentEntry[] = [];
  for (const e of index.entries) {
    if (e.path === '') continue;
    const base = { path: e.path, mode: e.mode, uid: e.uid, gid: e.gid };
    if (e.type === 'symlink') {
      const target = Buffer.from(e.target ?? '', 'utf8');
      out.push({ ...base, type: 'symlink', size: target.length, sha256: sha256(target) });
    } else if (e.type === 'file') {
      const key = `${e.devMajor}:${e.devMinor}:${e.ino}`;
      const first = e.nlink >= 2 ? firstLink.get(key) : undefined;
      if (first !== undefined) {
        out.push({ ...base, type: 'hardlink', size: 0, sha256: sha256(Buffer.from(first, 'utf8')) });
        continue;
      }
      if (e.nlink >= 2) firstLink.set(key, e.path);
      const bytes = index.files.get(e.path);
      out.push({ ...base, type: 'file', size: bytes?.length ?? e.size, ...(bytes ? { sha256: sha256(bytes) } : {}) });
    } else {
      out.push({ ...base, type: e.type, size: 0 });
    }
  }
  return out;
}

/** Read both archives of one update and diff `files` (the change set by hash) as text. */
async function textDiffs(dir: ConfinedDir, a: PlanAction, d: Artifact, files: ReturnType<typeof fileChangesOf>, previous?: CpioIndex): Promise<ArchiveChanges> {
  const want = textPaths(files);
  if (want.after.size === 0) return withTextDiffs(files, new Map(), new Map(), false);
  // Only new files to show: the previous archive has nothing to contribute.
  const before = want.before.size === 0 ? new Map<string, Uint8Array>() : (previous ?? (await readTargetArchive(dir, a.path, (p) => want.before.has(p), ARCHIVE_TEXT_MAX)))?.files;
  const after = before ? await readPlannedArchive(d, (p) => want.after.has(p)) : undefined;
  return withTextDiffs(files, before ?? new Map(), after?.files ?? new Map(), before !== undefined && after !== undefined);
}

/** Overlay .img updates whose content changes and whose previous archive is a file on the target. */
function isReadable(a: PlanAction, d: Artifact | undefined): d is Artifact {
  return a.action === 'update' && a.overlay !== undefined && a.overlay.gzipOf === undefined && a.reasons.includes('content') && a.before !== null && d?.contents !== undefined && (d.produce !== undefined || d.bytes !== undefined);
}

/** The plan with `archiveChanges` on every overlay .img update that could be diffed file by file. */
export async function addArchiveChanges(dir: ConfinedDir | undefined, desired: ArtifactSet, plan: Plan, options: ArchiveChangeOptions = {}): Promise<Plan> {
  if (!dir) return plan;
  const wanted = new Map<string, Artifact>();
  for (const d of desired.artifacts) if (d.overlay && d.overlay.gzipOf === undefined) wanted.set(d.path, d);
  if (wanted.size === 0) return plan;
  let reads = options.maxReads ?? MAX_ARCHIVE_READS;
  const byKey = new Map<string, ArchiveChanges>();
  const found = new Map<string, ArchiveChanges>();
  for (const a of plan.actions) {
    const d = wanted.get(a.path);
    if (!isReadable(a, d)) continue;
    if (a.contentDiff) {
      // The stored index already says what changed by hash: read only the first node of each distinct change set.
      const files = fileChangesOf(a.contentDiff);
      const key = changeKey(files);
      let ch = byKey.get(key);
      if (!ch) {
        const needsText = textPaths(files).after.size > 0;
        if (needsText && reads > 0) {
          reads--;
          ch = await textDiffs(dir, a, d, files);
        } else ch = withTextDiffs(files, new Map(), new Map(), false);
        byKey.set(key, ch);
      }
      found.set(a.path, ch);
    } else if (reads > 0 && a.before!.size <= HASH_ARCHIVE_MAX) {
      // No stored index: the previous archive itself says what was there (hashed from its bytes), one read per node.
      reads--;
      const previous = await readTargetArchive(dir, a.path, () => true, HASH_READ_MAX);
      if (!previous) continue;
      const files = fileChangesOf(diffContents(entriesOf(previous), contentEntries(d.contents!)));
      const key = changeKey(files);
      let ch = byKey.get(key);
      if (!ch) byKey.set(key, (ch = await textDiffs(dir, a, d, files, previous)));
      found.set(a.path, ch);
    }
  }
  if (found.size === 0) return plan;
  return { ...plan, actions: plan.actions.map((a) => (found.has(a.path) ? { ...a, archiveChanges: found.get(a.path)! } : a)) };
}

/** Overlay archives looked at per plan for a Warewulf rebuild (a count, so the same target always gives the same plan). */
export const MAX_REBUILT_READS = 200;


/** sha256 of the gunzipped file at `rel` (at most `max` bytes out), or undefined when it cannot be read or is not gzip. */
function gunzipHash(dir: ConfinedDir, rel: string, max: number): Promise<string | undefined> {
  return readTarget(dir, rel, async (stream) => {
    const h = createHash('sha256');
    let n = 0;
    for await (const c of stream.pipe(createGunzip()) as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > max) return undefined;
      h.update(c);
    }
    return h.digest('hex');
  });
}

/**
 * An overlay archive that `wwctl overlay build` rewrote from herd's Warewulf templates (overlay/warewulf-twin.ts) holds the
 * very entries herd built, in other bytes (its own mtimes, inode numbers, order). Such drift is told apart from an edit by
 * reading the live archive: every entry's path, type, mode, owner and content hash equal to the planned one (and the .img.gz
 * the gzip of that .img) makes it non-blocking: apply writes herd's bytes back without --overwrite-drift.
 */
export async function recognizeRebuilt(dir: ConfinedDir | undefined, desired: ArtifactSet, plan: Plan, maxReads = MAX_REBUILT_READS): Promise<Plan> {
  if (!dir) return plan;
  const drifted = plan.actions.filter((a) => a.overlay !== undefined && a.drift?.kind === 'content' && a.drift.blocking && a.drift.liveSha256 !== null);
  if (drifted.length === 0) return plan;
  const wanted = new Map(desired.artifacts.filter((a) => a.overlay).map((a) => [a.path, a]));
  const rebuilt = new Map<string, string>(); // .img path -> its live sha, where the entries agree
  let reads = maxReads;
  for (const a of drifted) {
    const d = wanted.get(a.path);
    if (!d?.contents || d.overlay!.gzipOf !== undefined || a.before === null || a.before.size > HASH_ARCHIVE_MAX || reads <= 0) continue;
    reads--;
    // addArchiveChanges has compared the live archive's entries with the planned ones already (its file changes: every
    // entry's type, mode, owner, size and hash); the archive is read here only where it did not (past its reading cap).
    let same: boolean;
    if (a.archiveChanges) same = a.archiveChanges.files.length === 0;
    else {
      const live = await readTargetArchive(dir, a.path, () => true, HASH_READ_MAX);
      same = live !== undefined && isEmptyContentDiff(diffContents(entriesOf(live), contentEntries(d.contents)));
    }
    if (same) rebuilt.set(a.path, a.drift!.liveSha256!);
  }
  const soft = new Set(rebuilt.keys());
  for (const a of drifted) {
    const img = wanted.get(a.path)?.overlay?.gzipOf;
    if (img === undefined || !rebuilt.has(img) || reads <= 0) continue;
    reads--;
    if ((await gunzipHash(dir, a.path, HASH_ARCHIVE_MAX)) === rebuilt.get(img)) soft.add(a.path);
  }
  if (soft.size === 0) return plan;
  // Nodes get the same files either way: writing herd's bytes back asks nothing of them (no reboot, no refresh).
  const impact = { class: 'none' as const, reason: "the same files: only the archive's bytes go back to herd's" };
  return { ...plan, actions: plan.actions.map((a) => (soft.has(a.path) ? { ...a, impact, drift: { ...a.drift!, kind: 'rebuilt', blocking: false } } : a)) };
}
