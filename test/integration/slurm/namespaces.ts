// Test-only I/O: network namespaces, sandboxed daemon processes and their guaranteed cleanup (impure; needs root).
// Every process runs as `setpriv --pdeathsig KILL nsenter --net=NS unshare --mount --uts --pid --kill-child=SIGKILL ...`:
// if this Node process dies, setpriv/unshare get SIGKILL, unshare's child (PID 1 of its PID namespace) gets SIGKILL,
// and the kernel kills everything else in that PID namespace (slurmstepd, job scripts). Nothing outlives the test.

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ipBatch, pidAlive, removeStaleNamespaces } from '../../../src/boottest/sandbox.ts';

export { ipBatch };

const execFileP = promisify(execFile);

/** Every namespace and temp dir this harness makes starts with `herdt-<pid>-s`, so a later run can find ours. */
const OWN_PREFIX = `herdt-${process.pid}-s`;
const STALE = /^herdt-(\d+)-s/;

const live = { wrappers: new Set<ChildProcess>(), namespaces: new Set<string>(), dirs: new Set<string>() };
let seq = 0;
let exitHookInstalled = false;
let staleCleaned = false;

/** A fresh number for naming one sandbox's namespaces and directory. */
export function nextSandboxId(): string {
  seq += 1;
  return `${OWN_PREFIX}${seq}`;
}

// 'exit' handlers must be synchronous; pdeathsig already kills the processes, this removes names and files.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const w of live.wrappers) w.kill('SIGKILL');
    for (const ns of live.namespaces) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    for (const d of live.dirs) rmSync(d, { recursive: true, force: true });
  });
}

/** Removes namespaces and temp dirs left by an earlier run of this harness whose process is gone (killed test runs). */
export async function cleanStaleSandboxes(): Promise<void> {
  installExitHook();
  if (staleCleaned) return;
  staleCleaned = true;
  await removeStaleNamespaces(STALE);
  for (const name of readdirSync(tmpdir())) {
    const m = STALE.exec(name);
    if (m && !pidAlive(Number(m[1]))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

/** A temp directory removed at teardown or process exit. munged insists that its socket's directories are 0755. */
export function makeSandboxDir(id: string): string {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), `${id}-`));
  execFileSync('chmod', ['0755', dir]);
  live.dirs.add(dir);
  return dir;
}

export function removeSandboxDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  live.dirs.delete(dir);
}

/** Creates a named network namespace with lo up; registered for cleanup. */
export async function addNamespace(name: string): Promise<void> {
  installExitHook();
  await execFileP('ip', ['netns', 'add', name]);
  live.namespaces.add(name);
  await ipBatch(['link set lo up'], name);
}

export async function deleteNamespace(name: string): Promise<void> {
  await execFileP('ip', ['netns', 'del', name]).catch(() => undefined);
  live.namespaces.delete(name);
}

/** How a sandboxed process sees the world. */
export interface SandboxProcessOptions {
  /** Named network namespace to join; without it the process gets a fresh, empty one. */
  readonly ns?: string;
  readonly hostname: string;
  /** Bind-mounted over /etc/hosts. */
  readonly hostsFile: string;
  /** Bind-mounted over /etc/resolv.conf (empty: the host's resolver is never asked). */
  readonly resolvFile: string;
  /** Give slurmd a private /sys/fs/cgroup holding an empty named v1 hierarchy at ./systemd (see below). */
  readonly cgroup?: boolean;
  readonly env: Readonly<Record<string, string>>;
  /** File descriptor for stdout and stderr, or 'pipe'. */
  readonly output: number | 'pipe';
  /** Working directory; jobs inherit the submitter's, so it must be inside the sandbox, never the repo. */
  readonly cwd: string;
  /**
   * Run `cmd` chrooted into this root filesystem (another Slurm release, e.g. Debian 13's 24.11), seeing the host's temp directory
   * (the sandbox: conf, munge socket, logs), hosts file, /dev, /sys and a fresh /proc at the same paths.
   */
  readonly root?: string;
}

// slurmd 22.05 initialises its cgroup plugin even with proctrack/linuxproc and refuses to start unless
// /sys/fs/cgroup/systemd is a cgroup mount; a private named hierarchy satisfies it without touching the host's cgroups.
// With a root, the same view is built inside it (all mounts vanish with the private mount namespace) and the command runs there,
// in the same working directory.
const WRAPPER_SCRIPT = `set -e
hosts=$1; resolv=$2; host=$3; cg=$4; root=$5; tmp=$6; shift 6
mount --bind "$hosts" /etc/hosts
if [ -e /etc/resolv.conf ]; then mount --bind "$resolv" /etc/resolv.conf; fi
hostname "$host"
if [ "$cg" = 1 ]; then
  mount -t tmpfs herdt-cgroup /sys/fs/cgroup
  mkdir /sys/fs/cgroup/systemd
  mount -t cgroup -o none,name=herdt cgroup /sys/fs/cgroup/systemd
fi
if [ -n "$root" ]; then
  mount --bind "$tmp" "$root$tmp"
  mount --bind "$hosts" "$root/etc/hosts"
  if [ -e "$root/etc/resolv.conf" ]; then mount --bind "$resolv" "$root/etc/resolv.conf"; fi
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  exec chroot "$root" sh -c 'cd "$0" && exec "$@"' "$PWD" "$@"
fi
exec "$@"`;

/** Starts `cmd` in its own mount, UTS and PID namespaces (and the given network namespace). */
export function spawnSandboxed(cmd: readonly string[], o: SandboxProcessOptions): ChildProcess {
  installExitHook();
  const netArgs = o.ns === undefined ? ['unshare', '--net'] : ['nsenter', `--net=/run/netns/${o.ns}`, 'unshare'];
  const args = [
    '--pdeathsig', 'KILL', ...netArgs,
    '--mount', '--uts', '--pid', '--kill-child=SIGKILL', '--mount-proc',
    'sh', '-c', WRAPPER_SCRIPT, 'herdt-wrap', o.hostsFile, o.resolvFile, o.hostname, o.cgroup ? '1' : '0', o.root ?? '', tmpdir(), ...cmd,
  ];
  const child = spawn('setpriv', args, {
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...o.env },
    stdio: ['ignore', o.output, o.output],
    cwd: o.cwd,
  });
  live.wrappers.add(child);
  child.on('exit', () => live.wrappers.delete(child));
  return child;
}

/**
 * Stopping a sandboxed process and waiting for it: herd boot-test's own mechanism (src/boottest/sandbox.ts). unshare does
 * not forward signals, so the daemon itself (unshare's child) gets SIGTERM, then SIGKILL after the grace period.
 */
export { stopProcess as stopSandboxed, waitExit } from '../../../src/boottest/sandbox.ts';
