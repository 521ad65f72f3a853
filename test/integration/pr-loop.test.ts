// The pull-request loop end to end (issue 15): a "head" (a target root with applied state, driven by its own herd process in its own
// git checkout) publishes a state snapshot; pull requests are planned from clean clones against that snapshot only (the head root is
// moved away while they plan, so reading it would fail); the reviewed saved plan is what the head applies. A plan made from an older
// snapshot before a conflicting change, or before someone edited a file on the head, is refused with a message saying what moved;
// a comment-only edit made after review is not.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.ts';
import { planOutputSchema, type PlanOutput } from '../../src/plan/plan-json.ts';
import { parseSavedPlan } from '../../src/plan/saved-plan.ts';
import { runHerd, type HerdRun } from '../fixtures/run-herd.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const LAB = join(REPO, 'clusters/lab');
const TSX = join(REPO, 'node_modules/tsx/dist/esm/index.mjs');
const HERD_DEV = join(REPO, 'scripts/herd-dev.ts');
const run = promisify(execFile);

const C2_LINE = '  c2: { profiles: [compute], mac: "52:54:00:aa:00:02", address: 10.0.0.3 }\n';
const C3_LINE = '  c3: { profiles: [compute], mac: "52:54:00:aa:00:03", address: 10.0.0.4 }\n';

