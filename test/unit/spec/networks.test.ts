// Other network devices and IPv6 in the spec (networks:, address6/prefix6/gateway6, network.netname): how they merge down
// defaults -> profiles -> node, how per-node values are counted or listed over a range, what the rules refuse, and what
// nodes.conf gets in each Warewulf release's spelling (read back with a YAML parser and merged like Warewulf does).
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkSpec } from '../../../src/spec/check-spec.ts';
import { renderNodesConf } from '../../../src/compile/nodes-conf.ts';
import { compileConfig } from '../../../src/compile/compile-cluster.ts';
import { netdevKeys } from '../../../src/compile/warewulf-keys.ts';
import { addIPv6, formatIPv6, parseIPv6 } from '../../../src/spec/ipv6.ts';
import type { ClusterModel } from '../../../src/spec/model.ts';

function spec(rest: string, network = '', warewulf = '4.6.5'): string {
  return `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: t
warewulf: { version: "${warewulf}" }
head: { name: h, address: 10.0.0.1 }
network: { cidr: 10.0.0.0/24, interface: eth0${network} }
images: { i: { source: "oci:x" } }
${rest}`;
}
const check = (text: string) => checkSpec('x.yaml', text, () => ({ overlayFiles: {} }));
function model(text: string): ClusterModel {
  const r = check(text);
  if (!r.model) throw new Error(JSON.stringify(r.diagnostics.map((d) => `${d.rule} ${d.message}`)));
  return r.model;
}
const rules = (text: string): string[] => check(text).diagnostics.map((d) => `${d.rule}@${d.line}:${d.column}`);

const BASE = `defaults:
  image: i
  prefix6: 64
  networks:
    ib0: { type: infiniband, device: ib0, netmask: 255.255.0.0, tags: { a: "1" } }
profiles:
  fast:
    networks:
      ib0: { mtu: 4092, tags: { b: "2" } }
      bond0: { type: bond, device: bond0, netmask: 255.255.0.0, tags: { mode: 802.3ad } }
nodes:
  "c[1-3]":
    profiles: [fast]
    mac: ["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"]
    address: 10.0.0.2
    address6: "fd00::ff"
    networks:
      ib0: { address: 10.30.0.254, tags: { a: "3" } }
      bond0: { address: [172.16.0.9, 172.16.0.2, 172.16.0.5] }
      eno2: { mac: { c2: "52:54:00:BB:00:02" }, tags: { master: bond0 } }
  c9: { mac: "52:54:00:00:00:09", address: 10.0.0.9 }
`;

describe('networks: merging and per-node values', () => {
  const m = model(spec(BASE));
  const byName = (n: string) => m.nodes.find((x) => x.name === n)!;

  it('merges devices by name and then field by field, tags by key, down defaults -> profiles -> node', () => {
    const ib = byName('c2').networks.find((d) => d.name === 'ib0')!;
    expect({ type: ib.type, device: ib.device, netmask: ib.netmask, mtu: ib.mtu, tags: ib.tags }).toEqual({ type: 'infiniband', device: 'ib0', netmask: '255.255.0.0', mtu: 4092, tags: { a: '3', b: '2' } });
    expect(byName('c9').networks.map((d) => d.name)).toEqual(['ib0']);
    expect(byName('c9').networks[0]!.mtu).toBeUndefined();
  });

  it('counts a start address over the range (IPv4 across an octet, IPv6 across a group), takes lists in hostlist order, maps by name', () => {
    expect(['c1', 'c2', 'c3'].map((n) => byName(n).networks.find((d) => d.name === 'ib0')!.address)).toEqual(['10.30.0.254', '10.30.0.255', '10.30.1.0']);
    expect(['c1', 'c2', 'c3'].map((n) => byName(n).address6)).toEqual(['fd00::ff', 'fd00::100', 'fd00::101']);
    expect(['c1', 'c2', 'c3'].map((n) => byName(n).networks.find((d) => d.name === 'bond0')!.address)).toEqual(['172.16.0.9', '172.16.0.2', '172.16.0.5']);
    expect(['c1', 'c2', 'c3'].map((n) => byName(n).networks.find((d) => d.name === 'eno2')!.mac)).toEqual([undefined, '52:54:00:bb:00:02', undefined]);
    expect(byName('c9').address6).toBeUndefined();
  });

  it('points each value at the line that set it', () => {
    const ib = byName('c3').networks.find((d) => d.name === 'ib0')!;
    expect([ib.at.netmask?.line, ib.at.mtu?.line, ib.at.address?.line]).toEqual([12, 16, 25]);
  });
});

