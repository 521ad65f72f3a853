// Integration: what herd refuses when it builds images from a spec it cannot trust (CI runs it on pull requests, heads run it
// as root): sources outside the spec folder, files swapped during a build, cache keys blind to content, decompression
// bombs, and secrets placed into world-readable images. Every race is driven by a hook, never by timing.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentEntries, type Artifact } from '../../src/artifacts/artifact.ts';
import type { Diagnostic } from '../../src/diagnostics/diagnostic.ts';
import { buildClusterImages } from '../../src/image/build/build-images.ts';
import { openImageSource } from '../../src/image/source/open-image-source.ts';
import { compileSpecAt, type CompileResult } from '../../src/pipeline.ts';
import { planChanges } from '../../src/plan/plan-changes.ts';
import { renderPlanText } from '../../src/plan/render-text.ts';
import { rawHeader, endOfArchive, tarLayer, tarOfFiles, writeLayout } from '../fixtures/oci/build.ts';

const work = mkdtempSync(join(tmpdir(), 'herd-image-safety-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Content of host files outside every spec folder: it must never reach an image, the cache or a message. */
const SECRET = `OUTSIDE-${randomUUID()}`;
const KVER = '6.1.0-1-amd64';
const outside = join(work, 'outside');

function writeRootfs(dir: string, hostname = 'node\n'): void {
  mkdirSync(join(dir, 'boot'), { recursive: true });
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(join(dir, `boot/vmlinuz-${KVER}`), Buffer.alloc(8192, 0x4b));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nmunge:x:995:995::/:/bin/false\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nmunge:x:995:\n');
  writeFileSync(join(dir, 'etc/hostname'), hostname);
}

async function rootfsTar(hostname: string): Promise<Buffer> {
  return tarLayer([
    { name: 'boot', type: 'directory' },
    { name: `boot/vmlinuz-${KVER}`, content: Buffer.alloc(8192, 0x4b) },
    { name: 'etc', type: 'directory' },
    { name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
    { name: 'etc/group', content: 'root:x:0:\n' },
    { name: 'etc/hostname', content: hostname },
  ]);
}

let specN = 0;
interface SpecOptions {
  readonly image?: string;
  readonly memory?: string;
}
/** A fresh spec folder holding a dir: rootfs at rootfs/, with `source` and extra image settings. */
function newSpec(source: string, o: SpecOptions = {}): string {
  const spec = join(work, `case-${specN++}`, 'spec');
  writeRootfs(join(spec, 'rootfs'));
  writeSpec(spec, source, o);
  return spec;
}

function writeSpec(spec: string, source: string, o: SpecOptions = {}): void {
  writeFileSync(
    join(spec, 'cluster.yaml'),
    `apiVersion: herd.dev/v1alpha1
kind: Cluster
name: safe
warewulf: { version: "4.6.5", layout: upstream }
head: { name: head, address: 10.9.0.1 }
network: { cidr: 10.9.0.0/24, interface: eth0 }
images:
  img:
    source: ${JSON.stringify(source)}
${o.image ?? ''}
defaults: { image: img, memory: ${o.memory ?? '512MiB'}, cpus: 1 }
nodes:
  n1: { mac: "52:54:00:12:34:56", address: 10.9.0.2 }
`,
  );
}

const cacheOf = (spec: string): string => join(spec, '..', 'cache');
const compile = (spec: string, cacheDir = cacheOf(spec)): Promise<CompileResult> => compileSpecAt(spec, work, { sourceDateEpoch: 1_700_000_000, cacheDir, workers: 2 });
const artifact = (r: CompileResult, suffix: string): Artifact | undefined => r.artifacts?.artifacts.find((a) => a.path.endsWith(suffix));
const errors = (ds: readonly Diagnostic[]): Diagnostic[] => ds.filter((d) => d.severity === 'error');

/** Every regular file below `dir`, relative. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}

const holdsSecret = (dir: string): string[] => filesUnder(dir).filter((f) => readFileSync(join(dir, f)).includes(SECRET));

beforeAll(async () => {
  writeRootfs(join(outside, 'rootfs'), `${SECRET}\n`);
  writeFileSync(join(outside, 'secret.txt'), `${SECRET}\n`);
  mkdirSync(join(outside, 'etc'));
  writeFileSync(join(outside, 'etc/hostname'), `${SECRET}\n`);
  writeFileSync(join(outside, 'rootfs.tar'), await rootfsTar(`${SECRET}\n`));
  await writeLayout(join(outside, 'layout'), 'v1', { layers: [await rootfsTar(`${SECRET}\n`)] });
  const layoutFiles = filesUnder(join(outside, 'layout')).map((name) => ({ name, data: readFileSync(join(outside, 'layout', name)) }));
  writeFileSync(join(outside, 'layout.tar'), await tarOfFiles(layoutFiles));
});

describe('image sources must be inside the spec folder', () => {
  it.each([
    'dir:/etc',
    `dir:${join(outside, 'rootfs')}`,
    'dir:../../outside/rootfs',
    'tar:../../outside/rootfs.tar',
    `oci:${join(outside, 'layout')}:v1`,
    'oci-archive:../../outside/layout.tar:v1',
    'docker-archive:../../outside/layout.tar',
  ])('refuses %s, naming the source, and quotes nothing of it', async (ref) => {
    const spec = newSpec(ref);
    await expect(openImageSource(ref, { baseDir: spec })).rejects.toMatchObject({ code: 'outside-spec-folder', message: expect.stringContaining(ref) });
    const r = await compile(spec);
    const d = errors(r.diagnostics).find((x) => x.rule === 'image/build-failed');
    expect(d?.message).toContain(ref);
    expect(d?.message).toMatch(/must be inside the spec folder/);
    expect(JSON.stringify(r.diagnostics)).not.toContain(SECRET);
    expect(r.artifacts).toBeUndefined();
    expect(holdsSecret(cacheOf(spec))).toEqual([]);
  });

  it.each([
    ['a dir: source that is a symlink to a host directory', 'dir:rootfs-link', (s: string) => symlinkSync(join(outside, 'rootfs'), join(s, 'rootfs-link'))],
    ['a dir: source that is a relative symlink climbing out', 'dir:rel-link', (s: string) => symlinkSync('../../outside/rootfs', join(s, 'rel-link'))],
    ['a source below a symlinked folder', 'dir:images/rootfs', (s: string) => symlinkSync(outside, join(s, 'images'))],
    ['a tar: source that is a symlink to a host file', 'tar:rootfs.tar', (s: string) => symlinkSync(join(outside, 'rootfs.tar'), join(s, 'rootfs.tar'))],
    ['an oci: source that is a symlink to a host layout', 'oci:layout-link:v1', (s: string) => symlinkSync(join(outside, 'layout'), join(s, 'layout-link'))],
  ])('refuses %s', async (_name, ref, plant) => {
    const spec = newSpec(ref);
    plant(spec);
    await expect(openImageSource(ref, { baseDir: spec })).rejects.toMatchObject({ code: 'outside-spec-folder', message: expect.stringMatching(/must be inside the spec folder/) });
    const r = await compile(spec);
    expect(errors(r.diagnostics).map((d) => d.rule)).toEqual(['image/build-failed']);
    expect(JSON.stringify(r.diagnostics)).not.toContain(SECRET);
    expect(holdsSecret(cacheOf(spec))).toEqual([]);
  });

  it('never follows a symlink inside an OCI layout that leads out (index.json, a blob)', async () => {
    for (const victim of ['index.json', 'blob']) {
      const spec = newSpec('oci:layout:v1');
      await writeLayout(join(spec, 'layout'), 'v1', { layers: [await rootfsTar('node\n')] });
      const blobs = join(spec, 'layout/blobs/sha256');
      const target = victim === 'index.json' ? join(spec, 'layout/index.json') : join(blobs, readdirSync(blobs)[0] as string);
      rmSync(target);
      symlinkSync(join(outside, 'secret.txt'), target);
      const r = await compile(spec);
      expect(errors(r.diagnostics).map((d) => d.rule), victim).toEqual(['image/build-failed']);
      expect(JSON.stringify(r.diagnostics), victim).not.toContain(SECRET);
    }
  });

  it('keeps symlinks inside a dir: rootfs as symlinks, never reading their targets', async () => {
    const spec = newSpec('dir:rootfs');
    symlinkSync(join(outside, 'secret.txt'), join(spec, 'rootfs/etc/shadow'));
    const r = await compile(spec);
    expect(errors(r.diagnostics)).toEqual([]);
    expect(contentEntries(artifact(r, 'img.img')?.contents)?.find((e) => e.path === 'etc/shadow')).toMatchObject({ type: 'symlink' });
    expect(holdsSecret(cacheOf(spec))).toEqual([]);
  });

  it('follows a source that is itself a symlink once, when it stays inside (dir:, oci:, tar:)', async () => {
    const spec = newSpec('dir:rootfs');
    const plain = await compile(spec);
    expect(errors(plain.diagnostics)).toEqual([]);
    symlinkSync('rootfs', join(spec, 'current'));
    symlinkSync(join(spec, 'rootfs'), join(spec, 'abs-current'));
    for (const ref of ['dir:current', 'dir:abs-current']) {
      writeSpec(spec, ref);
      const r = await compile(spec);
      expect(errors(r.diagnostics), ref).toEqual([]);
      expect(artifact(r, 'img.img')?.sha256, ref).toBe(artifact(plain, 'img.img')?.sha256);
    }
    await writeLayout(join(spec, 'layout'), 'v1', { layers: [await rootfsTar('node\n')] });
    symlinkSync('layout', join(spec, 'layout-link'));
    writeFileSync(join(spec, 'rootfs.tar'), await rootfsTar('node\n'));
    symlinkSync('rootfs.tar', join(spec, 'rootfs-link.tar'));
    for (const ref of ['oci:layout-link:v1', 'tar:rootfs-link.tar']) {
      writeSpec(spec, ref);
      const r = await compile(spec);
      expect(errors(r.diagnostics), ref).toEqual([]);
    }
  });
});

describe('the default build cache stays inside the spec folder', () => {
  it.each(['.herd', '.herd/safe', '.herd/safe/cache'])('a committed %s symlink leading out is refused, and nothing is written through it', async (link) => {
    const spec = newSpec('dir:rootfs');
    const away = join(spec, '..', 'away');
    mkdirSync(away);
    mkdirSync(join(spec, link, '..'), { recursive: true });
    symlinkSync(away, join(spec, link));
    const f = await compileSpecAt(spec, work, { sourceDateEpoch: 1_700_000_000, workers: 2 }).then(
      () => undefined,
      (e: unknown) => e as { rule?: string; message?: string },
    );
    expect(f?.rule).toBe('state/unsafe-path');
    expect(f?.message).toContain(`the image build cache .herd/safe/cache cannot be used: ${join(spec, link)} is a symlink to ${away}`);
    expect(filesUnder(away)).toEqual([]);
    expect(readdirSync(away)).toEqual([]);
  });

  it.each(['images', 'images/img', 'registry', 'layers'])('a committed symlink inside the cache (%s) leading out is refused, and nothing is written through it', async (link) => {
    const spec = newSpec('dir:rootfs');
    const away = join(spec, '..', 'away');
    mkdirSync(away);
    mkdirSync(join(spec, '.herd/safe/cache', link, '..'), { recursive: true });
    symlinkSync(away, join(spec, '.herd/safe/cache', link));
    const f = await compileSpecAt(spec, work, { sourceDateEpoch: 1_700_000_000, workers: 2 }).then(
      () => undefined,
      (e: unknown) => e as { rule?: string; message?: string },
    );
    expect(f?.rule).toBe('state/unsafe-path');
    expect(f?.message).toContain(`${join(spec, '.herd/safe/cache', link)} is a symlink, which herd never puts there`);
    expect(readdirSync(away)).toEqual([]);
  });

  it('is used, and created, when it is a plain folder', async () => {
    const spec = newSpec('dir:rootfs');
    const r = await compileSpecAt(spec, work, { sourceDateEpoch: 1_700_000_000, workers: 2 });
    expect(errors(r.diagnostics)).toEqual([]);
    expect(filesUnder(join(spec, '.herd/safe/cache/images')).length).toBeGreaterThan(0);
  });
});

describe('a dir: source that changes while herd builds from it', () => {
  it.each([
    ['a file swapped for a symlink to a host file', (root: string) => {
      rmSync(join(root, 'etc/hostname'));
      symlinkSync(join(outside, 'secret.txt'), join(root, 'etc/hostname'));
    }],
    ['a directory swapped for a symlink to a host directory', (root: string) => {
      renameSync(join(root, 'etc'), join(root, 'etc.old'));
      symlinkSync(join(outside, 'etc'), join(root, 'etc'));
    }],
    ['a file replaced by another file of the same size', (root: string) => {
      writeFileSync(join(root, 'etc/hostname.new'), 'evil\n');
      renameSync(join(root, 'etc/hostname.new'), join(root, 'etc/hostname'));
    }],
  ])('fails the build when %s after the walk, and keeps nothing of it', async (_name, swap) => {
    const spec = newSpec('dir:rootfs');
    const { model } = await compileSpecAt(spec, work, { images: false });
    let swapped = 0;
    const r = await buildClusterImages(model!, {
      specDir: spec,
      cacheDir: cacheOf(spec),
      workers: 2,
      offline: true,
      afterWalk: () => {
        swap(join(spec, 'rootfs'));
        swapped++;
      },
    });
    expect(swapped).toBe(1);
    expect(r.artifacts).toEqual([]);
    expect(errors(r.diagnostics).map((d) => d.message)).toEqual([expect.stringMatching(/changed while reading/)]);
    expect(JSON.stringify(r.diagnostics)).not.toContain(SECRET);
    expect(holdsSecret(cacheOf(spec))).toEqual([]);
    expect(filesUnder(join(cacheOf(spec), 'images'))).toEqual([]);
  });
});

describe('the build cache is keyed on content', () => {
  it('rebuilds when a file changes but keeps its size and mtime (cp -p, rsync -a, touch -d)', async () => {
    const spec = newSpec('dir:rootfs');
    const first = await compile(spec);
    expect(errors(first.diagnostics)).toEqual([]);
    const again = await compile(spec);
    expect(again.imageSummary?.[0]).toContain('unchanged (build cache)');
    const f = join(spec, 'rootfs/etc/hostname');
    const before = statSync(f);
    writeFileSync(f, 'evil\n');
    utimesSync(f, before.atime, before.mtime);
    expect(statSync(f).size).toBe(before.size);
    expect(Math.floor(statSync(f).mtimeMs / 1000)).toBe(Math.floor(before.mtimeMs / 1000));
    const changed = await compile(spec);
    expect(errors(changed.diagnostics)).toEqual([]);
    expect(changed.imageSummary?.[0]).not.toContain('unchanged');
    expect(artifact(changed, 'img.img')?.sha256).not.toBe(artifact(first, 'img.img')?.sha256);
    const hostname = contentEntries(artifact(changed, 'img.img')?.contents)?.find((e) => e.path === 'etc/hostname');
    expect(hostname?.sha256).toBe(createHash('sha256').update('evil\n').digest('hex'));
    expect(artifact(await compile(spec), 'img.img')?.sha256).toBe(artifact(changed, 'img.img')?.sha256);
  });
});

/** A rootfs tarball whose one big file is zeros: kilobytes gzipped, `bigBytes` unpacked. Written streaming, never held in memory. */
async function gzipBomb(path: string, bigBytes: number): Promise<void> {
  const gz = createGzip({ level: 1 });
  const out = createWriteStream(path);
  gz.pipe(out);
  const write = async (b: Buffer): Promise<void> => {
    if (!gz.write(b)) await once(gz, 'drain');
  };
  await write(await rootfsTar('node\n').then((t) => t.subarray(0, t.length - 1024)));
  await write(rawHeader({ name: 'var/big', typeflag: '0' }, bigBytes));
  const zeros = Buffer.alloc(1 << 20);
  for (let left = bigBytes; left > 0; left -= zeros.length) await write(left >= zeros.length ? zeros : zeros.subarray(0, left));
  await write(Buffer.alloc((512 - (bigBytes % 512)) % 512));
  await write(endOfArchive());
  gz.end();
  await once(out, 'finish');
}

describe('unpacking is bounded by what the image may take', () => {
  beforeAll(async () => {
    await gzipBomb(join(work, 'bomb.tar.gz'), 200 << 20);
    expect(statSync(join(work, 'bomb.tar.gz')).size).toBeLessThan(2 << 20);
  });

  it.each([
    ['half of the smallest node memory', { memory: '64MiB' }, 'image/too-big-for-ram', /n1 has 64\.0 MiB.*tmpfs capped at half of RAM \(32\.0 MiB\)/],
    ['the declared image size', { memory: '4GiB', image: '    size: 16MiB' }, 'image/size-over-declared', /more than its declared size 16\.0 MiB/],
  ] as const)('a gzip bomb is refused while unpacking, against %s, and nothing stays in the cache', async (_name, o, rule, message) => {
    const spec = newSpec('tar:bomb.tar.gz', o);
    renameSync(join(work, 'bomb.tar.gz'), join(spec, 'bomb.tar.gz'));
    try {
      const r = await compile(spec);
      const d = errors(r.diagnostics);
      expect(d.map((x) => x.rule)).toEqual([rule]);
      expect(d[0]?.message).toMatch(message);
      expect(d[0]?.message).toMatch(/stopped/);
      expect(r.artifacts).toBeUndefined();
      expect(filesUnder(cacheOf(spec))).toEqual([]);
    } finally {
      renameSync(join(spec, 'bomb.tar.gz'), join(work, 'bomb.tar.gz'));
    }
  });

  it('a cached build is checked again when the nodes or required programs change, and its entries are read only on demand', async () => {
    const spec = newSpec('dir:rootfs');
    const first = await compile(spec);
    expect(errors(first.diagnostics)).toEqual([]);
    const built = filesUnder(join(cacheOf(spec), 'images'));
    // The same source and settings: the cached build, whose entries are not loaded until asked for.
    const again = await compile(spec);
    expect(errors(again.diagnostics)).toEqual([]);
    expect(Array.isArray(artifact(again, 'img.img')?.contents)).toBe(false);
    expect(contentEntries(artifact(again, 'img.img')?.contents)).toEqual(contentEntries(artifact(first, 'img.img')?.contents));
    // `requires` does not shape the bytes (the cache key is the same) but the check: the remembered result of the last check
    // is for other requirements, so the archive is checked again, and again when they change back.
    writeSpec(spec, 'dir:rootfs', { image: '    requires: [slurmd]' });
    expect(errors((await compile(spec)).diagnostics).map((d) => d.rule)).toEqual(['image/missing-program']);
    writeSpec(spec, 'dir:rootfs');
    expect(errors((await compile(spec)).diagnostics)).toEqual([]);
    expect(filesUnder(join(cacheOf(spec), 'images'))).toEqual(built);
  });

  it('a build that fails verification after packing is not kept in the cache', async () => {
    const spec = newSpec('dir:rootfs', { image: '    requires: [slurmd]' });
    const r = await compile(spec);
    expect(errors(r.diagnostics).map((d) => d.rule)).toEqual(['image/missing-program']);
    expect(filesUnder(join(cacheOf(spec), 'images'))).toEqual([]);
  });
});

describe('secrets placed into an image', () => {
  const FILES = `    files:
      - { path: /etc/munge/munge.key, content: "0123456789abcdef0123456789abcdef", owner: munge, group: munge, mode: "0400" }
      - { path: /etc/ssh/ssh_host_ed25519_key, content: "not-really-a-key", mode: "0600" }
      - { path: /etc/ssh/ssh_host_ed25519_key.pub, content: "ssh-ed25519 AAAAC3Nza host", mode: "0644" }
      - { path: /opt/deploy/id, content: "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\n-----END OPENSSH PRIVATE KEY-----\\n", mode: "0644" }
      - { path: /etc/motd, content: "hello\\n", mode: "0644" }`;

  it('warns at each such files: entry, and makes the image artifacts secret and 0600', async () => {
    const spec = newSpec('dir:rootfs', { image: FILES });
    const r = await compile(spec);
    expect(errors(r.diagnostics)).toEqual([]);
    const lines = readFileSync(join(spec, 'cluster.yaml'), 'utf8').split('\n');
    const lineOf = (s: string): number => lines.findIndex((l) => l.includes(s)) + 1;
    const warnings = r.diagnostics.filter((d) => d.rule === 'image/secret-in-image');
    expect(warnings.map((w) => [w.severity, w.line])).toEqual([
      ['warning', lineOf('munge.key')],
      ['warning', lineOf('ssh_host_ed25519_key,')],
      ['warning', lineOf('/opt/deploy/id')],
    ]);
    expect(warnings[0]?.message).toContain('/etc/munge/munge.key');
    for (const s of ['img.img', 'img.img.gz']) expect(artifact(r, s), s).toMatchObject({ secret: true, mode: 0o600 });
    expect(artifact(r, `vmlinuz-${KVER}`)?.secret).toBeFalsy();
    const plan = planChanges(r.artifacts!, undefined, { files: new Map(), contentIndexes: new Map() });
    const text = renderPlanText(plan, { herdVersion: 'test', cluster: 'safe', root: '/', specHash: 'x', manifestHash: null }, { color: false });
    const imgLines = text.split('\n').filter((l, i, all) => l.includes('img.img') || all[i - 1]?.includes('img.img'));
    expect(imgLines.join('\n')).toContain('(secret ');
    expect(text).not.toContain('munge.key');
  });

  it('an image without such files stays as it was', async () => {
    const spec = newSpec('dir:rootfs', { image: '    files:\n      - { path: /etc/motd, content: "hello\\n", mode: "0644" }' });
    const r = await compile(spec);
    expect(r.diagnostics.filter((d) => d.rule === 'image/secret-in-image')).toEqual([]);
    expect(artifact(r, 'img.img')).toMatchObject({ mode: 0o644 });
    expect(artifact(r, 'img.img')?.secret).toBeFalsy();
  });
});

describe('extended attributes the initramfs cannot carry', () => {
  it('are reported as an image/xattrs-dropped warning at the source, from a fresh build and from the cache alike', async () => {
    const spec = join(work, `case-${specN++}`, 'spec');
    mkdirSync(spec, { recursive: true });
    const base = await rootfsTar('node\n');
    writeFileSync(
      join(spec, 'rootfs.tar'),
      Buffer.concat([
        base.subarray(0, base.length - 1024),
        await tarLayer([{ name: 'etc/ping', content: 'ELF', pax: { 'SCHILY.xattr.user.capability-like': 'cap_net_raw+ep' } }]),
      ]),
    );
    writeSpec(spec, 'tar:rootfs.tar');
    const line = readFileSync(join(spec, 'cluster.yaml'), 'utf8').split('\n').findIndex((l) => l.includes('tar:rootfs.tar')) + 1;
    for (const round of ['built', 'cached']) {
      const r = await compileSpecAt(spec, work, { sourceDateEpoch: 1_700_000_000, workers: 2 });
      expect(errors(r.diagnostics), round).toEqual([]);
      const w = r.diagnostics.filter((d) => d.rule === 'image/xattrs-dropped');
      expect(w, round).toHaveLength(1);
      expect(w[0]).toMatchObject({ severity: 'warning', line });
      expect(w[0]?.message).toContain('etc/ping');
    }
  });
});
