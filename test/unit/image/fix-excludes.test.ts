import { describe, expect, it } from 'vitest';
import { applyExcludes, describeExcludes, excludeFromTree, parseExcludesFile } from '../../../src/image/fix/excludes.ts';
import { checkGoPattern, goMatch } from '../../../src/image/fix/go-match.ts';
import { createTree, lookup, walkTree } from '../../../src/image/tree/fs-tree.ts';
import { el10Tree, put } from './fix-fixtures.ts';

// Go's own test vectors for path/filepath.Match (src/path/filepath/match_test.go): pattern, name, match, bad pattern.
const GO_VECTORS: [string, string, boolean, boolean][] = [
  ['abc', 'abc', true, false], ['*', 'abc', true, false], ['*c', 'abc', true, false], ['a*', 'a', true, false], ['a*', 'abc', true, false], ['a*', 'ab/c', false, false],
  ['a*/b', 'abc/b', true, false], ['a*/b', 'a/c/b', false, false], ['a*b*c*d*e*/f', 'axbxcxdxe/f', true, false], ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true, false],
  ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false, false], ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false, false], ['a*b?c*x', 'abxbbxdbxebxczzx', true, false], ['a*b?c*x', 'abxbbxdbxebxczzy', false, false],
  ['ab[c]', 'abc', true, false], ['ab[b-d]', 'abc', true, false], ['ab[e-g]', 'abc', false, false], ['ab[^c]', 'abc', false, false], ['ab[^b-d]', 'abc', false, false], ['ab[^e-g]', 'abc', true, false],
  ['a\\*b', 'a*b', true, false], ['a\\*b', 'ab', false, false], ['a?b', 'a☺b', true, false], ['a[^a]b', 'a☺b', true, false], ['a???b', 'a☺b', false, false], ['a[^a][^a][^a]b', 'a☺b', false, false],
  ['[a-ζ]*', 'α', true, false], ['*[a-ζ]', 'A', false, false], ['a?b', 'a/b', false, false], ['a*b', 'a/b', false, false], ['[\\]a]', ']', true, false], ['[\\-]', '-', true, false],
  ['[x\\-]', 'x', true, false], ['[x\\-]', '-', true, false], ['[x\\-]', 'z', false, false], ['[\\-x]', 'x', true, false], ['[\\-x]', '-', true, false], ['[\\-x]', 'a', false, false],
  ['[]a]', ']', false, true], ['[-]', '-', false, true], ['[x-]', 'x', false, true], ['[x-]', '-', false, true], ['[x-]', 'z', false, true], ['[-x]', 'x', false, true], ['[-x]', '-', false, true],
  ['[-x]', 'a', false, true], ['\\', 'a', false, true], ['[a-b-c]', 'a', false, true], ['[', 'a', false, true], ['[^', 'a', false, true], ['[^bc', 'a', false, true], ['a[', 'a', false, true],
  ['a[', 'ab', false, true], ['a[', 'x', false, true], ['a/b[', 'x', false, true], ['*x', 'xxx', true, false],
];

describe('goMatch (Go filepath.Match)', () => {
  it.each(GO_VECTORS)('%s vs %s', (pattern, name, match, bad) => {
    if (bad) {
      expect(() => goMatch(pattern, name)).toThrow('syntax error in pattern');
      expect(checkGoPattern(pattern)).toBe('syntax error in pattern');
    } else {
      expect(goMatch(pattern, name)).toBe(match);
      expect(checkGoPattern(pattern)).toBeUndefined();
    }
  });
});

describe('parseExcludesFile', () => {
  it('splits lines like bufio.ScanLines: CR before LF dropped, no empty line after the last newline, nothing else trimmed', () => {
    expect(parseExcludesFile('/boot/\r\n/usr/share/GeoIP\n\n x \n#c')).toEqual(['/boot/', '/usr/share/GeoIP', '', ' x ', '#c']);
    expect(parseExcludesFile('')).toEqual([]);
  });
});

const paths = (t: ReturnType<typeof createTree>): string[] => [...walkTree(t)].map((e) => e.path);

