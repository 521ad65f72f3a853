// `herd cache [spec] [--prune]` (I/O shell): how big the image build cache beside a spec is, by part, and removing the built
// images the spec no longer uses. Every read and delete goes through one ConfinedDir opened on the cache: symlinks are never followed.
import { relative } from 'node:path';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { sourceDateEpochOf } from '../io.ts';
import { hasErrors } from '../../diagnostics/diagnostic.ts';
import { renderDiagnostics, summarize } from '../../diagnostics/render-text.ts';
import { ConfinedDir } from '../../fs/confined-dir.ts';
import { isStaleTemp } from '../../fs/temp-registry.ts';
import { formatSize } from '../../plan/render-common.ts';
import { confinedCacheDir, defaultCacheDir } from '../../image/build/build-images.ts';
import { compileSpecAt } from '../../pipeline.ts';
import { loadSpecFromDisk } from '../../spec/load-from-disk.ts';

/** The cache's top-level parts, in the order they are listed; anything else is counted as "other". */
const PARTS: readonly { readonly name: string; readonly what: string }[] = [
  { name: 'images', what: 'built images (.img, .img.gz, kernel), one folder per image and build key' },
  { name: 'layers', what: 'unpacked image layers, reused by rebuilds' },
  { name: 'registry', what: 'registry images fetched by herd pull (plan and apply read them offline)' },
  { name: 'file-hashes', what: 'per-file hashes of dir: sources, so rebuilds skip unchanged files' },
  { name: 'overlays', what: 'overlay build index' },
];

/** Bytes of every regular file below `rel` (symlinks counted as links, never followed). */
function treeBytes(dir: ConfinedDir, rel: string): number {
  const st = dir.lstat(rel);
  if (st === null) return 0;
  if (!st.isDirectory()) return st.isFile() ? Number(st.size) : 0;
  let total = 0;
  for (const e of dir.readdir(rel) ?? []) total += treeBytes(dir, rel === '' ? e.name : `${rel}/${e.name}`);
  return total;
}

interface ImageFolder {
  readonly rel: string;
  readonly image: string;
  readonly key: string;
  readonly bytes: number;
}

