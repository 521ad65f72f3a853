// Stored formats: the state manifest and saved plans round-trip, refuse newer versions and damage, and saved plans go stale on any binding change.
import { describe, expect, it } from 'vitest';
import { artifactSet, sha256Hex, textArtifact } from '../../../src/artifacts/artifact.ts';
import { planChanges } from '../../../src/plan/plan-changes.ts';
import { actionsDifference, artifactsDifference, buildSavedPlan, parseSavedPlan, restrictToPlan, serializeSavedPlan } from '../../../src/plan/saved-plan.ts';
import { parsePendingJournal, parseStateManifest, serializeStateManifest, stateManifestSchema, validManifest } from '../../../src/plan/state-manifest.ts';
import { versionSet } from '../state/synthetic-artifacts.ts';
import { diskOf, live, manifestOf } from './plan-fixtures.ts';

describe('state manifest', () => {
  // validManifest (the fast path for large manifests) against stateManifestSchema: on a valid manifest and on thousands of
  // damaged ones, it accepts only what zod accepts and gives the very value zod gives, key order included.
  it('the fast check accepts exactly what the schema accepts, with the same value', () => {
    const m = manifestOf(versionSet('A'));
    const base = JSON.parse(serializeStateManifest({ ...m, entries: m.entries.map((e, i) => (i === 0 ? { ...e, secret: true } : e)) })) as Record<string, unknown>;
    const same = (doc: unknown): boolean => {
      const fast = validManifest(doc);
      const slow = stateManifestSchema.safeParse(doc);
      if (fast !== undefined) {
        expect(slow.success, JSON.stringify(doc)).toBe(true);
        expect(JSON.stringify(fast)).toBe(JSON.stringify(slow.data));
      }
      return fast !== undefined;
    };
    expect(same(base)).toBe(true);
    const values: unknown[] = [null, true, 0, -1, 1.5, 2 ** 60, 0o10000, '', 'x', '12', 'a'.repeat(64), 'f'.repeat(64), [], ['x'], [1], {}, { class: 'none' }, { class: 'reboot', service: 's', extra: 1 }, '../etc', '/abs', 'etc/x'];
    let n = 0;
    // Every field (and nested field) of the first entry, the first generation and the top level replaced or removed, and an extra key added.
    const targets: [string[], Record<string, unknown>][] = [];
    const doc0 = () => JSON.parse(JSON.stringify(base)) as Record<string, any>;
    const probe = doc0();
    targets.push([[], probe]);
    targets.push([['entries', '0'], probe.entries[0]]);
    targets.push([['entries', '0', 'impact'], probe.entries[0].impact]);
    targets.push([['entries', '0', 'stat'], probe.entries[0].stat]);
    targets.push([['generations', '0'], probe.generations[0]]);
    for (const [path, obj] of targets) {
      for (const key of [...Object.keys(obj), 'extra']) {
        for (const v of [...values, undefined]) {
          const d = doc0();
          let o: any = d;
          for (const p of path) o = o[p];
          if (v === undefined) delete o[key];
          else o[key] = v;
          same(d);
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(500);
  });

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

const binding = { herdVersion: '1', cluster: 'c', specFile: '/s/cluster.yaml', specPath: 'cluster.yaml', specHash: sha256Hex('spec'), basis: 'target' as const, root: '/r', snapshotId: sha256Hex('snap'), manifestHash: sha256Hex('m'), hash: sha256Hex };

describe('saved plans', () => {
  async function setup() {
    const a = versionSet('A');
    const b = versionSet('B');
    const plan = planChanges(b, manifestOf(a), live(await diskOf(a)));
    const saved = buildSavedPlan(plan, { ...binding, artifacts: b });
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

  it('bind to the compiled artifacts, not the spec bytes, and to the actions planned against the target', async () => {
    const { a, b, plan, saved } = await setup();
    expect(artifactsDifference(saved, b, sha256Hex)).toBeUndefined();
    expect(actionsDifference(saved, plan, sha256Hex)).toBeUndefined();
    // Any artifact that would be written differently makes it stale, naming the path.
    expect(artifactsDifference(saved, a, sha256Hex)).toMatch(/what herd would write changed since it was made \(the spec or a file it reads changed: .*etc\/slurm\/slurm\.conf/);
    const chmodded = { ...b, artifacts: b.artifacts.map((x) => (x.path === 'etc/hosts' ? { ...x, mode: 0o600 } : x)) };
    expect(artifactsDifference(saved, chmodded, sha256Hex)).toMatch(/changed: etc\/hosts\)$/);
    // Someone edited slurm.conf on the target after the plan was saved.
    const disk = await diskOf(a);
    disk['etc/slurm/slurm.conf'] = { bytes: new TextEncoder().encode('edited\n'), mode: 0o644 };
    const moved = planChanges(b, manifestOf(a), live(disk));
    expect(actionsDifference(saved, moved, sha256Hex)).toMatch(/first difference: etc\/slurm\/slurm\.conf/);
  });

  it('keep what the plan left pending pending at apply, and refuse a prefix only the applying machine cannot build', async () => {
    const b = versionSet('B');
    const cut = b.artifacts[0]!.path;
    const planned = { ...b, artifacts: b.artifacts.filter((x) => x.path !== cut), pending: [{ prefix: cut, reason: 'not built here' }] };
    const saved = buildSavedPlan(planChanges(planned, undefined, live({})), { ...binding, artifacts: planned });
    // The applying machine builds everything: restricted to the plan, it is the same set.
    expect(artifactsDifference(saved, restrictToPlan(b, saved), sha256Hex)).toBeUndefined();
    expect(restrictToPlan(b, saved).artifacts.some((x) => x.path === cut)).toBe(false);
    // It cannot build something the plan has.
    const other = b.artifacts[1]!.path;
    const less = { ...b, artifacts: b.artifacts.filter((x) => x.path !== other), pending: [{ prefix: other, reason: 'source not cached' }] };
    expect(artifactsDifference(saved, restrictToPlan(less, saved), sha256Hex)).toBe(`${other} could not be built here (source not cached), but the plan writes it`);
  });

  it('refuse a specPath that is absolute or climbs out, so a forged plan cannot make the head read a file outside its checkout', async () => {
    const { saved } = await setup();
    for (const specPath of ['/etc/shadow', '../../etc/shadow', 'clusters/../../x']) {
      const parsed = parseSavedPlan(serializeSavedPlan({ ...saved, specPath }), 'p.herd');
      expect(parsed, specPath).toMatchObject({ ok: false, failure: { rule: 'state/unreadable' } });
    }
  });

  it('are told apart from specs and refuse newer versions', () => {
    expect(parseSavedPlan('name: lab\n', 'cluster.yaml')).toBeUndefined();
    expect(parseSavedPlan('{"kind":"herd-saved-plan","formatVersion":9}', 'p')).toMatchObject({ ok: false, failure: { rule: 'state/unsupported-version' } });
    const one = planChanges(artifactSet([textArtifact({ path: 'x', text: 'x', impact: { class: 'none' } })]), undefined, live({}));
    const set = artifactSet([textArtifact({ path: 'x', text: 'x', impact: { class: 'none' } })]);
    expect(buildSavedPlan(one, { ...binding, cluster: null, manifestHash: null, artifacts: set }).actions).toHaveLength(1);
  });
});
