// A node's other network devices on the node (pure): NetworkManager keyfiles and systemd-networkd units for the
// infiniband, bond (members name it by tags.master), VLAN (tags.parent_device, tags.vlan_id) and extra ethernet devices
// of the spec's `networks:`, with the options Warewulf 4.6.5's own NetworkManager template reads from the same tags.
import { netmaskToPrefix, parseIPv4 } from '../../spec/ipv4.ts';
import type { ClusterModel, NetworkDeviceModel, NodeModel } from '../../spec/model.ts';
import type { OverlayFile } from '../types.ts';
import { file, header } from './entries.ts';

/** The prefix herd's overlays give an IPv6 address without prefix6 (net/missing-prefix6 warns). */
export const DEFAULT_PREFIX6 = 64;

/** Kernel name of a device: its `device`, else its netname (as Warewulf's templates fall back to it). */
export const ifname = (d: NetworkDeviceModel): string => d.device ?? d.name;

/** `addr/prefix` of a device's IPv4 address (rules guarantee a valid contiguous netmask beside it). */
function cidr4(d: NetworkDeviceModel): string | undefined {
  if (d.address === undefined || d.netmask === undefined) return undefined;
  const m = parseIPv4(d.netmask);
  const p = m === undefined ? undefined : netmaskToPrefix(m);
  return p === undefined ? undefined : `${d.address}/${p}`;
}

/** `addr/prefix` of an IPv6 address, with herd's default prefix where the spec gives none. */
export const cidr6 = (address6: string, prefix6: number | undefined): string => `${address6}/${prefix6 ?? DEFAULT_PREFIX6}`;

/** The bond a member belongs to: tags.master names the bond's netname or its device. */
function bondOf(node: NodeModel, d: NetworkDeviceModel): NetworkDeviceModel | undefined {
  const m = d.tags.master;
  return m === undefined ? undefined : node.networks.find((b) => b.type === 'bond' && (b.name === m || b.device === m));
}

/** Bond options Warewulf's template writes from tags (mode and miimon with its defaults), NetworkManager's spelling. */
const NM_BOND_TAGS = ['downdelay', 'lacp_rate', 'primary', 'updelay', 'xmit_hash_policy'];

/** The VLANs riding on an interface, by their kernel names (for networkd's VLAN= on the parent's .network). */
export function vlansOn(node: NodeModel, parent: string): string[] {
  return node.networks.filter((v) => v.type === 'vlan' && v.tags.parent_device === parent).map(ifname);
}

