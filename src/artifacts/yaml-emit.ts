// A small, fast YAML emitter for herd's generated files (pure): block maps and sequences of plain scalars.
// Why not yaml.stringify: building a Document for 10,000 nodes costs seconds (measured in bench/validate.ts);
// this emitter writes the same YAML 1.2 in a single pass. A test parses every output back with the yaml package.

export type YamlValue = string | number | boolean | null | readonly YamlValue[] | { readonly [k: string]: YamlValue | undefined };

/** Strings that a YAML 1.1 or 1.2 reader could take for something else (numbers, booleans, null, timestamps, sexagesimals). */
const AMBIGUOUS = /^(?:[-+]?(?:\d[\d_]*)?(?:\.\d*)?(?:[eE][-+]?\d+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[-+]?\d[\d_]*(?::[0-5]?\d)+(?:\.\d*)?|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~|\d{4}-\d\d?-\d\d?.*)$/;

/**
 * Letters, digits, `_`, `.`, `/` and `-`, not starting with `.`, `/` or `-`: no character of such a string can break the
 * syntax or start an indicator, so only AMBIGUOUS decides (the common case: names, addresses, paths), with one test.
 */
const WORDLIKE = /^\w[\w./-]*$/;

/**
 * Whether `s` is written plain by this emitter and by the yaml package's stringify alike (letters, digits and `_ . / , = : @ + -`,
 * not starting with `-` or `:`, no `: `, nothing a YAML 1.1 or 1.2 reader would type): a document of such strings comes out of
 * both byte for byte, so a caller may use either (test/unit/artifacts/yaml-emit.test.ts holds this).
 */
export function plainEverywhere(s: string): boolean {
  return /^[A-Za-z0-9_./,=@+][A-Za-z0-9_./,=:@+-]*$/.test(s) && !s.includes(': ') && !s.endsWith(':') && !AMBIGUOUS.test(s);
}

/** Quote a scalar when a plain one would be read differently or break the syntax. */
export function yamlScalar(s: string, forceQuote = false): string {
  if (!forceQuote && WORDLIKE.test(s)) return AMBIGUOUS.test(s) ? JSON.stringify(s) : s;
  const needs =
    forceQuote ||
    s === '' ||
    AMBIGUOUS.test(s) ||
    /^[\s\-?:,[\]{}#&*!|>'"%@`]/.test(s) ||
    /\s$/.test(s) ||
    /: |:$| #|[\t\n\r\u0000-\u001f\u007f\u0085\u2028\u2029\ufeff]/.test(s);
  return needs ? JSON.stringify(s) : s;
}

export interface EmitOptions {
  /** Keys whose scalar values are always double-quoted (e.g. hwaddr). */
  readonly quoteKeys?: ReadonlySet<string>;
}

function emitScalar(v: string | number | boolean | null, quote: boolean): string {
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return yamlScalar(v, quote);
}

const isMap = (v: YamlValue): v is { readonly [k: string]: YamlValue | undefined } => v !== null && typeof v === 'object' && !Array.isArray(v);

function isEmptyMap(m: object): boolean {
  for (const k in m) if (Object.prototype.hasOwnProperty.call(m, k)) return false;
  return true;
}

/** Emit a YAML block document (2-space indent, sequences indented under their key, as wwctl writes nodes.conf). */
export function emitYaml(value: YamlValue, options: EmitOptions = {}): string {
  const out: string[] = [];
  const quoteKeys = options.quoteKeys ?? new Set<string>();
  const emitMap = (m: { readonly [k: string]: YamlValue | undefined }, indent: string): void => {
    // for-in over own keys: Object.entries' order without its arrays (10,000 nodes, each a few maps deep).
    for (const k in m) {
      if (!Object.prototype.hasOwnProperty.call(m, k)) continue;
      const v = m[k];
      if (v === undefined) continue;
      const key = yamlScalar(k);
      if (isMap(v)) {
        if (isEmptyMap(v)) out.push(`${indent}${key}: {}`);
        else {
          out.push(`${indent}${key}:`);
          emitMap(v, indent + '  ');
        }
      } else if (Array.isArray(v)) {
        if (v.length === 0) out.push(`${indent}${key}: []`);
        else {
          out.push(`${indent}${key}:`);
          emitSeq(v, indent + '  ');
        }
      } else out.push(`${indent}${key}: ${emitScalar(v as string | number | boolean | null, quoteKeys.has(k))}`);
    }
  };
  const emitSeq = (s: readonly YamlValue[], indent: string): void => {
    for (const item of s) {
      if (isMap(item)) {
        const entries = Object.entries(item).filter(([, v]) => v !== undefined);
        if (entries.length === 0) {
          out.push(`${indent}- {}`);
          continue;
        }
        // First key on the dash line, the rest aligned under it.
        const start = out.length;
        emitMap(item, indent + '  ');
        out[start] = `${indent}- ${out[start]!.slice(indent.length + 2)}`;
      } else if (Array.isArray(item)) {
        out.push(`${indent}-`);
        emitSeq(item, indent + '  ');
      } else out.push(`${indent}- ${emitScalar(item as string | number | boolean | null, false)}`);
    }
  };
  if (isMap(value)) emitMap(value, '');
  else if (Array.isArray(value)) emitSeq(value, '');
  else out.push(emitScalar(value as string | number | boolean | null, false));
  return out.join('\n') + '\n';
}
