// The resolved ClusterModel: the lab's values read off its spec by hand, address/MAC assignment forms, the inventory join, immutability.
import { describe, expect, it } from 'vitest';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkSpec } from '../../../src/spec/check-spec.ts';
import { loadSpecFromDisk } from '../../../src/spec/load-from-disk.ts';
import type { ClusterModel } from '../../../src/spec/model.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** A small valid spec; `nodes` is the body of the nodes: map, `extra` more top-level YAML. */
function spec(nodes: string, extra = ''): string {
  return `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: t
head: { name: head, address: 10.0.0.1 }
network: { cidr: 10.0.0.0/24, interface: eth0 }
images:
  img: { source: "docker://example.org/img:1@${DIGEST}", requires: [slurmd, munged] }
defaults: { image: img }
nodes:
${nodes}${extra}`;
}

function model(text: string, aux: { inventory?: string; overlayFiles?: Record<string, string[]> } = {}): ClusterModel {
  const r = checkSpec('cluster.yaml', text, () => ({
    overlayFiles: aux.overlayFiles ?? {},
    ...(aux.inventory !== undefined ? { inventory: { file: 'nodes.csv', text: aux.inventory } } : {}),
  }));
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0 || !r.model) throw new Error(`unexpected errors:\n${errors.map((d) => `${d.rule} ${d.line}:${d.column} ${d.message}`).join('\n')}`);
  return r.model;
}

const node = (m: ClusterModel, name: string) => {
  const n = m.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
};

