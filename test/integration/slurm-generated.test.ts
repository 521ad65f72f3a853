// Integration: slurmctld parses the slurm.conf and gres.conf herd generates for every example cluster and spec fixture: Slurm 22.05 (the host's)
// as written, and Slurm 24.11 (Debian 13 root) for each example cluster with slurm.version: "24.11".
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSlurmHarness, slurmctldAccepts } from './slurm/harness.ts';
import { compileExampleFor, missing2411, REQUIRE_RELEASES, SLURM_RELEASES } from './slurm/releases.ts';
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

it.runIf(missing2411 !== undefined && REQUIRE_RELEASES)('the Slurm 24.11 root is built (CI_REQUIRE_ORACLE=1)', () => {
  expect(missing2411).toBeUndefined();
});

for (const release of SLURM_RELEASES.filter((r) => r.root !== undefined)) {
  describe(`Slurm ${release.version} slurmctld accepts what herd generates for slurm.version ${release.version}`, () => {
    for (const cluster of readdirSync(join(root, 'clusters')).filter((c) => existsSync(join(root, 'clusters', c, 'cluster.yaml')))) {
      it(`clusters/${cluster}`, async () => {
        const c = await compileExampleFor(cluster, release.version);
        expect(c.errors).toEqual([]);
        expect(c.version).toBe(release.version);
        // 24.11 defaults to priority/multifactor; herd keeps 22.05's FIFO-within-tier scheduling by saying so, unless the site chose.
        const site = /^\s+PriorityType: (\S+)$/m.exec(readFileSync(join(root, 'clusters', cluster, 'cluster.yaml'), 'utf8'))?.[1];
        expect(c.slurmConf.match(/^PriorityType=.*$/gm)).toEqual([`PriorityType=${site ?? 'priority/basic'}`]);
        const res = await slurmctldAccepts(c.slurmConf, { ...(c.gresConf ? { gresConf: c.gresConf } : {}), files: { 'cgroup.conf': c.cgroupConf }, root: release.root });
        expect(res.log).toContain(`slurmctld version ${release.version}.`);
        expect(res.errors).toEqual([]);
        expect(res.ok).toBe(true);
      });
    }
  });
}
