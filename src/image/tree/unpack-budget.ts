// The bound on unpacking an image source (pure, apart from measuring the tree it is given): before an entry's data is read,
// what is unpacked so far is checked against what the image may take (ram-check.ts), so a decompression bomb stops at the
// limit, with the late check's message, instead of filling the cache first.
//
// Cheap where it can be, exact where it decides: every entry adds its cost (its name, its data in pages, the directories it
// implies) to a running sum that ignores what whiteouts, replacements and hard links give back. Only when that sum passes
// the limit plus a slack of 1/16 is the tree measured the way the late check measures the archive (each file once; the
// spec's excludes and the contents of dev, proc and sys left out, as the build leaves them out). Over the limit the source
// is refused; otherwise the measurement is the new base. A measurement follows at least a slack's worth of additions, so
// there are a few dozen per build at most. Not counted: the image's own etc/warewulf/excludes, which may not have been
// unpacked yet; a layer that only later shrinks below the limit is refused all the same (squash such an image).
//
// The decompressed bytes are bounded too, at WORK_FACTOR times the limit: rewriting one path over and over never grows
// the tree, but it is work all the same.
import { EMPTIED_DIRS, KEPT_DEVICES } from '../fix/excludes.ts';
import { checkGoPattern, goMatch } from '../fix/go-match.ts';
import { formatBytes, problem } from '../fix/report.ts';
import { ImageError } from '../source/image-error.ts';
import { ENTRY_OVERHEAD, pagesOf, type RamEstimate, type UnpackLimit } from '../verify/ram-check.ts';
import type { FsTree, Inode } from './fs-tree.ts';

export const WORK_FACTOR = 4;

/** An entry about to be added, and what it costs: itself (a name and, for a file, its pages) and the parents it creates. */
export interface EntryCost {
  /** Where it goes, symlinks of its parents resolved: `usr/share/doc/x`. */
  readonly path: string;
  readonly type: Inode['type'];
  /** File data; 0 for anything else (and for a further name of a hard-linked file). */
  readonly size: number;
  readonly createdDirs: number;
}

export class UnpackBudget {
  readonly limit: UnpackLimit;
  private readonly patterns: readonly string[];
  private readonly slack: number;
  private base = 0;
  private added = 0;
  private readonly decompressed = { layers: 0, archive: 0 };

  constructor(limit: UnpackLimit, specExcludes: readonly string[] = []) {
    this.limit = limit;
    this.patterns = specExcludes.map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p !== '' && checkGoPattern(p) === undefined);
    this.slack = Math.max(Math.floor(limit.bytes / 16), 1 << 20);
  }

  /** Most decompressed bytes a source may produce. */
  get workCap(): number {
    return WORK_FACTOR * this.limit.bytes;
  }

  /**
   * `n` more decompressed bytes from `where`; throws once they pass workCap. Layers and the members of a compressed archive
   * spilled before them are counted apart (the same bytes pass twice).
   */
  consumed(n: number, where: string, what: 'layers' | 'archive' = 'layers'): void {
    const total = (this.decompressed[what] += n);
    if (total <= this.workCap) return;
    const est: RamEstimate = { ramBytes: total / WORK_FACTOR, fileBytes: total, entries: 0 };
    const p = this.limit.problems(est, where)[0];
    const message = `${where}: the source unpacks to more than ${formatBytes(this.workCap)}, ${WORK_FACTOR} times the ${formatBytes(this.limit.bytes)} the image may take unpacked; herd stopped reading there`;
    throw refused([problem(p?.code ?? 'image/too-big-for-ram', message, 'shrink or squash the image (its layers rewrite the same files over and over)', 'size', p?.key)]);
  }

  /**
   * Before an entry is put at a path of `tree` (its implied parent directories already made): throws when the tree with it
   * would take more than the limit.
   */
  entry(tree: FsTree, cost: EntryCost, where: string): void {
    if (excludedPath(cost.path, cost.type, this.patterns)) return;
    const own = ENTRY_OVERHEAD + pagesOf(cost.size);
    this.added += own + ENTRY_OVERHEAD * cost.createdDirs;
    if (this.base + this.added <= this.limit.bytes + this.slack) return;
    const m = measureTree(tree, this.patterns);
    const est: RamEstimate = { ramBytes: m.ramBytes + own, fileBytes: m.fileBytes + cost.size, entries: m.entries + 1 };
    if (est.ramBytes > this.limit.bytes) throw refused(this.limit.problems(est, where));
    this.base = est.ramBytes;
    this.added = 0;
  }
}

function refused(problems: ReturnType<UnpackLimit['problems']>): ImageError {
  return new ImageError('too-big', problems.map((p) => p.message).join('; '), { ...(problems[0] ? { hint: problems[0].hint } : {}), problems });
}

/** Whether the build leaves `path` out: a spec exclude matches it or a parent, or it is inside dev, proc or sys. */
function excludedPath(path: string, type: Inode['type'], patterns: readonly string[]): boolean {
  // Most images have no spec excludes: then no path is split (one call per entry of a large walk).
  if (patterns.length > 0) {
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      // Top-level non-directories are taken without a check.
      if (i === 1 && parts.length === 1 && type !== 'directory') return false;
      const prefix = parts.slice(0, i).join('/');
      if (patterns.some((p) => goMatch(p, prefix))) return true;
    }
  }
  return insideEmptiedDir(path, type);
}

/** Inside dev, proc or sys (the kept device nodes aside). */
function insideEmptiedDir(path: string, type: Inode['type']): boolean {
  const slash = path.indexOf('/');
  return slash > 0 && EMPTIED_DIRS.includes(path.slice(0, slash)) && !(path.indexOf('/', slash + 1) < 0 && KEPT_DEVICES.includes(path) && type === 'char');
}

/** The RAM estimate of a tree as the build will pack it: spec excludes and the emptied kernel directories left out. */
export function measureTree(tree: FsTree, specExcludes: readonly string[]): RamEstimate {
  const files = new Set<Inode>();
  let entries = 0;
  let fileBytes = 0;
  let pageBytes = 0;
  const count = (inode: Inode): void => {
    entries++;
    if (inode.type !== 'file' || files.has(inode)) return;
    files.add(inode);
    fileBytes += inode.size;
    pageBytes += pagesOf(inode.size);
  };
  const excluded = (rel: string): boolean => specExcludes.some((p) => goMatch(p, rel));
  const stack: { dir: Inode; prefix: string }[] = [];
  for (const [name, child] of tree.root.children ?? []) {
    // As the build excludes: top-level non-directories are taken without a check, and dev, proc, sys are emptied.
    if (child.type !== 'directory') {
      count(child);
      continue;
    }
    if (excluded(name)) continue;
    count(child);
    if (EMPTIED_DIRS.includes(name)) {
      for (const [n, c] of child.children ?? []) if (KEPT_DEVICES.includes(`${name}/${n}`) && c.type === 'char') count(c);
      continue;
    }
    stack.push({ dir: child, prefix: `${name}/` });
  }
  while (stack.length > 0) {
    const { dir, prefix } = stack.pop() as (typeof stack)[number];
    for (const [name, child] of dir.children ?? []) {
      const rel = prefix + name;
      if (excluded(rel)) continue;
      count(child);
      if (child.type === 'directory') stack.push({ dir: child, prefix: `${rel}/` });
    }
  }
  return { ramBytes: pageBytes + entries * ENTRY_OVERHEAD, fileBytes, entries };
}
