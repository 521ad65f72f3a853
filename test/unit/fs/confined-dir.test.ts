import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync, lstatSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfinedDir, isPathBlocked, specRelative, type PathBlocked } from '../../../src/fs/confined-dir.ts';

let scratch: string;
let root: string;
let outside: string;
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'herd-confined-'));
  root = join(scratch, 'root');
  outside = join(scratch, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'TOP SECRET');
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

const blockedOf = (f: () => unknown): PathBlocked => {
  try {
    f();
  } catch (e) {
    if (isPathBlocked(e)) return e;
    throw e;
  }
  throw new Error('expected PathBlocked');
};

describe('ConfinedDir', () => {
  it('creates parents and files inside, and reads them back', () => {
    const d = ConfinedDir.open(root, { what: 'target root' });
    const fd = d.createExclusive('etc/slurm/slurm.conf', 0o644);
    writeFileSync(fd, 'x');
    execFileSync('true');
    d.close();
    expect(readFileSync(join(root, 'etc/slurm/slurm.conf'), 'utf8')).toBe('x');
  });

  it.each([
    ['absolute symlink leaving the root', (o: string) => o],
    ['relative symlink climbing out', () => '../outside'],
  ])('refuses a parent that is a %s, at every depth, and writes nothing outside', (_name, target) => {
    for (const parent of ['etc', 'etc/slurm', 'var/lib/herd']) {
      rmSync(root, { recursive: true, force: true });
      mkdirSync(join(root, parent, '..'), { recursive: true });
      const depth = parent.split('/').length - 1;
      const t = target(outside);
      symlinkSync(t.startsWith('..') ? '../'.repeat(depth) + t : t, join(root, parent));
      const d = ConfinedDir.open(root, { what: 'target root' });
      const b = blockedOf(() => d.createExclusive(`${parent}/x/file`, 0o644));
      expect(b.kind).toBe('escape');
      expect(b.at).toBe(parent);
      expect(blockedOf(() => d.lstat(`${parent}/secret`)).kind).toBe('escape');
      expect(blockedOf(() => d.readFile(`${parent}/secret`)).kind).toBe('escape');
      d.close();
      expect(existsSync(join(outside, 'x'))).toBe(false);
    }
  });

  it('follows a symlink that stays inside, absolute or relative', () => {
    mkdirSync(join(root, 'data/ww'), { recursive: true });
    symlinkSync(join(root, 'data/ww'), join(root, 'srv'));
    symlinkSync('data', join(root, 'd2'));
    const d = ConfinedDir.open(root, { what: 'target root' });
    writeFileSync(d.createExclusive('srv/a', 0o600), 'a');
    writeFileSync(d.createExclusive('d2/ww/b', 0o600), 'b');
    expect(readFileSync(join(root, 'data/ww/a'), 'utf8')).toBe('a');
    expect(d.readFile('data/ww/b')?.toString()).toBe('b');
    d.close();
  });

  it('never follows a symlink at the last component', () => {
    symlinkSync(join(outside, 'secret'), join(root, 'link'));
    const d = ConfinedDir.open(root, { what: 'spec folder' });
    expect(blockedOf(() => d.readFile('link')).kind).toBe('special');
    expect(() => d.createExclusive('link', 0o644)).toThrow(/EEXIST/);
    expect(d.lstat('link')?.isSymbolicLink()).toBe(true);
    d.unlink('link');
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('TOP SECRET');
    d.close();
  });

  it('does not hang on a FIFO', () => {
    execFileSync('mkfifo', [join(root, 'fifo')]);
    const d = ConfinedDir.open(root, { what: 'spec folder' });
    expect(blockedOf(() => d.readFile('fifo')).kind).toBe('special');
    d.close();
  });

  it('detects symlink loops', () => {
    symlinkSync('b', join(root, 'a'));
    symlinkSync('a', join(root, 'b'));
    const d = ConfinedDir.open(root, { what: 'target root' });
    expect(blockedOf(() => d.lstat('a/x')).kind).toBe('loop');
    d.close();
  });

  it('refuses kernel filesystems and files as the directory', () => {
    expect(blockedOf(() => ConfinedDir.open('/proc/self', { what: 'target root' })).kind).toBe('special');
    expect(blockedOf(() => ConfinedDir.open('/dev', { what: 'target root' })).kind).toBe('special');
    expect(blockedOf(() => ConfinedDir.open(join(outside, 'secret'), { what: 'target root' })).kind).toBe('not-a-directory');
  });

  it('a file in the way of a parent is not-a-directory', () => {
    writeFileSync(join(root, 'etc'), '');
    const d = ConfinedDir.open(root, { what: 'target root' });
    expect(blockedOf(() => d.lstat('etc/hosts')).kind).toBe('not-a-directory');
    d.close();
  });

  it('renames between folders however full the descriptor cache is (it is never emptied between the two parents)', () => {
    for (let i = 0; i < 600; i++) mkdirSync(join(root, `c${i}`)), mkdirSync(join(root, `b${i}`));
    const d = ConfinedDir.open(root, { what: 'target root' });
    for (let i = 0; i < 600; i++) {
      expect(d.lstat(`c${i}/x`)).toBeNull();
      writeFileSync(d.createExclusive(`a${i}/f`, 0o644), String(i));
      d.rename(`a${i}/f`, `b${i}/f`);
    }
    d.close();
    for (let i = 0; i < 600; i++) expect(readFileSync(join(root, `b${i}/f`), 'utf8')).toBe(String(i));
  });

  it('reaches a folder beside a cached one without walking from the top, and still never follows a symlink there', () => {
    mkdirSync(join(root, 'var/lib/nodes/n1'), { recursive: true });
    mkdirSync(join(root, 'var/lib/nodes/n2'), { recursive: true });
    writeFileSync(join(root, 'var/lib/nodes/n2/f'), 'two');
    symlinkSync(outside, join(root, 'var/lib/nodes/n3'));
    const d = ConfinedDir.open(root, { what: 'target root' });
    expect(d.lstat('var/lib/nodes/n1/f')).toBeNull();
    expect(d.readFile('var/lib/nodes/n2/f')?.toString()).toBe('two');
    expect(blockedOf(() => d.readFile('var/lib/nodes/n3/secret')).kind).toBe('escape');
    // A folder swapped for a symlink after its parent was cached: the next lookup below it is refused, not followed.
    rmSync(join(root, 'var/lib/nodes/n1'), { recursive: true });
    symlinkSync(outside, join(root, 'var/lib/nodes/n1'));
    d.flush();
    expect(d.lstat('var/lib/nodes/n2/f')?.isFile()).toBe(true);
    expect(blockedOf(() => d.lstat('var/lib/nodes/n1/secret')).kind).toBe('escape');
    d.close();
  });

  it('a removed folder is forgotten under every path it was reached by, so a new one of that name is written into', () => {
    mkdirSync(join(root, 'real/sub'), { recursive: true });
    mkdirSync(join(root, 'other'));
    symlinkSync('real', join(root, 'alias'));
    const d = ConfinedDir.open(root, { what: 'target root' });
    expect(d.lstat('alias/sub/x')).toBeNull();
    expect(d.lstat('real/sub/x')).toBeNull();
    expect(d.lstat('other/x')).toBeNull();
    expect(d.removeTree('real/sub')).toBe(true);
    writeFileSync(d.createExclusive('alias/sub/f', 0o644), 'new');
    writeFileSync(d.createExclusive('other/g', 0o644), 'kept');
    d.close();
    expect(readFileSync(join(root, 'real/sub/f'), 'utf8')).toBe('new');
    expect(readFileSync(join(root, 'other/g'), 'utf8')).toBe('kept');
  });

  it('keeps working past the descriptor cache size', () => {
    const d = ConfinedDir.open(root, { what: 'target root' });
    for (let i = 0; i < 600; i++) writeFileSync(d.createExclusive(`d${i}/f`, 0o644), String(i));
    for (let i = 0; i < 600; i++) expect(d.readFile(`d${i}/f`)?.toString()).toBe(String(i));
    d.close();
    expect(lstatSync(join(root, 'd599/f')).isFile()).toBe(true);
  });
});

