import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { applyExcludes } from '../../../src/image/fix/excludes.ts';
import { applyExtraFiles } from '../../../src/image/fix/extra-files.ts';
import { findKernels, placeKernelInBoot } from '../../../src/image/fix/kernel.ts';
import { applyPins } from '../../../src/image/fix/pins.ts';
import { lookup, type FsTree } from '../../../src/image/tree/fs-tree.ts';
import { readCpioIndex } from '../../../src/image/verify/read-cpio.ts';
import { ENTRY_OVERHEAD, PAGE_SIZE, describeVerify, verifyImageArchive, type VerifyRequest } from '../../../src/image/verify/verify-image.ts';
import { DEB_KVER, EL10_KVER, archiveBytes, chunked, debianTree, el10Tree, indexOf, put } from './fix-fixtures.ts';

const MUNGE = { users: { munge: 995 }, groups: { munge: 995 } };
const req = (over: Partial<VerifyRequest> = {}): VerifyRequest => ({ requires: ['bash'], nfs: true, slurm: true, drivers: ['virtio_net'], pins: MUNGE, nodes: [{ name: 'c1', memoryMiB: 6144 }, { name: 'c2', memoryMiB: 6144 }], ...over });

/** The EL10 image as herd builds it: pins, a file, excludes (its own /boot/), then packed. */
async function builtEl10(mutate: (t: FsTree) => void = () => {}): Promise<Awaited<ReturnType<typeof indexOf>>> {
  const t = el10Tree();
  mutate(t);
  expect((await applyPins(t, MUNGE)).problems).toEqual([]);
  expect((await applyExtraFiles(t, [{ path: '/etc/slurm/slurm.conf', type: 'file', content: 'ClusterName=lab\n', mode: 0o644, owner: 'root', group: 'root' }])).problems).toEqual([]);
  expect((await applyExcludes(t, [])).problems).toEqual([]);
  return indexOf(t);
}

const codes = (r: { problems: readonly { code: string }[] }): string[] => r.problems.map((p) => p.code);

