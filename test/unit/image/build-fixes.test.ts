import { describe, expect, it } from 'vitest';
import { treeToCpioEntries } from '../../../src/image/build/tree-to-cpio.ts';
import { applyImageFixes, droppedXattrs } from '../../../src/image/build/fixes.ts';
import { applyLayer } from '../../../src/image/tree/apply-layer.ts';
import { inlineSink } from '../../../src/image/tree/content-store.ts';
import { createTree, lookup, type FsTree } from '../../../src/image/tree/fs-tree.ts';
import { readCpioIndex } from '../../../src/image/verify/read-cpio.ts';
import type { SourceRef } from '../../../src/diagnostics/diagnostic.ts';
import type { ImageFileModel, ImageModel } from '../../../src/spec/model.ts';
import { paxEntry, rawEntry, tarLayer, endOfArchive, T0, type LayerEntry } from '../../fixtures/oci/build.ts';
import { archiveBytes, chunked, el10Tree } from './fix-fixtures.ts';

const EPOCH = 1_650_000_000;
const at: SourceRef = { file: 'cluster.yaml', path: ['images', 'compute'] };

function image(files: readonly Omit<ImageFileModel, 'at'>[]): ImageModel {
  return {
    name: 'compute',
    source: 'oci:images/compute',
    sourceKind: 'oci',
    sourceRef: 'images/compute',
    kernel: { args: [], copyToBoot: false },
    pins: { users: {}, groups: {} },
    files: files.map((f) => ({ ...f, at })),
    requires: [],
    exclude: [],
    nodes: ['n1'],
    at: { self: at, source: at, kernel: at, pins: at, requires: at },
  };
}

const extra: Omit<ImageFileModel, 'at'>[] = [
  { path: '/opt/site/etc/app.conf', type: 'file', content: 'x\n', mode: 0o644, owner: 'root', group: 'root' },
  { path: '/etc/slurm/plugstack.conf.d', type: 'directory', mode: 0o755, owner: 'root', group: 'root' },
  { path: '/etc/slurm/link', type: 'symlink', target: 'plugstack.conf.d', mode: 0o777, owner: 'root', group: 'root' },
];
const ADDED = ['opt', 'opt/site', 'opt/site/etc', 'opt/site/etc/app.conf', 'etc/slurm/plugstack.conf.d', 'etc/slurm/link'];

describe('applyImageFixes: mtime of the files the spec adds', () => {
  it('is SOURCE_DATE_EPOCH, for the files and the parent directories herd creates, in the tree and in the packed archive', async () => {
    const t = el10Tree();
    const fixed = await applyImageFixes(t, image(extra), { sourceDateEpoch: EPOCH });
    expect(fixed.problems).toEqual([]);
    for (const p of ADDED) expect([p, lookup(t, p)?.mtime]).toEqual([p, EPOCH]);
    const index = await readCpioIndex(chunked(await archiveBytes(treeToCpioEntries(t, { sourceDateEpoch: EPOCH }))));
    const mtimes = new Map(index.entries.map((e) => [e.path, e.mtime]));
    for (const p of ADDED) expect([p, mtimes.get(p)]).toEqual([p, EPOCH]);
  });

  it('is 0 without SOURCE_DATE_EPOCH (deterministic either way)', async () => {
    const t = el10Tree();
    await applyImageFixes(t, image(extra));
    for (const p of ADDED) expect([p, lookup(t, p)?.mtime]).toEqual([p, 0]);
  });
});

async function layered(...layers: (readonly LayerEntry[] | Buffer)[]): Promise<FsTree> {
  const tree = createTree();
  for (const [i, l] of layers.entries()) await applyLayer(tree, [Buffer.isBuffer(l) ? l : await tarLayer(l)], { where: `layer ${i + 1}`, sink: inlineSink() });
  return tree;
}

describe('droppedXattrs', () => {
  // cap_net_raw+ep as `setcap` writes it (VFS_CAP_REVISION_2): binary, so it goes in a hand-encoded PAX record.
  const cap = new Uint8Array([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const pingLayer = (): Buffer =>
    Buffer.concat([
      rawEntry({ name: 'usr/', typeflag: '5', mode: 0o755 }),
      rawEntry({ name: 'usr/bin/', typeflag: '5', mode: 0o755 }),
      paxEntry({ path: 'usr/bin/ping', 'SCHILY.xattr.security.capability': cap }),
      rawEntry({ name: 'usr/bin/ping', data: 'ping' }),
      endOfArchive(),
    ]);

  it('warns with the paths whose xattrs the initramfs cannot carry, naming capabilities and how to restore them', async () => {
    const t = await layered(pingLayer(), [{ name: 'usr/bin/arping', content: 'arping', mtime: T0, pax: { 'SCHILY.xattr.user.note': 'x' } }, { name: 'usr/bin/plain', content: 'p' }]);
    expect(Object.keys(lookup(t, 'usr/bin/ping')?.xattrs ?? {})).toEqual(['security.capability']);
    const w = droppedXattrs(t);
    expect(w).toMatchObject({ code: 'image/xattrs-dropped' });
    expect(w?.message).toContain('2 files');
    expect(w?.message).toContain('/usr/bin/arping (user.note), /usr/bin/ping (security.capability)');
    expect(w?.message).not.toContain('/usr/bin/plain');
    expect(w?.message).toContain('cpio newc');
    expect(w?.hint).toMatch(/setcap/);
    expect(w?.hint).toMatch(/systemd-tmpfiles|oneshot/);
  });

  it('lists at most 10 paths, plus how many more', async () => {
    const entries: LayerEntry[] = Array.from({ length: 13 }, (_, i) => ({ name: `bin/t${String(i).padStart(2, '0')}`, content: 't', pax: { 'SCHILY.xattr.user.a': '1' } }));
    const w = droppedXattrs(await layered(entries));
    expect(w?.message).toContain('13 files');
    expect(w?.message).toContain('/bin/t09 (user.a) and 3 more');
    expect(w?.message).not.toContain('/bin/t10');
  });

  it('says nothing for an image without xattrs', async () => {
    expect(droppedXattrs(await layered([{ name: 'usr/bin/ping', content: 'ping' }]))).toBeUndefined();
    expect(droppedXattrs(el10Tree())).toBeUndefined();
  });
});
