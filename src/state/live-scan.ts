// The live scan (I/O): stat and, only where needed, hash every target file a plan concerns, so drift is seen without reading 10,000 files.
//
// Fast path: a file whose size, mtime, ctime and inode all equal what herd recorded right after writing it is trusted to still hold the recorded hash.
// ctime cannot be set from user space, so an edit (even one that restores mtime with touch) or a replace (new inode) is always re-hashed.
// Racy case, as in git's index: a file changed within the same clock tick as herd's own write would keep an equal ctime, so any entry whose
// ctime is not strictly older than the manifest's own mtime is re-hashed too. What remains trusted is a file rewritten in place with the same
// size in the same tick as herd's write, before the manifest was written; that needs a concurrent writer during apply, which the lock excludes for herd.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, readSync, type BigIntStats } from 'node:fs';
import { sha256Hex, type ArtifactSet, type ContentEntry } from '../artifacts/artifact.ts';
import { herdFailure } from '../diagnostics/diagnostic.ts';
import { fileKind, isPathBlocked, type ConfinedDir } from '../fs/confined-dir.ts';
import { isArchive, isDiffable } from '../plan/plan-changes.ts';
import type { LiveFile, LiveState } from '../plan/plan-types.ts';
import { MAX_DIFF_BYTES } from '../plan/text-diff.ts';
import { readContentIndex, recordedStatOf, type StoredState } from './manifest-io.ts';
import { treeUnchanged } from './tree-write.ts';
import { splitAtMarker } from './managed-block.ts';
import { tempPathFor } from './paths.ts';

/** Files above this are hashed by streaming instead of one read. */
const STREAM_ABOVE = 16 * 1024 * 1024;

