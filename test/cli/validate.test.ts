// `herd validate` and `herd explain` through main(argv, io) with captured streams: exit codes, output formats, help;
// plus the real bin/herd.js spawned as a process on the lab.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import { ALL_RULES as RULES } from '../../src/diagnostics/rule-catalog.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const INVALID = 'test/golden/validate/net/duplicate-mac';

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        chunks.push(Buffer.from(chunk));
        cb();
      },
    }),
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

async function herd(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = sink();
  const err = sink();
  const code = await main(argv, { stdin: Readable.from([]), stdout: out.stream, stderr: err.stream, env, cwd: REPO });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('herd validate: exit codes', () => {
  it('exits 0 on the lab, printing its one warning to stderr and the summary to stdout', async () => {
    const r = await herd(['validate', 'clusters/lab']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('clusters/lab/cluster.yaml: valid (2 nodes, 1 images, 2 partitions; 0 errors, 1 warning)\n');
    expect(r.stderr).toContain('clusters/lab/cluster.yaml:28:13: warning image/unpinned-source:');
    expect(r.stderr).not.toContain('\u001b[');
  });

  it('accepts the spec file itself as well as its folder', async () => {
    expect((await herd(['validate', 'clusters/lab/cluster.yaml'])).code).toBe(0);
  });

  it('exits 1 on an invalid spec, with a code frame, the related location and the hint', async () => {
    const r = await herd(['validate', INVALID]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const file = `${INVALID}/cluster.yaml`;
    expect(r.stderr).toContain(`${file}:29:35: error net/duplicate-mac: c2 has MAC 52:54:00:aa:00:01, already used by c1\n  29 |   c2: { profiles: [compute], mac: "52:54:00:AA:00:01", address: 10.0.0.3 }\n     |                                   ^^^^^^^^^^^^^^^^^^^`);
    expect(r.stderr).toContain(`= note: c1 uses it here (${file}:28:35)`);
    expect(r.stderr).toContain('= hint: each node needs its own MAC');
    expect(r.stderr.trimEnd().split('\n').at(-1)).toBe(`${file}: 1 error, 0 warnings`);
  });

  it('exits 3 when there is no spec at the path', async () => {
    const missing = await herd(['validate', 'clusters/nope']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^error cli\/spec-not-found: no spec at clusters\/nope\n {2}= hint: /);
    const folder = await herd(['validate', 'test/cli']);
    expect(folder.code).toBe(3);
    expect(folder.stderr).toContain('test/cli has no cluster.yaml');
  });

  it('exits 3 on an unknown flag or format, with a pointer to --help rather than the whole help', async () => {
    const flag = await herd(['validate', 'clusters/lab', '--bogus']);
    expect(flag.code).toBe(3);
    expect(flag.stderr).toBe('herd validate: unknown option --bogus\n  hint: herd validate --help lists its options\n');
    const format = await herd(['validate', 'clusters/lab', '--format', 'yaml']);
    expect(format.code).toBe(3);
    expect(format.stderr).toContain('--format yaml is not a format herd knows');
    expect(format.stderr).toContain('herd validate writes --format text, json, github');
  });

  it('--warnings-as-errors turns the lab\'s warning into exit 1', async () => {
    const r = await herd(['validate', 'clusters/lab', '--warnings-as-errors']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('0 errors, 1 warning');
  });

  it('--max-diagnostics limits what is shown but not what is counted', async () => {
    const r = await herd(['validate', 'test/golden/validate/node/list-size-mismatch', '--max-diagnostics', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr.match(/: error /g)).toHaveLength(1);
    expect(r.stderr).toMatch(/\(\d+ more not shown\)/);
  });

  it('colours only on request (--color), and never with --no-color', async () => {
    expect((await herd(['validate', INVALID, '--color'])).stderr).toContain('\u001b[31;1merror\u001b[0m');
    expect((await herd(['validate', INVALID, '--no-color'], { TERM: 'xterm' })).stderr).not.toContain('\u001b[');
  });
});

describe('herd validate --format json|github', () => {
  it('json: one document on stdout with formatVersion, command, ok, exitCode and diagnostics', async () => {
    const lab = await herd(['validate', 'clusters/lab', '--format', 'json']);
    expect(lab.code).toBe(0);
    expect(lab.stderr).toBe('');
    const doc = JSON.parse(lab.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ formatVersion: 1, command: 'validate', ok: true, exitCode: 0 });
    expect(doc.diagnostics).toMatchObject([{ rule: 'image/unpinned-source', severity: 'warning', file: 'clusters/lab/cluster.yaml', line: 28, column: 13 }]);
    expect(doc.result).toMatchObject({ spec: 'clusters/lab/cluster.yaml', cluster: 'lab', nodes: 2 });
    expect((doc.result as { specHash: string }).specHash).toMatch(/^[0-9a-f]{64}$/);

    const bad = await herd(['validate', INVALID, '--format', 'json']);
    expect(bad.code).toBe(1);
    const badDoc = JSON.parse(bad.stdout) as { ok: boolean; exitCode: number; diagnostics: { rule: string }[] };
    expect([badDoc.ok, badDoc.exitCode, badDoc.diagnostics.map((d) => d.rule)]).toEqual([false, 1, ['net/duplicate-mac']]);
  });

  it('github: one workflow command per diagnostic, with file, line and column', async () => {
    const bad = await herd(['validate', INVALID, '--format', 'github']);
    expect(bad.code).toBe(1);
    // Workflow-command escaping (actions/toolkit): properties escape ':' and ',', the message only '%', CR and LF.
    expect(bad.stdout).toBe(
      `::error file=${INVALID}/cluster.yaml,line=29,col=35,title=net/duplicate-mac::c2 has MAC 52:54:00:aa:00:01, already used by c1 (hint: each node needs its own MAC: Warewulf would silently boot only one of them)\n`,
    );
    const lab = await herd(['validate', 'clusters/lab', '--format', 'github']);
    expect(lab.stdout).toMatch(/^::warning file=clusters\/lab\/cluster\.yaml,line=28,col=13,title=image\/unpinned-source::/);
  });
});

describe('herd explain and help', () => {
  it('explain prints a rule\'s summary and rationale', async () => {
    const r = await herd(['explain', 'net/duplicate-mac']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`net/duplicate-mac: ${RULES['net/duplicate-mac']!.summary}\n\n${RULES['net/duplicate-mac']!.rationale}\n`);
    expect(r.stdout).toContain('warewulf#1264');
  });

  it('explain documents the spec-input rules (paths outside the spec folder, inputs herd will not read)', async () => {
    for (const id of ['paths/outside-spec-folder', 'paths/unreadable-input']) {
      const r = await herd(['explain', id]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${id}: ${RULES[id]!.summary}\n\n${RULES[id]!.rationale}\n`);
    }
    expect((await herd(['explain', 'paths/outside-spec-folder'])).stdout).toContain('pull-request annotations');
  });

  it('explain suggests the closest rule for a typo and exits 3', async () => {
    const r = await herd(['explain', 'net/duplicate-mca']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('did you mean net/duplicate-mac?');
  });

  it('explain --list lists every catalogued rule, one per line', async () => {
    const r = await herd(['explain', '--list']);
    expect(r.code).toBe(0);
    const ids = r.stdout.trimEnd().split('\n').map((l) => l.split(/\s+/)[0]);
    expect(ids).toEqual(Object.keys(RULES).sort());
  });

  it('--help prints the commands and the exit-code table', async () => {
    const r = await herd(['--help']);
    expect(r.code).toBe(0);
    for (const row of [/^ {2}0 +success/m, /^ {2}1 +finished with error diagnostics/m, /^ {2}2 +changes, drift or pending/m, /^ {2}3 +could not run/m, /^ {2}70 +internal error/m, /^ {2}130 +interrupted/m]) expect(r.stdout).toMatch(row);
    expect(r.stdout).toMatch(/^ {2}validate +check a cluster spec/m);
    expect(r.stdout).toMatch(/^ {2}explain +explain a validation rule/m);
  });

  it('no command prints help and exits 3; an unknown command suggests one', async () => {
    expect((await herd([])).code).toBe(3);
    const r = await herd(['valdate']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('did you mean "validate"?');
  });

  it('validate --help documents its flags and the exit codes', async () => {
    const r = await herd(['validate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--warnings-as-errors');
    expect(r.stdout).toContain('Exit codes (every command):');
  });
});

describe('the real bin/herd.js', () => {
  beforeAll(() => {
    if (existsSync(join(REPO, 'dist/cli/main.js'))) return;
    // The CLI's JS is the esbuild bundle (npm run build); type errors are tsc's concern, not this test's.
    try {
      execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd: REPO, stdio: 'pipe', timeout: 300_000 });
    } catch (e) {
      throw new Error(`node scripts/bundle.mjs produced no dist/cli/main.js:\n${String((e as { stderr?: Buffer }).stderr ?? e)}`);
    }
  }, 300_000);

  const run = (args: string[]) => spawnSync(process.execPath, [join(REPO, 'bin/herd.js'), ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });

  it('validates the lab as a process: exit 0, summary on stdout', () => {
    const r = run(['validate', 'clusters/lab']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('clusters/lab/cluster.yaml: valid (2 nodes, 1 images, 2 partitions; 0 errors, 1 warning)\n');
    expect(r.stderr).toContain('warning image/unpinned-source');
  });

  it('maps findings and usage errors to process exit codes 1 and 3', () => {
    expect(run(['validate', INVALID]).status).toBe(1);
    expect(run(['validate', 'clusters/nope']).status).toBe(3);
  });
});
