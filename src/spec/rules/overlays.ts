// Overlay rules (pure): files needed before early boot cannot ride in a runtime overlay.
import { diagnosticAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { earlyBootReason, EARLY_BOOT_BUILTINS } from '../warewulf-facts.ts';
import { compressHostlist } from '../hostlist.ts';
import type { RuleCheck } from './rule.ts';

/** wwclient applies runtime overlays after the OS is up: tmpfiles.d, units, mounts, sysctl... arrive too late there. */
export const checkEarlyBootFiles: RuleCheck = ({ model, index }) => {
  const out: Diagnostic[] = [];
  for (const o of Object.values(model.overlays)) {
    if (o.kind !== 'runtime') continue;
    const at = index.has(['overlays', o.name, 'kind']) ? index.at(['overlays', o.name, 'kind']) : o.at;
    if (o.builtin && EARLY_BOOT_BUILTINS[o.name]) {
      out.push(diagnosticAt(at, 'overlay/early-boot-in-runtime', 'error', `overlay ${o.name} writes ${EARLY_BOOT_BUILTINS[o.name]} but is a runtime overlay, applied only after boot`, `make it kind: system`));
      continue;
    }
    const offenders = o.files.map((f) => ({ f, why: earlyBootReason(f) })).filter((x) => x.why);
    if (offenders.length === 0) continue;
    const list = offenders.slice(0, 3).map((x) => `${x.f} (${x.why})`).join(', ');
    out.push(diagnosticAt(at, 'overlay/early-boot-in-runtime', 'error', `runtime overlay ${o.name} holds files needed before early boot: ${list}${offenders.length > 3 ? `, and ${offenders.length - 3} more` : ''}`, `make ${o.name} kind: system, or move those files to a system overlay or the image; wwclient applies runtime overlays after the OS is up`));
  }
  return out;
};

/** Warewulf 4.6 refuses overlay names outside ^[a-zA-Z0-9-._:]+$ (nodes.conf names every overlay a node uses). */
export const checkOverlayNames: RuleCheck = ({ model, index }) => {
  const out: Diagnostic[] = [];
  for (const o of Object.values(model.overlays)) {
    if (o.builtin || /^[a-zA-Z0-9\-._:]+$/.test(o.name)) continue;
    out.push(diagnosticAt(index.keyAt(['overlays', o.name]), 'overlay/invalid-name', 'error', `overlay name "${o.name}" has characters Warewulf does not allow`, 'use letters, digits, -, ., _ and : only'));
  }
  return out;
};

/**
 * Slurm nodes without herd's own overlays: herd-boot (the head's munge key, owned by the image's munge user, before munged
 * starts) and herd-slurm (the head's slurm.conf; not needed configless). Without them the nodes run on whatever key and
 * slurm.conf their image holds, which herd cannot hold to the head's: the seed's munge and config drift. Allowed (an
 * imported site keeps its way, herd import leaves them out where the site has none), so a warning, once per overlay.
 */
export const checkHerdOverlays: RuleCheck = ({ model, index }) => {
  const out: Diagnostic[] = [];
  const slurmNodes = model.nodes.filter((n) => n.partitions.length > 0);
  const at = index.has(['warewulf', 'base_overlays']) ? index.at(['warewulf', 'base_overlays']) : model.warewulf.at;
  const lacking = (name: string) => slurmNodes.filter((n) => !n.systemOverlays.includes(name) && !n.runtimeOverlays.includes(name)).map((n) => n.name);
  const run = (names: string[]) => `${compressHostlist(names)} run${names.length === 1 ? 's' : ''} slurmd`;
  const problems: string[] = [];
  const hints: string[] = [];
  const boot = lacking('herd-boot');
  if (boot.length > 0) {
    problems.push(`${run(boot)} without herd-boot: munged there uses whatever key the image holds, which herd cannot check against the head's`);
    hints.push('add herd-boot to the system overlays once the images no longer bring their own munge key');
  }
  const conf = model.slurm.configless ? [] : lacking('herd-slurm');
  if (conf.length > 0) {
    problems.push(`${run(conf)} without herd-slurm (and Slurm is not configless): their slurm.conf is the image's, not the one herd writes on the head`);
    hints.push('add herd-slurm to the runtime overlays, or set slurm.configless: true');
  }
  if (problems.length > 0) out.push(diagnosticAt(at, 'overlay/no-herd-overlay', 'warning', problems.join('; '), `${hints.join('; ')} (warewulf.base_overlays)`));
  return out;
};
