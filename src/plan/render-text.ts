// The human plan (pure): drift, changes grouped by node with diffs, impact and next steps, rendered from a Plan value only.
import { impactGroups } from './impact.ts';
import { nextSteps, type NextStep } from './runbook.ts';
import { overlayGroups, type OverlayGroup } from './overlay-groups.ts';
import { listShort, pendingGroups } from './pending-groups.ts';
import type { PlanMeta } from './plan-json.ts';
import type { AwaitingReboot } from './state-manifest.ts';
import { compressHostlist } from '../spec/hostlist.ts';
import { isChange, summarizePlan, type Plan, type PlanAction } from './plan-types.ts';
import {
  ACTION_SYMBOL,
  contentDiffLines,
  contentDiffSummary,
  describeChange,
  describeDrift,
  groupByNodes,
  impactLabel,
} from './render-common.ts';
import { overlayGroupFacts, overlayGroupFiles, overlayGroupTitle } from './render-overlay.ts';

export interface TextRenderOptions {
  readonly color: boolean;
}

type Paint = (code: string, s: string) => string;
const painter = (color: boolean): Paint => (code, s) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);

const ACTION_COLOR = { create: '32', update: '33', delete: '31', 'no-op': '0' } as const;

function indent(text: string, pad: string): string[] {
  return text.replace(/\n$/, '').split('\n').map((l) => pad + l);
}

function diffLines(diff: string, pad: string, paint: Paint): string[] {
  return indent(diff, pad).map((l) => {
    const body = l.slice(pad.length);
    if (body.startsWith('+++') || body.startsWith('---')) return pad + paint('1', body);
    if (body.startsWith('+')) return pad + paint('32', body);
    if (body.startsWith('-')) return pad + paint('31', body);
    if (body.startsWith('@@')) return pad + paint('36', body);
    return l;
  });
}

function actionLines(a: PlanAction, paint: Paint): string[] {
  const head = `${paint(ACTION_COLOR[a.action], `${ACTION_SYMBOL[a.action]} ${a.path}`)}  ${a.action}${a.reasons.length ? ` (${a.reasons.join(', ')})` : ''}  → ${impactLabel(a.impact)}`;
  const out = [`    ${head}`];
  const detail = describeChange(a);
  if (detail) out.push(`        ${detail}`);
  if (a.drift) out.push(`        ${paint('35', `! drift: ${describeDrift(a.drift, a.secret)}`)}`);
  if (a.secret) {
    out.push(`        content hidden: secret`);
    return out;
  }
  const summary = contentDiffSummary(a);
  if (summary) out.push(`        ${summary}`);
  for (const line of contentDiffLines(a)) out.push(`          ${line}`);
  // Loops, not push(...spread): a diff of a 200,000-node nodes.conf has more lines than a call may take arguments.
  if (a.diff) for (const l of diffLines(a.diff, '        ', paint)) out.push(l);
  return out;
}

function overlayGroupLines(g: OverlayGroup, paint: Paint): string[] {
  const a = g.archives[0]!;
  const head = `${paint(ACTION_COLOR[g.action], `${ACTION_SYMBOL[g.action]} ${overlayGroupTitle(g)}`)}  ${g.action}${g.reasons.length ? ` (${g.reasons.join(', ')})` : ''}  → ${impactLabel(a.impact)}`;
  const out = [`    ${head}`];
  for (const f of overlayGroupFacts(g)) out.push(`        ${f.startsWith('! drift') ? paint('35', f) : f}`);
  for (const f of overlayGroupFiles(g)) {
    out.push(`          ${f.line}`);
    if (f.diff) for (const l of diffLines(f.diff, '              ', paint)) out.push(l);
  }
  return out;
}

/** Pending artifacts, one entry per reason: the paths, then the reason. */
function pendingLines(plan: Plan): string[] {
  const groups = pendingGroups(plan.pending ?? []);
  if (groups.length === 0) return [];
  const out = ['Pending: not built this run, so the target keeps what herd last applied there:'];
  for (const g of groups) {
    for (const p of g.paths) out.push(`  ${p}`);
    out.push(`      ${g.reason}`);
  }
  return [...out, ''];
}

/** One line per reason for apply's closing message: "Kept as last applied, pending: <paths> (<reason>)". */
export function renderPendingSummaryText(plan: Plan): string {
  return pendingGroups(plan.pending ?? [])
    .map((g) => `Kept as last applied, pending: ${listShort(g.paths)} (${g.reason}).\n`)
    .join('');
}

function stepLines(steps: readonly NextStep[]): string[] {
  const out: string[] = [];
  let i = 1;
  for (const s of steps) {
    if (s.command) out.push(`  ${i++}. ${s.command}`, `       ${s.description}`);
    else out.push(`  -  ${s.description}`);
  }
  return out;
}

