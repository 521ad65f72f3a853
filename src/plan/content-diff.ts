// Content diff of two archive indexes (pure): which files inside an image or overlay were added, removed or changed.
import type { ContentEntry } from '../artifacts/artifact.ts';
import type { ContentDiff } from './plan-types.ts';

const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

function sameEntry(a: ContentEntry, b: ContentEntry): boolean {
  return a.type === b.type && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.size === b.size && a.sha256 === b.sha256;
}

/** Compare by path; an entry whose type, mode, owner, size or hash differs is "changed". Output sorted by path. */
export function diffContents(before: readonly ContentEntry[], after: readonly ContentEntry[]): ContentDiff {
  const old = new Map(before.map((e) => [e.path, e]));
  const now = new Map(after.map((e) => [e.path, e]));
  const added: ContentEntry[] = [];
  const changed: { path: string; before: ContentEntry; after: ContentEntry }[] = [];
  for (const e of now.values()) {
    const o = old.get(e.path);
    if (!o) added.push(e);
    else if (!sameEntry(o, e)) changed.push({ path: e.path, before: o, after: e });
  }
  const removed = [...old.values()].filter((e) => !now.has(e.path));
  return { added: added.sort(byPath), removed: removed.sort(byPath), changed: changed.sort(byPath) };
}

export const isEmptyContentDiff = (d: ContentDiff): boolean => d.added.length === 0 && d.removed.length === 0 && d.changed.length === 0;
