// Crash safety and locking of herd apply, with real processes: SIGKILL at every file operation of an A→B apply, and two applies racing on one root.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { summarizePlan } from '../../src/plan/plan-types.ts';
import { acquireLock, readLock } from '../../src/state/lock.ts';
import { isTempName, lockFileOf, pendingFileOf, STATE_DIR } from '../../src/state/paths.ts';
import { versionSet, type Version } from '../unit/state/synthetic-artifacts.ts';
import { applyTo, bytesOf, planOf, snapshot } from '../unit/state/target-helpers.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = join(REPO, 'test/unit/state/apply-child.ts');

interface ChildRun {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  paused: boolean;
}

interface ChildHandle {
  readonly pid: number;
  /** Resolves when the child reports its test pause (it then waits forever unless killed); rejects if it exits first. */
  readonly paused: Promise<void>;
  readonly done: Promise<ChildRun>;
  /** Resolves once the child has printed `text` on stderr; rejects if it exits first. Tests synchronise on what a child says, never on time. */
  waitFor(text: string): Promise<void>;
  kill(): void;
}

const PAUSED = 'herd-test: paused after op';

/** Children not yet exited, so a failed test does not leave a paused or queued apply behind. */
const running = new Set<ChildProcess>();

/** Start `herd apply --yes` of `version` in a child process; with killOnPause, SIGKILL it as soon as it reports the pause. */
function startChild(version: Version, root: string, env: Record<string, string> = {}, extra: string[] = [], killOnPause = true): ChildHandle {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, version, root, ...extra], { cwd: REPO, env: { ...process.env, ...env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  let paused = false;
  let closed = false;
  const waiters = new Set<{ text: string; resolve: () => void; reject: (e: Error) => void }>();
  const waitFor = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (stderr.includes(text)) resolve();
      else if (closed) reject(new Error(`child ${child.pid} exited without printing "${text}"; its stderr:\n${stderr}`));
      else waiters.add({ text, resolve, reject });
    });
  child.stdout.on('data', (c) => (stdout += String(c)));
  child.stderr.on('data', (c) => {
    stderr += String(c);
    if (!paused && stderr.includes(PAUSED)) {
      paused = true;
      if (killOnPause) child.kill('SIGKILL');
    }
    for (const w of waiters) {
      if (stderr.includes(w.text)) {
        waiters.delete(w);
        w.resolve();
      }
    }
  });
  const done = new Promise<ChildRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      closed = true;
      running.delete(child);
      for (const w of waiters) w.reject(new Error(`child ${child.pid} exited (${signal ?? code}) without printing "${w.text}"; its stderr:\n${stderr}`));
      waiters.clear();
      resolve({ pid: child.pid!, code, signal, stdout, stderr, paused });
    });
  });
  const pausedP = waitFor(PAUSED);
  // Most runs never pause (or are not asked about it): a rejection nobody awaits is not an error.
  pausedP.catch(() => {});
  return { pid: child.pid!, paused: pausedP, done, waitFor, kill: () => child.kill('SIGKILL') };
}

const runChild = (version: Version, root: string, env: Record<string, string> = {}, extra: string[] = []) => startChild(version, root, env, extra).done;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** path → "sha256 mode" for each version, from the artifacts themselves (the oracle the disk is compared with). */
async function expected(version: Version): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for (const a of versionSet(version).artifacts) m.set(a.path, `${sha(await bytesOf(a))} ${a.mode.toString(8)}`);
  return m;
}

function onDisk(root: string, path: string): string | undefined {
  const abs = join(root, path);
  if (!existsSync(abs)) return undefined;
  return `${sha(readFileSync(abs))} ${(lstatSync(abs).mode & 0o7777).toString(8)}`;
}

let root: string;
beforeEach(() => {
  root = join(mkdtempSync(join(tmpdir(), 'herd-fault-')), 'root');
});
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  rmSync(join(root, '..'), { recursive: true, force: true });
});

