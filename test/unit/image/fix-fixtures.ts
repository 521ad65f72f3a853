// Test fixtures for the image fixes and archive verification: in-memory trees shaped like real EL10 and Debian 12 images, and packing them to newc.
import { cpioNewc, type CpioEntry } from '../../../src/artifacts/cpio-newc.ts';
import { NO_XATTRS, createTree, lookup, newInode, setInode, walkTree, type FsTree, type Inode, type InodeType } from '../../../src/image/tree/fs-tree.ts';
import { readCpioIndex, type CpioIndex } from '../../../src/image/verify/read-cpio.ts';

export const EL10_KVER = '6.12.0-211.22.1.el10_2.x86_64';
export const DEB_KVER = '6.1.0-18-amd64';
const MTIME = 1_700_000_000;

const bytes = (s: string | Uint8Array): Uint8Array => (typeof s === 'string' ? new Uint8Array(Buffer.from(s, 'utf8')) : s);

/** Helpers to put entries in a tree with explicit metadata. */
export function put(tree: FsTree, path: string, type: InodeType, opts: { mode?: number; uid?: number; gid?: number; content?: string | Uint8Array; target?: string; dev?: [number, number] } = {}): Inode {
  const meta = { mode: opts.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: opts.uid ?? 0, gid: opts.gid ?? 0, mtime: MTIME, xattrs: NO_XATTRS };
  const extra: Partial<Inode> = {};
  if (type === 'file') {
    const data = bytes(opts.content ?? '');
    extra.size = data.length;
    if (data.length > 0) extra.content = { kind: 'bytes', data };
  }
  if (type === 'symlink') extra.linkname = opts.target ?? '';
  if (opts.dev) {
    extra.devMajor = opts.dev[0];
    extra.devMinor = opts.dev[1];
  }
  const inode = newInode(type, meta, extra);
  setInode(tree, path, inode);
  return inode;
}

export function link(tree: FsTree, path: string, existing: string): void {
  const inode = lookup(tree, existing);
  if (!inode) throw new Error(`no ${existing}`);
  setInode(tree, path, inode);
}

export const EL10_PASSWD = [
  'root:x:0:0:Super User:/root:/bin/bash',
  'bin:x:1:1:bin:/bin:/usr/sbin/nologin',
  'daemon:x:2:2:daemon:/sbin:/usr/sbin/nologin',
  'nobody:x:65534:65534:Kernel Overflow User:/:/usr/sbin/nologin',
  'slurm:x:202:202:SLURM resource manager:/etc/slurm:/sbin/nologin',
  'munge:x:998:998:Runs Uid \'N\' Gid Emporium:/var/run/munge:/sbin/nologin',
  'chrony:x:997:996:chrony system user:/var/lib/chrony:/sbin/nologin',
  '',
].join('\n');
export const EL10_GROUP = ['root:x:0:', 'bin:x:1:', 'daemon:x:2:', 'nobody:x:65534:', 'slurm:x:202:', 'munge:x:998:', 'chrony:x:996:', ''].join('\n');
export const EL10_SHADOW = ['root:!locked::0:99999:7:::', 'bin:*:19000:0:99999:7:::', 'daemon:*:19000:0:99999:7:::', 'nobody:*:19000:0:99999:7:::', 'slurm:!!:19500::::::', 'munge:!!:19500::::::', 'chrony:!!:19500::::::', ''].join('\n');
export const EL10_GSHADOW = ['root:::', 'bin:::', 'daemon:::', 'nobody:::', 'slurm:!::', 'munge:!::', 'chrony:!::', ''].join('\n');

/** Paths the munge package owns (998:998 before pinning) in the EL10 fixture. */
export const MUNGE_PATHS = ['etc/munge', 'etc/munge/munge.key', 'var/log/munge', 'run/munge', 'var/lib/munge', 'var/lib/munge/munge.seed', 'var/lib/munge/a/b/c/d/e/deep.state', 'var/lib/munge/a', 'var/lib/munge/a/b', 'var/lib/munge/a/b/c', 'var/lib/munge/a/b/c/d', 'var/lib/munge/a/b/c/d/e', 'var/lib/munge/seed.link', 'var/lib/munge/hardlink.seed'];

/**
 * An OpenHPC 4 / Rocky 10 compute image after `dnf install`: usr-merged (bin, sbin, lib, lib64 are symlinks), the
 * kernel only at usr/lib/modules/<ver>/vmlinuz, munge at 998 owning its directories, slurm at 202, static dev nodes.
 */
