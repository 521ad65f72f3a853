// The bundled CLI (dist/, scripts/bundle.mjs) must behave exactly as main() from src/. In the bundle zod is deferred
// (scripts/deferred-zod.mjs) and loaded only when a schema is used: a spec whose shape is wrong, a state file, a saved plan.
// bin/herd.js runs dist/cli/herd-<command>.cjs (or herd.cjs) with V8's code cache (bin/code-cache.js) when it has a cache
// folder, as here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { main } from '../../src/cli/main.ts';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const BIN = join(REPO, 'bin/herd.js');
const run = promisify(execFile);
const CACHE_HOME = mkdtempSync(join(tmpdir(), 'herd-cache-home-'));
const ENV = { ...process.env, NO_COLOR: '1', CI: '', XDG_CACHE_HOME: CACHE_HOME };
const cacheFiles = (home = CACHE_HOME): string[] => (existsSync(join(home, 'herd/code-cache')) ? readdirSync(join(home, 'herd/code-cache')).sort() : []);

function specDirs(): string[] {
  const out: string[] = ['clusters/lab'];
  const walk = (d: string): void => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e === 'cluster.yaml') out.push(relative(REPO, d));
    }
  };
  walk(join(REPO, 'test/golden/validate'));
  return out;
}

async function inProcess(args: string[], cwd = REPO): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => new Writable({ write: (c, _e, cb) => (append(String(c)), cb()) });
  const code = await main(args, { stdin: Readable.from([]), stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env: ENV, cwd });
  return { code, stdout, stderr };
}

async function asProcess(args: string[], cwd = REPO, env: NodeJS.ProcessEnv = ENV): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { cwd, env, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const r = e as { code: number; stdout: string; stderr: string };
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }
}

/** Whether `herd validate <dir>` from dist/ loaded zod (the bundle's dist/zod.cjs) in its process. */
function loadsZod(dir: string): boolean {
  const script = [
    `import { main } from ${JSON.stringify(join(REPO, 'dist/cli/main.js'))};`,
    "import { createRequire } from 'node:module';",
    "import { Writable } from 'node:stream';",
    'const sink = new Writable({ write: (_c, _e, cb) => cb() });',
    `await main(['validate', ${JSON.stringify(dir)}], { stdin: process.stdin, stdout: sink, stderr: sink, env: {}, cwd: ${JSON.stringify(REPO)} });`,
    "console.log(Object.keys(createRequire(import.meta.url).cache).some((f) => f.endsWith('zod.cjs')));",
  ].join('\n');
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8' }).trim() === 'true';
}

describe('the bundle (dist/) against src/', () => {
  beforeAll(() => {
    if (!existsSync(join(REPO, 'dist/cli/main.js'))) execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd: REPO, stdio: 'pipe' });
  }, 300_000);
  afterAll(() => rmSync(CACHE_HOME, { recursive: true, force: true }));

  it('validate prints the same diagnostics and exits the same on the golden fixtures', async () => {
    const all = specDirs();
    expect(all.length).toBeGreaterThan(50);
    // Processes are slow to start on a busy machine: every fixture with a shape error (the zod path), and every fourth other one.
    const cases: { dir: string; mine: Awaited<ReturnType<typeof inProcess>> }[] = [];
    for (const [i, dir] of all.entries()) {
      const mine = await inProcess(['validate', dir]);
      if (/ schema\//.test(mine.stderr) || i % 4 === 0) cases.push({ dir, mine });
    }
    expect(cases.filter((c) => / schema\//.test(c.mine.stderr)).length, 'the fixtures must include shape errors, which take the zod path').toBeGreaterThan(5);
    const mismatches: string[] = [];
    for (let i = 0; i < cases.length; i += 4) {
      await Promise.all(
        cases.slice(i, i + 4).map(async ({ dir, mine }) => {
          const bundled = await asProcess(['validate', dir]);
          if (JSON.stringify(mine) !== JSON.stringify(bundled)) mismatches.push(`${dir}: src exit ${mine.code}, dist exit ${bundled.code}\n--- src\n${mine.stderr}\n--- dist\n${bundled.stderr}`);
        }),
      );
    }
    expect(mismatches).toEqual([]);
  }, 300_000);

  it('apply, then plan (which parses the state file with zod) and a saved plan round trip, as in-process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herd-bundle-'));
    try {
      cpSync(join(REPO, 'clusters/lab'), join(dir, 'lab'), { recursive: true, filter: (p) => !p.includes('/.herd') });
      expect((await asProcess(['apply', 'lab', '--yes'], dir)).code).toBe(0);
      const [bundled, mine] = [await asProcess(['plan', 'lab', '--format', 'json'], dir), await inProcess(['plan', 'lab', '--format', 'json'], dir)];
      expect(bundled).toEqual(mine);
      expect(JSON.parse(bundled.stdout)).toMatchObject({ command: 'plan' });
      // That plan read the state file with zod, which bin/code-cache.js loaded with a code cache of its own: used now.
      expect(cacheFiles().filter((f) => f.startsWith('_zod-'))).toHaveLength(1);
      expect(await asProcess(['plan', 'lab', '--format', 'json'], dir)).toEqual(mine);
      expect((await asProcess(['plan', 'lab', '--out', 'lab.herd'], dir)).code).toBe(0);
      const applied = await asProcess(['apply', 'lab.herd', '--yes'], dir);
      expect(applied.code, applied.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('keeps a code cache per command in the user\'s cache folder, and runs the same from it, without it, and with a bad one', async () => {
    const home = mkdtempSync(join(tmpdir(), 'herd-cache-home-'));
    try {
      const env = { ...ENV, XDG_CACHE_HOME: home };
      // A run that could not run leaves no cache: it would hold little more than the argument parser.
      expect((await asProcess(['validate', '--no-such-option'], REPO, env)).code).toBe(3);
      expect(cacheFiles(home)).toEqual([]);
      const first = await asProcess(['validate', 'clusters/lab'], REPO, env);
      expect(first.code, first.stderr).toBe(0);
      const [file] = cacheFiles(home);
      expect(file).toMatch(/^validate-[0-9a-f]{32}-v[\d.]+-\w+\.v8$/);
      expect(statSync(join(home, 'herd/code-cache', file!)).mode & 0o077).toBe(0);
      expect(await asProcess(['validate', 'clusters/lab'], REPO, env)).toEqual(first);
      expect(await asProcess(['validate', 'clusters/lab'], REPO, { ...env, HERD_CODE_CACHE: '0' })).toEqual(first);
      // V8 refuses a damaged cache; herd then compiles as usual and writes a good one.
      writeFileSync(join(home, 'herd/code-cache', file!), 'not a code cache');
      expect(await asProcess(['validate', 'clusters/lab'], REPO, env)).toEqual(first);
      expect(statSync(join(home, 'herd/code-cache', file!)).size).toBeGreaterThan(1000);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 60_000);

  it('uses no cache folder that others can write', async () => {
    const home = mkdtempSync(join(tmpdir(), 'herd-cache-home-'));
    try {
      mkdirSync(join(home, 'herd/code-cache'), { recursive: true });
      chmodSync(join(home, 'herd/code-cache'), 0o777);
      const r = await asProcess(['validate', 'clusters/lab'], REPO, { ...ENV, XDG_CACHE_HOME: home });
      expect(r.code, r.stderr).toBe(0);
      expect(cacheFiles(home)).toEqual([]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 60_000);

  it('loads zod only for a spec whose shape is wrong', () => {
    expect(loadsZod('clusters/lab')).toBe(false);
    expect(loadsZod('test/golden/validate/schema/unknown-key')).toBe(true);
  }, 60_000);
});
