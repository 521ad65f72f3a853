// Finding, choosing and placing the kernel of an image the way Warewulf 4.6 finds it (pure).
//
// Warewulf 4.6 (internal/pkg/kernel/kernel.go, unchanged v4.6.0…v4.6.5) globs these paths inside the image, in this
// order, and by default serves the highest version that is neither `+debug` nor `-rescue`. EL10 installs the kernel
// only as /usr/lib/modules/<uname -r>/vmlinuz (the /boot copy is made by a kernel-install plugin that does not run in
// a container build), which the fourth glob finds through the usr-merge symlink lib → usr/lib.
import { compareNames, lookup, resolvePath, setInode, IMPLICIT_DIR, type FsTree, type Inode } from '../tree/fs-tree.ts';
import { goMatch } from './go-match.ts';
import { problem, type FixResult, type ImageProblem } from './report.ts';

export const KERNEL_GLOBS: readonly string[] = ['boot/Image-*', 'boot/vmlinuz-linux*', 'boot/vmlinuz-*', 'lib/modules/*/vmlinuz', 'lib/modules/*/vmlinuz.gz'];

export interface KernelCandidate {
  /** Path as Warewulf's glob yields it, relative, e.g. `lib/modules/6.12.0-211.22.1.el10_2.x86_64/vmlinuz`. */
  readonly path: string;
  /** The same after following symlinks, e.g. `usr/lib/modules/…/vmlinuz`. */
  readonly resolved: string;
  /** Kernel release as `uname -r` prints it, from the path: `6.12.0-211.22.1.el10_2.x86_64`, `6.1.0-18-amd64`. */
  readonly version: string;
  /** What Warewulf 4.6 parses from the path (regex \d+\.\d+\.\d+(-[\d.]+)?), e.g. `6.12.0-211.22.1`; what its kernel.version prefix-matches. */
  readonly wwVersion?: string;
  /** The regular file (symlinks followed). */
  readonly inode: Inode;
}

/** Every bootable kernel Warewulf 4.6 would see in the tree, in its glob order; debug and rescue kernels left out. */
export function findKernels(tree: FsTree): KernelCandidate[] {
  const out: KernelCandidate[] = [];
  const seen = new Set<string>();
  for (const pattern of KERNEL_GLOBS) {
    for (const path of globTree(tree, pattern)) {
      // vmlinuz-linux* is also vmlinuz-*: Warewulf lists such a file twice; once is enough.
      if (seen.has(path) || path.includes('+debug') || path.includes('-rescue')) continue;
      seen.add(path);
      const resolvedParts = resolvePath(tree, path);
      const inode = lookup(tree, resolvedParts);
      if (inode?.type !== 'file') continue;
      const version = unameFromPath(path);
      const ww = warewulfVersion(path);
      out.push({ path, resolved: resolvedParts.join('/'), version, ...(ww !== undefined ? { wwVersion: ww } : {}), inode });
    }
  }
  return out;
}

/**
 * Go filepath.Glob over the tree: each directory level is listed in byte order and matched with filepath.Match;
 * directories on the way are reached through symlinks (Glob stats them), the final names are not followed.
 */
export function globTree(tree: FsTree, pattern: string): string[] {
  let found: string[][] = [[]];
  for (const part of pattern.split('/')) {
    const next: string[][] = [];
    for (const prefix of found) {
      const dir = lookup(tree, resolvePath(tree, prefix));
      if (dir?.type !== 'directory' || dir.children === undefined) continue;
      const names = [...dir.children.keys()].sort(compareNames);
      for (const name of names) if (goMatch(part, name)) next.push([...prefix, name]);
    }
    found = next;
  }
  return found.map((p) => p.join('/'));
}

function unameFromPath(path: string): string {
  const m = /^lib\/modules\/([^/]+)\/vmlinuz(?:\.gz)?$/.exec(path) ?? /^boot\/(?:vmlinuz|Image)-(.+)$/.exec(path);
  return m?.[1] ?? path;
}

/** Warewulf's util.ParseVersion: the last regex match in the path that is a valid version, trailing dot dropped. */
function warewulfVersion(path: string): string | undefined {
  const matches = path.match(/\d+\.\d+\.\d+(-[\d.]+|)/g) ?? [];
  const last = matches[matches.length - 1];
  if (last === undefined) return undefined;
  const trimmed = last.endsWith('.') ? last.slice(0, -1) : last;
  const dash = trimmed.indexOf('-');
  const core = (dash < 0 ? trimmed : trimmed.slice(0, dash)).split('.').map((n) => String(Number(n))).join('.');
  return dash < 0 ? core : `${core}${trimmed.slice(dash)}`;
}

/**
 * Order of kernel releases, rpmvercmp-style: runs of digits compare as numbers, runs of letters as text, separators
 * only separate, a number beats letters, and the longer of two otherwise equal versions is newer.
 */
export function compareKernelVersions(a: string, b: string): number {
  const x = a.match(/\d+|[A-Za-z]+/g) ?? [];
  const y = b.match(/\d+|[A-Za-z]+/g) ?? [];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i] as string;
    const q = y[i] as string;
    const pn = /^\d/.test(p);
    const qn = /^\d/.test(q);
    if (pn !== qn) return pn ? 1 : -1;
    if (pn) {
      const pd = p.replace(/^0+(?=\d)/, '');
      const qd = q.replace(/^0+(?=\d)/, '');
      if (pd.length !== qd.length) return pd.length - qd.length;
      if (pd !== qd) return pd < qd ? -1 : 1;
    } else if (p !== q) return p < q ? -1 : 1;
  }
  return x.length - y.length;
}

export type KernelChoice = 'path' | 'version' | 'prefix' | 'only' | 'newest';