/** "Nodes awaiting reboot": what earlier applies changed that the nodes load only at boot, until herd rollout sees them back (none: no lines). */
export function awaitingRebootLines(awaiting: readonly AwaitingReboot[] | undefined): string[] {
  if (!awaiting || awaiting.length === 0) return [];
  const out = ['Nodes awaiting reboot (an applied image or system overlay takes effect at boot):'];
  const bySince = new Map<string, string[]>();
  for (const a of awaiting) {
    const key = `since generation ${a.since}${a.requestedAt ? `, reboot requested ${a.requestedAt}` : ''}`;
    bySince.set(key, [...(bySince.get(key) ?? []), a.node]);
  }
  for (const [key, nodes] of bySince) out.push(`  ${compressHostlist(nodes)}  (${key})`);
  out.push('  Reboot them through Slurm, in batches: herd rollout', '');
  return out;
}

/** Render the plan for a terminal: drift first, then changes grouped by node, impact and what to run after apply. */
export function renderPlanText(plan: Plan, meta: PlanMeta, options: TextRenderOptions): string {
  const paint = painter(options.color);
  const summary = summarizePlan(plan);
  const out: string[] = [`herd plan: cluster ${meta.cluster ?? '(unnamed)'}, target ${meta.root}`, ''];

  if (plan.interrupted) {
    const i = plan.interrupted;
    const temps = i.leftoverTempFiles.length ? `; ${i.leftoverTempFiles.length} temp file(s) are left and the next apply removes them` : '';
    out.push(paint('35', `! An earlier apply did not finish (pid ${i.pid} on ${i.host}, "${i.command}", since ${i.since})${temps}.`), '');
  }

  const drifted = plan.actions.filter((a) => a.drift);
  if (drifted.length > 0) {
    out.push(paint('1', 'Drift: changed on the target outside herd'));
    for (const a of drifted) {
      out.push(`  ${paint('35', `! ${a.path}`)}  ${describeDrift(a.drift!, a.secret)}`);
      if (a.drift!.diff && !a.secret) for (const l of diffLines(a.drift!.diff, '      ', paint)) out.push(l);
    }
    if (drifted.some((a) => a.drift!.blocking)) out.push('  herd apply refuses to overwrite drifted files unless --overwrite-drift is given.');
    out.push('');
  }

  for (const l of pendingLines(plan)) out.push(l);
  for (const l of awaitingRebootLines(meta.awaitingReboot)) out.push(l);

  const changes = plan.actions.filter(isChange);
  const unchanged = `${summary.unchanged} artifact${summary.unchanged === 1 ? '' : 's'} unchanged`;
  if (changes.length === 0) {
    if (summary.pending > 0) {
      out.push(`Nothing to apply (${unchanged}), but the target does not match the whole spec: ${summary.pending} path(s) above are pending.`);
    } else {
      out.push(`No changes. The target matches the spec (${unchanged}).`);
    }
    if (summary.stateOnly > 0) out.push(`${summary.stateOnly} file(s) already match but their record is out of date; the next apply records them.`);
    return out.join('\n') + '\n';
  }

  const { groups: overlays, others } = overlayGroups(changes);
  if (others.length > 0) {
    out.push(paint('1', 'Changes, grouped by node:'));
    for (const g of groupByNodes(others)) {
      out.push('', `  ${paint('1', g.nodes || '(no node: head and shared files)')}`);
      for (const a of g.actions) for (const l of actionLines(a, paint)) out.push(l);
    }
    out.push('');
  }
  if (overlays.length > 0) {
    out.push(paint('1', 'Overlay changes, nodes with identical changes together:'));
    for (const g of overlays) {
      out.push('');
      for (const l of overlayGroupLines(g, paint)) out.push(l);
    }
    out.push('');
  }

  const groups = impactGroups(plan);
  if (groups.length > 0) {
    out.push(paint('1', 'Impact on the running cluster:'));
    const width = groups.reduce((w, g) => Math.max(w, (g.service ? `${g.class} ${g.service}` : g.class).length), 0);
    for (const g of groups) {
      const label = (g.service ? `${g.class} ${g.service}` : g.class).padEnd(width);
      out.push(`  ${label}  ${g.hostlist || '-'}  (${g.paths.length} file${g.paths.length === 1 ? '' : 's'})`);
    }
    out.push('');
  }
  const steps = nextSteps(plan);
  if (steps.length > 0) out.push(paint('1', 'After apply:'), ...stepLines(steps), '');

  const secretCount = changes.filter((a) => a.secret).length;
  if (secretCount > 0) out.push(`${secretCount} secret file(s) shown by hash only.`);
  out.push(
    `Plan: ${summary.create} to create, ${summary.update} to update, ${summary.delete} to delete, ${summary.unchanged} unchanged` +
      (summary.drift ? `; ${summary.drift} drifted${summary.blockingDrift ? ` (${summary.blockingDrift} blocking)` : ''}` : '') +
      (summary.pending ? `; ${summary.pending} pending` : '') +
      '.',
  );
  return out.join('\n') + '\n';
}

/** Render what to do after an apply (the next steps only), for `herd apply`'s closing message. */
export function renderNextStepsText(plan: Plan): string {
  const steps = nextSteps(plan);
  if (steps.length === 0) return 'Nothing to restart or reboot.\n';
  return ['Next steps:', ...stepLines(steps), ''].join('\n');
}
