// The keys Warewulf 4.6 reads from nodes.conf (pure data, from internal/pkg/node/datastructure.go at v4.6.0-v4.6.5).
// yaml.v3 silently drops unknown keys, so emitting anything else would be a bug nobody sees: a test checks every key we write.
import type { WarewulfVersion } from '../spec/model.ts';
import { atLeast } from '../spec/warewulf-facts.ts';

export const PROFILE_KEYS = ['profiles', 'comment', 'cluster name', 'image name', 'ipxe template', 'runtime overlay', 'system overlay', 'kernel', 'ipmi', 'init', 'root', 'network devices', 'tags', 'primary network', 'disks', 'filesystems', 'resources'];
export const NODE_ONLY_KEYS = ['discoverable', 'asset key'];
export const KERNEL_KEYS = ['version', 'args'];
/** IpmiConf's keys, in nodes.conf's order (password aside: herd never holds one), and the field of herd's ipmi settings each is. */
export const IPMI_SETTINGS = { username: 'username', ipaddr: 'address', netmask: 'netmask', gateway: 'gateway', port: 'port', interface: 'interface', escapechar: 'escapechar', write: 'write', template: 'template' } as const;
export const IPMI_KEYS = [...Object.keys(IPMI_SETTINGS), 'password', 'tags'];

export function netdevKeys(v: WarewulfVersion): string[] {
  const base = ['type', 'onboot', 'device', 'hwaddr', 'ipaddr', 'netmask', 'gateway', 'mtu', 'tags'];
  // 4.6.5 renamed ip6addr to ipaddr6 and added prefixlen6/gateway6 (dropping prefix).
  return atLeast(v, '4.6.5') ? [...base, 'ipaddr6', 'prefixlen6', 'gateway6'] : [...base, 'ip6addr', 'prefix'];
}