export interface KernelSelection {
  readonly kernel?: KernelCandidate;
  readonly choice?: KernelChoice;
}

/**
 * The kernel to boot: `wanted` as a path in the image (what Warewulf tries first), as an exact `uname -r`, or as a
 * prefix of it or of Warewulf's parsed version (the newest if several match); without `wanted`, the only or the newest.
 */
export function selectKernel(found: readonly KernelCandidate[], wanted?: string): FixResult<KernelSelection> {
  const listing = found.map((k) => `${k.version} (/${k.path})`);
  if (found.length === 0) {
    return {
      report: {},
      problems: [
        problem(
          'image/no-kernel',
          `no kernel found where Warewulf 4.6 looks (/${KERNEL_GLOBS.join(', /')}, debug and rescue kernels aside)`,
          'install the kernel package in the image, e.g. `dnf install kernel` (EL) or `apt install linux-image-amd64` (Debian)',
          'kernel',
        ),
      ],
    };
  }
  if (wanted !== undefined && wanted !== '') {
    const asPath = resolvePathString(wanted);
    const byPath = found.find((k) => k.path === asPath || k.resolved === asPath);
    if (byPath) return { report: { kernel: byPath, choice: 'path' }, problems: [] };
    const exact = found.find((k) => k.version === wanted);
    if (exact) return { report: { kernel: exact, choice: 'version' }, problems: [] };
    const prefixed = found.filter((k) => k.version.startsWith(wanted) || (k.wwVersion?.startsWith(wanted) ?? false));
    if (prefixed.length > 0) return { report: { kernel: newest(prefixed), choice: 'prefix' }, problems: [] };
    return {
      report: {},
      problems: [
        problem(
          'image/kernel-version',
          `kernel version ${wanted} is not in the image; it has ${listing.join(', ')}`,
          `set kernel.version to one of those (the full \`uname -r\` or a prefix of it), or install kernel ${wanted} in the image`,
          'kernel',
          'version',
        ),
      ],
    };
  }
  if (new Set(found.map((k) => k.version)).size === 1) return { report: { kernel: found[0] as KernelCandidate, choice: 'only' }, problems: [] };
  return { report: { kernel: newest(found), choice: 'newest' }, problems: [] };
}

function resolvePathString(p: string): string {
  return p.split('/').filter((s) => s !== '' && s !== '.').join('/');
}

/** Newest by version; on a tie (the same kernel in /boot and in /lib/modules) the first in glob order. */
function newest(ks: readonly KernelCandidate[]): KernelCandidate {
  let best = ks[0] as KernelCandidate;
  for (const k of ks.slice(1)) if (compareKernelVersions(k.version, best.version) > 0) best = k;
  return best;
}

export interface KernelPlacement {
  /** Where the kernel is in /boot now. */
  readonly path: string;
  readonly action: 'added' | 'replaced' | 'already-present' | 'failed';
  readonly from: string;
}

/**
 * Put the kernel at boot/vmlinuz-<uname -r> too (`kernel.copy_to_boot`, for tools that look only in /boot), as a hard link:
 * the same inode at a second path, so the archive stores its bytes once (newc carries the data with the last name of a
 * link group; the kernel's initramfs unpacker links the others). As a copy it was about a third of a compressed image.
 * A kernel already under boot/ stays as it is.
 */
export function placeKernelInBoot(tree: FsTree, kernel: KernelCandidate): FixResult<KernelPlacement> {
  if (kernel.path.startsWith('boot/')) return { report: { path: kernel.path, action: 'already-present', from: kernel.path }, problems: [] };
  const name = `vmlinuz-${kernel.version}${kernel.path.endsWith('.gz') ? '.gz' : ''}`;
  const boot = resolvePath(tree, 'boot');
  const target = [...boot, name];
  const path = target.join('/');
  const src = kernel.inode;
  const existing = lookup(tree, target);
  if (existing?.type === 'file' && existing.size === src.size && sameContent(existing, src)) {
    return { report: { path, action: 'already-present', from: kernel.path }, problems: [] };
  }
  const problems: ImageProblem[] = [];
  try {
    setInode(tree, target, src, IMPLICIT_DIR);
  } catch (e) {
    problems.push(problem('image/kernel-copy', `cannot place the kernel at /${path}: ${(e as Error).message}`, 'make /boot a directory in the image, or set kernel.copy_to_boot: false', 'kernel', 'copy_to_boot'));
    return { report: { path, action: 'failed', from: kernel.path }, problems };
  }
  return { report: { path, action: existing === undefined ? 'added' : 'replaced', from: kernel.path }, problems };
}

function sameContent(a: Inode, b: Inode): boolean {
  const x = a.content;
  const y = b.content;
  if (x === y) return true;
  if (x === undefined || y === undefined) return false;
  if (x.kind === 'range' && y.kind === 'range') return x.path === y.path && x.offset === y.offset && x.size === y.size;
  if (x.kind === 'host' && y.kind === 'host') return x.sha256 !== undefined && x.sha256 === y.sha256;
  return x.kind === 'bytes' && y.kind === 'bytes' && Buffer.compare(x.data, y.data) === 0;
}

/** Summary lines for the chosen kernel and its /boot copy. */
export function describeKernel(sel: KernelSelection, placed?: KernelPlacement): string[] {
  const lines: string[] = [];
  if (sel.kernel) lines.push(`kernel ${sel.kernel.version} at /${sel.kernel.path} (${sel.choice ?? 'only'})`);
  if (placed && placed.action !== 'already-present' && placed.action !== 'failed') lines.push(`${placed.action} /${placed.path} (copy of /${placed.from})`);
  return lines;
}
