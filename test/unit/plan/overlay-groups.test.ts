// Grouping overlay changes and pending artifacts (pure): hostlist entries, twins folded, and 10,000 nodes × 4 archives planned and rendered quickly.
import { describe, expect, it } from 'vitest';
import type { ContentEntry } from '../../../src/artifacts/artifact.ts';
import { overlayGroups } from '../../../src/plan/overlay-groups.ts';
import { pendingGroups } from '../../../src/plan/pending-groups.ts';
import { toPlanDocument, type PlanDocument, type PlanMeta } from '../../../src/plan/plan-json.ts';
import { summarizePlan, type ArchiveChanges, type Plan, type PlanAction } from '../../../src/plan/plan-types.ts';
import { renderPlanJson } from '../../../src/plan/render-json.ts';
import { renderPlanMarkdown } from '../../../src/plan/render-markdown.ts';
import { renderPlanText } from '../../../src/plan/render-text.ts';

const meta: PlanMeta = { herdVersion: '0.0.0-test', cluster: 'big', root: 'root', specHash: 'a'.repeat(64), manifestHash: 'b'.repeat(64) };
const hex = (n: number) => n.toString(16).padStart(64, '0');
const file = (path: string, sha: number, size = 100): ContentEntry => ({ path, type: 'file', mode: 0o644, uid: 0, gid: 0, size, sha256: hex(sha) });

function archive(node: string, stage: 'system' | 'runtime', gz: boolean, changes: ArchiveChanges | undefined, n: number): PlanAction {
  const img = `srv/warewulf/provision/overlays/${node}/${stage === 'system' ? '__SYSTEM__' : '__RUNTIME__'}.img`;
  return {
    action: 'update',
    path: gz ? `${img}.gz` : img,
    kind: 'overlay',
    secret: false,
    reasons: ['content'],
    before: { sha256: hex(n * 4 + 1), size: 512, mode: 0o644 },
    after: { sha256: hex(n * 4 + 2), size: 512, mode: 0o644, owner: 'root', group: 'root' },
    recordedSha256: hex(n * 4 + 1),
    drift: null,
    impact: stage === 'system' ? { class: 'reboot' } : { class: 'runtime-refresh' },
    nodes: [node],
    overlay: { node, stage, overlays: ['wwinit', 'hosts'], ...(gz ? { gzipOf: img } : {}) },
    ...(changes && !gz ? { archiveChanges: changes } : {}),
  };
}

/** `count` nodes: every runtime overlay gains the same /etc/hosts line (one shared change set), every system overlay its own address. */
function bigPlan(count: number): Plan {
  const hosts: ArchiveChanges = {
    files: [{ path: 'etc/hosts', before: file('etc/hosts', 1), after: file('etc/hosts', 2, 120), diff: '--- a/etc/hosts\tprevious\n+++ b/etc/hosts\tplanned\n@@ -1,1 +1,2 @@\n 10.0.0.1 head\n+10.0.0.250 login\n' }],
    source: 'archive',
  };
  const actions: PlanAction[] = [];
  for (let i = 1; i <= count; i++) {
    const node = `n${String(i).padStart(5, '0')}`;
    const own: ArchiveChanges = { files: [{ path: 'etc/hostname', before: file('etc/hostname', 1e6 + i), after: file('etc/hostname', 2e6 + i), noDiff: 'not-read' }], source: 'index' };
    actions.push(archive(node, 'system', false, own, i), archive(node, 'system', true, own, i), archive(node, 'runtime', false, hosts, i), archive(node, 'runtime', true, hosts, i));
  }
  actions.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { actions, interrupted: null };
}

