// Test-only I/O: network namespaces, sandboxed daemon processes and their guaranteed cleanup (impure; needs root).
// Every process runs as `setpriv --pdeathsig KILL nsenter --net=NS unshare --mount --uts --pid --kill-child=SIGKILL ...`:
// if this Node process dies, setpriv/unshare get SIGKILL, unshare's child (PID 1 of its PID namespace) gets SIGKILL,
// and the kernel kills everything else in that PID namespace (slurmstepd, job scripts). Nothing outlives the test.

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

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

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces and temp dirs left by an earlier run of this harness whose process is gone (killed test runs). */
export async function cleanStaleSandboxes(): Promise<void> {
  installExitHook();
  if (staleCleaned) return;
  staleCleaned = true;
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    // no namespaces at all
  }
  for (const name of names) {
    const m = STALE.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    const { stdout } = await execFileP('ip', ['netns', 'pids', name]).catch(() => ({ stdout: '' }));
    for (const pid of stdout.split(/\s+/).filter((s) => /^\d+$/.test(s))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    await execFileP('ip', ['netns', 'del', name]).catch(() => undefined);
  }
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

/** Runs `ip` commands, one per line, with `ip -batch` (inside `ns` when given). Throws with ip's stderr. */
export async function ipBatch(commands: readonly string[], ns?: string): Promise<void> {
  const args = ns === undefined ? ['-batch', '-'] : ['-n', ns, '-batch', '-'];
  await new Promise<void>((resolve, reject) => {
    const p = spawn('ip', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ip ${args.join(' ')} failed (${code}): ${err.trim()}\n${commands.join('\n')}`))));
    p.stdin.end(commands.join('\n') + '\n');
  });
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
}

// slurmd 22.05 initialises its cgroup plugin even with proctrack/linuxproc and refuses to start unless
// /sys/fs/cgroup/systemd is a cgroup mount; a private named hierarchy satisfies it without touching the host's cgroups.
const WRAPPER_SCRIPT = `set -e
hosts=$1; resolv=$2; host=$3; cg=$4; shift 4
mount --bind "$hosts" /etc/hosts
if [ -e /etc/resolv.conf ]; then mount --bind "$resolv" /etc/resolv.conf; fi
hostname "$host"
if [ "$cg" = 1 ]; then
  mount -t tmpfs herdt-cgroup /sys/fs/cgroup
  mkdir /sys/fs/cgroup/systemd
  mount -t cgroup -o none,name=herdt cgroup /sys/fs/cgroup/systemd
fi
exec "$@"`;

/** Starts `cmd` in its own mount, UTS and PID namespaces (and the given network namespace). */
export function spawnSandboxed(cmd: readonly string[], o: SandboxProcessOptions): ChildProcess {
  installExitHook();
  const netArgs = o.ns === undefined ? ['unshare', '--net'] : ['nsenter', `--net=/run/netns/${o.ns}`, 'unshare'];
  const args = [
    '--pdeathsig', 'KILL', ...netArgs,
    '--mount', '--uts', '--pid', '--kill-child=SIGKILL', '--mount-proc',
    'sh', '-c', WRAPPER_SCRIPT, 'herdt-wrap', o.hostsFile, o.resolvFile, o.hostname, o.cgroup ? '1' : '0', ...cmd,
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

const exited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

export function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

function signalInner(child: ChildProcess, signal: NodeJS.Signals): boolean {
  let inner: number[] = [];
  try {
    inner = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').split(/\s+/).filter((s) => s !== '').map(Number);
  } catch {
    // wrapper already gone, or a kernel without /proc children: the caller falls back to killing the wrapper
  }
  for (const pid of inner) {
    try {
      process.kill(pid, signal);
    } catch {
      // exited meanwhile
    }
  }
  return inner.length > 0;
}

/**
 * Stops a sandboxed process. unshare does not forward signals, so the daemon itself (unshare's child, PID 1 of its
 * namespace) gets SIGTERM, then SIGKILL after `graceMs`; unshare then reaps it and exits. The wrapper is SIGKILLed
 * only as a last resort, because that would leave the daemon to be reaped by the host's init.
 */
export async function stopSandboxed(child: ChildProcess, graceMs: number): Promise<void> {
  if (exited(child) || child.pid === undefined) return;
  if (graceMs > 0 && signalInner(child, 'SIGTERM') && (await waitExit(child, graceMs))) return;
  if (signalInner(child, 'SIGKILL') && (await waitExit(child, 2000))) return;
  child.kill('SIGKILL');
  await waitExit(child, 5000);
}
