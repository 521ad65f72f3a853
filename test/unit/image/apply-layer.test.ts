import { describe, expect, it } from 'vitest';
import { applyLayer } from '../../../src/image/tree/apply-layer.ts';
import { inlineSink, readContent } from '../../../src/image/tree/content-store.ts';
import { createTree, hardLinkGroups, lookup, walkTree, type FsTree } from '../../../src/image/tree/fs-tree.ts';
import { endOfArchive, gnuLongEntry, paxEntry, rawEntry, tarLayer, T0, type LayerEntry } from '../../fixtures/oci/build.ts';

async function text(tree: FsTree, path: string): Promise<string | undefined> {
  const inode = lookup(tree, path);
  if (inode?.type !== 'file') return undefined;
  if (inode.content === undefined) return '';
  const parts: Uint8Array[] = [];
  for await (const c of readContent(inode.content)) parts.push(c);
  return Buffer.concat(parts).toString();
}

async function build(...layers: (readonly LayerEntry[] | Buffer)[]): Promise<{ tree: FsTree; paths: string[] }> {
  const tree = createTree();
  for (const [i, l] of layers.entries()) {
    const tar = Buffer.isBuffer(l) ? l : await tarLayer(l);
    await applyLayer(tree, [tar], { where: `layer ${i + 1}`, sink: inlineSink() });
  }
  return { tree, paths: [...walkTree(tree)].map((e) => e.path) };
}

const dir = (name: string, extra: Partial<LayerEntry> = {}): LayerEntry => ({ name, type: 'directory', ...extra });
const file = (name: string, content: string, extra: Partial<LayerEntry> = {}): LayerEntry => ({ name, content, ...extra });

describe('whiteouts', () => {
  it('.wh.NAME removes a file, and a directory with its whole subtree', async () => {
    const base: LayerEntry[] = [dir('a'), file('a/x', '1'), dir('a/sub'), file('a/sub/deep', '2'), file('keep', 'k')];
    expect((await build(base, [file('a/.wh.x', '')])).paths).toEqual(['a', 'a/sub', 'a/sub/deep', 'keep']);
    expect((await build(base, [file('.wh.a', '')])).paths).toEqual(['keep']);
  });

  it('a whiteout of a missing path is a no-op, and whiteout names never appear in the tree', async () => {
    const { paths } = await build([dir('a'), file('a/x', '1')], [file('a/.wh.nothere', ''), file('.wh.ghost', '')]);
    expect(paths).toEqual(['a', 'a/x']);
  });

  it('an opaque directory hides what lower layers put there, before or after the new files of the same layer', async () => {
    const lower: LayerEntry[] = [dir('etc'), file('etc/old', 'o'), dir('etc/old.d'), file('etc/old.d/f', 'f'), file('etc/shared', 'lower')];
    for (const order of ['opq-first', 'opq-last'] as const) {
      const newFiles = [file('etc/new', 'n'), file('etc/shared', 'upper')];
      const opq = file('etc/.wh..wh..opq', '');
      const { tree, paths } = await build(lower, order === 'opq-first' ? [dir('etc'), opq, ...newFiles] : [dir('etc'), ...newFiles, opq]);
      expect(paths, order).toEqual(['etc', 'etc/new', 'etc/shared']);
      expect(await text(tree, 'etc/shared')).toBe('upper');
    }
  });

  it('an opaque marker keeps lower children of subdirectories this layer adds to, but not their untouched siblings', async () => {
    // umoci keeps every path the layer created and their ancestors; only the untouched lower entries go.
    const { paths } = await build([dir('d'), dir('d/keep'), file('d/keep/lower', 'l'), file('d/gone', 'g')], [file('d/keep/upper', 'u'), file('d/.wh..wh..opq', '')]);
    expect(paths).toEqual(['d', 'd/keep', 'd/keep/upper']);
  });

  it('a whiteout after the same layer re-created the path keeps the new path', async () => {
    const { tree, paths } = await build([file('f', 'old'), dir('d'), file('d/a', 'a')], [file('f', 'new'), file('.wh.f', ''), dir('d'), file('d/b', 'b'), file('.wh.d', '')]);
    expect(paths).toEqual(['d', 'd/b', 'f']);
    expect(await text(tree, 'f')).toBe('new');
  });

  it('whiteout names are resolved through symlinked parent directories', async () => {
    const { paths } = await build([dir('usr'), dir('usr/lib'), file('usr/lib/libx.so', 'x'), { name: 'lib', type: 'symlink', linkname: 'usr/lib' }], [file('lib/.wh.libx.so', '')]);
    expect(paths).toEqual(['lib', 'usr', 'usr/lib']);
  });
});

