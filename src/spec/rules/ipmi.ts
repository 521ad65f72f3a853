// IPMI rules (pure): BMC addresses are addresses Warewulf stores as Go net.IP. That each BMC has its own address is checked
// with every other address of the cluster, in checkNetworkUniqueness (network.ts).
import { diagnosticAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { netmaskToPrefix, parseIPv4 } from '../ipv4.ts';
import { posix } from 'node:path';
import { settingsLayers, type RuleCheck } from './rule.ts';

/**
 * Malformed BMC address, netmask or gateway (Warewulf's nodes.conf parse fails on them); a BMC written at boot without a
 * netmask (the BMC keeps whatever mask it had).
 */
export const checkIpmi: RuleCheck = ({ model }) => {
  const out: Diagnostic[] = [];
  const reported = new Set<string>();
  for (const n of model.nodes) {
    const b = n.ipmi;
    if (!b) continue;
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
    if (b.write === true && b.address !== undefined && b.netmask === undefined && !reported.has(`mask|${String(n.at.ipmi?.line)}`)) {
      reported.add(`mask|${String(n.at.ipmi?.line)}`);
      out.push(diagnosticAt(n.at.ipmi, 'ipmi/missing-netmask', 'warning', `ipmi write is on for ${n.name} but no ipmi netmask is set: wwinit sets the BMC's address and leaves whatever mask it had`, 'set ipmi.netmask (on defaults or a profile, like the other shared settings)'));
    }
  }
  return out;
};

/**
 * Why a BMC password file may not be read there, or undefined. herd also runs in CI on pull requests anyone can open, and
 * the file's first line goes into nodes.conf and every node's wwinit config: so it must be a file of its own, directly in
 * /etc/herd/ on the head, or (a stand-in head) under the spec folder's .herd/, which is never committed.
 */
export function ipmiPasswordPathProblem(raw: string): string | undefined {
  const norm = posix.normalize(raw);
  if (raw.startsWith('/')) return /^\/etc\/herd\/[^/]+$/.test(norm) && norm !== '/etc/herd/..' ? undefined : 'is not a file directly in /etc/herd/';
  if (norm === '..' || norm.startsWith('../')) return 'climbs out of the spec folder';
  return norm.startsWith('.herd/') && norm !== '.herd/' ? undefined : "is in the spec folder but not under its .herd/ state folder: a password there would be committed to git";
}

/** ipmi.password_file where herd may read it (see ipmiPasswordPathProblem), on defaults, profiles and node entries alike. */
export const checkIpmiPasswordFiles: RuleCheck = ({ spec, index }) => {
  const out: Diagnostic[] = [];
  for (const [path, layer] of settingsLayers(spec)) {
    const raw = layer?.ipmi?.password_file;
    if (raw === undefined) continue;
    const problem = ipmiPasswordPathProblem(raw);
    if (problem) out.push(diagnosticAt(index.at([...path, 'ipmi', 'password_file']), 'paths/head-file-not-allowed', 'error', `ipmi.password_file "${raw}" ${problem}`, 'keep the BMC password in a file of its own in /etc/herd/ on the head (e.g. /etc/herd/ipmi-password, mode 0600), or for a stand-in head under the spec folder\'s .herd/'));
  }
  return out;
};