function imageFolders(dir: ConfinedDir): ImageFolder[] {
  const out: ImageFolder[] = [];
  for (const img of (dir.readdir('images') ?? []).filter((e) => e.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const k of (dir.readdir(`images/${img.name}`) ?? []).filter((e) => e.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const rel = `images/${img.name}/${k.name}`;
      out.push({ rel, image: img.name, key: k.name, bytes: treeBytes(dir, rel) });
    }
  }
  return out;
}

export const command: Command = {
  name: 'cache',
  summary: "show the image build cache's size by part; --prune removes built images the spec no longer uses",
  usage: '[spec] [--prune] [--format text|json]',
  interrupted: 'the cache keeps the builds not removed yet; a half-removed one sits under a .tmp- name that the next prune removes',
  help:
    'spec: a cluster.yaml or the folder holding it (default: current folder); its cache is .herd/<cluster>/cache beside it.\n' +
    '--prune  compile the spec (building its images if they are not cached yet, as plan would) and remove every built image\n' +
    "         folder (images/<name>/<key>) that is not the one the spec uses now, plus folders of builds that were killed.\n" +
    '         Images that are pending or failed keep all their folders; layers, registry images and file hashes are kept.',
  options: { prune: { type: 'boolean' } },
  async run(args, ctx) {
    const specArg = args.positionals[0] ?? '.';
    const spec = loadSpecFromDisk(specArg, ctx.io.cwd);
    const cluster = spec.model?.name ?? spec.spec?.name;
    if (cluster === undefined) {
      ctx.io.stderr.write(`${spec.displayPath}: ${summarize(spec.diagnostics)}; herd cache needs the cluster's name\n`);
      return EXIT.findings;
    }
    const cacheAbs = defaultCacheDir(spec.specDir, cluster);
    const shownCache = relative(ctx.io.cwd, cacheAbs) || '.';
    const top = ConfinedDir.open(spec.specDir, { what: 'spec folder' });
    const exists = top.lstat(relative(spec.specDir, cacheAbs)) !== null;
    top.close();
    if (!exists && !args.values.prune) {
      if (ctx.format === 'json') ctx.io.stdout.write(JSON.stringify({ cache: shownCache, exists: false, totalBytes: 0, parts: {} }) + '\n');
      else ctx.io.stdout.write(`${shownCache}: no build cache yet\n`);
      return EXIT.ok;
    }

    let removed: ImageFolder[] = [];
    const kept: string[] = [];
    if (args.values.prune) {
      const result = await compileSpecAt(specArg, ctx.io.cwd, sourceDateEpochOf(ctx.io.env));
      if (hasErrors(spec.diagnostics) || !result.model || result.imageKeys === undefined) {
        if (ctx.format !== 'json') ctx.io.stderr.write(renderDiagnostics(result.diagnostics, result.sources, ctx.color) + `\n${result.displayPath}: ${summarize(result.diagnostics)}\n`);
        ctx.io.stderr.write('herd cache --prune: the spec must be valid to know which builds it uses; nothing was removed\n');
        return EXIT.findings;
      }
      const dir = ConfinedDir.open(confinedCacheDir(spec.specDir, cacheAbs), { what: 'image build cache' });
      try {
        const specImages = new Set(Object.keys(result.model.images));
        for (const f of imageFolders(dir)) {
          const current = result.imageKeys.get(f.image);
          const unknown = specImages.has(f.image) && current === undefined;
          if (isStaleTemp(f.key) || (!unknown && f.key !== current)) {
            // Renamed first (one atomic step) to a temp name a later build or prune sweeps, so a Ctrl-C mid-delete never leaves a half build under its key.
            const doomed = isStaleTemp(f.key) ? f.rel : `${f.rel}.tmp-${process.pid}`;
            if (doomed !== f.rel) dir.rename(f.rel, doomed);
            dir.removeTree(doomed);
            removed.push(f);
          } else if (unknown) kept.push(`${f.rel} (image ${f.image} is pending or failed this run, so its current build is unknown)`);
        }
      } finally {
        dir.close();
      }
    }

    const dir = ConfinedDir.open(confinedCacheDir(spec.specDir, cacheAbs), { what: 'image build cache' });
    try {
      const parts: Record<string, number> = {};
      for (const p of PARTS) parts[p.name] = treeBytes(dir, p.name);
      const known = new Set(PARTS.map((p) => p.name));
      parts.other = (dir.readdir('') ?? []).filter((e) => !known.has(e.name)).reduce((n, e) => n + treeBytes(dir, e.name), 0);
      const total = Object.values(parts).reduce((a, b) => a + b, 0);
      const images = imageFolders(dir);
      if (ctx.format === 'json') {
        ctx.io.stdout.write(
          JSON.stringify({
            cache: shownCache,
            exists: true,
            totalBytes: total,
            parts,
            images: images.map((f) => ({ image: f.image, key: f.key, bytes: f.bytes })),
            ...(args.values.prune ? { removed: removed.map((f) => ({ image: f.image, key: f.key, bytes: f.bytes })), freedBytes: removed.reduce((n, f) => n + f.bytes, 0) } : {}),
          }) + '\n',
        );
        return EXIT.ok;
      }
      const lines = [`${shownCache}: ${formatSize(total)}`];
      for (const p of PARTS) lines.push(`  ${p.name.padEnd(12)} ${formatSize(parts[p.name]!).padStart(10)}  ${p.what}`);
      if (parts.other! > 0) lines.push(`  ${'other'.padEnd(12)} ${formatSize(parts.other!).padStart(10)}`);
      for (const f of images) lines.push(`    ${f.rel.padEnd(12)} ${formatSize(f.bytes)}`);
      if (args.values.prune) {
        const freed = removed.reduce((n, f) => n + f.bytes, 0);
        lines.push(removed.length === 0 ? 'pruned nothing: every built image is the one the spec uses' : `pruned ${removed.length} built image folder(s), ${formatSize(freed)}:`);
        for (const f of removed) lines.push(`  removed ${f.rel} (${formatSize(f.bytes)})`);
        for (const k of kept) lines.push(`  kept ${k}`);
      } else if (images.length > 0) {
        lines.push('herd cache --prune removes the built images this spec no longer uses');
      }
      ctx.io.stdout.write(lines.join('\n') + '\n');
      return EXIT.ok;
    } finally {
      dir.close();
    }
  },
};
