// The target lock: one holder at a time, a clear message naming the holder, waiting, and takeover of a dead holder's lock only.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { herdFailureOf } from './target-helpers.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock, readLock } from '../../../src/state/lock.ts';
import { lockFileOf, stateDirOf } from '../../../src/state/paths.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'herd-lock-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function plantLock(info: Record<string, unknown>) {
  mkdirSync(stateDirOf(root), { recursive: true });
  writeFileSync(lockFileOf(root), JSON.stringify({ since: '2024-01-01T00:00:00.000Z', command: 'herd apply old', token: 'old', ...info }));
}

/** A pid that certainly belonged to a process and is now gone. */
const deadPid = () => spawnSync('true').pid!;

describe('acquireLock', () => {
  it('lets one holder in and names it to the next: pid, host, command, since', async () => {
    const first = await acquireLock(root, { command: 'herd apply clusters/lab', now: () => new Date('2024-05-06T07:08:09Z') });
    const f = await herdFailureOf(acquireLock(root, { command: 'herd plan' }));
    expect(f.rule).toBe('state/lock-held');
    expect(f.message).toContain(`pid ${process.pid} on ${hostname()}`);
    expect(f.message).toContain('"herd apply clusters/lab"');
    expect(f.message).toContain('since 2024-05-06T07:08:09.000Z');
    expect(f.hint).toContain('--lock-timeout');
    first.release();
    const second = await acquireLock(root, { command: 'herd plan' });
    expect(second.held()).toBe(true);
    second.release();
    expect(readLock(root)).toBeUndefined();
  });

  it('waits for a live holder when given a timeout', async () => {
    const first = await acquireLock(root, { command: 'one' });
    const waits: unknown[] = [];
    setTimeout(() => first.release(), 300);
    const second = await acquireLock(root, { command: 'two', timeoutMs: 5000, pollMs: 20, onWait: (h) => waits.push(h) });
    expect(waits).toHaveLength(1);
    expect(readLock(root)?.command).toBe('two');
    second.release();
  });

  it('takes over the lock of a dead process on this host, and reports it', async () => {
    const pid = deadPid();
    plantLock({ pid, host: hostname() });
    const lock = await acquireLock(root, { command: 'herd apply' });
    expect(lock.tookOver).toMatchObject({ pid, command: 'herd apply old' });
    expect(readLock(root)?.pid).toBe(process.pid);
    lock.release();
  });

  it('takes over when the pid was recycled (start time differs)', async () => {
    plantLock({ pid: process.pid, host: hostname(), pidStart: '1' });
    const lock = await acquireLock(root, { command: 'herd apply' });
    expect(lock.tookOver?.pidStart).toBe('1');
    lock.release();
  });

  it('never takes over a lock from another host', async () => {
    plantLock({ pid: deadPid(), host: 'other-head' });
    const f = await herdFailureOf(acquireLock(root, { command: 'herd apply' }));
    expect(f.message).toContain('on other-head');
    expect(f.hint).toContain('cannot tell whether a process on other-head is alive');
    expect(JSON.parse(readFileSync(lockFileOf(root), 'utf8')).host).toBe('other-head');
  });

  it('release leaves a lock that is no longer ours alone', async () => {
    const lock = await acquireLock(root, { command: 'a' });
    writeFileSync(lockFileOf(root), JSON.stringify({ pid: 1, host: 'x', command: 'someone', since: 's', token: 'theirs' }));
    expect(lock.held()).toBe(false);
    lock.release();
    expect(readLock(root)?.token).toBe('theirs');
  });
});
