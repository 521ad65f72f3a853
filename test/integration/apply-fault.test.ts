// Crash safety and locking of herd apply, with real processes: SIGKILL at every file operation of an A→B apply, and two applies racing on one root.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { summarizePlan } from '../../src/plan/plan-types.ts';
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
  /** Resolves when the child reports its test pause (it then waits forever unless killed). */
  readonly paused: Promise<void>;
  readonly done: Promise<ChildRun>;
  kill(): void;
}

/** Start `herd apply --yes` of `version` in a child process; with killOnPause, SIGKILL it as soon as it reports the pause. */
function startChild(version: Version, root: string, env: Record<string, string> = {}, extra: string[] = [], killOnPause = true): ChildHandle {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, version, root, ...extra], { cwd: REPO, env: { ...process.env, ...env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let paused = false;
  let onPause: () => void = () => {};
  const pausedP = new Promise<void>((r) => (onPause = r));
  child.stdout.on('data', (c) => (stdout += String(c)));
  child.stderr.on('data', (c) => {
    stderr += String(c);
    if (!paused && stderr.includes('herd-test: paused after op')) {
      paused = true;
      if (killOnPause) child.kill('SIGKILL');
      onPause();
    }
  });
  const done = new Promise<ChildRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ pid: child.pid!, code, signal, stdout, stderr, paused }));
  });
  return { pid: child.pid!, paused: pausedP, done, kill: () => child.kill('SIGKILL') };
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
afterEach(() => rmSync(join(root, '..'), { recursive: true, force: true }));

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

  it('never interleave when racing: the lock serialises them and the result is one version, whole', async () => {
    for (let round = 0; round < 3; round++) {
      rmSync(root, { recursive: true, force: true });
      const log = join(root, '..', `ops-${round}.log`);
      const env = { HERD_TEST_OP_LOG: log, HERD_TEST_OP_DELAY_MS: '2' };
      const [x, y] = await Promise.all([runChild('A', root, env, ['--lock-timeout', '60']), runChild('B', root, env, ['--lock-timeout', '60'])]);
      expect([x.code, y.code], x.stderr + y.stderr).toEqual([0, 0]);
      const order = runsIn(readFileSync(log, 'utf8'));
      expect(order).toHaveLength(2);
      const last: Version = order[1] === x.pid ? 'A' : 'B';
      const want = await expected(last);
      for (const [p, v] of want) expect(onDisk(root, p)).toBe(v);
      expect(summarizePlan((await planOf(root, versionSet(last))).plan).changesPresent).toBe(false);
    }
  });

  it('makes the second wait for a holder it names, and with no timeout fail at once (exit 3) naming pid, host, command and since', async () => {
    const log = join(root, '..', 'ops.log');
    const first = startChild('A', root, { HERD_TEST_OP_LOG: log, HERD_TEST_OP_DELAY_MS: '100' });
    // Start the second apply only once the first holds the lock and is writing.
    while (!existsSync(log)) await new Promise((r) => setTimeout(r, 5));
    const y = await runChild('B', root, { HERD_TEST_OP_LOG: log }, ['--lock-timeout', '60']);
    const x = await first.done;
    expect([x.code, y.code]).toEqual([0, 0]);
    expect(y.stderr).toContain(`herd: waiting for the lock held by pid ${x.pid} on ${hostname()}`);
    expect(runsIn(readFileSync(log, 'utf8'))).toEqual([x.pid, y.pid]);

    const holder = startChild('A', root, { HERD_TEST_PAUSE_AFTER_OP: '1' }, [], false);
    await holder.paused;
    const refused = await runChild('B', root);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('state/lock-held');
    expect(refused.stderr).toMatch(new RegExp(`locked by pid ${holder.pid} on ${hostname()} \\("herd apply [^"]+", since \\d{4}-\\d\\d-\\d\\dT`));
    holder.kill();
    await holder.done;
    const after = await runChild('B', root);
    expect(after.code).toBe(0);
    expect(after.stderr).toContain(`took over a stale lock left by pid ${holder.pid}`);
    for (const [p, v] of await expected('B')) expect(onDisk(root, p)).toBe(v);
  });
});
