// Head-node system files from the resolved model (pure): /etc/hosts, /etc/exports and the firewalld trusted zone.
import type { ClusterModel } from '../spec/model.ts';

export function renderHosts(model: ClusterModel, header: string): string {
  const d = model.network.domain;
  const entry = (addr: string, name: string): string => (d ? `${addr.padEnd(15)} ${name}.${d} ${name}` : `${addr.padEnd(15)} ${name}`);
  const lines = ['127.0.0.1       localhost localhost.localdomain', '::1             localhost localhost.localdomain', '', entry(model.head.address, model.head.name)];
  for (const n of model.nodes) lines.push(entry(n.address, n.name));
  return header + lines.join('\n') + '\n';
}

/** NFS exports, restricted to the provisioning network. */
export function renderExports(model: ClusterModel, header: string): string | undefined {
  const mine = model.nfs.filter((m) => m.server === model.head.address || m.server === model.head.name);
  if (mine.length === 0) return undefined;
  const lines = mine.map((m) => `${m.export} ${model.network.cidr}(${m.exportOptions})`).sort();
  return header + lines.join('\n') + '\n';
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
    `  <source address="${model.network.cidr}"/>`,
    '</zone>',
    '',
  ].join('\n');
}
