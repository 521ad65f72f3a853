// planChanges: every create/update/delete/drift case on hand-built states, diffs checked with GNU patch, and invariants over random states.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { artifactSet, contentEntries, sha256Hex, textArtifact, type Artifact } from '../../../src/artifacts/artifact.ts';
import { planChanges } from '../../../src/plan/plan-changes.ts';
import { summarizePlan, type Plan } from '../../../src/plan/plan-types.ts';
import type { PendingJournal } from '../../../src/plan/state-manifest.ts';
import { overlayArtifact, versionSet } from '../state/synthetic-artifacts.ts';
import { diskOf, live, manifestOf, type Disk } from './plan-fixtures.ts';

const text = (path: string, body: string, extra: Partial<Parameters<typeof textArtifact>[0]> = {}): Artifact => textArtifact({ path, text: body, impact: { class: 'none' }, ...extra });
const enc = (s: string) => new TextEncoder().encode(s);
const byPath = (plan: Plan, path: string) => plan.actions.find((a) => a.path === path)!;

/** Apply a unified diff with GNU patch (an independent implementation) and return the result. */
function gnuPatch(before: string, diff: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'herd-patch-'));
  try {
    writeFileSync(join(dir, 'file'), before);
    execFileSync('patch', ['--quiet', '--force', join(dir, 'file')], { input: diff });
    return readFileSync(join(dir, 'file'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('planChanges', () => {
  it('plans a create per artifact on a fresh target, sorted, with diffs for text configs only', () => {
    const set = versionSet('A');
    const plan = planChanges(set, undefined, live({}));
    expect(plan.actions.map((a) => a.path)).toEqual(set.artifacts.map((a) => a.path));
    expect(plan.actions.every((a) => a.action === 'create' && a.reasons[0] === 'new' && a.drift === null)).toBe(true);
    expect(byPath(plan, 'etc/hosts').diff).toContain('+10.0.0.1 head');
    expect(byPath(plan, 'etc/munge/munge.key').diff).toBeUndefined();
    expect(byPath(plan, 'srv/warewulf/provision/images/rocky.img').diff).toBeUndefined();
    expect(byPath(plan, 'srv/warewulf/provision/images/rocky.img').contentEntries).toBe(6);
    expect(summarizePlan(plan)).toMatchObject({ create: set.artifacts.length, changesPresent: true });
  });

  it('is a no-op when the target matches the spec and the record', async () => {
    const set = versionSet('A');
    const plan = planChanges(set, manifestOf(set), live(await diskOf(set)));
    expect(plan.actions.every((a) => a.action === 'no-op' && a.reasons.length === 0)).toBe(true);
    expect(summarizePlan(plan).changesPresent).toBe(false);
  });

  it('plans exactly the A→B differences with their impact, and a diff GNU patch applies', async () => {
    const a = versionSet('A');
    const b = versionSet('B');
    const plan = planChanges(b, manifestOf(a), live(await diskOf(a)));
    const changed = plan.actions.filter((x) => x.action !== 'no-op').map((x) => `${x.action} ${x.path} ${x.reasons.join('+')}`);
    expect(changed).toEqual([
      'update etc/mode.conf mode',
      'update etc/munge/munge.key content',
      'delete etc/only-a.conf removed-from-spec',
      'create etc/only-b.conf new',
      'update etc/slurm/slurm.conf content',
      'update etc/warewulf/nodes.conf content',
      'update srv/warewulf/provision/images/rocky.img content',
      'update srv/warewulf/provision/overlays/c001/__SYSTEM__.img content',
      'update srv/warewulf/provision/overlays/c002/__SYSTEM__.img content',
      'delete srv/warewulf/provision/overlays/c004/__SYSTEM__.img removed-from-spec',
      'create srv/warewulf/provision/overlays/c005/__SYSTEM__.img new',
    ]);
    const slurm = byPath(plan, 'etc/slurm/slurm.conf');
    expect(slurm.impact.class).toBe('slurm-reconfigure');
    const before = new TextDecoder().decode(a.artifacts.find((x) => x.path === 'etc/slurm/slurm.conf')!.bytes);
    const after = new TextDecoder().decode(b.artifacts.find((x) => x.path === 'etc/slurm/slurm.conf')!.bytes);
    expect(gnuPatch(before, slurm.diff!)).toBe(after);
    expect(byPath(plan, 'etc/munge/munge.key').diff).toBeUndefined();
    expect(byPath(plan, 'srv/warewulf/provision/overlays/c004/__SYSTEM__.img').impact.class).toBe('reboot');
    expect(byPath(plan, 'srv/warewulf/provision/overlays/c001/__SYSTEM__.img').contentDiffUnavailable).toBe(true);
  });

  it('diffs archive contents from the stored index of the live archive', () => {
    const old = overlayArtifact('ov.img', 'c1', 'x', 4096, 'idx-old');
    const now = overlayArtifact('ov.img', 'c1', 'y', 4096, 'idx-new');
    const set = artifactSet([now]);
    const l = live({ 'ov.img': { bytes: old.bytes!, mode: 0o644 } }, { contentIndexes: new Map([[old.sha256, contentEntries(old.contents)!]]) });
    const d = byPath(planChanges(set, manifestOf(artifactSet([old])), l), 'ov.img').contentDiff!;
    // Same paths, different seeds: every file changed, the directory did not.
    expect(d.added).toEqual([]);
    expect(d.removed).toEqual([]);
    expect(d.changed.map((c) => c.path)).toEqual(['etc/file0.conf', 'etc/file1.conf', 'etc/file2.conf']);
  });

  it('reports a hand edit as blocking drift with a recorded→live diff', () => {
    const set = artifactSet([text('etc/hosts', 'a\nb\n')]);
    const plan = planChanges(set, manifestOf(set), live({ 'etc/hosts': { bytes: enc('a\nB\n'), mode: 0o644 } }));
    const x = byPath(plan, 'etc/hosts');
    expect(x.action).toBe('update');
    expect(x.drift).toMatchObject({ kind: 'content', blocking: true, recordedSha256: set.artifacts[0]!.sha256 });
    expect(gnuPatch('a\nb\n', x.drift!.diff!)).toBe('a\nB\n');
    expect(gnuPatch('a\nB\n', x.diff!)).toBe('a\nb\n');
  });

  it('treats a deleted file as non-blocking drift and a foreign file in the way as blocking', () => {
    const set = artifactSet([text('x', '1\n'), text('y', '2\n')]);
    const m = manifestOf(artifactSet([text('x', '1\n')]));
    const plan = planChanges(set, m, live({ y: { bytes: enc('someone else\n'), mode: 0o644 } }));
    expect(byPath(plan, 'x')).toMatchObject({ action: 'create', reasons: ['missing'], drift: { kind: 'missing', blocking: false } });
    expect(byPath(plan, 'y')).toMatchObject({ action: 'update', drift: { kind: 'unmanaged', blocking: true, recordedSha256: null } });
  });

  it('adopts an identical file herd did not write as a record-only no-op', async () => {
    const set = artifactSet([text('x', '1\n')]);
    const plan = planChanges(set, undefined, live(await diskOf(set)));
    expect(byPath(plan, 'x')).toMatchObject({ action: 'no-op', reasons: ['record'] });
    expect(summarizePlan(plan)).toMatchObject({ changesPresent: false, stateOnly: 1 });
  });

  it('never replaces a directory, and forgets a recorded file that is gone', () => {
    const set = artifactSet([text('d', '1\n')]);
    const m = manifestOf(artifactSet([text('d', '1\n'), text('gone', '2\n')]));
    const plan = planChanges(set, m, live({ d: 'dir' }));
    expect(byPath(plan, 'd').drift).toMatchObject({ kind: 'not-a-file', blocking: true });
    expect(byPath(plan, 'gone')).toMatchObject({ action: 'no-op', reasons: ['forget'] });
  });

  it('does not delete a file herd never wrote, and flags deleting an edited one', () => {
    const m = manifestOf(artifactSet([text('mine', 'm\n')]));
    const plan = planChanges(artifactSet([]), m, live({ mine: { bytes: enc('edited\n'), mode: 0o644 }, theirs: { bytes: enc('t\n'), mode: 0o644 } }));
    expect(plan.actions.map((a) => a.path)).toEqual(['mine']);
    expect(byPath(plan, 'mine')).toMatchObject({ action: 'delete', drift: { kind: 'content', blocking: true } });
  });

  it('trusts bytes journaled by an interrupted apply: no drift either way, leftovers of a dropped path are deleted', () => {
    const a = artifactSet([text('f', 'old\n'), text('g', 'g\n')]);
    const b = artifactSet([text('f', 'new\n')]);
    const pending: PendingJournal = {
      formatVersion: 1,
      kind: 'herd-pending',
      pid: 1,
      host: 'h',
      command: 'herd apply',
      since: 'then',
      paths: { f: [sha256Hex('new\n')], h: [sha256Hex('left\n')] },
    };
    const disk = { f: { bytes: enc('new\n'), mode: 0o644 }, g: { bytes: enc('g\n'), mode: 0o644 }, h: { bytes: enc('left\n'), mode: 0o644 } };
    const forward = planChanges(b, manifestOf(a), live(disk, { pending }));
    expect(byPath(forward, 'f')).toMatchObject({ action: 'no-op', reasons: ['record'] });
    expect(byPath(forward, 'h')).toMatchObject({ action: 'delete', reasons: ['interrupted-leftover'], drift: null });
    // Back to A: f holds the journaled new bytes, which is herd's own write, not a hand edit.
    const back = planChanges(a, manifestOf(a), live(disk, { pending }));
    expect(byPath(back, 'f')).toMatchObject({ action: 'update', drift: null });
    expect(back.interrupted).toMatchObject({ pid: 1, host: 'h' });
  });

  it('keeps invariants on random targets', () => {
    const bodies = ['a\n', 'b\n', 'c\n'];
    const fileArb = fc.option(fc.record({ body: fc.constantFrom(...bodies), mode: fc.constantFrom(0o644, 0o600) }), { nil: undefined });
    const paths = ['p1', 'p2', 'p3', 'p4'];
    fc.assert(
      fc.property(fc.array(fileArb, { minLength: 4, maxLength: 4 }), fc.array(fileArb, { minLength: 4, maxLength: 4 }), fc.array(fileArb, { minLength: 4, maxLength: 4 }), (want, rec, disk) => {
        const desired = artifactSet(paths.flatMap((p, i) => (want[i] ? [text(p, want[i]!.body, { mode: want[i]!.mode })] : [])));
        const recorded = artifactSet(paths.flatMap((p, i) => (rec[i] ? [text(p, rec[i]!.body, { mode: rec[i]!.mode })] : [])));
        const onDisk: Disk = Object.fromEntries(paths.flatMap((p, i) => (disk[i] ? [[p, { bytes: enc(disk[i]!.body), mode: disk[i]!.mode }]] : [])));
        const plan = planChanges(desired, manifestOf(recorded), live(onDisk));
        const seen = plan.actions.map((a) => a.path);
        expect(seen).toEqual([...new Set(seen)].sort());
        for (const a of plan.actions) {
          const w = desired.artifacts.find((x) => x.path === a.path);
          const r = recorded.artifacts.find((x) => x.path === a.path);
          const d = onDisk[a.path] as { bytes: Uint8Array; mode: number } | undefined;
          if (w) expect(a.action).not.toBe('delete');
          if (a.action === 'delete') {
            // Only what herd recorded is ever deleted, and deleting anything but herd's own bytes is blocking drift.
            expect(r).toBeDefined();
            expect(a.drift?.blocking ?? sha256Hex(d!.bytes) === r!.sha256).toBe(true);
          }
          if (a.action === 'no-op' && w) expect(d && sha256Hex(d.bytes) === w.sha256 && d.mode === w.mode).toBe(true);
          if (a.action === 'update' && d && r && sha256Hex(d.bytes) !== r.sha256 && sha256Hex(d.bytes) !== w!.sha256) expect(a.drift?.kind).toBe('content');
        }
        for (const w of desired.artifacts) expect(seen).toContain(w.path);
      }),
      { numRuns: 300 },
    );
  });
});
