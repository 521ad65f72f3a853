// The reboot record: apply writes which nodes need a reboot since which generation, rollout clears them compare-and-set, plans show them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfinedDir } from '../../../src/fs/confined-dir.ts';
import { parseRebootRecord, serializeRebootRecord } from '../../../src/plan/state-manifest.ts';
import { awaitingRebootLines } from '../../../src/plan/render-text.ts';
import { toPlanDocument } from '../../../src/plan/plan-json.ts';
import { recordUpdater } from '../../../src/rollout/on-target.ts';
import { awaitingReboot, EMPTY_REBOOT_RECORD, recordBack, recordNeeded, recordRequested } from '../../../src/rollout/reboot-record.ts';
import { readStoredState } from '../../../src/state/manifest-io.ts';
import { REBOOTS_REL } from '../../../src/state/paths.ts';
import { versionSet } from '../state/synthetic-artifacts.ts';
import { applyTo, planOf } from '../state/target-helpers.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'herd-reboots-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('reboot record transitions', () => {
  it('a newer generation supersedes an older need and its request; back clears only the generation it saw', () => {
    let r = recordNeeded(undefined, ['c2', 'c1'], 3);
    r = recordRequested(r, ['c1'], '2026-12-06T15:00:00.000Z');
    expect(awaitingReboot(r)).toEqual([
      { node: 'c1', since: 3, requestedAt: '2026-12-06T15:00:00.000Z' },
      { node: 'c2', since: 3, requestedAt: null },
    ]);
    const newer = recordNeeded(r, ['c1'], 4);
    expect(newer.nodes.c1).toEqual({ since: 4, requestedAt: null });
    // A rollout that started at generation 3 sees c1 back: the newer need (4) stays.
    expect(recordBack(newer, 'c1', 3).nodes.c1).toEqual({ since: 4, requestedAt: null });
    expect(Object.keys(recordBack(newer, 'c2', 3).nodes)).toEqual(['c1']);
    expect(recordBack(EMPTY_REBOOT_RECORD, 'c9', 3)).toBe(EMPTY_REBOOT_RECORD);
  });

  it('serializes canonically and refuses a damaged or newer record with a located failure', () => {
    const r = recordNeeded(undefined, ['c2', 'c1'], 1);
    const text = serializeRebootRecord(r);
    expect(text).toBe('{"formatVersion":1,"kind":"herd-reboots","nodes":{"c1":{"requestedAt":null,"since":1},"c2":{"requestedAt":null,"since":1}}}\n');
    expect(parseRebootRecord(text)).toEqual({ ok: true, value: r });
    const bad = parseRebootRecord('{"formatVersion":1,"kind":"herd-reboots","nodes":{"../x":{"since":1,"requestedAt":null}}}', 'r.json');
    expect(bad.ok === false && bad.failure.rule).toBe('state/unreadable');
    const newer = parseRebootRecord('{"formatVersion":9,"kind":"herd-reboots","nodes":{}}', 'r.json');
    expect(newer.ok === false && newer.failure.rule).toBe('state/unsupported-version');
  });
});

describe('apply records the nodes it made reboot-worthy', () => {
  it('an image change makes its nodes await a reboot since that generation; a target without the file has none (older state loads)', async () => {
    await applyTo(root, versionSet('A'));
    const dir = ConfinedDir.open(root, { what: 'target root' });
    try {
      // Generation 0 wrote the image for the first time: every node (the synthetic host table adds none) must boot it.
      expect(awaitingReboot(readStoredState(dir).reboots).map((a) => `${a.node}@${a.since}`)).toEqual(['c001@0', 'c002@0', 'c003@0', 'c004@0', 'c005@0']);
      rmSync(join(root, REBOOTS_REL));
      expect(readStoredState(dir).reboots).toBeUndefined();
      await applyTo(root, versionSet('B'));
      const after = readStoredState(dir).reboots;
      expect(awaitingReboot(after).map((a) => `${a.node}@${a.since}`)).toEqual(['c001@1', 'c002@1', 'c003@1', 'c004@1', 'c005@1']);
      // The manifest's hash does not depend on the reboot record: a rollout leaves saved plans and snapshots valid.
      const before = readStoredState(dir).manifestHash;
      const updater = recordUpdater(dir, 'test rollout', 0);
      await updater.requested(['c001', 'c002'], new Date('2026-12-06T15:00:00Z'));
      await updater.back('c001', 1);
      expect(readStoredState(dir).manifestHash).toBe(before);
      expect(updater.awaiting().map((a) => `${a.node}@${a.since}:${a.requestedAt ?? '-'}`)).toEqual(['c002@1:2026-12-06T15:00:00.000Z', 'c003@1:-', 'c004@1:-', 'c005@1:-']);
      for (const n of ['c002', 'c003', 'c004', 'c005']) await updater.back(n, 1);
      expect(readStoredState(dir).reboots).toBeUndefined();
    } finally {
      dir.close();
    }
  });

  it('a damaged record stops plan with state/unreadable instead of being ignored', async () => {
    await applyTo(root, versionSet('A'));
    writeFileSync(join(root, REBOOTS_REL), '{not json');
    await expect(planOf(root, versionSet('A'))).rejects.toMatchObject({ rule: 'state/unreadable' });
  });
});

describe('plans show the nodes awaiting reboot', () => {
  it('text, markdown and JSON carry the section only when a node awaits a reboot', async () => {
    await applyTo(root, versionSet('A'));
    const s = await planOf(root, versionSet('A'));
    const awaiting = awaitingReboot(s.stored.reboots);
    expect(awaitingRebootLines(awaiting)).toEqual([
      'Nodes awaiting reboot (an applied image or system overlay takes effect at boot):',
      '  c[001-005]  (since generation 0)',
      '  Reboot them through Slurm, in batches: herd rollout',
      '',
    ]);
    expect(awaitingRebootLines([])).toEqual([]);
    const meta = { herdVersion: 't', cluster: 'synth', root: 'r', specHash: 'a'.repeat(64), manifestHash: null };
    expect('awaitingReboot' in toPlanDocument(s.plan, meta)).toBe(false);
    expect(toPlanDocument(s.plan, { ...meta, awaitingReboot: awaiting }).awaitingReboot).toEqual(awaiting);
    const json = JSON.parse(readFileSync(join(root, REBOOTS_REL), 'utf8'));
    expect(Object.keys(json.nodes)).toEqual(['c001', 'c002', 'c003', 'c004', 'c005']);
  });
});