/** The NetworkManager connection files of the node's other devices, 0600 like the provisioning one; `uuid` names them stably. */
export function extraKeyfiles(model: ClusterModel, node: NodeModel, uuid: (name: string) => string): OverlayFile[] {
  return node.networks.map((d) => {
    const id = `herd-${d.name}`;
    const bond = bondOf(node, d);
    const nmType = d.type === 'ethernet' ? 'ethernet' : d.type;
    const lines = ['[connection]', `id=${id}`, `uuid=${uuid(`${model.name}/${node.name}/${id}`)}`, `type=${nmType}`];
    if (d.device !== undefined || d.type !== 'ethernet' || d.mac === undefined) lines.push(`interface-name=${ifname(d)}`);
    if (bond) lines.push(`master=${ifname(bond)}`, 'slave-type=bond');
    lines.push(`autoconnect=${d.onboot === false ? 'false' : 'true'}`, '');
    if (d.type === 'ethernet' && (d.mac !== undefined || d.mtu !== undefined)) {
      lines.push('[ethernet]', ...(d.mac !== undefined ? [`mac-address=${d.mac.toUpperCase()}`] : []), ...(d.mtu !== undefined ? [`mtu=${d.mtu}`] : []), '');
    }
    if (d.type === 'infiniband') lines.push('[infiniband]', ...(d.mtu !== undefined ? [`mtu=${d.mtu}`] : []), 'transport-mode=datagram', '');
    if (d.type === 'bond') {
      const opts = new Map<string, string>([['miimon', d.tags.miimon ?? '100'], ['mode', d.tags.mode ?? 'balance-rr']]);
      for (const k of NM_BOND_TAGS) if (d.tags[k] !== undefined) opts.set(k, d.tags[k]!);
      lines.push('[bond]', ...[...opts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`), '');
      if (d.mtu !== undefined) lines.push('[ethernet]', `mtu=${d.mtu}`, '');
    }
    if (d.type === 'vlan') lines.push('[vlan]', 'flags=1', `id=${d.tags.vlan_id ?? ''}`, `parent=${d.tags.parent_device ?? ''}`, '');
    if (!bond) {
      const a4 = cidr4(d);
      lines.push('[ipv4]', ...(a4 !== undefined ? [`address1=${a4}${d.gateway !== undefined ? `,${d.gateway}` : ''}`, 'method=manual'] : ['method=disabled']), '');
      lines.push('[ipv6]', ...(d.address6 !== undefined ? ['addr-gen-mode=eui64', `address1=${cidr6(d.address6, d.prefix6)}${d.gateway6 !== undefined ? `,${d.gateway6}` : ''}`, 'method=manual'] : ['addr-gen-mode=eui64', 'method=disabled']), '');
    }
    return file(`etc/NetworkManager/system-connections/herd-${d.name}.nmconnection`, header(model) + lines.join('\n').trimEnd() + '\n', 0o600);
  });
}

/** systemd-networkd's files for the node's other devices: a .netdev for each bond and VLAN, a .network for each device. */
export function extraNetworkdFiles(model: ClusterModel, node: NodeModel): OverlayFile[] {
  const out: OverlayFile[] = [];
  for (const d of node.networks) {
    const name = ifname(d);
    const base = `etc/systemd/network/30-herd-${d.name}`;
    if (d.type === 'bond' || d.type === 'vlan') {
      const nd = ['[NetDev]', `Name=${name}`, `Kind=${d.type}`, ...(d.mtu !== undefined ? [`MTUBytes=${d.mtu}`] : []), ''];
      if (d.type === 'bond') {
        nd.push('[Bond]', `Mode=${d.tags.mode ?? 'balance-rr'}`, `MIIMonitorSec=${d.tags.miimon ?? '100'}ms`);
        if (d.tags.xmit_hash_policy !== undefined) nd.push(`TransmitHashPolicy=${d.tags.xmit_hash_policy}`);
        if (d.tags.lacp_rate !== undefined) nd.push(`LACPTransmitRate=${d.tags.lacp_rate === '1' ? 'fast' : d.tags.lacp_rate === '0' ? 'slow' : d.tags.lacp_rate}`);
        if (d.tags.updelay !== undefined) nd.push(`UpDelaySec=${d.tags.updelay}ms`);
        if (d.tags.downdelay !== undefined) nd.push(`DownDelaySec=${d.tags.downdelay}ms`);
      } else nd.push('[VLAN]', `Id=${d.tags.vlan_id ?? ''}`);
      out.push(file(`${base}.netdev`, header(model) + nd.join('\n').trimEnd() + '\n'));
    }
    const bond = bondOf(node, d);
    const net = ['[Match]', ...(d.type === 'ethernet' && d.mac !== undefined ? [`MACAddress=${d.mac}`] : []), ...(d.device !== undefined || d.type !== 'ethernet' || d.mac === undefined ? [`Name=${name}`] : []), ''];
    if (d.mtu !== undefined && d.type !== 'bond' && d.type !== 'vlan') net.push('[Link]', `MTUBytes=${d.mtu}`, ...(d.onboot === false ? ['ActivationPolicy=manual'] : []), '');
    else if (d.onboot === false) net.push('[Link]', 'ActivationPolicy=manual', '');
    net.push('[Network]');
    if (bond) net.push(`Bond=${ifname(bond)}`);
    else {
      const a4 = cidr4(d);
      if (a4 !== undefined) net.push(`Address=${a4}`);
      if (d.gateway !== undefined) net.push(`Gateway=${d.gateway}`);
      if (d.address6 !== undefined) net.push(`Address=${cidr6(d.address6, d.prefix6)}`);
      if (d.gateway6 !== undefined) net.push(`Gateway=${d.gateway6}`);
    }
    for (const v of vlansOn(node, name)) net.push(`VLAN=${v}`);
    net.push('LinkLocalAddressing=no', 'IPv6AcceptRA=no');
    out.push(file(`${base}.network`, header(model) + net.join('\n') + '\n'));
  }
  return out;
}
