// What Warewulf 4.6.x ships, per release (pure data): distribution overlays, their natural kind, and default overlay lists.
import type { OverlayKind, WarewulfVersion } from './model.ts';

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
  if (atLeast(v, '4.6.5')) Object.assign(o, { ifupdown: 'system', 'systemd.networkd': 'system', 'wwclient.x86_64': 'system', 'wwclient.aarch64': 'system' });
  return o;
}

/** Warewulf's shipped default profile overlays for a release, plus syncuser (the seed's UID alignment). */
export function defaultBaseOverlays(v: WarewulfVersion): string[] {
  const net = atLeast(v, '4.6.5') ? 'ifupdown' : 'debian.interfaces';
  return [
    'wwinit', 'wwclient', 'fstab', 'hostname', 'ssh.host_keys', 'issue', 'resolv', 'udev.netname', 'systemd.netname',
    'ifcfg', net, 'NetworkManager', 'wicked', 'ignition', 'hosts', 'ssh.authorized_keys', 'syncuser',
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
];

/** Built-in overlays that write early-boot files (placing one in the runtime list is the same trap). */
export const EARLY_BOOT_BUILTINS: Readonly<Record<string, string>> = {
  wwinit: 'the init that runs the boot', fstab: '/etc/fstab', NetworkManager: 'NetworkManager connections', ifcfg: 'ifcfg network scripts',
  'udev.netname': 'udev rules naming NICs', 'systemd.netname': 'systemd .link files naming NICs', hostname: '/etc/hostname',
  'systemd.mount': 'systemd mount units', 'systemd.swap': 'systemd swap units', 'systemd.networkd': 'systemd-networkd files',
  ifupdown: 'ifupdown interfaces', 'debian.interfaces': 'ifupdown interfaces', wicked: 'wicked network files', netplan: 'netplan files',
  sfdisk: 'disk partitioning run at boot', mkfs: 'file systems made at boot', mkswap: 'swap made at boot', ignition: 'ignition disk setup', wwclient: 'the wwclient service unit',
};

export function earlyBootReason(relPath: string): string | undefined {
  const p = relPath.replace(/^\/+/, '');
  return EARLY_BOOT_PATTERNS.find((x) => x.re.test(p))?.what;
}
