// Checks of a BUILT image archive (its read-back index), not of the tree it came from: the seed lab's lesson (pure).
//
// What can go wrong between tree and archive (excludes, a packer bug, a pin applied to passwd but not to the files)
// only shows in the archive, so every check here reads the index of the archive as written.
//
// RAM estimate: without `root=` on the kernel command line (Warewulf's single-stage iPXE boot passes none) the kernel
// unpacks the initramfs into a tmpfs whose default size limit is half of RAM, and tmpfs charges whole 4 KiB pages.
// So: file data rounded up to pages (each hard-linked file once) + ENTRY_OVERHEAD bytes per entry for the inode and
// dentry every name costs in RAM (not charged to the tmpfs limit, so this errs on the safe side). Past the limit the
// kernel prints "Initramfs unpacking failed: write error" and drops the rest, overlays included.
// Not modelled: `root: tmpfs` nodes, whose wwinit copies the whole tree once more into a second tmpfs.
import { compressHostlist } from '../../spec/hostlist.ts';
import { accountEntries, accountId, idsByName, parseAccountDb, type AccountDb } from '../fix/accounts.ts';
import { findKernels, selectKernel } from '../fix/kernel.ts';
import type { Pins } from '../fix/pins.ts';
import { formatBytes, listSome, problem, type FixResult, type ImageProblem } from '../fix/report.ts';
import { lookup, normalizePath, resolvePath, walkTree, type FsTree, type Inode } from '../tree/fs-tree.ts';
import { archiveTree } from './archive-tree.ts';
import { builtWording, ENTRY_OVERHEAD, pagesOf, ramProblems } from './ram-check.ts';
import type { ArchiveEntry } from './read-cpio.ts';

export interface VerifyRequest {
  /** images.<name>.kernel.version, when set. */
  readonly kernelVersion?: string;
  readonly requires: readonly string[];
  /** The cluster mounts NFS: mount.nfs is required. */
  readonly nfs: boolean;
  /** Some node of the image is a Slurm node: slurmd and munged are required. */
  readonly slurm: boolean;
  /** NIC drivers of the image's nodes. */
  readonly drivers: readonly string[];
  readonly pins: Pins;
  readonly nodes: readonly { readonly name: string; readonly memoryMiB?: number }[];
  /** images.<name>.size, when declared: the plan-time memory check trusts it, so it must not be smaller than the real thing. */
  readonly declaredSizeMiB?: number;
}

export interface ArchiveIndexInput {
  readonly entries: readonly ArchiveEntry[];
  readonly files: ReadonlyMap<string, Uint8Array>;
}

export interface VerifyReport {
  readonly kernel?: { readonly path: string; readonly version: string };
  readonly entries: number;
  /** Sum of file sizes, each hard-linked file once. */
  readonly fileBytes: number;
  /** Estimated RAM the unpacked image takes (see the header). */
  readonly ramBytes: number;
  /** Program → where it was found (the PATH entry, before symlinks). */
  readonly programs: Readonly<Record<string, string>>;
  /** Driver → `builtin` or the module's path. */
  readonly drivers: Readonly<Record<string, string>>;
  /** Nodes without a memory size, whose fit could not be checked. */
  readonly uncheckedNodes: readonly string[];
}

export const PATH_DIRS: readonly string[] = ['usr/local/sbin', 'usr/local/bin', 'usr/sbin', 'usr/bin', 'sbin', 'bin'];
export { ENTRY_OVERHEAD, PAGE_SIZE } from './ram-check.ts';

const PROGRAM_HINTS: Readonly<Record<string, string>> = {
  'mount.nfs': 'install nfs-utils (EL) or nfs-common (Debian) in the image; without it NFS mounts fail with "mount program didn\'t pass remote address"',
  slurmd: 'install slurm-slurmd or ohpc-slurm-client (EL), or slurmd (Debian), in the image',
  munged: 'install munge in the image',
};

