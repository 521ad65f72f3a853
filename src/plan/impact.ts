// Impact summary and next steps (pure): what a plan's changes mean for the running cluster, and what the operator runs after apply.
import { IMPACT_ORDER, type ImpactClass } from '../artifacts/artifact.ts';
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
    .sort((x, y) => rank(y.class) - rank(x.class) || (x.service ?? '').localeCompare(y.service ?? ''))
    .map((g) => {
      const nodes = [...g.nodes].sort(compareHostnames);
      return { class: g.class, service: g.service, nodes, hostlist: compressHostlist(nodes), paths: g.paths, reasons: [...g.reasons].sort() };
    });
}

export interface NextStep {
  readonly class: ImpactClass;
  readonly service: string | null;
  /** Hostlist of the nodes concerned ('' when none). */
  readonly nodes: string;
  /** The command to run, or null when nothing needs running (runtime overlays refresh by themselves). */
  readonly command: string | null;
  readonly description: string;
}

/** Daemons first (a rebooting node needs warewulfd to know it), then Slurm, then reboots; runtime refreshes are informational. */
const STEP_ORDER: readonly ImpactClass[] = ['daemon-restart', 'daemon-reload', 'slurm-reconfigure', 'reboot', 'runtime-refresh'];

/** What the operator must do after applying the plan, in the order to do it. */
export function nextSteps(groups: readonly ImpactGroup[]): NextStep[] {
  const steps: NextStep[] = [];
  const sorted = [...groups].sort((a, b) => STEP_ORDER.indexOf(a.class) - STEP_ORDER.indexOf(b.class) || (a.service ?? '').localeCompare(b.service ?? ''));
  for (const g of sorted) {
    const why = g.reasons.join('; ');
    const service = g.service ?? '<service>';
    switch (g.class) {
      case 'daemon-restart':
        // Warewulf trap: warewulf.conf changes need `wwctl configure --all` to regenerate dhcp/tftp/nfs config before warewulfd restarts.
        if (g.service === 'warewulfd') {
          steps.push({ class: g.class, service: g.service, nodes: '', command: 'wwctl configure --all', description: 'regenerate the dhcp, tftp, nfs and ssh configuration Warewulf manages' });
        }
        steps.push({ class: g.class, service: g.service, nodes: '', command: `systemctl restart ${service}`, description: why || `restart ${service}` });
        break;
      case 'daemon-reload':
        steps.push({ class: g.class, service: g.service, nodes: '', command: `systemctl reload ${service}`, description: why || `reload ${service}` });
        break;
      case 'slurm-reconfigure':
        steps.push({ class: g.class, service: null, nodes: g.hostlist, command: 'scontrol reconfigure', description: why || 'slurmctld and the slurmds re-read the Slurm configuration' });
        break;
      case 'reboot':
        steps.push({
          class: g.class,
          service: null,
          nodes: g.hostlist,
          // ASAP drains the nodes first, so running jobs finish before the reboot.
          command: g.hostlist ? `scontrol reboot ASAP nextstate=resume ${g.hostlist}` : null,
          description: `${g.hostlist ? `reboot ${g.hostlist}` : 'reboot the affected nodes'}: nodes load a new image or system overlay only at boot${why ? ` (${why})` : ''}`,
        });
        break;
      case 'runtime-refresh':
        steps.push({ class: g.class, service: null, nodes: g.hostlist, command: null, description: `${g.hostlist || 'nodes'} pick up the runtime overlay within a minute (wwclient); nothing to run` });
        break;
      case 'none':
        break;
    }
  }
  return steps;
}
