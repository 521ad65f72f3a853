// Integration: the per-version key tables of src/spec/slurm-keys.ts against each version's real slurmctld (22.05 on the host, 24.11
// from the Debian 13 root). Every listed key must parse; the keys issue 14 found wrong must be refused (unknown) or called defunct.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSlurmHarness, slurmctldAccepts } from './slurm/harness.ts';
import { missing2411, REQUIRE_RELEASES, SLURM_RELEASES, type SlurmRelease } from './slurm/releases.ts';
import { HERD_OWNED_GLOBAL, SLURM_KEYS, type SlurmVersion } from '../../src/spec/slurm-keys.ts';

const base = readFileSync(new URL('../golden/build/lab/etc/slurm/slurm.conf', import.meta.url), 'utf8');
afterAll(() => closeSlurmHarness());

/**
 * Lines where slurmctld's parser (s_p_parse_file) objects to a key or to a value's type. Its later judgement of the values ("Invalid
 * path for BcastExclude: 1", then "Unable to process configuration file") comes only after every line parsed, so it is not one.
 */
const parseProblems = (log: string): string[] => log.split('\n').filter((l) => /unrecognized key|is defunct|Parsing error|Parse error|Unable to parse line|Error parsing|is not a valid (number|boolean)/i.test(l));

/**
 * lab's slurm.conf plus `lines`: every key set to 1, which every option type of the parser takes (string, number, boolean). Values are
 * only parsed, not judged: slurmctld may then stop on what a value means (a plugin named "1"), after the parser has passed every line.
 */
async function parse(r: SlurmRelease, lines: readonly string[]): Promise<string[]> {
  const res = await slurmctldAccepts(`${base}${lines.join('\n')}\n`, { root: r.root, timeoutMs: 30_000 });
  return parseProblems(res.log);
}

const ownedOrInConf = new Set([...HERD_OWNED_GLOBAL, 'Include', ...[...base.matchAll(/^(\w+)=/gm)].map((m) => m[1]!)].map((k) => k.toLowerCase()));

it.runIf(missing2411 !== undefined && REQUIRE_RELEASES)('the Slurm 24.11 root is built (CI_REQUIRE_ORACLE=1)', () => {
  expect(missing2411).toBeUndefined();
});

const REFUSED: Record<SlurmVersion, { global: string[]; partition: string[]; node: string[]; defunct: string[] }> = {
  '22.05': { global: ['MaxBatchRequeue', 'PreemptParameters', 'HashPlugin', 'SuspendExcStates', 'CertmgrType'], partition: ['PowerDownOnIdle', 'MaxCPUsPerSocket'], node: ['RestrictedCoresPerGPU'], defunct: [] },
  '24.11': { global: ['SlurmctldPlugstack'], partition: [], node: [], defunct: ['CoreSpecPlugin', 'ExtSensorsType', 'ExtSensorsFreq', 'PowerPlugin', 'PowerParameters'] },
};

for (const r of SLURM_RELEASES) {
  describe(`Slurm ${r.version}: the key table matches slurmctld`, () => {
    const t = SLURM_KEYS[r.version];
    it('parses every general key of the table', async () => {
      const keys = t.global.filter((k) => !ownedOrInConf.has(k.toLowerCase()));
      expect(keys.length).toBeGreaterThan(150);
      expect(await parse(r, keys.map((k) => `${k}=1`))).toEqual([]);
    });
    it('parses every NodeName and PartitionName key of the table', async () => {
      const node = t.node.filter((k) => !['NodeName', 'NodeAddr', 'NodeHostname', 'State'].includes(k));
      const part = t.partition.filter((k) => !['PartitionName', 'Nodes', 'State'].includes(k));
      expect(await parse(r, [`NodeName=x1 NodeAddr=10.0.0.9 ${node.map((k) => `${k}=1`).join(' ')}`, `PartitionName=p1 Nodes=x1 ${part.map((k) => `${k}=1`).join(' ')}`])).toEqual([]);
    });
    for (const k of REFUSED[r.version].global) {
      it(`refuses ${k} (not in the table)`, async () => {
        expect(t.global).not.toContain(k);
        expect((await parse(r, [`${k}=1`])).join('\n')).toMatch(new RegExp(`unrecognized key: ${k}\\b`, 'i'));
      });
    }
    for (const k of REFUSED[r.version].partition) {
      it(`refuses partition key ${k} (not in the table)`, async () => {
        expect(t.partition).not.toContain(k);
        expect((await parse(r, [`PartitionName=p1 Nodes=c1 ${k}=1`])).join('\n')).toMatch(new RegExp(`unrecognized key: ${k}\\b`, 'i'));
      });
    }
    for (const k of REFUSED[r.version].node) {
      it(`refuses node key ${k} (not in the table)`, async () => {
        expect(t.node).not.toContain(k);
        expect((await parse(r, [`NodeName=x1 NodeAddr=10.0.0.9 ${k}=1`])).join('\n')).toMatch(new RegExp(`unrecognized key: ${k}\\b`, 'i'));
      });
    }
    if (REFUSED[r.version].defunct.length > 0) {
      it(`calls ${REFUSED[r.version].defunct.join(', ')} defunct (listed as such, not as valid)`, async () => {
        const problems = (await parse(r, REFUSED[r.version].defunct.map((k) => `${k}=1`))).join('\n');
        for (const k of REFUSED[r.version].defunct) {
          expect(t.global).not.toContain(k);
          expect(t.defunct).toContain(k);
          expect(problems).toContain(`The option "${k}" is defunct`);
        }
      });
    }
  });
}
