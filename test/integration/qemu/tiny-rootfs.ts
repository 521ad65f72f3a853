// Test helper (impure: writes a directory tree): a few-MB bootable rootfs of busybox-static, Debian NIC modules and a marker-printing /init.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureBusybox, type DebianKernel } from './kernel-cache.ts';

export interface Account { name: string; uid: number; gid: number; home: string; shell: string }

export interface TinyRootfsOptions {
  kernel: DebianKernel;
  /** Module names as modprobe knows them (`e1000`, `virtio_net`, `virtio_pci`); their dependencies come along. */
  modules: string[];
  /** Contents of /init; defaults to {@link defaultInitScript} for `modules`. */
  initScript?: string;
  /** Also place the kernel at boot/vmlinuz-<ver> (the classic location) besides lib/modules/<ver>/vmlinuz. */
  kernelInBoot?: boolean;
  accounts?: Account[];
  /** Every entry gets this mtime (seconds) so two builds pack to the same bytes. */
  mtime?: number;
}

export interface TinyRootfs {
  dir: string;
  /** Module files copied, relative to lib/modules/<ver>, sorted. */
  moduleFiles: string[];
}

export const DEFAULT_ACCOUNTS: Account[] = [
  { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' },
  { name: 'munge', uid: 998, gid: 998, home: '/nonexistent', shell: '/sbin/nologin' },
  { name: 'slurm', uid: 64030, gid: 64030, home: '/nonexistent', shell: '/sbin/nologin' },
];

/** Marker lines the default /init prints; tests parse these from the serial console. */
export const BOOT_OK_RE = /HERD-BOOT-OK (\S+) (\d+)/;
export const BOOT_END = 'HERD-BOOT-END';

/**
 * /init that proves the image's own init ran and reports what the overlays delivered:
 * `HERD-BOOT-OK <hostname or -> <files in /etc/herd-marker.d>`, the marker names, the loaded
 * modules and `ip link`, then powers off so QEMU exits by itself.
 */
export function defaultInitScript(modules: string[]): string {
  return `#!/bin/sh
# herd tiny rootfs: report what the image and overlays provided, then power off.
export PATH=/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec >/dev/console 2>&1
for m in ${modules.join(' ')}; do
  modprobe "$m" || echo "HERD-MODPROBE-FAILED $m"
done
host=
[ -f /etc/hostname ] && read -r host < /etc/hostname
[ -n "$host" ] || host=-
set -- $(ls /etc/herd-marker.d 2>/dev/null)
echo "HERD-BOOT-OK $host $#"
echo "HERD-MARKERS $*"
echo "HERD-MODULES $(cut -d' ' -f1 /proc/modules | sort | tr '\\n' ' ')"
ip link
echo ${BOOT_END}
poweroff -f
`;
}

interface DepEntry { path: string; deps: string[] }

/** `e1000` / `virtio-net` / `kernel/.../virtio_net.ko` → the name modprobe matches on. */
function moduleName(pathOrName: string): string {
  const base = pathOrName.slice(pathOrName.lastIndexOf('/') + 1).replace(/\.ko(\.(xz|gz|zst))?$/, '');
  return base.replace(/-/g, '_');
}

function readModulesDep(modulesDir: string): Map<string, DepEntry> {
  const map = new Map<string, DepEntry>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
    map.set(moduleName(path), { path, deps });
  }
  return map;
}

