// Slurm's configless mode, chosen in the spec: slurmctld serves the configuration, the nodes' slurmd is pointed at it
// before it starts (system overlay), and no slurm.conf rides in the runtime overlay.
import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../../src/spec/check-spec.ts';
import { renderSlurmConf } from '../../../src/compile/slurm-conf.ts';
import { builtinOverlay } from '../../../src/overlay/builtins/index.ts';
import type { ClusterModel } from '../../../src/spec/model.ts';
import type { AccountLookup } from '../../../src/overlay/types.ts';

const spec = (slurm: string) => `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: cl
head: { name: head, address: 10.0.0.1 }
network: { cidr: 10.0.0.0/24, interface: eth0 }
images: { img: { source: "dir:rootfs", requires: [slurmd, munged] } }
defaults: { image: img, memory: 4GiB, cpus: 2 }
nodes:
  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2 }
slurm:
${slurm}
  partitions: { normal: { nodes: c1, default: true } }
`;

function model(slurm: string): ClusterModel {
  const r = checkSpec('cluster.yaml', spec(slurm), () => ({ overlayFiles: {} }));
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.model!;
}

const accounts: AccountLookup = { uid: (n) => ({ root: 0, munge: 995, slurm: 990 })[n], gid: (n) => ({ root: 0, munge: 995, slurm: 990 })[n] };

function files(m: ClusterModel, name: string): Map<string, string> {
  const r = builtinOverlay(name, { model: m, node: m.nodes[0]!, accounts, head: { mungeKey: new Uint8Array(32) }, config: new Map([['etc/slurm/slurm.conf', renderSlurmConf(m, '')]]) });
  if (!r || !('files' in r)) throw new Error(JSON.stringify(r));
  return new Map(r.files.map((f) => [f.path, typeof f.content === 'string' ? f.content : Buffer.from(f.content ?? []).toString()]));
}

describe('configless Slurm', () => {
  it('enables configless in slurm.conf, keeping the site\'s own SlurmctldParameters', () => {
    expect(renderSlurmConf(model('  configless: true'), '')).toMatch(/^SlurmctldParameters=enable_configless$/m);
    expect(renderSlurmConf(model('  configless: true\n  extra: { SlurmctldParameters: "idle_on_node_suspend" }'), '')).toMatch(/^SlurmctldParameters=idle_on_node_suspend,enable_configless$/m);
    expect(renderSlurmConf(model('  configless: false'), '')).not.toContain('enable_configless');
  });

  it('points slurmd at slurmctld before it starts, and ships no slurm.conf to the nodes', () => {
    const m = model('  configless: true');
    const boot = files(m, 'herd-boot');
    for (const p of ['etc/sysconfig/slurmd', 'etc/default/slurmd']) expect(boot.get(p)).toMatch(/^SLURMD_OPTIONS="--conf-server 10\.0\.0\.1:6817"$/m);
    expect([...files(m, 'herd-slurm').keys()]).toEqual([]);
  });

  it('without it, the nodes get slurm.conf in the runtime overlay and slurmd no --conf-server', () => {
    const m = model('  configless: false');
    expect([...files(m, 'herd-slurm').keys()]).toEqual(['etc/slurm/slurm.conf']);
    expect(files(m, 'herd-boot').has('etc/sysconfig/slurmd')).toBe(false);
  });
});
