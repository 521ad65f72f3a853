// Diagnostics as plain data (pure): every finding herd reports, from YAML syntax to image verification, is one of these.

export type Severity = 'error' | 'warning' | 'info';

/** A path into the spec document, as yaml/zod see it: map keys and sequence indexes. */
export type SpecPath = readonly (string | number)[];

/** Where a value came from: the file, the path inside it and (when known) its 1-based position. */
export interface SourceRef {
  readonly file: string;
  readonly path: SpecPath;
  readonly line?: number;
  readonly column?: number;
  readonly endLine?: number;
  readonly endColumn?: number;
}

export interface Diagnostic {
  /** Stable rule id, `<group>/<kebab-name>`; names the checker and its fixture folder. */
  readonly rule: string;
  readonly severity: Severity;
  /** One line: what is wrong, naming the actual value. */
  readonly message: string;
  /** What to do about it, concretely. */
  readonly hint?: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly endLine?: number;
  readonly endColumn?: number;
  readonly specPath?: SpecPath;
  /** Other places involved (e.g. the first of two duplicates). */
  readonly related?: readonly RelatedLocation[];
}

export interface RelatedLocation {
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly specPath?: SpecPath;
}

/** Build a diagnostic located at a source reference. */
export function diagnosticAt(
  ref: SourceRef | undefined,
  rule: string,
  severity: Severity,
  message: string,
  hint?: string,
  related?: readonly RelatedLocation[],
): Diagnostic {
  const d: { -readonly [K in keyof Diagnostic]: Diagnostic[K] } = { rule, severity, message };
  if (hint !== undefined) d.hint = hint;
  if (ref) {
    d.file = ref.file;
    d.specPath = ref.path;
    if (ref.line !== undefined) {
      d.line = ref.line;
      d.column = ref.column;
      d.endLine = ref.endLine;
      d.endColumn = ref.endColumn;
    }
  }
  if (related && related.length > 0) d.related = related;
  return d;
}

export function relatedAt(ref: SourceRef | undefined, message: string): RelatedLocation {
  return ref ? { message, file: ref.file, line: ref.line, column: ref.column, specPath: ref.path } : { message };
}

const severityRank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/**
 * Strings in UTF-16 code-unit order: the same on every machine, and free, where localeCompare's first call builds an ICU
 * collator (about 10 ms of a 200 ms `herd plan`).
 */
export const codeUnitOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sort by file, line, column, then rule: the order every renderer shows them in. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort(
    (a, b) =>
      codeUnitOrder(a.file ?? '', b.file ?? '') ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      codeUnitOrder(a.rule, b.rule) ||
      severityRank[a.severity] - severityRank[b.severity] ||
      codeUnitOrder(a.message, b.message),
  );
}

export const hasErrors = (ds: readonly Diagnostic[]): boolean => ds.some((d) => d.severity === 'error');

/** A failure that stops a command (unreadable input, lock held...), converted to an exit code at the CLI boundary. Recognised by `kind`, not instanceof. */
export interface HerdFailure {
  readonly kind: 'herd-failure';
  readonly rule: string;
  readonly message: string;
  readonly hint?: string;
}

export function herdFailure(rule: string, message: string, hint?: string): HerdFailure {
  return hint === undefined ? { kind: 'herd-failure', rule, message } : { kind: 'herd-failure', rule, message, hint };
}

export function isHerdFailure(e: unknown): e is HerdFailure {
  return typeof e === 'object' && e !== null && (e as { kind?: unknown }).kind === 'herd-failure';
}
