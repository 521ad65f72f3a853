import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareNames,
  createTree,
  hardLinkGroups,
  IMPLICIT_DIR,
  lookup,
  newInode,
  normalizePath,
  removePath,
  resolvePath,
  setInode,
  treeStats,
  walkTree,
} from '../../../src/image/tree/fs-tree.ts';

const meta = { ...IMPLICIT_DIR, mode: 0o644 };

describe('paths', () => {
  it('normalizes like runc CleanPath: no leading slash, dots resolved, clamped at the root', () => {
    expect(normalizePath('/./a//b/../c/')).toBe('a/c');
    expect(normalizePath('../../etc/passwd')).toBe('etc/passwd');
    expect(normalizePath('./')).toBe('');
    expect(normalizePath('/')).toBe('');
  });

  it('compareNames is UTF-8 byte order (property, against Buffer.compare)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(Math.sign(compareNames(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }),
      { numRuns: 2000 },
    );
    // U+FF5E (3 UTF-8 bytes, EF BD 9E) sorts before U+1F600 (F0 ...), unlike in UTF-16 code-unit order.
    expect(compareNames('\uff5e', '😀')).toBeLessThan(0);
  });
});

describe('tree operations', () => {
  it('walks depth first, entries of each directory in byte order, parents before children', () => {
    const t = createTree();
    for (const p of ['b/z', 'a-b', 'a/c', 'a/b/x', 'B', 'é', 'a/b/y']) setInode(t, p, newInode('file', meta));
    expect([...walkTree(t)].map((e) => e.path)).toEqual(['B', 'a', 'a/b', 'a/b/x', 'a/b/y', 'a/c', 'a-b', 'b', 'b/z', 'é']);
  });

  it('removes subtrees, never the root; a directory over a directory keeps children', () => {
    const t = createTree();
    setInode(t, 'd/e/f', newInode('file', meta));
    setInode(t, 'd', newInode('directory', { ...meta, mode: 0o700 }));
    expect(lookup(t, 'd/e/f')?.type).toBe('file');
    expect(lookup(t, 'd')?.mode).toBe(0o700);
    expect(removePath(t, 'd/e')).toBe(true);
    expect(removePath(t, '')).toBe(false);
    expect([...walkTree(t)].map((e) => e.path)).toEqual(['d']);
  });

  it('resolves symlinks securejoin-style: absolute targets from the root, .. clamped, missing parts literal, loops fail', () => {
    const t = createTree();
    setInode(t, 'usr/lib64', newInode('directory', meta));
    setInode(t, 'lib64', newInode('symlink', meta, { linkname: '/usr/lib64' }));
    setInode(t, 'usr/rel', newInode('symlink', meta, { linkname: '../../../lib64/x' }));
    setInode(t, 'loop1', newInode('symlink', meta, { linkname: 'loop2' }));
    setInode(t, 'loop2', newInode('symlink', meta, { linkname: 'loop1/z' }));
    expect(resolvePath(t, 'lib64/libc.so').join('/')).toBe('usr/lib64/libc.so');
    expect(resolvePath(t, 'usr/rel/y').join('/')).toBe('usr/lib64/x/y');
    expect(resolvePath(t, 'nope/a/../b').join('/')).toBe('nope/b');
    expect(() => resolvePath(t, 'loop1/a')).toThrow(/too many levels of symbolic links/);
  });

  it('counts hard links, unpacked bytes once per inode', () => {
    const t = createTree();
    const f = newInode('file', meta, { size: 10 });
    setInode(t, 'x/one', f);
    setInode(t, 'two', f);
    setInode(t, 'other', newInode('file', meta, { size: 5 }));
    expect(hardLinkGroups(t)).toEqual([['two', 'x/one']]);
    expect(treeStats(t)).toEqual({ entries: 4, files: 2, bytes: 15 });
  });
});
