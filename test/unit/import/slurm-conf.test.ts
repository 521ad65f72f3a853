// Reading slurm.conf as slurmctld 22.05 does (each behaviour here was measured against real slurmctld in the namespace
// harness), and the RealMemory inversion the import uses for a node's installed RAM.
import { describe, expect, it } from 'vitest';
import { parseGresConf, parseSlurmConf, slurmIncludes, slurmTopology } from '../../../src/import/slurm-conf.ts';
import { memoryForRealMemory } from '../../../src/import/map-slurm.ts';
import { kernelReserveMiB } from '../../../src/compile/slurm-conf.ts';
import { parseSizeMiB } from '../../../src/spec/units.ts';

const parse = (text: string, includes: Record<string, string> = {}) =>
  parseSlurmConf({ main: { file: 'slurm.conf', text }, includes: new Map(Object.entries(includes).map(([k, v]) => [k, { file: k, text: v }])) });

describe('slurm.conf as slurmctld reads it', () => {
  it('keys in any case, spaces around =, tabs and indentation are accepted', () => {
    const s = parse('selecttype = select/cons_tres\n  ClusterName=x\nnodename=c1\tnodeaddr=10.0.0.2  cpus=4\n');
    expect(s.diagnostics).toEqual([]);
    expect(s.globals.map((g) => `${g.key}=${g.value}`)).toEqual(['SelectType=select/cons_tres', 'ClusterName=x']);
    expect(s.nodes[0]!.addr!.value).toBe('10.0.0.2');
    expect(s.nodes[0]!.fields.get('CPUs')!.value).toBe('4');
  });

  it('a second key=value on a general line is refused, as slurmctld refuses it', () => {
    const s = parse('SelectType=select/cons_tres SelectTypeParameters=CR_Core\n');
    expect(s.diagnostics.map((d) => `${d.rule} ${d.line}:${d.column}`)).toEqual(['import/slurm-syntax 1:29']);
  });

  it('continuations, comments, DEFAULT lines and Include parts, each value keeping its file:line', () => {
    const s = parse('NodeName=DEFAULT Sockets=2 # all nodes\nNodeName=c[1-2] NodeAddr=10.0.0.[2-3] \\\n  CPUs=8\nInclude parts.conf\n', { 'parts.conf': 'PartitionName=p Nodes=ALL Default=YES\n' });
    expect(s.diagnostics).toEqual([]);
    expect(s.nodes.map((n) => `${n.name} ${n.addr!.value} ${n.fields.get('Sockets')!.value} ${n.fields.get('CPUs')!.value} ${n.fields.get('CPUs')!.at.line}`)).toEqual(['c1 10.0.0.2 2 8 2', 'c2 10.0.0.3 2 8 2']);
    expect(s.partitions[0]!.at.file).toBe('parts.conf');
    expect(slurmIncludes('include /etc/slurm/a.conf\nInclude b.conf\n').map((i) => i.path)).toEqual(['/etc/slurm/a.conf', 'b.conf']);
  });

  it('a CPUs-only node gets Sockets=CPUs, as slurmctld shows it', () => {
    const s = parse('NodeName=c1 NodeAddr=10.0.0.2 CPUs=8\n');
    expect(slurmTopology(s.nodes[0]!.fields)).toEqual({ cpus: 8, sockets: 8, cores: 1, threads: 1 });
  });

  it('unknown keys and duplicate nodes are located errors', () => {
    const s = parse('NodeName=c1 NodeAddr=10.0.0.2 Bogus=1\nNodeName=c2 NodeAddr=10.0.0.3\nNodeName=c[2-3] NodeAddr=10.0.0.[3-4]\n');
    expect(s.diagnostics.map((d) => `${d.rule} ${d.line}:${d.column}`)).toEqual(['slurm/unknown-key 1:31', 'node/duplicate-name 3:1']);
  });

  it('gres.conf lines by node', () => {
    const g = parseGresConf('gres.conf', 'NodeName=g[1-2] Name=gpu Type=a100 File=/dev/nvidia[0-3]\nAutoDetect=nvml\n');
    expect(g.lines[0]!.nodes).toEqual(['g1', 'g2']);
    expect(g.unscoped.map((u) => u.key)).toEqual(['AutoDetect']);
  });
});

describe('installed RAM from RealMemory', () => {
  it('herd turns the memory the import writes back into the same RealMemory', () => {
    for (let real = 1; real < 4_000_000; real += real < 20_000 ? 7 : 9973) {
      const m = memoryForRealMemory(real);
      const mib = parseSizeMiB(m)!;
      expect(mib - kernelReserveMiB(mib), String(real)).toBe(real);
    }
  });
  it('prefers whole GiB', () => {
    expect(memoryForRealMemory(3840)).toBe('4GiB');
    expect(memoryForRealMemory(6144 - 256)).toBe('6GiB');
  });
});
