// `# herd-ignore: rule/id reason` comments (pure): silence one rule at one place, with a reason reviewers can read.
import { diagnosticAt, type Diagnostic } from '../diagnostics/diagnostic.ts';

interface Ignore {
  line: number;
  column: number;
  rule: string;
  reason: string;
  used: boolean;
}

const IGNORE_RE = /#\s*herd-ignore:\s*([a-z]+\/[a-z0-9-]+)?\s*(.*)$/;

/**
 * A comment silences its rule on its own line and on the line below (so it can sit above the key).
 * YAML and schema problems cannot be silenced: the file must at least be readable.
 */
export function applySuppressions(file: string, text: string, diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const ignores: Ignore[] = [];
  text.split('\n').forEach((line, i) => {
    const m = IGNORE_RE.exec(line);
    if (m) ignores.push({ line: i + 1, column: line.indexOf('#') + 1, rule: m[1] ?? '', reason: m[2]!.trim(), used: false });
  });
  if (ignores.length === 0) return [...diagnostics];
  // By line, so a spec with thousands of comments and findings is not checked pair by pair.
  const byLine = new Map<number, Ignore[]>();
  for (const ig of ignores) {
    const list = byLine.get(ig.line);
    if (list) list.push(ig);
    else byLine.set(ig.line, [ig]);
  }
  const silencerOf = (d: Diagnostic): Ignore | undefined => {
    if (d.line === undefined) return undefined;
    for (const line of [d.line - 1, d.line]) {
      const hit = byLine.get(line)?.find((ig) => ig.rule === d.rule && ig.reason !== '');
      if (hit) return hit;
    }
    return undefined;
  };
  const out: Diagnostic[] = [];
  for (const d of diagnostics) {
    const silencer = d.file === file && !d.rule.startsWith('yaml/') && !d.rule.startsWith('schema/') ? silencerOf(d) : undefined;
    if (silencer) silencer.used = true;
    else out.push(d);
  }
  for (const ig of ignores) {
    const at = { file, path: [], line: ig.line, column: ig.column };
    if (!ig.rule) out.push(diagnosticAt(at, 'spec/ignore-without-reason', 'error', 'herd-ignore comment without a rule id', 'write # herd-ignore: group/rule-name because ...'));
    else if (!ig.reason) out.push(diagnosticAt(at, 'spec/ignore-without-reason', 'error', `herd-ignore of ${ig.rule} gives no reason`, `write # herd-ignore: ${ig.rule} because ...`));
    else if (!ig.used) out.push(diagnosticAt(at, 'spec/unused-ignore', 'warning', `herd-ignore of ${ig.rule} silences nothing here`, 'remove the comment, or move it onto (or just above) the line the diagnostic points at'));
  }
  return out;
}
