// herd plan / herd apply through main(): exit codes, formats, consent, saved plans, locks and drift, on synthetic sets and on the real lab spec.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex, type ArtifactSet } from '../../src/artifacts/artifact.ts';
import { makeApplyCommand } from '../../src/cli/commands/apply.ts';
import { makePlanCommand } from '../../src/cli/commands/plan.ts';
import { registerCommand } from '../../src/cli/main.ts';
import { runHerd, type HerdRun, type HerdRunOptions } from '../fixtures/run-herd.ts';
import type { CompileResult } from '../../src/pipeline.ts';
import { applyOutputSchema, planOutputSchema } from '../../src/plan/plan-json.ts';
import { acquireLock } from '../../src/state/lock.ts';
import { manifestFileOf } from '../../src/state/paths.ts';
import { versionSet, type Version } from '../unit/state/synthetic-artifacts.ts';

const herd = (argv: string[], cwd: string, options: HerdRunOptions = {}): Promise<HerdRun> => runHerd(argv, cwd, options);

describe('plan and apply on a synthetic artifact set', () => {
  let dir: string;
  let root: string;
  let version: Version = 'A';
  let invalid = false;
  /** A comment-only edit: the spec's bytes (and hash) change, the artifacts do not. */
  let comment = '';
  const compile = async (): Promise<CompileResult> => {
    const artifacts: ArtifactSet = versionSet(version);
    const base = { specFile: join(dir, 'cluster.yaml'), specDir: dir, displayPath: 'cluster.yaml', clusterName: 'synth', specHash: sha256Hex(`spec-${version}${comment}`), sources: new Map<string, string>() };
    if (invalid) return { ...base, diagnostics: [{ rule: 'node/duplicate-mac', severity: 'error', message: 'c2 reuses the MAC of c1', file: 'cluster.yaml' }] };
    return { ...base, diagnostics: [], artifacts };
  };

  beforeAll(() => {
    registerCommand('plan', 'plan (synthetic)', async () => makePlanCommand({ compile, herdVersion: '9.9.9' }));
    registerCommand('apply', 'apply (synthetic)', async () => makeApplyCommand({ compile, herdVersion: '9.9.9' }));
  });
  afterAll(() => {
    registerCommand('plan', 'plan', async () => (await import('../../src/cli/commands/plan.ts')).command);
    registerCommand('apply', 'apply', async () => (await import('../../src/cli/commands/apply.ts')).command);
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'herd-cli-'));
    root = join(dir, 'target');
    version = 'A';
    invalid = false;
    comment = '';
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the loop with the documented exit codes', async () => {
    expect((await herd(['plan', '.', '--root', 'target', '--detailed-exitcode'], dir)).code).toBe(2);
    expect((await herd(['plan', '.', '--root', 'target'], dir)).code).toBe(0);
    const refused = await herd(['apply', '.', '--root', 'target'], dir);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('state/consent-required');
    expect(refused.stderr).toContain('run: herd apply . --root target --yes');
    expect(existsSync(join(root, 'etc/hosts'))).toBe(false);
    const applied = await herd(['apply', '.', '--root', 'target', '--yes'], dir);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('Applied to target: 11 created, 0 updated, 0 deleted.');
    expect(applied.stdout).toContain('scontrol reboot ASAP nextstate=resume c[001-005]');
    const quiet = await herd(['plan', '.', '--root', 'target', '--detailed-exitcode'], dir);
    expect(quiet).toMatchObject({ code: 0 });
    expect(quiet.stdout).toContain('No changes.');
    version = 'B';
    const changed = await herd(['plan', '.', '--root', 'target', '--detailed-exitcode'], dir);
    expect(changed.code).toBe(2);
    expect(changed.stdout).toContain('Plan: 2 to create, 7 to update, 2 to delete, 2 unchanged.');
    invalid = true;
    expect((await herd(['plan', '.', '--root', 'target', '--detailed-exitcode'], dir)).code).toBe(1);
    expect((await herd(['plan', '.', '--format', 'github'], dir)).code).toBe(3);
    expect((await herd(['plan', '.', '--bogus'], dir)).code).toBe(3);
  });

  it('prints one JSON document per run, in the documented shape', async () => {
    const plan = await herd(['plan', '.', '--root', 'target', '--format', 'json', '--detailed-exitcode'], dir);
    const doc = planOutputSchema.parse(JSON.parse(plan.stdout));
    expect(doc).toMatchObject({ command: 'plan', exitCode: 2, ok: true, result: { summary: { create: 11 }, herdVersion: '9.9.9' } });
    const apply = await herd(['apply', '.', '--root', 'target', '--format', 'json', '--yes'], dir);
    expect(applyOutputSchema.parse(JSON.parse(apply.stdout))).toMatchObject({ exitCode: 0, result: { applied: true, counts: { created: 11 } } });
    const noConsent = await herd(['apply', '.', '--root', 'target', '--format', 'json'], dir);
    expect(applyOutputSchema.parse(JSON.parse(noConsent.stdout))).toMatchObject({ exitCode: 0, result: { applied: false } });
    version = 'B';
    const refused = applyOutputSchema.parse(JSON.parse((await herd(['apply', '.', '--root', 'target', '--format', 'json'], dir)).stdout));
    expect(refused).toMatchObject({ exitCode: 3, ok: false, failure: { rule: 'state/consent-required' } });
    expect(plan.stderr).toBe('');
  });

  it('asks before applying when interactive, and only "yes" applies', async () => {
    const no = await herd(['apply', '.', '--root', 'target'], dir, { stdin: 'no\n', tty: true });
    expect(no.code).toBe(3);
    expect(no.stderr).toContain("Only 'yes' is accepted");
    expect(existsSync(join(root, 'etc/hosts'))).toBe(false);
    const yes = await herd(['apply', '.', '--root', 'target'], dir, { stdin: 'yes\n', tty: true });
    expect(yes.code).toBe(0);
    expect(existsSync(join(root, 'etc/hosts'))).toBe(true);
    // CI is never interactive, even on a TTY.
    version = 'B';
    expect((await herd(['apply', '.', '--root', 'target'], dir, { stdin: 'yes\n', tty: true, env: { CI: 'true' } })).code).toBe(3);
  });

  it('applies a saved plan exactly once, and refuses it when stale', async () => {
    expect((await herd(['plan', '.', '--root', 'target', '--out', 'plan.herd'], dir)).code).toBe(0);
    expect(readFileSync(join(dir, 'plan.herd'), 'utf8')).not.toContain('munge-key-');
    const first = await herd(['apply', 'plan.herd'], dir);
    expect(first.code).toBe(0);
    const again = await herd(['apply', 'plan.herd'], dir);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/state\/stale-plan.*state manifest changed/);
    expect(again.stderr).toContain('run herd plan cluster.yaml --root target --out plan.herd again');
    await herd(['plan', '.', '--root', 'target', '--out', 'plan.herd'], dir);
    version = 'B';
    const specMoved = await herd(['apply', 'plan.herd'], dir);
    expect(specMoved.code).toBe(3);
    expect(specMoved.stderr).toMatch(/what herd would write changed since it was made \(the spec or a file it reads changed: etc\/mode\.conf, .* and 3 more\); nothing was changed/);
    version = 'A';
    // With only a comment changed in the spec, what makes the plan stale is the file edited on the target, and that is what is named.
    comment = '# reworded';
    writeFileSync(join(root, 'etc/hosts'), 'edited after planning\n');
    expect((await herd(['apply', 'plan.herd'], dir)).stderr).toContain('first difference: etc/hosts');
  });

  it('keeps a saved plan valid across a comment-only spec edit, and applies it', async () => {
    await herd(['apply', '.', '--root', 'target', '--yes'], dir);
    version = 'B';
    expect((await herd(['plan', '.', '--root', 'target', '--out', 'plan.herd'], dir)).code).toBe(0);
    comment = '# a comment added after review';
    const applied = await herd(['apply', 'plan.herd'], dir);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('Applied to target: 2 created, 7 updated, 2 deleted.');
  });

  it('reports drift, refuses to overwrite it, and overwrites only with --overwrite-drift', async () => {
    await herd(['apply', '.', '--root', 'target', '--yes'], dir);
    writeFileSync(join(root, 'etc/slurm/slurm.conf'), 'ClusterName=handmade\n');
    const plan = await herd(['plan', '.', '--root', 'target', '--detailed-exitcode'], dir);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain('! etc/slurm/slurm.conf  edited outside herd since the last apply');
    expect(plan.stdout).toContain('+ClusterName=handmade');
    const refused = await herd(['apply', '.', '--root', 'target', '--yes'], dir);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('state/drift');
    expect(readFileSync(join(root, 'etc/slurm/slurm.conf'), 'utf8')).toBe('ClusterName=handmade\n');
    expect((await herd(['apply', '.', '--root', 'target', '--yes', '--overwrite-drift'], dir)).code).toBe(0);
    expect((await herd(['plan', '.', '--root', 'target', '--detailed-exitcode'], dir)).code).toBe(0);
  });

  it('could not run (exit 3) when the lock is held or the state is unreadable', async () => {
    await herd(['apply', '.', '--root', 'target', '--yes'], dir);
    const lock = await acquireLock(root, { command: 'herd apply elsewhere' });
    try {
      const held = await herd(['plan', '.', '--root', 'target', '--detailed-exitcode'], dir);
      expect(held.code).toBe(3);
      expect(held.stderr).toContain(`locked by pid ${process.pid}`);
      expect(held.stderr).toContain('"herd apply elsewhere"');
    } finally {
      lock.release();
    }
    writeFileSync(manifestFileOf(root), '{"formatVersion": 1, "kind": "herd-state"');
    const broken = await herd(['plan', '.', '--root', 'target', '--detailed-exitcode', '--format', 'json'], dir);
    expect(broken.code).toBe(3);
    expect(JSON.parse(broken.stdout).failure.rule).toBe('state/unreadable');
  });
});

