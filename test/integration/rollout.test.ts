// Integration: herd rollout against real Slurm 22.05 (slurmctld, munged, one slurmd per node, each in its own network namespace). A node "reboots"
// by RebootProgram (run by its slurmd) and a restart of that slurmd with -b (rollout-harness.ts); Slurm alone decides states, BootTime and
// "reboot timed out". The order of events is read from slurmctld's own log and RebootProgram's record, never from timings.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfinedDir } from '../../src/fs/confined-dir.ts';
import { serializeRebootRecord } from '../../src/plan/state-manifest.ts';
import { awaitingReboot, recordNeeded } from '../../src/rollout/reboot-record.ts';
import { readStoredState } from '../../src/state/manifest-io.ts';
import { REBOOTS_REL, STATE_DIR } from '../../src/state/paths.ts';
import { runHerd } from '../fixtures/run-herd.ts';
import { pollUntil } from './slurm/harness.ts';
import { withRolloutCluster } from './slurm/rollout-harness.ts';
import { makeApplyCommand } from '../../src/cli/commands/apply.ts';
import { registerCommand } from '../../src/cli/main.ts';
import { fakeCompile, versionSet } from '../unit/state/synthetic-artifacts.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const LAB = join(REPO, 'clusters/lab');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'herd-rollout-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A target root whose state says `nodes` await a reboot since generation 5 (what an apply changing their image records). */
function targetAwaiting(name: string, nodes: string[]): string {
  const root = join(work, name);
  mkdirSync(join(root, STATE_DIR), { recursive: true });
  writeFileSync(join(root, REBOOTS_REL), serializeRebootRecord(recordNeeded(undefined, nodes, 5)));
  return root;
}

function awaiting(root: string): string[] {
  const dir = ConfinedDir.open(root, { what: 'target root' });
  try {
    return awaitingReboot(readStoredState(dir).reboots).map((a) => a.node);
  } finally {
    dir.close();
  }
}

/** Index of the first line of slurmctld's log matching `re` (-1 when absent). */
const lineOf = (log: string, re: RegExp) => log.split('\n').findIndex((l) => re.test(l));

