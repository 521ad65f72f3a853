// The after-apply runbook (pure): one ordered, de-duplicated list of what the admin does once herd apply has written the files.
// Order: image → overlays → warewulfd → DHCP → other head services → Slurm → node (re)boots. herd writes the images, overlays, host files
// and DHCP configuration itself, so the runbook never says `wwctl overlay build` or `wwctl configure`.
import type { ImpactClass } from '../artifacts/artifact.ts';
import { codeUnitOrder } from '../diagnostics/diagnostic.ts';
import { compareHostnames, compressHostlist } from '../spec/hostlist.ts';
import { isChange, type Plan, type PlanAction } from './plan-types.ts';
import { DEFAULT_SLURM_VERSION, SLURM_DEFAULTS, type SlurmVersion } from '../spec/slurm-keys.ts';

export interface NextStep {
  readonly class: ImpactClass;
  readonly service: string | null;
  /** Hostlist of the nodes concerned ('' when none). */
  readonly nodes: string;
  /** The command to run, or null when nothing needs running (herd already did it, or it happens by itself). */
  readonly command: string | null;
  readonly description: string;
}

/**
 * What a Slurm version needs after slurm.conf changes (scontrol(1) "reconfigure" and the FAQ's "How should I add nodes" at each tag):
 * from 23.11 on, scontrol reconfigure starts new slurmctld and slurmd processes that take over only if they come up, so most changes
 * need nothing more; 24.11 also takes added or removed nodes that way. No version's reconfigure changes listening ports or
 * authentication: those need slurmctld and every slurmd restarted.
 */
export interface SlurmRules {
  /** Adding or removing nodes needs slurmctld and every slurmd restarted (before 24.11). */
  readonly membershipRestarts: boolean;
  /** scontrol reconfigure restarts the daemons in place, so slurmd re-reads cgroup.conf too (23.11 on). */
  readonly reconfigureRestarts: boolean;
}

export function slurmRules(version: SlurmVersion): SlurmRules {
  return version === '22.05' ? { membershipRestarts: true, reconfigureRestarts: false } : { membershipRestarts: false, reconfigureRestarts: true };
}

/** slurm.conf keys no scontrol reconfigure applies: the daemons' listening ports and addresses and the authentication plugins. */
const RESTART_KEYS = /^[+-](SlurmctldHost|SlurmctldAddr|SlurmctldPort|SlurmdPort|AuthType|AuthAltTypes|AuthAltParameters|AuthInfo|CredType|CommunicationParameters)=/i;

/**
 * Keys of restart-only settings whose value the slurm.conf diff changes (sorted, canonical as written). A line that only
 * moves (the same key and value removed and added), or a key written out with the value Slurm takes without it (as on a
 * site adopted by herd import), changes nothing.
 */