describe('plan and apply on the real lab spec (compileSpecAt)', () => {
  const lab = fileURLToPath(new URL('../../clusters/lab', import.meta.url));
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'herd-lab-'));
    cpSync(lab, join(dir, 'lab'), { recursive: true, filter: (src) => !src.includes('/.herd') });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('plans, applies to the default local root, then has nothing to apply but its pending image, and shows a one-line change with its impact', async () => {
    expect((await herd(['plan', 'lab', '--detailed-exitcode'], dir)).code).toBe(2);
    const first = await herd(['apply', 'lab', '--yes'], dir);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Kept as last applied, pending: .*srv\/warewulf\/provision\/images\/rockylinux-10\.img.*not in the local cache/);
    expect(existsSync(join(dir, 'lab/.herd/lab/root/etc/slurm/slurm.conf'))).toBe(true);
    expect(existsSync(join(dir, 'lab/.herd/lab/root/var/lib/herd/state.json'))).toBe(true);
    // The docker:// image is not pulled: nothing to apply, yet the target does not match the spec, so a CI gate still sees 2.
    const quiet = await herd(['plan', 'lab', '--detailed-exitcode'], dir);
    expect(quiet.code).toBe(2);
    expect(quiet.stdout).not.toContain('No changes');
    expect(quiet.stdout).toContain('Nothing to apply');
    expect(quiet.stdout).toMatch(/Pending: [^\n]*\n(  [^\n]*\n)*  srv\/warewulf\/provision\/images\/rockylinux-10\.img\n/);
    expect((await herd(['plan', 'lab'], dir)).code).toBe(0);

    const spec = join(dir, 'lab/cluster.yaml');
    const text = readFileSync(spec, 'utf8');
    expect(text).toContain('max_time: "2:00:00"');
    writeFileSync(spec, text.replace('max_time: "2:00:00"', 'max_time: "4:00:00"'));
    const planned = await herd(['plan', 'lab', '--detailed-exitcode', '--format', 'json'], dir);
    expect(planned.code).toBe(2);
    const doc = planOutputSchema.parse(JSON.parse(planned.stdout)).result!;
    expect(doc.changes.map((c) => [c.action, c.path, c.impact.class])).toEqual([['update', 'etc/slurm/slurm.conf', 'slurm-reconfigure']]);
    expect(doc.changes[0]!.diff).toMatch(/^-PartitionName=normal .*MaxTime=02:00:00.*\n\+PartitionName=normal .*MaxTime=04:00:00/m);
    expect(doc.nextSteps.map((s) => s.command)).toEqual(['scontrol reconfigure']);
    expect(doc.summary).toMatchObject({ update: 1, changesPresent: true });
    expect(doc.pending.map((p) => p.prefix)).toContain('srv/warewulf/provision/images/rockylinux-10.img');
    const applied = await herd(['apply', 'lab', '--yes'], dir);
    expect(applied.stdout).toContain('Applied to lab/.herd/lab/root: 0 created, 1 updated, 0 deleted.');
    const after = planOutputSchema.parse(JSON.parse((await herd(['plan', 'lab', '--detailed-exitcode', '--format', 'json'], dir)).stdout));
    expect(after).toMatchObject({ exitCode: 2, result: { changes: [], summary: { create: 0, update: 0, delete: 0, changesPresent: true } } });
    expect(after.result!.summary.pending).toBe(after.result!.pending.length);
  });
});