describe('verifyImageArchive on a built EL10 image', () => {
  it('passes: kernel under usr/lib/modules, programs through bin/sbin symlinks, drivers, pins, RAM', async () => {
    const { index, archive } = await builtEl10();
    const r = verifyImageArchive(index, req({ drivers: ['virtio_net', 'e1000', 'e1000e', 'virtio-net'] }));
    expect(r.problems).toEqual([]);
    expect(r.report.kernel).toEqual({ path: `lib/modules/${EL10_KVER}/vmlinuz`, version: EL10_KVER });
    expect(r.report.programs).toEqual({ bash: 'usr/bin/bash', 'mount.nfs': 'usr/sbin/mount.nfs', slurmd: 'usr/sbin/slurmd', munged: 'usr/sbin/munged' });
    expect(r.report.drivers).toEqual({ e1000: 'builtin', e1000e: `usr/lib/modules/${EL10_KVER}/kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.xz`, 'virtio-net': `usr/lib/modules/${EL10_KVER}/kernel/drivers/net/virtio_net.ko.xz`, virtio_net: `usr/lib/modules/${EL10_KVER}/kernel/drivers/net/virtio_net.ko.xz` });
    expect(describeVerify(r.report)[0]).toMatch(/^verified the built archive: \d+ entries/);
    // Independent oracle: GNU cpio's own listing of the archive shows the seed lab's trap fixed.
    const listing = execFileSync('cpio', ['-itv', '--numeric-uid-gid', '--quiet'], { input: archive, encoding: 'utf8' });
    for (const p of ['etc/munge', 'var/log/munge', 'run/munge', 'var/lib/munge/munge.seed', 'var/lib/munge/a/b/c/d/e/deep.state']) {
      expect(listing).toMatch(new RegExp(`^\\S+\\s+\\d+\\s+995\\s+995\\s.*\\s${p.replace(/\./g, '\\.')}$`, 'm'));
    }
    expect(listing).not.toMatch(/\s998\s/);
    expect(listing).not.toMatch(/\sboot(\/|$)/m);
  });

  it('image/no-kernel: nothing where Warewulf looks, with a hint about excluded /boot', async () => {
    const { index } = await builtEl10((t) => lookup(t, `usr/lib/modules/${EL10_KVER}`)?.children?.delete('vmlinuz'));
    const r = verifyImageArchive(index, req());
    expect(codes(r)).toEqual(['image/no-kernel']);
    expect(r.problems[0]?.message).toMatch(/^the built archive has no kernel where Warewulf 4\.6 looks/);
    // Debian keeps its kernel only in /boot, which the stock Warewulf excludes drop from the archive.
    const deb = debianTree();
    await applyExcludes(deb, ['/boot/']);
    const d = verifyImageArchive((await indexOf(deb)).index, req({ requires: [], nfs: false, slurm: false, drivers: [], pins: { users: {}, groups: {} } }));
    expect(codes(d)).toEqual(['image/no-kernel']);
    expect(d.problems[0]?.hint).toContain('/boot is not excluded');
  });

  it('image/kernel-version: the wanted kernel is not in the archive', async () => {
    const { index } = await builtEl10();
    const r = verifyImageArchive(index, req({ kernelVersion: '5.14.0' }));
    expect(r.problems).toEqual([expect.objectContaining({ code: 'image/kernel-version', field: 'kernel' })]);
    expect(verifyImageArchive(index, req({ kernelVersion: '6.12.0-211' })).problems).toEqual([]);
  });

  it('image/missing-program: mount.nfs for NFS, a required program, a non-executable one', async () => {
    const { index } = await builtEl10((t) => {
      lookup(t, 'usr/sbin')?.children?.delete('mount.nfs');
      lookup(t, 'usr/bin/bash')!.mode = 0o644;
    });
    const r = verifyImageArchive(index, req({ requires: ['bash', 'sinfo', '/usr/bin/sh'] }));
    expect(r.problems.map((p) => [p.code, p.key, p.field])).toEqual([
      ['image/missing-program', 'bash', 'requires'],
      ['image/missing-program', 'sinfo', 'requires'],
      ['image/missing-program', '/usr/bin/sh', 'requires'],
      ['image/missing-program', 'mount.nfs', undefined],
    ]);
    expect(r.problems[0]?.message).toContain('not executable');
    expect(r.problems[1]?.hint).toContain("dnf provides '*/sinfo'");
    expect(r.problems[3]?.hint).toContain('nfs-utils (EL) or nfs-common (Debian)');
    expect(verifyImageArchive(index, req({ requires: [], nfs: false })).problems).toEqual([]);
  });

  it('image/missing-program: slurmd and munged for Slurm nodes', async () => {
    const { index } = await builtEl10((t) => {
      lookup(t, 'usr/sbin')?.children?.delete('slurmd');
      lookup(t, 'usr/sbin')?.children?.delete('munged');
    });
    const r = verifyImageArchive(index, req());
    expect(r.problems.map((p) => p.key)).toEqual(['slurmd', 'munged']);
    expect(r.problems[0]?.hint).toContain('ohpc-slurm-client');
    expect(r.problems[1]?.hint).toContain('munge');
    expect(verifyImageArchive(index, req({ slurm: false })).problems).toEqual([]);
  });

  it('image/missing-driver: neither built in nor a module of the selected kernel', async () => {
    const { index } = await builtEl10();
    const r = verifyImageArchive(index, req({ drivers: ['ixgbe', 'e1000'] }));
    expect(r.problems).toEqual([expect.objectContaining({ code: 'image/missing-driver', key: 'ixgbe' })]);
    expect(r.problems[0]?.message).toContain(`usr/lib/modules/${EL10_KVER}`);
  });

  it('image/pin-not-applied: a pin missing from passwd, and the seed lab\'s /var/log/munge left at the old UID', async () => {
    const { index } = await builtEl10();
    const r = verifyImageArchive(index, req({ pins: { users: { munge: 990 }, groups: { munge: 995, ghost: 7 } } }));
    expect(r.problems.map((p) => [p.code, p.key])).toEqual([
      ['image/pin-not-applied', 'users.munge'],
      ['image/pin-not-applied', 'groups.ghost'],
    ]);
    // The seed's manual fix: passwd/group edited, directories not all re-owned.
    const t = el10Tree();
    put(t, 'etc/passwd', 'file', { content: `${new TextDecoder().decode((lookup(t, 'etc/passwd')!.content as { data: Uint8Array }).data).replace('munge:x:998:998', 'munge:x:995:995')}` });
    put(t, 'etc/group', 'file', { content: 'root:x:0:\nmunge:x:995:\nslurm:x:202:\n' });
    for (const p of ['etc/munge', 'etc/munge/munge.key', 'run/munge', 'var/lib/munge']) Object.assign(lookup(t, p)!, { uid: 995, gid: 995 });
    const seed = verifyImageArchive((await indexOf(t)).index, req());
    expect(seed.problems.map((p) => [p.code, p.key])).toEqual([
      ['image/pin-not-applied', 'users.munge'],
      ['image/pin-not-applied', 'groups.munge'],
    ]);
    expect(seed.problems[0]?.message).toMatch(/owned by UID 998, which no account has.*\/var\/lib\/munge\/a.*; munge is 995/);
    expect(seed.problems[0]?.message).toContain('/var/log/munge');
  });

  it('image/too-big-for-ram: names the nodes as a hostlist, with the memory they need', async () => {
    const { index } = await builtEl10((t) => put(t, 'usr/share/big.bin', 'file', { content: new Uint8Array(3 * 1024 * 1024) }));
    const nodes = [{ name: 'c2', memoryMiB: 4 }, { name: 'c1', memoryMiB: 4 }, { name: 'c3', memoryMiB: 64 }, { name: 'c4' }];
    const r = verifyImageArchive(index, req({ nodes }));
    expect(r.problems).toEqual([expect.objectContaining({ code: 'image/too-big-for-ram', field: 'size', key: 'c[1-2]' })]);
    expect(r.problems[0]?.message).toContain('c[1-2] have 4.0 MiB');
    expect(r.problems[0]?.hint).toBe('give the nodes at least 1 GiB or shrink the image; otherwise the kernel prints Initramfs unpacking failed: write error and silently drops the overlays');
    expect(r.report.uncheckedNodes).toEqual(['c4']);
    expect(r.report.ramBytes).toBeGreaterThan(3 * 1024 * 1024);
  });

  it('image/size-over-declared: the real size beats the size the plan-time check trusted', async () => {
    const { index } = await builtEl10((t) => put(t, 'usr/share/big.bin', 'file', { content: new Uint8Array(3 * 1024 * 1024) }));
    expect(verifyImageArchive(index, req({ declaredSizeMiB: 2 })).problems).toEqual([expect.objectContaining({ code: 'image/size-over-declared', field: 'size' })]);
    expect(verifyImageArchive(index, req({ declaredSizeMiB: 4 })).problems).toEqual([]);
  });

  it('image/archive-bad-entry: an entry whose parent directory is missing or not a directory', async () => {
    const archive = await archiveBytes([
      { path: 'etc', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: 0 },
      { path: 'etc/passwd', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: new Uint8Array(Buffer.from('root:x:0:0::/:/bin/sh\n')) },
      { path: 'etc/passwd/oops', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0 },
      { path: 'usr/lib/modules/6.1.0/vmlinuz', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0 },
    ]);
    const r = verifyImageArchive(await readCpioIndex(chunked(archive)), req({ requires: [], nfs: false, slurm: false, drivers: [], pins: { users: {}, groups: {} }, nodes: [] }));
    expect(codes(r)).toEqual(['image/archive-bad-entry', 'image/no-kernel']);
    expect(r.problems[0]?.message).toContain('/etc/passwd/oops (its parent is a file)');
    expect(r.problems[0]?.message).toContain('/usr/lib/modules/6.1.0/vmlinuz (its parent directory is not in the archive before it)');
  });
});

