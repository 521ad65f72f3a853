// The NetworkManager overlay (pure): one keyfile for the node's provisioning NIC, and NetworkManager-wait-online enabled.
import { createHash } from 'node:crypto';
import { normalizeMac } from '../../spec/ipv4.ts';
import type { BuiltinInput, BuiltinResult } from '../types.ts';
import { file, header, wantedBy } from './entries.ts';
import { nodeAddress } from './node-address.ts';
import { cidr6, extraKeyfiles } from './extra-networks.ts';

export const NM_CONNECTION_PATH = 'etc/NetworkManager/system-connections/herd-provision.nmconnection';
const CONNECTION_ID = 'herd-provision';

/** The namespace of herd's name-based connection UUIDs (RFC 9562 version 5); any fixed value works, this one is herd's. */
const UUID_NAMESPACE = Buffer.from('5b0e0a7c4d2e4f5e9a3c6b1d2e3f4a5b', 'hex');

/** A version-5 UUID of `name`: the same connection gets the same UUID on every build, and every node its own. */
export function nameUuid(name: string): string {
  const h = createHash('sha1').update(UUID_NAMESPACE).update(name, 'utf8').digest().subarray(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * The keyfile, in the order and spelling NetworkManager's own writer uses (nmcli --offline prints the same keys back):
 * `address1=ip/prefix,gateway`, upper-case `mac-address`, `;`-terminated lists. NetworkManager ignores a keyfile that is
 * not 0600 and root's, so it is written that way. IPv6 is disabled on the provisioning NIC unless the spec gives it an
 * address6: the seed's slurmd resolved the node's own name to an IPv6 link-local address it could not bind. The node's
 * other network devices get a keyfile each.
 */
export function networkManager(input: BuiltinInput): BuiltinResult {
  const { model, node } = input;
  const addr = nodeAddress(node, 'NetworkManager');
  if ('problems' in addr) return addr;
  // Every node has a MAC (net/missing-mac): Warewulf knows a PXE-booting node only by it.
  const mac = normalizeMac(node.mac) ?? node.mac.toLowerCase();
  const net = model.network;
  const lines = [
    '[connection]',
    `id=${CONNECTION_ID}`,
    `uuid=${nameUuid(`${model.name}/${node.name}/${CONNECTION_ID}`)}`,
    'type=ethernet',
    ...(node.device !== undefined ? [`interface-name=${node.device}`] : []),
    'autoconnect=true',
    '',
    '[ethernet]',
    `mac-address=${mac.toUpperCase()}`,
    ...(net.mtu !== undefined ? [`mtu=${net.mtu}`] : []),
    '',
    '[ipv4]',
    `address1=${addr.cidr}${addr.gateway !== undefined ? `,${addr.gateway}` : ''}`,
    ...(net.dns.length > 0 ? [`dns=${net.dns.map((d) => `${d};`).join('')}`] : []),
    ...(net.domain !== undefined ? [`dns-search=${net.domain};`] : []),
    'method=manual',
    '',
    '[ipv6]',
    // An IPv6 address only when the spec gives one; slurm.conf's NodeAddr stays the literal IPv4 address either way.
    ...(node.address6 !== undefined ? [`address1=${cidr6(node.address6, node.prefix6)}${node.gateway6 !== undefined ? `,${node.gateway6}` : ''}`, 'method=manual'] : ['method=disabled']),
  ];
  return {
    files: [
      file(NM_CONNECTION_PATH, header(model) + lines.join('\n') + '\n', 0o600),
      ...extraKeyfiles(model, node, nameUuid),
      // network-online.target then means "the provisioning NIC has its address": slurmd and the NFS mounts wait for it.
      wantedBy('network-online.target', 'NetworkManager-wait-online.service'),
    ],
  };
}