export function el10Tree(): FsTree {
  const t = createTree({ mode: 0o555 });
  for (const [name, target] of [['bin', 'usr/bin'], ['sbin', 'usr/sbin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64']] as const) put(t, name, 'symlink', { target });
  for (const d of ['usr', 'usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib64', 'usr/share', 'usr/share/doc', 'usr/share/doc/munge', 'etc', 'etc/slurm', 'etc/warewulf', 'var', 'var/log', 'var/lib', 'var/spool', 'var/tmp', 'run', 'tmp', 'proc', 'sys', 'dev', 'boot', 'root', 'home']) put(t, d, 'directory');
  put(t, 'boot', 'directory', { mode: 0o555 });
  put(t, 'proc', 'directory', { mode: 0o555 });
  put(t, 'sys', 'directory', { mode: 0o555 });
  put(t, 'tmp', 'directory', { mode: 0o1777 });
  put(t, 'etc/passwd', 'file', { content: EL10_PASSWD });
  put(t, 'etc/group', 'file', { content: EL10_GROUP });
  put(t, 'etc/shadow', 'file', { mode: 0o000, content: EL10_SHADOW });
  put(t, 'etc/gshadow', 'file', { mode: 0o000, content: EL10_GSHADOW });
  put(t, 'etc/warewulf/excludes', 'file', { content: '/boot/\n' });
  put(t, 'usr/bin/bash', 'file', { mode: 0o755, content: '#!bash\n' });
  put(t, 'usr/bin/sh', 'symlink', { target: 'bash' });
  put(t, 'usr/sbin/munged', 'file', { mode: 0o755, content: 'munged\n' });
  put(t, 'usr/sbin/slurmd', 'file', { mode: 0o755, content: 'slurmd\n' });
  put(t, 'usr/sbin/mount.nfs', 'file', { mode: 0o4755, content: 'mount.nfs\n' });
  put(t, 'usr/share/doc/munge/README', 'file', { content: 'munge docs\n' });
  // The kernel, only where the EL10 kernel package puts it.
  const mod = `usr/lib/modules/${EL10_KVER}`;
  put(t, `${mod}/vmlinuz`, 'file', { mode: 0o755, content: 'MZ fake bzImage' });
  put(t, `${mod}/modules.builtin`, 'file', { content: 'kernel/drivers/net/ethernet/intel/e1000/e1000.ko\nkernel/drivers/block/loop.ko\n' });
  put(t, `${mod}/modules.dep`, 'file', { content: 'kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz\n' });
  put(t, `${mod}/kernel/drivers/net/virtio_net.ko.xz`, 'file', { content: 'xz' });
  put(t, `${mod}/kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.xz`, 'file', { content: 'xz' });
  put(t, `boot/initramfs-${EL10_KVER}.img`, 'file', { mode: 0o600, content: 'initramfs' });
  put(t, `boot/symvers-${EL10_KVER}.xz`, 'file', { content: 'symvers' });
  // munge: 998:998 in the image, not the head node's 995.
  put(t, 'etc/munge', 'directory', { mode: 0o700, uid: 998, gid: 998 });
  put(t, 'etc/munge/munge.key', 'file', { mode: 0o400, uid: 998, gid: 998, content: 'key' });
  put(t, 'var/log/munge', 'directory', { mode: 0o700, uid: 998, gid: 998 });
  put(t, 'run/munge', 'directory', { mode: 0o755, uid: 998, gid: 998 });
  put(t, 'var/lib/munge', 'directory', { mode: 0o711, uid: 998, gid: 998 });
  put(t, 'var/lib/munge/munge.seed', 'file', { mode: 0o600, uid: 998, gid: 998, content: 'seed' });
  for (const d of ['a', 'a/b', 'a/b/c', 'a/b/c/d', 'a/b/c/d/e']) put(t, `var/lib/munge/${d}`, 'directory', { uid: 998, gid: 998 });
  put(t, 'var/lib/munge/a/b/c/d/e/deep.state', 'file', { uid: 998, gid: 998, content: 'deep' });
  put(t, 'var/lib/munge/seed.link', 'symlink', { uid: 998, gid: 998, target: 'munge.seed' });
  link(t, 'var/lib/munge/hardlink.seed', 'var/lib/munge/munge.seed');
  // A file that only the munge group owns, and one that only the munge user owns.
  put(t, 'var/spool/group-only', 'file', { uid: 0, gid: 998, content: 'g' });
  put(t, 'var/spool/user-only', 'file', { uid: 998, gid: 0, content: 'u' });
  put(t, 'var/spool/slurmd', 'directory', { uid: 202, gid: 202 });
  // Static device nodes, as some image builds leave them.
  put(t, 'dev/console', 'char', { mode: 0o600, dev: [5, 1] });
  put(t, 'dev/null', 'char', { mode: 0o666, dev: [1, 3] });
  put(t, 'dev/zero', 'char', { mode: 0o666, dev: [1, 5] });
  put(t, 'dev/shm', 'directory', { mode: 0o1777 });
  put(t, 'dev/shm/leftover', 'file', { content: 'x' });
  return t;
}

