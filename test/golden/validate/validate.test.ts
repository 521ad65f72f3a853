// Golden tests for `herd validate`: one fixture folder per rule id. Each first asserts an independently chosen location
// (expect.json, written by reading the fixture), then compares the rendered output with expected.txt / expected.json.
// Goldens are rewritten only with UPDATE_GOLDEN=1 outside CI; otherwise a missing or different golden fails.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { RULES } from '../../../src/diagnostics/rule-catalog.ts';
import type { Diagnostic } from '../../../src/diagnostics/diagnostic.ts';
import { loadSpecFromDisk } from '../../../src/spec/load-from-disk.ts';
import { main } from '../../../src/cli/main.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../../..');
const IN_CI = Boolean(process.env.CI) && !['false', '0'].includes(process.env.CI!);
const UPDATE = process.env.UPDATE_GOLDEN === '1' && !IN_CI;

/** Valid fixtures whose spec lives elsewhere in the repo (the folder here holds only the goldens). */
const EXTERNAL_SPECS: Record<string, string> = { 'valid-lab': 'clusters/lab' };

/** Fixtures whose located expectation fails because of a bug in src/; it.fails keeps the suite green until it is fixed. */
const LOCATION_BUGS: Record<string, string> = {};

/** Fixtures whose one mistake drags in follow-on errors that are not true of the spec. */
const CASCADE_BUGS: Record<string, string> = {};

interface Expectation {
  readonly rule: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly severity?: 'error' | 'warning' | 'info';
}

interface Fixture {
  readonly kind: 'rule' | 'valid';
  /** Folder relative to this file, e.g. net/duplicate-mac or valid-rich. */
  readonly rel: string;
  readonly dir: string;
  readonly specDir: string;
  /** The rule named by the folder (rule fixtures only): `<group>/<name>`, with any `.variant` suffix removed. */
  readonly rule?: string;
  readonly expectations: readonly Expectation[];
}

const isDir = (p: string): boolean => statSync(p).isDirectory();

function readExpectations(dir: string): Expectation[] {
  const p = join(dir, 'expect.json');
  if (!existsSync(p)) return [];
  const raw = JSON.parse(readFileSync(p, 'utf8')) as Expectation | Expectation[];
  return Array.isArray(raw) ? raw : [raw];
}

function discover(): { fixtures: Fixture[]; strays: string[] } {
  const fixtures: Fixture[] = [];
  const strays: string[] = [];
  for (const top of readdirSync(HERE).sort()) {
    const topDir = join(HERE, top);
    if (!isDir(topDir)) continue;
    if (top.startsWith('valid-')) {
      const specDir = EXTERNAL_SPECS[top] ? join(REPO, EXTERNAL_SPECS[top]) : topDir;
      fixtures.push({ kind: 'valid', rel: top, dir: topDir, specDir, expectations: readExpectations(topDir) });
      continue;
    }
    for (const name of readdirSync(topDir).sort()) {
      const dir = join(topDir, name);
      if (!isDir(dir)) {
        strays.push(`${top}/${name}`);
        continue;
      }
      fixtures.push({ kind: 'rule', rel: `${top}/${name}`, dir, specDir: dir, rule: `${top}/${name.split('.')[0]}`, expectations: readExpectations(dir) });
    }
  }
  return { fixtures, strays };
}

const { fixtures, strays } = discover();
const ruleFixtures = fixtures.filter((f) => f.kind === 'rule');
const validFixtures = fixtures.filter((f) => f.kind === 'valid');

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** Run `herd validate .` in-process from the spec's folder, exactly as a user would, without colour. */
async function runValidate(cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = sink();
  const err = sink();
  const code = await main(['validate', '.', '--no-color'], { stdin: Readable.from([]), stdout: out.stream, stderr: err.stream, env: {}, cwd });
  return { code, stdout: out.text(), stderr: err.text() };
}

function compareGolden(path: string, actual: string): void {
  const name = path.slice(HERE.length + 1);
  if (UPDATE) {
    if (!existsSync(path) || readFileSync(path, 'utf8') !== actual) writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) throw new Error(`golden ${name} is missing; create it with UPDATE_GOLDEN=1 npx vitest run test/golden and review the diff`);
  expect(actual, `${name} differs; if the change is intended, run UPDATE_GOLDEN=1 npx vitest run test/golden and review the diff`).toBe(readFileSync(path, 'utf8'));
}

const fmt = (d: Diagnostic): string => `${d.severity} ${d.rule} ${d.file ?? '-'}:${d.line ?? '-'}:${d.column ?? '-'} ${d.message}`;
const matches = (d: Diagnostic, e: Expectation): boolean =>
  d.rule === e.rule && (d.file ?? '') === e.file && d.line === e.line && d.column === e.column && (e.severity === undefined || d.severity === e.severity);

