// The plan as a pull-request comment (pure): summary and impact tables, drift, and collapsible per-file diffs, from a Plan value only.
import { impactGroups } from './impact.ts';
import { nextSteps } from './runbook.ts';
import { overlayGroups, type OverlayGroup } from './overlay-groups.ts';
import { pendingGroups } from './pending-groups.ts';
import type { PlanMeta } from './plan-json.ts';
import { awaitingRebootLines } from './render-text.ts';
import { isChange, summarizePlan, type Plan, type PlanAction } from './plan-types.ts';
import { contentDiffLines, contentDiffSummary, describeChange, describeDrift, groupByNodes, impactLabel } from './render-common.ts';
import { overlayArchiveLabel, overlayGroupFacts, overlayGroupFiles } from './render-overlay.ts';

/** Overlay entries shown with their file diffs, then entries listed by one line each; the rest are counted, so a comment on a renumbered 10,000-node cluster still fits. */
export const MAX_OVERLAY_GROUPS = 30;
export const MAX_OVERLAY_LINES = 100;

/** GitHub rejects comments over 65,536 characters; long diffs are cut per file so the summary always fits. */
export const MAX_DIFF_LINES = 300;

const code = (s: string) => '`' + s.replaceAll('`', "'") + '`';
const escapeHtml = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** A fenced block whose fence is longer than any backtick run inside, so content cannot close it. */
function fenced(lang: string, body: string): string[] {
  const runs = body.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(3, ...runs.map((r) => r.length + 1)));
  const lines = body.replace(/\n$/, '').split('\n');
  const shown = lines.length > MAX_DIFF_LINES ? [...lines.slice(0, MAX_DIFF_LINES), `… ${lines.length - MAX_DIFF_LINES} more lines (see herd plan locally)`] : lines;
  return [fence + lang, ...shown, fence];
}

function details(summary: string, body: string[]): string[] {
  return ['<details>', `<summary>${summary}</summary>`, '', ...body, '', '</details>', ''];
}

function actionBlock(a: PlanAction): string[] {
  const title = `<b>${a.action}</b> <code>${escapeHtml(a.path)}</code> · ${escapeHtml(impactLabel(a.impact))}`;
  const facts = [describeChange(a), a.drift ? `⚠️ drift: ${describeDrift(a.drift, a.secret)}` : ''].filter(Boolean);
  const body: string[] = facts.map((f) => `${escapeHtml(f)}  `);
  if (!a.secret) {
    const summary = contentDiffSummary(a);
    const lines = contentDiffLines(a);
    if (summary && (lines.length > 0 || body.length > 0)) body.push('', escapeHtml(summary));
    if (lines.length > 0) body.push('', ...fenced('diff', lines.join('\n')));
    if (a.diff) body.push('', ...fenced('diff', a.diff));
  }
  const hasDetail = !a.secret && (a.diff !== undefined || (a.contentDiff !== undefined && contentDiffLines(a).length > 0));
  if (!hasDetail) return [`- ${title}${facts.length ? ` — ${escapeHtml(facts.join('; '))}` : ''}`];
  return details(title, body);
}

function overlayBlock(g: OverlayGroup, full: boolean): string[] {
  const title = `<b>${g.action}</b> ${escapeHtml(overlayArchiveLabel(g))} of <code>${escapeHtml(g.hostlist)}</code> · ${escapeHtml(impactLabel(g.archives[0]!.impact))}`;
  const facts = overlayGroupFacts(g);
  const files = overlayGroupFiles(g);
  if (!full || files.length === 0) return [`- ${title} — ${escapeHtml(facts.join('; '))}`];
  const body: string[] = facts.map((f) => `${escapeHtml(f)}  `);
  for (const f of files) {
    body.push('', `${code(f.line)}`);
    if (f.diff) body.push('', ...fenced('diff', f.diff));
  }
  return details(title, body);
}

function pendingSection(plan: Plan): string[] {
  const groups = pendingGroups(plan.pending ?? []);
  if (groups.length === 0) return [];
  const out = ['#### Pending', '', 'Not built this run, so the target keeps what herd last applied there:', ''];
  for (const g of groups) out.push(`- ${g.paths.map(code).join(', ')}: ${escapeHtml(g.reason)}`);
  return [...out, ''];
}

