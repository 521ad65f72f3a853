// Benchmark (issue #6): a no-change rebuild of an image (same input digests) is skipped via the build cache in under a
// second; printed next to the first build of the same OCI layout, as a ratio.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { writeLayout, tarLayer, type LayerEntry } from '../test/fixtures/oci/build.ts';
import { buildImage, isImageBuildFailure } from '../src/image/build/build-image.ts';
import type { ImageModel } from '../src/spec/model.ts';

const FILES = 30_000;
const dir = mkdtempSync(join(tmpdir(), 'herd-bench-rebuild-'));
try {
  // A layout shaped like a small distribution: a kernel where EL10 puts it, accounts, and many small files.
  const entries: LayerEntry[] = [
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nmunge:x:998:998::/run/munge:/sbin/nologin\n' },
    { name: 'etc/group', content: 'root:x:0:\nmunge:x:998:\n' },
    { name: 'usr/', type: 'directory' },
    { name: 'usr/lib/', type: 'directory' },
    { name: 'usr/lib/modules/', type: 'directory' },
    { name: 'usr/lib/modules/6.12.0-1.el10.x86_64/', type: 'directory' },
    { name: 'usr/lib/modules/6.12.0-1.el10.x86_64/vmlinuz', content: Buffer.alloc(8 << 20, 7), mode: 0o755 },
    { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
    { name: 'usr/share/', type: 'directory' },
  ];
  for (let d = 0; d < 100; d++) {
    entries.push({ name: `usr/share/d${d}/`, type: 'directory' });
    for (let f = 0; f < FILES / 100; f++) entries.push({ name: `usr/share/d${d}/f${f}.txt`, content: `file ${d}/${f}\n`.repeat(20) });
  }
  await writeLayout(join(dir, 'layout'), 'bench', { layers: [await tarLayer(entries)] });
  const im: ImageModel = {
    name: 'bench', source: 'oci:layout:bench', sourceKind: 'oci', sourceRef: 'layout:bench',
    kernel: { args: [], copyToBoot: false }, pins: { users: { munge: 995 }, groups: { munge: 995 } }, files: [], requires: [], exclude: [], nodes: ['n1'],
    at: { self: { file: 'x', path: [] }, source: { file: 'x', path: [] }, kernel: { file: 'x', path: [] }, pins: { file: 'x', path: [] }, requires: { file: 'x', path: [] } },
  };
  const opts = { specDir: dir, cacheDir: join(dir, 'cache'), workers: availableParallelism(), offline: true, sourceDateEpoch: 1_700_000_000,
    verify: { requires: [], nfs: false, slurm: false, drivers: [], pins: im.pins, nodes: [{ name: 'n1', memoryMiB: 4096 }] } };
  let t = performance.now();
  const first = await buildImage(im, opts);
  const firstMs = performance.now() - t;
  if (isImageBuildFailure(first)) throw new Error(first.message);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    t = performance.now();
    const again = await buildImage(im, opts);
    times.push(performance.now() - t);
    if (isImageBuildFailure(again) || !again.fromCache || again.gz.sha256 !== first.gz.sha256) throw new Error('rebuild was not served from the cache');
  }
  const rebuildMs = times.sort((a, b) => a - b)[2]!;
  console.log(`image rebuild: OCI layout, ${FILES} files, ${(first.img.size / 1048576).toFixed(0)} MiB cpio; median of 5`);
  console.log(`  first build              ${firstMs.toFixed(0).padStart(7)} ms`);
  console.log(`  no-change rebuild        ${rebuildMs.toFixed(0).padStart(7)} ms   ${(rebuildMs / firstMs).toFixed(3)}x the first build   budget < 1000 ms: ${rebuildMs < 1000 ? 'OK' : 'OVER'}`);
  process.exitCode = rebuildMs < 1000 ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
