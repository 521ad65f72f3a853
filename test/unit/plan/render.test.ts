// Plan renderers: text, markdown and JSON from one Plan value; secrets only as hashes; JSON valid for zod and (independently) ajv.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { planChanges } from '../../../src/plan/plan-changes.ts';
import { planOutputSchema, type PlanMeta } from '../../../src/plan/plan-json.ts';
import type { Plan } from '../../../src/plan/plan-types.ts';
import { renderPlanJson } from '../../../src/plan/render-json.ts';
import { renderPlanMarkdown } from '../../../src/plan/render-markdown.ts';
import { renderNextStepsText, renderPlanText } from '../../../src/plan/render-text.ts';
import { versionSet } from '../state/synthetic-artifacts.ts';
import { diskOf, live, manifestOf } from './plan-fixtures.ts';

const meta: PlanMeta = { herdVersion: '0.0.0-test', cluster: 'synth', root: '.herd/synth/root', specHash: 'a'.repeat(64), manifestHash: 'b'.repeat(64) };
const SECRET_A = 'munge-key-A-0123456789abcdef';
const SECRET_B = 'munge-key-B-0123456789abcdef';

async function abPlan(): Promise<Plan> {
  const a = versionSet('A');
  return planChanges(versionSet('B'), manifestOf(a), live(await diskOf(a)));
}

describe('renderPlanText', () => {
  it('groups changes by node, shows impact and the next steps in a safe order', async () => {
    const out = renderPlanText(await abPlan(), meta, { color: false });
    expect(out).toContain('(no node: head and shared files)');
    expect(out).toContain('\n  c001\n');
    expect(out).toContain('\n  c[001-005]\n');
    const steps = ['systemctl reload warewulfd', 'systemctl restart munge', 'scontrol reconfigure', 'scontrol reboot ASAP nextstate=resume c[001-005]'];
    const at = steps.map((s) => out.indexOf(s));
    expect(at.every((i) => i > 0)).toBe(true);
    expect([...at].sort((x, y) => x - y)).toEqual(at);
    expect(out).toContain('Plan: 2 to create, 7 to update, 2 to delete');
  });

  it('says "No changes" for a no-op plan', async () => {
    const a = versionSet('A');
    const out = renderPlanText(planChanges(a, manifestOf(a), live(await diskOf(a))), meta, { color: false });
    expect(out).toMatch(/No changes\. The target matches the spec \(11 artifacts unchanged\)/);
    expect(renderNextStepsText(planChanges(a, manifestOf(a), live(await diskOf(a))))).toBe('Nothing to restart or reboot.\n');
  });

  it('colours only when asked', async () => {
    const plan = await abPlan();
    expect(renderPlanText(plan, meta, { color: false })).not.toContain('\x1b[');
    expect(renderPlanText(plan, meta, { color: true })).toContain('\x1b[32m');
  });
});

describe('secrets', () => {
  it('never appear in any rendering, only as (secret sha256:…)', async () => {
    const plan = await abPlan();
    const outputs = [renderPlanText(plan, meta, { color: false }), renderPlanMarkdown(plan, meta), renderPlanJson(plan, meta, { exitCode: 0, diagnostics: [] })];
    for (const out of outputs) {
      expect(out).not.toContain(SECRET_A);
      expect(out).not.toContain(SECRET_B);
      expect(out).not.toContain('munge-key-');
    }
    expect(outputs[0]).toMatch(/etc\/munge\/munge\.key[^\n]*\n\s+\(secret sha256:[0-9a-f]{12}…\) → \(secret sha256:[0-9a-f]{12}…\)/);
  });
});

