// herd's built-in overlays by name (pure): typed functions of the resolved model and the head's inputs, no templates.
// wwinit and wwclient are not here: they come from the head's Warewulf install (warewulf-install.ts).
import type { BuiltinInput, BuiltinResult, HeadInputs } from '../types.ts';
import { syncuser, type ImageAccountsInput } from './accounts.ts';
import { fstab } from './fstab.ts';
import { herdBoot } from './herd-boot.ts';
import { herdSlurm } from './herd-slurm.ts';
import { hostname, hosts } from './identity.ts';
import { networkManager } from './network-manager.ts';
import { systemdNetname, systemdNetworkd } from './networkd.ts';
import { sshAuthorizedKeys, sshHostKeys } from './ssh.ts';
import { ifcfg, ifupdown, ignition, wicked } from './warewulf-network-templates.ts';
import { issue, resolv, udevNetname } from './warewulf-templates.ts';

export { accountLabels, accountLookup, mergeAccounts, type AccountLabels, type ImageAccountsInput } from './accounts.ts';

const GENERATORS: Readonly<Record<string, (input: BuiltinInput & ImageAccountsInput) => BuiltinResult>> = {
  hostname,
  'systemd.netname': systemdNetname,
  NetworkManager: networkManager,
  'systemd.networkd': systemdNetworkd,
  fstab,
  'ssh.host_keys': sshHostKeys,
  'herd-boot': herdBoot,
  hosts,
  'ssh.authorized_keys': sshAuthorizedKeys,
  syncuser,
  'herd-slurm': herdSlurm,
  // Warewulf's own templates, rendered to the same bytes (a site's default profile lists them).
  issue,
  resolv,
  'udev.netname': udevNetname,
  ifcfg,
  // 4.6.5 renamed debian.interfaces ifupdown and still installs the old name as a copy: the same files under both names.
  ifupdown,
  'debian.interfaces': ifupdown,
  wicked,
  ignition,
};

/** The names herd generates here, sorted. */
export const BUILTIN_OVERLAY_NAMES: readonly string[] = Object.keys(GENERATORS).sort();

/**
 * The head inputs each overlay reads. The caller marks the overlay pending when one is absent, so a generator may assume
 * the ones listed here are present. syncuser's site accounts are optional (none means the image's own only).
 */
export const BUILTIN_HEAD_NEEDS: Readonly<Record<string, readonly (keyof HeadInputs)[]>> = {
  'ssh.host_keys': ['hostKeys'],
  'herd-boot': ['mungeKey'],
  'ssh.authorized_keys': ['authorizedKeys'],
};

/**
 * One built-in overlay's files for one node, or the problems that stop it; undefined for a name not generated here.
 * syncuser also reads `imageAccounts` (the node's image accounts after pins); without it, it reports a problem.
 */
export function builtinOverlay(name: string, input: BuiltinInput & ImageAccountsInput): BuiltinResult | undefined {
  const generate = Object.hasOwn(GENERATORS, name) ? GENERATORS[name] : undefined;
  return generate?.(input);
}