describe('the pull-request loop: publish a snapshot on the head, plan PRs against it, apply the reviewed plan', () => {
  let work: string;
  let origin: string;
  let headCheckout: string;
  let headRoot: string;
  /** Where the head publishes its snapshot and where PR jobs download it from (an Actions artifact or a branch in CI). */
  let published: string;
  /** Stand-ins for the head's `/` while compiling: empty, so head-only inputs are pending alike on both sides (no secrets anywhere). */
  let emptyHeadInputs: string;

  const git = async (cwd: string, ...args: string[]) =>
    (await run('git', ['-c', 'user.email=ci@example.org', '-c', 'user.name=ci', '-c', 'init.defaultBranch=main', ...args], { cwd })).stdout;

  /** herd on the head: a separate process, in the head's checkout, as the self-hosted runner runs it. */
  async function onHead(argv: string[]): Promise<HerdRun> {
    try {
      const r = await run(process.execPath, ['--import', TSX, HERD_DEV, ...argv], { cwd: headCheckout, env: { PATH: process.env.PATH ?? '', HOME: work, NO_COLOR: '1', HERD_HEAD_ROOT: emptyHeadInputs }, maxBuffer: 64 << 20 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
    }
  }

  /** A pull request: a clean clone of the repository on a branch, edited by `edit`, committed. */
  async function pullRequest(name: string, edit: (spec: string) => string): Promise<string> {
    const dir = join(work, `pr-${name}`);
    await git(work, 'clone', '-q', origin, dir);
    await git(dir, 'checkout', '-q', '-b', name);
    const file = join(dir, 'clusters/lab/cluster.yaml');
    writeFileSync(file, edit(readFileSync(file, 'utf8')));
    await git(dir, 'commit', '-qam', name);
    return dir;
  }

  /** The PR job: `herd plan --state` against the downloaded snapshot, with the head root out of reach while it runs. */
  async function planInPr(dir: string, out: string): Promise<{ run: HerdRun; doc: PlanOutput }> {
    const hidden = `${headRoot}.out-of-reach`;
    renameSync(headRoot, hidden);
    try {
      const r = await runHerd(['plan', 'clusters/lab', '--state', join(published, 'state.json'), '--out', out, '--format', 'json', '--detailed-exitcode'], dir, { env: { HERD_HEAD_ROOT: emptyHeadInputs } });
      return { run: r, doc: planOutputSchema.parse(JSON.parse(r.stdout)) };
    } finally {
      renameSync(hidden, headRoot);
    }
  }

  /** Merge a PR branch into main and bring the head's checkout up to date (what the push to main does). */
  async function merge(dir: string, branch: string): Promise<void> {
    await git(dir, 'push', '-q', 'origin', `${branch}:${branch}`);
    await git(headCheckout, 'fetch', '-q', 'origin');
    await git(headCheckout, 'merge', '-q', '--no-edit', `origin/${branch}`);
    await git(headCheckout, 'push', '-q', 'origin', 'HEAD:main');
  }

  const changedPaths = (doc: PlanOutput) => doc.result!.changes.map((c) => `${c.action} ${c.path}`);

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'herd-prloop-'));
    origin = join(work, 'origin.git');
    headCheckout = join(work, 'head-checkout');
    headRoot = join(work, 'head-root');
    published = join(work, 'published');
    emptyHeadInputs = join(work, 'no-head-inputs');
    for (const d of [headRoot, published, emptyHeadInputs]) mkdirSync(d);
    // The site repository: clusters/lab as committed, nothing of .herd/.
    const seed = join(work, 'seed');
    mkdirSync(join(seed, 'clusters/lab'), { recursive: true });
    cpSync(join(LAB, 'cluster.yaml'), join(seed, 'clusters/lab/cluster.yaml'));
    cpSync(join(LAB, 'overlays'), join(seed, 'clusters/lab/overlays'), { recursive: true });
    writeFileSync(join(seed, '.gitignore'), '.herd/\n');
    await git(work, 'init', '-q', '--bare', origin);
    await git(seed, 'init', '-q');
    await git(seed, 'add', '-A');
    await git(seed, 'commit', '-qm', 'lab v1');
    await git(seed, 'push', '-q', origin, 'HEAD:main');
    await git(work, 'clone', '-q', origin, headCheckout);
  }, 120_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  let snapshotV1 = '';

  it('applies v1 on the head and publishes its snapshot; state export gives the same snapshot', async () => {
    const applied = await onHead(['apply', 'clusters/lab', '--root', headRoot, '--yes', '--publish-state', join(published, 'state.json')]);
    expect(applied.code, applied.stderr).toBe(EXIT.ok);
    expect(applied.stderr).toMatch(/published the state snapshot [0-9a-f]{12} to /);
    const text = readFileSync(join(published, 'state.json'), 'utf8');
    const snap = JSON.parse(text) as { snapshotId: string; kind: string; files: { path: string; sha256?: string }[] };
    expect(snap.kind).toBe('herd-state-snapshot');
    expect(snap.files.map((f) => f.path)).toContain('etc/slurm/slurm.conf');
    // Hashes only: the published snapshot holds no file content.
    expect(text).not.toContain('PartitionName=');
    expect(text).not.toContain('10.0.0.2');
    snapshotV1 = snap.snapshotId;
    const exported = await onHead(['state', 'export', 'clusters/lab', '--root', headRoot, '--out', join(work, 'exported.json')]);
    expect(exported.code, exported.stderr).toBe(EXIT.ok);
    expect(JSON.parse(readFileSync(join(work, 'exported.json'), 'utf8')).snapshotId).toBe(snapshotV1);
  }, 120_000);

  let addNodeDir = '';
  let slurmDir = '';

  it('plans a pull request from a clean clone against the snapshot only, showing exactly the pending change', async () => {
    addNodeDir = await pullRequest('add-c3', (s) => s.replace(C2_LINE, C2_LINE + C3_LINE).replaceAll('nodes: "c[1-2]"', 'nodes: "c[1-3]"'));
    const { run: r, doc } = await planInPr(addNodeDir, 'plan.herd');
    expect(r.code, r.stderr).toBe(EXIT.changes);
    expect(changedPaths(doc)).toEqual(['update etc/dnsmasq.d/ww4-hosts.conf', 'update etc/hosts', 'update etc/slurm/slurm.conf', 'update etc/warewulf/nodes.conf']);
    expect(doc.result!.snapshotId).toBe(snapshotV1);
    // Real line diffs, though the snapshot has no content: the text each file was applied from is recompiled from the commit the head
    // recorded (present in the clone) and used only because it hashes to what the snapshot records on the head.
    const slurm = doc.result!.changes.find((c) => c.path === 'etc/slurm/slurm.conf')!;
    expect(slurm.diff).toContain('-PartitionName=normal Nodes=c[1-2]');
    expect(slurm.diff).toContain('+PartitionName=normal Nodes=c[1-3]');
    expect(slurm.diff).not.toContain('--- /dev/null');
    expect(doc.result!.drift).toEqual([]);
    // What the PR runner cannot build (the image, the overlays that carry head-only inputs) is shown as pending, never as a change.
    expect(doc.result!.pending.map((p) => p.prefix)).toContain('srv/warewulf/provision/overlays/c3/__SYSTEM__.img');
    // The same change seen from the head itself (a local, read-only plan of the live root): the snapshot plan is not an approximation.
    const direct = await onHead(['plan', join(addNodeDir, 'clusters/lab'), '--root', headRoot, '--format', 'json']);
    expect(changedPaths(planOutputSchema.parse(JSON.parse(direct.stdout)))).toEqual(changedPaths(doc));
    // The markdown comment the PR job posts.
    const md = await runHerd(['plan', 'clusters/lab', '--state', join(published, 'state.json'), '--format', 'markdown'], addNodeDir, { env: { HERD_HEAD_ROOT: emptyHeadInputs } });
    expect(md.stdout).toContain('etc/slurm/slurm.conf');
    // A second PR, planned against the same snapshot before the first lands: it will conflict.
    slurmDir = await pullRequest('return-to-service', (s) => s.replace('return_to_service: 2', 'return_to_service: 1'));
    const second = await planInPr(slurmDir, 'plan.herd');
    expect(second.run.code, second.run.stderr).toBe(EXIT.changes);
    expect(changedPaths(second.doc)).toEqual(['update etc/slurm/slurm.conf']);
  }, 120_000);

  it('applies the reviewed plan on the head, even after a comment-only edit landed with it', async () => {
    const reviewed = join(published, 'add-c3.herd');
    cpSync(join(addNodeDir, 'plan.herd'), reviewed);
    const saved = parseSavedPlan(readFileSync(reviewed, 'utf8'), reviewed);
    expect(saved).toMatchObject({ ok: true, plan: { basis: 'snapshot', snapshotId: snapshotV1, specPath: 'clusters/lab/cluster.yaml' } });
    // After review, a comment is reworded and pushed without planning again.
    const spec = join(addNodeDir, 'clusters/lab/cluster.yaml');
    writeFileSync(spec, readFileSync(spec, 'utf8').replace('# The seed lab:', '# The seed lab (reworded after review):'));
    await git(addNodeDir, 'commit', '-qam', 'reword a comment');
    await merge(addNodeDir, 'add-c3');
    // As the workflow's merge job runs it: the head names its own spec and root; the plan file only has to match them.
    const applied = await onHead(['apply', reviewed, '--spec', 'clusters/lab', '--root', headRoot, '--with-pending', '--publish-state', join(published, 'state.json')]);
    expect(applied.code, applied.stderr).toBe(EXIT.ok);
    expect(applied.stdout).toContain(`Applied to ${headRoot}: 0 created, 4 updated, 0 deleted.`);
    expect(readFileSync(join(headRoot, 'etc/hosts'), 'utf8')).toContain('10.0.0.4');
    // The head now matches the merged spec: nothing but what stays pending is left to do.
    const after = await onHead(['plan', 'clusters/lab', '--root', headRoot, '--format', 'json']);
    expect(planOutputSchema.parse(JSON.parse(after.stdout)).result!.changes).toEqual([]);
    expect(JSON.parse(readFileSync(join(published, 'state.json'), 'utf8')).snapshotId).not.toBe(snapshotV1);
  }, 120_000);

  it('refuses the conflicting plan made from the old snapshot, saying what moved and what to do, and changes nothing', async () => {
    await merge(slurmDir, 'return-to-service');
    const before = readFileSync(join(headRoot, 'etc/slurm/slurm.conf'), 'utf8');
    const refused = await onHead(['apply', join(slurmDir, 'plan.herd'), '--spec', 'clusters/lab', '--root', headRoot, '--with-pending']);
    expect(refused.code).toBe(EXIT.couldNotRun);
    expect(refused.stderr).toContain('error state/stale-plan: the saved plan');
    expect(refused.stderr).toContain('the target was applied to since the state snapshot it was made against (the state manifest changed)');
    expect(refused.stderr).toContain('what herd would write changed since it was made (the spec or a file it reads changed: etc/dnsmasq.d/ww4-hosts.conf, etc/hosts, etc/slurm/slurm.conf, etc/warewulf/nodes.conf, srv/warewulf/provision/overlays/c3/__RUNTIME__.img, srv/warewulf/provision/overlays/c3/__SYSTEM__.img)');
    expect(refused.stderr).toContain('nothing was changed');
    expect(refused.stderr).toMatch(/hint: make a new plan against the head's current state: herd state export --out state\.json on the head .*herd plan clusters\/lab\/cluster\.yaml --state state\.json --out/);
    expect(readFileSync(join(headRoot, 'etc/slurm/slurm.conf'), 'utf8')).toBe(before);
    // Re-planned against the current snapshot, the same PR applies.
    await git(slurmDir, 'pull', '-q', '--no-rebase', '--no-edit', 'origin', 'main');
    const again = await planInPr(slurmDir, 'plan.herd');
    expect(changedPaths(again.doc)).toEqual(['update etc/slurm/slurm.conf']);
    const applied = await onHead(['apply', join(slurmDir, 'plan.herd'), '--spec', 'clusters/lab', '--root', headRoot, '--with-pending', '--publish-state', join(published, 'state.json')]);
    expect(applied.code, applied.stderr).toBe(EXIT.ok);
    expect(readFileSync(join(headRoot, 'etc/slurm/slurm.conf'), 'utf8')).toContain('ReturnToService=1');
  }, 120_000);

  it('re-checks drift on the head at apply: an edit made there after the snapshot refuses the plan', async () => {
    const dir = await pullRequest('shorter-owner-jobs', (s) => s.replace('max_time: "1-00:00:00"', 'max_time: "12:00:00"'));
    const { doc } = await planInPr(dir, 'plan.herd');
    expect(changedPaths(doc)).toEqual(['update etc/slurm/slurm.conf']);
    // Someone edits /etc/hosts on the head by hand after the snapshot was published.
    writeFileSync(join(headRoot, 'etc/hosts'), readFileSync(join(headRoot, 'etc/hosts'), 'utf8') + '10.0.0.99 by-hand\n');
    await merge(dir, 'shorter-owner-jobs');
    const refused = await onHead(['apply', join(dir, 'plan.herd'), '--spec', 'clusters/lab', '--root', headRoot, '--with-pending']);
    expect(refused.code).toBe(EXIT.couldNotRun);
    expect(refused.stderr).toContain('is stale: the files on the target changed since the state snapshot it was made against (first difference: etc/hosts); nothing was changed');
    expect(readFileSync(join(headRoot, 'etc/slurm/slurm.conf'), 'utf8')).not.toContain('MaxTime=12:00:00');
    // A fresh snapshot shows the drift to the PR, as recorded on the head.
    const exported = await onHead(['state', 'export', 'clusters/lab', '--root', headRoot, '--out', join(published, 'state.json')]);
    expect(exported.code, exported.stderr).toBe(EXIT.ok);
    const replanned = await planInPr(dir, 'plan.herd');
    expect(replanned.doc.result!.drift.map((d) => [d.path, d.kind])).toEqual([['etc/hosts', 'content']]);
  }, 120_000);
});
