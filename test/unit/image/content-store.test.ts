import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyLayer } from '../../../src/image/tree/apply-layer.ts';
import { contentSha256, layerCache, rangeSink, readContent } from '../../../src/image/tree/content-store.ts';
import { createTree, lookup } from '../../../src/image/tree/fs-tree.ts';
import { sha256, tarLayer } from '../../fixtures/oci/build.ts';

const work = mkdtempSync(join(tmpdir(), 'herd-cache-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const hex = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

async function text(ref: Parameters<typeof readContent>[0]): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const c of readContent(ref)) parts.push(c);
  return Buffer.concat(parts).toString();
}

describe('layerCache', () => {
  it('makes a written layer visible under its digest only on commit; abort leaves nothing', async () => {
    const cache = layerCache(join(work, 'a'));
    const key = sha256(Buffer.from('abc'));
    const w = await cache.create();
    await w.write(Buffer.from('ab'));
    await w.write(Buffer.from('c'));
    expect(await cache.has(key)).toBe(false);
    await w.commit(key);
    expect(await cache.has(key)).toBe(true);
    expect(readFileSync(cache.path(key)).toString()).toBe('abc');
    expect(cache.path(key)).toBe(join(work, 'a', 'layers', 'sha256', `${key.slice(7)}.tar`));
    const w2 = await cache.create();
    await w2.write(Buffer.from('junk'));
    await w2.abort();
    expect(readdirSync(join(work, 'a', 'tmp'))).toEqual([]);
  });

  it('range refs from layer application point at the file data in the uncompressed tar', async () => {
    const tar = await tarLayer([{ name: 'a', content: 'first file' }, { name: 'dir', type: 'directory' }, { name: 'dir/b', content: Buffer.alloc(70_000, 0x41) }]);
    const path = join(work, 'layer.tar');
    writeFileSync(path, tar);
    const tree = createTree();
    await applyLayer(tree, [tar], { where: 'l', sink: rangeSink(path) });
    const a = lookup(tree, 'a')?.content;
    const b = lookup(tree, 'dir/b')?.content;
    expect(a).toMatchObject({ kind: 'range', path, size: 10 });
    expect(await text(a as NonNullable<typeof a>)).toBe('first file');
    expect(await contentSha256(b as NonNullable<typeof b>)).toBe(hex(Buffer.alloc(70_000, 0x41)));
  });

  it('a range whose file changed size is an error naming the file', async () => {
    const f = join(work, 'host-file');
    writeFileSync(f, 'abc');
    expect(await contentSha256({ kind: 'range', path: f, offset: 0, size: 3 })).toBe(hex('abc'));
    writeFileSync(f, 'ab');
    await expect(contentSha256({ kind: 'range', path: f, offset: 0, size: 3 })).rejects.toMatchObject({ code: 'io', file: f, message: expect.stringContaining('changed') });
    rmSync(f);
    await expect(contentSha256({ kind: 'range', path: f, offset: 0, size: 3 })).rejects.toMatchObject({ code: 'not-found' });
    expect(existsSync(f)).toBe(false);
  });
});
