// What stops an apply before it writes anything (pure): drift the operator has not agreed to overwrite.
import { herdFailure, type HerdFailure } from '../diagnostics/diagnostic.ts';
import type { Plan } from './plan-types.ts';

/** A failure when the plan may not be applied as is; undefined when it may. `not-a-file` drift blocks even with overwriteDrift. */
export function applyBlocker(plan: Plan, overwriteDrift: boolean): HerdFailure | undefined {
  // One line per obstacle: six configs below one symlinked etc/ are one problem, named once with the paths it blocks.
  const byObstacle = new Map<string, string[]>();
  for (const a of plan.actions) {
    if (a.drift?.kind !== 'not-a-file') continue;
    const key = a.drift.detail ?? '';
    byObstacle.set(key, [...(byObstacle.get(key) ?? []), a.path]);
  }
  const inTheWay = [...byObstacle].map(([detail, paths]) => {
    const list = paths.slice(0, 5).join(', ') + (paths.length > 5 ? ` and ${paths.length - 5} more` : '');
    return detail ? `${detail} (blocks ${list})` : list;
  });
  if (inTheWay.length > 0) {
    const shown = inTheWay.slice(0, 5).join('; ') + (inTheWay.length > 5 ? `; and ${inTheWay.length - 5} more` : '');
    return herdFailure(
      'state/not-a-file',
      `something other than a regular file is where herd must write: ${shown}`,
      'herd never replaces directories, symlinks or devices, nor follows a symlink out of the target root; move them away by hand and run herd plan again',
    );
  }
  const drifted = plan.actions.filter((a) => a.drift?.blocking).map((a) => a.path);
  if (drifted.length > 0 && !overwriteDrift) {
    const shown = drifted.slice(0, 5).join(', ') + (drifted.length > 5 ? ` and ${drifted.length - 5} more` : '');
    return herdFailure(
      'state/drift',
      `${drifted.length} file(s) on the target changed outside herd since the last apply: ${shown}`,
      'look at the drift in herd plan; keep the change by putting it in the spec, or pass --overwrite-drift to replace it',
    );
  }
  return undefined;
}