describe('specRelative', () => {
  it('keeps paths inside the spec folder and refuses the rest', () => {
    expect(specRelative('inventory.csv', '/s', '/s')).toBe('inventory.csv');
    expect(specRelative('./a/../b.csv', '/s', '/s')).toBe('b.csv');
    expect(specRelative('/s/x/y', '/s', '/real/s')).toBe('x/y');
    expect(specRelative('/real/s/x', '/s', '/real/s')).toBe('x');
    expect(specRelative('/etc/shadow', '/s', '/s')).toBeUndefined();
    expect(specRelative('../../../../proc/self/environ', '/s', '/s')).toBeUndefined();
    expect(specRelative('/sx/y', '/s', '/s')).toBeUndefined();
  });
});

describe('descriptors', () => {
  const openFds = () => readdirSync('/proc/self/fd').length;
  it('are all released: missing paths at every depth, blocked walks, close()', () => {
    mkdirSync(join(root, 'a/b'), { recursive: true });
    symlinkSync(outside, join(root, 'a/b/out'));
    const before = openFds();
    const d = ConfinedDir.open(root, { what: 'target root' });
    for (let i = 0; i < 50; i++) {
      expect(d.lstat('a/b/missing/deeper/x')).toBeNull();
      expect(d.readFile('a/missing/x')).toBeUndefined();
      expect(() => d.lstat('a/b/out/x')).toThrow(/leaves/);
      d.flush();
    }
    d.close();
    expect(openFds()).toBe(before);
  });
});

describe('directories herd makes and removes', () => {
  it('mkdtemp, chmodDir and removeTree work through the walk; a symlink inside is removed, never followed', () => {
    const d = ConfinedDir.open(root, { what: 'output folder' });
    const tmp = d.mkdtemp('', '.out.herd-tmp-');
    expect(tmp).toMatch(/^\.out\.herd-tmp-\w{6}$/);
    expect(lstatSync(join(root, tmp)).mode & 0o777).toBe(0o700);
    d.chmodDir(tmp, 0o755);
    expect(lstatSync(join(root, tmp)).mode & 0o777).toBe(0o755);
    writeFileSync(d.createExclusive(`${tmp}/a/b/file`, 0o644), 'x');
    symlinkSync(outside, join(root, tmp, 'a/out'));
    expect(d.removeTree(tmp)).toBe(true);
    expect(existsSync(join(root, tmp))).toBe(false);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('TOP SECRET');
    expect(d.removeTree(tmp)).toBe(false);
    d.close();
  });

  it('refuses to remove a symlink as a tree, and forgets a renamed directory', () => {
    symlinkSync(outside, join(root, 'link'));
    const d = ConfinedDir.open(root, { what: 'output folder' });
    expect(blockedOf(() => d.removeTree('link')).kind).toBe('not-a-directory');
    writeFileSync(d.createExclusive('one/f', 0o644), '1');
    d.rename('one', 'two');
    writeFileSync(d.createExclusive('one/g', 0o644), '2'); // a new "one", not the renamed directory held in the cache
    expect(existsSync(join(root, 'two/g'))).toBe(false);
    expect(readFileSync(join(root, 'one/g'), 'utf8')).toBe('2');
    d.close();
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('TOP SECRET');
  });
});