describe('renderPlanMarkdown', () => {
  it('has an impact table, balanced <details> and fences, one block per diffed file', async () => {
    const md = renderPlanMarkdown(await abPlan(), meta);
    expect(md).toContain('| Impact | Nodes | Files |');
    expect(md).toContain('**After apply**, in this order:');
    expect(md).toContain("| reboot | `c[001-005]` | 5 |");
    expect(md).toMatch(/\n\d+\. `scontrol reboot ASAP nextstate=resume c\[001-005\]`: /);
    expect(md.match(/<details>/g)?.length).toBe(md.match(/<\/details>/g)?.length);
    expect((md.match(/^```/gm)?.length ?? 0) % 2).toBe(0);
    expect(md).toContain('<summary><b>update</b> <code>etc/slurm/slurm.conf</code> · slurm-reconfigure</summary>');
    expect(md).toContain('-PartitionName=normal Nodes=c[001-005] MaxTime=2:00:00');
  });
});

describe('renderPlanJson', () => {
  it('matches the zod schema and the JSON Schema generated from it (checked by ajv)', async () => {
    const doc = JSON.parse(renderPlanJson(await abPlan(), meta, { exitCode: 2, diagnostics: [] }));
    expect(planOutputSchema.parse(doc)).toBeTruthy();
    const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true });
    const validate = ajv.compile(z.toJSONSchema(planOutputSchema, { io: 'output' }));
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.result.summary).toMatchObject({ create: 2, update: 7, delete: 2, unchanged: 2, changesPresent: true });
    expect(doc.result.changes.find((c: { path: string }) => c.path === 'etc/mode.conf')).toMatchObject({ reasons: ['mode'], before: { mode: '0644' }, after: { mode: '0600' } });
    // The schema rejects what it should: an unknown key, a bad hash.
    expect(planOutputSchema.safeParse({ ...doc, extra: 1 }).success).toBe(false);
    expect(validate({ ...doc, result: { ...doc.result, specHash: 'nope' } })).toBe(false);
  });

  it('is documented: docs/plan-json.md carries the generated JSON Schema', () => {
    const docs = readFileSync(new URL('../../../docs/plan-json.md', import.meta.url), 'utf8');
    const block = docs.split('<!-- BEGIN GENERATED SCHEMA -->')[1]?.split('<!-- END GENERATED SCHEMA -->')[0] ?? '';
    const json = block.replace(/^\s*```json\n/, '').replace(/```\s*$/, '');
    expect(JSON.parse(json)).toEqual(z.toJSONSchema(planOutputSchema, { io: 'output' }));
  });
});

describe('huge diffs', () => {
  const setOf = async (text: string) => {
    const { textArtifact, artifactSet } = await import('../../../src/artifacts/artifact.ts');
    return artifactSet([textArtifact({ path: 'etc/hosts', text, impact: { class: 'none' } })]);
  };

  it('two unrelated ~1 MiB files: planned at once, shown by hash only (the diff would cost hours)', async () => {
    const lines = (tag: string) => Array.from({ length: 200_000 }, (_, i) => `${tag}${i % 10}`).join('\n') + '\n';
    const before = await setOf(lines('a'));
    const plan = planChanges(await setOf(lines('b')), manifestOf(before), live(await diskOf(before)));
    expect(plan.actions[0]).toMatchObject({ action: 'update', reasons: ['content'] });
    expect(plan.actions[0]?.diff).toBeUndefined();
    expect(renderPlanText(plan, meta, { color: false })).toContain('etc/hosts');
  });

  it('a large diff within the edit bound renders in text and markdown', async () => {
    const lines = (changed: boolean) => Array.from({ length: 80_000 }, (_, i) => (changed && i % 80 === 0 ? `changed ${i}` : `line ${i}`)).join('\n') + '\n';
    const before = await setOf(lines(false));
    const plan = planChanges(await setOf(lines(true)), manifestOf(before), live(await diskOf(before)));
    expect(plan.actions[0]?.diff?.split('\n').length ?? 0).toBeGreaterThan(8_000);
    expect(renderPlanText(plan, meta, { color: false })).toContain('+changed 79920');
    expect(renderPlanMarkdown(plan, meta)).toContain('etc/hosts');
  });
});
