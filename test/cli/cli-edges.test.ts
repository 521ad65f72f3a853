// Everyday edges of the command line (issue 15): a typo gets a did-you-mean in two lines, not the parser's message and the whole help; Terraform's single-dash long options work; a --format a command does not write is refused.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/artifacts/artifact.ts';
import { makePlanCommand } from '../../src/cli/commands/plan.ts';
import { registerCommand } from '../../src/cli/main.ts';
import type { CompileResult } from '../../src/pipeline.ts';
import { runHerd } from '../fixtures/run-herd.ts';
import { versionSet } from '../unit/state/synthetic-artifacts.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const herd = (argv: string[]) => runHerd(argv, REPO);

describe('typos', () => {
  it('a mistyped option gets the right spelling, in two lines and exit 3', async () => {
    const r = await herd(['validate', 'clusters/lab', '--warnigns-as-errors']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('herd validate: unknown option --warnigns-as-errors\n  hint: did you mean --warnings-as-errors?\n');
    expect(r.stdout).toBe('');
  });

  it('a mistyped option with a value gets the right spelling too', async () => {
    const r = await herd(['validate', 'clusters/lab', '--max-diagnostic=3']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('did you mean --max-diagnostics?');
  });

  it('an unknown short flag is named as written', async () => {
    const r = await herd(['validate', 'clusters/lab', '-q']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^herd validate: unknown option -q\n {2}hint: herd validate --help lists its options\n$/);
  });

  it('a mistyped command gets the closest command, not the whole help', async () => {
    const r = await herd(['valdiate', 'clusters/lab']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('herd: unknown command "valdiate"\n  hint: did you mean "validate"?\n');
    const far = await herd(['frobnicate']);
    expect(far.code).toBe(3);
    expect(far.stderr).toContain('commands: ');
    expect(far.stderr).not.toContain('Exit codes');
  });

  it('a string option without its value says how to give one', async () => {
    const r = await herd(['validate', 'clusters/lab', '--max-diagnostics']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('herd validate: option --max-diagnostics');
    expect(r.stderr).toContain('hint: write --max-diagnostics VALUE');
  });

  it('a switch given a value is told it is a switch', async () => {
    const r = await herd(['validate', 'clusters/lab', '--warnings-as-errors=yes']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('--warnings-as-errors is a switch');
  });
});

describe('--format', () => {
  it('refuses a format the command does not write (exit 3), naming the ones it does', async () => {
    const r = await herd(['validate', 'clusters/lab', '--format', 'markdown']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('herd validate: --format markdown is not one this command writes\n  hint: herd validate writes --format text, json, github\n');
    expect(r.stdout).toBe('');
  });

  it('refuses github for explain, and suggests for a misspelt format', async () => {
    const r = await herd(['explain', 'net/duplicate-mac', '--format', 'github']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('herd explain writes --format text, json');
    const typo = await herd(['explain', 'net/duplicate-mac', '--format', 'jsno']);
    expect(typo.code).toBe(3);
    expect(typo.stderr).toContain('did you mean --format json?');
  });

  it('still accepts every format a command writes', async () => {
    expect((await herd(['validate', 'clusters/lab', '--format', 'github'])).code).toBe(0);
    expect((await herd(['explain', 'net/duplicate-mac', '--format', 'json'])).code).toBe(0);
  });
});

describe("Terraform's single-dash long options", () => {
  it('-warnings-as-errors and -no-color read as their double-dash twins', async () => {
    const single = await herd(['validate', 'clusters/lab', '-warnings-as-errors', '-no-color']);
    const double = await herd(['validate', 'clusters/lab', '--warnings-as-errors', '--no-color']);
    expect(single.code).toBe(double.code);
    expect(single.stderr).toBe(double.stderr);
    expect(single.code).toBe(1);
  });

  it('-format=json works with the value joined by =', async () => {
    const r = await herd(['validate', 'clusters/lab', '-format=json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ command: 'validate' });
  });

  it('a single-dash misspelling is answered with the double-dash spelling', async () => {
    const r = await herd(['validate', 'clusters/lab', '-warnings-as-error']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('unknown option -warnings-as-error');
    expect(r.stderr).toContain('did you mean --warnings-as-errors?');
  });

  it('leaves -h and everything after -- alone', async () => {
    expect((await herd(['validate', '-h'])).code).toBe(0);
    const r = await herd(['validate', '--', '-no-color']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('-no-color');
  });

  describe('herd plan -detailed-exitcode -out=FILE, as a Terraform user types it', () => {
    let dir: string;
    const compile = async (): Promise<CompileResult> => ({
      specFile: join(dir, 'cluster.yaml'),
      specDir: dir,
      displayPath: 'cluster.yaml',
      clusterName: 'synth',
      specHash: sha256Hex('spec'),
      sources: new Map<string, string>(),
      diagnostics: [],
      artifacts: versionSet('A'),
    });
    beforeAll(() => registerCommand('plan', 'plan (synthetic)', async () => makePlanCommand({ compile, herdVersion: '9.9.9' })));
    afterAll(() => registerCommand('plan', 'plan', async () => (await import('../../src/cli/commands/plan.ts')).command));
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'herd-cli-edges-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('exits 2 for pending changes and saves the plan', async () => {
      const r = await runHerd(['plan', '.', '-root', join(dir, 'root'), '-detailed-exitcode', '-out=saved.json', '-no-color'], dir);
      expect(r.stderr).not.toContain('unknown option');
      expect(r.code).toBe(2);
      expect(existsSync(join(dir, 'saved.json'))).toBe(true);
    });
  });
});
