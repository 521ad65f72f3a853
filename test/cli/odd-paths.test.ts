// --root and --out pointing somewhere odd (issue 15): a file, a path through a file, a kernel filesystem (herd spun at 100% CPU on
// apply --root /proc/x), a read-only place. Each fails at once, before anything is compiled, exit 3, with a message naming the place.
// What build-out.test.ts already covers (a file, /dev/null, the spec folder, HOME, symlinks...) is not repeated here.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/artifacts/artifact.ts';
import { makeApplyCommand } from '../../src/cli/commands/apply.ts';
import { makeBuildCommand } from '../../src/cli/commands/build.ts';
import { makePlanCommand } from '../../src/cli/commands/plan.ts';
import { registerCommand } from '../../src/cli/main.ts';
import type { CompileResult } from '../../src/pipeline.ts';
import { runHerd } from '../fixtures/run-herd.ts';
import { versionSet } from '../unit/state/synthetic-artifacts.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

let dir: string;
let compiled = 0;
const compile = async (): Promise<CompileResult> => {
  compiled++;
  return { specFile: join(dir, 'cluster.yaml'), specDir: dir, displayPath: 'cluster.yaml', clusterName: 'synth', specHash: sha256Hex('spec'), sources: new Map<string, string>(), diagnostics: [], artifacts: versionSet('A') };
};

beforeAll(() => {
  registerCommand('plan', 'plan (synthetic)', async () => makePlanCommand({ compile, herdVersion: '9.9.9' }));
  registerCommand('apply', 'apply (synthetic)', async () => makeApplyCommand({ compile, herdVersion: '9.9.9' }));
  registerCommand('build', 'build (synthetic)', async () => makeBuildCommand({ compile }));
});
afterAll(() => {
  registerCommand('plan', 'plan', async () => (await import('../../src/cli/commands/plan.ts')).command);
  registerCommand('apply', 'apply', async () => (await import('../../src/cli/commands/apply.ts')).command);
  registerCommand('build', 'build', async () => (await import('../../src/cli/commands/build.ts')).command);
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'herd-odd-paths-'));
  writeFileSync(join(dir, 'cluster.yaml'), '# stands in for a spec; the synthetic compiler does not read it\n');
  writeFileSync(join(dir, 'afile'), 'not a folder\n');
  compiled = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs herd: a refusal comes before compiling anything (the /proc case used to spin forever, which fails by the test's timeout). */
async function refused(argv: string[]): Promise<{ stderr: string }> {
  const r = await runHerd(argv, dir);
  expect(r.code, r.stderr).toBe(3);
  expect(compiled, 'refused before compiling').toBe(0);
  expect(r.stderr).toContain('hint:');
  return r;
}

describe('--root somewhere odd', () => {
  const cases = [
    { name: 'a file', root: () => join(dir, 'afile'), says: 'is not a directory' },
    { name: 'a path through a file', root: () => join(dir, 'afile/sub'), says: 'is not a directory (a file is in its path)' },
    { name: 'a missing path under /proc', root: () => '/proc/herd-not-there', says: 'is on a kernel filesystem' },
    { name: 'a missing path under /sys', root: () => '/sys/herd/not-there', says: 'is on a kernel filesystem' },
    { name: '/proc/self', root: () => '/proc/self', says: 'is on a kernel filesystem' },
    { name: '/dev/null', root: () => '/dev/null', says: 'is on a kernel filesystem' },
  ];
  for (const command of ['plan', 'apply']) {
    for (const c of cases) {
      it(`${command} refuses ${c.name} at once`, async () => {
        const r = await refused([command, '.', '--root', c.root(), '--yes'].filter((a) => command === 'apply' || a !== '--yes'));
        expect(r.stderr).toContain('state/bad-root');
        expect(r.stderr).toContain(c.says);
      }, 10_000);
    }
  }

  it('creates nothing under /proc, and plan of a missing ordinary root still works', async () => {
    expect(existsSync('/proc/herd-not-there')).toBe(false);
    const r = await runHerd(['plan', '.', '--root', join(dir, 'fresh')], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(compiled).toBe(1);
  });
});

describe('plan --out somewhere odd', () => {
  const cases = [
    { name: 'a folder', out: () => dir, says: 'exists and is not a regular file' },
    { name: 'a file in a missing folder', out: () => join(dir, 'missing/plan.herd'), says: 'does not exist' },
    { name: 'a file below a file', out: () => join(dir, 'afile/plan.herd'), says: 'cannot write the saved plan' },
    { name: 'a file under /proc', out: () => '/proc/herd-not-there/plan.herd', says: 'is on a kernel filesystem' },
    { name: '/dev/null', out: () => '/dev/null', says: 'is on a kernel filesystem' },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} at once`, async () => {
      const r = await refused(['plan', '.', '--root', join(dir, 'root'), '--out', c.out()]);
      expect(r.stderr).toContain('cli/out-unsafe');
      expect(r.stderr).toContain(c.says);
    });
  }
});

describe('build --out somewhere odd', () => {
  const cases = [
    { name: 'a path through a file', out: () => join(dir, 'afile/sub'), says: 'is in the way, it is a file' },
    { name: 'a missing path under /proc', out: () => '/proc/herd-not-there', says: 'is on a kernel filesystem' },
    { name: 'a missing path under /sys', out: () => '/sys/herd/not-there', says: 'is on a kernel filesystem' },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} at once`, async () => {
      const r = await refused(['build', '.', '--out', c.out()]);
      expect(r.stderr).toContain('build/out-unsafe');
      expect(r.stderr).toContain(c.says);
    });
  }

  it.skipIf(process.getuid?.() === 0)('refuses a folder it may not write in (not root)', async () => {
    mkdirSync(join(dir, 'locked'), { mode: 0o555 });
    const r = await refused(['build', '.', '--out', join(dir, 'locked/out')]);
    expect(r.stderr).toContain('is not writable by you');
  });
});

/** True when this machine lets an unprivileged user namespace mount a tmpfs (how the read-only cases get a read-only place). */
function canMountReadOnly(): boolean {
  try {
    execFileSync('unshare', ['-rm', 'sh', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o ro tmpfs "$d"'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!canMountReadOnly())('a read-only place (a read-only tmpfs in a user namespace, the real bin/herd.js)', () => {
  beforeAll(() => {
    if (!existsSync(join(REPO, 'dist/cli/main.js'))) execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd: REPO, stdio: 'pipe', timeout: 300_000 });
  }, 300_000);

  /** `herd <args>` with `$RO` replaced by a read-only mount point. */
  const inReadOnly = (args: string[]) => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    const script = `mount -t tmpfs -o ro tmpfs "$1" && shift && exec "$@"`;
    return spawnSync('unshare', ['-rm', 'sh', '-c', script, 'sh', ro, process.execPath, join(REPO, 'bin/herd.js'), ...args.map((a) => a.replaceAll('$RO', ro))], { cwd: REPO, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  };

  it('build --out refuses it at once', () => {
    const r = inReadOnly(['build', 'clusters/lab', '--out', '$RO/out']);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain('is on a read-only filesystem');
  });

  it('apply --root refuses it at once', () => {
    const r = inReadOnly(['apply', 'clusters/lab', '--root', '$RO/root', '--yes']);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain('state/unwritable');
    expect(r.stderr).toContain('is on a read-only filesystem');
  });

  it('plan --out refuses it at once', () => {
    const r = inReadOnly(['plan', 'clusters/lab', '--root', join(dir, 'root'), '--out', '$RO/plan.herd']);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain('is on a read-only filesystem');
  });
});
