// Network rules (pure): duplicate MACs and addresses, collisions with the head, and the DHCP pool.
import { diagnosticAt, relatedAt, type Diagnostic, type SourceRef } from '../../diagnostics/diagnostic.ts';
import { inNetwork, netmaskToPrefix, normalizeMac, parseCidr, parseIPv4 } from '../ipv4.ts';
import { parseIPv6 } from '../ipv6.ts';
import type { RuleCheck } from './rule.ts';

/** Warewulf keeps only the last node of a duplicated MAC (warewulf#1264); duplicated addresses break hosts files and leases. */
export const checkNetworkUniqueness: RuleCheck = ({ model }) => {
  const out: Diagnostic[] = [];
  // Values map to the index of the node that has them (-1: the head, -2: the gateway), not to a record per node: 100,000 nodes.
  const macs = new Map<string, number>();
  const addrs = new Map<string, number>();
  addrs.set(model.head.address, -1);
  if (model.network.gateway && model.network.gateway !== model.head.address) addrs.set(model.network.gateway, -2);
  // Where addresses other than a node's provisioning IPv4 one were set (IPv6, other devices, BMCs; MACs as `mac <mac>`): few, so kept by value.
  const otherAt = new Map<string, SourceRef | undefined>();
  const bmcs = new Set<string>();
  const addressOwner = (k: number, a?: string): { node: string; name: string; at: SourceRef | undefined; isHead: boolean } => {
    if (k === -1) return { node: `head ${model.head.name}`, name: `head ${model.head.name}`, at: model.head.at, isHead: true };
    if (k === -2) return { node: 'the gateway', name: 'the gateway', at: model.network.at, isHead: false };
    const name = model.nodes[k]!.name;
    return { node: a !== undefined && bmcs.has(a) ? `the BMC of ${name}` : name, name, at: (a !== undefined && otherAt.has(a) ? otherAt.get(a) : undefined) ?? model.nodes[k]!.at.address, isHead: false };
  };
  model.nodes.forEach((n, i) => {
    if (n.mac) {
      const k = macs.get(n.mac);
      if (k !== undefined) {
        const prev = model.nodes[k]!;
        out.push(diagnosticAt(n.at.mac, 'net/duplicate-mac', 'error', `${n.name} has MAC ${n.mac}, already used by ${prev.name}`, 'each node needs its own MAC: Warewulf would silently boot only one of them', [relatedAt(otherAt.get(`mac ${n.mac}`) ?? prev.at.mac, `${prev.name} uses it here`)]));
      } else macs.set(n.mac, i);
    }
    if (n.address) {
      const k = addrs.get(n.address);
      if (k !== undefined) {
        const prev = addressOwner(k, n.address);
        out.push(diagnosticAt(n.at.address, prev.isHead ? 'net/head-address-conflict' : 'net/duplicate-address', 'error', `${n.name} has address ${n.address}, already used by ${prev.node}`, prev.isHead ? 'node addresses must differ from the head address' : 'give every node its own address', [relatedAt(prev.at, `${prev.node} uses it here`)]));
      } else addrs.set(n.address, i);
    }
    for (const d of n.networks) {
      if (d.mac) {
        const k = macs.get(d.mac);
        if (k !== undefined && k !== i) {
          const prev = model.nodes[k]!;
          out.push(diagnosticAt(d.at.mac, 'net/duplicate-mac', 'error', `${n.name} network ${d.name} has MAC ${d.mac}, already used by ${prev.name}`, 'each NIC has its own MAC', [relatedAt(otherAt.get(`mac ${d.mac}`) ?? prev.at.mac, `${prev.name} uses it here`)]));
        } else if (k === undefined) {
          macs.set(d.mac, i);
          otherAt.set(`mac ${d.mac}`, d.at.mac);
        }
      }
      for (const a of [d.address, d.address6]) {
        if (!a) continue;
        const k = addrs.get(a);
        const at = d.at[a === d.address ? 'address' : 'address6'];
        if (k !== undefined) {
          const prev = addressOwner(k, a);
          out.push(diagnosticAt(at, prev.isHead ? 'net/head-address-conflict' : 'net/duplicate-address', 'error', `${n.name} network ${d.name} has address ${a}, already used by ${prev.node}`, 'give every device its own address', [relatedAt(prev.at, `${prev.node} uses it here`)]));
        } else {
          addrs.set(a, i);
          otherAt.set(a, at);
        }
      }
    }
    // The BMC shares the address space: ipmitool would reach the wrong machine, and wwinit's ipmi write would move the BMC
    // onto a host's address (its own node's included).
    const bmc = n.ipmi?.address;
    if (bmc !== undefined && parseIPv4(bmc) !== undefined) {
      const at = n.at['ipmi.address'] ?? n.at.ipmi;
      const k = addrs.get(bmc);
      if (k !== undefined) {
        const prev = addressOwner(k, bmc);
        out.push(diagnosticAt(at, 'net/duplicate-address', 'error', `the BMC of ${n.name} has address ${bmc}, already used by ${prev.node}`, "give every BMC its own address, apart from the nodes' and the head's", [relatedAt(prev.at, `${prev.name} uses it here`)]));
      } else {
        addrs.set(bmc, i);
        otherAt.set(bmc, at);
        bmcs.add(bmc);
      }
    }
    if (n.address6) {
      const k = addrs.get(n.address6);
      if (k !== undefined) {
        const prev = addressOwner(k, n.address6);
        out.push(diagnosticAt(n.at.address6, 'net/duplicate-address', 'error', `${n.name} has IPv6 address ${n.address6}, already used by ${prev.node}`, 'give every node its own address', [relatedAt(prev.at, `${prev.node} uses it here`)]));
      } else {
        addrs.set(n.address6, i);
        otherAt.set(n.address6, n.at.address6);
      }
    }
  });
  return out;
};

