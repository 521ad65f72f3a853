// The bound on unpacking: refused before a too-big entry's data is read, with the late check's message; measured as the
// late check measures the built archive, so replacements, whiteouts, hard links and excludes do not count twice or at all.
import { describe, expect, it } from 'vitest';
import { applyLayer } from '../../../src/image/tree/apply-layer.ts';
import { inlineSink } from '../../../src/image/tree/content-store.ts';
import { createTree } from '../../../src/image/tree/fs-tree.ts';
import { measureTree, UnpackBudget, WORK_FACTOR } from '../../../src/image/tree/unpack-budget.ts';
import { excludeFromTree } from '../../../src/image/fix/excludes.ts';
import { ENTRY_OVERHEAD, unpackLimit } from '../../../src/image/verify/ram-check.ts';
import { verifyImageArchive } from '../../../src/image/verify/verify-image.ts';
import { MAX_METADATA_BYTES, readAll } from '../../../src/image/source/blob-stream.ts';
import { rawHeader, tarLayer } from '../../fixtures/oci/build.ts';
import { EL10_KVER, el10Tree, indexOf } from './fix-fixtures.ts';

const MIB = 1 << 20;
const nodes = (memoryMiB: number) => ({ nodes: [{ name: 'n1', memoryMiB }, { name: 'n2' }] });

/** A tar stream whose file data throws if anyone pulls it: the refusal must come from the header alone. */
function* headerOnly(name: string, size: number): Generator<Uint8Array> {
  yield rawHeader({ name, typeflag: '0' }, size);
  throw new Error('the data of a refused entry was read');
}

describe('UnpackBudget', () => {
  it('refuses an entry from its header, before its data is read, with the late check\'s problem', async () => {
    const budget = new UnpackBudget(unpackLimit(nodes(64)));
    const err = await applyLayer(createTree(), headerOnly('var/big', 200 * MIB), { where: 'layer 1/1 x.tar.gz', sink: inlineSink(), budget }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'too-big', problems: [expect.objectContaining({ code: 'image/too-big-for-ram', field: 'size', key: 'n1' })] });
    expect((err as Error).message).toMatch(/^the image takes at least 200\.0 MiB of RAM unpacked by layer 1\/1 x\.tar\.gz: var\/big, where herd stopped reading it .*n1 has 64\.0 MiB/);
  });

  it('uses the declared size when it is the smaller limit', async () => {
    const budget = new UnpackBudget(unpackLimit({ ...nodes(4096), declaredSizeMiB: 8 }));
    await expect(applyLayer(createTree(), headerOnly('big', 9 * MIB), { where: 'l', sink: inlineSink(), budget })).rejects.toMatchObject({
      problems: [expect.objectContaining({ code: 'image/size-over-declared', message: expect.stringContaining('more than its declared size 8.0 MiB') })],
    });
  });

  it('does not count a replaced file twice, nor a hard link, nor what a whiteout removed', async () => {
    const budget = new UnpackBudget(unpackLimit(nodes(8))); // 4 MiB
    const tree = createTree();
    const file = Buffer.alloc(3 * MIB, 1);
    const apply = async (where: string, entries: Parameters<typeof tarLayer>[0]) => applyLayer(tree, [await tarLayer(entries)], { where, sink: inlineSink(), budget });
    await apply('l1', [{ name: 'a', content: file }, { name: 'b', type: 'link', linkname: 'a' }]);
    await apply('l2', [{ name: '.wh.b', content: '' }, { name: 'a', content: file }, { name: 'a', content: file }]);
    await apply('l3', [{ name: '.wh.a', content: '' }, { name: 'c', content: file }]);
    expect(measureTree(tree, []).fileBytes).toBe(3 * MIB);
    // A hard link keeps the old data alive when its first name is replaced: that is two files, and too much.
    await apply('l4', [{ name: 'd', type: 'link', linkname: 'c' }]);
    await expect(apply('l5', [{ name: 'c', content: file }])).rejects.toMatchObject({ code: 'too-big' });
  });

  it('leaves out what the spec excludes and the contents of dev, proc and sys', async () => {
    const layer = await tarLayer([
      { name: 'usr/share/doc/big', content: Buffer.alloc(5 * MIB) },
      { name: 'dev/big', content: Buffer.alloc(5 * MIB) },
      { name: 'usr/bin/sh', content: '#!' },
    ]);
    const apply = (excludes: string[]) => applyLayer(createTree(), [layer], { where: 'l', sink: inlineSink(), budget: new UnpackBudget(unpackLimit(nodes(8)), excludes) });
    await expect(apply(['/usr/share/doc/'])).resolves.toBeDefined();
    await expect(apply(['usr/share/*'])).resolves.toBeDefined();
    await expect(apply([])).rejects.toMatchObject({ code: 'too-big' });
    // Without spec excludes, the contents of dev are still left out (but not a top-level file of that name).
    const devOnly = (name: string) => tarLayer([{ name, content: Buffer.alloc(10 * MIB) }]).then((l) => applyLayer(createTree(), [l], { where: 'l', sink: inlineSink(), budget: new UnpackBudget(unpackLimit(nodes(8)), []) }));
    await expect(devOnly('dev/big')).resolves.toBeDefined();
    await expect(devOnly('devbig')).rejects.toMatchObject({ code: 'too-big' });
    expect(measureTree(el10Tree(), ['usr/lib/modules']).ramBytes).toBeLessThan(measureTree(el10Tree(), []).ramBytes);
  });

  it('measures a tree as the late check measures its built archive', async () => {
    const tree = el10Tree();
    excludeFromTree(tree, [], []);
    const { index } = await indexOf(tree);
    const late = verifyImageArchive(index, { requires: [], nfs: false, slurm: false, drivers: [], pins: { users: {}, groups: {} }, nodes: [], kernelVersion: EL10_KVER }).report;
    const early = measureTree(el10Tree(), []);
    expect(early.fileBytes).toBe(late.fileBytes);
    expect(late.ramBytes - early.ramBytes).toBeGreaterThanOrEqual(0);
    expect(late.ramBytes - early.ramBytes).toBeLessThanOrEqual(ENTRY_OVERHEAD);
  });

  it('bounds the decompressed bytes even when the tree does not grow (one path rewritten over and over)', () => {
    const budget = new UnpackBudget(unpackLimit(nodes(64)));
    expect(() => {
      for (let i = 0; i <= WORK_FACTOR * 32; i++) budget.consumed(MIB, 'layer 1/1');
    }).toThrow(expect.objectContaining({ code: 'too-big', message: expect.stringContaining('herd stopped reading there') }));
  });

  it('has a ceiling when nothing declares memory or size', () => {
    expect(unpackLimit({ nodes: [{ name: 'n1' }] }).bytes).toBe(64 * 1024 * MIB);
  });
});


describe('metadata reads', () => {
  it('stop past MAX_METADATA_BYTES: an index.json or manifest.json is never read whole into memory when it is huge', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      const chunk = new Uint8Array(1 << 20);
      for (;;) {
        pulled += chunk.length;
        yield chunk;
      }
    }
    await expect(readAll(endless(), 'layout/index.json')).rejects.toMatchObject({ code: 'bad-layout', message: expect.stringContaining('layout/index.json is larger than') });
    expect(pulled).toBeLessThanOrEqual(MAX_METADATA_BYTES + (1 << 20));
  });
});
