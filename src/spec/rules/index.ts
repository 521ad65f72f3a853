// Every semantic rule, run in order over the resolved model (pure).
import type { Diagnostic } from '../../diagnostics/diagnostic.ts';
import type { RuleCheck, RuleContext } from './rule.ts';
import { checkDhcpRange, checkNetworkDevices, checkNetworkUniqueness } from './network.ts';
import { checkCpuTopology, checkDefaultPartition, checkPreemption, checkSlurmExtras, checkSlurmTimes } from './slurm.ts';
import { checkMemoryForImage, checkNfsClient, checkPinCollisions, checkPinnedSources, checkSlurmPrograms } from './images.ts';
import { checkEarlyBootFiles, checkHerdOverlays, checkOverlayNames } from './overlays.ts';
import { checkIpmi, checkIpmiPasswordFiles } from './ipmi.ts';

export const RULE_CHECKS: readonly RuleCheck[] = [
  checkNetworkUniqueness, checkDhcpRange, checkNetworkDevices, checkIpmi, checkIpmiPasswordFiles,
  checkDefaultPartition, checkSlurmTimes, checkSlurmExtras, checkPreemption, checkCpuTopology,
  checkPinnedSources, checkPinCollisions, checkNfsClient, checkSlurmPrograms, checkMemoryForImage,
  checkEarlyBootFiles, checkOverlayNames, checkHerdOverlays,
];

export function checkRules(ctx: RuleContext): Diagnostic[] {
  return RULE_CHECKS.flatMap((check) => check(ctx));
}
