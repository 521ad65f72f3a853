// Integration: real slurmctld 22.05 accepts herd-shaped slurm.conf files and rejects broken ones, naming the line.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSlurmHarness, slurmctldAccepts } from './slurm/harness.ts';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/slurm/${name}`, import.meta.url), 'utf8');
const lab = fixture('lab.slurm.conf');
const big = fixture('big.slurm.conf');
const bigGres = fixture('big.gres.conf');

/** 0-based index of the one line starting with `prefix`; the tests derive expected line numbers from it. */
function lineIndex(conf: string, prefix: string): number {
  const idx = conf.split('\n').findIndex((l) => l.startsWith(prefix));
  if (idx < 0) throw new Error(`fixture has no line starting with ${prefix}`);
  return idx;
}

function editLine(conf: string, prefix: string, edit: (line: string) => string): string {
  const lines = conf.split('\n');
  const i = lineIndex(conf, prefix);
  lines[i] = edit(lines[i]!);
  return lines.join('\n');
}

afterAll(closeSlurmHarness);

describe('slurmctld accepts herd-shaped confs', () => {
  it('accepts the lab cluster conf without errors', async () => {
    const r = await slurmctldAccepts(lab);
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.log).toContain('started on cluster lab');
  });

  it('accepts the condo/GPU conf with its gres.conf without errors', async () => {
    const r = await slurmctldAccepts(big, { gresConf: bigGres });
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.log).toContain('started on cluster big');
  });

  it('reads the gres.conf it is given (a bad key there is reported with its line)', async () => {
    const r = await slurmctldAccepts(big, { gresConf: bigGres.replace('File=/dev/nvidia[0-3]', 'File=/dev/nvidia[0-3] Bogus=1') });
    expect(r.errors.join('\n')).toMatch(/unrecognized key: Bogus/);
    expect(r.errors.join('\n')).toContain(`file gres.conf line ${lineIndex(bigGres, 'NodeName=') + 1}`);
  });

  it('checks one conf quickly enough to loop over every example cluster', async () => {
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) expect((await slurmctldAccepts(lab)).ok).toBe(true);
    // ~0.1 s each here; a resolver stall (~10 s per unresolvable name) would blow this budget.
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('slurmctld rejects broken confs', () => {
  it('rejects an unknown general key, naming it', async () => {
    const r = await slurmctldAccepts(editLine(lab, 'MpiDefault=', () => 'MpiDefualt=none'));
    expect(r.ok).toBe(false);
    expect(r.errors).toContainEqual(expect.stringMatching(/unrecognized key: MpiDefualt/));
    expect(r.errors).toContainEqual(expect.stringMatching(/fatal: Unable to process configuration file/));
  });

  it('rejects an unknown key on a partition line, naming that line of the generated file', async () => {
    const line = lineIndex(lab, 'PartitionName=owners') + 1;
    const r = await slurmctldAccepts(editLine(lab, 'PartitionName=owners', (l) => l.replace(' State=UP', ' Sate=UP')));
    expect(r.ok).toBe(false);
    expect(r.errors).toContainEqual(expect.stringMatching(/unrecognized key: Sate/));
    expect(r.errors).toContainEqual(expect.stringContaining(`Parse error in file slurm.conf line ${line}:`));
  });

  it('rejects a node name defined twice (range and single)', async () => {
    const r = await slurmctldAccepts(editLine(lab, 'NodeName=c[1-2]', (l) => `${l}\nNodeName=c2 NodeAddr=10.0.0.9 CPUs=2 State=UNKNOWN`));
    expect(r.ok).toBe(false);
    expect(r.errors).toContainEqual(expect.stringMatching(/fatal: Duplicated NodeName c2/));
  });

  it('rejects a partition naming an unknown node', async () => {
    const r = await slurmctldAccepts(editLine(lab, 'PartitionName=owners', (l) => l.replace('Nodes=c[1-2]', 'Nodes=c[1-3]')));
    expect(r.ok).toBe(false);
    expect(r.errors).toContainEqual(expect.stringContaining('lookup failure for node "c3"'));
    expect(r.errors).toContainEqual(expect.stringMatching(/fatal: Invalid node names in partition owners/));
  });
});
