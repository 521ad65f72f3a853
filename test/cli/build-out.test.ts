// herd build --out through main(): which folders it refuses (nothing changed anywhere), which it may replace, and that a failed build leaves DIR intact.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex, type Artifact } from '../../src/artifacts/artifact.ts';
import { makeBuildCommand } from '../../src/cli/commands/build.ts';
import { registerCommand } from '../../src/cli/main.ts';
import { runHerd, type HerdRun } from '../fixtures/run-herd.ts';
import { isOutMarker, OUT_MARKER, OUT_MARKER_TEXT } from '../../src/cli/out-dir.ts';
import { compileSpecAt, type CompileOptions, type CompileResult } from '../../src/pipeline.ts';

const repo = new URL('../../', import.meta.url).pathname;

let scratch: string;
let proj: string;
let home: string;

const herd = (argv: string[], cwd = proj): Promise<HerdRun> => runHerd(argv, cwd, { env: { HOME: home } });

/** Every path under `root` with its type, mode, and content hash or symlink target; symlinks are never followed. */
/** A snapshot without the marker, whose file stamps (inodes, ctimes) differ from build to build by design. */
function withoutMarker(m: Map<string, string>): Map<string, string> {
  const out = new Map(m);
  out.delete(OUT_MARKER);
  return out;
}

function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    const p = rel === '' ? root : join(root, rel);
    const st = lstatSync(p);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out.set(rel || '.', `link ${mode} -> ${readlinkSync(p)}`);
    else if (st.isFile()) out.set(rel || '.', `file ${mode} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    else if (st.isDirectory()) {
      out.set(rel || '.', `dir ${mode}`);
      for (const name of readdirSync(p).sort()) walk(rel === '' ? name : `${rel}/${name}`);
    } else out.set(rel || '.', `other ${mode}`);
  };
  walk('');
  return out;
}

/** Paths added, removed or changed between two snapshots, minus those `allowed` to change. */
function changedOutside(before: Map<string, string>, after: Map<string, string>, allowed: (rel: string) => boolean = () => false): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k) && !allowed(k)).sort();
}

const under = (...dirs: string[]) => (rel: string) => dirs.some((d) => rel === d || rel.startsWith(d + '/'));
/** The build cache compiling the lab creates beside its spec; allowed to change in runs that compile. */
const CACHE = 'proj/clusters/lab/.herd';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

const artifactPaths = (stdout: string): string[] =>
  stdout
    .split('\n')
    .filter((l) => /^[0-9a-f]{12} {2}/.test(l))
    .map((l) => l.slice(14))
    .sort();

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'herd-build-out-'));
  proj = join(scratch, 'proj');
  home = join(scratch, 'home');
  mkdirSync(join(proj, '.git'), { recursive: true });
  writeFileSync(join(proj, '.git/HEAD'), 'ref: refs/heads/main\n');
  writeFileSync(join(proj, 'notes.txt'), 'keep me\n');
  cpSync(join(repo, 'clusters/lab'), join(proj, 'clusters/lab'), { recursive: true });
  mkdirSync(home);
  writeFileSync(join(home, '.bashrc'), 'export KEEP=1\n');
  symlinkSync('../home', join(proj, 'link-to-home'));
  // A folder herd could replace, reachable only through a symlink: the symlink is still refused.
  mkdirSync(join(scratch, 'herds'));
  writeFileSync(join(scratch, 'herds', OUT_MARKER), OUT_MARKER_TEXT);
  symlinkSync('../herds', join(proj, 'link-to-dir'));
  mkdirSync(join(scratch, 'foreign'));
  writeFileSync(join(scratch, 'foreign/data.txt'), 'not herd\n');
  // A marker that is a symlink to a real marker does not make a folder herd's.
  mkdirSync(join(scratch, 'fake-marker'));
  writeFileSync(join(scratch, 'fake-marker/data.txt'), 'not herd\n');
  symlinkSync(`../herds/${OUT_MARKER}`, join(scratch, 'fake-marker', OUT_MARKER));
  mkdirSync(join(scratch, 'wrong-marker'));
  writeFileSync(join(scratch, 'wrong-marker', OUT_MARKER), '{"kind":"something-else","formatVersion":1}\n');
  mkdirSync(join(scratch, 'empty'));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

describe('herd build --out refuses what herd did not create', () => {
  const cases: { name: string; out: () => string; rule: string; says: string }[] = [
    { name: 'the current folder (a project with the spec and .git)', out: () => '.', rule: 'build/out-unsafe', says: 'is the current folder' },
    { name: 'a parent of the current folder', out: () => '..', rule: 'build/out-unsafe', says: 'is a parent of the current folder' },
    { name: 'the spec folder', out: () => 'clusters/lab', rule: 'build/out-unsafe', says: 'is the spec folder' },
    { name: 'an ancestor of the spec folder', out: () => 'clusters', rule: 'build/out-unsafe', says: 'is a parent of the spec folder' },
    { name: 'HOME', out: () => home, rule: 'build/out-unsafe', says: 'is your home folder' },
    { name: 'a symlink to HOME', out: () => './link-to-home', rule: 'build/out-unsafe', says: 'is your home folder' },
    { name: '/', out: () => '/', rule: 'build/out-unsafe', says: 'is the root folder' },
    { name: 'a file', out: () => 'notes.txt', rule: 'build/out-unsafe', says: 'is a file, not a folder' },
    { name: '/dev/null', out: () => '/dev/null', rule: 'build/out-unsafe', says: 'kernel filesystem' },
    { name: 'a symlink to a folder herd built', out: () => 'link-to-dir', rule: 'build/out-unsafe', says: 'is a symlink' },
    { name: 'a non-empty foreign folder', out: () => '../foreign', rule: 'build/out-not-herds', says: 'is a folder herd did not build' },
    { name: 'a folder whose marker is a symlink', out: () => '../fake-marker', rule: 'build/out-not-herds', says: 'is a folder herd did not build' },
    { name: 'a folder whose marker is not herd build', out: () => '../wrong-marker', rule: 'build/out-not-herds', says: 'is a folder herd did not build' },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}, before compiling, changing nothing`, async () => {
      const before = snapshot(scratch);
      const r = await herd(['build', 'clusters/lab', '--out', c.out()]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`${c.rule}: --out ${c.out()}`);
      expect(r.stderr).toContain(c.says);
      expect(r.stderr).toContain('hint:');
      expect(r.stdout).toBe('');
      // Nothing changed, not even the build cache: the refusal came before compiling.
      expect(changedOutside(before, snapshot(scratch))).toEqual([]);
      expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    });
  }

  it('refuses the spec folder when the spec is named by its file, from another cwd', async () => {
    const before = snapshot(scratch);
    const r = await herd(['build', 'proj/clusters/lab/cluster.yaml', '--out', 'proj/clusters/lab'], scratch);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('is the spec folder');
    expect(changedOutside(before, snapshot(scratch))).toEqual([]);
  });
});