/** An explicit DHCP pool must sit inside the network and never hand out a node's static address. */
export const checkDhcpRange: RuleCheck = ({ spec, model, index }) => {
  const range = spec.network.dhcp_range;
  if (!range) return [];
  const at = index.at(['network', 'dhcp_range']);
  const s = parseIPv4(range.start);
  const e = parseIPv4(range.end);
  const cidr = parseCidr(spec.network.cidr);
  if (s === undefined || e === undefined) return [diagnosticAt(at, 'net/malformed-address', 'error', `dhcp_range ${range.start}-${range.end} is not a pair of IPv4 addresses`, 'write start and end as dotted IPv4 addresses')];
  if (e < s) return [diagnosticAt(at, 'net/dhcp-range-overlap', 'error', `dhcp_range runs backwards (${range.start} > ${range.end})`, 'swap start and end')];
  if (cidr.ok && (!inNetwork(s, cidr.net) || !inNetwork(e, cidr.net))) return [diagnosticAt(at, 'net/address-outside-network', 'error', `dhcp_range ${range.start}-${range.end} is not inside ${spec.network.cidr}`, 'keep the pool inside the provisioning network')];
  const clashes = [{ name: `head ${model.head.name}`, address: model.head.address }, ...model.nodes].filter((n) => {
    const ip = parseIPv4(n.address);
    return ip !== undefined && ip >= s && ip <= e;
  });
  if (clashes.length === 0) return [];
  const names = clashes.slice(0, 5).map((n) => `${n.name} (${n.address})`).join(', ');
  return [diagnosticAt(at, 'net/dhcp-range-overlap', 'error', `dhcp_range ${range.start}-${range.end} contains static addresses: ${names}${clashes.length > 5 ? ', …' : ''}`, 'move the pool out of the static addresses, or omit dhcp_range to let herd pick a free block')];
};

/** An InfiniBand hardware address: 20 bytes (queue pair number, GID), as `ip link` shows it. */
const IB_HWADDR = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){19}$/;

/**
 * The other network devices and IPv6, as Warewulf's overlay templates read them: addresses Go's net.IP parses (or Warewulf
 * refuses the whole nodes.conf), a netmask beside every IPv4 address and a prefix beside every IPv6 one (else the keyfile's
 * address is blank: the seed's trap), MACs of a NIC, a VLAN's parent and id, a bond member's bond. Nodes of one entry share
 * the place of a value, so each place is reported once.
 */
