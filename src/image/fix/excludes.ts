// What Warewulf 4.6 leaves out of an image archive, applied to the tree (async only to read etc/warewulf/excludes from a content ref; otherwise pure).
//
// Warewulf (util.FindFilterFiles @ v4.6.5) reads `<rootfs>/etc/warewulf/excludes` line by line (bufio.ScanLines:
// a trailing \r is dropped, nothing else is trimmed, there are no comments), strips leading and trailing `/` from
// each line, and while walking the tree drops every entry whose relative path matches a pattern with Go's
// filepath.Match, a directory with its whole subtree. Top-level entries that are not directories (the usr-merge
// symlinks `bin -> usr/bin`...) are taken without any check. The first pattern that matches wins. herd adds the
// spec's patterns after the image's, with the same rules.
//
// herd also always empties `proc`, `sys` and `dev` (Warewulf skips them only when something is mounted there during
// the build, through its one-file-system walk). The directories stay: the kernel-side mounts need them. Exception:
// `dev/console` and `dev/null`, when the image has them as character devices. The kernel opens /dev/console before it
// runs /init (console_on_rootfs), while wwinit only mounts devtmpfs on /dev afterwards; distro kernels carry a
// built-in initramfs with /dev/console, but keeping the image's own costs nothing and helps a kernel without one.
// `run` and `tmp` are left alone, as Warewulf does.
import { normalizePath, type FsTree, type Inode } from '../tree/fs-tree.ts';
import { checkGoPattern, goMatch } from './go-match.ts';
import { listSome, problem, type FixResult, type ImageProblem } from './report.ts';
import { readTreeText } from './tree-text.ts';

export const IMAGE_EXCLUDES_FILE = 'etc/warewulf/excludes';
/** Top-level directories herd always empties. */
export const EMPTIED_DIRS: readonly string[] = ['dev', 'proc', 'sys'];
/** Kept in dev/ when they are character devices. */
export const KEPT_DEVICES: readonly string[] = ['dev/console', 'dev/null'];

export interface ExcludeCount {
  /** The pattern as matched (slashes trimmed); for `always`, `dev/*` and the like. */
  readonly pattern: string;
  readonly source: 'image' | 'spec' | 'always';
  /** Names removed: the matching entries and everything below them. */
  readonly entries: number;
}

export interface ExcludesReport {
  readonly counts: readonly ExcludeCount[];
  /** Malformed patterns from the image's own file; Warewulf ignores them silently, so does the build. */
  readonly ignoredImagePatterns: readonly string[];
  /** dev entries kept (see KEPT_DEVICES). */
  readonly keptDevices: readonly string[];
}

export async function applyExcludes(tree: FsTree, specPatterns: readonly string[]): Promise<FixResult<ExcludesReport>> {
  const file = await readTreeText(tree, IMAGE_EXCLUDES_FILE);
  return excludeFromTree(tree, file === undefined ? [] : parseExcludesFile(file.text), specPatterns);
}

/** Lines as Go's bufio.ScanLines gives them: split on \n, one trailing \r dropped, no empty line after a final \n. */
export function parseExcludesFile(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/** strings.Trim(pattern, "/"). */
function trimSlashes(p: string): string {
  return p.replace(/^\/+|\/+$/g, '');
}

export function excludeFromTree(tree: FsTree, imagePatterns: readonly string[], specPatterns: readonly string[]): FixResult<ExcludesReport> {
  const problems: ImageProblem[] = [];
  const ignoredImagePatterns: string[] = [];
  const active: { pattern: string; source: 'image' | 'spec'; count: number }[] = [];
  for (const raw of imagePatterns) {
    const pattern = trimSlashes(raw);
    if (pattern === '') continue;
    if (checkGoPattern(pattern) !== undefined) ignoredImagePatterns.push(raw);
    else active.push({ pattern, source: 'image', count: 0 });
  }
  for (const raw of specPatterns) {
    const pattern = trimSlashes(raw);
    const bad = checkGoPattern(pattern);
    if (bad !== undefined) {
      problems.push(problem('image/bad-exclude', `exclude pattern ${JSON.stringify(raw)} is malformed (${bad}); Warewulf would silently ignore it`, 'use Go filepath.Match syntax: * and ? do not cross /, classes are [abc], [a-z] or [^abc], \\ escapes', 'exclude', raw));
    } else active.push({ pattern, source: 'spec', count: 0 });
  }

  const walk = (dir: Inode, prefix: string): void => {
    const children = dir.children as Map<string, Inode>;
    for (const [name, child] of [...children]) {
      const rel = prefix + name;
      const hit = active.find((a) => goMatch(a.pattern, rel));
      if (hit !== undefined) {
        hit.count += countNames(child);
        children.delete(name);
        continue;
      }
      if (child.type === 'directory') walk(child, `${rel}/`);
    }
  };
  for (const [name, child] of [...(tree.root.children as Map<string, Inode>)]) {
    // Top-level non-directories are added without pattern checks.
    if (child.type !== 'directory') continue;
    const hit = active.find((a) => goMatch(a.pattern, name));
    if (hit !== undefined) {
      hit.count += countNames(child);
      tree.root.children?.delete(name);
      continue;
    }
    walk(child, `${name}/`);
  }

  const always: ExcludeCount[] = [];
  const keptDevices: string[] = [];
  for (const name of EMPTIED_DIRS) {
    const dir = tree.root.children?.get(name);
    if (dir?.type !== 'directory' || dir.children === undefined) continue;
    let removed = 0;
    for (const [child, inode] of [...dir.children]) {
      const rel = `${name}/${child}`;
      if (KEPT_DEVICES.includes(rel) && inode.type === 'char') {
        keptDevices.push(rel);
        continue;
      }
      removed += countNames(inode);
      dir.children.delete(child);
    }
    always.push({ pattern: `${name}/*`, source: 'always', entries: removed });
  }

  const counts: ExcludeCount[] = [...active.map((a) => ({ pattern: a.pattern, source: a.source, entries: a.count })), ...always];
  return { report: { counts, ignoredImagePatterns, keptDevices }, problems };
}

/** Names in a subtree, the entry itself included. */
function countNames(inode: Inode): number {
  let n = 1;
  if (inode.children) for (const c of inode.children.values()) n += countNames(c);
  return n;
}

/** One line per pattern that removed something, for the build summary. */
export function describeExcludes(r: ExcludesReport): string[] {
  const lines = r.counts.filter((c) => c.entries > 0).map((c) => `excluded ${c.entries} entr${c.entries === 1 ? 'y' : 'ies'} by ${c.source} pattern /${normalizePath(c.pattern)}`);
  if (r.ignoredImagePatterns.length > 0) lines.push(`ignored malformed patterns in /${IMAGE_EXCLUDES_FILE}: ${listSome(r.ignoredImagePatterns.map((p) => JSON.stringify(p)))}`);
  return lines;
}
