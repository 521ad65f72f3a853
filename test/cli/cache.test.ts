// `herd cache [spec] [--prune]`: sizes by part, and pruning built images the spec no longer uses, never following a symlink.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeStubRootfs } from '../fixtures/stub-rootfs.ts';
import { runHerd } from '../fixtures/run-herd.ts';

const ENV = { SOURCE_DATE_EPOCH: '1700000000', NO_COLOR: '1' };

/** A spec folder with a dir: rootfs just big enough for the image checks. */
function writeSpec(): string {
  const dir = mkdtempSync(join(tmpdir(), 'herd-cache-'));
  const put = (rel: string, body: string | Buffer, mode = 0o644): void => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), body, { mode });
  };
  writeStubRootfs(join(dir, 'rootfs'));
  put(
    'cluster.yaml',
    'apiVersion: herd.dev/v1alpha1\nkind: Cluster\nname: tiny\nwarewulf: { version: "4.6.5", layout: upstream }\nhead: { name: head, address: 10.1.0.1 }\n' +
      'network: { cidr: 10.1.0.0/16, interface: eth0 }\nimages:\n  img:\n    source: dir:rootfs\n    requires: [slurmd, munged]\n' +
      'defaults: { image: img, memory: 4GiB, cpus: 2 }\nnodes:\n  n1: { address: 10.1.1.1, mac: "02:00:00:00:00:01" }\nslurm:\n  partitions:\n    all: { nodes: n1, default: true }\n',
  );
  return dir;
}

const keysOf = (dir: string, image = 'img'): string[] => (existsSync(join(dir, '.herd/tiny/cache/images', image)) ? readdirSync(join(dir, '.herd/tiny/cache/images', image)).sort() : []);

describe('herd cache', () => {
  it('says when there is no cache yet', async () => {
    const dir = writeSpec();
    const r = await runHerd(['cache'], dir, { env: ENV });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/no build cache yet/);
    expect(existsSync(join(dir, '.herd'))).toBe(false);
  });

  it('shows sizes by part, and --prune keeps the current build and removes old ones, gone images and killed builds', async () => {
    const dir = writeSpec();
    expect((await runHerd(['cache', '--prune'], dir, { env: ENV })).code).toBe(0);
    const [first] = keysOf(dir);
    expect(first).toMatch(/^[0-9a-f]{16,}$/);

    const sizes = await runHerd(['cache', '--format', 'json'], dir, { env: ENV });
    expect(sizes.code).toBe(0);
    const doc = JSON.parse(sizes.stdout) as { totalBytes: number; parts: Record<string, number>; images: { image: string; key: string; bytes: number }[] };
    expect(doc.parts.images).toBeGreaterThan(8192);
    expect(doc.totalBytes).toBeGreaterThanOrEqual(doc.parts.images!);
    expect(doc.images).toEqual([{ image: 'img', key: first, bytes: doc.parts.images }]);
    const text = await runHerd(['cache'], dir, { env: ENV });
    expect(text.stdout).toMatch(/^\.herd\/tiny\/cache: [\d.]+ KiB\n {2}images /);

    // The rootfs changes: the next compile builds a new key and the old folder is no longer used.
    writeFileSync(join(dir, 'rootfs/etc/motd'), 'hello\n');
    // A folder of an image the spec no longer has, one of a build killed long ago, and a symlink out of an old build.
    const outside = join(dir, 'outside.txt');
    writeFileSync(outside, 'keep me\n');
    mkdirSync(join(dir, '.herd/tiny/cache/images/gone/abc'), { recursive: true });
    writeFileSync(join(dir, '.herd/tiny/cache/images/gone/abc/image.img'), 'x');
    mkdirSync(join(dir, '.herd/tiny/cache/images/img/dead.tmp-999999999'));
    symlinkSync(outside, join(dir, '.herd/tiny/cache/images/img', first!, 'link'));
    // A symlink in the cache is refused by the compile itself (it would redirect writes), so prune stops before removing anything.
    const refused = await runHerd(['cache', '--prune'], dir, { env: ENV });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/symlink/);
    expect(keysOf(dir)).toContain(first);
    expect(readFileSync(outside, 'utf8')).toBe('keep me\n');
    unlinkSync(join(dir, '.herd/tiny/cache/images/img', first!, 'link'));

    const pruned = await runHerd(['cache', '--prune'], dir, { env: ENV });
    expect(pruned.code, pruned.stderr).toBe(0);
    const now = keysOf(dir);
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(first);
    expect(existsSync(join(dir, '.herd/tiny/cache/images/gone/abc'))).toBe(false);
    // The killed build's folder went too (the build sweeps those of processes that are gone).
    expect(existsSync(join(dir, '.herd/tiny/cache/images/img/dead.tmp-999999999'))).toBe(false);
    expect(pruned.stdout).toContain(`removed images/img/${first}`);
    expect(pruned.stdout).toContain('removed images/gone/abc');
    expect(pruned.stdout).toMatch(/pruned 2 built image folder/);
    expect(readFileSync(outside, 'utf8')).toBe('keep me\n');

    const again = await runHerd(['cache', '--prune'], dir, { env: ENV });
    expect(again.stdout).toMatch(/pruned nothing/);
    expect(keysOf(dir)).toEqual(now);
  });

  it('--prune keeps every folder of an image that is pending this run', async () => {
    const dir = writeSpec();
    mkdirSync(join(dir, '.herd/tiny/cache/images/img/old'), { recursive: true });
    writeFileSync(join(dir, 'cluster.yaml'), readFileSync(join(dir, 'cluster.yaml'), 'utf8').replace('source: dir:rootfs', 'source: docker://quay.io/example/never-pulled:1'));
    const r = await runHerd(['cache', '--prune'], dir, { env: ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/kept images\/img\/old \(image img is pending/);
    expect(existsSync(join(dir, '.herd/tiny/cache/images/img/old'))).toBe(true);
  });

  it('--prune on an invalid spec removes nothing', async () => {
    const dir = writeSpec();
    mkdirSync(join(dir, '.herd/tiny/cache/images/img/old'), { recursive: true });
    writeFileSync(join(dir, 'cluster.yaml'), readFileSync(join(dir, 'cluster.yaml'), 'utf8').replace('cpus: 2', 'cpus: two'));
    const r = await runHerd(['cache', '--prune'], dir, { env: ENV });
    expect(r.code).toBe(1);
    expect(existsSync(join(dir, '.herd/tiny/cache/images/img/old'))).toBe(true);
  });
});
