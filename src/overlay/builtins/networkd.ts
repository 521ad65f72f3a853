// NIC naming and systemd-networkd (pure): the systemd.netname .link file and the systemd.networkd .network file.
import { normalizeMac } from '../../spec/ipv4.ts';
import type { BuiltinInput, BuiltinResult } from '../types.ts';
import { file, header, wantedBy } from './entries.ts';
import { nodeAddress } from './node-address.ts';
import { cidr6, extraNetworkdFiles, vlansOn } from './extra-networks.ts';

export const LINK_PATH = 'etc/systemd/network/10-herd-provision.link';
export const NETWORK_PATH = 'etc/systemd/network/20-herd-provision.network';

/**
 * Names the provisioning NIC by its MAC, so it gets the name the keyfile or .network file expects whatever the kernel
 * called it. `Type=ether` keeps a bridge, bond or VLAN that inherits the same MAC from being renamed too (udev would try,
 * and fail, to give it the NIC's name). No device in the spec: nothing to rename, no file. The node's other ethernet
 * devices with a MAC and a device get a .link file each.
 */
export function systemdNetname(input: BuiltinInput): BuiltinResult {
  const { model, node } = input;
  const mac = normalizeMac(node.mac) ?? node.mac.toLowerCase();
  const link = (m: string, name: string): string => header(model) + ['[Match]', `MACAddress=${m}`, 'Type=ether', '', '[Link]', `Name=${name}`].join('\n') + '\n';
  // The other NICs with a MAC and a name are named the same way (as Warewulf's systemd.netname names every netdev).
  const others = node.networks.filter((d) => d.type === 'ethernet' && d.mac !== undefined && d.device !== undefined).map((d) => file(`etc/systemd/network/10-herd-${d.name}.link`, link(d.mac!, d.device!)));
  if (node.device === undefined) return { files: others };
  return { files: [file(LINK_PATH, link(mac, node.device)), ...others] };
}

/**
 * The provisioning NIC for systemd-networkd, matched by name and MAC (both must hold, as in Warewulf's template).
 * Link-local addressing and router advertisements are off: the seed's slurmd resolved its own name to an IPv6
 * link-local address it could not bind. Enabled the way `systemctl enable systemd-networkd` does it, with wait-online
 * so network-online.target means the address is up.
 */
export function systemdNetworkd(input: BuiltinInput): BuiltinResult {
  const { model, node } = input;
  const addr = nodeAddress(node, 'systemd.networkd');
  if ('problems' in addr) return addr;
  const mac = normalizeMac(node.mac) ?? node.mac.toLowerCase();
  const net = model.network;
  const lines = [
    '[Match]',
    ...(node.device !== undefined ? [`Name=${node.device}`] : []),
    `MACAddress=${mac}`,
    '',
    ...(net.mtu !== undefined ? ['[Link]', `MTUBytes=${net.mtu}`, ''] : []),
    '[Network]',
    `Address=${addr.cidr}`,
    ...(addr.gateway !== undefined ? [`Gateway=${addr.gateway}`] : []),
    ...(node.address6 !== undefined ? [`Address=${cidr6(node.address6, node.prefix6)}`] : []),
    ...(node.gateway6 !== undefined ? [`Gateway=${node.gateway6}`] : []),
    ...(node.device !== undefined ? vlansOn(node, node.device).map((v) => `VLAN=${v}`) : []),
    ...net.dns.map((d) => `DNS=${d}`),
    ...(net.domain !== undefined ? [`Domains=${net.domain}`] : []),
    'LinkLocalAddressing=no',
    'IPv6AcceptRA=no',
  ];
  return {
    files: [
      file(NETWORK_PATH, header(model) + lines.join('\n') + '\n'),
      ...extraNetworkdFiles(model, node),
      wantedBy('multi-user.target', 'systemd-networkd.service'),
      wantedBy('sockets.target', 'systemd-networkd.socket'),
      wantedBy('network-online.target', 'systemd-networkd-wait-online.service'),
    ],
  };
}