describe('herd build --out writes and replaces only its own trees', () => {
  it('creates a missing folder (and its parents) holding the artifacts and the marker', async () => {
    const before = snapshot(scratch);
    const r = await herd(['build', 'clusters/lab', '--out', 'build/lab']);
    expect(r.code).toBe(0);
    const out = join(proj, 'build/lab');
    expect(filesUnder(out)).toEqual([OUT_MARKER, ...artifactPaths(r.stdout)].sort());
    // The marker: herd's, with each file's stamp (hash and stat) for the next build to reuse unchanged files.
    const marker = JSON.parse(readFileSync(join(out, OUT_MARKER), 'utf8')) as { kind: string; files: Record<string, { sha256: string }> };
    expect(isOutMarker(readFileSync(join(out, OUT_MARKER), 'utf8'))).toBe(true);
    expect(Object.keys(marker.files).sort()).toEqual(artifactPaths(r.stdout).filter((p) => !existsSync(join(out, p)) || statSync(join(out, p)).isFile()).sort());
    expect(statSync(out).mode & 0o777).toBe(0o755);
    expect(changedOutside(before, snapshot(scratch), under('proj/build', CACHE))).toEqual([]);
  });

  it('fills an empty folder', async () => {
    const before = snapshot(scratch);
    const r = await herd(['build', 'clusters/lab', '--out', '../empty']);
    expect(r.code).toBe(0);
    expect(filesUnder(join(scratch, 'empty'))).toEqual([OUT_MARKER, ...artifactPaths(r.stdout)].sort());
    expect(changedOutside(before, snapshot(scratch), under('empty', CACHE))).toEqual([]);
  });

  it('replaces a folder from a previous build as a whole: stale files gone, edited files restored', async () => {
    const first = await herd(['build', 'clusters/lab', '--out', 'out']);
    expect(first.code).toBe(0);
    const fresh = withoutMarker(snapshot(join(proj, 'out')));
    writeFileSync(join(proj, 'out/stale.txt'), 'from an older build\n');
    writeFileSync(join(proj, 'out/etc/hosts'), 'edited by hand\n');
    const before = snapshot(scratch);
    const second = await herd(['build', 'clusters/lab', '--out', 'out']);
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain('warning: the previous build');
    expect(withoutMarker(snapshot(join(proj, 'out')))).toEqual(fresh);
    // No temp or trash folder is left beside it.
    expect(changedOutside(before, snapshot(scratch), under('proj/out', CACHE))).toEqual([]);
  });
});

