// Impact summary (pure): what a plan's changes mean for the running cluster, grouped by class and service (the runbook is plan/runbook.ts).
import { IMPACT_ORDER, type ImpactClass } from '../artifacts/artifact.ts';
import { codeUnitOrder } from '../diagnostics/diagnostic.ts';
import { compareHostnames, compressHostlist } from '../spec/hostlist.ts';
import { isChange, type Plan } from './plan-types.ts';

export interface ImpactGroup {
  readonly class: ImpactClass;
  /** The systemd unit for daemon-reload/daemon-restart, else null. */
  readonly service: string | null;
  /** Affected nodes, natural order. */
  readonly nodes: readonly string[];
  /** The same nodes, hostlist-compressed as Slurm prints them ('' when none). */
  readonly hostlist: string;
  readonly paths: readonly string[];
  /** Distinct reasons the artifacts gave, e.g. "warewulfd reads nodes.conf only at start or reload". */
  readonly reasons: readonly string[];
}

const rank = (c: ImpactClass) => IMPACT_ORDER.indexOf(c);

/** Group the changing actions by impact class and service, most disruptive first; `none` is left out. */
export function impactGroups(plan: Plan): ImpactGroup[] {
  const groups = new Map<string, { class: ImpactClass; service: string | null; nodes: Set<string>; paths: string[]; reasons: Set<string> }>();
  for (const a of plan.actions) {
    if (!isChange(a) || a.impact.class === 'none') continue;
    const service = a.impact.class === 'daemon-reload' || a.impact.class === 'daemon-restart' ? (a.impact.service ?? null) : null;
    const key = `${a.impact.class}\0${service ?? ''}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { class: a.impact.class, service, nodes: new Set(), paths: [], reasons: new Set() }));
    for (const n of a.nodes) g.nodes.add(n);
    g.paths.push(a.path);
    if (a.impact.reason) g.reasons.add(a.impact.reason);
  }
  return [...groups.values()]
    .sort((x, y) => rank(y.class) - rank(x.class) || codeUnitOrder(x.service ?? '', y.service ?? ''))
    .map((g) => {
      const nodes = [...g.nodes].sort(compareHostnames);
      return { class: g.class, service: g.service, nodes, hostlist: compressHostlist(nodes), paths: g.paths, reasons: [...g.reasons].sort() };
    });
}
