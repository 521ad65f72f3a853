// What Warewulf 4.6.x ships, per release (pure data): distribution overlays, their natural kind, and default overlay lists.
import type { OverlayKind, WarewulfVersion } from './model.ts';

/** wwtype.WWbool's Bool(): true only for yes, 1, t and true, in any case (strconv.ParseBool of the lower-cased value, plus yes). */
// Warewulf's two readings of a WWbool string (internal/pkg/wwtype/wwbool.go @ v4.6.5): lower-cased, an unset spelling is
// false, yes/no are read, then Go's strconv.ParseBool; what ParseBool refuses ("on", "y", "off") is false for Bool() and
// TRUE for BoolDefaultTrue(), as is an empty value. Bool() reads discoverable and ipmi write, BoolDefaultTrue() a network
// device's onboot (every distribution template).
const WW_UNSET = new Set(['unset', 'delete', 'undef', '--', 'nil', '0.0.0.0']);
const GO_PARSE_BOOL = new Map<string, boolean>([['1', true], ['t', true], ['true', true], ['0', false], ['f', false], ['false', false]]);

/** WWbool.Bool(): discoverable, ipmi write. */
export function wwBool(s: string): boolean {
  const v = s.toLowerCase();
  if (WW_UNSET.has(v) || v === 'no' || v === '') return false;
  return v === 'yes' || (GO_PARSE_BOOL.get(v) ?? false);
}

/** WWbool.BoolDefaultTrue(): a network device's onboot. */
export function wwBoolDefaultTrue(s: string): boolean {
  const v = s.toLowerCase();
  if (WW_UNSET.has(v) || v === 'no') return false;
  return v === 'yes' || v === '' || (GO_PARSE_BOOL.get(v) ?? true);
}

/** The SSH host key types Warewulf 4.6 knows, in its default `ssh: key types` order (config/ssh.go). */
export const WAREWULF_SSH_KEY_TYPES = ['ed25519', 'ecdsa', 'rsa', 'dsa'] as const;
/** The ones herd's warewulf.conf names unless warewulf.ssh_key_types says otherwise: no DSA. */
export const HERD_SSH_KEY_TYPES: readonly string[] = ['ed25519', 'ecdsa', 'rsa'];

/** The release herd targets when the spec does not name one. */
export const DEFAULT_WAREWULF_VERSION: WarewulfVersion = '4.6.5';

const ORDER: readonly WarewulfVersion[] = ['4.6.0', '4.6.1', '4.6.2', '4.6.3', '4.6.4', '4.6.5'];
export const atLeast = (v: WarewulfVersion, min: WarewulfVersion): boolean => ORDER.indexOf(v) >= ORDER.indexOf(min);

/** Distribution overlays present in a release, with the kind Warewulf's default profile gives them. */
export function builtinOverlays(v: WarewulfVersion): Record<string, OverlayKind> {
  const o: Record<string, OverlayKind> = {
    wwinit: 'system', wwclient: 'system', fstab: 'system', hostname: 'system', 'ssh.host_keys': 'system', issue: 'system',
    resolv: 'system', 'udev.netname': 'system', 'systemd.netname': 'system', ifcfg: 'system', NetworkManager: 'system',
    wicked: 'system', ignition: 'system', localtime: 'system', netplan: 'system', debug: 'system',
    hosts: 'runtime', 'ssh.authorized_keys': 'runtime', syncuser: 'runtime',
  };
  // debian.interfaces was renamed ifupdown in 4.6.5, which still installs the old name as a copy.
  o['debian.interfaces'] = 'system';
  if (atLeast(v, '4.6.2')) Object.assign(o, { sfdisk: 'system', mkfs: 'system', mkswap: 'system', 'systemd.mount': 'system', 'systemd.swap': 'system' });
  if (atLeast(v, '4.6.5')) Object.assign(o, { ifupdown: 'system', 'wwclient.x86_64': 'system', 'wwclient.aarch64': 'system' });
  // herd builds systemd-networkd files whatever the release (4.6.5 added an overlay of that name).
  o['systemd.networkd'] = 'system';
  return { ...o, ...HERD_OVERLAYS };
}

/**
 * herd's own overlays (no Warewulf template of that name): herd-boot carries what must exist before systemd starts
 * (munge key, tmpfiles rules, network-online drop-ins), herd-slurm the Slurm configuration the nodes read.
 */
export const HERD_OVERLAYS: Readonly<Record<string, OverlayKind>> = { 'herd-boot': 'system', 'herd-slurm': 'runtime' };

/**
 * The overlays herd builds itself, by name: wwinit and wwclient from the head's Warewulf install, the rest as typed
 * functions of the model (src/overlay/builtins). Any other Warewulf overlay name in a node's list is refused unless the
 * spec defines a site overlay of that name (a site overlay shadows a distribution one, as in Warewulf).
 */
