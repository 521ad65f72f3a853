// Overlay groups and pending artifacts in words (pure): the lines text and markdown share; hidden files only ever as hashes.
import type { ContentEntry } from '../artifacts/artifact.ts';
import { lineCounts } from './archive-diff.ts';
import { stageLabel, type OverlayGroup } from './overlay-groups.ts';
import { octal } from './plan-json.ts';
import type { ArchiveFileChange } from './plan-types.ts';
import { describeChange, describeDrift, formatSize, secretLabel, shortHash } from './render-common.ts';

/** Files listed per group before "… and N more": a group's entry stays readable however large the change. */
export const MAX_FILES_SHOWN = 50;

/** A hidden file's hash as plans show it: `(secret sha256:…)` or `(head file sha256:…)`. */
export function hiddenLabel(kind: 'secret' | 'head-file', sha: string | undefined): string {
  if (sha === undefined) return kind === 'secret' ? '(secret)' : '(head file)';
  return kind === 'secret' ? secretLabel(sha) : `(head file ${shortHash(sha)})`;
}

const entryFacts = (e: ContentEntry) => `${e.type} ${octal(e.mode)} ${e.uid}:${e.gid}${e.type === 'file' ? ` ${formatSize(e.size)}` : ''}`;
const hashOf = (c: ArchiveFileChange, e: ContentEntry) => (e.sha256 === undefined ? 'no hash' : c.hidden ? hiddenLabel(c.hidden, e.sha256) : shortHash(e.sha256));
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const NO_DIFF: Record<NonNullable<ArchiveFileChange['noDiff']>, string> = {
  hidden: '',
  binary: 'binary',
  'too-large': 'too large to diff',
  'not-read': 'text not read',
};

/** "~ etc/hosts  +1 -0 lines  (overlay hosts)", "~ etc/munge/munge.key  (secret sha256:…) → (secret sha256:…)". */
export function fileChangeLine(c: ArchiveFileChange): string {
  const parts: string[] = [];
  const e = c.after ?? c.before!;
  if (c.before === null || c.after === null) {
    parts.push(entryFacts(e));
    if (c.hidden && e.sha256) parts.push(hiddenLabel(c.hidden, e.sha256));
    if (c.after === null) parts.push('removed');
  } else {
    const b = c.before;
    const a = c.after;
    if (b.type !== a.type) parts.push(`${b.type} → ${a.type}`);
    if (b.mode !== a.mode) parts.push(`mode ${octal(b.mode)} → ${octal(a.mode)}`);
    if (b.uid !== a.uid || b.gid !== a.gid) parts.push(`owner ${b.uid}:${b.gid} → ${a.uid}:${a.gid}`);
    if (b.sha256 !== a.sha256 && c.diff === undefined) parts.push(`${hashOf(c, b)} → ${hashOf(c, a)}`);
  }
  if (c.diff !== undefined) {
    const n = lineCounts(c.diff);
    parts.push(`+${n.added} -${n.removed} line${n.added + n.removed === 1 ? '' : 's'}`);
  }
  if (c.noDiff && NO_DIFF[c.noDiff]) parts.push(NO_DIFF[c.noDiff]);
  const origin = c.after?.origin ?? c.before?.origin;
  const sym = c.before === null ? '+' : c.after === null ? '-' : '~';
  return `${sym} ${c.path}  ${parts.join(', ')}${origin ? `  (overlay ${origin})` : ''}`;
}

/** "__RUNTIME__", or "__RUNTIME__ (.img.gz)" for a gzip twin changing on its own. */
export const overlayArchiveLabel = (g: OverlayGroup): string => `${stageLabel(g.stage)}${g.gzip ? ' (.img.gz)' : ''}`;

/** "__RUNTIME__ of c[1-1000]". */
export const overlayGroupTitle = (g: OverlayGroup): string => `${overlayArchiveLabel(g)} of ${g.hostlist}`;

/** The lines under a group's title: where, what changes as a whole, and a count of the files inside. */
export function overlayGroupFacts(g: OverlayGroup): string[] {
  const out: string[] = [];
  const first = g.archives[0]!;
  out.push(`${g.pathPattern}${g.twins.length > 0 ? ' and its .img.gz' : ''}${g.nodes.length > 1 ? ` (${plural(g.nodes.length, 'node')})` : ''}`);
  if (g.twinChange) out.push(`the .img.gz: ${g.twinChange}`);
  // Archive hashes differ from node to node: they are shown for a single node only.
  if (g.nodes.length === 1) {
    const d = describeChange(first);
    if (d) out.push(d);
  } else if (g.reasons.includes('mode') && first.before && first.after) out.push(`mode ${octal(first.before.mode)} → ${octal(first.after.mode)}`);
  if (first.drift) out.push(`! drift: ${describeDrift(first.drift, first.secret)}`);
  if (g.action === 'create' && g.overlays) out.push(`overlays: ${g.overlays.join(', ') || '(none)'}`);
  if (g.action === 'create' && g.nodes.length === 1 && first.contentEntries !== undefined) out.push(`contents: ${first.contentEntries} ${first.contentEntries === 1 ? 'entry' : 'entries'}`);
  const files = g.changes?.files;
  if (files) out.push(files.length === 0 ? 'no file inside changes (only the archive bytes)' : `${plural(files.length, 'file')} inside change${files.length === 1 ? 's' : ''}:`);
  else if (g.action === 'update' && g.reasons.includes('content')) out.push('contents: previous index not stored and the archive could not be read; only hashes can be compared');
  return out;
}

/** The file lines of a group, capped at MAX_FILES_SHOWN, each with its diff when there is one. */
export function overlayGroupFiles(g: OverlayGroup): { line: string; diff?: string }[] {
  const files = g.changes?.files ?? [];
  const shown = files.slice(0, MAX_FILES_SHOWN).map((c) => ({ line: fileChangeLine(c), ...(c.diff !== undefined ? { diff: c.diff } : {}) }));
  if (files.length > MAX_FILES_SHOWN) shown.push({ line: `… and ${files.length - MAX_FILES_SHOWN} more files` });
  return shown;
}
