// Overlay rules (pure): files needed before early boot cannot ride in a runtime overlay.
import { diagnosticAt, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { earlyBootReason, EARLY_BOOT_BUILTINS } from '../warewulf-facts.ts';
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
