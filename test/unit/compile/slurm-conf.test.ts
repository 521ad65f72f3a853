import { describe, expect, it } from 'vitest';
import { checkSpec } from '../../../src/spec/check-spec.ts';
import { loadSpecFromDisk } from '../../../src/spec/load-from-disk.ts';
import { nodeLines, realMemoryMiB, renderGresConf, renderSlurmConf } from '../../../src/compile/slurm-conf.ts';
import { configSources } from '../../../src/compile/compile-cluster.ts';
import { expandHostlist } from '../../../src/spec/hostlist.ts';
import { generateRangedSpec } from '../../../bench/validate.ts';
import { miniModel } from './mini-spec.ts';

const root = new URL('../../../', import.meta.url).pathname;

/** Parse NodeName lines back into name -> address pairs, with the hostlist expansion Slurm uses. */
function addressesFromLines(lines: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of lines) {
    const names = expandHostlist(/NodeName=(\S+)/.exec(l)![1]!);
    const addrs = expandHostlist(/NodeAddr=(\S+)/.exec(l)![1]!);
    if (!names.ok || !addrs.ok) throw new Error(`bad hostlist in ${l}`);
    expect(addrs.names.length).toBe(names.names.length);
    names.names.forEach((n, i) => out.set(n, addrs.names[i]!));
  }
  return out;
}

describe('slurm.conf', () => {
  it('writes the lab exactly as the seed needs it', () => {
    const model = loadSpecFromDisk('clusters/lab', root).model!;
    const text = renderSlurmConf(model, '');
    expect(text).toContain('SlurmctldHost=head(10.0.0.1)\n');
    expect(text).toContain('ReturnToService=2\n');
    expect(text).toContain('NodeName=c[1-2] NodeAddr=10.0.0.[2-3] CPUs=2 Sockets=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=');
    expect(text).toMatch(/PartitionName=normal Nodes=c\[1-2\] Default=YES MaxTime=02:00:00 PriorityTier=1 State=UP/);
    expect(text).toMatch(/PartitionName=owners Nodes=c\[1-2\] Default=NO MaxTime=1-00:00:00 PriorityTier=10 State=UP/);
    expect(text).toContain('PreemptType=preempt/partition_prio\nPreemptMode=REQUEUE\n');
  });

  it('keeps RealMemory under installed RAM minus kernel reservation and the in-RAM image', () => {
    const model = loadSpecFromDisk('clusters/lab', root).model!;
    const n = model.nodes[0]!;
    const real = realMemoryMiB(model, n)!;
    expect(real).toBeLessThan(6144 - 2048);
    expect(real).toBeGreaterThan(6144 - 2048 - 512);
  });

  it('groups 10,000 nodes in 3 hardware classes into 3 NodeName lines with literal addresses in name order', () => {
    const g = generateRangedSpec(10_000);
    const model = checkSpec('big.yaml', g.spec, () => ({ overlayFiles: {}, inventory: { file: 'inventory.csv', text: g.inventory } })).model!;
    const lines = nodeLines(model);
    expect(lines).toHaveLength(3);
    const map = addressesFromLines(lines);
    expect(map.size).toBe(10_000);
    for (const n of model.nodes) expect(map.get(n.name)).toBe(n.address);
  });

  it('pairs scattered addresses with the right names', () => {
    const model = miniModel(`defaults: { image: i, cpus: 4 }
nodes:
  n3: { mac: "02:00:00:00:00:03", address: 10.0.0.7 }
  n1: { mac: "02:00:00:00:00:01", address: 10.0.0.9 }
  n2: { mac: "02:00:00:00:00:02", address: 10.0.0.8 }
  n10: { mac: "02:00:00:00:00:04", address: 10.0.0.20 }
slurm: { partitions: { p: { nodes: "n[1-3,10]", default: true } } }
`);
    const lines = nodeLines(model);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('NodeName=n[1-3,10] NodeAddr=10.0.0.[9,8,7,20]');
    const map = addressesFromLines(lines);
    for (const n of model.nodes) expect(map.get(n.name)).toBe(n.address);
  });

  it('writes gres.conf and Gres= for GPU nodes only', () => {
    const model = loadSpecFromDisk('clusters/condo', root).model!;
    const text = renderSlurmConf(model, '');
    expect(text).toContain('GresTypes=gpu');
    expect(text).toMatch(/NodeName=gpu\[01-24\] NodeAddr=10\.10\.4\.\[1-24\] .*Gres=gpu:a100:4/);
    expect(renderGresConf(model, '')).toBe('NodeName=gpu[01-24] Name=gpu Type=a100 File=/dev/nvidia[0-3]\n');
    expect(renderGresConf(loadSpecFromDisk('clusters/lab', root).model!, '')).toBeUndefined();
  });
});

