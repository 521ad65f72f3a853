// IPMI rules (pure): BMC addresses are addresses Warewulf stores as Go net.IP, and each BMC needs its own.
import { diagnosticAt, relatedAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { netmaskToPrefix, parseIPv4 } from '../ipv4.ts';
import type { RuleCheck } from './rule.ts';

/**
 * Malformed BMC address, netmask or gateway (Warewulf's nodes.conf parse fails on them); two BMCs with one address, or a
 * BMC on a node's or the head's provisioning address (ipmitool would reach the wrong machine, and wwinit's ipmi write would
 * move a BMC onto it); a BMC written at boot without a netmask (the BMC keeps whatever mask it had).
 */
export const checkIpmi: RuleCheck = ({ model }) => {
  const out: Diagnostic[] = [];
  const owners = new Map<string, { name: string; bmc: boolean; i: number }>();
  owners.set(model.head.address, { name: `head ${model.head.name}`, bmc: false, i: -1 });
  model.nodes.forEach((n, i) => {
    if (n.address && !owners.has(n.address)) owners.set(n.address, { name: n.name, bmc: false, i });
  });
  const reported = new Set<string>();
  model.nodes.forEach((n, i) => {
    const b = n.ipmi;
    if (!b) return;
    const at = n.at['ipmi.address'] ?? n.at.ipmi;
    for (const k of ['address', 'netmask', 'gateway'] as const) {
      const v = b[k];
      if (v === undefined) continue;
      const ip = parseIPv4(v);
      const bad = ip === undefined || (k === 'netmask' && netmaskToPrefix(ip) === undefined);
      const key = `${k}|${v}|${String(n.at.ipmi?.line)}`;
      if (bad && !reported.has(key)) {
        reported.add(key);
        out.push(diagnosticAt(k === 'address' ? at : n.at.ipmi, 'net/malformed-address', 'error', `ipmi ${k} "${v}" is not ${k === 'netmask' ? 'a dotted netmask' : 'an IPv4 address'} (node ${n.name})`, k === 'netmask' ? 'write a netmask such as 255.255.255.0' : 'write a dotted IPv4 address such as 10.1.0.2'));
      }
    }
    if (b.address !== undefined && parseIPv4(b.address) !== undefined) {
      const prev = owners.get(b.address);
      if (prev !== undefined && prev.i !== i) {
        const prevNode = prev.i >= 0 ? model.nodes[prev.i]! : undefined;
        const prevAt = prevNode ? (prev.bmc ? prevNode.at['ipmi.address'] ?? prevNode.at.ipmi : prevNode.at.address) : model.head.at;
        out.push(diagnosticAt(at, 'net/duplicate-address', 'error', `the BMC of ${n.name} has address ${b.address}, already used by ${prev.bmc ? `the BMC of ${prev.name}` : prev.name}`, 'give every BMC its own address, apart from the nodes\' and the head\'s', [relatedAt(prevAt, `${prev.name} uses it here`)]));
      } else if (prev === undefined) owners.set(b.address, { name: n.name, bmc: true, i });
    }
    if (b.write === true && b.address !== undefined && b.netmask === undefined && !reported.has(`mask|${String(n.at.ipmi?.line)}`)) {
      reported.add(`mask|${String(n.at.ipmi?.line)}`);
      out.push(diagnosticAt(n.at.ipmi, 'ipmi/missing-netmask', 'warning', `ipmi write is on for ${n.name} but no ipmi netmask is set: wwinit sets the BMC's address and leaves whatever mask it had`, 'set ipmi.netmask (on defaults or a profile, like the other shared settings)'));
    }
  });
  return out;
};
