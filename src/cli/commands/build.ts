// `herd build [path] --out DIR` (I/O shell): write the compiled artifact set as a directory tree, byte-identical on every run.
import { dirname } from 'node:path';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { checkOutDir, OUT_MARKER, writeOutDir } from '../out-dir.ts';
import { compileSpecAt, type CompileOptions, type CompileResult } from '../../pipeline.ts';
import { renderDiagnostics, summarize } from '../../diagnostics/render-text.ts';
import { renderEnvelope } from '../../diagnostics/render-json.ts';
import { herdFailure } from '../../diagnostics/diagnostic.ts';
import { locateSpec } from '../../spec/load-from-disk.ts';
import { progressReporter } from '../progress.ts';
import { sourceDateEpochOf } from '../io.ts';
import { pendingGroups } from '../../plan/pending-groups.ts';

export interface BuildCommandDeps {
  /** The compiler; tests inject failing artifact sets here. */
  readonly compile: (path: string, cwd: string, options: CompileOptions) => Promise<CompileResult>;
}

export function makeBuildCommand(deps: BuildCommandDeps = { compile: compileSpecAt }): Command {
  return {
    name: 'build',
    summary: 'compile a cluster spec and write its artifacts to a folder (no apply, no state)',
    usage: '[path] --out DIR [--format text|json]',
    interrupted: '--out is unchanged (herd replaces it only as a whole, at the end); images already built stay in the build cache',
    help: `--out DIR  folder to write the artifact tree into. It must not exist yet, be empty, or be one herd built before (it carries a ${OUT_MARKER} marker); herd then replaces it as a whole, and refuses anything else`,
    options: { out: { type: 'string', short: 'o' } },
    async run(args, ctx) {
      const out = args.values.out as string | undefined;
      if (!out) throw herdFailure('cli/usage', 'herd build needs --out DIR', 'e.g. herd build clusters/lab --out build/lab');
      const specArg = args.positionals[0] ?? '.';
      const where = { cwd: ctx.io.cwd, env: ctx.io.env };
      // Refuse an unsafe --out before compiling anything; it is checked again after compiling, right before the swap.
      checkOutDir(out, { ...where, specDir: dirname(locateSpec(specArg, ctx.io.cwd)) });
      const onProgress = progressReporter(ctx);
      // Test-only hook: HERD_TEST_PAUSE_IN_PACK=1 stops (without exiting) once an image build's temporary folder exists, so an
      // interrupt test signals a build known to be mid-pack, synchronising on the "paused" line, never on time.
      const beforePack = ctx.io.env.HERD_TEST_PAUSE_IN_PACK === '1'
        ? async (): Promise<void> => {
            ctx.io.stderr.write('herd-test: paused while packing\n');
            await new Promise(() => setInterval(() => {}, 1 << 30));
          }
        : undefined;
      const r = await deps.compile(specArg, ctx.io.cwd, { ...sourceDateEpochOf(ctx.io.env), ...(onProgress ? { onProgress } : {}), ...(beforePack ? { beforePack } : {}) });
      if (ctx.format === 'text' && r.imageSummary && r.imageSummary.length > 0) ctx.io.stderr.write(r.imageSummary.map((l) => `${l}\n`).join(''));
      if (!r.artifacts) {
        if (ctx.format === 'json') ctx.io.stdout.write(renderEnvelope('build', EXIT.findings, r.diagnostics));
        else ctx.io.stderr.write(renderDiagnostics(r.diagnostics, r.sources, ctx.color) + `\n${r.displayPath}: ${summarize(r.diagnostics)}\n`);
        return EXIT.findings;
      }
      const { warnings } = await writeOutDir(checkOutDir(out, { ...where, specDir: r.specDir }), r.artifacts.artifacts);
      for (const w of warnings) ctx.io.stderr.write(`warning: ${w}\n`);
      const list = r.artifacts.artifacts.map((a) => ({ path: a.path, sha256: a.sha256, size: a.size, mode: a.mode.toString(8), impact: a.impact.class }));
      const pending = pendingGroups(r.artifacts.pending ?? []);
      if (ctx.format === 'json') ctx.io.stdout.write(renderEnvelope('build', EXIT.ok, r.diagnostics, { out, artifacts: list, pending: r.artifacts.pending ?? [] }));
      else {
        if (r.diagnostics.length > 0) ctx.io.stderr.write(renderDiagnostics(r.diagnostics, r.sources, ctx.color) + '\n');
        ctx.io.stdout.write(list.map((a) => `${a.sha256.slice(0, 12)}  ${a.path}`).join('\n') + `\nwrote ${list.length} artifacts to ${out}\n`);
        // What could not be built here is named with its reason, not silently missing from the tree.
        for (const g of pending) ctx.io.stdout.write(`pending, not written: ${g.paths.join(', ')}\n    ${g.reason}\n`);
      }
      return EXIT.ok;
    },
  };
}

export const command: Command = makeBuildCommand();
