import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compareKernelVersions, findKernels, globTree, placeKernelInBoot, selectKernel } from '../../../src/image/fix/kernel.ts';
import { createTree, hardLinkGroups, lookup } from '../../../src/image/tree/fs-tree.ts';
import { DEB_KVER, EL10_KVER, debianTree, el10Tree, put } from './fix-fixtures.ts';

describe('findKernels', () => {
  it('finds the EL10 kernel that exists only at usr/lib/modules/<ver>/vmlinuz, through the lib -> usr/lib symlink', () => {
    const ks = findKernels(el10Tree());
    expect(ks.map((k) => [k.path, k.resolved, k.version, k.wwVersion])).toEqual([
      [`lib/modules/${EL10_KVER}/vmlinuz`, `usr/lib/modules/${EL10_KVER}/vmlinuz`, EL10_KVER, '6.12.0-211.22.1'],
    ]);
    expect(ks[0]?.inode.mode).toBe(0o755);
  });

  it('finds the Debian kernel in /boot, but not the /vmlinuz convenience symlink (not a Warewulf glob)', () => {
    expect(findKernels(debianTree()).map((k) => [k.path, k.version])).toEqual([[`boot/vmlinuz-${DEB_KVER}`, DEB_KVER]]);
  });

  it('keeps Warewulf glob order, lists vmlinuz-linux once, skips +debug and -rescue kernels and non-files', () => {
    const t = createTree();
    put(t, 'boot/vmlinuz-linux', 'file', { content: 'arch' });
    put(t, 'boot/Image-6.4.0-150600.23.7-default', 'file', { content: 'suse arm' });
    put(t, 'boot/vmlinuz-0-rescue-0123456789abcdef', 'file', { content: 'rescue' });
    put(t, 'boot/vmlinuz-5.14.0-427.13.1.el9_4.x86_64+debug', 'file', { content: 'debug' });
    put(t, 'boot/vmlinuz-dangling', 'symlink', { target: 'nowhere' });
    put(t, 'lib/modules/5.14.0-427.13.1.el9_4.x86_64/vmlinuz', 'file', { content: 'el9' });
    put(t, 'lib/modules/5.14.0-427.13.1.el9_4.x86_64+debug/vmlinuz', 'file', { content: 'el9 debug' });
    put(t, 'lib/modules/6.6.0-arm/vmlinuz.gz', 'file', { content: 'gz' });
    expect(findKernels(t).map((k) => k.path)).toEqual([
      'boot/Image-6.4.0-150600.23.7-default',
      'boot/vmlinuz-linux',
      'lib/modules/5.14.0-427.13.1.el9_4.x86_64/vmlinuz',
      'lib/modules/6.6.0-arm/vmlinuz.gz',
    ]);
    const versions = findKernels(t).map((k) => [k.version, k.wwVersion]);
    expect(versions).toEqual([
      ['6.4.0-150600.23.7-default', '6.4.0-150600.23.7'],
      ['linux', undefined],
      ['5.14.0-427.13.1.el9_4.x86_64', '5.14.0-427.13.1'],
      ['6.6.0-arm', '6.6.0'],
    ]);
  });

  it('globs like Go: * stays inside one name, names in byte order, directories reached through symlinks', () => {
    const t = el10Tree();
    put(t, 'usr/lib/modules/A/vmlinuz', 'file');
    put(t, 'usr/lib/modules/a/vmlinuz', 'file');
    expect(globTree(t, 'lib/modules/*/vmlinuz')).toEqual(['lib/modules/6.12.0-211.22.1.el10_2.x86_64/vmlinuz', 'lib/modules/A/vmlinuz', 'lib/modules/a/vmlinuz']);
    expect(globTree(t, 'lib/*')).toEqual(['lib/modules']);
    expect(globTree(t, 'li*')).toEqual(['lib', 'lib64']);
  });
});

describe('compareKernelVersions', () => {
  it('orders kernel releases like GNU sort -V (the oracle)', () => {
    const versions = [
      '6.12.0-211.22.1.el10_2.x86_64',
      '6.12.0-55.el10.x86_64',
      '6.12.0-124.8.1.el10_1.x86_64',
      '5.14.0-427.13.1.el9_4.x86_64',
      '5.14.0-70.13.1.el9_0.x86_64',
      '6.1.0-18-amd64',
      '6.1.0-9-amd64',
      '6.10.3-arch1-1',
      '6.9.12-arch1-1',
      '4.18.0-553.el8_10.x86_64',
    ];
    const oracle = execFileSync('sort', ['-V'], { input: `${versions.join('\n')}\n`, encoding: 'utf8' }).trim().split('\n');
    expect([...versions].sort(compareKernelVersions)).toEqual(oracle);
  });

  it('follows rpm where sort -V (Debian ordering) differs: the EL z-stream update 55.9.1.el10_0 is newer than GA 55.el10', () => {
    // rpmvercmp: a numeric segment beats an alphabetic one (9 > el); sort -V puts "." before ".el" instead.
    expect(compareKernelVersions('6.12.0-55.9.1.el10_0.x86_64', '6.12.0-55.el10.x86_64')).toBeGreaterThan(0);
    expect(compareKernelVersions('6.12.0-055.el10', '6.12.0-55.el10')).toBe(0);
    expect(compareKernelVersions('6.12.0-55.el10', '6.12.0-55.el10.1')).toBeLessThan(0);
  });
});

