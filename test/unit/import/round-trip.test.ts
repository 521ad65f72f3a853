// The round trip: build a spec, import the files herd built, build again: every configuration file comes back byte for byte,
// for the repo's example clusters and for generated clusters of several shapes and sizes.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { compileText, importAndBuild, ROUND_TRIP_FILES, siteFromFiles } from './helpers.ts';
import { generateRangedSpec } from '../../../bench/validate.ts';

const REPO = join(import.meta.dirname, '../../..');

function roundTrip(specText: string, inventory: string | undefined, overlays: Record<string, string[]> = {}): { before: Map<string, string>; after: Map<string, string>; warnings: string[] } {
  const first = compileText(specText, inventory, overlays);
  const site = siteFromFiles(first.files, new Map(Object.entries(overlays)));
  const again = importAndBuild(site);
  return { before: first.files, after: again.files, warnings: again.result.diagnostics.filter((d) => d.rule === 'import/changed-value').map((d) => d.message) };
}

function expectSame(r: ReturnType<typeof roundTrip>): void {
  for (const f of ROUND_TRIP_FILES) expect(r.after.get(f), f).toBe(r.before.get(f));
  expect(r.warnings).toEqual([]);
}

describe('build -> import -> build gives byte-identical artifacts', () => {
  for (const cluster of ['lab', 'condo']) {
    it(`clusters/${cluster}`, () => {
      const dir = join(REPO, 'clusters', cluster);
      const spec = readFileSync(join(dir, 'cluster.yaml'), 'utf8');
      const inv = cluster === 'condo' ? readFileSync(join(dir, 'inventory.csv'), 'utf8') : undefined;
      const overlays: Record<string, string[]> = cluster === 'condo' ? { 'slurm-node': [], 'site-motd': [] } : { 'slurm-node': [] };
      expectSame(roundTrip(spec, inv, overlays));
    });
  }

  it('a generated 2,000-node cluster in three hardware classes with an inventory', () => {
    const g = generateRangedSpec(2000);
    expectSame(roundTrip(g.spec, g.inventory));
  });

  it('generated clusters: random profiles, hardware, addresses, partitions and NFS mounts', () => {
    const arb = fc.record({
      groups: fc.array(fc.record({ count: fc.integer({ min: 1, max: 12 }), gap: fc.integer({ min: 0, max: 3 }), cpus: fc.constantFrom(8, 16, 64), memGiB: fc.integer({ min: 4, max: 1024 }), gpu: fc.boolean(), tag: fc.constantFrom('', 'a', 'b') }), { minLength: 1, maxLength: 4 }),
      nfs: fc.boolean(),
      preempt: fc.boolean(),
      version: fc.constantFrom('4.6.2', '4.6.4', '4.6.5'),
    });
    fc.assert(
      fc.property(arb, (c) => {
        const lines = ['apiVersion: herd.dev/v1alpha1', 'kind: Cluster', 'name: gen', `warewulf: { version: "${c.version}" }`, 'head: { name: head, address: 10.1.0.1 }', 'network: { cidr: 10.1.0.0/16, gateway: 10.1.0.1, interface: eth1 }'];
        if (c.nfs) lines.push('nfs:', '  /home: {}', '  /scratch: { export: /srv/scratch, options: "rw,nofail,_netdev" }');
        lines.push('images:', '  img: { source: "dir:img", requires: [slurmd, munged, mount.nfs] }', 'profiles:');
        c.groups.forEach((g, i) => lines.push(`  p${i}: { image: img, cpus: ${g.cpus}, sockets: 1, cores_per_socket: ${g.cpus}, threads_per_core: 1, memory: ${g.memGiB}GiB${g.gpu ? ', gpus: { type: h100, count: 2 }' : ''}${g.tag ? `, tags: { role: ${g.tag} }` : ''} }`));
        lines.push('nodes:');
        let ip = 10;
        let mac = 1;
        c.groups.forEach((g, i) => {
          for (let k = 1; k <= g.count; k++) {
            const m = `52:54:00:00:${(mac >> 8).toString(16).padStart(2, '0')}:${(mac & 255).toString(16).padStart(2, '0')}`;
            lines.push(`  g${i}n${String(k).padStart(2, '0')}: { profiles: [p${i}], mac: "${m}", address: 10.1.${i + 1}.${ip} }`);
            ip += 1 + (k % 3 === 0 ? g.gap : 0);
            mac++;
          }
        });
        lines.push('slurm:', '  partitions:', `    all: { profiles: [${c.groups.map((_, i) => `p${i}`).join(', ')}], default: true, max_time: "1-00:00:00" }`);
        if (c.preempt) lines.push(`    owners: { profiles: [p0], priority_tier: 10, max_time: "7-00:00:00" }`);
        expectSame(roundTrip(lines.join('\n') + '\n', undefined));
      }),
      { numRuns: 40, seed: 16 },
    );
  });
});
