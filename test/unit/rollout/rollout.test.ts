// The rollout loop: batching, asking for each batch only once the one before is back, stopping at the first failed node, and what it records.
// Slurm is stood in for by a script of `scontrol show node -o` answers here; the namespace cluster test (test/integration/rollout.test.ts)
// runs the same loop against the real slurmctld.
import { describe, expect, it } from 'vitest';
import { batchesOf, rebootArgs, runRollout, type RolloutEvent, type Scontrol } from '../../../src/rollout/rollout.ts';
import { renderDryRunText, renderRolloutText, rolloutJson } from '../../../src/rollout/render.ts';

const T0 = new Date('2026-12-06T15:00:00Z');
const stamp = (d: Date) => {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};

/**
 * A scripted slurmctld: a node asked to reboot shows REBOOT_ISSUED for `polls` polls, then comes back with a BootTime after the request,
 * unless it is in `dies` (then DOWN, "reboot timed out"). Every scontrol call is logged.
 */
function scripted(opts: { dies?: string[]; polls?: number; refuse?: boolean }) {
  const calls: string[][] = [];
  const asked = new Map<string, number>();
  let clock = T0.getTime();
  const scontrol: Scontrol = async (args) => {
    calls.push([...args]);
    if (args[0] === 'reboot') {
      if (opts.refuse) return { code: 1, stdout: '', stderr: 'scontrol: error: Invalid node name specified' };
      for (const n of expand(args[4]!)) asked.set(n, 0);
      return { code: 0, stdout: '', stderr: '' };
    }
    const lines = expand(args[3]!).map((n) => {
      const seen = asked.get(n);
      if (seen === undefined) return `NodeName=${n} State=IDLE BootTime=2026-12-06T06:55:22`;
      asked.set(n, seen + 1);
      if (seen < (opts.polls ?? 1)) return `NodeName=${n} State=DOWN+DRAIN+REBOOT_ISSUED NextState=RESUME BootTime=2026-12-06T06:55:22 Reason=herd generation 3 : reboot issued [root@x]`;
      if (opts.dies?.includes(n)) return `NodeName=${n} State=DOWN BootTime=2026-12-06T06:55:22 Reason=herd generation 3 : reboot issued : reboot timed out [root@x]`;
      return `NodeName=${n} State=IDLE BootTime=${stamp(new Date(clock))}`;
    });
    return { code: 0, stdout: lines.join('\n') + '\n', stderr: '' };
  };
  const now = () => new Date(clock);
  const sleep = async (ms: number) => {
    clock += ms;
  };
  return { scontrol, calls, now, sleep };
}

/** c[1-4] style expansion, enough for these tests. */
function expand(hl: string): string[] {
  const m = /^(\w+?)\[(.+)\]$/.exec(hl);
  if (!m) return hl.split(',');
  return m[2]!.split(',').flatMap((r) => {
    const [a, b] = r.split('-').map(Number);
    return Array.from({ length: (b ?? a!) - a! + 1 }, (_, i) => `${m[1]}${a! + i}`);
  });
}

const nodes = (names: string[], since = 3) => names.map((node) => ({ node, since }));

describe('batchesOf', () => {
  it('splits in order, the last batch holding the rest', () => {
    expect(batchesOf(['c1', 'c2', 'c3', 'c4', 'c5'], 2)).toEqual([['c1', 'c2'], ['c3', 'c4'], ['c5']]);
    expect(batchesOf([], 3)).toEqual([]);
    expect(() => batchesOf(['c1'], 0)).toThrow(RangeError);
  });
  it('reboots with ASAP, nextstate=RESUME and a reason naming the generation', () => {
    expect(rebootArgs(['c1', 'c2'], 7)).toEqual(['reboot', 'ASAP', 'nextstate=RESUME', 'reason=herd generation 7', 'c[1-2]']);
  });
});

