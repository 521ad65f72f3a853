// build --out and tree artifacts (an image unpacked into its chroot): a no-change build reuses the previous build's tree
// (moved, the same inode) instead of unpacking it again, and only while its marker stamp (hash, inode, mtime, ctime) holds.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cpioNewc } from '../../../src/artifacts/cpio-newc.ts';
import { sha256Hex, textArtifact, treeSha256, type Artifact } from '../../../src/artifacts/artifact.ts';
import { checkOutDir, OUT_MARKER, writeOutDir } from '../../../src/cli/out-dir.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function tree(files: Record<string, string>): Promise<Artifact> {
  const parts: Uint8Array[] = [];
  const entries = [
    { path: 'etc', type: 'directory' as const, mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000 },
    ...Object.entries(files).map(([p, body]) => ({ path: `etc/${p}`, type: 'file' as const, mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, data: Buffer.from(body) })),
  ];
  for await (const c of cpioNewc(entries).chunks) parts.push(c);
  const bytes = Buffer.concat(parts);
  const archive = { sha256: sha256Hex(bytes), size: bytes.length };
  return {
    path: 'var/lib/warewulf/chroots/x/rootfs', kind: 'tree', mode: 0o755, owner: 'root', group: 'root', nodes: [], impact: { class: 'reboot' },
    produce: async function* () { yield bytes; }, sha256: treeSha256(archive, []), size: bytes.length, tree: { archive, extras: [] },
  };
}

describe('build --out with a tree artifact', () => {
  it('reuses an unchanged tree from the previous build, and rewrites it when it changed there or in the spec', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'herd-out-trees-'));
    dirs.push(cwd);
    const ctx = { cwd, env: {}, specDir: join(cwd, 'spec') };
    const chroot = join(cwd, 'out/var/lib/warewulf/chroots/x/rootfs');
    const conf = textArtifact({ path: 'etc/a.conf', text: 'a\n', impact: { class: 'none' } });
    await writeOutDir(checkOutDir('out', ctx), [conf, await tree({ hosts: 'one\n' })]);
    expect(readFileSync(join(chroot, 'etc/hosts'), 'utf8')).toBe('one\n');
    expect(JSON.parse(readFileSync(join(cwd, 'out', OUT_MARKER), 'utf8')).trees['var/lib/warewulf/chroots/x/rootfs'].sha256).toBe((await tree({ hosts: 'one\n' })).sha256);
    const ino = statSync(chroot).ino;

    await writeOutDir(checkOutDir('out', ctx), [conf, await tree({ hosts: 'one\n' })]);
    expect(statSync(chroot).ino).toBe(ino); // moved over, not unpacked again
    expect(readFileSync(join(chroot, 'etc/hosts'), 'utf8')).toBe('one\n');

    writeFileSync(join(chroot, 'stray'), 'added by hand\n'); // changes the top folder's mtime and ctime
    await writeOutDir(checkOutDir('out', ctx), [conf, await tree({ hosts: 'one\n' })]);
    expect(existsSync(join(chroot, 'stray'))).toBe(false);
    expect(statSync(chroot).ino).not.toBe(ino);

    await writeOutDir(checkOutDir('out', ctx), [conf, await tree({ hosts: 'two\n' })]);
    expect(readFileSync(join(chroot, 'etc/hosts'), 'utf8')).toBe('two\n');
  });

  it('puts a borrowed tree back when the build fails, so the previous build stays whole', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'herd-out-trees-'));
    dirs.push(cwd);
    const ctx = { cwd, env: {}, specDir: join(cwd, 'spec') };
    const chroot = join(cwd, 'out/var/lib/warewulf/chroots/x/rootfs');
    await writeOutDir(checkOutDir('out', ctx), [await tree({ hosts: 'one\n' })]);
    const broken = { ...textArtifact({ path: 'etc/b.conf', text: 'b\n', impact: { class: 'none' } }), sha256: '0'.repeat(64) };
    await expect(writeOutDir(checkOutDir('out', ctx), [await tree({ hosts: 'one\n' }), broken])).rejects.toBeDefined();
    expect(readFileSync(join(chroot, 'etc/hosts'), 'utf8')).toBe('one\n');
  });

  it('reuses an unchanged file (not produced again), and writes it again when it changed there or in the spec', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'herd-out-files-'));
    dirs.push(cwd);
    const ctx = { cwd, env: {}, specDir: join(cwd, 'spec') };
    let produced = 0;
    const lazy = (body: string): Artifact => {
      const bytes = Buffer.from(body);
      return { path: 'var/lib/warewulf/provision/overlays/n1/__SYSTEM__.img', kind: 'overlay', mode: 0o644, owner: 'root', group: 'root', nodes: ['n1'], impact: { class: 'reboot' }, sha256: sha256Hex(bytes), size: bytes.length, produce: async function* () { produced++; yield bytes; } };
    };
    const file = join(cwd, 'out/var/lib/warewulf/provision/overlays/n1/__SYSTEM__.img');
    const conf = textArtifact({ path: 'etc/a.conf', text: 'a\n', impact: { class: 'none' } });
    // A file is reused only when its ctime is older than the marker's mtime (file timestamps are coarse, so a file and the
    // marker written in the same tick do not qualify). In a real build the marker comes last; here it is dated a minute on
    // before each build that may reuse, instead of waiting for the clock.
    const markerLater = () => {
      const marker = join(cwd, 'out', OUT_MARKER);
      const t = new Date(Date.now() + 60_000);
      utimesSync(marker, t, t);
    };
    await writeOutDir(checkOutDir('out', ctx), [conf, lazy('one')]);
    expect(produced).toBe(1);
    markerLater();
    const ino = statSync(file).ino;
    await writeOutDir(checkOutDir('out', ctx), [conf, lazy('one')]);
    expect(produced).toBe(1); // moved over from the previous build, not produced again
    expect(statSync(file).ino).toBe(ino);
    expect(readFileSync(file, 'utf8')).toBe('one');

    writeFileSync(file, 'two'); // same size, edited by hand: its stat no longer the recorded one
    markerLater();
    await writeOutDir(checkOutDir('out', ctx), [conf, lazy('one')]);
    expect(produced).toBe(2);
    expect(readFileSync(file, 'utf8')).toBe('one');

    markerLater();
    await writeOutDir(checkOutDir('out', ctx), [conf, lazy('uno')]); // another hash wanted
    expect(produced).toBe(3);
    expect(readFileSync(file, 'utf8')).toBe('uno');

    // A file whose ctime is not older than the marker (here the marker dated an hour back) is not trusted: written again.
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(join(cwd, 'out', OUT_MARKER), past, past);
    await writeOutDir(checkOutDir('out', ctx), [conf, lazy('uno')]);
    expect(produced).toBe(4);
  });
});
