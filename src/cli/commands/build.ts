// `herd build [path] --out DIR` (I/O shell): write the compiled artifact set as a directory tree, byte-identical on every run.
import { mkdirSync, writeFileSync, chmodSync, rmSync, renameSync, existsSync, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { dirname, join, resolve } from 'node:path';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { compileSpecAt } from '../../pipeline.ts';
import { renderDiagnostics, summarize } from '../../diagnostics/render-text.ts';
import { renderEnvelope } from '../../diagnostics/render-json.ts';
import { herdFailure } from '../../diagnostics/diagnostic.ts';
import { progressReporter } from '../progress.ts';
import { sourceDateEpochOf } from '../io.ts';

export const command: Command = {
  name: 'build',
  summary: 'compile a cluster spec and write its artifacts to a folder (no apply, no state)',
  usage: '[path] --out DIR [--format text|json]',
  help: '--out DIR  folder to write the artifact tree into (replaced as a whole)',
  options: { out: { type: 'string', short: 'o' } },
  async run(args, ctx) {
    const out = args.values.out as string | undefined;
    if (!out) throw herdFailure('cli/usage', 'herd build needs --out DIR', 'e.g. herd build clusters/lab --out build/lab');
    const onProgress = progressReporter(ctx);
    const r = await compileSpecAt(args.positionals[0] ?? '.', ctx.io.cwd, { ...sourceDateEpochOf(ctx.io.env), ...(onProgress ? { onProgress } : {}) });
    if (ctx.format === 'text' && r.imageSummary && r.imageSummary.length > 0) ctx.io.stderr.write(r.imageSummary.map((l) => `${l}\n`).join(''));
    if (!r.artifacts) {
      if (ctx.format === 'json') ctx.io.stdout.write(renderEnvelope('build', EXIT.findings, r.diagnostics));
      else ctx.io.stderr.write(renderDiagnostics(r.diagnostics, r.sources, ctx.color) + `\n${r.displayPath}: ${summarize(r.diagnostics)}\n`);
      return EXIT.findings;
    }
    // Write into a sibling temp folder, then swap it in, so a failed build never leaves a half-written tree.
    const target = resolve(ctx.io.cwd, out);
    const tmp = `${target}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    for (const a of r.artifacts.artifacts) {
      const p = join(tmp, a.path);
      mkdirSync(dirname(p), { recursive: true });
      if (a.bytes) writeFileSync(p, a.bytes);
      else if (a.produce) {
        // Stream large artifacts (images) to disk: never hold one in memory.
        const out = createWriteStream(p);
        for await (const c of a.produce()) if (!out.write(c)) await once(out, 'drain');
        out.end();
        await once(out, 'finish');
      }
      chmodSync(p, a.mode);
    }
    if (existsSync(target)) rmSync(target, { recursive: true, force: true });
    mkdirSync(dirname(target), { recursive: true });
    renameSync(tmp, target);
    const list = r.artifacts.artifacts.map((a) => ({ path: a.path, sha256: a.sha256, size: a.size, mode: a.mode.toString(8), impact: a.impact.class }));
    if (ctx.format === 'json') ctx.io.stdout.write(renderEnvelope('build', EXIT.ok, r.diagnostics, { out, artifacts: list }));
    else {
      if (r.diagnostics.length > 0) ctx.io.stderr.write(renderDiagnostics(r.diagnostics, r.sources, ctx.color) + '\n');
      ctx.io.stdout.write(list.map((a) => `${a.sha256.slice(0, 12)}  ${a.path}`).join('\n') + `\nwrote ${list.length} artifacts to ${out}\n`);
    }
    return EXIT.ok;
  },
};
