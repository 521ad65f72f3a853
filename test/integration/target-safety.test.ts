// The target root is a boundary: plan and apply never follow a symlink out of it, never trust paths read from its state,
// never change a file swapped for a symlink mid-apply, and say exactly what a failed apply changed. Every case hashes the
// tree outside the root before and after.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeApplyCommand } from '../../src/cli/commands/apply.ts';
import { registerCommand } from '../../src/cli/main.ts';
import { runHerd } from '../fixtures/run-herd.ts';
import { manifestFileOf, pendingFileOf } from '../../src/state/paths.ts';
import { sha256Hex, type ArtifactSet } from '../../src/artifacts/artifact.ts';
import { treeChanges, treeHash } from '../fixtures/tree-hash.ts';
import { fakeCompile, versionSet } from '../unit/state/synthetic-artifacts.ts';
import { applyTo, herdFailureOf, planOf } from '../unit/state/target-helpers.ts';

const isRoot = process.getuid?.() === 0;
let scratch: string;
let root: string;
let outside: string;
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'herd-target-safety-'));
  root = join(scratch, 'root');
  outside = join(scratch, 'outside');
  mkdirSync(root);
  mkdirSync(join(outside, 'slurm'), { recursive: true });
  writeFileSync(join(outside, 'hosts'), 'outside hosts\n');
  writeFileSync(join(outside, 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  chmodSync(join(outside, 'passwd'), 0o644);
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

const outsideNow = () => treeHash(outside);

describe('symlinked parents inside the target root', () => {
  // [parent under the root, how deep the artifacts sit below it]
  const parents = ['etc', 'etc/slurm', 'etc/warewulf', 'etc/munge'];
  for (const parent of parents) {
    for (const kind of ['absolute', 'relative'] as const) {
      it(`${parent} as a ${kind} symlink out of the root: plan names it as drift, apply refuses, nothing outside changes`, async () => {
        mkdirSync(join(root, parent, '..'), { recursive: true });
        const depth = parent.split('/').length; // root/parent -> ../ * depth reaches scratch
        symlinkSync(kind === 'absolute' ? outside : `${'../'.repeat(depth)}outside`, join(root, parent));
        const before = outsideNow();
        const plan = (await planOf(root, versionSet('A'))).plan;
        const blocked = plan.actions.filter((a) => a.drift?.kind === 'not-a-file');
        expect(blocked.length).toBeGreaterThan(0);
        for (const a of blocked) {
          expect(a.path.startsWith(parent + '/')).toBe(true);
          expect(a.drift?.detail).toContain(`${join(root, parent)} is a symlink to`);
          expect(a.drift?.detail).toContain('leaves the target root');
        }
        const f = await herdFailureOf(applyTo(root, versionSet('A')));
        expect(f.rule).toBe('state/not-a-file');
        expect(f.message).toContain(parent);
        expect(treeChanges(before, outsideNow())).toEqual([]);
      });
    }
  }

  for (const parent of ['var', 'var/lib', 'var/lib/herd']) {
    it(`${parent} (herd's state, lock and journal) as a symlink out of the root: refused before anything is written`, async () => {
      mkdirSync(join(root, parent, '..'), { recursive: true });
      symlinkSync(outside, join(root, parent));
      const before = outsideNow();
      const f = await herdFailureOf(applyTo(root, versionSet('A')));
      expect(f.rule).toBe('state/unsafe-path');
      expect(f.message).toContain(`${join(root, parent)} is a symlink to ${outside}`);
      expect(treeChanges(before, outsideNow())).toEqual([]);
      expect(existsSync(join(root, 'etc/hosts'))).toBe(false);
    });
  }

  it('follows a symlink that stays inside the root (an admin moving /srv to a bigger disk inside it)', async () => {
    mkdirSync(join(root, 'data/etc'), { recursive: true });
    symlinkSync(join(root, 'data/etc'), join(root, 'etc'));
    const r = await applyTo(root, versionSet('A'));
    expect(r.applied).toBe(true);
    expect(readFileSync(join(root, 'data/etc/hosts'), 'utf8')).toContain('head');
    expect((await planOf(root, versionSet('A'))).plan.actions.every((a) => a.action === 'no-op')).toBe(true);
  });

  it('a symlink at the file itself is not-a-file drift and stays as it is', async () => {
    mkdirSync(join(root, 'etc'));
    symlinkSync(join(outside, 'hosts'), join(root, 'etc/hosts'));
    const before = outsideNow();
    const f = await herdFailureOf(applyTo(root, versionSet('A')));
    expect(f.rule).toBe('state/not-a-file');
    expect(f.message).toContain('etc/hosts');
    expect(lstatSync(join(root, 'etc/hosts')).isSymbolicLink()).toBe(true);
    expect(treeChanges(before, outsideNow())).toEqual([]);
  });
});

describe('state read from the target is never trusted', () => {
  const tamper = (file: string, edit: (doc: Record<string, unknown>) => void) => {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    edit(doc);
    writeFileSync(file, JSON.stringify(doc));
  };

  for (const bad of ['../outside/hosts', '/etc/passwd', 'etc/../../outside/hosts', 'var/lib/herd/state.json', 'etc//hosts']) {
    it(`a manifest entry with path ${JSON.stringify(bad)} is refused with a clear message; nothing is deleted`, async () => {
      await applyTo(root, versionSet('A'));
      tamper(manifestFileOf(root), (doc) => {
        const entries = doc.entries as { path: string }[];
        entries.push({ ...entries[0]!, path: bad });
      });
      const before = outsideNow();
      const inside = treeHash(root);
      const f = await herdFailureOf(planOf(root, versionSet('B')));
      expect(f.rule).toBe('state/unreadable');
      expect(f.message).toContain(JSON.stringify(bad));
      expect(f.message).toContain('state.json');
      expect((await herdFailureOf(applyTo(root, versionSet('B')))).rule).toBe('state/unreadable');
      expect(treeChanges(before, outsideNow())).toEqual([]);
      expect(treeChanges(inside, treeHash(root)).filter((p) => !p.startsWith('var/lib/herd'))).toEqual([]);
    });
  }

  it('a pending journal path with .. is refused; the file it names is not deleted', async () => {
    await applyTo(root, versionSet('A'));
    writeFileSync(pendingFileOf(root), JSON.stringify({ formatVersion: 1, kind: 'herd-pending', pid: 1, host: 'h', command: 'x', since: 'then', paths: { '../../outside/hosts': [sha256Hex('x')] } }));
    const before = outsideNow();
    const f = await herdFailureOf(applyTo(root, versionSet('A')));
    expect(f.rule).toBe('state/unreadable');
    expect(f.message).toContain('../../outside/hosts');
    expect(treeChanges(before, outsideNow())).toEqual([]);
  });

  it('a state file swapped for a symlink out of the root is refused, not read', async () => {
    await applyTo(root, versionSet('A'));
    rmSync(manifestFileOf(root));
    symlinkSync(join(outside, 'passwd'), manifestFileOf(root));
    const f = await herdFailureOf(planOf(root, versionSet('A')));
    expect(f.rule).toBe('state/unsafe-path');
    expect(f.message).not.toContain('root:x:0:0');
  });
});

describe('races, driven deterministically between plan and apply', () => {
  const applyWith = (set: ArtifactSet, between: () => void) => applyTo(root, set, { between });

  it('a file swapped for a symlink before a mode-only update: the symlink target keeps its mode', async () => {
    await applyTo(root, versionSet('A'));
    const before = outsideNow();
    const f = await herdFailureOf(
      applyWith(versionSet('B'), () => {
        rmSync(join(root, 'etc/mode.conf'));
        symlinkSync(join(outside, 'passwd'), join(root, 'etc/mode.conf'));
      }),
    );
    // mode.conf is the first change committed, so nothing else was changed before herd refused it.
    expect(f.rule).toBe('state/apply-failed');
    expect(f.message).toContain(`${join(root, 'etc/mode.conf')} is not a regular file`);
    expect(statSync(join(outside, 'passwd')).mode & 0o777).toBe(0o644);
    expect(treeChanges(before, outsideNow())).toEqual([]);
    expect(lstatSync(join(root, 'etc/mode.conf')).isSymbolicLink()).toBe(true);
  });

  it('a parent directory swapped for a symlink out of the root before staging: nothing is written anywhere', async () => {
    await applyTo(root, versionSet('A'));
    const before = outsideNow();
    const f = await herdFailureOf(
      applyWith(versionSet('B'), () => {
        renameSync(join(root, 'etc/slurm'), join(root, 'etc/slurm.moved'));
        symlinkSync(join(outside, 'slurm'), join(root, 'etc/slurm'));
      }),
    );
    expect(f.rule).toBe('state/apply-failed');
    expect(f.message).toContain('nothing on the target was changed');
    expect(f.message).toContain(`${join(root, 'etc/slurm')} is a symlink to ${join(outside, 'slurm')}`);
    expect(treeChanges(before, outsideNow())).toEqual([]);
  });

  it("a symlink planted at herd's temp file name is replaced, never written through", async () => {
    mkdirSync(join(root, 'etc'), { recursive: true });
    symlinkSync(join(outside, 'hosts'), join(root, 'etc/.hosts.herd-tmp'));
    const before = outsideNow();
    await applyTo(root, versionSet('A'));
    expect(treeChanges(before, outsideNow())).toEqual([]);
    expect(readFileSync(join(root, 'etc/hosts'), 'utf8')).toContain('head');
    expect(existsSync(join(root, 'etc/.hosts.herd-tmp'))).toBe(false);
  });
});

describe('target roots herd refuses', () => {
  const lab = fileURLToPath(new URL('../../clusters/lab', import.meta.url));
  let spec: string;
  beforeEach(() => {
    spec = join(scratch, 'lab');
    cpSync(lab, spec, { recursive: true, filter: (src) => !src.includes('/.herd') });
  });

  const herd = (argv: string[]) => runHerd(argv, scratch);

  for (const [name, rootArg, words] of [
    ['/proc/self', '/proc/self', 'kernel filesystem'],
    ['/sys', '/sys', 'kernel filesystem'],
    ['/dev', '/dev', 'kernel filesystem'],
    ['a regular file', 'FILE', 'not a directory'],
    ['a path through a file', 'FILE/sub', 'not a directory'],
    ['/dev/null', '/dev/null', 'kernel filesystem'],
  ] as const) {
    it(`--root ${name}: plan and apply exit 3 with a clear message, nothing changes`, async () => {
      writeFileSync(join(scratch, 'FILE'), 'keep\n');
      const arg = rootArg.startsWith('FILE') ? join(scratch, rootArg) : rootArg;
      const before = treeHash(scratch, { skip: (rel) => rel === 'lab/.herd' });
      for (const cmd of [['plan', spec, '--root', arg], ['apply', spec, '--root', arg, '--yes']]) {
        const r = await herd(cmd);
        expect(r.code, r.stderr).toBe(3);
        expect(r.stderr).toContain(words);
        expect(r.stderr).not.toMatch(/bug in herd|at .*\.ts:\d+/);
      }
      expect(treeChanges(before, treeHash(scratch, { skip: (rel) => rel === 'lab/.herd' }))).toEqual([]);
    });
  }

  for (const [link, target] of [
    ['.herd', 'outside'],
    ['.herd/lab', 'outside'],
    ['.herd/lab/root', 'outside'],
    ['.herd/lab/root', '/'],
  ] as const) {
    it(`a committed ${link} -> ${target} in the spec folder: the default root is refused (exit 3), nothing outside is written`, async () => {
      mkdirSync(join(spec, link, '..'), { recursive: true });
      symlinkSync(target === '/' ? '/' : outside, join(spec, link));
      const before = outsideNow();
      for (const cmd of [['plan', spec], ['apply', spec, '--yes']]) {
        const r = await herd(cmd);
        expect(r.code, r.stderr).toBe(3);
        expect(r.stderr).toContain('state/unsafe-path');
        expect(r.stderr).toContain(`${join(spec, link)} is a symlink to`);
      }
      expect(treeChanges(before, outsideNow())).toEqual([]);
    });
  }

  it('plan --out never replaces a file that is not a saved plan, nor writes through a symlink', async () => {
    const specBytes = readFileSync(join(spec, 'cluster.yaml'));
    const r1 = await herd(['plan', spec, '--out', join(spec, 'cluster.yaml')]);
    expect(r1.code, r1.stderr).toBe(3);
    expect(r1.stderr).toContain('not a saved plan herd wrote');
    expect(readFileSync(join(spec, 'cluster.yaml'))).toEqual(specBytes);
    symlinkSync(join(outside, 'hosts'), join(scratch, 'plan-link.herd'));
    const before = outsideNow();
    const r2 = await herd(['plan', spec, '--out', join(scratch, 'plan-link.herd')]);
    expect(r2.code, r2.stderr).toBe(3);
    expect(r2.stderr).toContain('not a regular file');
    expect(treeChanges(before, outsideNow())).toEqual([]);
    const r3 = await herd(['plan', spec, '--out', join(scratch, 'p.herd')]);
    expect(r3.code, r3.stderr).toBe(0);
    const r4 = await herd(['plan', spec, '--out', join(scratch, 'p.herd')]);
    expect(r4.code, r4.stderr).toBe(0);
  });

  it('--root given as a symlink to a folder is the user\'s own path: followed once', async () => {
    mkdirSync(join(scratch, 'real-root'));
    symlinkSync(join(scratch, 'real-root'), join(scratch, 'link-root'));
    const r = await herd(['apply', spec, '--root', join(scratch, 'link-root'), '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(scratch, 'real-root/etc/slurm/slurm.conf'))).toBe(true);
  });
});

/** Changes to files (a directory herd created and left empty is not a change of content). */
const fileChanges = (before: Map<string, string>, after: Map<string, string>) => treeChanges(before, after).filter((p) => !(before.get(p) === undefined && after.get(p)?.startsWith('dir ')));

describe.skipIf(!isRoot)('a full disk (a real tmpfs)', () => {
  let mnt: string;
  beforeAll(() => {
    mnt = mkdtempSync(join(tmpdir(), 'herd-tmpfs-'));
  });
  afterAll(() => {
    try {
      execFileSync('umount', [mnt]);
    } finally {
      rmSync(mnt, { recursive: true, force: true });
    }
  });
  let mounted = false;
  const mount = (size: string) => {
    // umount fails (EBUSY) if herd leaked a descriptor into the last one: a leak fails the test here.
    if (mounted) execFileSync('umount', [mnt]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]);
    mounted = true;
  };
  /** Fill the file system to the last byte: ever smaller appends until even one byte does not fit. */
  const fill = (file: string) => {
    for (const size of [1 << 20, 64 * 1024, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size);
      try {
        for (;;) writeFileSync(file, chunk, { flag: 'a' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    }
  };
  const cliApply = (target: string, env: Record<string, string> = {}) => runHerd(['apply', scratch, '--root', target, '--yes'], scratch, { env });
  beforeAll(() => {
    registerCommand('apply', 'apply (synthetic)', async () => makeApplyCommand({ compile: fakeCompile(() => versionSet('A'), scratch), herdVersion: '9.9.9' }));
  });
  afterAll(() => {
    registerCommand('apply', 'apply', async () => (await import('../../src/cli/commands/apply.ts')).command);
  });

  it('with no room for the lock: refused at once (exit 3), "the disk is full", nothing changed', async () => {
    mount('256k');
    const target = join(mnt, 'root');
    mkdirSync(target);
    fill(join(mnt, 'filler'));
    const before = treeHash(mnt);
    const r = await cliApply(target);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('the disk is full');
    expect(r.stderr).not.toContain('internal error');
    expect(fileChanges(before, treeHash(mnt))).toEqual([]);
  });

  it('while staging the image: exit 4, "the disk is full", nothing on the target changed', async () => {
    mount('128k'); // room for the lock, the journal and the small files, not for the 256 KiB image
    const target = join(mnt, 'root');
    mkdirSync(target);
    const before = treeHash(mnt);
    const r = await cliApply(target);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain('the disk is full');
    expect(r.stderr).toContain('nothing on the target was changed');
    expect(fileChanges(before, treeHash(mnt))).toEqual([]);
  });

  it('part-way, through the CLI: exit 5 naming the files changed', async () => {
    mount('4m');
    const target = join(mnt, 'root');
    mkdirSync(target);
    const r = await cliApply(target);
    expect(r.code, r.stderr).toBe(0);
    registerCommand('apply', 'apply (synthetic)', async () => makeApplyCommand({ compile: fakeCompile(() => versionSet('B'), scratch), herdVersion: '9.9.9' }));
    const r2 = await cliApply(target, { HERD_TEST_FILL_AFTER_OP: `dir-synced#1:${join(mnt, 'filler')}` });
    registerCommand('apply', 'apply (synthetic)', async () => makeApplyCommand({ compile: fakeCompile(() => versionSet('A'), scratch), herdVersion: '9.9.9' }));
    rmSync(join(mnt, 'filler'), { force: true });
    expect(r2.code, r2.stderr).toBe(5);
    expect(r2.stderr).toContain('already changed');
    expect(r2.stderr).toContain('the disk is full');
  });

  it('after some files were replaced: names every file already changed, then plan shows what is left and apply converges', async () => {
    mount('4m');
    const target = join(mnt, 'root');
    mkdirSync(target);
    await applyTo(target, versionSet('A'));
    // Fill the disk once every file is renamed into place (renames over old files free space): the content indexes and the manifest no longer fit.
    let synced = 0;
    const f = await herdFailureOf(
      applyTo(target, versionSet('B'), {
        onOp: (op) => {
          if (op.kind === 'dir-synced' && ++synced === 1) fill(join(mnt, 'filler'));
        },
      }),
    );
    expect(f.rule).toBe('state/apply-partial');
    expect(f.message).toContain('the disk is full');
    const named = /were already changed[^:]*: (.*)$/.exec(f.message)?.[1]?.split(', ') ?? [];
    expect(named.length).toBeGreaterThanOrEqual(2);
    rmSync(join(mnt, 'filler'));
    const left = (await planOf(target, versionSet('B'))).plan;
    expect(left.interrupted).not.toBeNull();
    for (const p of named) expect(left.actions.find((a) => a.path === p)?.drift ?? null).toBeNull();
    await applyTo(target, versionSet('B'));
    expect((await planOf(target, versionSet('B'))).plan.actions.every((a) => a.action === 'no-op')).toBe(true);
  });
});
