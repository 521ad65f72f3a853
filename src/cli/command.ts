// The shape of a herd command (I/O shell): a name, its flags for node:util parseArgs, and a run function returning an exit code.
import type { CommandContext } from './io.ts';

export type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean };

export interface ParsedArgs {
  readonly positionals: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Usage line(s) after `herd <name>`, e.g. `[path] [--format text|json]`. */
  readonly usage: string;
  /** Command-specific flags (the global ones: --format, --color, --no-color, --help, are added by main). */
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Longer help: what each flag does. */
  readonly help?: string;
  run(args: ParsedArgs, ctx: CommandContext): Promise<number>;
}
