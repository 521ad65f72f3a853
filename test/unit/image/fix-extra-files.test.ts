import { describe, expect, it } from 'vitest';
import { applyExtraFiles, describeExtraFiles, type ExtraFile } from '../../../src/image/fix/extra-files.ts';
import { applyPins } from '../../../src/image/fix/pins.ts';
import { lookup } from '../../../src/image/tree/fs-tree.ts';
import { el10Tree, put, text } from './fix-fixtures.ts';

const file = (path: string, extra: Partial<ExtraFile> = {}): ExtraFile => ({ path, type: 'file', content: 'x\n', mode: 0o644, owner: 'root', group: 'root', ...extra });

describe('applyExtraFiles', () => {
  it('resolves owners through the pinned passwd/group, creates parents 0755 root, writes inline content', async () => {
    const t = el10Tree();
    await applyPins(t, { users: { munge: 995 }, groups: { munge: 995 } });
    const r = await applyExtraFiles(t, [file('/etc/munge/munge.key', { content: 'secret', mode: 0o400, owner: 'munge', group: 'munge' }), file('/opt/site/etc/app.conf', { owner: '1234', group: 'slurm' })], { mtime: 1_600_000_000 });
    expect(r.problems).toEqual([]);
    expect(lookup(t, 'etc/munge/munge.key')).toMatchObject({ type: 'file', mode: 0o400, uid: 995, gid: 995, size: 6, mtime: 1_600_000_000 });
    expect(text(t, 'etc/munge/munge.key')).toBe('secret');
    for (const d of ['opt', 'opt/site', 'opt/site/etc']) expect(lookup(t, d)).toMatchObject({ type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: 1_600_000_000 });
    expect(lookup(t, 'opt/site/etc/app.conf')).toMatchObject({ uid: 1234, gid: 202 });
    expect(r.report.createdDirs).toEqual(['opt', 'opt/site', 'opt/site/etc']);
    expect(r.report.applied.map((a) => [a.path, a.action, a.replaced])).toEqual([
      ['etc/munge/munge.key', 'replaced', 'file'],
      ['opt/site/etc/app.conf', 'created', undefined],
    ]);
    expect(describeExtraFiles(r.report)[0]).toBe('replaced file /etc/munge/munge.key 0400 995:995 (was a file)');
  });

  it('follows symlinks on the way (lib -> usr/lib) and never replaces them with directories', async () => {
    const t = el10Tree();
    const r = await applyExtraFiles(t, [
      file('/lib/systemd/system/slurmd.service.d/override.conf'),
      { path: '/lib', type: 'directory', mode: 0o755, owner: 'root', group: 'root' },
      { path: '/lib64/', type: 'directory', mode: 0o700, owner: 'root', group: 'root' },
    ]);
    expect(r.problems).toEqual([]);
    expect(lookup(t, 'lib')).toMatchObject({ type: 'symlink', linkname: 'usr/lib' });
    expect(lookup(t, 'usr/lib/systemd/system/slurmd.service.d/override.conf')?.type).toBe('file');
    expect(lookup(t, 'usr/lib64')?.mode).toBe(0o700);
    expect(lookup(t, 'usr/lib/modules')?.type).toBe('directory');
    expect(r.report.applied.map((a) => [a.path, a.action])).toEqual([
      ['usr/lib/systemd/system/slurmd.service.d/override.conf', 'created'],
      ['usr/lib', 'updated'],
      ['usr/lib64', 'updated'],
    ]);
  });

  it('updates a directory in place (children kept), replaces files and symlinks, leaves other hard links alone', async () => {
    const t = el10Tree();
    const seed = lookup(t, 'var/lib/munge/munge.seed');
    const r = await applyExtraFiles(t, [
      { path: 'var/lib/munge', type: 'directory', mode: 0o700, owner: 'munge', group: 'munge' },
      file('var/lib/munge/hardlink.seed', { content: 'new' }),
      { path: 'usr/bin/sh', type: 'symlink', target: '/usr/bin/bash', mode: 0o644, owner: 'root', group: 'root' },
    ]);
    expect(r.problems).toEqual([]);
    expect(lookup(t, 'var/lib/munge')).toMatchObject({ mode: 0o700, uid: 998 });
    expect(lookup(t, 'var/lib/munge/a/b/c/d/e/deep.state')?.type).toBe('file');
    expect(lookup(t, 'var/lib/munge/munge.seed')).toBe(seed);
    expect(text(t, 'var/lib/munge/munge.seed')).toBe('seed');
    expect(text(t, 'var/lib/munge/hardlink.seed')).toBe('new');
    expect(lookup(t, 'usr/bin/sh')).toMatchObject({ type: 'symlink', linkname: '/usr/bin/bash', mode: 0o777 });
  });

  it('reports image/unknown-owner and image/unknown-group and writes nothing for that entry', async () => {
    const t = el10Tree();
    const r = await applyExtraFiles(t, [file('/etc/x.conf', { owner: 'nosuchuser' }), file('/etc/y.conf', { group: 'nosuchgroup' }), file('/etc/z.conf')]);
    expect(r.problems.map((p) => [p.code, p.field, p.key])).toEqual([
      ['image/unknown-owner', 'files', '/etc/x.conf'],
      ['image/unknown-group', 'files', '/etc/y.conf'],
    ]);
    expect(lookup(t, 'etc/x.conf')).toBeUndefined();
    expect(lookup(t, 'etc/y.conf')).toBeUndefined();
    expect(lookup(t, 'etc/z.conf')?.type).toBe('file');
  });

  it('reports image/file-conflict (a parent is a file) and image/bad-file (root, symlink without target, bad mode)', async () => {
    const t = el10Tree();
    put(t, 'etc/notadir', 'file', { content: 'x' });
    const r = await applyExtraFiles(t, [file('/etc/notadir/x'), file('/'), { path: '/etc/l', type: 'symlink', mode: 0o777, owner: 'root', group: 'root' }, file('/etc/m', { mode: 0o10000 })]);
    expect(r.problems.map((p) => p.code)).toEqual(['image/file-conflict', 'image/bad-file', 'image/bad-file', 'image/bad-file']);
    expect(r.problems[0]?.message).toContain('/etc/notadir is not a directory');
    expect(lookup(t, 'etc/notadir')?.type).toBe('file');
  });
});