describe('the lab (clusters/lab/cluster.yaml)', () => {
  const lab = loadSpecFromDisk('clusters/lab', REPO);
  const m = lab.model!;

  it('resolves', () => {
    expect(lab.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(m).toBeDefined();
    expect(m.name).toBe('lab');
    expect(m.nodes.map((n) => n.name)).toEqual(['c1', 'c2']);
  });

  it('gives c1 the values written in the spec, with the prefix from network.cidr', () => {
    const c1 = node(m, 'c1');
    expect(c1).toMatchObject({ address: '10.0.0.2', mac: '52:54:00:aa:00:01', prefix: 24, netmask: '255.255.255.0', image: 'rockylinux-10', memoryMiB: 6144, device: 'enp1s0', driver: 'virtio_net', cpus: 2, sockets: 1, coresPerSocket: 2, threadsPerCore: 1, gateway: '10.0.0.1', profiles: ['compute'] });
    expect(c1.partitions).toEqual(['normal', 'owners']);
    expect(node(m, 'c2')).toMatchObject({ address: '10.0.0.3', mac: '52:54:00:aa:00:02' });
  });

  it('splits overlays by kind: herd\'s base list (one network stack), then the site overlay as system', () => {
    const c1 = node(m, 'c1');
    expect(c1.systemOverlays).toEqual(['wwinit', 'wwclient', 'hostname', 'systemd.netname', 'NetworkManager', 'fstab', 'ssh.host_keys', 'herd-boot', 'slurm-node']);
    expect(c1.systemOverlays).not.toContain('debian.interfaces'); // Warewulf's four stacks are not herd's: one, from the spec
    expect(c1.runtimeOverlays).toEqual(['hosts', 'ssh.authorized_keys', 'syncuser', 'herd-slurm']);
    expect(c1.systemOverlays.filter((o) => c1.runtimeOverlays.includes(o))).toEqual([]);
    expect(m.overlays['slurm-node']).toMatchObject({ kind: 'system', builtin: false, source: 'overlays/slurm-node', files: ['etc/tmpfiles.d/slurm.conf'] });
  });

  it('remembers where memory came from: the profile line, not the node', () => {
    // clusters/lab/cluster.yaml line 50 is `    memory: 6GiB` under profiles.compute; the value starts at column 13.
    expect(node(m, 'c1').at.memory).toMatchObject({ file: 'clusters/lab/cluster.yaml', line: 50, column: 13, path: ['profiles', 'compute', 'memory'] });
  });

  it('derives network, Slurm and Warewulf settings', () => {
    expect(m.network).toMatchObject({ cidr: '10.0.0.0/24', network: '10.0.0.0', broadcast: '10.0.0.255', netmask: '255.255.255.0', prefix: 24 });
    expect(m.warewulf).toMatchObject({ version: '4.6.4', layout: 'openhpc', stateDir: 'srv/warewulf' });
    expect(m.slurm.partitions.map((p) => [p.name, p.nodes, p.default, p.maxTime, p.priorityTier])).toEqual([
      ['normal', ['c1', 'c2'], true, '02:00:00', 1],
      ['owners', ['c1', 'c2'], false, '1-00:00:00', 10],
    ]);
    // Different priority tiers turn partition preemption on (REQUEUE by default).
    expect(m.slurm).toMatchObject({ preemptMode: 'REQUEUE', preemptType: 'preempt/partition_prio', clusterName: 'lab', returnToService: 2 });
    expect(m.images['rockylinux-10']).toMatchObject({ sizeMiB: 2048, sourceKind: 'docker', nodes: ['c1', 'c2'], requires: ['slurmd', 'munged', 'mount.nfs'] });
    expect(m.nfs).toMatchObject([{ mountPoint: '/home', server: '10.0.0.1', export: '/home', options: 'defaults,nofail,_netdev' }]);
    // The DHCP pool never contains a static address.
    const last = (a: string): number => Number(a.split('.')[3]);
    expect(last(m.network.dhcpRange.start)).toBeGreaterThan(3);
  });

  it('is deeply frozen', () => {
    const frozen = (v: unknown, path: string): void => {
      if (v === null || typeof v !== 'object') return;
      expect(Object.isFrozen(v), path).toBe(true);
      for (const [k, x] of Object.entries(v)) frozen(x, `${path}.${k}`);
    };
    frozen(m, 'model');
    expect(() => {
      (node(m, 'c1') as { address: string }).address = '10.0.0.99';
    }).toThrow(TypeError);
    expect(() => (m.nodes as unknown as string[]).push('x')).toThrow(TypeError);
  });
});

describe('address and MAC assignment', () => {
  it('counts addresses up from the first for a range, in hostlist order', () => {
    const m = model(spec('  c[1-3]: { mac: ["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"], address: 10.0.0.10 }\n'));
    expect(m.nodes.map((n) => [n.name, n.address, n.mac])).toEqual([
      ['c1', '10.0.0.10', '52:54:00:00:00:01'],
      ['c2', '10.0.0.11', '52:54:00:00:00:02'],
      ['c3', '10.0.0.12', '52:54:00:00:00:03'],
    ]);
  });

  it('takes an address list in hostlist order, and counts across an octet boundary', () => {
    const m = model(spec('  n[09-10]: { mac: { n09: "52:54:00:00:00:09", n10: "52:54:00:00:00:10" }, address: [10.0.0.40, 10.0.0.30] }\n  x[1-3]: { mac: ["52:54:00:00:01:01", "52:54:00:00:01:02", "52:54:00:00:01:03"], address: 10.0.0.200 }\n', '').replace('10.0.0.0/24', '10.0.0.0/23'));
    expect(m.nodes.map((n) => [n.name, n.address])).toEqual([
      ['n09', '10.0.0.40'],
      ['n10', '10.0.0.30'],
      ['x1', '10.0.0.200'],
      ['x2', '10.0.0.201'],
      ['x3', '10.0.0.202'],
    ]);
  });

  it('takes a name -> MAC map, normalising case and separators', () => {
    const m = model(spec('  g[1-2]: { mac: { g2: "52-54-00-BB-00-02", g1: "52:54:00:bb:00:01" }, address: 10.0.0.20 }\n'));
    expect(m.nodes.map((n) => [n.name, n.mac])).toEqual([
      ['g1', '52:54:00:bb:00:01'],
      ['g2', '52:54:00:bb:00:02'],
    ]);
  });

  it('joins the inventory by name (not by row order): MACs, addresses and extra columns as tags', () => {
    const inventory = 'name,mac,address,serial\nc2,52:54:00:aa:00:02,10.0.0.12,SN2\nc1,52:54:00:aa:00:01,,SN1\n';
    const m = model(spec('  c[1-2]: { address: 10.0.0.11 }\n', 'inventory: nodes.csv\n'), { inventory });
    const c1 = node(m, 'c1');
    const c2 = node(m, 'c2');
    expect([c1.mac, c1.address, c1.tags.serial]).toEqual(['52:54:00:aa:00:01', '10.0.0.11', 'SN1']);
    expect([c2.mac, c2.address, c2.tags.serial]).toEqual(['52:54:00:aa:00:02', '10.0.0.12', 'SN2']);
    // Provenance of a joined value points into the CSV.
    expect(c2.at.mac).toMatchObject({ file: 'nodes.csv', line: 2, column: 4 });
  });

  it('merges defaults -> profiles -> entry, last setter winning, and records where each value came from', () => {
    const text = spec('  c1: { profiles: [a, b], memory: 4GiB, mac: "52:54:00:00:00:01", address: 10.0.0.5 }\n', 'profiles:\n  a: { memory: 1GiB, cpus: 4, tags: { x: a } }\n  b: { cpus: 8, tags: { y: b } }\n');
    const c1 = node(model(text), 'c1');
    expect([c1.memoryMiB, c1.cpus, c1.tags, c1.image]).toEqual([4096, 8, { x: 'a', y: 'b' }, 'img']);
    expect(c1.at.cpus?.path).toEqual(['profiles', 'b', 'cpus']);
    expect(c1.at.memory?.path).toEqual(['nodes', 'c1', 'memory']);
    expect(c1.at.image?.path).toEqual(['defaults', 'image']);
  });
});

describe('known defects', () => {
  it('~name in a node\'s overlays removes an inherited base overlay', () => {
    const m = model(spec('  c1: { overlays: ["~syncuser"], mac: "52:54:00:00:00:01", address: 10.0.0.5 }\n'));
    expect(node(m, 'c1').runtimeOverlays).not.toContain('syncuser');
  });

  it('an address with stray whitespace is either rejected or normalised and checked for duplicates', () => {
    const r = checkSpec('cluster.yaml', spec('  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2 }\n  c2: { mac: "52:54:00:00:00:02", address: "10.0.0.2 " }\n'), () => ({ overlayFiles: {} }));
    expect(r.diagnostics.some((d) => d.rule === 'net/duplicate-address' || d.rule === 'net/malformed-address')).toBe(true);
  });

  // A key `__proto__` would vanish in zod's record parse (it sets the prototype), so the loader refuses it outright.
  it('a node named __proto__ is reported, not silently dropped', () => {
    const r = checkSpec('cluster.yaml', spec('  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2 }\n  __proto__: { mac: "52:54:00:00:00:02", address: 10.0.0.3 }\n'), () => ({ overlayFiles: {} }));
    expect(r.diagnostics.find((d) => d.rule === 'yaml/syntax')).toMatchObject({ line: 11, message: 'the key __proto__ is reserved' });
  });
});

describe('kernel arguments, BMC settings and discoverable down the chain', () => {
  const text = `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: t
warewulf: { cluster_name: "" }
head: { name: head, address: 10.0.0.1 }
network: { cidr: 10.0.0.0/24, interface: eth0 }
images:
  img: { source: "docker://example.org/img:1@${DIGEST}", requires: [slurmd, munged], kernel: { args: [quiet, rhgb, crashkernel=no] } }
defaults: { image: img, kernel_args: [console=ttyS0], ipmi: { username: admin, port: 623, tags: { vlan: "7" } } }
profiles:
  gpu: { kernel_args: [~rhgb, nouveau.modeset=0], ipmi: { netmask: 255.255.255.0, write: true, tags: { site: a } } }
nodes:
  c[1-3]: { mac: ["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"], address: 10.0.0.2, ipmi: { address: 10.1.0.11 } }
  g1: { profiles: [gpu], mac: "52:54:00:00:01:01", address: 10.0.0.20, kernel_args: [~quiet, ~console=ttyS0, quiet], discoverable: false, ipmi: { address: 10.1.0.50 } }
`;
  it("appends each layer's kernel_args to the image's, a ~arg removing every earlier one; nodes booting alike share one list", () => {
    const m = model(text);
    expect(node(m, 'c1').kernelArgs).toEqual(['quiet', 'rhgb', 'crashkernel=no', 'console=ttyS0']);
    expect(node(m, 'c3').kernelArgs).toBe(node(m, 'c1').kernelArgs);
    expect(node(m, 'g1').kernelArgs).toEqual(['crashkernel=no', 'nouveau.modeset=0', 'quiet']);
    // The image's own list is unchanged.
    expect(m.images.img!.kernel.args).toEqual(['quiet', 'rhgb', 'crashkernel=no']);
  });
  it('merges ipmi by key (tags by tag), counts a range entry\'s BMC address, and keeps discoverable and the cluster name', () => {
    const m = model(text);
    expect(node(m, 'c1').ipmi).toEqual({ address: '10.1.0.11', username: 'admin', port: '623', tags: { vlan: '7' } });
    expect(node(m, 'c3').ipmi?.address).toBe('10.1.0.13');
    expect(node(m, 'g1').ipmi).toEqual({ address: '10.1.0.50', username: 'admin', port: '623', netmask: '255.255.255.0', write: true, tags: { vlan: '7', site: 'a' } });
    expect(node(m, 'g1').discoverable).toBe(false);
    expect(node(m, 'c1').discoverable).toBeUndefined();
    expect(m.warewulf.clusterName).toBe('');
  });
});

describe('BMC addresses refused on a range entry', () => {
  it('give its nodes no address, so the one error is not followed by duplicates of the start address', () => {
    const text = spec('  "c[1-3]": { mac: ["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"], address: 10.0.0.2, ipmi: { address: 255.255.255.254, netmask: 255.255.255.0 } }\n  "d[1-2]": { mac: ["52:54:00:00:01:01", "52:54:00:00:01:02"], address: 10.0.0.20, ipmi: { address: [10.1.0.1] } }\n');
    const r = checkSpec('cluster.yaml', text, () => ({ overlayFiles: {} }));
    expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.rule).sort()).toEqual(['net/address-range-overflow', 'node/list-size-mismatch']);
  });
});

