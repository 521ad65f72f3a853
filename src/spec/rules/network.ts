// Network rules (pure): duplicate MACs and addresses, collisions with the head, and the DHCP pool.
import { diagnosticAt, relatedAt, type Diagnostic, type SourceRef } from '../../diagnostics/diagnostic.ts';
import { inNetwork, parseCidr, parseIPv4 } from '../ipv4.ts';
import type { RuleCheck } from './rule.ts';

/** Warewulf keeps only the last node of a duplicated MAC (warewulf#1264); duplicated addresses break hosts files and leases. */
export const checkNetworkUniqueness: RuleCheck = ({ model }) => {
  const out: Diagnostic[] = [];
  // Values map to the index of the node that has them (-1: the head, -2: the gateway), not to a record per node: 100,000 nodes.
  const macs = new Map<string, number>();
  const addrs = new Map<string, number>();
  addrs.set(model.head.address, -1);
  if (model.network.gateway && model.network.gateway !== model.head.address) addrs.set(model.network.gateway, -2);
  const addressOwner = (k: number): { node: string; at: SourceRef | undefined; isHead: boolean } =>
    k === -1 ? { node: `head ${model.head.name}`, at: model.head.at, isHead: true } : k === -2 ? { node: 'the gateway', at: model.network.at, isHead: false } : { node: model.nodes[k]!.name, at: model.nodes[k]!.at.address, isHead: false };
  model.nodes.forEach((n, i) => {
    if (n.mac) {
      const k = macs.get(n.mac);
      if (k !== undefined) {
        const prev = model.nodes[k]!;
        out.push(diagnosticAt(n.at.mac, 'net/duplicate-mac', 'error', `${n.name} has MAC ${n.mac}, already used by ${prev.name}`, 'each node needs its own MAC: Warewulf would silently boot only one of them', [relatedAt(prev.at.mac, `${prev.name} uses it here`)]));
      } else macs.set(n.mac, i);
    }
    if (n.address) {
      const k = addrs.get(n.address);
      if (k !== undefined) {
        const prev = addressOwner(k);
        out.push(diagnosticAt(n.at.address, prev.isHead ? 'net/head-address-conflict' : 'net/duplicate-address', 'error', `${n.name} has address ${n.address}, already used by ${prev.node}`, prev.isHead ? 'node addresses must differ from the head address' : 'give every node its own address', [relatedAt(prev.at, `${prev.node} uses it here`)]));
      } else addrs.set(n.address, i);
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