describe('runRollout', () => {
  it('asks for each batch only after every node of the one before is back, and records each node as it returns', async () => {
    const s = scripted({ polls: 2 });
    const events: RolloutEvent[] = [];
    const recorded: string[] = [];
    const r = await runRollout({
      nodes: nodes(['c1', 'c2', 'c3', 'c4']), batchSize: 2, timeoutSeconds: 900, scontrol: s.scontrol, now: s.now, sleep: s.sleep, pollMs: 1000,
      onRequested: async (b) => void recorded.push(`requested ${b.join(',')}`),
      onBack: async (n, since) => void recorded.push(`back ${n}@${since}`),
      onEvent: (e) => events.push(e),
    });
    expect(r.status).toBe('done');
    expect(r.back).toEqual(['c1', 'c2', 'c3', 'c4']);
    const reboots = s.calls.map((c, i) => [c, i] as const).filter(([c]) => c[0] === 'reboot');
    expect(reboots.map(([c]) => c[4])).toEqual(['c[1-2]', 'c[3-4]']);
    // Between the two reboot requests, the last status read showed c1 and c2 back.
    const lastShowBefore = s.calls.slice(0, reboots[1]![1]).filter((c) => c[0] === 'show').pop();
    expect(lastShowBefore).toEqual(['show', 'node', '-o', 'c[1-2]']);
    expect(recorded).toEqual(['requested c1,c2', 'back c1@3', 'back c2@3', 'requested c3,c4', 'back c3@3', 'back c4@3']);
    expect(events.map((e) => e.kind)).toEqual(['requested', 'back', 'back', 'batch-done', 'requested', 'back', 'back', 'batch-done']);
    expect(renderRolloutText(r, 3)).toBe('Rollout done: c[1-4] rebooted and back (generation 3), in 2 batch(es).\n');
  });

  it('stops at the batch where a node goes DOWN, names it with its Slurm state and reason, and never asks for the next batch', async () => {
    const s = scripted({ dies: ['c4'] });
    const r = await runRollout({ nodes: nodes(['c1', 'c2', 'c3', 'c4', 'c5', 'c6']), batchSize: 2, timeoutSeconds: 900, scontrol: s.scontrol, now: s.now, sleep: s.sleep });
    expect(r.status).toBe('failed');
    expect(r.stoppedAt).toBe(1);
    expect(r.failed).toEqual([{ node: 'c4', state: 'DOWN', reason: 'herd generation 3 : reboot issued : reboot timed out [root@x]', why: 'Slurm has it DOWN' }]);
    expect(r.untouched).toEqual(['c5', 'c6']);
    expect(s.calls.filter((c) => c[0] === 'reboot').map((c) => c[4])).toEqual(['c[1-2]', 'c[3-4]']);
    const text = renderRolloutText(r, 3);
    expect(text).toContain('Rollout stopped at batch 2/3:');
    expect(text).toContain('c4: Slurm has it DOWN; Slurm state DOWN, reason "herd generation 3 : reboot issued : reboot timed out [root@x]"');
    expect(text).toContain('Not asked to reboot: c[5-6]');
    expect(rolloutJson(r, { generation: 3, dryRun: false, batches: r.batches })).toMatchObject({ status: 'failed', stoppedAtBatch: 1, untouched: ['c5', 'c6'], back: ['c1', 'c2', 'c3'] });
  });

  it("stops when a node stays in its reboot past the timeout (herd's own deadline, counted from Slurm issuing the reboot)", async () => {
    const s = scripted({ polls: 1_000 });
    const r = await runRollout({ nodes: nodes(['c1', 'c2']), batchSize: 1, timeoutSeconds: 60, scontrol: s.scontrol, now: s.now, sleep: s.sleep, pollMs: 10_000 });
    expect(r.status).toBe('failed');
    expect(r.failed[0]).toMatchObject({ node: 'c1', state: 'DOWN+DRAIN+REBOOT_ISSUED', why: 'not back 60 s after its reboot was issued' });
    expect(r.untouched).toEqual(['c2']);
  });

  it('reports scontrol refusing the request and records nothing', async () => {
    const s = scripted({ refuse: true });
    const recorded: string[] = [];
    const r = await runRollout({ nodes: nodes(['c1']), batchSize: 1, timeoutSeconds: 60, scontrol: s.scontrol, now: s.now, sleep: s.sleep, onRequested: async () => void recorded.push('x') });
    expect(r.status).toBe('slurm-error');
    expect(r.slurmError).toMatch(/Invalid node name specified/);
    expect(recorded).toEqual([]);
  });
});

describe('renderDryRunText', () => {
  it('lists each batch with the exact scontrol command, quoting the reason', () => {
    expect(renderDryRunText(batchesOf(['c1', 'c2', 'c3'], 2), 4)).toBe(
      'herd rollout --dry-run: 3 node(s) awaiting a reboot, in 2 batch(es); each batch starts once the one before is back:\n' +
        '  1. scontrol reboot ASAP nextstate=RESUME reason="herd generation 4" c[1-2]\n' +
        '  2. scontrol reboot ASAP nextstate=RESUME reason="herd generation 4" c3\n',
    );
    expect(renderDryRunText([], 0)).toBe('No node is awaiting a reboot.\n');
  });
});
