// The herd-slurm overlay (pure): the node's copy of herd's compiled slurm.conf, cgroup.conf (and gres.conf), for Slurm nodes only.
import type { BuiltinInput, BuiltinResult, OverlayFile } from '../types.ts';
import { file } from './entries.ts';

const SLURM_CONF = 'etc/slurm/slurm.conf';
const GRES_CONF = 'etc/slurm/gres.conf';
const CGROUP_CONF = 'etc/slurm/cgroup.conf';

export function herdSlurm(input: BuiltinInput): BuiltinResult {
  // Configless: slurmd fetches slurm.conf, cgroup.conf and gres.conf from slurmctld (herd-boot points it there); nothing to ship.
  if (input.node.partitions.length === 0 || input.model.slurm.configless) return { files: [] };
  const conf = input.config.get(SLURM_CONF);
  // herd compiles slurm.conf for every cluster: a caller that did not pass it is a bug in herd, not in the spec.
  if (conf === undefined) throw new Error(`internal: herd-slurm was given no compiled ${SLURM_CONF} for node ${input.node.name}`);
  const files: OverlayFile[] = [file(SLURM_CONF, conf)];
  // slurmstepd cannot start a job step under cgroup plugins without cgroup.conf (Slurm 22.05).
  const cgroup = input.config.get(CGROUP_CONF);
  if (cgroup !== undefined) files.push(file(CGROUP_CONF, cgroup));
  const gres = input.config.get(GRES_CONF);
  if (gres !== undefined) files.push(file(GRES_CONF, gres));
  return { files };
}
