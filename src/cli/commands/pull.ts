// `herd pull [path]` (I/O shell): fetch the spec's docker:// images into the build cache, the one step that talks to registries.
// plan, apply and build stay offline and read registry images only from this cache.
import { join } from 'node:path';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { loadSpecFromDisk } from '../../spec/load-from-disk.ts';
import { pullImage, isRegistryError } from '../../image/registry/index.ts';
import { confinedCacheDir, defaultCacheDir } from '../../image/build/build-images.ts';
import { renderDiagnostics, summarize } from '../../diagnostics/render-text.ts';
import { renderEnvelope } from '../../diagnostics/render-json.ts';

export const command: Command = {
  name: 'pull',
  summary: 'fetch the docker:// images of a spec into the local build cache (the only command that contacts registries)',
  usage: '[path] [--mirror URL] [--insecure] [--format text|json]',
  interrupted: 'blobs already downloaded stay in the registry cache; run herd pull again to fetch the rest',
  help: '--mirror URL  pull through this registry mirror instead of each image\'s registry\n--insecure    allow plain http for the registries named in the spec',
  options: { mirror: { type: 'string' }, insecure: { type: 'boolean' } },
  async run(args, ctx) {
    const spec = loadSpecFromDisk(args.positionals[0] ?? '.', ctx.io.cwd);
    if (!spec.model) {
      if (ctx.format === 'json') ctx.io.stdout.write(renderEnvelope('pull', EXIT.findings, spec.diagnostics));
      else ctx.io.stderr.write(`${spec.displayPath}: ${summarize(spec.diagnostics)}\n` + renderDiagnostics(spec.diagnostics, new Map(), ctx.color));
      return EXIT.findings;
    }
    // The cache beside the spec must stay inside the spec folder (a committed .herd symlink is refused), like every build.
    const cacheDir = join(confinedCacheDir(spec.specDir, defaultCacheDir(spec.specDir, spec.model.name)), 'registry');
    const results: { image: string; source: string; digest?: string; error?: string }[] = [];
    for (const im of Object.values(spec.model.images)) {
      if (im.sourceKind !== 'docker') continue;
      try {
        const r = await pullImage(im.sourceRef, { cacheDir, ...(typeof args.values.mirror === 'string' ? { mirror: args.values.mirror } : {}), ...(args.values.insecure ? { insecure: true } : {}) });
        results.push({ image: im.name, source: im.source, digest: r.resolvedDigest });
        if (ctx.format !== 'json') ctx.io.stdout.write(`${im.name}: ${im.source} -> ${r.resolvedDigest} (${r.downloaded.blobs} blobs, ${r.downloaded.bytes} bytes downloaded)\n`);
      } catch (e) {
        const message = isRegistryError(e) ? `${e.message}${e.hint ? ` (${e.hint})` : ''}` : String((e as Error).message ?? e);
        results.push({ image: im.name, source: im.source, error: message });
        if (ctx.format !== 'json') ctx.io.stderr.write(`${im.name}: ${message}\n`);
      }
    }
    const code = results.some((r) => r.error) ? EXIT.couldNotRun : EXIT.ok;
    if (ctx.format === 'json') ctx.io.stdout.write(renderEnvelope('pull', code, [], { images: results }));
    else if (results.length === 0) ctx.io.stdout.write('no docker:// images in this spec\n');
    return code;
  },
};