describe('networks: nodes.conf', () => {
  const doc = (m: ClusterModel) => parse(renderNodesConf(m, '')) as { nodeprofiles: Record<string, any>; nodes: Record<string, any> };
  /** Warewulf's merge of one node (profiles in order, maps by key, scalars last-wins) as an independent oracle. */
  const merged = (d: ReturnType<typeof doc>, node: string): any => {
    const deep = (a: any, b: any): any => (b && typeof b === 'object' && !Array.isArray(b) ? Object.fromEntries([...new Set([...Object.keys(a ?? {}), ...Object.keys(b)])].map((k) => [k, k in b ? deep(a?.[k], b[k]) : a[k]])) : b);
    let out: any = {};
    for (const p of d.nodes[node].profiles) out = deep(out, d.nodeprofiles[p]);
    return deep(out, d.nodes[node]);
  };

  it('4.6.5: every device with its fields, IPv6 as ipaddr6/prefixlen6/gateway6, only keys Warewulf reads', () => {
    const d = doc(model(spec(BASE.replace('prefix6: 64', 'prefix6: 64\n  gateway6: "fd00::1"'))));
    const c2 = merged(d, 'c2')['network devices'];
    expect(c2.default).toMatchObject({ ipaddr: '10.0.0.3', ipaddr6: 'fd00::100', prefixlen6: '64', gateway6: 'fd00::1' });
    expect(c2.ib0).toEqual({ type: 'infiniband', device: 'ib0', ipaddr: '10.30.0.255', netmask: '255.255.0.0', mtu: '4092', tags: { a: '3', b: '2' } });
    expect(c2.bond0).toEqual({ type: 'bond', device: 'bond0', ipaddr: '172.16.0.2', netmask: '255.255.0.0', tags: { mode: '802.3ad' } });
    expect(c2.eno2).toEqual({ hwaddr: '52:54:00:bb:00:02', tags: { master: 'bond0' } });
    for (const node of Object.keys(d.nodes)) for (const dev of Object.values(merged(d, node)['network devices']) as Record<string, unknown>[]) for (const k of Object.keys(dev)) expect(netdevKeys('4.6.5')).toContain(k);
    // bond0 sorts before default: without `primary network` Warewulf would take it as the primary.
    expect(merged(d, 'c2')['primary network']).toBe('default');
    expect(merged(d, 'c9')['primary network']).toBeUndefined();
  });

  it('before 4.6.5: IPv6 as ip6addr/prefix', () => {
    const d = doc(model(spec(BASE, '', '4.6.4')));
    const prov = merged(d, 'c1')['network devices'].default;
    expect([prov.ip6addr, prov.prefix, prov.ipaddr6, prov.prefixlen6]).toEqual(['fd00::ff', '64', undefined, undefined]);
    for (const k of Object.keys(prov)) expect(netdevKeys('4.6.4')).toContain(k);
  });

  it('network.netname names the provisioning netdev and is always the primary', () => {
    const d = doc(model(spec(BASE, ', netname: prov')));
    expect(Object.keys(merged(d, 'c9')['network devices']).sort()).toEqual(['ib0', 'prov']);
    expect(merged(d, 'c9')['network devices'].prov.ipaddr).toBe('10.0.0.9');
    expect(merged(d, 'c9')['primary network']).toBe('prov');
  });

  it('a node (or profile) netname names its own provisioning netdev, in nodes.conf and in its hosts alias', () => {
    const m = model(spec(BASE.replace('  c9: { mac:', '  c9: { netname: eth0, mac:')));
    expect(m.nodes.find((n) => n.name === 'c9')!.netname).toBe('eth0');
    expect(m.nodes.find((n) => n.name === 'c1')!.netname).toBe('default');
    const d = doc(m);
    expect(Object.keys(merged(d, 'c9')['network devices']).sort()).toEqual(['eth0', 'ib0']);
    expect(merged(d, 'c9')['network devices'].eth0.ipaddr).toBe('10.0.0.9');
    expect(merged(d, 'c9')['primary network']).toBe('eth0');
    expect(merged(d, 'c1')['network devices'].default.ipaddr).toBe('10.0.0.2');
    const hosts = new TextDecoder().decode(compileConfig(m, { specDisplayPath: 'x.yaml' }).find((a) => a.path === 'etc/hosts')!.bytes);
    expect(hosts).toContain('10.0.0.9 c9 c9-eth0\n');
    expect(hosts).toContain('10.0.0.2 c1 c1-default\n');
  });
});