describe('herd rollout through Slurm', () => {
  it('4 nodes in batches of 2: the second batch is asked for only after the first is back; all are recorded rebooted', async () => {
    const nodes = ['c1', 'c2', 'c3', 'c4'];
    const root = targetAwaiting('ok', nodes);
    await withRolloutCluster(nodes, { resumeTimeout: 60 }, async (c) => {
      const r = await runHerd(['rollout', LAB, '--root', root, '--batch', '2', '--timeout', '300', '--scontrol', c.scontrol, '--format', 'json'], work);
      const log = c.ctx.log('slurmctld');
      expect(r.code, `${r.stdout}\n${r.stderr}\n${log}`).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.result).toMatchObject({ status: 'done', generation: 5, back: expect.arrayContaining(nodes), failed: [], untouched: [] });
      expect(out.result.batches.map((b: { nodes: string }) => b.nodes)).toEqual(['c[1-2]', 'c[3-4]']);

      // slurmctld's own log: batch 1 queued, both of its nodes returned to service, and only then batch 2 queued.
      const q1 = lineOf(log, /reboot request queued for nodes c\[1-2\]/);
      const q2 = lineOf(log, /reboot request queued for nodes c\[3-4\]/);
      const back1 = lineOf(log, /node c1 returned to service/);
      const back2 = lineOf(log, /node c2 returned to service/);
      expect(q1, log).toBeGreaterThanOrEqual(0);
      expect(q2, log).toBeGreaterThan(Math.max(back1, back2));
      expect(Math.min(back1, back2), log).toBeGreaterThan(q1);
      // RebootProgram ran once per node, c1 and c2 before c3 and c4.
      const ran = c.rebootLog();
      expect(ran.length).toBe(4);
      expect(new Set(ran.slice(0, 2))).toEqual(new Set(['c1', 'c2']));
      expect(new Set(ran.slice(2))).toEqual(new Set(['c3', 'c4']));
      // Slurm agrees they are back in service.
      for (const line of (await c.showNodes()).values()) expect(line).toMatch(/ State=IDLE /);
    });
    expect(awaiting(root)).toEqual([]);
    const again = await runHerd(['rollout', LAB, '--root', root, '--dry-run'], work);
    expect(again).toMatchObject({ code: 0, stdout: 'No node is awaiting a reboot.\n' });
  });

  it('a node that never comes back stops the rollout: named with its Slurm state and reason, the next batch never asked, the rest still awaiting', async () => {
    const nodes = ['c1', 'c2', 'c3', 'c4', 'c5'];
    const root = targetAwaiting('fail', nodes);
    // ResumeTimeout: long enough for a busy CI machine to restart the returning nodes' slurmd, short enough that Slurm itself marks c3 DOWN soon.
    await withRolloutCluster(nodes, { neverReturn: ['c3'], resumeTimeout: 45 }, async (c) => {
      const r = await runHerd(['rollout', LAB, '--root', root, '--batch', '2', '--timeout', '600', '--scontrol', c.scontrol], work);
      const log = c.ctx.log('slurmctld');
      expect(r.code, `${r.stdout}\n${r.stderr}\n${log}`).toBe(1);
      expect(r.stdout).toContain('Rollout stopped at batch 2/3:');
      expect(r.stdout).toMatch(/^ {2}c3: Slurm has it DOWN; Slurm state DOWN, reason "herd generation 5 : reboot issued : reboot timed out \[.*\]"$/m);
      expect(r.stdout).toContain('Not asked to reboot: c5 (still awaiting a reboot).');
      // The third batch was never asked for: neither slurmctld nor RebootProgram ever saw c5.
      expect(lineOf(log, /reboot request queued for nodes c\[3-4\]/), log).toBeGreaterThanOrEqual(0);
      expect(log).not.toMatch(/reboot request queued for nodes .*c5/);
      expect(c.rebootLog()).not.toContain('c5');
      expect(new Set(c.rebootLog())).toEqual(new Set(['c1', 'c2', 'c3', 'c4']));
    });
    const left = awaiting(root);
    expect(left).toContain('c3');
    expect(left).toContain('c5');
    expect(left).not.toContain('c1');
    expect(left).not.toContain('c2');
  });

  it('Ctrl-C during a batch exits 130 and leaves the record consistent: unconfirmed and never-asked nodes still awaiting', async () => {
    const nodes = ['c1', 'c2', 'c3', 'c4'];
    const root = targetAwaiting('interrupt', nodes);
    // c2 never returns, so the rollout is still waiting on batch 1 whenever the signal lands.
    await withRolloutCluster(nodes, { neverReturn: ['c2'], resumeTimeout: 300 }, async (c) => {
      const child = spawn(process.execPath, [join(REPO, 'bin/herd.js'), 'rollout', LAB, '--root', root, '--batch', '2', '--scontrol', c.scontrol], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      // Batch 1 is recorded as requested (the rollout's own record, written once Slurm accepted the request).
      await pollUntil(() => readFileSync(join(root, REBOOTS_REL), 'utf8').includes('"requestedAt":"'), { timeoutMs: 120_000, what: 'batch 1 requested' });
      child.kill('SIGINT');
      expect(await exited, stderr).toBe(130);
      expect(stderr).toContain('herd rollout: interrupted (SIGINT); nodes already seen back are recorded');
      const dir = ConfinedDir.open(root, { what: 'target root' });
      try {
        const left = awaitingReboot(readStoredState(dir).reboots);
        const c2 = left.find((a) => a.node === 'c2');
        expect(c2?.requestedAt).toMatch(/^\d{4}-/);
        expect(left.filter((a) => a.node === 'c3' || a.node === 'c4')).toEqual([
          { node: 'c3', since: 5, requestedAt: null },
          { node: 'c4', since: 5, requestedAt: null },
        ]);
      } finally {
        dir.close();
      }
      expect(c.ctx.log('slurmctld')).not.toMatch(/reboot request queued for nodes c\[3-4\]/);
      expect(c.rebootLog()).not.toContain('c3');
    });
  });

  it('herd apply --reboot: the apply records the nodes whose image changed, then rolls exactly those out through Slurm', async () => {
    // The synthetic cluster's image serves c001-c005 (test/unit/state/synthetic-artifacts.ts); the Slurm cluster has the same nodes.
    const nodes = ['c001', 'c002', 'c003', 'c004', 'c005'];
    const scratch = join(work, 'apply-reboot');
    const root = join(scratch, 'root');
    mkdirSync(scratch, { recursive: true });
    registerCommand('apply', 'apply (synthetic)', async () => makeApplyCommand({ compile: fakeCompile(() => versionSet('A'), scratch), herdVersion: '9.9.9' }));
    try {
      await withRolloutCluster(nodes, {}, async (c) => {
        const r = await runHerd(['apply', scratch, '--root', root, '--yes', '--reboot', '--batch', '3', '--scontrol', c.scontrol], work);
        const log = c.ctx.log('slurmctld');
        expect(r.code, `${r.stdout}\n${r.stderr}\n${log}`).toBe(0);
        expect(r.stdout).toContain('Rollout done: c[001-005] rebooted and back (generation 0), in 2 batch(es).');
        expect(lineOf(log, /reboot request queued for nodes c\[004-005\]/)).toBeGreaterThan(lineOf(log, /node c003 returned to service/));
        expect([...c.rebootLog()].sort()).toEqual(nodes);
      });
    } finally {
      registerCommand('apply', 'apply', async () => (await import('../../src/cli/commands/apply.ts')).command);
    }
    expect(awaiting(root)).toEqual([]);
  });
});