export const checkNetworkDevices: RuleCheck = ({ spec, model }) => {
  const out: Diagnostic[] = [];
  // A node using a profile dropped for a shape error misses what the profile gave: its "missing" findings are follow-ons.
  const defined = new Set(Object.keys(spec.profiles ?? {}));
  const seen = new Set<string>();
  const report = (at: SourceRef | undefined, rule: string, severity: 'error' | 'warning', message: string, hint: string): void => {
    const key = `${rule}|${at?.file}:${at?.line}:${at?.column}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(diagnosticAt(at, rule, severity, message, hint));
  };
  const v465 = model.warewulf.version === '4.6.5';
  const ipv6 = (n: { name: string }, what: string, address6: string | undefined, prefix6: number | undefined, gateway6: string | undefined, at: Readonly<Record<string, SourceRef>>, atPrefix: SourceRef | undefined, partial: boolean): void => {
    if (address6 !== undefined && parseIPv6(address6) === undefined) report(at.address6, 'net/malformed-address', 'error', `${what} address6 "${address6}" is not an IPv6 address (node ${n.name})`, 'write an IPv6 address such as fd00::11, without a /prefix (that is prefix6)');
    if (gateway6 !== undefined && parseIPv6(gateway6) === undefined) report(at.gateway6, 'net/malformed-address', 'error', `${what} gateway6 "${gateway6}" is not an IPv6 address (node ${n.name})`, 'write an IPv6 address such as fd00::1');
    if (address6 !== undefined && prefix6 === undefined && !partial) report(at.address6, 'net/missing-prefix6', 'warning', `${what} has IPv6 address ${address6} but no prefix6 (node ${n.name}): Warewulf's own network templates then write no IPv6 address`, 'set prefix6 (e.g. 64); herd\'s overlays assume 64 meanwhile');
    if (gateway6 !== undefined && !v465) report(at.gateway6 ?? atPrefix, 'net/gateway6-unsupported', 'error', `${what} gateway6 needs Warewulf 4.6.5 (node ${n.name}; warewulf.version is ${model.warewulf.version})`, 'remove gateway6 or set warewulf.version to 4.6.5: earlier releases have no gateway6 key and would drop it silently');
  };
  for (const n of model.nodes) {
    const partial = n.profiles.some((p) => !defined.has(p));
    ipv6(n, 'the provisioning NIC', n.address6, n.prefix6, n.gateway6, n.at, n.at.prefix6, partial);
    if (n.networks.length === 0) continue;
    const bonds = new Set(n.networks.filter((d) => d.type === 'bond').flatMap((d) => [d.name, ...(d.device ? [d.device] : [])]));
    for (const d of n.networks) {
      const what = `network ${d.name}`;
      if (d.name === n.netname) report(d.at.self, 'net/netname-conflict', 'error', `network ${d.name} has the name of the provisioning NIC (${n.at.netname ? 'netname' : 'network.netname'}) (node ${n.name})`, 'give the device another name; the provisioning NIC is set by device, mac and address on the node');
      for (const k of ['address', 'netmask', 'gateway'] as const) {
        const v = d[k];
        if (v !== undefined && parseIPv4(v) === undefined) report(d.at[k], v.includes('/') ? 'net/address-with-prefix' : 'net/malformed-address', 'error', `${what} ${k} "${v}" is not ${k === 'netmask' ? 'a dotted netmask' : 'an IPv4 address'} (node ${n.name})`, k === 'netmask' ? 'write a dotted netmask such as 255.255.0.0' : 'write a dotted IPv4 address without a /prefix (the prefix comes from netmask)');
      }
      if (d.netmask !== undefined && parseIPv4(d.netmask) !== undefined && netmaskToPrefix(parseIPv4(d.netmask)!) === undefined) report(d.at.netmask, 'net/malformed-address', 'error', `${what} netmask ${d.netmask} is not contiguous (node ${n.name})`, 'write a netmask such as 255.255.0.0');
      if (d.address !== undefined && d.netmask === undefined && !partial) report(d.at.address, 'net/missing-netmask', 'error', `${what} has address ${d.address} but no netmask (node ${n.name}): Warewulf writes a blank address= and the device comes up without an IP`, `set networks.${d.name}.netmask`);
      if (d.mac !== undefined && !(d.type === 'infiniband' && IB_HWADDR.test(d.mac))) {
        const m = normalizeMac(d.mac);
        if (!m) report(d.at.mac, 'net/malformed-mac', 'error', `${what} mac "${d.mac}" is not a MAC address (node ${n.name})`, 'write six hex pairs separated by colons, e.g. 52:54:00:aa:00:01');
        else if (parseInt(m.slice(0, 2), 16) & 1) report(d.at.mac, 'net/malformed-mac', 'error', `${what} mac ${d.mac} is a multicast MAC and cannot belong to a NIC (node ${n.name})`, 'check the MAC; the first byte of a NIC address is even');
      }
      ipv6(n, what, d.address6, d.prefix6, d.gateway6, d.at, d.at.self, partial);
      if (partial) continue;
      if (d.type === 'vlan') {
        const id = d.tags.vlan_id;
        if (d.tags.parent_device === undefined || id === undefined) report(d.at.type ?? d.at.self, 'net/vlan-incomplete', 'error', `VLAN ${d.name} has no ${d.tags.parent_device === undefined ? 'tags.parent_device' : 'tags.vlan_id'} (node ${n.name})`, 'set tags.parent_device (the device it rides on, e.g. bond0) and tags.vlan_id (1-4094): Warewulf\'s templates read both');
        else if (!/^\d+$/.test(id) || Number(id) < 1 || Number(id) > 4094) report(d.at.tags, 'net/vlan-incomplete', 'error', `VLAN ${d.name} has vlan_id "${id}", not a VLAN id (node ${n.name})`, 'a VLAN id is a number from 1 to 4094');
      }
      const master = d.tags.master;
      if (master !== undefined && !bonds.has(master)) report(d.at.tags, 'net/unknown-bond', 'error', `network ${d.name} is a member of bond "${master}", which is no bond network of node ${n.name}`, `define networks.${master} with type: bond, or fix tags.master`);
    }
  }
  return out;
};
