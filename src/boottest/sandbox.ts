// The boot test's private world (I/O shell; needs root): one network namespace holding a bridge with the head's address
// and a tap per VM, daemons started inside it, and a scratch folder. Nothing gets an address outside the namespace, so no
// packet of the test can reach the host's own networks.
//
// Every process runs as `setpriv --pdeathsig KILL nsenter --net=<ns> [unshare --mount --uts --pid --kill-child ...] cmd`:
// if herd dies (even by SIGKILL) its children get SIGKILL, an unshare'd daemon's PID namespace dies with it, and the
// 'exit' hook deletes the namespace and the scratch folder. A later run removes what a killed run left (its PID is gone).
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { ConfinedDir } from '../fs/confined-dir.ts';

const execFileP = promisify(execFile);

/** Namespace and scratch names: `herdbt-<pid>-<n>`, so a later run can tell a killed run's leftovers from a live run's. */
export const SANDBOX_PREFIX = 'herdbt-';
const STALE = /^herdbt-(\d+)(?:-|$)/;

/** Whether a process of that PID exists (EPERM: it does, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes the network namespaces whose name matches `stale` with a dead PID in its first group (a killed run's), after
 * SIGKILLing whatever still runs in them; returns their names. Shared with the test harness's own namespaces.
 */
