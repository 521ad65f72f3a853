// The runtime context every command receives (I/O shell): streams, env and cwd travel here, never via globals.
import type { Readable, Writable } from 'node:stream';

export interface CliIO {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export type OutputFormat = 'text' | 'json' | 'github' | 'markdown';

export interface CommandContext {
  readonly io: CliIO;
  readonly format: OutputFormat;
  readonly color: boolean;
  /** True only when stdin is a TTY and not in CI: prompts are allowed. */
  readonly interactive: boolean;
}

export function write(stream: Writable, text: string): void {
  stream.write(text);
}

/**
 * Build settings from the environment: SOURCE_DATE_EPOCH when it is a whole number of seconds (reproducible archive
 * timestamps), and HERD_HEAD_ROOT, the folder standing for the head's `/` when overlays read the munge key, SSH host keys
 * and the Warewulf install (default `/`: herd runs on the head; tests and CI point it at a prepared tree).
 */
export function sourceDateEpochOf(env: CliIO['env']): { sourceDateEpoch?: number; headRoot?: string } {
  const epoch = env.SOURCE_DATE_EPOCH;
  const head = env.HERD_HEAD_ROOT;
  return { ...(epoch !== undefined && /^\d+$/.test(epoch) ? { sourceDateEpoch: Number(epoch) } : {}), ...(head !== undefined && head !== '' ? { headRoot: head } : {}) };
}

/** Colour only for a TTY, with NO_COLOR unset or empty and TERM not dumb (no-color.org). */
export function wantsColor(stream: Writable, env: CliIO['env'], override?: boolean): boolean {
  if (override !== undefined) return override;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return Boolean((stream as { isTTY?: boolean }).isTTY);
}