describe('networks: rules', () => {
  const one = (nodes: string, extra = '', ww = '4.6.5') => rules(spec(`defaults: { image: i }\nnodes:\n${nodes}`, extra, ww));
  // Each case: the node lines (from line 10: after the 7 header lines, defaults and nodes:), the text the diagnostic must point at, the rule.
  const CASES: [string, string, string, string?][] = [
    ['  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2, networks: { ib0: { address: 10.30.0.2 } } }', '10.30.0.2', 'net/missing-netmask'],
    // The node's own netname, not network.netname, is the one another device may not take.
    ['  c1: { netname: eth0, mac: "52:54:00:00:00:01", address: 10.0.0.2, networks: { eth0: { type: ethernet } } }', 'eth0: {', 'net/netname-conflict'],
    ['  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2, networks: { e: { mac: "01:00:00:00:00:01" } } }', '"01:', 'net/malformed-mac'],
    // Another node's NIC (one node's devices may share a MAC: a VLAN or bond takes its parent's).
    ['  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2, networks: { e: { mac: "52:54:00:00:00:07" } } }\n  c2: { mac: "52:54:00:00:00:07", address: 10.0.0.3 }', '"52:54:00:00:00:07", address: 10.0.0.3', 'net/duplicate-mac'],
    ['  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2, networks: { e: { address: 10.0.0.2, netmask: 255.255.255.0 } } }', '10.0.0.2, netmask', 'net/duplicate-address'],
    ['  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2, networks: { e: { address: 10.1.0.2, netmask: 255.0.255.0 } } }', '255.0.255.0', 'net/malformed-address'],
    ['  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2, networks: { v: { type: vlan, tags: { parent_device: eth0 } } } }', 'vlan', 'net/vlan-incomplete'],
    ['  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2, networks: { v: { type: vlan, tags: { parent_device: eth0, vlan_id: "5000" } } } }', '{ parent_device', 'net/vlan-incomplete'],
    ['  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2, networks: { e: { tags: { master: bond0 } } } }', '{ master', 'net/unknown-bond'],
    ['  c1: { mac: "52:54:00:00:00:01", address: 10.0.0.2, address6: "fd00::1", prefix6: 64, gateway6: "fd00::ffff" }', '"fd00::ffff"', 'net/gateway6-unsupported', '4.6.3'],
    ['  "c[1-2]": { mac: ["52:54:00:00:00:01", "52:54:00:00:00:02"], address: 10.0.0.2, address6: ["fd00::1"], prefix6: 64 }', '["fd00::1"]', 'node/list-size-mismatch'],
  ];
  for (const [line, at, rule, ww] of CASES) {
    it(`${rule}: ${line.trim().slice(0, 90)}`, () => {
      const before = line.slice(0, line.indexOf(at)).split('\n');
      expect(one(line, '', ww)).toEqual([`${rule}@${9 + before.length}:${before[before.length - 1]!.length + 1}`]);
    });
  }
  it('accepts another device named like network.netname on a node whose provisioning NIC has its own netname, and the reverse', () => {
    expect(one('  c1: { netname: eth0, mac: "52:54:00:00:00:01", address: 10.0.0.2, networks: { default: { netmask: 255.255.255.0, address: 10.1.0.2 } } }\n  c2: { mac: "52:54:00:00:00:02", address: 10.0.0.3, networks: { eth0: { type: ethernet } } }')).toEqual([]);
  });
  it('accepts a bond with its member, a VLAN on it, an InfiniBand port with its 20-byte address', () => {
    expect(one(`  c1:
    mac: "52:54:00:00:00:01"
    address: 10.0.0.2
    networks:
      eno2: { mac: "52:54:00:00:00:02", tags: { master: bond0 } }
      bond0: { type: bond, device: bond0 }
      v20: { type: vlan, device: bond0.20, address: 10.5.0.2, netmask: 255.255.255.0, tags: { parent_device: bond0, vlan_id: "20" } }
      ib0: { type: infiniband, mac: "80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:0b:0c" }`)).toEqual([]);
  });
});

describe('IPv6 values', () => {
  it('parses strictly and writes RFC 5952 text', () => {
    expect(['fd00:0:0:0:0:0:0:1', '2001:DB8:0:0:1:0:0:1', '::', 'fd00::'].map((s) => formatIPv6(parseIPv6(s)!))).toEqual(['fd00::1', '2001:db8::1:0:0:1', '::', 'fd00::']);
    for (const bad of ['fd00::g', '1::2::3', '1:2:3:4:5:6:7:8:9', '10.0.0.1', 'fd00::1/64', '']) expect([bad, parseIPv6(bad)]).toEqual([bad, undefined]);
    // Go's net.ParseIP form (the Warewulf templates' addresses): a dotted IPv4 as the last two groups, only when asked.
    expect(parseIPv6('::ffff:10.0.0.1')).toBeUndefined();
    expect(['::ffff:10.0.0.1', '64:ff9b::192.0.2.33', '1:2:3:4:5:6:1.2.3.4'].map((s) => formatIPv6(parseIPv6(s, { embeddedIPv4: true })!))).toEqual(['::ffff:a00:1', '64:ff9b::c000:221', '1:2:3:4:5:6:102:304']);
    for (const bad of ['::10.0.0.1:1', '::ffff:10.0.0.01', '::ffff:256.0.0.1', '1:2:3:4:5:6:7:1.2.3.4']) expect([bad, parseIPv6(bad, { embeddedIPv4: true })]).toEqual([bad, undefined]);
    expect([addIPv6('fd00::ffff', 1), addIPv6('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 1)]).toEqual(['fd00::1:0', undefined]);
  });
});