/** A Debian 12 image with linux-image-amd64: kernel in /boot (0644), modules under usr/lib/modules, /vmlinuz symlink. */
export function debianTree(): FsTree {
  const t = createTree();
  for (const [name, target] of [['bin', 'usr/bin'], ['sbin', 'usr/sbin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64']] as const) put(t, name, 'symlink', { target });
  for (const d of ['usr', 'usr/bin', 'usr/sbin', 'usr/lib', 'etc', 'var', 'var/log', 'boot', 'dev', 'proc', 'sys', 'run', 'tmp']) put(t, d, 'directory');
  put(t, 'etc/passwd', 'file', { content: 'root:x:0:0:root:/root:/bin/bash\nmunge:x:104:110::/nonexistent:/usr/sbin/nologin\nslurm:x:64030:64030::/nonexistent:/usr/sbin/nologin\n' });
  put(t, 'etc/group', 'file', { content: 'root:x:0:\nmunge:x:110:\nslurm:x:64030:\n' });
  put(t, `boot/vmlinuz-${DEB_KVER}`, 'file', { mode: 0o644, content: 'MZ debian kernel' });
  put(t, 'vmlinuz', 'symlink', { target: `boot/vmlinuz-${DEB_KVER}` });
  put(t, `usr/lib/modules/${DEB_KVER}/modules.builtin`, 'file', { content: 'kernel/drivers/net/loopback.ko\n' });
  put(t, `usr/lib/modules/${DEB_KVER}/kernel/drivers/net/virtio_net.ko`, 'file', { content: 'ko' });
  put(t, 'usr/sbin/slurmd', 'file', { mode: 0o755, content: 'slurmd' });
  put(t, 'usr/sbin/munged', 'file', { mode: 0o755, content: 'munged' });
  put(t, 'usr/bin/bash', 'file', { mode: 0o755, content: 'bash' });
  put(t, 'var/log/munge', 'directory', { mode: 0o700, uid: 104, gid: 110 });
  return t;
}

/** The tree as newc entries, in walk order (parents first), hard links sharing a link key. */
export function treeToEntries(tree: FsTree): CpioEntry[] {
  const out: CpioEntry[] = [];
  for (const e of walkTree(tree)) {
    const i = e.inode;
    const base = { path: e.path, mode: i.mode, uid: i.uid, gid: i.gid, mtime: i.mtime };
    if (i.type === 'file') {
      const data = i.content?.kind === 'bytes' ? i.content.data : new Uint8Array(0);
      out.push({ ...base, type: 'file', data, ...(e.nlink > 1 ? { linkKey: String(e.ino) } : {}) });
    } else if (i.type === 'symlink') out.push({ ...base, type: 'symlink', target: i.linkname ?? '' });
    else if (i.type === 'char' || i.type === 'block') out.push({ ...base, type: i.type, rdevMajor: i.devMajor ?? 0, rdevMinor: i.devMinor ?? 0 });
    else out.push({ ...base, type: i.type });
  }
  return out;
}

export async function archiveBytes(entries: readonly CpioEntry[]): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of cpioNewc(entries).chunks) parts.push(c);
  return Buffer.concat(parts);
}

export async function* chunked(buf: Uint8Array, size = 777): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, Math.min(buf.length, i + size));
}

/** Pack the tree with the real writer and read the archive back. */
export async function indexOf(tree: FsTree): Promise<{ index: CpioIndex; archive: Buffer }> {
  const archive = await archiveBytes(treeToEntries(tree));
  return { index: await readCpioIndex(chunked(archive)), archive };
}

export function text(tree: FsTree, path: string): string {
  const i = lookup(tree, path);
  if (i?.type !== 'file') throw new Error(`${path} is not a file`);
  return i.content?.kind === 'bytes' ? Buffer.from(i.content.data).toString('utf8') : '';
}
