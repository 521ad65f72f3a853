// State snapshots (pure): hashes only, an id that names what is deployed (not who looked or where), edits and other versions refused,
// and a plan against a snapshot that equals the plan against the live files it describes, minus the diffs it cannot know.
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/artifacts/artifact.ts';
import { planChanges } from '../../../src/plan/plan-changes.ts';
import { planActionsForBinding } from '../../../src/plan/saved-plan.ts';
import { buildSnapshot, liveStateOf, parseSnapshot, serializeSnapshot, snapshotDifference, withoutLiveDiffs } from '../../../src/plan/state-snapshot.ts';
import { versionSet } from '../state/synthetic-artifacts.ts';
import { diskOf, live, manifestOf } from './plan-fixtures.ts';

async function snapshotOfA(edit?: (disk: Awaited<ReturnType<typeof diskOf>>) => void) {
  const a = versionSet('A');
  const disk = await diskOf(a);
  edit?.(disk);
  const manifest = manifestOf(a);
  const liveState = live(disk);
  const snapshot = buildSnapshot({ herdVersion: '1', cluster: 't', root: '/', manifestHash: sha256Hex('m'), manifest, pending: undefined, live: liveState, hash: sha256Hex });
  return { a, disk, manifest, liveState, snapshot };
}

describe('state snapshots', () => {
  it('hold hashes only: no file content, the secret only as its sha256', async () => {
    const { snapshot, a } = await snapshotOfA();
    const text = serializeSnapshot(snapshot);
    expect(text).not.toContain('munge-key-');
    expect(text).not.toContain('PartitionName');
    const key = a.artifacts.find((x) => x.path === 'etc/munge/munge.key')!;
    expect(text).toContain(key.sha256);
    expect(snapshot.files.map((f) => f.path)).toEqual(manifestOf(a).entries.map((e) => e.path).sort());
  });

  it('have an id of what is deployed: the same for another root or herd, different when a file or the manifest moves', async () => {
    const { snapshot, manifest, liveState } = await snapshotOfA();
    const elsewhere = buildSnapshot({ herdVersion: '2', cluster: 't', root: '/mnt/head', manifestHash: sha256Hex('m'), manifest, pending: undefined, live: liveState, hash: sha256Hex });
    expect(elsewhere.snapshotId).toBe(snapshot.snapshotId);
    const edited = (await snapshotOfA((d) => (d['etc/hosts'] = { bytes: new TextEncoder().encode('by hand\n'), mode: 0o644 }))).snapshot;
    expect(edited.snapshotId).not.toBe(snapshot.snapshotId);
    expect(snapshotDifference(snapshot, edited)).toBe('the files herd owns on the target changed since (edited, removed or re-moded outside herd: etc/hosts)');
    expect(snapshotDifference(snapshot, { ...edited, manifestHash: null })).toMatch(/state manifest changed/);
    expect(snapshotDifference(snapshot, elsewhere)).toBeUndefined();
  });

  it('carry the nodes awaiting a reboot, outside the id: a rollout moving them on does not stale a saved plan', async () => {
    const { snapshot, manifest, liveState } = await snapshotOfA();
    const reboots = { formatVersion: 1 as const, kind: 'herd-reboots' as const, nodes: { c2: { since: 3, requestedAt: null }, c1: { since: 3, requestedAt: '2026-12-06T10:00:00Z' } } };
    const withReboots = buildSnapshot({ herdVersion: '1', cluster: 't', root: '/', manifestHash: sha256Hex('m'), manifest, pending: undefined, reboots, live: liveState, hash: sha256Hex });
    expect(withReboots.reboots).toEqual(reboots);
    expect(withReboots.snapshotId).toBe(snapshot.snapshotId);
    expect(snapshot.reboots).toBeUndefined();
    expect(parseSnapshot(serializeSnapshot(withReboots), 'state.json', sha256Hex)).toEqual({ ok: true, snapshot: withReboots });
    // An empty record is no record: the snapshot of a target with nothing to reboot is the same bytes as before.
    const none = buildSnapshot({ herdVersion: '1', cluster: 't', root: '/', manifestHash: sha256Hex('m'), manifest, pending: undefined, reboots: { ...reboots, nodes: {} }, live: liveState, hash: sha256Hex });
    expect(serializeSnapshot(none)).toBe(serializeSnapshot(snapshot));
  });

  it('round-trip, and refuse an edited snapshot, another version, another kind and broken JSON with located messages', async () => {
    const { snapshot } = await snapshotOfA();
    const text = serializeSnapshot(snapshot);
    expect(parseSnapshot(text, 'state.json', sha256Hex)).toEqual({ ok: true, snapshot });
    const hostsSha = snapshot.files.find((f) => f.path === 'etc/hosts')!.sha256!;
    expect(parseSnapshot(text.replace(hostsSha, sha256Hex('other')), 'state.json', sha256Hex)).toMatchObject({ ok: false, failure: { rule: 'state/modified-snapshot', message: 'state.json was modified after herd wrote it: its content does not match its snapshotId' } });
    expect(parseSnapshot(text.replace('"formatVersion": 1', '"formatVersion": 7'), 's.json', sha256Hex)).toMatchObject({ ok: false, failure: { rule: 'state/unsupported-version' } });
    expect(parseSnapshot('{"kind":"herd-plan"}', 's.json', sha256Hex)).toMatchObject({ ok: false, failure: { rule: 'state/unreadable', message: expect.stringContaining('is not a herd state snapshot') } });
    expect(parseSnapshot(text.slice(0, 100), 's.json', sha256Hex)).toMatchObject({ ok: false, failure: { rule: 'state/unreadable', message: expect.stringContaining('not valid JSON') } });
    expect(parseSnapshot(text.replace('"type": "file"', '"type": "fifo"'), 's.json', sha256Hex)).toMatchObject({ ok: false, failure: { message: expect.stringMatching(/files\.\d+\.type/) } });
  });

  it('plan like the live target they describe: the same actions, drift included, without diffs from unknown live bytes', async () => {
    const { snapshot, manifest } = await snapshotOfA((d) => (d['etc/hosts'] = { bytes: new TextEncoder().encode('by hand\n'), mode: 0o644 }));
    const b = versionSet('B');
    const disk = await diskOf(versionSet('A'));
    disk['etc/hosts'] = { bytes: new TextEncoder().encode('by hand\n'), mode: 0o644 };
    const direct = planChanges(b, manifest, live(disk));
    const fromSnapshot = withoutLiveDiffs(planChanges(b, snapshot.manifest!, liveStateOf(snapshot)));
    expect(planActionsForBinding(fromSnapshot)).toEqual(planActionsForBinding(direct));
    expect(fromSnapshot.actions.find((a) => a.path === 'etc/hosts')!.drift).toMatchObject({ kind: 'content', blocking: true });
    for (const a of fromSnapshot.actions) {
      if (a.before !== null) expect(a.diff, a.path).toBeUndefined();
      expect(a.drift?.diff, a.path).toBeUndefined();
    }
    // A file that does not exist yet still shows its whole planned text.
    expect(fromSnapshot.actions.find((a) => a.path === 'etc/only-b.conf')!.diff).toContain('+only in B');
  });
});