export const HERD_BUILT_OVERLAYS: ReadonlySet<string> = new Set([
  'wwinit', 'wwclient', 'hostname', 'systemd.netname', 'NetworkManager', 'systemd.networkd', 'fstab', 'ssh.host_keys',
  'hosts', 'ssh.authorized_keys', 'syncuser', 'issue', 'resolv', 'udev.netname', 'ifcfg', 'ifupdown', 'debian.interfaces', 'wicked', 'ignition', ...Object.keys(HERD_OVERLAYS),
]);

/**
 * The overlays every node starts with: what boots the node the Warewulf way (wwinit, wwclient), one network stack, and
 * herd's configuration. Warewulf's default profile lists all four network stacks (herd builds each, so an imported site
 * keeps them); a new spec gets the one its network.stack picks.
 */
export function defaultBaseOverlays(stack: 'NetworkManager' | 'networkd' = 'NetworkManager'): string[] {
  return [
    'wwinit', 'wwclient', 'hostname', 'systemd.netname', stack === 'networkd' ? 'systemd.networkd' : 'NetworkManager', 'fstab', 'ssh.host_keys', 'herd-boot',
    'hosts', 'ssh.authorized_keys', 'syncuser', 'herd-slurm',
  ];
}

/**
 * Paths that must exist before early boot: systemd reads units, mounts, tmpfiles, sysctl and module lists as it starts,
 * long before wwclient applies a runtime overlay (the seed's tmpfiles.d and /home-mount trap).
 */
export const EARLY_BOOT_PATTERNS: readonly { re: RegExp; what: string }[] = [
  { re: /^(etc|usr\/lib|lib)\/tmpfiles\.d\//, what: 'a tmpfiles.d rule' },
  { re: /^(etc|usr\/lib|lib)\/systemd\/(system|network)\//, what: 'a systemd unit' },
  { re: /\.(mount|automount|swap)(\.ww)?$/, what: 'a systemd mount unit' },
  { re: /^etc\/fstab(\.ww)?$/, what: '/etc/fstab' },
  { re: /^(etc|usr\/lib|lib)\/modules-load\.d\//, what: 'a modules-load.d list' },
  { re: /^etc\/modprobe\.d\//, what: 'a modprobe.d option' },
  { re: /^(etc|usr\/lib|lib)\/sysctl\.d\//, what: 'a sysctl.d setting' },
  { re: /^etc\/sysctl\.conf(\.ww)?$/, what: '/etc/sysctl.conf' },
  { re: /^etc\/NetworkManager\/system-connections\//, what: 'a NetworkManager connection' },
  { re: /^etc\/sysconfig\/network-scripts\//, what: 'an ifcfg network script' },
  { re: /^etc\/udev\/rules\.d\//, what: 'a udev rule' },
  { re: /^etc\/hostname(\.ww)?$/, what: '/etc/hostname' },
  { re: /^etc\/munge\/munge\.key$/, what: 'the munge key munged reads as it starts' },
  { re: /^etc\/(sysconfig|default)\/[^/]+$/, what: 'an environment file a service reads as it starts' },
  { re: /^etc\/ssh\/ssh_host_[^/]*_key$/, what: 'an SSH host key sshd reads as it starts' },
];

/** Built-in overlays that write early-boot files (placing one in the runtime list is the same trap). */
export const EARLY_BOOT_BUILTINS: Readonly<Record<string, string>> = {
  wwinit: 'the init that runs the boot', fstab: '/etc/fstab', NetworkManager: 'NetworkManager connections', ifcfg: 'ifcfg network scripts',
  'udev.netname': 'udev rules naming NICs', 'systemd.netname': 'systemd .link files naming NICs', hostname: '/etc/hostname',
  'systemd.mount': 'systemd mount units', 'systemd.swap': 'systemd swap units', 'systemd.networkd': 'systemd-networkd files',
  ifupdown: 'ifupdown interfaces', 'debian.interfaces': 'ifupdown interfaces', wicked: 'wicked network files', netplan: 'netplan files',
  sfdisk: 'disk partitioning run at boot', mkfs: 'file systems made at boot', mkswap: 'swap made at boot', ignition: 'ignition disk setup', wwclient: 'the wwclient service unit',
  'ssh.host_keys': 'SSH host keys sshd reads as it starts', 'herd-boot': 'the munge key, tmpfiles.d rules and network-online drop-ins',
};

export function earlyBootReason(relPath: string): string | undefined {
  const p = relPath.replace(/^\/+/, '');
  return EARLY_BOOT_PATTERNS.find((x) => x.re.test(p))?.what;
}
