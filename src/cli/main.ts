// herd's CLI entry point (I/O shell): main(argv, io) parses flags, runs one command and returns its exit code; nothing calls process.exit.
import { checkFormat, parseCommandArgs, unknownCommand, type Command, type OptionSpec } from './command.ts';
import { EXIT, EXIT_TABLE_TEXT } from './exit-codes.ts';
import { exitOnInterrupt } from './interrupt.ts';
import type { CliIO, CommandContext, OutputFormat } from './io.ts';
import { wantsColor } from './io.ts';
import { isHerdFailure } from '../diagnostics/diagnostic.ts';
import { renderFailure } from '../diagnostics/render-text.ts';

/** Commands are lazy-imported so `herd validate` never loads the image builder. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  validate: { summary: 'check a cluster spec and report every problem at once', load: async () => (await import('./commands/validate.ts')).command },
  build: { summary: 'compile a cluster spec and write its artifacts to a folder', load: async () => (await import('./commands/build.ts')).command },
  pull: { summary: 'fetch docker:// images into the local build cache (the only command that contacts registries)', load: async () => (await import('./commands/pull.ts')).command },
  cache: { summary: "show the image build cache's size by part; --prune removes built images the spec no longer uses", load: async () => (await import('./commands/cache.ts')).command },
  explain: { summary: 'explain a validation rule and the trap behind it', load: async () => (await import('./commands/explain.ts')).command },
  plan: { summary: 'show what apply would change on the target, with diffs, drift and impact', load: async () => (await import('./commands/plan.ts')).command },
  apply: { summary: 'apply the spec (or a saved plan) to the target: atomic, locked, drift-aware', load: async () => (await import('./commands/apply.ts')).command },
  schema: { summary: "print the spec's JSON Schema, or write it next to a spec for editors (--write [DIR])", load: async () => (await import('./commands/schema.ts')).command },
  serve: { summary: 'serve the applied root to booting nodes the way warewulfd does (iPXE, kernel, image, overlays)', load: async () => (await import('./commands/serve.ts')).command },
  import: { summary: 'turn an existing Warewulf 4.6 + Slurm site into a cluster spec, reporting every value it changes', load: async () => (await import('./commands/import.ts')).command },
  'boot-test': { summary: "boot the cluster's nodes in VMs from herd's artifacts and run a Slurm job on them", load: async () => (await import('./commands/boot-test.ts')).command },
  rollout: { summary: 'reboot the nodes awaiting a reboot (new image or system overlay) through Slurm, in batches, stopping at the first that does not come back', load: async () => (await import('./commands/rollout.ts')).command },
  state: { summary: 'export a snapshot of what is deployed (hashes only) for pull-request plans: herd state export --out FILE', load: async () => (await import('./commands/state.ts')).command },
};

export function registerCommand(name: string, summary: string, load: () => Promise<Command>): void {
  COMMANDS[name] = { summary, load };
}

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  format: { type: 'string' },
  color: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

export const VERSION = '0.1.0';

function topHelp(): string {
  const names = Object.keys(COMMANDS).sort();
  const width = names.reduce((w, n) => Math.max(w, n.length), 0);
  return [
    'herd: declarative cluster-as-code for stateless Warewulf 4 + Slurm clusters',
    '',
    'Usage: herd <command> [options]',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n]!.summary}`),
    '',
    'Global options: --format text|json (and github/markdown where a command supports them), --color, --no-color, --help',
    '',
    EXIT_TABLE_TEXT,
    '',
  ].join('\n');
}

function commandHelp(c: Command): string {
  return [`Usage: herd ${c.name} ${c.usage}`, '', c.summary, ...(c.help ? ['', c.help] : []), '', EXIT_TABLE_TEXT, ''].join('\n');
}

/** Run herd with the given arguments; returns the process exit code. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(topHelp());
    return name === undefined ? EXIT.couldNotRun : EXIT.ok;
  }
  if (name === '--version' || name === 'version') {
    io.stdout.write(`herd ${VERSION}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    const e = unknownCommand(name, Object.keys(COMMANDS));
    io.stderr.write(`herd: ${e.message}\n  hint: ${e.hint}\n`);
    return EXIT.couldNotRun;
  }
  const command = await entry.load();
  const read = parseCommandArgs(command, rest, GLOBAL_OPTIONS);
  if (!read.ok) {
    io.stderr.write(`${read.error.message}\n  hint: ${read.error.hint}\n`);
    return EXIT.couldNotRun;
  }
  const parsed = read.args;
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    io.stdout.write(commandHelp(command));
    return EXIT.ok;
  }
  const format = (values.format as string | undefined) ?? 'text';
  const badFormat = checkFormat(command, format);
  if (badFormat) {
    io.stderr.write(`herd ${name}: ${badFormat.message}\n  hint: ${badFormat.hint}\n`);
    return EXIT.couldNotRun;
  }
  const colorOverride = values.color ? true : values['no-color'] ? false : undefined;
  const ctx: CommandContext = {
    io,
    format: format as OutputFormat,
    color: format === 'json' ? false : wantsColor(io.stderr, io.env, colorOverride),
    // A getter: only a command that may prompt looks at stdin (bin/herd.js makes process.stdin on first use, issue 17).
    get interactive() {
      return Boolean((io.stdin as { isTTY?: boolean }).isTTY) && !io.env.CI;
    },
  };
  const release = command.interrupted === undefined ? () => {} : exitOnInterrupt(name, command.interrupted, io);
  try {
    return await command.run({ positionals: parsed.positionals, values: parsed.values }, ctx);
  } catch (e) {
    if (isHerdFailure(e)) {
      io.stderr.write(renderFailure(e, ctx.color));
      return EXIT.couldNotRun;
    }
    const err = e as Error;
    io.stderr.write(
      `herd: internal error: ${String(err?.message ?? e).replaceAll(io.cwd, '<cwd>')}\n` +
        `This is a bug in herd ${VERSION}; please report it with the command you ran.\n` +
        (io.env.HERD_DEBUG ? `${err?.stack ?? ''}\n` : ''),
    );
    return EXIT.internal;
  } finally {
    release();
  }
}
