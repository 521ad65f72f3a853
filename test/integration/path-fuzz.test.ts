// Fuzz over every path a user or a pull request controls: `--out`, `--root` and the paths a spec names (inventory, overlay
// folders, image sources). Whatever the combination of `.`, `..`, symlinks out of the project, files, devices, kernel
// filesystems and the home folder, nothing outside the places herd may write changes, and no byte of an outside file is printed.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { treeChanges, treeHash } from '../fixtures/tree-hash.ts';

const SENTINEL = 'SENTINEL-7f3a-outside-secret';
let scratch: string;
let proj: string;
let specText: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'herd-path-fuzz-'));
  proj = join(scratch, 'proj');
  cpSync(fileURLToPath(new URL('../../clusters/lab', import.meta.url)), proj, { recursive: true, filter: (src) => !src.includes('/.herd') });
  mkdirSync(join(proj, '.git'));
  writeFileSync(join(proj, '.git/HEAD'), 'ref: refs/heads/main\n');
  writeFileSync(join(proj, 'notes.txt'), 'keep me\n');
  mkdirSync(join(proj, 'sub'));
  // Outside the project: secrets a hostile spec would like to read, folders it would like to write.
  const outside = join(scratch, 'outside');
  mkdirSync(join(outside, 'etc'), { recursive: true });
  writeFileSync(join(outside, 'secret.csv'), `name,mac\nc1,${SENTINEL}\n`);
  writeFileSync(join(outside, 'etc/shadow'), `root:${SENTINEL}:19000::::::\n`);
  mkdirSync(join(scratch, 'home'));
  writeFileSync(join(scratch, 'home/.bashrc'), 'export KEEP=1\n');
  symlinkSync(outside, join(proj, 'link-out'));
  symlinkSync('../outside/secret.csv', join(proj, 'inv-out.csv'));
  symlinkSync('sub', join(proj, 'link-in'));
  writeFileSync(join(proj, 'file.txt'), 'a file\n');
  specText = readFileSync(join(proj, 'cluster.yaml'), 'utf8');
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Everything herd may legitimately change: its cache and default state beside the spec, and build/apply targets inside the project's sub/ and out*. */
const allowed = (rel: string) => rel === 'proj/.herd' || rel.startsWith('proj/sub/') || rel === 'proj/sub' || /^proj\/(out|new)[^/]*($|\/)/.test(rel);

const piece = fc.constantFrom('.', '..', 'link-out', 'link-in', 'sub', 'file.txt', 'inv-out.csv', 'etc', 'shadow', 'out', 'new', 'outside', '.git');
const relPath = fc.array(piece, { minLength: 1, maxLength: 4 }).map((p) => p.join('/'));
const absPath = fc.constantFrom('/', '/dev/null', '/proc/self', '/proc/self/environ', '/sys', '/etc/shadow', '/etc', 'HOME', 'SCRATCH/outside', 'SCRATCH/outside/secret.csv', 'SCRATCH/proj', 'SCRATCH/proj/sub/x');
const anyPath = fc.oneof(relPath, relPath, absPath);

function concrete(p: string): string {
  return p.replace(/^HOME/, join(scratch, 'home')).replace(/^SCRATCH/, scratch);
}

type Case = { cmd: 'build' | 'plan' | 'apply' | 'validate'; path: string; field?: 'inventory' | 'overlay' | 'dir' | 'tar' | 'oci' };

function specWith(c: Case): string {
  const p = JSON.stringify(concrete(c.path));
  switch (c.field) {
    case 'inventory':
      return specText.replace(/^name: lab$/m, `name: lab\ninventory: ${p}`);
    case 'overlay':
      return specText.replace('slurm-node: { kind: system }', `slurm-node: { kind: system, source: ${p} }`);
    case 'dir':
    case 'tar':
    case 'oci':
      return specText.replace(/source: docker:\/\/\S+/, `source: ${JSON.stringify(`${c.field}:${concrete(c.path)}`)}`);
    default:
      return specText;
  }
}

/** Where a path the user gave really is, relative to the scratch tree (symlinks of existing parts resolved), or undefined when outside it. */
function scratchRel(p: string): string | undefined {
  let abs = resolve(proj, p);
  const tail: string[] = [];
  while (!existsSync(abs) && abs !== '/') {
    tail.unshift(basename(abs));
    abs = dirname(abs);
  }
  const real = join(realpathSync(abs), ...tail);
  const rel = relative(realpathSync(scratch), real);
  return rel.startsWith('..') || rel.startsWith('/') ? undefined : rel;
}

/** Changes a successful build or apply may make: the tree it was asked to write (build: only where nothing of someone else's was). */
function changesAllowedBy(c: Case, code: number, before: Map<string, string>): (rel: string) => boolean {
  if (code !== 0 || c.field !== undefined || c.cmd === 'plan') return () => false;
  const target = scratchRel(concrete(c.path));
  if (target === undefined || target === '') return () => false;
  const inside = (rel: string) => rel === target || rel.startsWith(target + '/');
  if (c.cmd === 'build') {
    const preexisting = [...before.keys()].filter((k) => k.startsWith(target + '/'));
    const herds = preexisting.length === 0 || before.has(`${target}/.herd-build`);
    return (rel) => herds && (inside(rel) || (before.get(rel) === undefined && target.startsWith(rel + '/')));
  }
  return (rel) => inside(rel) || (before.get(rel) === undefined && target.startsWith(rel + '/'));
}

async function run(argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  stdout.on('data', (c) => out.push(String(c)));
  stderr.on('data', (c) => out.push(String(c)));
  const code = await main(argv, { stdin: Readable.from([]), stdout, stderr, env: { HOME: join(scratch, 'home') }, cwd: proj });
  return { code, text: out.join('') };
}

describe('paths a user or a pull request controls', () => {
  it('never change anything outside what herd may write, never print outside bytes, never crash', async () => {
    const cases = fc.oneof(
      fc.record({ cmd: fc.constant('build' as const), path: anyPath }),
      fc.record({ cmd: fc.constantFrom('plan' as const, 'apply' as const), path: anyPath }),
      fc.record({ cmd: fc.constantFrom('validate' as const, 'plan' as const, 'build' as const), path: anyPath, field: fc.constantFrom('inventory' as const, 'overlay' as const, 'dir' as const, 'tar' as const, 'oci' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(cases, async (c: Case) => {
        writeFileSync(join(proj, 'cluster.yaml'), specWith(c));
        const before = treeHash(scratch, { skip: allowed });
        const p = concrete(c.path);
        const argv =
          c.field !== undefined
            ? [c.cmd, '.', ...(c.cmd === 'build' ? ['--out', 'out'] : []), '--format', 'github']
            : c.cmd === 'build'
              ? ['build', '.', '--out', p]
              : c.cmd === 'plan'
                ? ['plan', '.', '--root', p]
                : ['apply', '.', '--root', p, '--yes'];
        const r = await run(argv);
        const after = treeHash(scratch, { skip: allowed });
        writeFileSync(join(proj, 'cluster.yaml'), specText);
        const mayChange = changesAllowedBy(c, r.code, before);
        expect(treeChanges(before, after).filter((k) => k !== 'proj/cluster.yaml' && !mayChange(k)), `${argv.join(' ')}\n${r.text}`).toEqual([]);
        expect(r.text, argv.join(' ')).not.toContain(SENTINEL);
        expect(r.code, `${argv.join(' ')}\n${r.text}`).not.toBe(70);
        expect(r.text).not.toMatch(/bug in herd|Maximum call stack/);
      }),
      { numRuns: 120, seed: 20261206, endOnFailure: true },
    );
  }, 300_000);
});