export async function removeStaleNamespaces(stale: RegExp): Promise<string[]> {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    // no namespaces at all
  }
  for (const name of names) {
    const m = stale.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    const { stdout } = await execFileP('ip', ['netns', 'pids', name]).catch(() => ({ stdout: '' }));
    for (const pid of stdout.split(/\s+/).filter((x) => /^\d+$/.test(x))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    await execFileP('ip', ['netns', 'del', name]).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

/** Removes namespaces and scratch folders of earlier boot tests whose process is gone (killed runs); returns their names. */
export async function removeStaleSandboxes(): Promise<string[]> {
  const removed = await removeStaleNamespaces(STALE);
  // Scratch folders of killed runs hold a copy of the munge key (0400 in a 0700 folder): removed through the temp folder's
  // descriptors, a link inside unlinked, never followed.
  const temp = ConfinedDir.open(tmpdir(), { what: 'temp folder' });
  try {
    for (const e of temp.readdir('') ?? []) {
      const m = STALE.exec(e.name);
      if (!m || !e.isDirectory() || pidAlive(Number(m[1]))) continue;
      try {
        temp.removeTree(e.name);
        removed.push(e.name);
      } catch {
        // another cleaner got there first, or it is not ours to remove
      }
    }
  } finally {
    temp.close();
  }
  return removed;
}

/** Runs `ip -batch` (inside `ns` when given); rejects with ip's own message and the commands. */
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

/** How a sandboxed daemon sees the host: its own hostname and /etc/hosts (slurmctld checks SlurmctldHost against it). */
export interface Identity {
  readonly hostname: string;
  /** Absolute path of the hosts file bind-mounted over /etc/hosts. */
  readonly hostsFile: string;
  /** Absolute path of the (empty) resolv.conf bind-mounted over /etc/resolv.conf: the host's resolver is never asked. */
  readonly resolvFile: string;
  /** A folder bind-mounted at /run/munge (on a private /run), where munge's clients look for its socket. */
  readonly mungeDir?: string;
}

const WRAPPER = `set -e
hosts=$1; resolv=$2; host=$3; munge=$4; shift 4
mount --bind "$hosts" /etc/hosts
if [ -e /etc/resolv.conf ]; then mount --bind "$resolv" /etc/resolv.conf; fi
if [ -n "$munge" ]; then
  mount -t tmpfs -o mode=0755 herd-run /run
  mkdir /run/munge
  mount --bind "$munge" /run/munge
fi
hostname "$host"
exec "$@"`;

export interface SpawnOptions {
  readonly identity?: Identity;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** 'pipe' to read stdout/stderr; a file descriptor to send both there. */
  readonly output: 'pipe' | number;
}

let sandboxes = 0;

export class Sandbox {
  readonly ns: string;
  readonly bridge = 'herdbr0';
  /** The scratch folder (0700), for daemons' configuration, logs and sockets. */
  readonly dir: ConfinedDir;
  readonly dirPath: string;
  private readonly children = new Set<ChildProcess>();
  private nsCreated = false;
  private closed = false;
  private readonly onExit = (): void => this.closeNow();

  private readonly temp: ConfinedDir;
  private readonly scratchName: string;

  private constructor(ns: string, temp: ConfinedDir, scratchName: string) {
    this.ns = ns;
    this.temp = temp;
    this.scratchName = scratchName;
    this.dirPath = temp.hostPath(scratchName);
    this.dir = ConfinedDir.open(this.dirPath, { what: 'boot-test scratch folder' });
    process.on('exit', this.onExit);
  }

  /** A fresh private (0700) scratch folder in the system temp folder; the namespace comes with `createNetwork`. */
  static create(): Sandbox {
    sandboxes += 1;
    const ns = `${SANDBOX_PREFIX}${process.pid}-${sandboxes}`;
    const temp = ConfinedDir.open(tmpdir(), { what: 'temp folder' });
    const name = temp.mkdtemp('', `${ns}-`);
    return new Sandbox(ns, temp, name);
  }

  /** Absolute path of a file in the scratch folder (for daemons' command lines). */
  path(rel: string): string {
    return this.dir.hostPath(rel);
  }

  /** Writes a new file in the scratch folder (never replacing one). */
  write(rel: string, body: string | Uint8Array, mode = 0o644): string {
    this.dir.writeNew(rel, body, mode);
    return this.path(rel);
  }

  /**
   * The namespace with lo up, a bridge holding `headCidr` (the head's address/prefix) and one tap per VM on it. The taps are
   * made in the namespace, so QEMU started inside it opens them by name.
   */
  async createNetwork(headCidr: string, taps: readonly string[]): Promise<void> {
    await execFileP('ip', ['netns', 'add', this.ns]);
    this.nsCreated = true;
    await ipBatch([
      'link set lo up',
      `link add ${this.bridge} type bridge`,
      // No STP and no forwarding delay: the VM's NIC must reach DHCP within iPXE's first tries.
      `link set ${this.bridge} type bridge stp_state 0 forward_delay 0`,
      `addr add ${headCidr} dev ${this.bridge}`,
      `link set ${this.bridge} up`,
      ...taps.flatMap((t) => [`tuntap add dev ${t} mode tap`, `link set ${t} master ${this.bridge}`, `link set ${t} up`]),
    ], this.ns);
  }

  /** Starts `cmd` inside the namespace (with its own mount/UTS/PID namespaces when `identity` is given). */
  spawn(cmd: readonly string[], o: SpawnOptions): ChildProcess {
    const inner = o.identity
      ? ['unshare', '--mount', '--uts', '--pid', '--kill-child=SIGKILL', '--mount-proc', 'sh', '-c', WRAPPER, 'herd-boot-test', o.identity.hostsFile, o.identity.resolvFile, o.identity.hostname, o.identity.mungeDir ?? '', ...cmd]
      : [...cmd];
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', 'nsenter', `--net=/run/netns/${this.ns}`, ...inner], {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...(o.env ?? {}) },
      stdio: ['ignore', o.output, o.output],
      cwd: o.cwd,
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    child.on('error', () => this.children.delete(child));
    return child;
  }

  /** Runs a short command in the namespace and collects its output (killed after `timeoutMs`). */
  async run(cmd: readonly string[], o: Omit<SpawnOptions, 'output'> & { timeoutMs: number }): Promise<{ code: number; stdout: string; stderr: string }> {
    const p = this.spawn(cmd, { ...o, output: 'pipe' });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number>((resolve) => {
      const t = setTimeout(() => stopProcess(p, 0), o.timeoutMs);
      p.on('close', (c) => {
        clearTimeout(t);
        resolve(c ?? -1);
      });
      p.on('error', (e) => {
        clearTimeout(t);
        stderr += e.message;
        resolve(-1);
      });
    });
    return { code, stdout, stderr };
  }

  /** Stops every process, deletes the namespace and removes the scratch folder unless `keep`. */
  async close(keep = false): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.children].map((c) => stopProcess(c, 1500)));
    if (this.nsCreated) await execFileP('ip', ['netns', 'del', this.ns]).catch(() => undefined);
    this.nsCreated = false;
    this.finish(keep);
  }

  /** Synchronous teardown for process exit (Ctrl-C, a crash): SIGKILL, namespace and folder removed. */
  private closeNow(): void {
    if (this.closed) return;
    for (const c of this.children) c.kill('SIGKILL');
    if (this.nsCreated) {
      try {
        execFileSync('ip', ['netns', 'del', this.ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    this.finish(false);
  }

  private finish(keep: boolean): void {
    this.closed = true;
    process.off('exit', this.onExit);
    this.dir.close();
    // Removed through the temp folder's descriptors: a symlink a daemon left inside is unlinked, never followed.
    if (!keep) this.temp.removeTree(this.scratchName);
    this.temp.close();
  }
}

const exited = (c: ChildProcess): boolean => c.exitCode !== null || c.signalCode !== null;

/** Resolves true once `c` has exited, false after `ms`. */
export function waitExit(c: ChildProcess, ms: number): Promise<boolean> {
  if (exited(c)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    c.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/**
 * Sends `signal` to what `c` runs: setpriv and nsenter exec, so `c` is the program itself, or unshare, which forwards no
 * signal, and whose children (the daemon, read from /proc) are signalled instead. Signalling unshare itself would make
 * its --kill-child SIGKILL the daemon before a SIGTERM could stop it cleanly.
 */
function signalProgram(c: ChildProcess, signal: NodeJS.Signals): void {
  let targets: number[] = [];
  try {
    targets = readFileSync(`/proc/${c.pid}/task/${c.pid}/children`, 'utf8').split(/\s+/).filter((x) => x !== '').map(Number);
  } catch {
    // gone already, or no /proc children file: signal the process itself
  }
  for (const pid of targets.length > 0 ? targets : [c.pid!]) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone meanwhile
    }
  }
}

/** Stops a sandboxed process: SIGTERM to its program, then SIGKILL after `graceMs` (at once when 0), then to `c` itself. */
export async function stopProcess(c: ChildProcess, graceMs: number): Promise<void> {
  if (exited(c) || c.pid === undefined) return;
  if (graceMs > 0) {
    signalProgram(c, 'SIGTERM');
    if (await waitExit(c, graceMs)) return;
  }
  signalProgram(c, 'SIGKILL');
  if (await waitExit(c, 2000)) return;
  c.kill('SIGKILL');
  await waitExit(c, 5000);
}
