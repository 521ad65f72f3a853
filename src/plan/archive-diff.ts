// File-level changes inside an overlay archive (pure): which files change, by hash, and their text diffs from the bytes the target scan read.
// Hidden entries (secrets, files read on the head) never get a diff: their bytes are not even asked for.
import type { ContentEntry } from '../artifacts/artifact.ts';
import type { ArchiveChanges, ArchiveFileChange, ContentDiff } from './plan-types.ts';
import { diffableText, unifiedDiff } from './text-diff.ts';

/** Files inside an archive larger than this are compared by hash only: their text is not read for a diff. */
export const ARCHIVE_TEXT_MAX = 256 * 1024;

const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** 'secret' wins over 'head-file'; either side hidden hides the change. */
function hiddenOf(before: ContentEntry | null, after: ContentEntry | null): 'secret' | 'head-file' | undefined {
  const h = [before?.hidden, after?.hidden];
  return h.includes('secret') ? 'secret' : h.includes('head-file') ? 'head-file' : undefined;
}

function change(path: string, before: ContentEntry | null, after: ContentEntry | null): ArchiveFileChange {
  const hidden = hiddenOf(before, after);
  return { path, before, after, ...(hidden ? { hidden } : {}) };
}

/** The file-level changes of a content diff (hashes, modes, owners), without text yet; sorted by path. */
export function fileChangesOf(d: ContentDiff): ArchiveFileChange[] {
  return [...d.added.map((e) => change(e.path, null, e)), ...d.removed.map((e) => change(e.path, e, null)), ...d.changed.map((c) => change(c.path, c.before, c.after))].sort(byPath);
}

/** True when the bytes of a file changed (or it appears or goes) and it is a regular file on the planned side. */
const contentChanged = (c: ArchiveFileChange): boolean =>
  c.after?.type === 'file' && (c.before === null || c.before.type !== 'file' || c.before.sha256 !== c.after.sha256 || c.before.size !== c.after.size);

const small = (e: ContentEntry | null) => e === null || e.type !== 'file' || e.size <= ARCHIVE_TEXT_MAX;

/** Whether a text diff may be shown for this change: content changed, not hidden, a regular file within the read bound on both sides. */
export function wantsText(c: ArchiveFileChange): boolean {
  return contentChanged(c) && c.hidden === undefined && small(c.before) && small(c.after);
}

/** Paths whose bytes a reader should keep from the previous and the planned archive to diff `files`. */
export function textPaths(files: readonly ArchiveFileChange[]): { before: Set<string>; after: Set<string> } {
  const before = new Set<string>();
  const after = new Set<string>();
  for (const c of files) {
    if (!wantsText(c)) continue;
    after.add(c.path);
    if (c.before?.type === 'file') before.add(c.path);
  }
  return { before, after };
}

/**
 * Attach text diffs to `files` from the kept bytes of both archives. `read` false: the archives could not be read (or were not,
 * past the reading cap), so content changes say `not-read`. Removed files get no diff: the file is gone, its text would be all minus lines.
 */
export function withTextDiffs(files: readonly ArchiveFileChange[], before: ReadonlyMap<string, Uint8Array>, after: ReadonlyMap<string, Uint8Array>, read: boolean): ArchiveChanges {
  const out = files.map((c): ArchiveFileChange => {
    if (!contentChanged(c)) return c;
    if (c.hidden !== undefined) return { ...c, noDiff: 'hidden' };
    if (!small(c.before) || !small(c.after)) return { ...c, noDiff: 'too-large' };
    const b = c.before?.type === 'file' ? before.get(c.path) : new Uint8Array(0);
    const a = after.get(c.path);
    if (!read || a === undefined || b === undefined) return { ...c, noDiff: 'not-read' };
    if (diffableText(a) === undefined || diffableText(b) === undefined) return { ...c, noDiff: 'binary' };
    const diff = unifiedDiff(c.path, c.before?.type === 'file' ? b : undefined, a, ['previous', 'planned']);
    return diff ? { ...c, diff } : { ...c, noDiff: 'too-large' };
  });
  return { files: out, source: read ? 'archive' : 'index' };
}

const entryKey = (e: ContentEntry | null): string => (e === null ? '-' : `${e.type} ${e.mode} ${e.uid}:${e.gid} ${e.size} ${e.sha256 ?? ''}`);

/** Identity of a change set: equal keys mean the same paths with the same before and after hashes, modes and owners. */
export function changeKey(files: readonly ArchiveFileChange[]): string {
  let key = '';
  for (const c of files) key += `${c.path}\0${entryKey(c.before)}\0${entryKey(c.after)}\n`;
  return key;
}

/** "+3 -1" from a unified diff's body lines (headers excluded). */
export function lineCounts(diff: string): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const l of diff.split('\n')) {
    if (l.startsWith('+++') || l.startsWith('---')) continue;
    if (l.startsWith('+')) added++;
    else if (l.startsWith('-')) removed++;
  }
  return { added, removed };
}