export function verifyImageArchive(index: ArchiveIndexInput, req: VerifyRequest): FixResult<VerifyReport> {
  const problems: ImageProblem[] = [];
  const { tree, unreachable } = archiveTree(index.entries);
  if (unreachable.length > 0) {
    problems.push(problem('image/archive-bad-entry', `${unreachable.length} entr${unreachable.length === 1 ? 'y' : 'ies'} of the built archive would not unpack at boot: ${listSome(unreachable.map((u) => `/${u.path} (${u.reason})`), 3)}`, 'this is a packer bug: every entry must follow its parent directory in the archive; report it with the image source'));
  }

  // Kernel, where Warewulf 4.6 looks for it.
  const sel = selectKernel(findKernels(tree), req.kernelVersion);
  for (const p of sel.problems) {
    problems.push(p.code === 'image/no-kernel' ? { ...p, message: `the built archive has ${p.message.replace(/^no kernel found/, 'no kernel')}`, hint: `${p.hint}; if the image's kernel is only in /boot, check that /boot is not excluded (etc/warewulf/excludes or images.*.exclude)` } : p);
  }
  const kernel = sel.report.kernel;

  // Programs.
  const programs: Record<string, string> = {};
  const wanted: { name: string; why?: string }[] = req.requires.map((name) => ({ name }));
  if (req.nfs) wanted.push({ name: 'mount.nfs', why: 'the cluster mounts NFS' });
  if (req.slurm) wanted.push({ name: 'slurmd', why: 'the image boots Slurm nodes' }, { name: 'munged', why: 'the image boots Slurm nodes' });
  const seenProgram = new Set<string>();
  for (const w of wanted) {
    if (seenProgram.has(w.name)) continue;
    seenProgram.add(w.name);
    const r = findProgram(tree, w.name);
    if (r.found !== undefined) {
      programs[w.name] = r.found;
      continue;
    }
    const base = w.name.slice(w.name.lastIndexOf('/') + 1);
    const hint = PROGRAM_HINTS[base] ?? `install the package that provides ${base} (EL: \`dnf provides '*/${base}'\`; Debian: \`apt-file search ${base}\`)`;
    const where = w.name.includes('/') ? `/${normalizePath(w.name)}` : `PATH (/${PATH_DIRS.join(', /')})`;
    const message =
      r.notExecutable.length > 0
        ? `${w.name} is in the built image (${r.notExecutable.map((p) => `/${p}`).join(', ')}) but not executable`
        : `${w.name} is not in the built image's ${where}${w.why ? `, and ${w.why}` : ''}`;
    problems.push(problem('image/missing-program', message, r.notExecutable.length > 0 ? `make it executable (mode 0755) in the image` : hint, req.requires.includes(w.name) ? 'requires' : undefined, w.name));
  }

  // NIC drivers.
  const drivers: Record<string, string> = {};
  const wantedDrivers = [...new Set(req.drivers)].sort();
  if (wantedDrivers.length > 0) {
    const modDirs = moduleDirs(tree, kernel?.version);
    for (const d of wantedDrivers) {
      const found = modDirs.map((m) => findDriver(index.files, m, d)).find((x) => x !== undefined);
      if (found !== undefined) {
        drivers[d] = found;
        continue;
      }
      const where = modDirs.length === 0 ? 'the built image has no lib/modules/<version>' : `it is neither built into the kernel (modules.builtin) nor a module under /${modDirs.map((m) => m.path).join(', /')}`;
      problems.push(problem('image/missing-driver', `NIC driver ${d} is missing: ${where}`, `install the kernel's module package in the image (EL: kernel-modules-core, kernel-modules or kernel-modules-extra; Debian: linux-image-*), or set driver to the module the NIC really uses (\`ethtool -i <nic>\` on a booted node)`, undefined, d));
    }
  }

  checkPinsInArchive(tree, index, req.pins, problems);

  // Size against RAM.
  const { fileBytes, ramBytes } = sizeOf(tree, index.entries.length);
  const uncheckedNodes = req.nodes.filter((n) => n.memoryMiB === undefined).map((n) => n.name);
  const est = { ramBytes, fileBytes, entries: index.entries.length };
  problems.push(...ramProblems(est, req, builtWording(est)));

  return {
    report: { ...(kernel ? { kernel: { path: kernel.path, version: kernel.version } } : {}), entries: index.entries.length, fileBytes, ramBytes, programs, drivers, uncheckedNodes },
    problems,
  };
}

