// Which kernel warewulfd serves for a node (pure over an injected directory listing): Warewulf 4.6.5's kernel.FromNode.
import { KERNEL_GLOBS } from '../image/fix/kernel.ts';
import { goMatch } from '../image/fix/go-match.ts';

/** Read-only view of an image's rootfs: names in a directory (symlinked directories followed), and whether a path is a file. */
export interface RootfsView {
  /** Entry names of the directory `rel` ('' for the rootfs itself); undefined when it is not a directory. */
  list(rel: string): readonly string[] | undefined;
  isFile(rel: string): boolean;
}

export interface FoundKernel {
  /** Path in the rootfs, relative (no leading slash). */
  readonly path: string;
  /** Warewulf's Kernel.Version(): the version parsed from the path, '' when none parses. */
  readonly version: string;
}

/** Warewulf's util.ParseVersion rendered the way hashicorp/go-version prints it: the last `\d+.\d+.\d+(-[\d.]+)?` in the path. */
export function parsedVersion(path: string): string {
  const matches = path.match(/\d+\.\d+\.\d+(-[\d.]+|)/g) ?? [];
  for (let i = matches.length - 1; i >= 0; i--) {
    const m = matches[i]!.replace(/\.$/, '');
    const dash = m.indexOf('-');
    const core = (dash < 0 ? m : m.slice(0, dash)).split('.').map((n) => String(Number(n))).join('.');
    if (dash < 0) return core;
    const pre = m.slice(dash + 1);
    // go-version refuses an empty or dot-separated-empty prerelease: try the earlier match then, as ParseVersion does.
    if (pre !== '' && pre.split('.').every((p) => p !== '')) return `${core}-${pre}`;
  }
  return '';
}

/** Go filepath.Glob of one pattern under the rootfs: each level listed in byte order, directories reached through symlinks. */
function glob(view: RootfsView, pattern: string): string[] {
  let found: string[] = [''];
  for (const part of pattern.split('/')) {
    const next: string[] = [];
    for (const dir of found) {
      const names = view.list(dir);
      if (!names) continue;
      for (const name of [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) if (goMatch(part, name)) next.push(dir === '' ? name : `${dir}/${name}`);
    }
    found = next;
  }
  return found;
}

/**
 * hashicorp/go-version's Compare for what parsedVersion yields: numeric segments first; then a version without prerelease is
 * newer than one with (6.1.0 > 6.1.0-57); prereleases compare part by part, numbers numerically and below words.
 */
export function compareGoVersions(a: string, b: string): number {
  const [ac, ap] = splitPre(a);
  const [bc, bp] = splitPre(b);
  for (let i = 0; i < Math.max(ac.length, bc.length); i++) {
    const d = (ac[i] ?? 0) - (bc[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (ap === bp) return 0;
  if (ap === '') return 1;
  if (bp === '') return -1;
  const x = ap.split('.');
  const y = bp.split('.');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === q) continue;
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Math.sign(Number(p) - Number(q));
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
}

function splitPre(v: string): [number[], string] {
  const dash = v.indexOf('-');
  const core = dash < 0 ? v : v.slice(0, dash);
  return [core.split('.').map(Number), dash < 0 ? '' : v.slice(dash + 1)];
}

const usable = (k: FoundKernel): boolean => !k.path.includes('+debug') && !k.path.includes('-rescue');

/** Every kernel Warewulf 4.6 finds in the rootfs, in its glob order (duplicates kept, as Warewulf keeps them). */
export function findKernels(view: RootfsView): FoundKernel[] {
  return KERNEL_GLOBS.flatMap((p) => glob(view, p)).map((path) => ({ path, version: parsedVersion(path) }));
}

/**
 * kernel.FromNode: with a version set, `/<version>` as a path in the rootfs when that is a file, else the first usable kernel whose
 * parsed version starts with it; without one, the newest usable kernel (an unparsable version sorts lowest).
 */
export function kernelForNode(view: RootfsView, wanted: string | undefined): FoundKernel | undefined {
  if (wanted) {
    const asPath = wanted.replace(/^\/+/, '');
    if (asPath !== '' && view.isFile(asPath)) return { path: asPath, version: parsedVersion(asPath) };
    return findKernels(view).find((k) => usable(k) && k.version.startsWith(wanted));
  }
  const all = findKernels(view).filter(usable);
  let best: FoundKernel | undefined;
  for (const k of all) {
    if (best === undefined) best = k;
    else if (k.version !== '' && (best.version === '' || compareGoVersions(k.version, best.version) > 0)) best = k;
  }
  return best;
}
