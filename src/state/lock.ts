// The target lock (I/O): one herd at a time per target root; the lock file names its holder, and a dead holder's lock is taken over.
// The lock is created by link(2) of a fully written temp file, which fails atomically if the lock exists, so no reader ever sees a half-written lock.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { herdFailure } from '../diagnostics/diagnostic.ts';
import { lockFileOf, stateDirOf } from './paths.ts';

export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly command: string;
  /** ISO time the lock was taken. */
  readonly since: string;
  /** Kernel start time of the holder (Linux /proc), so a recycled pid is not mistaken for the holder. */
  readonly pidStart?: string;
  readonly token: string;
}

export interface LockHandle {
  readonly info: LockInfo;
  /** Set when a stale lock of a dead process was taken over. */
  readonly tookOver?: LockInfo;
  /** True while the lock file still carries this handle's token. */
  held(): boolean;
  release(): void;
}

export interface LockOptions {
  /** Recorded in the lock so a blocked user sees who holds it, e.g. "herd apply clusters/lab". */
  readonly command: string;
  /** How long to wait for a live holder; 0 fails at once. */
  readonly timeoutMs?: number;
  readonly now?: () => Date;
  /** Called once when the lock is held by someone else and we start waiting. */
  readonly onWait?: (holder: LockInfo | undefined) => void;
  readonly pollMs?: number;
}

function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime), counted after the parenthesised command name, which may itself hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote `info` still runs; only answerable on the same host. */
export function holderAlive(info: LockInfo): boolean {
  if (info.host !== hostname()) return true;
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (info.pidStart !== undefined) {
    const start = procStart(info.pid);
    if (start !== undefined && start !== info.pidStart) return false;
  }
  return true;
}

export function readLock(root: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(lockFileOf(root), 'utf8')) as LockInfo;
    return typeof info.pid === 'number' && typeof info.token === 'string' ? info : undefined;
  } catch {
    return undefined;
  }
}

export function describeHolder(h: LockInfo | undefined): string {
  return h ? `pid ${h.pid} on ${h.host} ("${h.command}", since ${h.since})` : 'an unknown process (the lock file is unreadable)';
}

function writeTemp(path: string, text: string): void {
  const fd = openSync(path, 'wx', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** link(2) our fully written temp file to `path`; false when `path` already exists. */
function tryLink(temp: string, path: string): boolean {
  try {
    linkSync(temp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Remove a dead holder's lock, guarded by a second lock (`lock.takeover`) so two processes that both find it stale cannot remove each other's fresh lock.
 * Returns true when the stale lock is gone.
 */
function removeStale(root: string, stale: LockInfo, temp: string): boolean {
  const guard = `${lockFileOf(root)}.takeover`;
  if (!tryLink(temp, guard)) {
    let g: LockInfo | undefined;
    try {
      g = JSON.parse(readFileSync(guard, 'utf8')) as LockInfo;
    } catch {
      g = undefined;
    }
    // A taker that died mid-takeover leaves the guard; it is small and same-host, so the same liveness test applies.
    if (g && !holderAlive(g)) unlinkSync(guard);
    return false;
  }
  try {
    const current = readLock(root);
    if (current?.token !== stale.token) return false;
    unlinkSync(lockFileOf(root));
    return true;
  } finally {
    unlinkSync(guard);
  }
}

/**
 * Take the target's lock, creating the state directory if needed.
 * Fails with `state/lock-held` naming the holder (pid, host, command, since) when a live process holds it past `timeoutMs`;
 * a lock left by a dead process on this host is taken over and reported in `tookOver`.
 */
export async function acquireLock(root: string, options: LockOptions): Promise<LockHandle> {
  const now = options.now ?? (() => new Date());
  mkdirSync(stateDirOf(root), { recursive: true, mode: 0o755 });
  const pidStart = procStart(process.pid);
  const info: LockInfo = {
    pid: process.pid,
    host: hostname(),
    command: options.command,
    since: now().toISOString(),
    ...(pidStart !== undefined ? { pidStart } : {}),
    token: randomBytes(12).toString('hex'),
  };
  const lockFile = lockFileOf(root);
  const temp = `${lockFile}.${process.pid}.${info.token}`;
  writeTemp(temp, JSON.stringify(info) + '\n');
  const deadline = Date.now() + (options.timeoutMs ?? 0);
  let tookOver: LockInfo | undefined;
  let waited = false;
  try {
    for (;;) {
      if (tryLink(temp, lockFile)) break;
      const holder = readLock(root);
      if (holder && !holderAlive(holder)) {
        if (removeStale(root, holder, temp)) tookOver = holder;
        else await sleep(10);
        continue;
      }
      if (Date.now() >= deadline) {
        throw herdFailure(
          'state/lock-held',
          `the target ${root} is locked by ${describeHolder(holder)}`,
          holder && holder.host !== hostname()
            ? `wait for it to finish; herd cannot tell whether a process on ${holder.host} is alive, so if you are sure it is gone remove ${lockFile}`
            : holder
              ? 'wait for it to finish, or pass --lock-timeout <seconds> to wait'
              : `if no herd is running on this target, remove ${lockFile}`,
        );
      }
      if (!waited) options.onWait?.(holder);
      waited = true;
      await sleep(options.pollMs ?? 100);
    }
  } finally {
    unlinkSync(temp);
  }
  const held = () => readLock(root)?.token === info.token;
  return {
    info,
    ...(tookOver ? { tookOver } : {}),
    held,
    release() {
      if (held()) unlinkSync(lockFile);
    },
  };
}
