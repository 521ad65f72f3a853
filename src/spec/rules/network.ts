// Network rules (pure): duplicate MACs and addresses, collisions with the head, and the DHCP pool.
import { diagnosticAt, relatedAt, type Diagnostic, type SourceRef } from '../../diagnostics/diagnostic.ts';
import { inNetwork, parseCidr, parseIPv4 } from '../ipv4.ts';
import type { RuleCheck } from './rule.ts';

/** Warewulf keeps only the last node of a duplicated MAC (warewulf#1264); duplicated addresses break hosts files and leases. */
export const checkNetworkUniqueness: RuleCheck = ({ model }) => {
  const out: Diagnostic[] = [];
  const macs = new Map<string, { node: string; at: SourceRef | undefined }>();
  const addrs = new Map<string, { node: string; at: SourceRef | undefined }>();
  addrs.set(model.head.address, { node: `head ${model.head.name}`, at: model.head.at });
  if (model.network.gateway && model.network.gateway !== model.head.address) addrs.set(model.network.gateway, { node: 'the gateway', at: model.network.at });
  for (const n of model.nodes) {
    if (n.mac) {
      const prev = macs.get(n.mac);
      if (prev) out.push(diagnosticAt(n.at.mac, 'net/duplicate-mac', 'error', `${n.name} has MAC ${n.mac}, already used by ${prev.node}`, 'each node needs its own MAC: Warewulf would silently boot only one of them', [relatedAt(prev.at, `${prev.node} uses it here`)]));
      else macs.set(n.mac, { node: n.name, at: n.at.mac });
    }
    if (n.address) {
      const prev = addrs.get(n.address);
      if (prev) {
        const isHead = prev.node.startsWith('head ');
        out.push(diagnosticAt(n.at.address, isHead ? 'net/head-address-conflict' : 'net/duplicate-address', 'error', `${n.name} has address ${n.address}, already used by ${prev.node}`, isHead ? 'node addresses must differ from the head address' : 'give every node its own address', [relatedAt(prev.at, `${prev.node} uses it here`)]));
      } else addrs.set(n.address, { node: n.name, at: n.at.address });
    }
  }
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
