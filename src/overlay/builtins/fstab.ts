// The fstab overlay (pure): the cluster's NFS mounts, each ordered after network-online.target.
import type { NfsMountModel } from '../../spec/model.ts';
import type { BuiltinInput, BuiltinResult } from '../types.ts';
import { file, header } from './entries.ts';

const AFTER_ONLINE = 'x-systemd.after=network-online.target';

/** fstab(5) fields are separated by blanks; a blank, tab, newline or backslash inside one is written as an octal escape. */
function field(s: string): string {
  return s.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/** The spec's options in their order, empty and repeated ones dropped, then the network-online ordering unless present. */
export function mountOptions(options: string): string {
  const out: string[] = [];
  for (const o of options.split(',')) if (o !== '' && !out.includes(o)) out.push(o);
  if (!out.includes(AFTER_ONLINE)) out.push(AFTER_ONLINE);
  return out.join(',');
}

export function fstabLine(m: NfsMountModel): string {
  return [field(`${m.server}:${m.export}`), field(m.mountPoint), 'nfs', field(mountOptions(m.options)), '0', '0'].join(' ');
}

/**
 * The seed's /home mount raced the network at boot: systemd orders `_netdev` mounts after network.target, which says
 * nothing about addresses, so every mount also waits for network-online.target. With no NFS the file holds only its
 * header (the image's own fstab is replaced either way, as Warewulf's overlay does).
 */
export function fstab(input: BuiltinInput): BuiltinResult {
  const lines = input.model.nfs.map(fstabLine);
  return { files: [file('etc/fstab', header(input.model) + lines.map((l) => `${l}\n`).join(''))] };
}
