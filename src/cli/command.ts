// The shape of a herd command and the reading of its arguments (I/O shell): flags for node:util parseArgs, a did-you-mean for typos, Terraform's single-dash spelling accepted.
import { parseArgs } from 'node:util';
import type { CommandContext, OutputFormat } from './io.ts';
import { didYouMean } from '../spec/did-you-mean.ts';

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
  /** The --format values this command writes; default text and json. Any other is a usage error, never silently text. */
  readonly formats?: readonly OutputFormat[];
  /** For commands that build or write: what a Ctrl-C leaves in place, said in the one line printed before exiting 130 (interrupt.ts). */
  readonly interrupted?: string;
  /** Longer help: what each flag does. */
  readonly help?: string;
  run(args: ParsedArgs, ctx: CommandContext): Promise<number>;
}

/** A command line herd cannot read: one line saying what is wrong, one saying what to type instead (exit 3, no help dump). */
export interface UsageError {
  readonly message: string;
  readonly hint: string;
}

export type ArgsResult = { readonly ok: true; readonly args: ParsedArgs } | { readonly ok: false; readonly error: UsageError };

export const DEFAULT_FORMATS: readonly OutputFormat[] = ['text', 'json'];

const ALL_FORMATS: readonly string[] = ['text', 'json', 'github', 'markdown'];

/** `herd <name>` for a name that is not a command: the closest command, if any is close. */
export function unknownCommand(name: string, known: readonly string[]): UsageError {
  if (/^-{1,2}(help|version)$/.test(name)) return { message: `unknown option ${name}`, hint: `did you mean herd --${name.replace(/^-+/, '')}?` };
  const guess = didYouMean(name, known);
  return {
    message: name.startsWith('-') ? `"${name}" must come after a command` : `unknown command "${name}"`,
    hint: guess ? `did you mean "${guess}"?` : `commands: ${[...known].sort().join(', ')} (herd --help says what each does)`,
  };
}

/** The --format value checked against what the command writes. */
export function checkFormat(command: Command, format: string): UsageError | undefined {
  const formats = command.formats ?? DEFAULT_FORMATS;
  if (formats.includes(format as OutputFormat)) return undefined;
  const list = formats.join(', ');
  const guess = didYouMean(format, formats);
  return {
    message: ALL_FORMATS.includes(format) ? `--format ${format} is not one this command writes` : `--format ${format} is not a format herd knows`,
    hint: guess && !ALL_FORMATS.includes(format) ? `did you mean --format ${guess}? (herd ${command.name} writes ${list})` : `herd ${command.name} writes --format ${list}`,
  };
}

/**
 * Terraform spells long options with one dash (`-detailed-exitcode`, `-out=plan`, `-no-color`): accept that spelling
 * for herd's own long options, so a command copied from a Terraform habit works. Single letters stay short options,
 * and nothing after `--` or in the value slot of a string option is touched.
 */
function acceptSingleDash(argv: readonly string[], options: Readonly<Record<string, OptionSpec>>): string[] {
  const out: string[] = [];
  let valueNext = false;
  let rest = false;
  for (const arg of argv) {
    if (rest || valueNext) {
      out.push(arg);
      valueNext = false;
      continue;
    }
    if (arg === '--') rest = true;
    let a = arg;
    const m = /^-([a-z][a-z0-9-]+)(=.*)?$/.exec(arg);
    if (m && options[m[1]!]) a = `-${arg}`;
    const long = /^--([^=]+)$/.exec(a);
    const short = /^-([^-])$/.exec(a);
    if (long && options[long[1]!]?.type === 'string') valueNext = true;
    if (short && Object.values(options).some((o) => o.short === short[1] && o.type === 'string')) valueNext = true;
    out.push(a);
  }
  return out;
}

/** Names herd would accept in place of `written` (a long name, or a single-dash word that is no group of short flags). */
function unknownOption(commandName: string, written: string, options: Readonly<Record<string, OptionSpec>>): UsageError {
  const name = written.replace(/^-+/, '').split('=')[0]!;
  const guess = didYouMean(name, Object.keys(options));
  const shown = written.split('=')[0]!;
  return {
    message: `herd ${commandName}: unknown option ${shown}`,
    hint: guess ? `did you mean --${guess}?` : `herd ${commandName} --help lists its options`,
  };
}

/** The first flag in `argv` that neither the command nor the global options have, before any `--`. */
function findUnknown(argv: readonly string[], options: Readonly<Record<string, OptionSpec>>): string | undefined {
  const shorts = new Map(Object.entries(options).flatMap(([n, o]) => (o.short ? [[o.short, n] as const] : [])));
  let valueNext = false;
  for (const arg of argv) {
    if (valueNext) {
      valueNext = false;
      continue;
    }
    if (arg === '--') return undefined;
    if (arg.startsWith('--')) {
      const name = arg.slice(2).split('=')[0]!;
      if (!options[name]) return arg;
      if (!arg.includes('=') && options[name].type === 'string') valueNext = true;
    } else if (arg.length > 1 && arg.startsWith('-')) {
      // A group of short flags: each letter must be one; a string option takes the rest of the word or the next argument.
      for (let i = 1; i < arg.length; i++) {
        const long = shorts.get(arg[i]!);
        if (!long) return arg.length > 2 ? arg : `-${arg[i]}`;
        if (options[long]!.type === 'string') {
          valueNext = i === arg.length - 1;
          break;
        }
      }
    }
  }
  return undefined;
}

/** Read a command's arguments: its own options plus `globals`. Never throws; a problem comes back as a UsageError. */
export function parseCommandArgs(command: Command, argv: readonly string[], globals: Readonly<Record<string, OptionSpec>>): ArgsResult {
  const options = { ...globals, ...command.options };
  const args = acceptSingleDash(argv, options);
  const unknown = findUnknown(args, options);
  if (unknown !== undefined) return { ok: false, error: unknownOption(command.name, unknown, options) };
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { ok: true, args: { positionals: parsed.positionals, values: parsed.values } };
  } catch (e) {
    // What is left is a value problem: a string option without its value, or a flag given one.
    const text = String((e as Error).message).split('\n')[0]!.replace(/^Option '([^' ]+)[^']*'/, 'option $1');
    const flag = /option (--?[\w-]+)/.exec(text)?.[1] ?? '';
    const takesValue = options[flag.replace(/^-+/, '')]?.type === 'string';
    return {
      ok: false,
      error: {
        message: `herd ${command.name}: ${text.replace(/\.$/, '')}`,
        hint: takesValue ? `write ${flag} VALUE, or ${flag}=VALUE when the value starts with a dash` : flag ? `${flag} is a switch: give it alone` : `herd ${command.name} --help lists its options`,
      },
    };
  }
}
