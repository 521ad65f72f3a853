// JSON envelope of every command (pure): one document on stdout, versioned so automation can rely on its shape.
import type { Diagnostic } from './diagnostic.ts';

export const JSON_FORMAT_VERSION = 1;

export interface JsonEnvelope<R = unknown> {
  formatVersion: number;
  command: string;
  ok: boolean;
  exitCode: number;
  diagnostics: readonly Diagnostic[];
  result?: R;
}

export function renderEnvelope<R>(command: string, exitCode: number, diagnostics: readonly Diagnostic[], result?: R): string {
  const env: JsonEnvelope<R> = { formatVersion: JSON_FORMAT_VERSION, command, ok: exitCode === 0 || exitCode === 2, exitCode, diagnostics, ...(result !== undefined ? { result } : {}) };
  return JSON.stringify(env, null, 2) + '\n';
}
