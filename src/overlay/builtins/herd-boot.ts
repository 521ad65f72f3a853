// The herd-boot overlay (pure): what must be on the node before systemd starts munge, slurmd and the NFS mounts.
import type { BuiltinInput, BuiltinResult, OverlayFile } from '../types.ts';
import { directory, file, header } from './entries.ts';

export const TMPFILES_PATH = 'etc/tmpfiles.d/herd.conf';
export const SLURMD_DROPIN = 'etc/systemd/system/slurmd.service.d/10-herd-network-online.conf';
export const SLURMD_SYSCONFIG = 'etc/sysconfig/slurmd';
export const SLURMD_DEFAULT = 'etc/default/slurmd';
export const REMOTE_FS_DROPIN = 'etc/systemd/system/remote-fs-pre.target.d/10-herd-network-online.conf';

/**
 * 1. The munge key, owned by the image's munge user: the seed's head had munge 995 and a fresh image 998, and munged
 *    refused the key. The owner is resolved here, from the image's accounts after pins, so a mismatch is a build error.
 *    /etc/munge itself is given its package mode (0700 munge): an overlay's parent directory would otherwise replace the
 *    image's with 0755 root when the archive is unpacked over it.
 * 2. tmpfiles.d rules for the directories munged and slurmd write, owned by name (tmpfiles resolves names on the node,
 *    and a 'd' line also fixes an existing directory's owner: the seed's /var/log/munge kept the old UID and munged
 *    would not start). They live in the system overlay: systemd-tmpfiles runs long before wwclient.
 * 3. Drop-ins ordering slurmd and the remote mounts after network-online.target (the seed's cold-boot race).
 */
export function herdBoot(input: BuiltinInput): BuiltinResult {
  const { model, node, accounts } = input;
  const image = model.images[node.image];
  const mungeUid = accounts.uid('munge');
  const mungeGid = accounts.gid('munge');
  const slurmNode = node.partitions.length > 0;
  // munge matters on Slurm nodes (slurmd authenticates with it) and wherever the image runs munged; elsewhere it is left out.
  const wantsMunge = slurmNode || mungeUid !== undefined || mungeGid !== undefined;
  if (wantsMunge && (mungeUid === undefined || mungeGid === undefined)) {
    const missing = mungeUid === undefined ? 'user' : 'group';
    return {
      problems: [{
        code: 'overlay/unknown-owner',
        message: `herd-boot cannot give node ${node.name} the munge key: image ${node.image} has no munge ${missing} to own it`,
        hint: `install munge in image ${node.image} (and pin its ID to the head's under pins:), or remove herd-boot from the node's overlays`,
        ...(image ? { at: image.at.self } : {}),
      }],
    };
  }
  const h = header(model);
  const slurmOwned = slurmNode && accounts.uid('slurm') !== undefined;
  const slurmGroup = accounts.gid('slurm') !== undefined ? 'slurm' : '-';
  const rules = [
    ...(slurmOwned ? [`d /var/spool/slurmd 0755 slurm ${slurmGroup} -`, `d /var/log/slurm 0755 slurm ${slurmGroup} -`, `d /run/slurm 0755 slurm ${slurmGroup} -`] : []),
    ...(wantsMunge ? ['d /var/log/munge 0700 munge munge -', 'd /var/lib/munge 0711 munge munge -', 'd /run/munge 0755 munge munge -'] : []),
  ];
  const files: OverlayFile[] = [];
  if (wantsMunge) {
    const munge = { uid: mungeUid!, gid: mungeGid! };
    files.push(directory('etc/munge', 0o700, munge), file('etc/munge/munge.key', input.head.mungeKey ?? new Uint8Array(0), 0o400, munge, 'secret'));
  }
  if (rules.length > 0) files.push(file(TMPFILES_PATH, h + rules.join('\n') + '\n'));
  if (slurmNode && model.slurm.configless) {
    // Configless Slurm: slurmd asks slurmctld for its configuration. Both slurmd units read SLURMD_OPTIONS from an
    // environment file, EL's /etc/sysconfig/slurmd and Debian's /etc/default/slurmd. It must be there before slurmd starts.
    const env = `${h}SLURMD_OPTIONS="--conf-server ${model.head.address}:6817"\n`;
    files.push(file(SLURMD_SYSCONFIG, env), file(SLURMD_DEFAULT, env));
  }
  if (slurmNode) {
    files.push(file(SLURMD_DROPIN, `${h}[Unit]\nWants=network-online.target\nAfter=network-online.target remote-fs.target munge.service\n`));
  }
  if (model.nfs.length > 0) {
    files.push(file(REMOTE_FS_DROPIN, `${h}[Unit]\nWants=network-online.target\nAfter=network-online.target\n`));
  }
  return { files };
}
