// The plan as a pull-request comment (pure): summary and impact tables, drift, and collapsible per-file diffs, from a Plan value only.
import { impactGroups, nextSteps } from './impact.ts';
import type { PlanMeta } from './plan-json.ts';
import { isChange, summarizePlan, type Plan, type PlanAction } from './plan-types.ts';
import { contentDiffLines, contentDiffSummary, describeChange, describeDrift, groupByNodes, impactLabel } from './render-common.ts';

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

/** Render the plan as GitHub-flavoured markdown for a pull-request comment. */
export function renderPlanMarkdown(plan: Plan, meta: PlanMeta): string {
  const s = summarizePlan(plan);
  const out: string[] = [`### herd plan: ${code(meta.cluster ?? '(unnamed)')}`, ''];
  const changes = plan.actions.filter(isChange);
  if (changes.length === 0) {
    out.push(`**No changes.** The target matches the spec (${s.unchanged} artifacts unchanged).`);
    return out.join('\n') + '\n';
  }
  out.push(
    `**${s.create} to create · ${s.update} to update · ${s.delete} to delete** · ${s.unchanged} unchanged` + (s.drift ? ` · ⚠️ ${s.drift} drifted` : ''),
    '',
  );

  const groups = impactGroups(plan);
  if (groups.length > 0) {
    const steps = nextSteps(groups);
    out.push('| Impact | Nodes | Files | After apply |', '|---|---|---|---|');
    for (const g of groups) {
      const cmds = steps.filter((st) => st.class === g.class && st.service === g.service).map((st) => (st.command ? code(st.command) : escapeHtml(st.description)));
      out.push(`| ${g.service ? `${g.class} ${code(g.service)}` : g.class} | ${g.hostlist ? code(g.hostlist) : '—'} | ${g.paths.length} | ${cmds.join('<br>')} |`);
    }
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

  out.push('#### Changes', '');
  for (const g of groupByNodes(changes)) {
    out.push(`**${g.nodes ? code(g.nodes) : 'head and shared files'}**`, '');
    for (const a of g.actions) for (const l of actionBlock(a)) out.push(l);
    out.push('');
  }
  out.push(`<sub>herd ${escapeHtml(meta.herdVersion)} · spec ${meta.specHash.slice(0, 12)} · state ${meta.manifestHash ? meta.manifestHash.slice(0, 12) : 'none'}</sub>`);
  return out.join('\n').replace(/\n{3,}/g, '\n\n') + '\n';
}
