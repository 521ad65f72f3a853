// slurm.version: the resolved model carries it (default 22.05), pass-through keys are judged against that version's key table, and
// slurm.conf writes out the defaults 24.11 changed.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../../src/spec/check-spec.ts';
import { renderSlurmConf } from '../../../src/compile/slurm-conf.ts';
import { SLURM_KEYS } from '../../../src/spec/slurm-keys.ts';

/** A valid spec (the lab of the validate fixtures) up to its slurm: section, which each test writes. */
const BASE = readFileSync(new URL('../../golden/validate/slurm/unknown-key/cluster.yaml', import.meta.url), 'utf8').split('\nslurm:\n')[0]!;
const spec = (slurm: string): string => `${BASE}\nslurm:\n${slurm}\n`;
/** Line of the slurm: section's first entry. */
const FIRST = BASE.split('\n').length + 2;

const check = (slurm: string) => checkSpec('cluster.yaml', spec(slurm), () => ({ overlayFiles: {} }));
const errors = (slurm: string) => check(slurm).diagnostics.filter((d) => d.severity === 'error').map((d) => ({ rule: d.rule, message: d.message, hint: d.hint, line: d.line }));
const PARTS = '  partitions:\n    normal: { nodes: "c[1-2]", default: true }';

describe('slurm.version', () => {
  it('defaults to 22.05 and is carried by the model', () => {
    expect(check(PARTS).model!.slurm.version).toBe('22.05');
    expect(check(`  version: "24.11"\n${PARTS}`).model!.slurm.version).toBe('24.11');
  });

  it('is one of the supported releases', () => {
    expect(check(`  version: "23.02"\n${PARTS}`).diagnostics.some((d) => d.severity === 'error' && d.line === FIRST)).toBe(true);
  });

  it('a key of another version: says which version takes it and to set slurm.version', () => {
    expect(errors(`  extra: { MaxBatchRequeue: 3 }\n${PARTS}`)).toEqual([
      { rule: 'slurm/version-key', message: '"MaxBatchRequeue" is not a slurm.extra key Slurm 22.05 knows', hint: 'MaxBatchRequeue is valid in Slurm 24.11, not in 22.05; set slurm.version (default 22.05) or remove it', line: FIRST },
    ]);
    expect(errors(`  version: "24.11"\n  extra: { MaxBatchRequeue: 3 }\n${PARTS}`)).toEqual([]);
    expect(errors(`  version: "24.11"\n  extra: { SlurmctldPlugstack: x }\n${PARTS}`)[0]).toMatchObject({ rule: 'slurm/version-key', hint: 'SlurmctldPlugstack is valid in Slurm 22.05, not in 24.11; set slurm.version or remove it' });
    expect(errors('  partitions:\n    normal: { nodes: "c[1-2]", default: true, extra: { PowerDownOnIdle: "YES" } }')[0]).toMatchObject({ rule: 'slurm/version-key', message: '"PowerDownOnIdle" is not a partition normal\'s extra key Slurm 22.05 knows' });
  });

  it('a key 24.11 calls defunct is an error there, valid on 22.05', () => {
    expect(errors(`  version: "24.11"\n  extra: { PowerPlugin: power/none }\n${PARTS}`)).toEqual([
      { rule: 'slurm/version-key', message: 'PowerPlugin is defunct in Slurm 24.11: slurmctld logs an error and ignores it', hint: 'valid in Slurm 22.05, not in 24.11; remove it, or set slurm.version', line: FIRST + 1 },
    ]);
    expect(errors(`  extra: { PowerPlugin: power/none }\n${PARTS}`)).toEqual([]);
  });

  it('a key no version knows keeps did-you-mean', () => {
    expect(errors(`  version: "24.11"\n  extra: { HashPlugn: hash/k12 }\n${PARTS}`)[0]).toMatchObject({ rule: 'slurm/unknown-key', hint: 'did you mean "HashPlugin"? (slurmctld refuses unknown keys)' });
  });

  it('slurm.conf pins PriorityType on 24.11 (default priority/multifactor there) and leaves 22.05 output as it was', () => {
    const old = renderSlurmConf(check(PARTS).model!, '');
    const v2411 = renderSlurmConf(check(`  version: "24.11"\n${PARTS}`).model!, '');
    expect(old).not.toMatch(/PriorityType/);
    expect(v2411).toMatch(/^PriorityType=priority\/basic$/m);
    expect(v2411.replace('PriorityType=priority/basic\n', '')).toBe(old);
    // The site can still choose multifactor, in place of herd's line.
    const mf = renderSlurmConf(check(`  version: "24.11"\n  extra: { PriorityType: priority/multifactor }\n${PARTS}`).model!, '');
    expect(mf.match(/^PriorityType=.*$/gm)).toEqual(['PriorityType=priority/multifactor']);
  });

  it('tables: what issue 14 found wrong', () => {
    expect(SLURM_KEYS['24.11'].global).not.toContain('SlurmctldPlugstack');
    expect(SLURM_KEYS['22.05'].global).not.toContain('MaxBatchRequeue');
    expect(SLURM_KEYS['22.05'].partition).not.toContain('PowerDownOnIdle');
    for (const k of ['HashPlugin', 'SuspendExcStates', 'CertmgrType']) expect(SLURM_KEYS['24.11'].global).toContain(k);
    expect(SLURM_KEYS['24.11'].partition).toContain('MaxCPUsPerSocket');
    expect(SLURM_KEYS['24.11'].node).toContain('RestrictedCoresPerGPU');
  });
});
