// herd state export, plan --state and apply --publish-state through main() on a synthetic artifact set: the snapshot written and read
// back, and every bad input answered with a located message and exit 3 (never a stack trace).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/artifacts/artifact.ts';
import { makeApplyCommand } from '../../../src/cli/commands/apply.ts';
import { makePlanCommand } from '../../../src/cli/commands/plan.ts';
import { makeStateCommand } from '../../../src/cli/commands/state.ts';
import { EXIT } from '../../../src/cli/exit-codes.ts';
import { registerCommand } from '../../../src/cli/main.ts';
import { planOutputSchema } from '../../../src/plan/plan-json.ts';
import { runHerd, type HerdRun } from '../../fixtures/run-herd.ts';
import type { CompileResult } from '../../../src/pipeline.ts';
import { versionSet, type Version } from './synthetic-artifacts.ts';

describe('state snapshots through the CLI (synthetic artifacts)', () => {
  let dir: string;
  let version: Version = 'A';
  let cluster = 'synth';
  /** As on a pull-request runner: the overlays (which need the head's munge key) cannot be built, so they are pending. */
  let overlaysPending = false;
  const OVERLAYS = 'srv/warewulf/provision/overlays/';
  const setFor = (v: Version) => {
    const set = versionSet(v);
    return overlaysPending ? { ...set, artifacts: set.artifacts.filter((a) => !a.path.startsWith(OVERLAYS)), pending: [{ prefix: OVERLAYS, reason: 'the munge key is not on this machine' }] } : set;
  };
  const compile = async (): Promise<CompileResult> => ({
    specFile: join(dir, 'cluster.yaml'),
    specDir: dir,
    displayPath: 'cluster.yaml',
    clusterName: cluster,
    specHash: sha256Hex(`spec-${version}`),
    sources: new Map(),
    diagnostics: [],
    artifacts: setFor(version),
  });
  const herd = (argv: string[]): Promise<HerdRun> => runHerd(argv, dir);
  const deps = { compile, herdVersion: '9.9.9' };

  beforeAll(() => {
    registerCommand('plan', 'plan (synthetic)', async () => makePlanCommand(deps));
    registerCommand('apply', 'apply (synthetic)', async () => makeApplyCommand(deps));
    registerCommand('state', 'state (synthetic)', async () => makeStateCommand(deps));
  });
  afterAll(() => {
    registerCommand('plan', 'plan', async () => (await import('../../../src/cli/commands/plan.ts')).command);
    registerCommand('apply', 'apply', async () => (await import('../../../src/cli/commands/apply.ts')).command);
    registerCommand('state', 'state', async () => (await import('../../../src/cli/commands/state.ts')).command);
  });
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herd-snap-'));
    version = 'A';
    cluster = 'synth';
    overlaysPending = false;
    const applied = await herd(['apply', '.', '--root', 'head', '--yes', '--publish-state', 'published.json']);
    expect(applied.code, applied.stderr).toBe(EXIT.ok);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('exports the snapshot apply published, to a file or stdout, replacing only a snapshot herd wrote', async () => {
    const published = JSON.parse(readFileSync(join(dir, 'published.json'), 'utf8')) as { snapshotId: string; root: string };
    expect(published.root).toBe(join(dir, 'head'));
    const exported = await herd(['state', 'export', '.', '--root', 'head', '--out', 'published.json']);
    expect(exported.code, exported.stderr).toBe(EXIT.ok);
    expect(exported.stderr).toContain(`herd: wrote the state snapshot ${published.snapshotId.slice(0, 12)} of ${join(dir, 'head')} (11 file(s) herd owns) to published.json`);
    const stdout = await herd(['state', 'export', '.', '--root', 'head', '--out', '-']);
    expect(JSON.parse(stdout.stdout).snapshotId).toBe(published.snapshotId);
    expect(stdout.stdout).not.toContain('munge-key-');
    writeFileSync(join(dir, 'notes.txt'), 'mine\n');
    const refused = await herd(['state', 'export', '.', '--root', 'head', '--out', 'notes.txt']);
    expect(refused.code).toBe(EXIT.couldNotRun);
    expect(refused.stderr).toContain('error cli/out-unsafe: notes.txt exists and is not a state snapshot herd wrote; herd never replaces it');
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine\n');
  });

  it('answers a wrong state command line with exit 3 and what to type', async () => {
    expect((await herd(['state'])).stderr).toContain('herd state needs a subcommand');
    expect((await herd(['state', 'import'])).stderr).toContain('unknown subcommand "herd state import"');
    const noOut = await herd(['state', 'export', '.', '--root', 'head']);
    expect(noOut).toMatchObject({ code: EXIT.couldNotRun });
    expect(noOut.stderr).toContain('herd state export needs --out FILE');
    expect((await herd(['state', 'export', '--out', 'x.json', '--format', 'json'])).code).toBe(EXIT.couldNotRun);
  });

  it('plans against a snapshot in every format, with its id in the JSON', async () => {
    version = 'B';
    const json = await herd(['plan', '.', '--state', 'published.json', '--format', 'json', '--detailed-exitcode']);
    expect(json.code, json.stderr).toBe(EXIT.changes);
    const doc = planOutputSchema.parse(JSON.parse(json.stdout));
    expect(doc.result!.snapshotId).toBe(JSON.parse(readFileSync(join(dir, 'published.json'), 'utf8')).snapshotId);
    expect(doc.result!.summary).toMatchObject({ create: 2, update: 7, delete: 2 });
    const text = await herd(['plan', '.', '--state', 'published.json']);
    expect(text.stdout).toContain(`target ${join(dir, 'head')} (as in the state snapshot ${doc.result!.snapshotId!.slice(0, 12)})`);
    expect((await herd(['plan', '.', '--state', 'published.json', '--format', 'markdown'])).code).toBe(EXIT.ok);
  });

  it('shows the nodes the head still has to reboot in a plan against its snapshot, as a plan on the head does', async () => {
    const onHead = await herd(['plan', '.', '--root', 'head']);
    const awaiting = onHead.stdout.split('\n').filter((l) => /awaiting reboot|^\s+\S+\s+\(since generation/.test(l));
    expect(awaiting.length, onHead.stdout).toBeGreaterThan(1);
    const published = JSON.parse(readFileSync(join(dir, 'published.json'), 'utf8')) as { reboots?: { nodes: Record<string, unknown> } };
    expect(Object.keys(published.reboots?.nodes ?? {}).length).toBeGreaterThan(0);
    const viaSnapshot = await herd(['plan', '.', '--state', 'published.json']);
    expect(viaSnapshot.stdout.split('\n').filter((l) => /awaiting reboot|^\s+\S+\s+\(since generation/.test(l))).toEqual(awaiting);
    const json = planOutputSchema.parse(JSON.parse((await herd(['plan', '.', '--state', 'published.json', '--format', 'json'])).stdout));
    expect(json.result!.awaitingReboot?.length).toBe(Object.keys(published.reboots!.nodes).length);
  });

  it('refuses a missing, edited or foreign snapshot, and --state with --root, each with a located message', async () => {
    const missing = await herd(['plan', '.', '--state', 'nope.json']);
    expect(missing.code).toBe(EXIT.couldNotRun);
    expect(missing.stderr).toContain('error state/unreadable: the state snapshot nope.json does not exist');
    const text = readFileSync(join(dir, 'published.json'), 'utf8');
    writeFileSync(join(dir, 'edited.json'), text.replace('"mode": 420', '"mode": 438'));
    expect((await herd(['plan', '.', '--state', 'edited.json'])).stderr).toContain('error state/modified-snapshot: edited.json was modified after herd wrote it');
    writeFileSync(join(dir, 'cluster.yaml'), 'name: synth\n');
    expect((await herd(['plan', '.', '--state', 'cluster.yaml'])).stderr).toContain('cluster.yaml is not a state snapshot (not valid JSON');
    const both = await herd(['plan', '.', '--state', 'published.json', '--root', 'head']);
    expect(both.code).toBe(EXIT.couldNotRun);
    expect(both.stderr).toContain('--state and --root both name what to plan against; give one');
    cluster = 'other';
    const foreign = await herd(['plan', '.', '--state', 'published.json', '--format', 'json']);
    expect(JSON.parse(foreign.stdout)).toMatchObject({ exitCode: EXIT.couldNotRun, failure: { rule: 'state/wrong-cluster', message: 'the state snapshot is of cluster synth, the spec is cluster other' } });
    // Odd places: a folder, a kernel filesystem; a symlink to a snapshot is the user's own path and is followed.
    mkdirSync(join(dir, 'a-folder'));
    expect((await herd(['plan', '.', '--state', 'a-folder'])).stderr).toContain(`cannot read the state snapshot a-folder: ${join(dir, 'a-folder')} is a directory, not a file`);
    const proc = await herd(['plan', '.', '--state', '/proc/self/status']);
    expect(proc.code).toBe(EXIT.couldNotRun);
    expect(proc.stderr).toContain('is on a kernel filesystem');
    cluster = 'synth';
    symlinkSync(join(dir, 'published.json'), join(dir, 'link.json'));
    expect((await herd(['plan', '.', '--state', 'link.json'])).code).toBe(EXIT.ok);
    for (const r of [missing, both]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('applies a plan made against the snapshot on the head, refuses it elsewhere, and refuses --spec without a saved plan', async () => {
    version = 'B';
    expect((await herd(['plan', '.', '--state', 'published.json', '--out', 'pr.herd'])).code).toBe(EXIT.ok);
    const elsewhere = await herd(['apply', 'pr.herd', '--root', 'other']);
    expect(elsewhere.code).toBe(EXIT.couldNotRun);
    expect(elsewhere.stderr).toContain(`the saved plan pr.herd is for the target ${join(dir, 'head')}, not other`);
    expect((await herd(['apply', '.', '--spec', 'cluster.yaml'])).stderr).toContain('--spec goes with a saved plan');
    const applied = await herd(['apply', 'pr.herd', '--spec', join(dir, 'cluster.yaml'), '--publish-state', 'published.json']);
    expect(applied.code, applied.stderr).toBe(EXIT.ok);
    expect(applied.stdout).toContain('2 created, 7 updated, 2 deleted');
    // The snapshot it published is the one export sees now, and the same plan is stale against it.
    const now = await herd(['state', 'export', '.', '--root', 'head', '--out', '-']);
    expect(JSON.parse(now.stdout).snapshotId).toBe(JSON.parse(readFileSync(join(dir, 'published.json'), 'utf8')).snapshotId);
    const again = await herd(['apply', 'pr.herd']);
    expect(again.code).toBe(EXIT.couldNotRun);
    expect(again.stderr).toContain('the target was applied to since the state snapshot it was made against (the state manifest changed)');
  });

  it('checks --publish-state before applying: a file herd did not write is refused and the target is left alone', async () => {
    version = 'B';
    writeFileSync(join(dir, 'notes.txt'), 'mine\n');
    const before = readFileSync(join(dir, 'head/etc/slurm/slurm.conf'), 'utf8');
    const refused = await herd(['apply', '.', '--root', 'head', '--yes', '--publish-state', 'notes.txt']);
    expect(refused.code).toBe(EXIT.couldNotRun);
    expect(refused.stderr).toContain('error cli/out-unsafe: notes.txt exists and is not a state snapshot herd wrote; herd never replaces it');
    expect(readFileSync(join(dir, 'head/etc/slurm/slurm.conf'), 'utf8')).toBe(before);
    expect((await herd(['apply', '.', '--root', 'head', '--yes', '--publish-state', 'no/such/dir/s.json'])).stderr).toContain('does not exist');
  });

  it('leaves what the reviewed plan had pending as it is, unless --with-pending builds and applies it on the head', async () => {
    const overlay = join(dir, 'head', OVERLAYS, 'c001/__SYSTEM__.img');
    const before = readFileSync(overlay);
    version = 'B';
    overlaysPending = true;
    const planned = await herd(['plan', '.', '--state', 'published.json', '--out', 'pr.herd', '--format', 'json']);
    expect(JSON.parse(planned.stdout).result.pending).toEqual([{ prefix: OVERLAYS, reason: 'the munge key is not on this machine' }]);
    overlaysPending = false;
    const strict = await herd(['apply', 'pr.herd']);
    expect(strict.code, strict.stderr).toBe(EXIT.ok);
    expect(strict.stdout).toContain(`Kept as last applied, pending: ${OVERLAYS}`);
    expect(readFileSync(overlay).equals(before)).toBe(true);
    // The same plan, but the head builds and applies the overlays it left pending.
    rmSync(join(dir, 'head'), { recursive: true });
    version = 'A';
    expect((await herd(['apply', '.', '--root', 'head', '--yes', '--publish-state', 'published.json'])).code).toBe(EXIT.ok);
    version = 'B';
    overlaysPending = true;
    expect((await herd(['plan', '.', '--state', 'published.json', '--out', 'pr.herd'])).code).toBe(EXIT.ok);
    overlaysPending = false;
    const withPending = await herd(['apply', 'pr.herd', '--with-pending']);
    expect(withPending.code, withPending.stderr).toBe(EXIT.ok);
    expect(withPending.stderr).toMatch(/--with-pending: also built here and applied 4 file\(s\) the reviewed plan left pending: srv\/warewulf\/provision\/overlays\/c001\/__SYSTEM__\.img, /);
    expect(readFileSync(overlay).equals(before)).toBe(false);
    expect((await herd(['apply', '.', '--root', 'head', '--with-pending'])).stderr).toContain('--with-pending goes with a saved plan');
  });
});
