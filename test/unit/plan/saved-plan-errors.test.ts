// A damaged or edited saved plan is reported as what it is: truncated → state/damaged-plan, edited → state/modified-plan, both exit 3 and never a YAML diagnostic or a stale-target message.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/artifacts/artifact.ts';
import { EXIT } from '../../../src/cli/exit-codes.ts';
import { runHerd, type HerdRun } from '../../fixtures/run-herd.ts';
import { parseSavedPlan } from '../../../src/plan/saved-plan.ts';
import { manifestFileOf } from '../../../src/state/paths.ts';

const herd = (argv: string[], cwd: string): Promise<HerdRun> => runHerd(argv, cwd);

const DAMAGED = 'is not a complete saved plan (truncated or damaged)';
const MODIFIED = 'was modified after herd wrote it';

/** The run refused the file as damaged: the right rule, message, hint and exit code, and nothing that reads like a spec or a stale target. */
function expectDamaged(run: HerdRun, name: string, why: string): void {
  expect(run.code, why).toBe(EXIT.couldNotRun);
  expect(run.stderr, why).toContain(`error state/damaged-plan: ${name} ${DAMAGED}`);
  expect(run.stderr, why).toContain(`hint: make it again with herd plan --out ${name}`);
  expect(run.stderr, why).not.toMatch(/yaml\/|spec\/|stale/);
}

function expectModified(run: HerdRun, name: string, why: string): void {
  expect(run.code, why).toBe(EXIT.couldNotRun);
  expect(run.stderr, why).toContain(`error state/modified-plan: ${name} ${MODIFIED}`);
  expect(run.stderr, why).not.toMatch(/yaml\/|spec\/|stale|files on the target changed/);
}