describe('verifyImageArchive details', () => {
  it('estimates RAM as file data in 4 KiB pages (hard links once) plus a fixed overhead per entry', async () => {
    const archive = await archiveBytes([
      { path: 'a', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: 0 },
      { path: 'a/one', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: new Uint8Array(1) },
      { path: 'a/page', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: new Uint8Array(4097), linkKey: 'k' },
      { path: 'a/page2', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, data: new Uint8Array(4097), linkKey: 'k' },
      { path: 'a/l', type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 0, target: 'one' },
    ]);
    const r = verifyImageArchive(await readCpioIndex(chunked(archive)), req({ requires: [], nfs: false, slurm: false, drivers: [], pins: { users: {}, groups: {} }, nodes: [] }));
    expect(r.report.fileBytes).toBe(1 + 4097);
    expect(r.report.ramBytes).toBe(3 * PAGE_SIZE + 5 * ENTRY_OVERHEAD);
  });

  it('verifies a Debian image: kernel in /boot, drivers under usr/lib/modules through lib', async () => {
    const t = debianTree();
    expect((await applyPins(t, { users: { munge: 995 }, groups: { munge: 995 } })).problems).toEqual([]);
    const r = verifyImageArchive((await indexOf(t)).index, req({ nfs: false, drivers: ['virtio-net'] }));
    expect(r.problems).toEqual([]);
    expect(r.report.kernel).toEqual({ path: `boot/vmlinuz-${DEB_KVER}`, version: DEB_KVER });
    expect(r.report.drivers).toEqual({ 'virtio-net': `usr/lib/modules/${DEB_KVER}/kernel/drivers/net/virtio_net.ko` });
  });

  it('finds the kernel copied to /boot by copy_to_boot in the archive when /boot is not excluded', async () => {
    const t = el10Tree();
    placeKernelInBoot(t, findKernels(t)[0]!);
    await applyPins(t, MUNGE);
    const r = verifyImageArchive((await indexOf(t)).index, req());
    expect(r.problems).toEqual([]);
    expect(r.report.kernel?.path).toBe(`boot/vmlinuz-${EL10_KVER}`);
  });
});