/** Hash (and, when `keep`, return the bytes of) the open regular file `fd`: streamed above STREAM_ABOVE, one read below. Closes `fd`. */
async function readOpen(fd: number, size: number, keep: boolean): Promise<{ sha: string; bytes?: Buffer }> {
  const hash = createHash('sha256');
  if (size > STREAM_ABOVE && !keep) {
    for await (const chunk of createReadStream('', { fd, highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
    return { sha: hash.digest('hex') };
  }
  try {
    const bytes = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, bytes, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    const got = off === size ? bytes : bytes.subarray(0, off);
    return { sha: hash.update(got).digest('hex'), bytes: got };
  } finally {
    closeSync(fd);
  }
}

type Looked = BigIntStats | null | { readonly blocked: string };

/** lstat through the confined root; a parent in the way (a symlink leaving the root, a file where a directory must be) is reported, not followed. */
function lookAt(dir: ConfinedDir | undefined, rel: string): Looked {
  if (!dir) return null;
  try {
    return dir.lstat(rel);
  } catch (e) {
    if (isPathBlocked(e)) return { blocked: e.message };
    throw herdFailure('state/unreadable', `cannot stat ${dir.hostPath(rel)}: ${(e as Error).message}`, 'check permissions on the target root');
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
export async function scanLive(dir: ConfinedDir | undefined, desired: ArtifactSet, stored: StoredState, stats?: ScanStats): Promise<LiveState> {
  const wanted = new Map(desired.artifacts.map((a) => [a.path, a]));
  const recorded = new Map((stored.manifest?.entries ?? []).map((e) => [e.path, e]));
  const journaled = Object.keys(stored.pending?.paths ?? {});
  const paths = new Set([...wanted.keys(), ...recorded.keys(), ...journaled]);
  const files = new Map<string, LiveFile>();
  const contentIndexes = new Map<string, readonly ContentEntry[]>();

  for (const path of paths) {
    const st = lookAt(dir, path);
    if (stats) stats.statted++;
    if (st === null) {
      files.set(path, { type: 'absent' });
      continue;
    }
    if ('blocked' in st) {
      files.set(path, { type: 'other', blocked: st.blocked });
      continue;
    }
    if (st.isDirectory() && (wanted.get(path)?.kind ?? recorded.get(path)?.kind) === 'tree') {
      files.set(path, liveTree(st, recorded.get(path)));
      continue;
    }
    if (!st.isFile()) {
      files.set(path, { type: 'other', blocked: `${dir!.hostPath(path)} is ${fileKind(st)}` });
      continue;
    }
    const stat = recordedStatOf(st);
    const m = recorded.get(path);
    const trusted =
      m !== undefined &&
      stored.manifestMtimeNs !== null &&
      st.ctimeNs < stored.manifestMtimeNs &&
      m.stat.size === stat.size &&
      m.stat.mtimeNs === stat.mtimeNs &&
      m.stat.ctimeNs === stat.ctimeNs &&
      m.stat.ino === stat.ino;
    const d = wanted.get(path);
    let sha: string;
    let bytes: Buffer | undefined;
    let block: 'found' | 'none' | undefined;
    if (trusted) {
      sha = m.sha256;
      if (d?.block) block = 'found';
    } else if (d?.block) {
      // Only the block below the marker is herd's: hash (and diff) that part; the site's lines above it are neither drift nor changes.
      if (stats) stats.hashed++;
      const o = openOrBlocked(dir!, path);
      if ('blocked' in o) {
        files.set(path, { type: 'other', blocked: o.blocked });
        continue;
      }
      const whole = (await readOpen(o.fd, Number(o.stat.size), true)).bytes!;
      const split = splitAtMarker(whole, d.block.marker);
      block = split ? 'found' : 'none';
      bytes = split ? split.block : whole;
      sha = sha256Hex(bytes);
    } else {
      if (stats) stats.hashed++;
      // Read through a descriptor opened without following symlinks; its own fstat decides, not the lstat above.
      const o = openOrBlocked(dir!, path);
      if ('blocked' in o) {
        files.set(path, { type: 'other', blocked: o.blocked });
        continue;
      }
      const r = await readOpen(o.fd, Number(o.stat.size), d !== undefined && isDiffable(d) && o.stat.size <= BigInt(MAX_DIFF_BYTES));
      sha = r.sha;
      bytes = r.bytes;
    }
    const keepBytes = d !== undefined && sha !== d.sha256 && isDiffable(d) && (bytes?.length ?? stat.size) <= MAX_DIFF_BYTES && block !== 'none';
    if (keepBytes && !bytes) {
      const o = openOrBlocked(dir!, path);
      if (!('blocked' in o)) {
        bytes = (await readOpen(o.fd, Number(o.stat.size), true)).bytes;
        if (bytes && d.block) bytes = splitAtMarker(bytes, d.block.marker)?.block;
      }
    }
    if (d && isArchive(d) && d.contents && sha !== d.sha256 && !contentIndexes.has(sha)) {
      const index = readContentIndex(dir!, sha);
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
      ...(block ? { block } : {}),
    });
  }

  const leftoverTempFiles = journaled.filter((p) => { const l = lookAt(dir, tempPathFor(p)); return l !== null && !('blocked' in l); }).map((p) => tempPathFor(p));
  return {
    files,
    contentIndexes,
    ...(stored.pending ? { pending: stored.pending } : {}),
    ...(leftoverTempFiles.length ? { leftoverTempFiles: leftoverTempFiles.sort() } : {}),
  };
}

/**
 * A tree artifact (an image's chroot) is judged by its top folder (treeUnchanged), not by walking tens of thousands of files on
 * every plan. A change deeper inside (`wwctl image exec` editing /etc) reaches nodes only through a rebuilt .img, which is
 * hashed and shows as drift.
 */
function liveTree(st: BigIntStats, m: { sha256: string; size: number; stat: { mtimeNs: string; ctimeNs: string; ino: string } } | undefined): LiveFile {
  const stat = recordedStatOf(st);
  const trusted = m !== undefined && treeUnchanged(m.stat, stat);
  return {
    type: 'file',
    // Not herd's recorded tree: a value no artifact hashes to, so the plan shows it as changed (drift when it was recorded).
    sha256: trusted ? m.sha256 : sha256Hex(`herd-tree-changed\0${stat.ino}\0${stat.mtimeNs}\0${stat.ctimeNs}`),
    size: trusted ? m.size : stat.size,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    stat,
    hashed: false,
  };
}

function openOrBlocked(dir: ConfinedDir, rel: string): { fd: number; stat: BigIntStats } | { blocked: string } {
  try {
    const o = dir.openRead(rel);
    return o ?? { blocked: `${dir.hostPath(rel)} disappeared while herd looked at it` };
  } catch (e) {
    if (isPathBlocked(e)) return { blocked: e.message };
    throw herdFailure('state/unreadable', `cannot read ${dir.hostPath(rel)}: ${(e as Error).message}`, 'check permissions on the target root');
  }
}