describe('replacement rules', () => {
  it('a file over a directory removes the subtree; a directory over a file replaces it', async () => {
    const { tree, paths } = await build([dir('a'), file('a/x', '1'), file('b', 'file')], [file('a', 'now a file'), dir('b', { mode: 0o700 })]);
    expect(paths).toEqual(['a', 'b']);
    expect(lookup(tree, 'a')?.type).toBe('file');
    expect(lookup(tree, 'b')).toMatchObject({ type: 'directory', mode: 0o700 });
  });

  it('a directory over a directory updates metadata and xattrs but keeps the children', async () => {
    const { tree, paths } = await build(
      [dir('d', { mode: 0o755, uid: 1, pax: { 'SCHILY.xattr.user.a': '1' } }), file('d/child', 'c')],
      [dir('d', { mode: 0o1777, uid: 2, gid: 3, mtime: T0 + 9, pax: { 'SCHILY.xattr.user.b': '2' } })],
    );
    expect(paths).toEqual(['d', 'd/child']);
    const d = lookup(tree, 'd');
    expect(d).toMatchObject({ mode: 0o1777, uid: 2, gid: 3, mtime: T0 + 9 });
    expect(Object.keys(d?.xattrs ?? {})).toEqual(['user.b']);
  });

  it('a symlink over a directory and a directory over a symlink (no --keep-dirlinks)', async () => {
    const { tree, paths } = await build([dir('x'), file('x/f', '1'), dir('real'), { name: 'y', type: 'symlink', linkname: 'real' }], [{ name: 'x', type: 'symlink', linkname: 'real' }, dir('y')]);
    expect(paths).toEqual(['real', 'x', 'y']);
    expect(lookup(tree, 'x')).toMatchObject({ type: 'symlink', linkname: 'real' });
    expect(lookup(tree, 'y')?.type).toBe('directory');
  });

  it('entries under a symlinked directory land in its target, and missing parents are created 0755 root', async () => {
    const { tree, paths } = await build([dir('usr'), dir('usr/bin'), { name: 'bin', type: 'symlink', linkname: '/usr/bin' }], [file('bin/sh', '#!'), file('opt/a/b/c', 'deep')]);
    expect(paths).toEqual(['bin', 'opt', 'opt/a', 'opt/a/b', 'opt/a/b/c', 'usr', 'usr/bin', 'usr/bin/sh']);
    expect(lookup(tree, 'opt/a')).toMatchObject({ type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: 0 });
  });

  it('symlink resolution stays inside the root', async () => {
    const { paths } = await build([{ name: 'esc', type: 'symlink', linkname: '../../../../tmp' }], [file('esc/x', 'x'), file('../../etc/y', 'y')]);
    expect(paths).toEqual(['esc', 'etc', 'etc/y', 'tmp', 'tmp/x']);
  });

  it('./ entries set the root metadata', async () => {
    const { tree } = await build([dir('./', { mode: 0o700, uid: 5 })]);
    expect(tree.root).toMatchObject({ mode: 0o700, uid: 5 });
  });

  it('a file under a regular file is a clear error naming the layer and entry', async () => {
    await expect(build([file('f', '1')], [file('f/g', '2')])).rejects.toMatchObject({ code: 'bad-layer-entry', message: expect.stringMatching(/^layer 2: f\/g: .*\/f is a file/) });
  });
});

