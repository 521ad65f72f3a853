// Head-node system files from the resolved model (pure): the /etc/hosts block, /etc/exports and the firewalld trusted zone.
import { compareHostnames } from '../spec/hostlist.ts';
import type { ClusterModel } from '../spec/model.ts';
import { netdevsOf } from './nodes-conf.ts';

/** The nodes' /etc/hosts (the `hosts` overlay): localhost, the head and every node, with FQDNs when the network has a domain. */
export function renderHosts(model: ClusterModel, header: string): string {
  const d = model.network.domain;
  const entry = (addr: string, name: string): string => (d ? `${addr.padEnd(15)} ${name}.${d} ${name}` : `${addr.padEnd(15)} ${name}`);
  const lines = ['127.0.0.1       localhost localhost.localdomain', '::1             localhost localhost.localdomain', '', entry(model.head.address, model.head.name)];
  for (const n of model.nodes) lines.push(entry(n.address, n.name));
  return header + lines.join('\n') + '\n';
}

/** Warewulf's host overlay (`etc/hosts.ww`) keeps every /etc/hosts line above the first line containing this and rewrites the rest. */
export const HOSTS_MARKER = '# Do not edit after this line';

/**
 * The block of /etc/hosts below HOSTS_MARKER, with the names Warewulf 4.6's host overlay gives (`wwctl configure hostfile`):
 * the head as `<address> <head> warewulf`, each netdev with an address as `<address> [<node>] <node>-<netname> [<node>-<device>]`
 * (the node's own name on the primary only), netdevs in name order.
 * Same names, so `wwctl configure` after herd apply changes nothing of meaning (the oracle test compares them); no FQDNs, which Warewulf would drop.
 */
export function renderHostsBlock(model: ClusterModel, header: string): string {
  const lines = [header.trimEnd(), '', '# Warewulf Server', `${model.head.address} ${model.head.name} warewulf`, ''];
  for (const n of [...model.nodes].sort((a, b) => compareHostnames(a.name, b.name))) {
    lines.push(`# Entry for ${n.name}`);
    for (const d of netdevsOf(n)) if (d.address) lines.push([d.address, ...(d.primary ? [n.name] : []), `${n.name}-${d.name}`, ...(d.device ? [`${n.name}-${d.device}`] : [])].join(' '));
  }
  return lines.join('\n') + '\n';
}

/**
 * NFS exports, restricted to the provisioning network. Warewulf 4.6.5's host overlay owns /etc/exports whole (`etc/exports.ww` has no
 * marker: `wwctl configure nfs` rewrites it from warewulf.conf's `nfs: export paths`), so herd owns it whole too, with the same exports.
 */
export function renderExports(model: ClusterModel, header: string): string | undefined {
  const mine = headExports(model);
  if (mine.length === 0) return undefined;
  const lines = mine.map((m) => `${m.export} ${model.network.cidr}(${m.exportOptions})`);
  return header + lines.join('\n') + '\n';
}

/** The NFS paths the head serves (mounted or export-only), in spec order (warewulf.conf's `export paths` lists the same, so both tools write one export list). */
export function headExports(model: ClusterModel): ClusterModel['nfs'] {
  return model.exports.filter((m) => m.server === model.head.address || m.server === model.head.name);
}

/** The cluster NIC in firewalld's trusted zone: otherwise Slurm's ports are silently dropped ("malformed RPC" in the seed lab). */
export function renderTrustedZone(model: ClusterModel, header: string): string {
  const comment = header.trimEnd().split('\n').map((l) => l.replace(/^#\s?/, '')).join(' ');
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    `<!-- ${comment.replaceAll('--', '-')} -->`,
    '<zone target="ACCEPT">',
    '  <short>Trusted</short>',
    `  <description>Cluster network ${model.network.cidr} of ${model.name}: Slurm, munge, NFS and Warewulf traffic.</description>`,
    `  <interface name="${model.network.interface}"/>`,
    ...(model.network.trustSource ? [`  <source address="${model.network.cidr}"/>`] : []),
    '</zone>',
    '',
  ].join('\n');
}