describe('selectKernel', () => {
  const three = (): ReturnType<typeof findKernels> => {
    const t = createTree();
    for (const v of ['6.12.0-55.el10.x86_64', '6.12.0-211.22.1.el10_2.x86_64', '6.12.0-124.8.1.el10_1.x86_64']) put(t, `lib/modules/${v}/vmlinuz`, 'file', { content: v });
    return findKernels(t);
  };

  it('takes the only kernel, and the same kernel found twice (boot copy and modules) counts as one', () => {
    const t = el10Tree();
    put(t, `boot/vmlinuz-${EL10_KVER}`, 'file', { content: 'MZ fake bzImage' });
    const r = selectKernel(findKernels(t));
    expect(r.problems).toEqual([]);
    expect(r.report.choice).toBe('only');
    expect(r.report.kernel?.path).toBe(`boot/vmlinuz-${EL10_KVER}`);
  });

  it('defaults to the newest, comparing numerically', () => {
    const r = selectKernel(three());
    expect(r.report).toMatchObject({ choice: 'newest', kernel: { version: '6.12.0-211.22.1.el10_2.x86_64' } });
  });

  it('honours kernel.version as an exact uname, a prefix, a Warewulf version prefix, or a path', () => {
    expect(selectKernel(three(), '6.12.0-55.el10.x86_64').report).toMatchObject({ choice: 'version', kernel: { version: '6.12.0-55.el10.x86_64' } });
    expect(selectKernel(three(), '6.12.0-124').report).toMatchObject({ choice: 'prefix', kernel: { version: '6.12.0-124.8.1.el10_1.x86_64' } });
    expect(selectKernel(three(), '6.12.0').report).toMatchObject({ choice: 'prefix', kernel: { version: '6.12.0-211.22.1.el10_2.x86_64' } });
    expect(selectKernel(three(), '/lib/modules/6.12.0-55.el10.x86_64/vmlinuz').report).toMatchObject({ choice: 'path', kernel: { version: '6.12.0-55.el10.x86_64' } });
  });

  it('reports image/no-kernel when nothing is where Warewulf 4.6 looks', () => {
    const t = el10Tree();
    const r = selectKernel(findKernels(withoutKernel(t)));
    expect(r.report.kernel).toBeUndefined();
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ code: 'image/no-kernel', field: 'kernel' });
    expect(r.problems[0]?.message).toContain('Warewulf 4.6');
    expect(r.problems[0]?.hint).toContain('dnf install kernel');
    expect(r.problems[0]?.hint).toContain('apt install linux-image-amd64');
  });

  it('reports image/kernel-version listing what the image has', () => {
    const r = selectKernel(three(), '6.13');
    expect(r.problems[0]).toMatchObject({ code: 'image/kernel-version', field: 'kernel', key: 'version' });
    expect(r.problems[0]?.message).toContain('6.12.0-211.22.1.el10_2.x86_64 (/lib/modules/6.12.0-211.22.1.el10_2.x86_64/vmlinuz)');
    expect(r.problems[0]?.message).toContain('6.12.0-55.el10.x86_64');
  });
});

function withoutKernel(t: ReturnType<typeof el10Tree>): ReturnType<typeof el10Tree> {
  lookup(t, `usr/lib/modules/${EL10_KVER}`)?.children?.delete('vmlinuz');
  return t;
}

describe('placeKernelInBoot', () => {
  it('adds boot/vmlinuz-<ver> as a hard link to the source (its bytes stored once in the archive), once', () => {
    const t = el10Tree();
    const k = findKernels(t)[0]!;
    const r = placeKernelInBoot(t, k);
    expect(r.problems).toEqual([]);
    expect(r.report).toEqual({ path: `boot/vmlinuz-${EL10_KVER}`, action: 'added', from: `lib/modules/${EL10_KVER}/vmlinuz` });
    const copy = lookup(t, `boot/vmlinuz-${EL10_KVER}`)!;
    expect(copy).toBe(k.inode);
    expect(hardLinkGroups(t)).toContainEqual([`boot/vmlinuz-${EL10_KVER}`, `usr/lib/modules/${EL10_KVER}/vmlinuz`]);
    expect([copy.type, copy.mode, copy.size, copy.uid, copy.mtime]).toEqual(['file', 0o755, k.inode.size, 0, k.inode.mtime]);
    // Warewulf now finds both, and they are the same version.
    expect(findKernels(t).map((x) => x.path)).toEqual([`boot/vmlinuz-${EL10_KVER}`, `lib/modules/${EL10_KVER}/vmlinuz`]);
    expect(placeKernelInBoot(t, k).report.action).toBe('already-present');
  });

  it('copies a 0644 kernel as 0644, replaces a stale copy, and leaves a kernel already in /boot alone', () => {
    const t = createTree();
    put(t, 'usr/lib/modules/6.1.0-x/vmlinuz', 'file', { mode: 0o644, content: 'new' });
    put(t, 'lib', 'symlink', { target: 'usr/lib' });
    put(t, 'boot/vmlinuz-6.1.0-x', 'file', { content: 'stale' });
    const k = findKernels(t).find((x) => x.path.startsWith('lib/'))!;
    expect(placeKernelInBoot(t, k).report.action).toBe('replaced');
    expect(lookup(t, 'boot/vmlinuz-6.1.0-x')?.mode).toBe(0o644);
    const deb = debianTree();
    expect(placeKernelInBoot(deb, findKernels(deb)[0]!).report).toMatchObject({ action: 'already-present', path: `boot/vmlinuz-${DEB_KVER}` });
  });

  it('reports image/kernel-copy when boot is not a directory', () => {
    const t = el10Tree();
    t.root.children?.delete('boot');
    put(t, 'boot', 'file', { content: 'oops' });
    const r = placeKernelInBoot(t, findKernels(t)[0]!);
    expect(r.report.action).toBe('failed');
    expect(r.problems[0]).toMatchObject({ code: 'image/kernel-copy', field: 'kernel' });
  });
});