describe('applyExcludes', () => {
  it('applies the image\'s own etc/warewulf/excludes (/boot/ on Rocky 10) and always empties dev, proc and sys', async () => {
    const t = el10Tree();
    put(t, 'proc/1/status', 'file', { content: 'x' });
    put(t, 'sys/kernel/notes', 'file', { content: 'x' });
    put(t, 'run/lock/x', 'file');
    put(t, 'tmp/scratch', 'file');
    const r = await applyExcludes(t, []);
    expect(r.problems).toEqual([]);
    expect(lookup(t, 'boot')).toBeUndefined();
    expect(r.report.counts).toEqual([
      { pattern: 'boot', source: 'image', entries: 3 },
      { pattern: 'dev/*', source: 'always', entries: 3 },
      { pattern: 'proc/*', source: 'always', entries: 2 },
      { pattern: 'sys/*', source: 'always', entries: 2 },
    ]);
    expect(paths(t).filter((p) => /^(dev|proc|sys)(\/|$)/.test(p))).toEqual(['dev', 'dev/console', 'dev/null', 'proc', 'sys']);
    expect(r.report.keptDevices).toEqual(['dev/console', 'dev/null']);
    expect(lookup(t, 'run/lock/x')).toBeDefined();
    expect(lookup(t, 'tmp/scratch')).toBeDefined();
    expect(describeExcludes(r.report)[0]).toBe('excluded 3 entries by image pattern /boot');
  });

  it('matches relative paths with * inside one component, prunes matching directories, never drops top-level non-directories', () => {
    const t = el10Tree();
    put(t, 'usr/share/doc/pkg/README', 'file');
    put(t, 'var/lib/x/munge/keep', 'file');
    const r = excludeFromTree(t, [], ['/usr/share/doc/*', 'var/*/munge/', 'bin', '/lib*', 'etc/*.conf']);
    expect(r.problems).toEqual([]);
    expect(lookup(t, 'usr/share/doc')?.type).toBe('directory');
    expect(lookup(t, 'usr/share/doc')?.children?.size).toBe(0);
    expect(lookup(t, 'var/log/munge')).toBeUndefined();
    expect(lookup(t, 'var/lib/munge')).toBeUndefined();
    expect(lookup(t, 'var/lib/x/munge/keep')).toBeDefined();
    expect(lookup(t, 'bin')?.type).toBe('symlink');
    expect(lookup(t, 'lib')?.type).toBe('symlink');
    expect(r.report.counts.slice(0, 5)).toEqual([
      { pattern: 'usr/share/doc/*', source: 'spec', entries: 4 },
      { pattern: 'var/*/munge', source: 'spec', entries: 11 },
      { pattern: 'bin', source: 'spec', entries: 0 },
      { pattern: 'lib*', source: 'spec', entries: 0 },
      { pattern: 'etc/*.conf', source: 'spec', entries: 0 },
    ]);
  });

  it('counts each entry under the first pattern that matches it, image patterns first', () => {
    const t = el10Tree();
    const r = excludeFromTree(t, ['etc/munge'], ['etc/mun*', 'etc/munge/munge.key']);
    expect(r.report.counts.slice(0, 3).map((c) => [c.source, c.pattern, c.entries])).toEqual([
      ['image', 'etc/munge', 2],
      ['spec', 'etc/mun*', 0],
      ['spec', 'etc/munge/munge.key', 0],
    ]);
  });

  it('reports a malformed spec pattern as image/bad-exclude and ignores a malformed image pattern as Warewulf does', () => {
    const t = el10Tree();
    const r = excludeFromTree(t, ['[boot', 'usr/share/doc'], ['var/[log']);
    expect(r.problems).toEqual([expect.objectContaining({ code: 'image/bad-exclude', field: 'exclude', key: 'var/[log' })]);
    expect(r.report.ignoredImagePatterns).toEqual(['[boot']);
    expect(lookup(t, 'boot')).toBeDefined();
    expect(lookup(t, 'usr/share/doc')).toBeUndefined();
    expect(describeExcludes(r.report)).toContain('ignored malformed patterns in /etc/warewulf/excludes: "[boot"');
  });

  it('drops dev entries that are not the console/null character devices, even under those names', () => {
    const t = createTree();
    put(t, 'dev/console', 'file', { content: 'not a device' });
    put(t, 'dev/null', 'char', { dev: [1, 3] });
    const r = excludeFromTree(t, [], []);
    expect(paths(t)).toEqual(['dev', 'dev/null']);
    expect(r.report.counts).toEqual([{ pattern: 'dev/*', source: 'always', entries: 1 }]);
  });
});
