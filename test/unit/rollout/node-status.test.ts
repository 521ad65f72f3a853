// scontrol show node parsing and the came-back rule, against output captured from the real Slurm 22.05.8 (test/fixtures/rollout/README.md).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseShowNodes, progressOf, slurmTimeSeconds } from '../../../src/rollout/node-status.ts';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/rollout/show-node-${name}.txt`, import.meta.url), 'utf8');
/** The second the fixtures' reboot was requested: the [root@...] stamp of the request's reason. */
const requested = slurmTimeSeconds('2026-12-06T15:05:18')!;

describe('parseShowNodes', () => {
  it('reads one -o line per node, with values holding spaces (OS) kept whole', () => {
    const nodes = parseShowNodes(fixture('idle'));
    expect([...nodes.keys()]).toEqual(['c1', 'c2']);
    const c1 = nodes.get('c1')!;
    expect(c1).toMatchObject({ state: 'IDLE', base: 'IDLE', flags: [], bootTimeText: '2026-12-06T06:55:22', reason: null });
  });

  it('reads the multi-line form the same way', () => {
    const multi = parseShowNodes(fixture('idle-multi')).get('c1')!;
    expect(multi).toMatchObject({ name: 'c1', state: 'IDLE', bootTimeText: '2026-12-06T06:55:22', reason: null });
  });

  it('splits the state into base and flags and keeps the whole reason', () => {
    const c2 = parseShowNodes(fixture('issued')).get('c2')!;
    expect(c2.base).toBe('IDLE');
    expect(c2.flags).toEqual(['DRAIN', 'REBOOT_REQUESTED']);
    expect(c2.reason).toBe('herd generation 3 [root@2026-12-06T15:05:18]');
  });

  it('keeps a reason holding key=value words whole ("ticket=42" is not a field)', () => {
    const c1 = parseShowNodes(fixture('drained')).get('c1')!;
    expect(c1.reason).toBe('bad dimm, ticket=42 [root@2026-12-06T15:05:47]');
    expect(c1.flags).toEqual(['DRAIN']);
  });

  it('ignores lines that are not node records', () => {
    expect(parseShowNodes('slurm_load_node error: Unable to contact slurm controller\n').size).toBe(0);
    expect(parseShowNodes('').size).toBe(0);
  });
});

describe('progressOf: did a node come back from the reboot herd asked for?', () => {
  it('draining right after the request (REBOOT_REQUESTED), rebooting once issued, back with a new BootTime', () => {
    expect(progressOf(parseShowNodes(fixture('issued')).get('c1'), requested)).toEqual({ kind: 'draining' });
    const oneBack = parseShowNodes(fixture('one-back'));
    expect(progressOf(oneBack.get('c2'), requested)).toEqual({ kind: 'rebooting' });
    expect(progressOf(oneBack.get('c1'), requested)).toEqual({ kind: 'back' });
  });

  it('a node Slurm marked DOWN (reboot timed out) failed, with its state', () => {
    const p = progressOf(parseShowNodes(fixture('timed-out')).get('c2'), requested);
    expect(p).toEqual({ kind: 'failed', why: 'Slurm has it DOWN' });
  });

  it('idle with a BootTime from before the request has not rebooted: its request is gone, so it failed', () => {
    const p = progressOf(parseShowNodes(fixture('idle')).get('c1'), requested);
    expect(p.kind).toBe('failed');
    expect(p.kind === 'failed' && p.why).toMatch(/cancelled/);
  });

  it('a drained node and an unknown node failed', () => {
    expect(progressOf(parseShowNodes(fixture('drained')).get('c1'), requested).kind).toBe('failed');
    expect(progressOf(undefined, requested)).toEqual({ kind: 'failed', why: 'slurmctld does not know this node' });
  });

  it('the same second as the request counts (BootTime has whole seconds), one second earlier does not', () => {
    const c1 = parseShowNodes(fixture('one-back')).get('c1')!;
    expect(progressOf(c1, c1.bootTime!).kind).toBe('back');
    expect(progressOf(c1, c1.bootTime! + 1).kind).toBe('failed');
  });
});
