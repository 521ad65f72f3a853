// herd plan / apply through main() when part of the spec could not be built (pending): the plan says so in every format, counts it
// for --detailed-exitcode (exit 2, never "No changes"), and apply names what it kept.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { artifactSet, sha256Hex, type ArtifactSet, type PendingArtifacts } from '../../src/artifacts/artifact.ts';
import { makeApplyCommand } from '../../src/cli/commands/apply.ts';
import { makePlanCommand } from '../../src/cli/commands/plan.ts';
import { registerCommand } from '../../src/cli/main.ts';
import type { CompileResult } from '../../src/pipeline.ts';
import { applyOutputSchema, planOutputSchema } from '../../src/plan/plan-json.ts';
import { runHerd } from '../fixtures/run-herd.ts';
import { versionSet } from '../unit/state/synthetic-artifacts.ts';

const IMAGE = 'srv/warewulf/provision/images/rocky.img';
const IMAGE_REASON = 'image rocky: docker://quay.io/rockylinux/rockylinux:10 is not in the local cache';
const MUNGE_REASON = 'the munge key /etc/munge/munge.key is not on this machine';

/** Version A as the compiler would give it when the image (and, optionally, some nodes' overlays) cannot be built this run. */
function withPending(overlayNodes: readonly string[]): ArtifactSet {
  const full = versionSet('A');
  const pending: PendingArtifacts[] = [
    { prefix: IMAGE, reason: IMAGE_REASON },
    { prefix: 'srv/warewulf/chroots/rocky/rootfs/', reason: IMAGE_REASON },
    ...overlayNodes.map((n) => ({ prefix: `srv/warewulf/provision/overlays/${n}/`, reason: MUNGE_REASON })),
  ];
  const kept = full.artifacts.filter((a) => a.path !== IMAGE && !overlayNodes.some((n) => a.path.startsWith(`srv/warewulf/provision/overlays/${n}/`)));
  return artifactSet(kept, pending);
}

describe('pending artifacts through the CLI', () => {
  let dir: string;
  let set: () => ArtifactSet = () => versionSet('A');
  const compile = async (): Promise<CompileResult> => ({
    specFile: join(dir, 'cluster.yaml'),
    specDir: dir,
    displayPath: 'cluster.yaml',
    clusterName: 'synth',
    specHash: sha256Hex('spec'),
    sources: new Map<string, string>(),
    diagnostics: [],
    artifacts: set(),
  });
  const herd = (argv: string[]) => runHerd(argv, dir);

  beforeAll(() => {
    registerCommand('plan', 'plan (synthetic)', async () => makePlanCommand({ compile, herdVersion: '9.9.9' }));
    registerCommand('apply', 'apply (synthetic)', async () => makeApplyCommand({ compile, herdVersion: '9.9.9' }));
  });
  afterAll(() => {
    registerCommand('plan', 'plan', async () => (await import('../../src/cli/commands/plan.ts')).command);
    registerCommand('apply', 'apply', async () => (await import('../../src/cli/commands/apply.ts')).command);
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'herd-pending-cli-'));
    set = () => versionSet('A');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 2 with --detailed-exitcode while anything is pending, and never says "No changes"', async () => {
    expect((await herd(['apply', '.', '--root', 'target', '--yes'])).code).toBe(0);
    expect((await herd(['plan', '.', '--root', 'target', '--detailed-exitcode'])).stdout).toContain('No changes.');

    set = () => withPending(['c001', 'c002', 'c003']);
    const text = await herd(['plan', '.', '--root', 'target', '--detailed-exitcode']);
    expect(text.code).toBe(2);
    expect(text.stdout).not.toContain('No changes');
    expect(text.stdout).toContain(
      ['Pending: not built this run, so the target keeps what herd last applied there:', '  srv/warewulf/chroots/rocky/rootfs/', `  ${IMAGE}`, `      ${IMAGE_REASON}`, '  srv/warewulf/provision/overlays/c[001-003]/', `      ${MUNGE_REASON}`].join('\n'),
    );
    expect(text.stdout).toContain('Nothing to apply (7 artifacts unchanged), but the target does not match the whole spec: 5 path(s) above are pending.');
    expect((await herd(['plan', '.', '--root', 'target'])).code).toBe(0);

    const md = await herd(['plan', '.', '--root', 'target', '--detailed-exitcode', '--format', 'markdown']);
    expect(md.code).toBe(2);
    expect(md.stdout).toContain('**Nothing to apply, 5 pending.**');
    expect(md.stdout).toContain(`- \`srv/warewulf/provision/overlays/c[001-003]/\`: ${MUNGE_REASON}`);

    const json = await herd(['plan', '.', '--root', 'target', '--detailed-exitcode', '--format', 'json']);
    const doc = planOutputSchema.parse(JSON.parse(json.stdout));
    expect(doc).toMatchObject({ exitCode: 2, ok: true, result: { changes: [], summary: { pending: 5, changesPresent: true } } });
    expect(doc.result!.pending.map((p) => p.prefix)).toEqual(['srv/warewulf/chroots/rocky/rootfs/', IMAGE, 'srv/warewulf/provision/overlays/c001/', 'srv/warewulf/provision/overlays/c002/', 'srv/warewulf/provision/overlays/c003/']);
    expect(doc.result!.pendingGroups[1]).toEqual({ reason: MUNGE_REASON, paths: ['srv/warewulf/provision/overlays/c[001-003]/'], nodes: 'c[001-003]', nodeCount: 3, prefixes: 3 });
  });

  it('counts pending next to real changes, and apply names what it kept', async () => {
    expect((await herd(['apply', '.', '--root', 'target', '--yes'])).code).toBe(0);
    const image = readFileSync(join(dir, 'target', IMAGE));
    set = () => {
      const p = withPending(['c002']);
      return artifactSet([...p.artifacts.filter((a) => a.path !== 'etc/slurm/slurm.conf'), ...versionSet('B').artifacts.filter((a) => a.path === 'etc/slurm/slurm.conf')], p.pending);
    };
    const plan = await herd(['plan', '.', '--root', 'target', '--detailed-exitcode']);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/Plan: 0 to create, 1 to update, 0 to delete, \d+ unchanged; 3 pending\./);
    expect(plan.stdout.indexOf('Pending:')).toBeLessThan(plan.stdout.indexOf('Changes, grouped by node:'));

    set = () => {
      const p = withPending(['c002']);
      return artifactSet([...p.artifacts.filter((a) => a.path !== 'etc/only-a.conf')], p.pending);
    };
    const applied = await herd(['apply', '.', '--root', 'target', '--yes']);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('Applied to target: 0 created, 0 updated, 1 deleted.');
    expect(applied.stdout).toContain(`Kept as last applied, pending: srv/warewulf/chroots/rocky/rootfs/, ${IMAGE} (${IMAGE_REASON}).`);
    expect(applied.stdout).toContain(`Kept as last applied, pending: srv/warewulf/provision/overlays/c002/ (${MUNGE_REASON}).`);
    expect(readFileSync(join(dir, 'target', IMAGE))).toEqual(image);

    // Nothing left to write: apply needs no consent, still names what is pending, and its JSON plan carries it.
    const again = await herd(['apply', '.', '--root', 'target']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Kept as last applied, pending: srv/warewulf/provision/overlays/c002/ (${MUNGE_REASON}).`);
    const json = applyOutputSchema.parse(JSON.parse((await herd(['apply', '.', '--root', 'target', '--format', 'json'])).stdout));
    expect(json).toMatchObject({ exitCode: 0, result: { applied: false, plan: { summary: { pending: 3, changesPresent: true } } } });
  });
});