/** The requested modules plus everything modules.dep says they need, as paths relative to the modules dir. */
function moduleClosure(depMap: Map<string, DepEntry>, wanted: string[]): DepEntry[] {
  const byPath = new Map<string, DepEntry>();
  for (const e of depMap.values()) byPath.set(e.path, e);
  const out = new Map<string, DepEntry>();
  const visit = (e: DepEntry): void => {
    if (out.has(e.path)) return;
    out.set(e.path, e);
    for (const d of e.deps) {
      const dep = byPath.get(d);
      if (!dep) throw new Error(`modules.dep names ${d} as a dependency but has no entry for it`);
      visit(dep);
    }
  };
  for (const w of wanted) {
    const e = depMap.get(moduleName(w));
    if (!e) throw new Error(`module ${w} is not in the kernel package (built in, or misspelt?)`);
    visit(e);
  }
  return [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Applet paths as busybox itself would install them, folded onto bin/ and sbin/ (the image has no /usr). */
function appletLinks(busybox: string): Map<string, string> {
  const links = new Map<string, string>();
  const list = execFileSync(busybox, ['--list-full'], { encoding: 'utf8' });
  for (const full of list.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const name = full.slice(full.lastIndexOf('/') + 1);
    if (name === 'busybox' || name === 'linuxrc') continue;
    const dir = /(^|\/)sbin\//.test(full) ? 'sbin' : 'bin';
    links.set(`${dir}/${name}`, dir === 'bin' ? 'busybox' : '../bin/busybox');
  }
  return links;
}

function writeFile(root: string, rel: string, data: string | Buffer, mode: number): void {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, data);
  chmodSync(p, mode);
}

function touchTree(root: string, mtime: number): void {
  const walk = (p: string): void => {
    if (lstatSync(p).isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    lutimesSync(p, mtime, mtime);
  };
  walk(root);
}

/** Writes the rootfs into `dir` (created if needed, expected empty). */
export function buildTinyRootfs(dir: string, opts: TinyRootfsOptions): TinyRootfs {
  const busybox = ensureBusybox();
  const { kernel } = opts;
  const modRel = join('lib', 'modules', kernel.version);
  mkdirSync(dir, { recursive: true });
  for (const d of ['bin', 'sbin', 'dev', 'etc', 'proc', 'sys', 'run', 'tmp', 'root', modRel]) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  chmodSync(join(dir, 'root'), 0o700);

  copyFileSync(busybox, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const [link, target] of appletLinks(busybox)) symlinkSync(target, join(dir, link));

  const closure = moduleClosure(readModulesDep(kernel.modulesDir), opts.modules);
  for (const m of closure) {
    if (!m.path.endsWith('.ko')) throw new Error(`${m.path} is compressed; busybox modprobe in the tiny rootfs loads plain .ko only`);
    writeFile(dir, join(modRel, m.path), readFileSync(join(kernel.modulesDir, m.path)), 0o644);
  }
  // A modules.dep (and alias subset) restricted to what was copied, so busybox modprobe resolves names and load order.
  const copied = new Set(closure.map((m) => moduleName(m.path)));
  writeFile(dir, join(modRel, 'modules.dep'), closure.map((m) => `${m.path}: ${m.deps.join(' ')}`.trimEnd() + '\n').join(''), 0o644);
  const aliasFile = join(kernel.modulesDir, 'modules.alias');
  const aliases = existsSync(aliasFile)
    ? readFileSync(aliasFile, 'utf8').split('\n').filter((l) => { const w = l.split(/\s+/); return w[0] === 'alias' && w[2] !== undefined && copied.has(moduleName(w[2])); })
    : [];
  writeFile(dir, join(modRel, 'modules.alias'), aliases.map((l) => l + '\n').join(''), 0o644);

  // EL10 and Fedora ship the kernel beside its modules; herd's kernel finder must look there.
  const vmlinuz = readFileSync(kernel.vmlinuz);
  writeFile(dir, join(modRel, 'vmlinuz'), vmlinuz, 0o755);
  if (opts.kernelInBoot) writeFile(dir, join('boot', `vmlinuz-${kernel.version}`), vmlinuz, 0o644);

  const accounts = opts.accounts ?? DEFAULT_ACCOUNTS;
  writeFile(dir, 'etc/passwd', accounts.map((a) => `${a.name}:x:${a.uid}:${a.gid}:${a.name}:${a.home}:${a.shell}\n`).join(''), 0o644);
  writeFile(dir, 'etc/group', accounts.map((a) => `${a.name}:x:${a.gid}:\n`).join(''), 0o644);
  writeFile(dir, 'init', opts.initScript ?? defaultInitScript(opts.modules), 0o755);

  touchTree(dir, opts.mtime ?? 1_700_000_000);
  return { dir, moduleFiles: closure.map((m) => m.path) };
}