/** The first PATH entry (or the given path) holding an executable regular file, symlinks followed inside the archive. */
export function findProgram(tree: FsTree, name: string): { found?: string; notExecutable: string[] } {
  const candidates = name.includes('/') ? [normalizePath(name)] : PATH_DIRS.map((d) => `${d}/${name}`);
  const notExecutable: string[] = [];
  for (const c of candidates) {
    const inode = lookup(tree, resolvePath(tree, c));
    if (inode?.type !== 'file') continue;
    if ((inode.mode & 0o111) !== 0) return { found: c, notExecutable };
    notExecutable.push(c);
  }
  return { notExecutable };
}

interface ModuleDir {
  /** Resolved path, e.g. usr/lib/modules/6.12.0-…. */
  readonly path: string;
  readonly inode: Inode;
}

/** The selected kernel's module directory, or every one when it has none (or no kernel was selected). */
function moduleDirs(tree: FsTree, version: string | undefined): ModuleDir[] {
  const base = resolvePath(tree, 'lib/modules');
  const dir = lookup(tree, base);
  if (dir?.type !== 'directory' || dir.children === undefined) return [];
  const all = [...dir.children].filter(([, i]) => i.type === 'directory').map(([n, i]) => ({ path: [...base, n].join('/'), inode: i, name: n }));
  const mine = all.filter((d) => d.name === version);
  return (mine.length > 0 ? mine : all).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(({ path, inode }) => ({ path, inode }));
}

const moduleName = (s: string): string => s.replace(/-/g, '_');
const MODULE_FILE = /^(.+)\.ko(?:\.(?:xz|zst|gz))?$/;

/** `builtin`, or the path of `<driver>.ko[.xz|.zst|.gz]` under the module directory; dashes and underscores are the same. */
function findDriver(files: ReadonlyMap<string, Uint8Array>, dir: ModuleDir, driver: string): string | undefined {
  const want = moduleName(driver);
  const builtin = files.get(`${dir.path}/modules.builtin`);
  if (builtin !== undefined) {
    for (const line of Buffer.from(builtin).toString('utf8').split('\n')) {
      const m = MODULE_FILE.exec(line.trim().slice(line.trim().lastIndexOf('/') + 1));
      if (m !== null && moduleName(m[1] as string) === want) return 'builtin';
    }
  }
  const stack: { prefix: string; inode: Inode }[] = [{ prefix: dir.path, inode: dir.inode }];
  const hits: string[] = [];
  while (stack.length > 0) {
    const { prefix, inode } = stack.pop() as { prefix: string; inode: Inode };
    for (const [name, child] of inode.children ?? []) {
      const path = `${prefix}/${name}`;
      if (child.type === 'directory') stack.push({ prefix: path, inode: child });
      else if (child.type === 'file') {
        const m = MODULE_FILE.exec(name);
        if (m !== null && moduleName(m[1] as string) === want) hits.push(path);
      }
    }
  }
  return hits.sort()[0];
}

function readDb(tree: FsTree, files: ReadonlyMap<string, Uint8Array>, kind: 'passwd' | 'group'): AccountDb | undefined {
  const data = files.get(resolvePath(tree, `etc/${kind}`).join('/'));
  return data === undefined ? undefined : parseAccountDb(kind, Buffer.from(data).toString('latin1'));
}

/**
 * Pins hold in the archive's passwd/group, and no path named after a pinned account (var/log/munge, etc/munge...)
 * is still owned by an ID that no account has any more: that is what a pin that forgot to re-own files leaves.
 */
