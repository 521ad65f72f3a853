// Text rendering of diagnostics (pure): `file:line:col severity rule`, the message, a code frame with carets, then the hint.
import type { Diagnostic, HerdFailure } from './diagnostic.ts';

const paint = (on: boolean, code: string, s: string): string => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

/**
 * Control characters from the spec (a quoted "\e]..." value, a CSV cell) shown as U+FFFD, one for one so carets still line up:
 * text printed to a terminal or a CI log must not carry escape sequences someone else wrote.
 */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;
const visible = (s: string): string => s.replace(CONTROL, '\ufffd');

/** Lines of each source, split once per render rather than once per diagnostic (200,000 diagnostics on one spec). */
type LineCache = Map<string, readonly string[]>;

function sourceLine(sources: ReadonlyMap<string, string>, cache: LineCache, file: string, line: number): string | undefined {
  let lines = cache.get(file);
  if (!lines) {
    const text = sources.get(file);
    if (text === undefined) return undefined;
    lines = text.split('\n');
    cache.set(file, lines);
  }
  return lines[line - 1];
}

/**
 * Render one diagnostic; `sources` maps a file to its text for the code frame. Code frames quote only those texts, which
 * callers fill with the spec's own inputs (all inside its folder); nothing else a diagnostic points at is ever quoted.
 */
export function renderDiagnostic(d: Diagnostic, sources: ReadonlyMap<string, string>, color = false, cache: LineCache = new Map()): string {
  const sev = d.severity === 'error' ? paint(color, '31;1', 'error') : d.severity === 'warning' ? paint(color, '33;1', 'warning') : paint(color, '36', 'info');
  const loc = d.file ? `${d.file}${d.line ? `:${d.line}:${d.column ?? 1}` : ''}: ` : '';
  const lines = [`${paint(color, '1', visible(loc))}${sev} ${paint(color, '2', visible(d.rule))}: ${visible(d.message)}`];
  if (d.file && d.line) {
    const src = sourceLine(sources, cache, d.file, d.line)?.replace(/\r$/, '');
    if (src !== undefined) {
      const gutter = String(d.line).length;
      const col = Math.max(1, d.column ?? 1);
      const shown = src.length > 120 ? src.slice(0, 120) + '…' : src;
      const endCol = d.endLine === d.line && d.endColumn && d.endColumn > col ? d.endColumn : col + Math.max(1, (/^\S+/.exec(src.slice(col - 1))?.[0].length ?? 1));
      const width = Math.max(1, Math.min(endCol - col, shown.length - col + 1));
      lines.push(`  ${String(d.line).padStart(gutter)} | ${visible(shown.replaceAll('\t', ' '))}`);
      lines.push(`  ${' '.repeat(gutter)} | ${' '.repeat(col - 1)}${paint(color, '31', '^'.repeat(width))}`);
    }
  }
  for (const r of d.related ?? []) lines.push(visible(`  = note: ${r.message}${r.file ? ` (${r.file}${r.line ? `:${r.line}:${r.column ?? 1}` : ''})` : ''}`));
  if (d.hint) lines.push(`  = ${paint(color, '32', 'hint')}: ${visible(d.hint)}`);
  return lines.join('\n') + '\n';
}

export function renderDiagnostics(ds: readonly Diagnostic[], sources: ReadonlyMap<string, string>, color = false): string {
  const cache: LineCache = new Map();
  return ds.map((d) => renderDiagnostic(d, sources, color, cache)).join('\n');
}

export function summarize(ds: readonly Diagnostic[]): string {
  let e = 0;
  let w = 0;
  for (const d of ds) {
    if (d.severity === 'error') e++;
    else if (d.severity === 'warning') w++;
  }
  const plural = (n: number, s: string): string => `${n} ${s}${n === 1 ? '' : 's'}`;
  return `${plural(e, 'error')}, ${plural(w, 'warning')}`;
}

export function renderFailure(f: HerdFailure, color = false): string {
  return `${paint(color, '31;1', 'error')} ${f.rule}: ${visible(f.message)}\n${f.hint ? `  = hint: ${visible(f.hint)}\n` : ''}`;
}

/** GitHub Actions workflow commands, so diagnostics show up as annotations on the pull request. */
export function renderGithub(ds: readonly Diagnostic[]): string {
  const esc = (s: string): string => visible(s.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A'));
  const prop = (s: string): string => esc(s).replaceAll(':', '%3A').replaceAll(',', '%2C');
  return ds
    .map((d) => {
      const kind = d.severity === 'error' ? 'error' : d.severity === 'warning' ? 'warning' : 'notice';
      const props = [d.file ? `file=${prop(d.file)}` : '', d.line ? `line=${d.line}` : '', d.column ? `col=${d.column}` : '', `title=${prop(d.rule)}`].filter(Boolean).join(',');
      return `::${kind} ${props}::${esc(d.message + (d.hint ? ` (hint: ${d.hint})` : ''))}\n`;
    })
    .join('');
}
