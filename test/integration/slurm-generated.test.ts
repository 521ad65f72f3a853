// Integration: slurmctld (Slurm 22.05) parses the slurm.conf and gres.conf herd generates for every example cluster and spec fixture.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSlurmHarness, slurmctldAccepts } from './slurm/harness.ts';
import { compileSpecAt } from '../../src/pipeline.ts';
import { checkSpec } from '../../src/spec/check-spec.ts';
import { compileCluster } from '../../src/compile/compile-cluster.ts';
import { generateRangedSpec } from '../../bench/validate.ts';

const root = new URL('../../', import.meta.url).pathname;
const text = (a: { bytes?: Uint8Array } | undefined): string | undefined => (a?.bytes ? new TextDecoder().decode(a.bytes) : undefined);

/** Every spec that validates: the example clusters and the valid spec fixtures. */
function specs(): string[] {
  const out = readdirSync(join(root, 'clusters')).map((c) => `clusters/${c}`).filter((p) => existsSync(join(root, p, 'cluster.yaml')));
  const fixtures = join(root, 'test/golden/validate');
  if (existsSync(fixtures)) {
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
      if (/valid-[^/]*$/.test(d) && !/invalid/.test(d) && existsSync(join(d, 'cluster.yaml'))) out.push(d.slice(root.length));
    };
    walk(fixtures);
  }
  return out;
}

afterAll(() => closeSlurmHarness());

describe('slurmctld accepts what herd generates', () => {
  for (const spec of specs()) {
    it(`${spec}`, async () => {
      const r = await compileSpecAt(spec, root, { images: false });
      expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const get = (p: string) => r.artifacts!.artifacts.find((a) => a.path === p);
      const gres = text(get('etc/slurm/gres.conf'));
      const res = await slurmctldAccepts(text(get('etc/slurm/slurm.conf'))!, gres ? { gresConf: gres } : {});
      expect(res.errors).toEqual([]);
      expect(res.ok).toBe(true);
    });
  }

  it('a 10,000-node cluster in 3 hardware classes', async () => {
    const g = generateRangedSpec(10_000);
    const model = checkSpec('big.yaml', g.spec, () => ({ overlayFiles: {}, inventory: { file: 'inventory.csv', text: g.inventory } })).model!;
    const set = compileCluster(model, { specDisplayPath: 'big.yaml' });
    const conf = text(set.artifacts.find((a) => a.path === 'etc/slurm/slurm.conf'))!;
    const res = await slurmctldAccepts(conf, { gresConf: text(set.artifacts.find((a) => a.path === 'etc/slurm/gres.conf'))!, timeoutMs: 60_000 });
    expect(res.errors).toEqual([]);
    expect(res.ok).toBe(true);
  });
});