describe('a build that fails part-way leaves DIR as it was', () => {
  let failure: Error;
  const failing = async (path: string, cwd: string, options: CompileOptions): Promise<CompileResult> => {
    const r = await compileSpecAt(path, cwd, options);
    const boom: Artifact = {
      path: 'zz/boom.img',
      kind: 'image',
      sha256: sha256Hex('never'),
      size: 5,
      mode: 0o644,
      owner: 'root',
      group: 'root',
      nodes: [],
      impact: { class: 'reboot' },
      async *produce() {
        yield new TextEncoder().encode('half-');
        throw failure;
      },
    };
    return { ...r, artifacts: { artifacts: [...r.artifacts!.artifacts, boom] } };
  };

  beforeAll(() => registerCommand('build', 'build (failing producer)', async () => makeBuildCommand({ compile: failing })));
  afterAll(() => registerCommand('build', 'build', async () => (await import('../../src/cli/commands/build.ts')).command));

  const variants = [
    { name: 'a bug in a producer (internal error)', error: () => new Error('producer bug'), code: 70, says: 'internal error' },
    { name: 'an I/O error (could not run)', error: () => Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }), code: 3, says: 'build/write-failed' },
  ];
  for (const v of variants) {
    it(`keeps the previous build on ${v.name}`, async () => {
      failure = v.error();
      // The previous build, written by the real command.
      const real = makeBuildCommand();
      registerCommand('build', 'build', async () => real);
      expect((await herd(['build', 'clusters/lab', '--out', 'out'])).code).toBe(0);
      registerCommand('build', 'build (failing producer)', async () => makeBuildCommand({ compile: failing }));
      const before = snapshot(scratch);
      const r = await herd(['build', 'clusters/lab', '--out', 'out']);
      expect(r.code).toBe(v.code);
      expect(r.stderr).toContain(v.says);
      expect(changedOutside(before, snapshot(scratch), under(CACHE))).toEqual([]);
    });
  }

  it('removes the parent folders it created for a missing DIR', async () => {
    failure = new Error('producer bug');
    const before = snapshot(scratch);
    const r = await herd(['build', 'clusters/lab', '--out', 'new/deeper/out']);
    expect(r.code).toBe(70);
    expect(existsSync(join(proj, 'new'))).toBe(false);
    expect(changedOutside(before, snapshot(scratch), under(CACHE))).toEqual([]);
  });
});

describe('herd build names what it could not build', () => {
  it('lists pending images and overlays with their reasons after the artifacts, and writes none of them', async () => {
    const emptyHead = mkdtempSync(join(tmpdir(), 'herd-empty-head-'));
    const out = mkdtempSync(join(tmpdir(), 'herd-build-pending-'));
    try {
      rmSync(out, { recursive: true, force: true });
      const r = await runHerd(['build', join(repo, 'clusters/lab'), '--out', out], repo, { env: { HERD_HEAD_ROOT: emptyHead, HOME: emptyHead } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^pending, not written: srv\/warewulf\/chroots\/rockylinux-10\/rootfs\/, srv\/warewulf\/provision\/images\/rockylinux-10\.img\n {4}image rockylinux-10: .*not in the local cache/m);
      expect(r.stdout).toMatch(/^pending, not written: srv\/warewulf\/provision\/overlays\/c\[1-2\]\/__SYSTEM__\.img\n {4}.*the munge key: \/etc\/munge\/munge\.key does not exist on this machine/m);
      expect(r.stdout).toMatch(/^pending, not written: srv\/warewulf\/provision\/overlays\/c\[1-2\]\/__RUNTIME__\.img\n/m);
      expect(existsSync(join(out, 'srv/warewulf/provision/overlays'))).toBe(false);
      expect(existsSync(join(out, 'etc/warewulf/nodes.conf'))).toBe(true);
    } finally {
      rmSync(emptyHead, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });
});
