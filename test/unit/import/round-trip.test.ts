// The round trip: build a spec, import the files herd built, build again: every configuration file comes back byte for byte,
// for the repo's example clusters and for generated clusters of several shapes and sizes.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { compileText, importAndBuild, ROUND_TRIP_FILES, siteFromFiles } from './helpers.ts';
import { generateRangedSpec } from '../../../bench/validate.ts';
import { nodesConfDocument } from '../../../src/compile/nodes-conf.ts';
import { mergeNodesDocument, modelNodeViews } from '../../../src/import/nodes-conf.ts';

const REPO = join(import.meta.dirname, '../../..');

function roundTrip(specText: string, inventory: string | undefined, overlays: Record<string, string[]> = {}): { before: Map<string, string>; after: Map<string, string>; warnings: string[] } {
  const first = compileText(specText, inventory, overlays);
  const site = siteFromFiles(first.files, new Map(Object.entries(overlays)));
  const again = importAndBuild(site);
  return { before: first.files, after: again.files, warnings: again.result.diagnostics.filter((d) => d.rule === 'import/changed-value').map((d) => d.message) };
}

/** Every node's merged view straight from the model equals Warewulf's merge of the factored nodes.conf document (comments aside; an empty value or list is no value, as for the merge). */
function expectViewsAgree(specText: string, inventory: string | undefined, overlays: Record<string, string[]> = {}): void {
  const { model } = compileText(specText, inventory, overlays);
  const clean = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.length === 0 ? undefined : v;
    if (v !== null && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const c = k === 'comment' ? undefined : clean(x);
        if (c !== undefined) o[k] = c;
      }
      return Object.keys(o).length === 0 ? undefined : o;
    }
    return v === '' ? undefined : v;
  };
  const views = (nodes: readonly { name: string; merged: unknown }[]) => Object.fromEntries(nodes.map((n) => [n.name, clean(n.merged)]));
  const factored = views(mergeNodesDocument(nodesConfDocument(model), model.warewulf.version).nodes);
  expect(Object.keys(factored).length).toBe(model.nodes.length);
  expect(views(modelNodeViews(model))).toEqual(factored);
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
      expectViewsAgree(spec, inv, overlays);
    });
  }

  it('a generated 2,000-node cluster in three hardware classes with an inventory', () => {
    const g = generateRangedSpec(2000);
    expectSame(roundTrip(g.spec, g.inventory));
    expectViewsAgree(g.spec, g.inventory);
  });

  it('generated clusters: random profiles, hardware, addresses, partitions, NFS mounts, kernel args, BMCs, more NICs and IPv6', () => {
    const arb = fc.record({
      groups: fc.array(
        fc.record({
          count: fc.integer({ min: 1, max: 12 }),
          gap: fc.integer({ min: 0, max: 3 }),
          cpus: fc.constantFrom(8, 16, 64),
          memGiB: fc.integer({ min: 4, max: 1024 }),
          gpu: fc.boolean(),
          tag: fc.constantFrom('', 'a', 'b'),
          kargs: fc.constantFrom('', '~quiet', 'nosmt', '~quiet, nosmt, quiet'),
          bmc: fc.boolean(),
          ib: fc.boolean(),
          discoverable: fc.boolean(),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      nfs: fc.boolean(),
      exportOnly: fc.boolean(),
      preempt: fc.boolean(),
      v6: fc.boolean(),
      version: fc.constantFrom('4.6.2', '4.6.4', '4.6.5'),
    });
    fc.assert(
      fc.property(arb, (c) => {
        const lines = ['apiVersion: herd.dev/v1alpha1', 'kind: Cluster', 'name: gen', `warewulf: { version: "${c.version}" }`, 'head: { name: head, address: 10.1.0.1 }', 'network: { cidr: 10.1.0.0/16, gateway: 10.1.0.1, interface: eth1 }'];
        if (c.nfs || c.exportOnly) lines.push('nfs:');
        if (c.nfs) lines.push('  /home: {}', '  /scratch: { export: /srv/scratch, options: "rw,nofail,_netdev" }');
        if (c.exportOnly) lines.push('  /srv/archive: { mount: false, export_options: "ro,sync" }');
        lines.push('images:', '  img: { source: "dir:img", requires: [slurmd, munged, mount.nfs], kernel: { args: [quiet, crashkernel=no] } }', 'profiles:');
        c.groups.forEach((g, i) => {
          const extra = [
            g.kargs ? `kernel_args: [${g.kargs}]` : '',
            g.bmc ? 'ipmi: { netmask: 255.255.0.0, username: admin, write: true }' : '',
            g.ib ? 'networks: { ib0: { type: infiniband, device: ib0, netmask: 255.255.0.0 } }' : '',
            c.v6 ? 'prefix6: 64' : '',
          ].filter((x) => x !== '');
          lines.push(`  p${i}: { image: img, cpus: ${g.cpus}, sockets: 1, cores_per_socket: ${g.cpus}, threads_per_core: 1, memory: ${g.memGiB}GiB${g.gpu ? ', gpus: { type: h100, count: 2 }' : ''}${g.tag ? `, tags: { role: ${g.tag} }` : ''}${extra.map((x) => `, ${x}`).join('')} }`);
        });
        lines.push('nodes:');
        let ip = 10;
        let mac = 1;
        c.groups.forEach((g, i) => {
          for (let k = 1; k <= g.count; k++) {
            const m = `52:54:00:00:${(mac >> 8).toString(16).padStart(2, '0')}:${(mac & 255).toString(16).padStart(2, '0')}`;
            const own = [
              g.bmc ? `ipmi: { address: 10.2.${i + 1}.${ip} }` : '',
              g.ib ? `networks: { ib0: { address: 10.3.${i + 1}.${ip} } }` : '',
              c.v6 ? `address6: "fd00::${(i + 1).toString(16)}:${ip.toString(16)}"` : '',
              g.discoverable && k === 1 ? 'discoverable: true' : '',
            ].filter((x) => x !== '');
            lines.push(`  g${i}n${String(k).padStart(2, '0')}: { profiles: [p${i}], mac: "${m}", address: 10.1.${i + 1}.${ip}${own.map((x) => `, ${x}`).join('')} }`);
            ip += 1 + (k % 3 === 0 ? g.gap : 0);
            mac++;
          }
        });
        lines.push('slurm:', '  partitions:', `    all: { profiles: [${c.groups.map((_, i) => `p${i}`).join(', ')}], default: true, max_time: "1-00:00:00" }`);
        if (c.preempt) lines.push(`    owners: { profiles: [p0], priority_tier: 10, max_time: "7-00:00:00" }`);
        const r = roundTrip(lines.join('\n') + '\n', undefined);
        expectSame(r);
        expectViewsAgree(lines.join('\n') + '\n', undefined);
        // The generated settings reach nodes.conf (the round trip is not vacuous for them).
        const conf = r.before.get('etc/warewulf/nodes.conf')!;
        if (c.groups.some((g) => g.bmc)) expect(conf).toContain('ipaddr: 10.2.');
        if (c.groups.some((g) => g.ib)) expect(conf).toContain('ipaddr: 10.3.');
        if (c.groups.some((g) => g.kargs.includes('nosmt'))) expect(conf).toContain('nosmt');
        if (c.v6) expect(conf).toContain(c.version === '4.6.5' ? 'ipaddr6: fd00::' : 'ip6addr: fd00::');
        if (c.exportOnly) expect(r.before.get('etc/exports')).toContain('/srv/archive');
      }),
      { numRuns: 40, seed: 16 },
    );
  });
});
