// Stored formats: the state manifest and saved plans round-trip, refuse newer versions and damage, and saved plans go stale on any binding change.
import { describe, expect, it } from 'vitest';
import { artifactSet, sha256Hex, textArtifact } from '../../../src/artifacts/artifact.ts';
import { planChanges } from '../../../src/plan/plan-changes.ts';
import { buildSavedPlan, parseSavedPlan, serializeSavedPlan, staleReason } from '../../../src/plan/saved-plan.ts';
import { parsePendingJournal, parseStateManifest, serializeStateManifest } from '../../../src/plan/state-manifest.ts';
import { versionSet } from '../state/synthetic-artifacts.ts';
import { diskOf, live, manifestOf } from './plan-fixtures.ts';

describe('state manifest', () => {
  it('round-trips canonically: parse(serialize(m)) serializes to the same bytes', () => {
    const m = manifestOf(versionSet('A'));
    const text = serializeStateManifest({ ...m, entries: [...m.entries].reverse() });
    const parsed = parseStateManifest(text);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(serializeStateManifest(parsed.value)).toBe(text);
    expect(text).toBe(serializeStateManifest(m));
  });

  it('refuses a newer formatVersion with state/unsupported-version, and damage with state/unreadable', () => {
    const m = manifestOf(versionSet('A'));
    const newer = parseStateManifest(JSON.stringify({ ...m, formatVersion: 2 }));
    expect(newer).toMatchObject({ ok: false, failure: { rule: 'state/unsupported-version' } });
    expect(parseStateManifest('{"formatVersion":1,')).toMatchObject({ ok: false, failure: { rule: 'state/unreadable' } });
    const bad = parseStateManifest(JSON.stringify({ ...m, entries: [{ ...m.entries[0], sha256: 'xyz' }] }));
    expect(bad).toMatchObject({ ok: false, failure: { rule: 'state/unreadable' } });
    if (!bad.ok) expect(bad.failure.message).toContain('entries.0.sha256');
    expect(parsePendingJournal('{"formatVersion":1,"kind":"herd-pending"}')).toMatchObject({ ok: false });
  });
});

describe('saved plans', () => {
  async function setup() {
    const a = versionSet('A');
    const b = versionSet('B');
    const plan = planChanges(b, manifestOf(a), live(await diskOf(a)));
    const saved = buildSavedPlan(plan, { herdVersion: '1', cluster: 'c', specFile: '/s/cluster.yaml', root: '/r', specHash: sha256Hex('spec'), manifestHash: sha256Hex('m'), hash: sha256Hex });
    return { a, b, plan, saved };
  }

  it('hold hashes only, never content (so no secret in clear)', async () => {
    const { saved } = await setup();
    const text = serializeSavedPlan(saved);
    expect(text).not.toContain('munge-key-');
    expect(text).not.toContain('MaxTime');
    const back = parseSavedPlan(text, 'p');
    expect(back).toEqual({ ok: true, plan: saved });
  });

  it('are fresh while nothing moved, and stale when spec, state, herd or the target changed', async () => {
    const { a, b, plan, saved } = await setup();
    const now = { herdVersion: '1', specHash: sha256Hex('spec'), manifestHash: sha256Hex('m'), plan, hash: sha256Hex };
    expect(staleReason(saved, now)).toBeUndefined();
    expect(staleReason(saved, { ...now, herdVersion: '2' })).toMatch(/herd 1, this is herd 2/);
    expect(staleReason(saved, { ...now, specHash: sha256Hex('other') })).toMatch(/spec changed/);
    expect(staleReason(saved, { ...now, manifestHash: null })).toMatch(/state manifest changed/);
    // Someone edited slurm.conf on the target after the plan was saved.
    const disk = await diskOf(a);
    disk['etc/slurm/slurm.conf'] = { bytes: new TextEncoder().encode('edited\n'), mode: 0o644 };
    const moved = planChanges(b, manifestOf(a), live(disk));
    expect(staleReason(saved, { ...now, plan: moved })).toMatch(/first difference: etc\/slurm\/slurm\.conf/);
  });

  it('are told apart from specs and refuse newer versions', () => {
    expect(parseSavedPlan('name: lab\n', 'cluster.yaml')).toBeUndefined();
    expect(parseSavedPlan('{"kind":"herd-saved-plan","formatVersion":9}', 'p')).toMatchObject({ ok: false, failure: { rule: 'state/unsupported-version' } });
    const one = planChanges(artifactSet([textArtifact({ path: 'x', text: 'x', impact: { class: 'none' } })]), undefined, live({}));
    expect(buildSavedPlan(one, { herdVersion: '1', cluster: null, specFile: '/s', root: '/r', specHash: sha256Hex(''), manifestHash: null, hash: sha256Hex }).actions).toHaveLength(1);
  });
});
