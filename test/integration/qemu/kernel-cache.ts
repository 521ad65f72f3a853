// Test helper (impure: runs apt-get/dpkg, writes a cache dir): fetches Debian's current amd64 kernel package once and keeps it unpacked for QEMU boot tests.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export interface DebianKernel {
  /** bzImage to pass to `qemu -kernel`. */
  vmlinuz: string;
  /** Kernel release, e.g. `6.1.0-56-amd64` (the `lib/modules/<version>` directory name). */
  version: string;
  /** `<root>/lib/modules/<version>` with a busybox-generated modules.dep next to the .ko files. */
  modulesDir: string;
}

interface KernelPackage { name: string; version: string }

const STAMP = '.herd-kernel-complete';

function run(cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { code?: string; stderr?: string; status?: number };
    if (err.code === 'ENOENT') throw new Error(`${cmd} is not installed; QEMU boot tests need it`);
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${err.status ?? '?'}): ${err.stderr ?? String(e)}`);
  }
}

/** The concrete kernel package the `linux-image-amd64` metapackage points at, or undefined when apt has no lists yet. */
function resolveKernelPackage(): KernelPackage | undefined {
  let out: string;
  try {
    out = execFileSync('apt-cache', ['show', '--no-all-versions', 'linux-image-amd64'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw new Error('apt-cache is not available: QEMU boot tests fetch the kernel from Debian with apt');
    return undefined; // "No packages found" exits non-zero on an empty cache
  }
  const depends = /^Depends:\s*(.*)$/m.exec(out)?.[1] ?? '';
  // Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2) — the signed image package comes first on Debian 12/13.
  for (const alt of depends.split(/[,|]/)) {
    const m = /^\s*(linux-image-[^\s(]+)\s*(?:\(\s*=\s*([^)\s]+)\s*\))?/.exec(alt);
    if (m?.[1] && m[1] !== 'linux-image-amd64') return { name: m[1], version: m[2] ?? '' };
  }
  return undefined;
}

function findKernelPackage(): KernelPackage {
  const found = resolveKernelPackage();
  if (found) return found;
  // Only touch the network when the local lists cannot answer (fresh CI containers ship without them).
  run('apt-get', ['update']);
  const again = resolveKernelPackage();
  if (!again) throw new Error('apt-cache show linux-image-amd64 found no kernel package even after apt-get update (is an amd64 Debian main source configured?)');
  return again;
}

function readStamp(dir: string): (KernelPackage & { release: string }) | undefined {
  const p = join(dir, STAMP);
  if (!existsSync(p)) return undefined;
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as KernelPackage & { release: string };
  } catch {
    return undefined;
  }
}

function describe(dir: string, release: string): DebianKernel {
  return {
    vmlinuz: join(dir, 'boot', `vmlinuz-${release}`),
    version: release,
    modulesDir: join(dir, 'lib', 'modules', release),
  };
}

function completeKernels(cacheDir: string): { dir: string; stamp: KernelPackage & { release: string } }[] {
  if (!existsSync(cacheDir)) return [];
  return readdirSync(cacheDir)
    .filter((n) => n.startsWith('kernel-') && !n.includes('.tmp-'))
    .map((n) => ({ dir: join(cacheDir, n), stamp: readStamp(join(cacheDir, n)) }))
    .filter((k): k is { dir: string; stamp: KernelPackage & { release: string } } => k.stamp !== undefined);
}

/**
 * Debian 12 keeps modules in /lib/modules, Debian 13 in /usr/lib/modules; busybox depmod and our
 * callers only look at <root>/lib/modules, so bridge the merged-/usr layout with a symlink.
 */
function modulesRelease(root: string): string {
  if (!existsSync(join(root, 'lib', 'modules')) && existsSync(join(root, 'usr', 'lib', 'modules'))) {
    symlinkSync('usr/lib', join(root, 'lib'));
  }
  const releases = existsSync(join(root, 'lib', 'modules')) ? readdirSync(join(root, 'lib', 'modules')) : [];
  if (releases.length !== 1 || !releases[0]) throw new Error(`expected exactly one lib/modules/<release> in the kernel package, found: ${releases.join(', ') || 'none'}`);
  return releases[0];
}

/**
 * Downloads (once) the kernel package `linux-image-amd64` depends on, unpacks it with `dpkg -x` into
 * `cacheDir/kernel-<release>/` and generates modules.dep with `busybox depmod` (Debian's package ships
 * none; kmod's depmod is not needed). Later calls reuse the unpacked tree without any download.
 */
export async function ensureDebianKernel(cacheDir: string): Promise<DebianKernel> {
  mkdirSync(cacheDir, { recursive: true });
  const local = resolveKernelPackage();
  const cached = completeKernels(cacheDir);
  const hit = local
    ? cached.find((k) => k.stamp.name === local.name && k.stamp.version === local.version)
    : cached.length === 1 ? cached[0] : undefined; // no apt lists: an unambiguous cache beats a network round trip
  if (hit) return describe(hit.dir, hit.stamp.release);

  const pkg = local ?? findKernelPackage();
  const busybox = ensureBusybox();
  run('apt-get', ['download', pkg.version ? `${pkg.name}=${pkg.version}` : pkg.name], cacheDir);
  const deb = readdirSync(cacheDir).find((n) => n.startsWith(`${pkg.name}_`) && n.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${pkg.name} left no .deb in ${cacheDir}`);

  // Unpack beside the final name and rename, so an interrupted run never looks complete.
  const tmp = join(cacheDir, `kernel-${pkg.name}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  run('dpkg', ['-x', join(cacheDir, deb), tmp]);
  const release = modulesRelease(tmp);
  if (!existsSync(join(tmp, 'boot', `vmlinuz-${release}`))) throw new Error(`${deb} has no boot/vmlinuz-${release}`);
  run(busybox, ['depmod', '-b', tmp, release]);
  if (!existsSync(join(tmp, 'lib', 'modules', release, 'modules.dep'))) throw new Error('busybox depmod wrote no modules.dep');
  writeFileSync(join(tmp, STAMP), JSON.stringify({ ...pkg, release }) + '\n');

  const final = join(cacheDir, `kernel-${release}`);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  // Keep the cache to one unpacked kernel: old releases and the .deb (re-downloadable) are dead weight.
  for (const n of readdirSync(cacheDir)) {
    const p = join(cacheDir, n);
    if ((n.startsWith('kernel-') && p !== final) || n.endsWith('.deb')) rmSync(p, { recursive: true, force: true });
  }
  return describe(final, release);
}

/** True when the ELF file has no PT_INTERP program header, i.e. runs without a dynamic loader inside a bare rootfs. */
function isStaticElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return false; // 64-bit little-endian ELF only
    const phoff = Number(head.readBigUInt64LE(0x20));
    const phentsize = head.readUInt16LE(0x36);
    const phnum = head.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

/** Path of the statically linked busybox from Debian's busybox-static (a dynamic busybox cannot run in the tiny rootfs). */
export function ensureBusybox(): string {
  const path = '/bin/busybox';
  if (!existsSync(path)) throw new Error(`${path} is missing: QEMU boot tests need Debian's busybox-static (apt-get install busybox-static)`);
  if (!isStaticElf(path)) throw new Error(`${path} is dynamically linked: install busybox-static instead of busybox (apt-get install busybox-static)`);
  return path;
}