describe('overlayGroups', () => {
  it('folds each .img.gz into its .img and groups identical changes by hostlist', () => {
    const { groups, others } = overlayGroups(bigPlan(6).actions);
    expect(others).toEqual([]);
    expect(groups.map((g) => `${g.stage} ${g.hostlist} ${g.archives.length}+${g.twins.length}`)).toEqual([
      'system n00001 1+1',
      'system n00002 1+1',
      'system n00003 1+1',
      'system n00004 1+1',
      'system n00005 1+1',
      'system n00006 1+1',
      'runtime n[00001-00006] 6+6',
    ]);
    expect(groups[6]!.pathPattern).toBe('srv/warewulf/provision/overlays/n[00001-00006]/__RUNTIME__.img');
  });

  it('keeps a .img.gz changing without its .img as an entry of its own, and separates nodes whose twin changes differently', () => {
    const actions = bigPlan(3).actions.filter((a) => a.path !== 'srv/warewulf/provision/overlays/n00002/__RUNTIME__.img');
    const missing = actions.map((a) => (a.path === 'srv/warewulf/provision/overlays/n00003/__RUNTIME__.img.gz' ? { ...a, action: 'create' as const, reasons: ['missing' as const], before: null } : a));
    const runtime = overlayGroups(missing).groups.filter((g) => g.stage === 'runtime');
    expect(runtime.map((g) => [g.hostlist, g.gzip, g.twinChange ?? ''])).toEqual([
      ['n00001', false, ''],
      ['n00003', false, 'create (missing)'],
      ['n00002', true, ''],
    ]);
  });

  it('plans and renders 10,000 nodes × 4 overlay archives quickly, in two runtime lines and 10,000 system entries', () => {
    const plan = bigPlan(10_000);
    const text = renderPlanText(plan, meta, { color: false });
    const md = renderPlanMarkdown(plan, meta);
    const json = renderPlanJson(plan, meta, { exitCode: 2, diagnostics: [] });
    expect(text.match(/__RUNTIME__ of /g)).toHaveLength(1);
    expect(text).toContain('~ __RUNTIME__ of n[00001-10000]  update (content)  → runtime-refresh');
    expect(text.match(/__SYSTEM__ of /g)).toHaveLength(10_000);
    expect(md.length).toBeLessThan(65_536);
    // Shape checked by zod in the other tests; here only the counts (parsing 40,000 changes with zod is slower than planning them).
    const doc = (JSON.parse(json) as { result: PlanDocument }).result;
    expect(doc.changes).toHaveLength(40_000);
    expect(doc.overlayGroups).toHaveLength(10_001);
    expect(doc.overlayGroups.at(-1)).toMatchObject({ nodes: 'n[00001-10000]', nodeCount: 10_000 });
    // No timing here (the machine may be busy): the three take about two seconds on a loaded two-core box, and a quadratic
    // step would take minutes, which the test's time limit turns into a failure.
  }, 60_000);
});

describe('pending', () => {
  const reason = 'the munge key /etc/munge/munge.key is not on this machine';
  const pending = [
    { prefix: 'srv/warewulf/chroots/rocky/rootfs/', reason: 'image rocky: not cached' },
    { prefix: 'srv/warewulf/provision/images/rocky.img', reason: 'image rocky: not cached' },
    ...Array.from({ length: 1000 }, (_, i) => ({ prefix: `srv/warewulf/provision/overlays/c${i + 1}/`, reason })),
    { prefix: 'srv/warewulf/provision/overlays/gpu1/__SYSTEM__.img', reason: 'nvidia overlay missing' },
  ].sort((a, b) => (a.prefix < b.prefix ? -1 : 1));

  it('merges per-node overlay prefixes with the same reason into one hostlist path', () => {
    expect(pendingGroups(pending)).toEqual([
      { reason: 'image rocky: not cached', paths: ['srv/warewulf/chroots/rocky/rootfs/', 'srv/warewulf/provision/images/rocky.img'], nodes: '', nodeCount: 0, prefixes: 2 },
      { reason, paths: ['srv/warewulf/provision/overlays/c[1-1000]/'], nodes: 'c[1-1000]', nodeCount: 1000, prefixes: 1000 },
      { reason: 'nvidia overlay missing', paths: ['srv/warewulf/provision/overlays/gpu1/__SYSTEM__.img'], nodes: 'gpu1', nodeCount: 1, prefixes: 1 },
    ]);
  });

  it('counts as changes present, and reads as pending rather than "No changes" in every format', () => {
    const plan: Plan = { actions: [], interrupted: null, pending };
    expect(summarizePlan(plan)).toMatchObject({ pending: 1003, applyNeeded: false, changesPresent: true });
    const text = renderPlanText(plan, meta, { color: false });
    expect(text).not.toContain('No changes');
    expect(text).toContain('Pending: not built this run, so the target keeps what herd last applied there:\n');
    expect(text).toContain(`  srv/warewulf/provision/overlays/c[1-1000]/\n      ${reason}\n`);
    expect(text).toContain('Nothing to apply (0 artifacts unchanged), but the target does not match the whole spec: 1003 path(s) above are pending.');
    const md = renderPlanMarkdown(plan, meta);
    expect(md).not.toContain('No changes');
    expect(md).toContain(`- \`srv/warewulf/provision/overlays/c[1-1000]/\`: ${reason}`);
    const doc = toPlanDocument(plan, meta);
    expect(doc.summary).toMatchObject({ pending: 1003, changesPresent: true });
    expect(doc.pending).toHaveLength(1003);
    expect(doc.pendingGroups.map((g) => g.paths)).toEqual([['srv/warewulf/chroots/rocky/rootfs/', 'srv/warewulf/provision/images/rocky.img'], ['srv/warewulf/provision/overlays/c[1-1000]/'], ['srv/warewulf/provision/overlays/gpu1/__SYSTEM__.img']]);
  });
});