describe('apply killed at every file operation', () => {
  it('leaves each file old or new, never torn; the next plan shows exactly what is left; a completing apply converges', async () => {
    const A = await expected('A');
    const B = await expected('B');
    const paths = [...new Set([...A.keys(), ...B.keys()])].sort();
    const killPoints: string[] = [];
    for (let n = 1; ; n++) {
      rmSync(root, { recursive: true, force: true });
      await applyTo(root, versionSet('A'), { fsync: false });
      const run = await runChild('B', root, { HERD_TEST_PAUSE_AFTER_OP: String(n) });
      if (!run.paused) {
        // The apply finished before reaching op n: every operation has been a kill point.
        expect(run.code, run.stderr).toBe(0);
        break;
      }
      expect(run.signal).toBe('SIGKILL');
      const where = run.stderr.match(/paused after op (\d+ \S+ ?\S*)/)![1]!;
      killPoints.push(where);

      // 1. Every artifact path holds A's bytes and mode or B's (absent counting as a version's value), never anything else.
      for (const p of paths) {
        const now = onDisk(root, p);
        expect([A.get(p), B.get(p)], `${p} after kill at ${where}`).toContain(now);
      }
      // 2. Nothing else appeared except herd's state files and its temp files, and no temp file sits at an artifact path.
      const stray = Object.entries(snapshot(root)).filter(([p, t]) => t.startsWith('file') && !A.has(p) && !B.has(p) && !p.startsWith(STATE_DIR + '/') && !isTempName(p.split('/').pop()!));
      expect(stray, `after kill at ${where}`).toEqual([]);

      // 3. The next plan takes over the dead child's lock and lists exactly the paths that still differ from B.
      const next = await planOf(root, versionSet('B'));
      expect(next.lock?.tookOver?.pid, `lock after kill at ${where}`).toBe(run.pid);
      const differ = paths.filter((p) => onDisk(root, p) !== B.get(p));
      const changes = next.plan.actions.filter((a) => a.action !== 'no-op');
      expect(changes.map((a) => a.path), `plan after kill at ${where}`).toEqual(differ);
      expect(next.plan.actions.some((a) => a.drift?.blocking || a.path.includes('.herd-tmp'))).toBe(false);
      if (existsSync(pendingFileOf(root))) expect(next.plan.interrupted?.pid).toBe(run.pid);
      // Going back to A is not mistaken for drift either: the journal vouches for B's bytes.
      const back = await planOf(root, versionSet('A'));
      expect(back.plan.actions.filter((a) => a.drift?.blocking).map((a) => a.path), `plan back to A after kill at ${where}`).toEqual([]);

      // 4. A completing apply converges: no changes, no temp files, no journal, no lock.
      await applyTo(root, versionSet('B'), { fsync: false });
      expect(summarizePlan((await planOf(root, versionSet('B'))).plan)).toMatchObject({ changesPresent: false, stateOnly: 0 });
      expect(Object.keys(snapshot(root)).filter((p) => isTempName(p.split('/').pop()!))).toEqual([]);
      expect(existsSync(pendingFileOf(root))).toBe(false);
      expect(existsSync(lockFileOf(root))).toBe(false);
      for (const p of paths) expect(onDisk(root, p)).toBe(B.get(p));
    }
    expect(killPoints.length).toBeGreaterThanOrEqual(20);
    // Kill points cover every phase: journal, mid-stream image chunks, staging, renames, deletes, directory syncs and the manifest.
    for (const kind of ['pending-written', 'chunk-written', 'staged', 'renamed', 'unlinked', 'dir-synced', 'manifest-written']) {
      expect(killPoints.some((k) => k.includes(kind)), kind).toBe(true);
    }
  });
});

describe('two applies on one root', () => {
  /** The order in which pids appear in the op log, collapsed: [p1, p2] means no interleaving. */
  const runsIn = (log: string) => log.trim().split('\n').map((l) => Number(l.split(' ')[0])).filter((p, i, all) => i === 0 || p !== all[i - 1]);
  const waitingFor = (pid: number) => `herd: waiting for the lock held by pid ${pid} on ${hostname()}`;

  it('never interleave when racing: the lock serialises them and the result is one version, whole', async () => {
    for (let round = 0; round < 3; round++) {
      rmSync(root, { recursive: true, force: true });
      const log = join(root, '..', `ops-${round}.log`);
      // This test holds the lock until both applies say they are queued behind it, so they surely contend for it the moment it is released.
      const gate = await acquireLock(root, { command: 'apply-fault test gate' });
      const x = startChild('A', root, { HERD_TEST_OP_LOG: log }, ['--lock-timeout', '60']);
      const y = startChild('B', root, { HERD_TEST_OP_LOG: log }, ['--lock-timeout', '60']);
      await Promise.all([x.waitFor(waitingFor(process.pid)), y.waitFor(waitingFor(process.pid))]);
      expect(existsSync(log)).toBe(false);
      gate.release();
      const [xr, yr] = await Promise.all([x.done, y.done]);
      expect([xr.code, yr.code], xr.stderr + yr.stderr).toEqual([0, 0]);
      const order = runsIn(readFileSync(log, 'utf8'));
      expect(order).toHaveLength(2);
      expect([...order].sort((a, b) => a - b)).toEqual([x.pid, y.pid].sort((a, b) => a - b));
      const last: Version = order[1] === x.pid ? 'A' : 'B';
      const want = await expected(last);
      for (const [p, v] of want) expect(onDisk(root, p)).toBe(v);
      expect(summarizePlan((await planOf(root, versionSet(last))).plan).changesPresent).toBe(false);
    }
  });

  it('makes the second wait for a holder it names, and with no timeout fail at once (exit 3) naming pid, host, command and since', async () => {
    const log = join(root, '..', 'ops.log');
    // The first apply stops, alive and holding the lock, after its first file operation.
    const first = startChild('A', root, { HERD_TEST_OP_LOG: log, HERD_TEST_PAUSE_AFTER_OP: '1' }, [], false);
    await first.paused;
    expect(readLock(root)?.pid).toBe(first.pid);
    expect(runsIn(readFileSync(log, 'utf8'))).toEqual([first.pid]);

    const refused = await runChild('B', root, { HERD_TEST_OP_LOG: log });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('state/lock-held');
    expect(refused.stderr).toMatch(new RegExp(`locked by pid ${first.pid} on ${hostname()} \\("herd apply [^"]+", since \\d{4}-\\d\\d-\\d\\dT`));

    const second = startChild('B', root, { HERD_TEST_OP_LOG: log }, ['--lock-timeout', '60']);
    await second.waitFor(waitingFor(first.pid));
    // Queued, it has touched nothing: the op log still holds the first apply's one operation.
    expect(runsIn(readFileSync(log, 'utf8'))).toEqual([first.pid]);
    first.kill();
    expect((await first.done).signal).toBe('SIGKILL');
    const y = await second.done;
    expect(y.code, y.stderr).toBe(0);
    expect(y.stderr).toContain(`took over a stale lock left by pid ${first.pid}`);
    expect(runsIn(readFileSync(log, 'utf8'))).toEqual([first.pid, second.pid]);
    for (const [p, v] of await expected('B')) expect(onDisk(root, p)).toBe(v);
    expect(existsSync(lockFileOf(root))).toBe(false);
  });
});