function checkPinsInArchive(tree: FsTree, index: ArchiveIndexInput, pins: Pins, problems: ImageProblem[]): void {
  for (const [kind, table, section] of [['passwd', pins.users, 'users'], ['group', pins.groups, 'groups']] as const) {
    const names = Object.keys(table).sort();
    if (names.length === 0) continue;
    const db = readDb(tree, index.files, kind);
    const what = kind === 'passwd' ? 'user' : 'group';
    const idName = kind === 'passwd' ? 'UID' : 'GID';
    const ids = db === undefined ? new Map<string, number>() : idsByName(db);
    const known = new Set(db === undefined ? [] : accountEntries(db).map((f) => accountId(db, f)));
    for (const name of names) {
      const want = table[name] as number;
      const have = ids.get(name);
      if (have !== want) {
        problems.push(
          problem(
            'image/pin-not-applied',
            db === undefined ? `the built archive has no readable /etc/${kind}, so ${what} ${name} cannot be pinned to ${idName} ${want}` : have === undefined ? `${what} ${name} is not in the built archive's /etc/${kind} (pinned to ${idName} ${want})` : `${what} ${name} has ${idName} ${have} in the built archive, not the pinned ${want}`,
            'this is a herd bug if the pin step reported no problem: rebuild, and report it with the image source',
            'pins',
            `${section}.${name}`,
          ),
        );
        continue;
      }
      // Shallowest first: /var/log/munge says more than /var/lib/munge/a/b/c.
      const stale = index.entries
        .filter((e) => e.path.split('/').includes(name) && !known.has(kind === 'passwd' ? e.uid : e.gid))
        .sort((a, b) => a.path.split('/').length - b.path.split('/').length || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      if (stale.length > 0) {
        const ownerIds = [...new Set(stale.map((e) => (kind === 'passwd' ? e.uid : e.gid)))].sort((a, b) => a - b);
        problems.push(
          problem(
            'image/pin-not-applied',
            `${stale.length} path${stale.length === 1 ? '' : 's'} named after ${what} ${name} ${stale.length === 1 ? 'is' : 'are'} owned by ${idName} ${ownerIds.join(', ')}, which no account has in the built archive (${listSome(stale.map((e) => `/${e.path}`), 4)}); ${name} is ${want}`,
            `re-own them to ${name} (the pin step re-owns every file of the old ${idName}; a file owned by another stale ID was not ${name}'s in the source image)`,
            'pins',
            `${section}.${name}`,
          ),
        );
      }
    }
  }
}

function sizeOf(tree: FsTree, entries: number): { fileBytes: number; ramBytes: number } {
  let fileBytes = 0;
  let pageBytes = 0;
  for (const e of walkTree(tree)) {
    if (e.inode.type !== 'file' || e.hardlinkTo !== undefined) continue;
    fileBytes += e.inode.size;
    pageBytes += pagesOf(e.inode.size);
  }
  return { fileBytes, ramBytes: pageBytes + entries * ENTRY_OVERHEAD };
}

/** Summary lines of a verification. */
export function describeVerify(r: VerifyReport): string[] {
  const lines = [`verified the built archive: ${r.entries} entries, ${formatBytes(r.fileBytes)} of files, about ${formatBytes(r.ramBytes)} of RAM unpacked`];
  if (r.kernel) lines.push(`kernel in the archive: ${r.kernel.version} at /${r.kernel.path}`);
  const progs = Object.entries(r.programs).map(([n, p]) => `${n} (/${p})`);
  if (progs.length > 0) lines.push(`programs: ${progs.join(', ')}`);
  const drv = Object.entries(r.drivers).map(([n, p]) => `${n} (${p === 'builtin' ? 'built in' : `/${p}`})`);
  if (drv.length > 0) lines.push(`NIC drivers: ${drv.join(', ')}`);
  if (r.uncheckedNodes.length > 0) lines.push(`memory not checked for ${compressHostlist(r.uncheckedNodes)} (no memory given)`);
  return lines;
}