describe('herd apply of a damaged or edited saved plan (real lab spec, through main)', () => {
  const lab = fileURLToPath(new URL('../../../clusters/lab', import.meta.url));
  let dir: string;
  let root: string;
  /** The bytes herd wrote for `plan lab --out plan.herd`. */
  let good: Buffer;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herd-saved-'));
    cpSync(lab, join(dir, 'lab'), { recursive: true, filter: (src) => !src.includes('/.herd') });
    root = join(dir, 'lab/.herd/lab/root');
    const planned = await herd(['plan', 'lab', '--out', 'plan.herd'], dir);
    expect(planned.code, planned.stderr).toBe(EXIT.ok);
    good = readFileSync(join(dir, 'plan.herd'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('applies the plan exactly as herd wrote it (the checks accept herd’s own output)', async () => {
    const applied = await herd(['apply', 'plan.herd'], dir);
    expect(applied.code, applied.stderr).toBe(EXIT.ok);
    expect(existsSync(manifestFileOf(root))).toBe(true);
  });

  it('reports a plan truncated at any offset as damaged, never as a YAML spec error, and changes nothing', async () => {
    const firstLine = good.indexOf('\n');
    const offsets = [0, 1, 5, 16, firstLine - 1, firstLine, firstLine + 1, firstLine + 2, Math.floor(good.length / 3), Math.floor(good.length / 2), good.length - 40, good.length - 2, good.length - 1];
    for (const at of offsets) {
      writeFileSync(join(dir, 'plan.herd'), good.subarray(0, at));
      expectDamaged(await herd(['apply', 'plan.herd'], dir), 'plan.herd', `truncated at ${at} of ${good.length}`);
      // Without the .herd extension it is still recognised by how it starts (an empty file is then just an empty spec).
      if (at > 0) {
        writeFileSync(join(dir, 'reviewed-plan'), good.subarray(0, at));
        expectDamaged(await herd(['apply', 'reviewed-plan'], dir), 'reviewed-plan', `reviewed-plan truncated at ${at}`);
      }
    }
    expect(existsSync(manifestFileOf(root))).toBe(false);
  });

  it('reports damage in the JSON envelope too', async () => {
    writeFileSync(join(dir, 'plan.herd'), good.subarray(0, Math.floor(good.length / 2)));
    const run = await herd(['apply', 'plan.herd', '--format', 'json'], dir);
    expect(run.code).toBe(EXIT.couldNotRun);
    expect(JSON.parse(run.stdout)).toMatchObject({ exitCode: EXIT.couldNotRun, ok: false, failure: { rule: 'state/damaged-plan', message: `plan.herd ${DAMAGED}` } });
  });

  it('reports one flipped character of an artifact hash as modified, not as the target having changed', async () => {
    const text = good.toString('utf8');
    const at = text.indexOf('"after": "') + '"after": "'.length;
    const flipped = text.slice(0, at) + (text[at] === '0' ? '1' : '0') + text.slice(at + 1);
    writeFileSync(join(dir, 'plan.herd'), flipped);
    const run = await herd(['apply', 'plan.herd'], dir);
    expectModified(run, 'plan.herd', 'flipped hash');
    expect(run.stderr).toContain('hint: make it again with herd plan --out plan.herd');
    const json = await herd(['apply', 'plan.herd', '--format', 'json'], dir);
    expect(JSON.parse(json.stdout)).toMatchObject({ exitCode: EXIT.couldNotRun, failure: { rule: 'state/modified-plan', message: expect.stringContaining(`plan.herd ${MODIFIED}`) } });
    expect(existsSync(manifestFileOf(root))).toBe(false);
  });

  it('reports an edited spec hash as modified, not as the spec having changed', async () => {
    const text = good.toString('utf8');
    const edited = text.replace(/"specHash": "[0-9a-f]{64}"/, `"specHash": "${sha256Hex('another spec')}"`);
    expect(edited).not.toBe(text);
    writeFileSync(join(dir, 'plan.herd'), edited);
    expectModified(await herd(['apply', 'plan.herd'], dir), 'plan.herd', 'edited spec hash');
  });

  it('reports an edited checksum line or appended bytes as modified', async () => {
    const text = good.toString('utf8');
    const sum = text.indexOf('sha256=') + 'sha256='.length;
    writeFileSync(join(dir, 'plan.herd'), text.slice(0, sum) + (text[sum] === 'a' ? 'b' : 'a') + text.slice(sum + 1));
    expectModified(await herd(['apply', 'plan.herd'], dir), 'plan.herd', 'edited checksum');
    writeFileSync(join(dir, 'plan.herd'), text + ' ');
    expectModified(await herd(['apply', 'plan.herd'], dir), 'plan.herd', 'appended space');
  });

  it('still tells a really stale plan apart: the target moved, the plan file did not', async () => {
    expect((await herd(['apply', 'lab', '--yes'], dir)).code).toBe(EXIT.ok);
    const run = await herd(['apply', 'plan.herd'], dir);
    expect(run.code).toBe(EXIT.couldNotRun);
    expect(run.stderr).toContain('state/stale-plan');
    expect(run.stderr).not.toContain('modified-plan');
  });

  it('refuses a saved plan of the old unchecked format as made by an older herd, and a damaged old one as damaged', async () => {
    const body = JSON.parse(good.toString('utf8').slice(good.indexOf('\n') + 1)) as Record<string, unknown>;
    const old = JSON.stringify({ ...body, formatVersion: 1 }, null, 2) + '\n';
    writeFileSync(join(dir, 'old-plan.json'), old);
    const run = await herd(['apply', 'old-plan.json'], dir);
    expect(run.code).toBe(EXIT.couldNotRun);
    expect(run.stderr).toContain('error state/unsupported-version: old-plan.json was made by an older herd');
    expect(run.stderr).toContain('hint: make it again with herd plan --out old-plan.json');
    writeFileSync(join(dir, 'old-plan.json'), old.slice(0, Math.floor(old.length / 2)));
    expectDamaged(await herd(['apply', 'old-plan.json'], dir), 'old-plan.json', 'old format truncated');
    // Version 2 had the checksum but was bound to the spec's bytes: refused as older, with how to make a new one.
    const v2body = JSON.stringify({ ...body, formatVersion: 2 }, null, 2) + '\n';
    writeFileSync(join(dir, 'v2.herd'), `herd-saved-plan formatVersion=2 bytes=${Buffer.byteLength(v2body)} sha256=${sha256Hex(v2body)}\n${v2body}`);
    const v2 = await herd(['apply', 'v2.herd'], dir);
    expect(v2.code).toBe(EXIT.couldNotRun);
    expect(v2.stderr).toContain("error state/unsupported-version: v2.herd was made by an older herd (saved-plan formatVersion 2, bound to the spec's bytes, not to the compiled artifacts and a state snapshot); this herd reads version 3");
    expect(v2.stderr).toContain('hint: make it again with herd plan --out v2.herd');
  });
});

describe('parseSavedPlan on every single-byte edit of a saved plan body', () => {
  it('reports each as modified, never as valid, damaged or a spec', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herd-saved-'));
    try {
      cpSync(fileURLToPath(new URL('../../../clusters/lab', import.meta.url)), join(dir, 'lab'), { recursive: true, filter: (src) => !src.includes('/.herd') });
      expect((await herd(['plan', 'lab', '--out', 'plan.herd'], dir)).code).toBe(EXIT.ok);
      const good = readFileSync(join(dir, 'plan.herd'), 'utf8');
      expect(parseSavedPlan(good, 'plan.herd')).toMatchObject({ ok: true });
      const bodyStart = good.indexOf('\n') + 1;
      for (let i = bodyStart; i < good.length; i++) {
        const c = good[i]!;
        const edited = good.slice(0, i) + (c === 'x' ? 'y' : 'x') + good.slice(i + 1);
        const parsed = parseSavedPlan(edited, 'plan');
        expect(parsed, `byte ${i}`).toMatchObject({ ok: false, failure: { rule: 'state/modified-plan' } });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves a YAML spec to the spec loader', () => {
    expect(parseSavedPlan('name: lab\n', 'cluster.yaml')).toBeUndefined();
    expect(parseSavedPlan('herd: x\n', 'cluster.yaml')).toBeUndefined();
    expect(parseSavedPlan('', 'cluster.yaml')).toBeUndefined();
    expect(parseSavedPlan('name: lab\n', 'plan.herd')).toMatchObject({ ok: false, failure: { rule: 'state/damaged-plan' } });
  });
});