describe('the fixture set', () => {
  it('has a fixture folder for every catalogued rule', () => {
    const covered = new Set(ruleFixtures.map((f) => f.rule));
    const missing = Object.keys(RULES).filter((r) => !covered.has(r));
    expect(missing, 'rules without a fixture folder under test/golden/validate/<group>/<name>/').toEqual([]);
  });

  it('names only catalogued rules, in folders and in expect.json', () => {
    const unknown = ruleFixtures.filter((f) => !RULES[f.rule!]).map((f) => f.rel);
    const unknownExpected = fixtures.flatMap((f) => f.expectations.filter((e) => !RULES[e.rule]).map((e) => `${f.rel}: ${e.rule}`));
    expect(unknown).toEqual([]);
    expect(unknownExpected).toEqual([]);
    expect(strays, 'only folders belong under a rule group').toEqual([]);
  });

  it('gives every rule fixture a spec and an expectation for its own rule', () => {
    for (const f of ruleFixtures) {
      expect(existsSync(join(f.dir, 'cluster.yaml')), `${f.rel}/cluster.yaml`).toBe(true);
      expect(f.expectations.some((e) => e.rule === f.rule), `${f.rel}/expect.json must expect ${f.rule}`).toBe(true);
    }
  });

  it('has valid fixtures: the lab and a richer one', () => {
    expect(validFixtures.map((f) => f.rel)).toEqual(expect.arrayContaining(['valid-lab', 'valid-rich']));
  });

  it('only lists known bugs for fixtures that exist', () => {
    const rels = new Set(fixtures.map((f) => f.rel));
    expect([...Object.keys(LOCATION_BUGS), ...Object.keys(CASCADE_BUGS)].filter((r) => !rels.has(r))).toEqual([]);
  });
});

for (const f of ruleFixtures) {
  describe(f.rel, () => {
    const load = () => loadSpecFromDisk('.', f.specDir);
    const own = f.expectations.filter((e) => e.rule === f.rule);

    (LOCATION_BUGS[f.rel] ? it.fails : it)(`reports ${own.map((e) => `${e.rule} at ${e.file}:${e.line}:${e.column}`).join(' and ')}`, () => {
      const { diagnostics } = load();
      for (const e of f.expectations) {
        expect(diagnostics.some((d) => matches(d, e)), `expected ${e.rule} at ${e.file}:${e.line}:${e.column}; got:\n${diagnostics.map(fmt).join('\n')}`).toBe(true);
      }
    });

    (CASCADE_BUGS[f.rel] ? it.fails : it)('reports no rule besides the expected ones (no follow-on errors)', () => {
      const { diagnostics } = load();
      const expected = new Set(f.expectations.map((e) => e.rule));
      expect(diagnostics.filter((d) => !expected.has(d.rule)).map(fmt)).toEqual([]);
    });

    it('uses catalogued rules, severities and positions in every diagnostic', () => {
      for (const d of load().diagnostics) {
        expect(RULES[d.rule], d.rule).toBeDefined();
        expect(['error', 'warning', 'info']).toContain(d.severity);
        if (d.file) expect(d.line ?? 0, fmt(d)).toBeGreaterThanOrEqual(1);
      }
    });

    it('matches expected.txt and expected.json', async () => {
      const { diagnostics } = load();
      const run = await runValidate(f.specDir);
      expect(run.code).toBe(diagnostics.some((d) => d.severity === 'error') ? 1 : 0);
      compareGolden(join(f.dir, 'expected.txt'), run.stderr);
      compareGolden(join(f.dir, 'expected.json'), JSON.stringify(diagnostics, null, 2) + '\n');
    });
  });
}

for (const f of validFixtures) {
  describe(f.rel, () => {
    it('produces no error, and exactly the expected warnings', () => {
      const r = loadSpecFromDisk('.', f.specDir);
      expect(r.diagnostics.filter((d) => d.severity === 'error').map(fmt)).toEqual([]);
      expect(r.diagnostics.length, r.diagnostics.map(fmt).join('\n')).toBe(f.expectations.length);
      for (const e of f.expectations) expect(r.diagnostics.some((d) => matches(d, e)), `${e.rule} at ${e.line}:${e.column}`).toBe(true);
      expect(r.model).toBeDefined();
    });

    it('matches expected.txt and expected.json, and validate exits 0', async () => {
      const run = await runValidate(f.specDir);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^cluster\.yaml: valid \(/);
      compareGolden(join(f.dir, 'expected.txt'), run.stderr);
      compareGolden(join(f.dir, 'expected.json'), JSON.stringify(loadSpecFromDisk('.', f.specDir).diagnostics, null, 2) + '\n');
    });
  });
}
