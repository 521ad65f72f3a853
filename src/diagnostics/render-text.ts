// Text rendering of diagnostics (pure): `file:line:col severity rule`, the message, a code frame with carets, then the hint.
import type { Diagnostic, HerdFailure } from './diagnostic.ts';

const paint = (on: boolean, code: string, s: string): string => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

/** Render one diagnostic; `sources` maps a file to its text for the code frame. */
export function renderDiagnostic(d: Diagnostic, sources: ReadonlyMap<string, string>, color = false): string {
  const sev = d.severity === 'error' ? paint(color, '31;1', 'error') : d.severity === 'warning' ? paint(color, '33;1', 'warning') : paint(color, '36', 'info');
  const loc = d.file ? `${d.file}${d.line ? `:${d.line}:${d.column ?? 1}` : ''}: ` : '';
  const lines = [`${paint(color, '1', loc)}${sev} ${paint(color, '2', d.rule)}: ${d.message}`];
  const text = d.file ? sources.get(d.file) : undefined;
  if (text !== undefined && d.line) {
    const src = text.split('\n')[d.line - 1];
    if (src !== undefined) {
      const gutter = String(d.line).length;
      const col = Math.max(1, d.column ?? 1);
      const shown = src.length > 120 ? src.slice(0, 120) + '…' : src;
      const endCol = d.endLine === d.line && d.endColumn && d.endColumn > col ? d.endColumn : col + Math.max(1, (/^\S+/.exec(src.slice(col - 1))?.[0].length ?? 1));
      const width = Math.max(1, Math.min(endCol - col, shown.length - col + 1));
      lines.push(`  ${String(d.line).padStart(gutter)} | ${shown.replaceAll('\t', ' ')}`);
      lines.push(`  ${' '.repeat(gutter)} | ${' '.repeat(col - 1)}${paint(color, '31', '^'.repeat(width))}`);
    }
  }
  for (const r of d.related ?? []) lines.push(`  = note: ${r.message}${r.file ? ` (${r.file}${r.line ? `:${r.line}:${r.column ?? 1}` : ''})` : ''}`);
  if (d.hint) lines.push(`  = ${paint(color, '32', 'hint')}: ${d.hint}`);
  return lines.join('\n') + '\n';
}

export function renderDiagnostics(ds: readonly Diagnostic[], sources: ReadonlyMap<string, string>, color = false): string {
  return ds.map((d) => renderDiagnostic(d, sources, color)).join('\n');
}

export function summarize(ds: readonly Diagnostic[]): string {
  const e = ds.filter((d) => d.severity === 'error').length;
  const w = ds.filter((d) => d.severity === 'warning').length;
  const plural = (n: number, s: string): string => `${n} ${s}${n === 1 ? '' : 's'}`;
  return `${plural(e, 'error')}, ${plural(w, 'warning')}`;
}

export function renderFailure(f: HerdFailure, color = false): string {
  return `${paint(color, '31;1', 'error')} ${f.rule}: ${f.message}\n${f.hint ? `  = hint: ${f.hint}\n` : ''}`;
}

/** GitHub Actions workflow commands, so diagnostics show up as annotations on the pull request. */
export function renderGithub(ds: readonly Diagnostic[]): string {
  const esc = (s: string): string => s.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
  const prop = (s: string): string => esc(s).replaceAll(':', '%3A').replaceAll(',', '%2C');
  return ds
    .map((d) => {
      const kind = d.severity === 'error' ? 'error' : d.severity === 'warning' ? 'warning' : 'notice';
      const props = [d.file ? `file=${prop(d.file)}` : '', d.line ? `line=${d.line}` : '', d.column ? `col=${d.column}` : '', `title=${prop(d.rule)}`].filter(Boolean).join(',');
      return `::${kind} ${props}::${esc(d.message + (d.hint ? ` (hint: ${d.hint})` : ''))}\n`;
    })
    .join('');
}