describe('hard links', () => {
  it('share the inode within and across layers', async () => {
    const { tree, paths } = await build([file('a', 'data', { mode: 0o4755, uid: 7 }), { name: 'b', type: 'link', linkname: 'a' }], [{ name: 'c', type: 'link', linkname: '/a' }]);
    expect(paths).toEqual(['a', 'b', 'c']);
    expect(hardLinkGroups(tree)).toEqual([['a', 'b', 'c']]);
    const walked = [...walkTree(tree)];
    expect(walked.map((e) => [e.path, e.nlink, e.hardlinkTo, e.ino])).toEqual([
      ['a', 3, undefined, 1],
      ['b', 3, 'a', 1],
      ['c', 3, 'a', 1],
    ]);
    expect(lookup(tree, 'c')).toMatchObject({ mode: 0o4755, uid: 7 });
  });

  it('keep their content when the target is later whited out or replaced (real inode semantics, as umoci)', async () => {
    const { tree, paths } = await build([file('t1', 'one'), file('t2', 'two')], [{ name: 'l1', type: 'link', linkname: 't1' }, { name: 'l2', type: 'link', linkname: 't2' }], [file('.wh.t1', ''), file('t2', 'replaced')]);
    expect(paths).toEqual(['l1', 'l2', 't2']);
    expect(await text(tree, 'l1')).toBe('one');
    expect(await text(tree, 'l2')).toBe('two');
    expect(await text(tree, 't2')).toBe('replaced');
    expect(hardLinkGroups(tree)).toEqual([]);
  });

  it('to a missing target or a directory is a clear error', async () => {
    await expect(build([{ name: 'l', type: 'link', linkname: 'nope' }])).rejects.toMatchObject({ code: 'bad-layer-entry', message: expect.stringContaining('does not exist') });
    await expect(build([dir('d'), { name: 'l', type: 'link', linkname: 'd' }])).rejects.toMatchObject({ code: 'bad-layer-entry', message: expect.stringContaining('directory') });
  });
});

describe('entry types and metadata', () => {
  it('keeps symlink targets verbatim, devices, fifos, modes, ownership and xattrs', async () => {
    const { tree } = await build([
      { name: 'rel', type: 'symlink', linkname: '../x/./y' },
      { name: 'dev/console', type: 'character-device', devmajor: 5, devminor: 1, mode: 0o600 },
      { name: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
      { name: 'run/initctl', type: 'fifo', mode: 0o600 },
      file('s', 'x', { mode: 0o6755, uid: 100000, gid: 65534, mtime: 1, pax: { 'SCHILY.xattr.user.mime': 'text/plain' } }),
      file('empty', ''),
    ]);
    expect(lookup(tree, 'rel')).toMatchObject({ type: 'symlink', linkname: '../x/./y', mode: 0o777 });
    expect(lookup(tree, 'dev/console')).toMatchObject({ type: 'char', devMajor: 5, devMinor: 1, mode: 0o600 });
    expect(lookup(tree, 'dev/loop0')).toMatchObject({ type: 'block', devMajor: 7, devMinor: 0, gid: 6 });
    expect(lookup(tree, 'run/initctl')).toMatchObject({ type: 'fifo', mode: 0o600 });
    expect(lookup(tree, 's')).toMatchObject({ mode: 0o6755, uid: 100000, gid: 65534, mtime: 1, size: 1 });
    expect(Buffer.from(lookup(tree, 's')?.xattrs['user.mime'] ?? []).toString()).toBe('text/plain');
    expect(lookup(tree, 'empty')).toMatchObject({ type: 'file', size: 0 });
    expect(lookup(tree, 'empty')?.content).toBeUndefined();
  });

  it('reads long (GNU and PAX) and UTF-8 names, and binary xattrs', async () => {
    const long = `usr/share/${'x'.repeat(150)}/${'é'.repeat(80)}`;
    const cap = Uint8Array.from([1, 0, 0, 2, 0x80, 0xff, 0, 0]);
    const raw = Buffer.concat([
      gnuLongEntry('L', long),
      rawEntry({ name: long.slice(0, 90), data: 'gnu', gnu: true }),
      paxEntry({ path: 'bin/ping', 'SCHILY.xattr.security.capability': cap }),
      rawEntry({ name: 'x', data: 'ping' }),
      endOfArchive(),
    ]);
    const { tree, paths } = await build(raw, [file('日本語/ファイル.txt', 'utf8'), file(`${long}2`, 'pax via tar-stream')]);
    expect(paths).toContain(long);
    expect(paths).toContain('日本語/ファイル.txt');
    expect(await text(tree, long)).toBe('gnu');
    expect(await text(tree, `${long}2`)).toBe('pax via tar-stream');
    expect(Buffer.from(lookup(tree, 'bin/ping')?.xattrs['security.capability'] ?? []).equals(Buffer.from(cap))).toBe(true);
  });

  it('a plain rootfs tarball (whiteouts off) keeps .wh. names as files', async () => {
    const tree = createTree();
    await applyLayer(tree, [await tarLayer([file('.wh.x', 'literal')])], { where: 'rootfs.tar', sink: inlineSink(), whiteouts: false });
    expect([...walkTree(tree)].map((e) => e.path)).toEqual(['.wh.x']);
  });
});
