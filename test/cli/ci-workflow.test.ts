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

/** Every `npx herd ...` invocation in the workflow's run steps, tokenised as a shell would (quotes removed, variables filled in). */
function herdInvocations(): string[][] {
  const wf = parse(readFileSync(workflowPath, 'utf8')) as { jobs: Record<string, { steps: { run?: string }[] }> };
  const out: string[][] = [];
  for (const job of Object.values(wf.jobs)) {
    for (const step of job.steps) {
      for (const line of (step.run ?? '').split('\n')) {
        const m = /npx herd (.*)$/.exec(line);
        if (!m) continue;
        const tokens = m[1]!.split(/\s+/).filter(Boolean);
        const stop = tokens.findIndex((t) => ['>', '|', '&&', '2>&1', ';'].includes(t));
        out.push((stop < 0 ? tokens : tokens.slice(0, stop)).map((t) => t.replace(/^["']|["']$/g, '').replace('$HERD_ROOT', '/tmp/herd-root')));
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
});
