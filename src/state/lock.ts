// The target lock (I/O): one herd at a time per target root; the lock file names its holder, and a dead holder's lock is taken over.
// The lock is created by link(2) of a fully written temp file, which fails atomically if the lock exists, so no reader ever sees a half-written lock.
import { randomBytes } from 'node:crypto';
// Every path goes through the target's ConfinedDir: a symlinked var/ or var/lib/herd never takes the lock (or its temp files) out of the root.
import { closeSync, fsyncSync, readFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { herdFailure } from '../diagnostics/diagnostic.ts';
import { ConfinedDir } from '../fs/confined-dir.ts';
import { LOCK_REL, STATE_DIR } from './paths.ts';

/** A target given as a path (tests, tools) is opened as a ConfinedDir; callers that hold one pass it. */
type Root = string | ConfinedDir;
const dirOf = (root: Root): ConfinedDir => (typeof root === 'string' ? ConfinedDir.open(root, { what: 'target root', create: true }) : root);

/** A lock file's text; undefined when absent, not a regular file, larger than any lock herd writes, or unreadable. */
function readSmall(dir: ConfinedDir, rel: string): string | undefined {
  try {
    return dir.readFile(rel, 65536)?.toString('utf8');
  } catch {
    return undefined;
  }
}

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

export function readLock(root: Root): LockInfo | undefined {
  const dir = dirOf(root);
  try {
    const text = readSmall(dir, LOCK_REL);
    if (text === undefined) return undefined;
    const info = JSON.parse(text) as LockInfo;
    return typeof info.pid === 'number' && typeof info.token === 'string' ? info : undefined;
  } catch {
    return undefined;
  } finally {
    if (dir !== root) dir.close();
  }
}

export function describeHolder(h: LockInfo | undefined): string {
  return h ? `pid ${h.pid} on ${h.host} ("${h.command}", since ${h.since})` : 'an unknown process (the lock file is unreadable)';
}

function writeTemp(dir: ConfinedDir, path: string, text: string): void {
  const fd = dir.createExclusive(path, 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (e) {
    dir.unlink(path);
    throw e;
  } finally {
    closeSync(fd);
  }
}

/** link(2) our fully written temp file to `path`; false when `path` already exists. */
function tryLink(dir: ConfinedDir, temp: string, path: string): boolean {
  try {
    dir.link(temp, path);
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
function removeStale(dir: ConfinedDir, stale: LockInfo, temp: string): boolean {
  const guard = `${LOCK_REL}.takeover`;
  if (!tryLink(dir, temp, guard)) {
    let g: LockInfo | undefined;
    try {
      g = JSON.parse(readSmall(dir, guard) ?? 'null') as LockInfo | undefined;
    } catch {
      g = undefined;
    }
    // A taker that died mid-takeover leaves the guard; it is small and same-host, so the same liveness test applies.
    if (g && !holderAlive(g)) dir.unlink(guard);
    return false;
  }
  try {
    const current = readLock(dir);
    if (current?.token !== stale.token) return false;
    dir.unlink(LOCK_REL);
    return true;
  } finally {
    dir.unlink(guard);
  }
}

/**
 * Take the target's lock, creating the state directory if needed.
 * Fails with `state/lock-held` naming the holder (pid, host, command, since) when a live process holds it past `timeoutMs`;
 * a lock left by a dead process on this host is taken over and reported in `tookOver`.
 */
export async function acquireLock(root: Root, options: LockOptions): Promise<LockHandle> {
  const now = options.now ?? (() => new Date());
  const dir = dirOf(root);
  const shown = dir.hostPath(LOCK_REL);
  try {
    dir.mkdirs(STATE_DIR);
  } catch (e) {
    if (dir !== root) dir.close();
    throw e;
  }
  const pidStart = procStart(process.pid);
  const info: LockInfo = {
    pid: process.pid,
    host: hostname(),
    command: options.command,
    since: now().toISOString(),
    ...(pidStart !== undefined ? { pidStart } : {}),
    token: randomBytes(12).toString('hex'),
  };
  const temp = `${LOCK_REL}.${process.pid}.${info.token}`;
  writeTemp(dir, temp, JSON.stringify(info) + '\n');
  const deadline = Date.now() + (options.timeoutMs ?? 0);
  let tookOver: LockInfo | undefined;
  let waited = false;
  try {
    for (;;) {
      if (tryLink(dir, temp, LOCK_REL)) break;
      const holder = readLock(dir);
      // The holder released between our link attempt and the read: try again rather than blame "an unknown process".
      if (holder === undefined && dir.lstat(LOCK_REL) === null) continue;
      if (holder && !holderAlive(holder)) {
        if (removeStale(dir, holder, temp)) tookOver = holder;
        else await sleep(10);
        continue;
      }
      if (Date.now() >= deadline) {
        throw herdFailure(
          'state/lock-held',
          `the target ${dir.real} is locked by ${describeHolder(holder)}`,
          holder && holder.host !== hostname()
            ? `wait for it to finish; herd cannot tell whether a process on ${holder.host} is alive, so if you are sure it is gone remove ${shown}`
            : holder
              ? 'wait for it to finish, or pass --lock-timeout <seconds> to wait'
              : `if no herd is running on this target, remove ${shown}`,
        );
      }
      if (!waited) options.onWait?.(holder);
      waited = true;
      await sleep(options.pollMs ?? 100);
    }
  } catch (e) {
    dir.unlink(temp);
    if (dir !== root) dir.close();
    throw e;
  }
  dir.unlink(temp);
  let released = false;
  const held = () => !released && readLock(dir)?.token === info.token;
  return {
    info,
    ...(tookOver ? { tookOver } : {}),
    held,
    release() {
      if (released) return;
      if (held()) dir.unlink(LOCK_REL);
      released = true;
      if (dir !== root) dir.close();
    },
  };
}