function restartKeyChanges(diff: string | undefined): string[] {
  const before = new Map<string, { key: string; value: string }>();
  const after = new Map<string, { key: string; value: string }>();
  for (const line of (diff ?? '').split('\n')) {
    if (line.startsWith('+++') || line.startsWith('---')) continue;
    const m = RESTART_KEYS.exec(line);
    if (!m) continue;
    const value = line.slice(m[0].length).replace(/\s+#.*$/, '').trim();
    (line[0] === '-' ? before : after).set(m[1]!.toLowerCase(), { key: m[1]!, value });
  }
  const keys = new Set<string>();
  for (const k of new Set([...before.keys(), ...after.keys()])) {
    // An absent key is what slurmctld takes without it (AuthType, CredType: munge).
    const a = before.get(k)?.value ?? SLURM_DEFAULTS[k];
    const b = after.get(k)?.value ?? SLURM_DEFAULTS[k];
    if (a === undefined || b === undefined || a.toLowerCase() !== b.toLowerCase()) keys.add((after.get(k) ?? before.get(k))!.key);
  }
  return [...keys].sort();
}

/**
 * Nodes whose host entry appears, goes or changes in the /etc/hosts block diff (`# Entry for <node>` and `<address> <node> ...`
 * lines). A line of another netdev names `<node>-<netname>` first (`172.16.0.11 node1-bond0`): it counts for its node, the
 * entry it sits in, or else the node in `nodes` its name extends.
 */
export function hostEntryChanges(diff: string | undefined, nodes: ReadonlySet<string> = new Set()): { added: string[]; removed: string[]; changed: string[] } | undefined {
  if (diff === undefined) return undefined;
  const plus = new Set<string>();
  const minus = new Set<string>();
  const touched = new Set<string>();
  let current: string | undefined;
  const nodeOf = (name: string): string => {
    if (nodes.has(name) || name === current) return name;
    if (current !== undefined && name.startsWith(`${current}-`)) return current;
    let best: string | undefined;
    for (const n of nodes) if (name.startsWith(`${n}-`) && (best === undefined || n.length > best.length)) best = n;
    return best ?? name;
  };
  for (const line of diff.split('\n')) {
    if (line.startsWith('+++') || line.startsWith('---') || line.startsWith('@@')) {
      if (line.startsWith('@@')) current = undefined;
      continue;
    }
    const sign = line[0];
    const entry = /^# Entry for (\S+)$/.exec(line.slice(1));
    if (entry) current = entry[1]!;
    if (sign !== '+' && sign !== '-') continue;
    if (entry) (sign === '+' ? plus : minus).add(entry[1]!);
    const host = /^\d+\.\d+\.\d+\.\d+ (\S+) /.exec(line.slice(1));
    if (host && !line.slice(1).endsWith(' warewulf')) touched.add(nodeOf(host[1]!));
  }
  const sort = (s: Iterable<string>) => [...s].sort(compareHostnames);
  const added = sort([...plus].filter((n) => !minus.has(n)));
  const removed = sort([...minus].filter((n) => !plus.has(n)));
  const changed = sort([...touched].filter((n) => !added.includes(n) && !removed.includes(n)));
  return { added, removed, changed };
}

/** Nodes whose DHCP entry (MAC or address) changes, from the diff of ww4-hosts.conf (`dhcp-host=...,<node>,infinite`) or dhcpd.conf (`host <node>-...`). */
function dhcpEntryChanges(diffs: readonly string[]): string[] {
  const out = new Set<string>();
  for (const diff of diffs) {
    // dhcpd: a changed line inside `host <node>-<netdev> { ... }` belongs to the last host line seen (the diff's context shows it).
    let host: string | undefined;
    for (const line of diff.split('\n')) {
      if (line.startsWith('@@')) host = undefined;
      const h = /^[ +-]host (\S+)-[^-\s]+$/.exec(line);
      if (h) host = h[1];
      if (!/^[+-](?![+-])/.test(line)) continue;
      const m = /^[+-]dhcp-host=.*,([^,]+),infinite$/.exec(line);
      if (m) out.add(m[1]!);
      else if (host && /^[+-]\s+(hardware ethernet|fixed-address) /.test(line)) out.add(host);
    }
  }
  return [...out].sort(compareHostnames);
}

const list = (nodes: Iterable<string>) => compressHostlist([...new Set(nodes)].sort(compareHostnames));
const isDhcp = (a: PlanAction) => a.path === 'etc/dhcp/dhcpd.conf' || a.path.startsWith('etc/dnsmasq.d/');
const SERVICE_DONE = new Set(['warewulfd', 'dnsmasq', 'dhcpd', 'slurmctld', 'slurmd']);

/** What the operator must do after applying `plan`, in the order to do it; every command appears once. Slurm steps follow `plan.slurmVersion`. */
export function nextSteps(plan: Plan): NextStep[] {
  const version = plan.slurmVersion ?? DEFAULT_SLURM_VERSION;
  const rules = slurmRules(version);
  const changes = plan.actions.filter(isChange);
  const steps: NextStep[] = [];
  const byPath = new Map(changes.map((a) => [a.path, a]));
  const hosts = byPath.get('etc/hosts');
  const known = new Set(plan.actions.flatMap((a) => a.nodes));
  // Adopting a running site (herd import): herd's hosts block is new, but nodes.conf was there already, so its nodes are
  // not new nodes to power on, nor nodes whose address changed.
  const nodesConf = plan.actions.find((a) => a.path === 'etc/warewulf/nodes.conf');
  const adopting = hosts?.diff !== undefined && /^--- \/dev\/null\t/m.test(hosts.diff) && nodesConf !== undefined && nodesConf.before !== null;
  const entries = (adopting ? undefined : hostEntryChanges(hosts?.diff, known)) ?? { added: [], removed: [], changed: [] };
  const removed = new Set(entries.removed);
  const added = new Set(entries.added);

  // A tree is an image's chroot (reboot) or an overlay's Warewulf twin (impact none: nothing to do).
  const images = changes.filter((a) => a.kind === 'image' || a.kind === 'kernel' || (a.kind === 'tree' && a.impact.class === 'reboot'));
  if (images.length > 0) {
    const nodes = list(images.flatMap((a) => a.nodes).filter((n) => !removed.has(n)));
    steps.push({ class: 'reboot', service: null, nodes, command: null, description: `image: herd wrote the new image files; ${nodes || 'its nodes'} load them at their next boot (below)` });
  }

  // New nodes' first overlays need no word here: powering them on (last step) is all there is.
  // An archive Warewulf rebuilt with herd's very files (drift 'rebuilt') goes back to herd's bytes: nothing for its node to do.
  const overlays = changes.filter((a) => a.kind === 'overlay' && a.overlay && !a.overlay.gzipOf && a.drift?.kind !== 'rebuilt' && !removed.has(a.overlay.node) && !added.has(a.overlay.node));
  const system = overlays.filter((a) => a.overlay!.stage === 'system').map((a) => a.overlay!.node);
  const runtime = overlays.filter((a) => a.overlay!.stage === 'runtime').map((a) => a.overlay!.node);
  if (system.length > 0) steps.push({ class: 'reboot', service: null, nodes: list(system), command: null, description: `overlays: herd built the __SYSTEM__ overlays of ${list(system)}; they take effect at boot (below); no wwctl overlay build is needed` });
  if (runtime.length > 0) steps.push({ class: 'runtime-refresh', service: null, nodes: list(runtime), command: null, description: `overlays: ${list(runtime)} pick up the new __RUNTIME__ overlay within a minute (wwclient); nothing to run` });
  const overlaysPending = (plan.pending ?? []).filter((p) => p.prefix.includes('/provision/overlays/'));
  if (overlaysPending.length > 0 && (byPath.has('etc/warewulf/nodes.conf') || entries.changed.length > 0 || added.size > 0)) {
    steps.push({ class: 'reboot', service: null, nodes: '', command: 'herd apply', description: `overlays: not rebuilt this run (${overlaysPending[0]!.reason}); nodes keep their old overlays until herd apply runs again where they can be built, before the reboots below` });
  }

  const ww = ['etc/warewulf/warewulf.conf', 'etc/warewulf/nodes.conf'].filter((p) => byPath.has(p));
  if (byPath.has('etc/warewulf/warewulf.conf')) {
    steps.push({ class: 'daemon-restart', service: 'warewulfd', nodes: '', command: 'systemctl restart warewulfd', description: `warewulfd reads ${ww.map((p) => p.split('/').pop()).join(' and ')} only at start (a tftp root change also needs wwctl configure tftp)` });
  } else if (ww.length > 0) {
    steps.push({ class: 'daemon-reload', service: 'warewulfd', nodes: '', command: 'systemctl reload warewulfd', description: 'warewulfd re-reads nodes.conf on reload' });
  }

  const dhcp = changes.filter(isDhcp);
  const dhcpNodes = dhcpEntryChanges(dhcp.map((a) => a.diff ?? ''));
  for (const service of [...new Set(dhcp.map((a) => a.impact.service ?? 'dnsmasq'))].sort()) {
    steps.push({ class: 'daemon-restart', service, nodes: '', command: `systemctl restart ${service}`, description: `DHCP: ${service} reads its configuration only at start${dhcpNodes.length ? ` (entries of ${list(dhcpNodes)} change)` : ''}` });
  }

  const others = new Map<string, { cls: ImpactClass; reasons: Set<string> }>();
  for (const a of changes) {
    const s = a.impact.service;
    if (!s || SERVICE_DONE.has(s) || (a.impact.class !== 'daemon-reload' && a.impact.class !== 'daemon-restart')) continue;
    const g = others.get(s) ?? { cls: a.impact.class, reasons: new Set<string>() };
    if (a.impact.class === 'daemon-restart') g.cls = 'daemon-restart';
    if (a.impact.reason) g.reasons.add(a.impact.reason);
    others.set(s, g);
  }
  for (const [service, g] of [...others].sort(([x], [y]) => codeUnitOrder(x, y))) {
    const verb = g.cls === 'daemon-restart' ? 'restart' : 'reload';
    steps.push({ class: g.cls, service, nodes: '', command: `systemctl ${verb} ${service}`, description: [...g.reasons].sort().join('; ') || `${verb} ${service}` });
  }

  const slurm = byPath.get('etc/slurm/slurm.conf');
  const gres = byPath.get('etc/slurm/gres.conf') ?? changes.find((a) => a.path === 'etc/slurm/gres.conf');
  // A hosts block too large to diff hides who was added or removed: then take the safe path for Slurm.
  const unknown = hosts !== undefined && hosts.diff === undefined;
  const membership = slurm !== undefined && (added.size > 0 || removed.size > 0 || unknown);
  const portKeys = restartKeyChanges(slurm?.diff);
  const restartAll = (membership && rules.membershipRestarts) || portKeys.length > 0;
  const who = [added.size ? `${list(added)} added` : '', removed.size ? `${list(removed)} removed` : ''].filter(Boolean).join(', ') || 'nodes may have been added or removed (the host table is too large to diff)';
  // Nodes leaving Slurm should run no jobs when they go (the FAQ's "How should I remove nodes" drains them first).
  if (membership && removed.size > 0) {
    steps.push({ class: 'slurm-reconfigure', service: null, nodes: list(removed), command: `scontrol update nodename=${list(removed)} state=drain reason="removed by herd"`, description: `Slurm: drain ${list(removed)} before the change below, and wait until no job runs there` });
  }
  if (restartAll || gres) {
    const why = restartAll
      ? membership && rules.membershipRestarts
        ? `${who}: Slurm ${version} needs slurmctld and every slurmd restarted when nodes are added or removed`
        : `${portKeys.join(', ')} changed: no scontrol reconfigure changes ports, addresses or authentication; slurmctld and every slurmd restart`
      : 'GRES changes need slurmctld and the slurmd of the nodes with GPUs restarted';
    steps.push({ class: 'daemon-restart', service: 'slurmctld', nodes: '', command: 'systemctl restart slurmctld', description: `Slurm: ${why}` });
    // Every node herd knows of: what its per-node artifacts (images, overlays, gres.conf) name, changed or not.
    const all = new Set(plan.actions.flatMap((a) => a.nodes));
    const targets = restartAll ? [...all].filter((n) => !added.has(n) && !removed.has(n)) : (gres?.nodes ?? []);
    const hl = list(targets);
    steps.push({ class: 'daemon-restart', service: 'slurmd', nodes: hl, command: hl ? `pdsh -w ${hl} systemctl restart slurmd` : null, description: `Slurm: restart slurmd on ${hl || (restartAll ? 'every node that is up' : 'the nodes with GPUs')} (on the compute nodes, not the head)` });
  }
  // cgroup.conf is read by slurmd at start, on the compute nodes only: a restart of every slurmd covers it, and from 23.11 so does
  // scontrol reconfigure (it starts slurmd anew).
  const cgroup = byPath.get('etc/slurm/cgroup.conf') ?? changes.find((a) => a.path === 'etc/slurm/cgroup.conf');
  if (!restartAll && (rules.reconfigureRestarts ? slurm || cgroup : slurm && !gres)) {
    const what = rules.reconfigureRestarts
      ? `Slurm ${version}: slurmctld and every slurmd restart in place on the new ${[slurm ? 'slurm.conf' : '', cgroup ? 'cgroup.conf' : ''].filter(Boolean).join(' and ')} (running jobs continue; a daemon whose new configuration fails keeps the old one)${membership ? `; Slurm ${version} takes nodes added or removed this way (${who})` : ''}`
      : 'Slurm: slurmctld and the slurmds re-read slurm.conf';
    steps.push({ class: 'slurm-reconfigure', service: null, nodes: '', command: 'scontrol reconfigure', description: what });
  }
  if (cgroup && !restartAll && !rules.reconfigureRestarts) {
    const done = new Set(gres?.nodes ?? []);
    const hl = list(cgroup.nodes.filter((n) => !done.has(n)));
    if (hl) steps.push({ class: 'daemon-restart', service: 'slurmd', nodes: hl, command: `pdsh -w ${hl} systemctl restart slurmd`, description: `Slurm: restart slurmd on ${hl} to read the new cgroup.conf (on the compute nodes, not the head)` });
  }

  const reboot = new Set<string>();
  for (const a of changes) if (a.impact.class === 'reboot') for (const n of a.nodes) reboot.add(n);
  for (const n of [...entries.changed, ...dhcpNodes]) reboot.add(n);
  for (const n of [...added, ...removed]) reboot.delete(n);
  if (reboot.size > 0) {
    const hl = list(reboot);
    steps.push({ class: 'reboot', service: null, nodes: hl, command: `scontrol reboot ASAP nextstate=resume ${hl}`, description: `reboot ${hl} once the steps above are done: nodes load a new image, system overlay or address only at boot (ASAP drains them first, so running jobs finish)` });
  }
  if (added.size > 0) steps.push({ class: 'reboot', service: null, nodes: list(added), command: null, description: `power on ${list(added)}: new nodes PXE-boot from warewulfd and join Slurm` });
  if (removed.size > 0) steps.push({ class: 'reboot', service: null, nodes: list(removed), command: null, description: `power off ${list(removed)}: herd no longer serves these nodes` });
  return steps;
}

