// An image that cannot be built this run (pending) must be left exactly as the last apply wrote it: not deleted, not
// re-recorded, still known as herd's afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { artifactSet } from '../../../src/artifacts/artifact.ts';
import { versionSet } from './synthetic-artifacts.ts';
import { applyTo, planOf, snapshot } from './target-helpers.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'herd-pending-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('pending artifacts', () => {
  it('keeps what an earlier apply wrote under a pending prefix, and deletes it once the spec really drops it', async () => {
    const a = versionSet('A');
    await applyTo(root, a);
    const images = a.artifacts.filter((x) => x.kind === 'image');
    expect(images.length).toBeGreaterThan(0);
    const prefix = images[0]!.path;
    const withoutImage = a.artifacts.filter((x) => x.path !== prefix);
    const pending = artifactSet(withoutImage, [{ prefix, reason: 'source not cached' }]);
    const before = snapshot(root);
    expect(before[prefix]).toBeDefined();
    const plan = await planOf(root, pending);
    expect(plan.plan.actions.find((x) => x.path === prefix)).toBeUndefined();
    expect(plan.plan.actions.every((x) => x.action === 'no-op')).toBe(true);
    await applyTo(root, pending);
    expect(snapshot(root)[prefix]).toBe(before[prefix]);
    // Still recorded as herd's: dropping it for real (no pending marker) plans a delete.
    const dropped = await planOf(root, artifactSet(withoutImage));
    expect(dropped.plan.actions.find((x) => x.path === prefix)?.action).toBe('delete');
  });
});
