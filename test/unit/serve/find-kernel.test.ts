import { describe, expect, it } from 'vitest';
import { compareGoVersions, findKernels, kernelForNode, parsedVersion } from '../../../src/serve/find-kernel.ts';
import { fakeRoot } from './fake-root.ts';

const view = (files: string[]) => fakeRoot(files.map((f) => `rootfs/${f}`)).rootfs('rootfs');

describe("the kernel warewulfd serves (Warewulf 4.6.5's kernel.FromNode)", () => {
  it('parses the version as util.ParseVersion does: the last x.y.z(-n.n) in the path', () => {
    expect(parsedVersion('lib/modules/6.1.0-57-amd64/vmlinuz')).toBe('6.1.0-57');
    expect(parsedVersion('lib/modules/6.12.0-55.9.1.el10_0.x86_64/vmlinuz')).toBe('6.12.0-55.9.1');
    expect(parsedVersion('boot/vmlinuz-5.14.0-427.13.1.el9_4.x86_64')).toBe('5.14.0-427.13.1');
    expect(parsedVersion('boot/vmlinuz')).toBe('');
  });

  it('globs the same places in the same order, listing a kernel under both /boot patterns twice as Warewulf does', () => {
    const v = view(['boot/vmlinuz-linux-6.1.0', 'lib/modules/6.1.0-1/vmlinuz', 'boot/Image-6.2.0']);
    expect(findKernels(v).map((k) => k.path)).toEqual(['boot/Image-6.2.0', 'boot/vmlinuz-linux-6.1.0', 'boot/vmlinuz-linux-6.1.0', 'lib/modules/6.1.0-1/vmlinuz']);
  });

  it('picks the newest kernel that is neither debug nor rescue by default', () => {
    const v = view(['lib/modules/6.1.0-9/vmlinuz', 'lib/modules/6.1.0-10/vmlinuz', 'lib/modules/6.2.0-1+debug/vmlinuz', 'boot/vmlinuz-0-rescue-abc']);
    expect(kernelForNode(v, undefined)?.path).toBe('lib/modules/6.1.0-10/vmlinuz');
  });

  it('takes a set version as a path in the image first, else as a prefix of the parsed version', () => {
    const v = view(['lib/modules/6.1.0-9/vmlinuz', 'lib/modules/6.1.0-10/vmlinuz', 'opt/k/vmlinuz']);
    expect(kernelForNode(v, '/opt/k/vmlinuz')).toEqual({ path: 'opt/k/vmlinuz', version: '' });
    expect(kernelForNode(v, '6.1.0-9')?.path).toBe('lib/modules/6.1.0-9/vmlinuz');
    expect(kernelForNode(v, '7')).toBeUndefined();
  });

  it('orders versions as hashicorp/go-version does: a release is newer than its prereleases', () => {
    expect(compareGoVersions('6.1.0', '6.1.0-57')).toBe(1);
    expect(compareGoVersions('6.1.0-10', '6.1.0-9')).toBe(1);
    expect(compareGoVersions('6.12.0-55.9.1', '6.12.0-55.10')).toBe(-1);
    expect(compareGoVersions('6.2.0-1', '6.10.0-1')).toBe(-1);
    expect(compareGoVersions('5.14.0-427', '5.14.0-427')).toBe(0);
  });
});