/** Render the plan as GitHub-flavoured markdown for a pull-request comment. */
export function renderPlanMarkdown(plan: Plan, meta: PlanMeta): string {
  const s = summarizePlan(plan);
  const out: string[] = [`### herd plan: ${code(meta.cluster ?? '(unnamed)')}`, ''];
  const changes = plan.actions.filter(isChange);
  const awaiting = awaitingRebootLines(meta.awaitingReboot);
  // The text section's node lines (between its title and its closing hint), one list item each.
  if (awaiting.length > 0) out.push('#### Nodes awaiting reboot', '', ...awaiting.slice(1, -2).map((l) => `- ${escapeHtml(l.trim())}`), '', 'Reboot them through Slurm, in batches: `herd rollout`', '');
  if (changes.length === 0) {
    if (s.pending > 0) out.push(`**Nothing to apply, ${s.pending} pending.** The target matches what herd could build (${s.unchanged} artifacts unchanged), not the whole spec.`, '', ...pendingSection(plan));
    else out.push(`**No changes.** The target matches the spec (${s.unchanged} artifacts unchanged).`);
    return out.join('\n').replace(/\n{3,}/g, '\n\n').replace(/\n+$/, '') + '\n';
  }
  out.push(
    `**${s.create} to create · ${s.update} to update · ${s.delete} to delete** · ${s.unchanged} unchanged` + (s.drift ? ` · ⚠️ ${s.drift} drifted` : '') + (s.pending ? ` · ⏳ ${s.pending} pending` : ''),
    '',
  );

  const groups = impactGroups(plan);
  if (groups.length > 0) {
    out.push('| Impact | Nodes | Files |', '|---|---|---|');
    for (const g of groups) out.push(`| ${g.service ? `${g.class} ${code(g.service)}` : g.class} | ${g.hostlist ? code(g.hostlist) : '—'} | ${g.paths.length} |`);
    out.push('');
  }
  const steps = nextSteps(plan);
  if (steps.length > 0) {
    out.push('**After apply**, in this order:', '');
    steps.forEach((st, i) => out.push(`${i + 1}. ${st.command ? `${code(st.command)}: ` : ''}${escapeHtml(st.description)}`));
    out.push('');
  }

  if (plan.interrupted) {
    const i = plan.interrupted;
    out.push(`> [!WARNING]`, `> An earlier apply did not finish (pid ${i.pid} on ${code(i.host)}, since ${i.since}); this plan includes what it left undone.`, '');
  }

  const drifted = plan.actions.filter((a) => a.drift);
  if (drifted.length > 0) {
    out.push('#### Drift', '');
    if (drifted.some((a) => a.drift!.blocking)) out.push('`herd apply` refuses to overwrite these unless `--overwrite-drift` is given.', '');
    for (const a of drifted) {
      const title = `<code>${escapeHtml(a.path)}</code>: ${escapeHtml(describeDrift(a.drift!, a.secret))}`;
      if (a.drift!.diff && !a.secret) for (const l of details(title, fenced('diff', a.drift!.diff))) out.push(l);
      else out.push(`- ${title}`);
    }
    out.push('');
  }

  for (const l of pendingSection(plan)) out.push(l);

  const { groups: overlays, others } = overlayGroups(changes);
  if (others.length > 0) {
    out.push('#### Changes', '');
    for (const g of groupByNodes(others)) {
      out.push(`**${g.nodes ? code(g.nodes) : 'head and shared files'}**`, '');
      for (const a of g.actions) for (const l of actionBlock(a)) out.push(l);
      out.push('');
    }
  }
  if (overlays.length > 0) {
    out.push('#### Overlays', '', 'Nodes whose overlay changes identically share one entry.', '');
    overlays.slice(0, MAX_OVERLAY_GROUPS + MAX_OVERLAY_LINES).forEach((g, i) => {
      for (const l of overlayBlock(g, i < MAX_OVERLAY_GROUPS)) out.push(l);
    });
    if (overlays.length > MAX_OVERLAY_GROUPS) {
      const left = overlays.length - MAX_OVERLAY_GROUPS - MAX_OVERLAY_LINES;
      out.push('', `File diffs are shown for the first ${MAX_OVERLAY_GROUPS} entries${left > 0 ? `, and ${left} more entries are not listed` : ''}; run herd plan locally for the rest.`);
    }
    out.push('');
  }
  out.push(`<sub>herd ${escapeHtml(meta.herdVersion)} · spec ${meta.specHash.slice(0, 12)} · state ${meta.manifestHash ? meta.manifestHash.slice(0, 12) : 'none'}</sub>`);
  return out.join('\n').replace(/\n{3,}/g, '\n\n') + '\n';
}
