// `herd validate [path]` (I/O shell): report every problem in a spec at once, with positions and hints.
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { loadSpecFromDisk, sourceTexts } from '../../spec/load-from-disk.ts';
import { renderDiagnostics, renderGithub, summarize } from '../../diagnostics/render-text.ts';
import { renderEnvelope } from '../../diagnostics/render-json.ts';
import { hasErrors } from '../../diagnostics/diagnostic.ts';

export const command: Command = {
  name: 'validate',
  summary: 'check a cluster spec and report every problem at once',
  usage: '[path] [--format text|json|github] [--warnings-as-errors] [--max-diagnostics N]',
  formats: ['text', 'json', 'github'],
  help: 'path: a cluster.yaml or the folder holding it (default: current folder).\n--warnings-as-errors  exit 1 when there are warnings\n--max-diagnostics N   show at most N diagnostics (all are counted)',
  options: { 'warnings-as-errors': { type: 'boolean' }, 'max-diagnostics': { type: 'string' } },
  async run(args, ctx) {
    const path = args.positionals[0] ?? '.';
    const spec = loadSpecFromDisk(path, ctx.io.cwd);
    const ds = spec.diagnostics;
    const failed = hasErrors(ds) || (Boolean(args.values['warnings-as-errors']) && ds.some((d) => d.severity === 'warning'));
    const code = failed ? EXIT.findings : EXIT.ok;
    const max = Number(args.values['max-diagnostics'] ?? Infinity);
    const shown = Number.isFinite(max) ? ds.slice(0, Math.max(0, max)) : ds;
    if (ctx.format === 'json') {
      ctx.io.stdout.write(renderEnvelope('validate', code, ds, { spec: spec.displayPath, cluster: spec.model?.name, nodes: spec.model?.nodes.length, specHash: spec.specHash }));
      return code;
    }
    if (ctx.format === 'github') {
      ctx.io.stdout.write(renderGithub(shown));
      return code;
    }
    const sources = sourceTexts(spec, ctx.io.cwd);
    if (shown.length > 0) ctx.io.stderr.write(renderDiagnostics(shown, sources, ctx.color) + '\n');
    if (shown.length < ds.length) ctx.io.stderr.write(`(${ds.length - shown.length} more not shown)\n`);
    if (spec.model && !failed) {
      ctx.io.stdout.write(`${spec.displayPath}: valid (${spec.model.nodes.length} nodes, ${Object.keys(spec.model.images).length} images, ${spec.model.slurm.partitions.length} partitions; ${summarize(ds)})\n`);
    } else {
      ctx.io.stderr.write(`${spec.displayPath}: ${summarize(ds)}\n`);
    }
    return code;
  },
};
