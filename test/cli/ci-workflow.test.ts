// The example GitHub Actions workflow is valid (checked by @action-validator/cli) and calls only herd commands and flags that exist.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { main } from '../../src/cli/main.ts';

const root = new URL('../../', import.meta.url).pathname;
const workflowPath = join(root, '.github/workflows/herd-cluster.yml');
const validator = join(root, 'node_modules/.bin/action-validator');

type Workflow = { jobs: Record<string, { steps: { run?: string; uses?: string; with?: Record<string, string> }[] }> };
const workflow = (): Workflow => parse(readFileSync(workflowPath, 'utf8')) as Workflow;

/** Every `npx herd ...` invocation in the workflow's run steps (of one job, or all), tokenised as a shell would (quotes removed, variables filled in). */
function herdInvocations(jobName?: string): string[][] {
  const wf = workflow();
  const out: string[][] = [];
  for (const [name, job] of Object.entries(wf.jobs)) {
    if (jobName !== undefined && name !== jobName) continue;
    for (const step of job.steps) {
      for (const line of (step.run ?? '').split('\n')) {
        const m = /npx herd (.*)$/.exec(line);
        if (!m) continue;
        const tokens = m[1]!.split(/\s+/).filter(Boolean);
        const stop = tokens.findIndex((t) => ['>', '|', '&&', '2>&1', ';'].includes(t));
        out.push((stop < 0 ? tokens : tokens.slice(0, stop)).map((t) => t.replace(/^["']|["']$/g, '').replace('$HERD_ROOT', '/tmp/herd-root').replace('$RUNNER_TEMP', '/tmp/runner')));
      }
    }
  }
  return out;
}

async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (d) => (err += String(d)));
  stdout.resume();
  const code = await main(argv, { stdin: new PassThrough(), stdout, stderr, env: {}, cwd: root });
  return { code, stderr: err };
}

describe('example CI workflow', () => {
  it('passes action-validator', () => {
    const r = spawnSync(validator, [workflowPath], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('is rejected by action-validator when broken (the oracle can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herd-wf-'));
    const broken = join(dir, 'broken.yml');
    writeFileSync(broken, readFileSync(workflowPath, 'utf8').replace('runs-on: ubuntu-latest', 'runs-onn: ubuntu-latest'));
    expect(spawnSync(validator, [broken], { encoding: 'utf8' }).status).not.toBe(0);
  });

  it('calls only herd commands and flags that exist', async () => {
    const calls = herdInvocations();
    expect(calls.length).toBeGreaterThanOrEqual(4);
    for (const argv of calls) {
      // With --help appended, main parses the flags strictly and exits 0 only when the command and every flag exist.
      const r = await run([...argv, '--help']);
      expect(r.code, `herd ${argv.join(' ')}: ${r.stderr}`).toBe(0);
    }
    expect((await run(['plan', 'clusters/lab', '--no-such-flag', '--help'])).code).toBe(3);
  });

  it('runs the tested pull-request loop: PRs plan against the published snapshot, the head applies the reviewed plan and publishes the next', () => {
    const wf = workflow();
    const flag = (argv: string[], name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
    // Pull requests: plan against the snapshot, never a root (nothing in a PR job reaches the head), and save the plan.
    const prPlans = herdInvocations('plan').filter((a) => a[0] === 'plan');
    expect(prPlans).toHaveLength(1);
    const prPlan = prPlans[0]!;
    expect(flag(prPlan, '--state')).toBeDefined();
    expect(prPlan).not.toContain('--root');
    const savedPlan = flag(prPlan, '--out')!;
    expect(savedPlan).toBeDefined();
    const upload = wf.jobs.plan!.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))!;
    expect(upload.with!.path).toContain(savedPlan);
    // The snapshot the PR plans against is the one the head publishes.
    const prRuns = wf.jobs.plan!.steps.map((s) => s.run ?? '').join('\n');
    expect(prRuns).toContain('git fetch --depth=1 origin herd-state');
    // Merge: the head applies exactly the downloaded reviewed plan (no second plan of its own) and publishes the new snapshot.
    const headCalls = herdInvocations('apply');
    expect(headCalls.map((a) => a[0])).toEqual(['apply']);
    expect(headCalls[0]![1]).toBe(savedPlan);
    expect(flag(headCalls[0]!, '--publish-state')).toBeDefined();
    // The plan file is checked, not trusted: the head names the spec and the target itself.
    expect(flag(headCalls[0]!, '--spec')).toBe(prPlan[1]);
    expect(flag(headCalls[0]!, '--root')).toBe('/');
    const download = wf.jobs.apply!.steps.find((s) => s.uses?.startsWith('actions/download-artifact'))!;
    expect(download.with!.name).toBe(upload.with!.name);
    expect(wf.jobs.apply!.steps.map((s) => s.run ?? '').join('\n')).toContain('git push origin herd-state');
    // By hand (first set-up): the head exports its snapshot.
    expect(herdInvocations('publish-state').map((a) => a.slice(0, 2))).toEqual([['state', 'export']]);
  });
});