describe('slurm.extra null: a herd default left to Slurm', () => {
  const nodes = `defaults: { image: i, cpus: 4 }
nodes: { c1: { mac: "02:00:00:00:00:01", address: 10.0.0.11 } }
`;
  it('leaves the key out of slurm.conf, and only that key', () => {
    const plain = renderSlurmConf(miniModel(`${nodes}slurm: { partitions: { p: { nodes: c1, default: true } } }`), '');
    const left = renderSlurmConf(miniModel(`${nodes}slurm: { partitions: { p: { nodes: c1, default: true } }, extra: { slurmctldlogfile: null, SlurmdPidFile: null } }`), '');
    expect(plain).toContain('SlurmctldLogFile=/var/log/slurm/slurmctld.log\n');
    expect(plain).toContain('SlurmdPidFile=/run/slurmd.pid\n');
    expect(left.split('\n').filter((l) => !plain.split('\n').includes(l))).toEqual([]);
    expect(plain.split('\n').filter((l) => !left.split('\n').includes(l))).toEqual(['SlurmdPidFile=/run/slurmd.pid', 'SlurmctldLogFile=/var/log/slurm/slurmctld.log']);
  });
  it('is refused on a key herd does not write, and on a key the spec owns', () => {
    const text = (extra: string) => `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: t
head: { name: h, address: 10.0.0.1 }
network: { cidr: 10.0.0.0/24, interface: eth0 }
images: { i: { source: "oci:x" } }
${nodes}slurm: { partitions: { p: { nodes: c1, default: true } }, extra: { ${extra} } }
`;
    const rules = (extra: string) => checkSpec('x.yaml', text(extra), () => ({ overlayFiles: {} })).diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.rule} ${d.line}:${d.column}`);
    expect(rules('SchedulerParameters: null')).toEqual(['slurm/omit-unwritten 9:68']);
    expect(rules('ClusterName: null')).toEqual(['slurm/owned-key 9:68']);
    expect(rules('TaskPlugin: null')).toEqual([]);
  });
});

describe('network.trusted_zone', () => {
  const spec = (network: string) => `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: t
head: { name: h, address: 10.0.0.1 }
network: ${network}
images: { i: { source: "oci:x" } }
defaults: { image: i, cpus: 4 }
nodes: { c1: { mac: "02:00:00:00:00:01", address: 10.0.0.11 } }
`;
  const paths = (network: string): string[] => {
    const model = checkSpec('x.yaml', spec(network), () => ({ overlayFiles: {} })).model!;
    return configSources(model, { specDisplayPath: 'x.yaml' }).filter((c) => c.render() !== undefined).map((c) => c.path);
  };
  it('false: herd writes no firewalld zone, and every other head file as before', () => {
    const on = paths('{ cidr: 10.0.0.0/24, interface: eth0 }');
    expect(on).toContain('etc/firewalld/zones/trusted.xml');
    expect(paths('{ cidr: 10.0.0.0/24, interface: eth0, trusted_zone: false }')).toEqual(on.filter((p) => p !== 'etc/firewalld/zones/trusted.xml'));
  });
});

describe('cgroup.conf reaches the nodes herd ships it to', () => {
  const rest = (base: string, configless = false) => `warewulf: { base_overlays: [${base}] }
defaults: { image: i, cpus: 4 }
nodes: { c1: { mac: "02:00:00:00:00:01", address: 10.0.0.11 } }
slurm: { configless: ${configless}, partitions: { p: { nodes: c1, default: true } } }
`;
  const cgroup = (text: string) => configSources(miniModel(text), { specDisplayPath: 'x.yaml' }).find((c) => c.path === 'etc/slurm/cgroup.conf')!;
  it('with herd-slurm (or configless) slurmd on the nodes reads it; without either (an imported site) no node does', () => {
    expect([cgroup(rest('wwinit, wwclient, herd-boot, herd-slurm')).nodes, cgroup(rest('wwinit, wwclient, herd-boot, herd-slurm')).impact.class]).toEqual([['c1'], 'daemon-restart']);
    expect(cgroup(rest('wwinit, wwclient', true)).nodes).toEqual(['c1']);
    const none = cgroup(rest('wwinit, wwclient'));
    expect([none.nodes, none.impact.class]).toEqual([[], 'none']);
  });
});