describe('a BMC address shares the cluster\'s address space', () => {
  it('is refused on its own node\'s address, on another device\'s and on another BMC\'s, and a later node\'s address on a BMC\'s', () => {
    const text = spec(
      [
        '  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2, ipmi: { address: 10.0.0.2 } }',
        '  c2: { mac: "52:54:00:00:00:02", address: 10.0.0.3, networks: { ib0: { address: 10.30.0.3, netmask: 255.255.0.0 } } }',
        '  c3: { mac: "52:54:00:00:00:03", address: 10.0.0.4, ipmi: { address: 10.30.0.3 } }',
        '  c4: { mac: "52:54:00:00:00:04", address: 10.0.0.5, ipmi: { address: 10.0.0.6 } }',
        '  c5: { mac: "52:54:00:00:00:05", address: 10.0.0.6 }',
        '',
      ].join('\n'),
    );
    const r = checkSpec('cluster.yaml', text, () => ({ overlayFiles: {} }));
    expect(r.diagnostics.filter((d) => d.rule === 'net/duplicate-address').map((d) => d.message)).toEqual([
      'the BMC of c1 has address 10.0.0.2, already used by c1',
      'the BMC of c3 has address 10.30.0.3, already used by c2',
      'c5 has address 10.0.0.6, already used by the BMC of c4',
    ]);
  });
});
