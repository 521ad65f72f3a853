// A fast reader for the YAML subset that cluster specs and nodes.conf are written in (pure): block maps and sequences
// indented with spaces, plain and quoted one-line scalars, one-line flow collections, comments. The yaml package needs
// seconds for a 10,000-entry file and tens of milliseconds of a short command's start for the lab's spec; this needs
// milliseconds. Anything outside the subset (anchors, aliases, tags, block scalars, multi-line scalars, tabs, control
// characters, carriage returns, duplicate keys, document markers, numbers in other spellings than decimal) returns
// undefined and the caller reads the file with the yaml package instead, so this reader never has to be right about YAML
// it does not understand, and every error message is still the yaml package's.
//
// Two readings of plain scalars:
// - `typed` (cluster specs, warewulf.conf): as the yaml package's default schema (YAML 1.2 core) reads them: null, true and
//   false in their spellings, decimal integers and floats; the other number spellings (0x, 0o, 1e3, .inf) are declined.
// - strings (nodes.conf: Warewulf's fields are strings): every scalar a string, nulls null; spellings the core schema would
//   read as another value than the text (010, 1.0, True) are declined, as the yaml package would change them.
//
// Positions are the ones src/spec/positions.ts gives from the yaml package's parse (a differential test holds the two to
// each other on every spec and nodes.conf the tests know): a value from its first character to the end of its text, a
// block collection to the end of its last value's text, a key-only entry's null just after its `:`.
import type { SourceRef, SpecPath } from '../diagnostics/diagnostic.ts';
import { keyOf, type PositionIndex } from './positions.ts';

export type SimpleValue = string | number | boolean | null | SimpleValue[] | { [k: string]: SimpleValue };

interface Line {
  readonly indent: number;
  /** Text after the indentation, comment removed, trailing spaces trimmed. */
  readonly text: string;
  readonly no: number;
  /** Column where a value that is absent from this line is placed: the comment's start, else the end of the line. */
  readonly tail: number;
}

class Bail extends Error {}
const bail = (): never => {
  throw new Bail('outside the subset');
};

/** Index of a `#` comment start outside quotes (YAML: at line start or after whitespace), or -1. */
function commentAt(s: string): number {
  let q: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (q === '"' && c === '\\') i++;
      else if (c === q) q = null;
    } else if (c === '"' || c === "'") {
      if (i === 0 || /[\s:[{,-]/.test(s[i - 1]!)) q = c;
    } else if (c === '#' && (i === 0 || s[i - 1] === ' ')) return i;
  }
  return -1;
}

/** First characters of a line that may start something outside the subset (a document marker, anchor, tag, block scalar...). */
const STARTS_SPECIAL = new Set([...'-.&*!|>%@`?'].map((c) => c.charCodeAt(0)));
/**
 * Characters the subset leaves to the yaml package wherever they are: tabs, carriage returns, other C0 and C1 controls, DEL,
 * BOM, and the Unicode spaces JavaScript's trim() removes but YAML keeps in a value (no-break space, U+2000-U+200A, line
 * and paragraph separators, ideographic space...).
 */
const DECLINED_CHARS = /[\x00-\x09\x0b-\x1f\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\ufffe\uffff]/;

function lines(text: string): Line[] {
  if (DECLINED_CHARS.test(text)) bail();
  const out: Line[] = [];
  const raw = text.split('\n');
  for (let i = 0; i < raw.length; i++) {
    const l = raw[i]!;
    let indent = 0;
    while (l.charCodeAt(indent) === 32) indent++;
    if (indent === l.length || l.charCodeAt(indent) === 35) continue;
    let t = l.slice(indent);
    const c = t.includes('#') ? commentAt(t) : -1;
    if (c >= 0) t = t.slice(0, c);
    t = t.trimEnd();
    if (t === '') continue;
    if (STARTS_SPECIAL.has(t.charCodeAt(0)) && /^(---|\.\.\.)(\s|$)|^[&*!|>%@`?]/.test(t)) bail();
    out.push({ indent, text: t, no: i + 1, tail: (c >= 0 ? indent + c : l.length) + 1 });
  }
  return out;
}

const PLAIN_BAD = /^[#[\]{}&*!|>'"%@`,?]|^-( |$)|: |\s#| &| \*|:$/;
const WORD = /^[A-Za-z_][\w./-]*$/;
const NULLS = /^(?:~|null|Null|NULL)$/;
const BOOLS = /^(?:true|True|TRUE|false|False|FALSE)$/;
/** The YAML 1.2 core schema's decimal integers and floats (the yaml package's own tests of them). */
const INT = /^[-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
/** Its other numbers: octal, hex, exponent, infinities and NaN (left to the yaml package). */
const OTHER_NUMBER = /^0o[0-7]+$|^0x[0-9a-fA-F]+$|^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$|^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;

/** A one-line scalar as written (quotes included), read as the yaml package would, or Bail. */
function scalar(s: string, typed: boolean): SimpleValue {
  if (s === '' || NULLS.test(s)) return null;
  if (s.startsWith('"')) {
    if (!s.endsWith('"') || s.length < 2) bail();
    // JSON's escapes are a subset of YAML's double-quoted ones; any other backslash is left to the yaml package.
    if (/\\[^"\\/bfnrtu]/.test(s)) bail();
    try {
      return JSON.parse(s) as string;
    } catch {
      return bail();
    }
  }
  if (s.startsWith("'")) {
    if (!s.endsWith("'") || s.length < 2) bail();
    const inner = s.slice(1, -1);
    if (/'(?!')/.test(inner.replace(/''/g, ''))) bail();
    return inner.replace(/''/g, "'");
  }
  if (typed) {
    if (BOOLS.test(s)) return s.charCodeAt(0) === 116 || s.charCodeAt(0) === 84 ? true : false;
    if (WORD.test(s)) return s;
    if (PLAIN_BAD.test(s)) bail();
    if (INT.test(s)) return parseInt(s, 10);
    if (FLOAT.test(s)) return parseFloat(s);
    if (OTHER_NUMBER.test(s)) bail();
    return s;
  }
  // A name, path or word (letters first, then letters, digits, _ . / -): nothing below can apply but the boolean spellings.
  if (WORD.test(s)) return /^(true|false|null)$/i.test(s) && !/^(true|false)$/.test(s) ? bail() : s;
  if (PLAIN_BAD.test(s)) bail();
  // Plain scalars the YAML core schema reads as numbers or booleans in another spelling (010, 1.0, 0x1f, True) would come
  // back from the yaml package as a different string: leave them to it.
  if (/^[-+]?(\.?\d|\.(inf|nan))/i.test(s) && !/^(0|[1-9]\d*)$/.test(s) && /^[-+]?(\d[\d_]*)?(\.[\d_]*)?([eE][-+]?\d+)?$|^[-+]?0[xo]|^[-+]?\.(inf|nan)$/i.test(s)) bail();
  if (/^(true|false|null)$/i.test(s) && !/^(true|false)$/.test(s)) bail();
  return s;
}

/** A map key as written, read as a string key (a key the yaml package would read as a number, boolean or null is declined). */
function keyText(k: string, typed: boolean): string {
  if (k === '' || k.length > 1000) bail();
  const v = scalar(k, typed);
  if (typeof v !== 'string' || v === '__proto__') bail();
  return v as string;
}

/** Split `key: rest` at the first `:` followed by a space or the end, after a quoted key; undefined when there is none. */
function splitKey(t: string, typed: boolean): { key: string; keyLength: number; rest: string } | undefined {
  const c0 = t.charCodeAt(0);
  if (c0 === 91 || c0 === 123) return undefined; // a flow collection, not a key
  // A quoted key is skipped whole (a `: ` inside it is part of it); an unterminated one finds no `:` after it.
  let from = 0;
  if (c0 === 34 || c0 === 39) {
    let i = 1;
    while (i < t.length && t.charCodeAt(i) !== c0) i += c0 === 34 && t[i] === '\\' ? 2 : 1;
    from = i + 1;
  }
  let i = t.indexOf(': ', from);
  if (i < 0) i = t.endsWith(':') && t.length - 1 >= from ? t.length - 1 : -1;
  if (i < 0) return undefined;
  const k = t.slice(0, i).trimEnd();
  return { key: keyText(k, typed), keyLength: k.length, rest: t.slice(i + 1).trim() };
}

interface Span {
  readonly line: number;
  readonly col: number;
  endLine: number;
  endCol: number;
  readonly keyLine?: number;
  readonly keyCol?: number;
  readonly keyEndCol?: number;
}

type Put = (path: string, span: Span) => void;

/** A one-line flow collection starting at column `col` of line `line`; every item and key is recorded with `put`. */
function flow(s: string, line: number, col: number, path: string, put: Put, typed: boolean): SimpleValue {
  let i = 0;
  const ws = (): void => {
    while (s[i] === ' ') i++;
  };
  const item = (pth: string, key?: { keyCol: number; keyEndCol: number }): SimpleValue => {
    ws();
    const span: Span = { line, col: col + i, endLine: line, endCol: col + i, ...(key ? { keyLine: line, ...key } : {}) };
    const v = collection(pth) ?? atom(false);
    span.endCol = col + end;
    put(pth, span);
    return v;
  };
  // End (index in s) of the last item read, before any blanks after it.
  let end = 0;
  /** After an entry: true at a `,` (consumed), false at `close` (left for the caller), declined at anything else. */
  const more = (close: string): boolean => {
    ws();
    if (s[i] === ',') {
      i++;
      return true;
    }
    return s[i] === close ? false : bail();
  };
  const collection = (pth: string): SimpleValue | undefined => {
    if (s[i] === '[') {
      i++;
      const out: SimpleValue[] = [];
      ws();
      if (s[i] !== ']') do out.push(item(`${pth}${SEP}${out.length}`));
      while (more(']'));
      end = ++i;
      return out;
    }
    if (s[i] === '{') {
      i++;
      const out: { [k: string]: SimpleValue } = {};
      ws();
      if (s[i] !== '}') {
        do {
          ws();
          const keyCol = col + i;
          const k = atom(true) as string; // a key is a string or declined (keyText, and the quoted branch of atom)
          const keyEndCol = col + end;
          // `key: value` only: a key followed by `:` without a blank (`{a:b}`) or by nothing is left to the yaml package.
          if (s[i] !== ':' || s[i + 1] !== ' ') bail();
          i++;
          if (Object.prototype.hasOwnProperty.call(out, k) || k === '__proto__') bail();
          out[k] = item(`${pth}${SEP}${k}`, { keyCol, keyEndCol });
        } while (more('}'));
      }
      end = ++i;
      return out;
    }
    return undefined;
  };
  const atom = (isKey: boolean): SimpleValue => {
    ws();
    if (s[i] === '"' || s[i] === "'") {
      const q = s[i]!;
      let j = i + 1;
      while (j < s.length && s[j] !== q) j += s[j] === '\\' && q === '"' ? 2 : 1;
      if (q === "'" && s[j + 1] === "'") bail();
      const v = scalar(s.slice(i, j + 1), typed);
      i = end = j + 1;
      if (isKey && typeof v !== 'string') bail();
      return v;
    }
    let j = i;
    while (j < s.length && !/[,\]}]/.test(s[j]!) && !(s[j] === ':' && (s[j + 1] === ' ' || s[j + 1] === undefined))) j++;
    const raw = s.slice(i, j).trimEnd();
    if (raw === '' || /[[{]/.test(raw)) bail();
    end = i + raw.length;
    i = j;
    return isKey ? keyText(raw, typed) : scalar(raw, typed);
  };
  const v = collection(path);
  ws();
  if (v === undefined || i !== s.length) bail();
  return v!;
}

const SEP = '\u0001';

/**
 * Parse `text`; undefined when it is not in the subset (read it with the yaml package then). `typed` reads plain scalars
 * as the YAML core schema does; without it every scalar is a string.
 */
export function readSimpleYaml(file: string, text: string, options: { typed?: boolean } = {}): { value: SimpleValue; index: PositionIndex } | undefined {
  const typed = options.typed ?? false;
  const spans = new Map<string, Span>();
  let ls: Line[];
  try {
    ls = lines(text);
  } catch (e) {
    if (e instanceof Bail) return undefined;
    throw e;
  }
  let p = 0;
  // Positions below the entries of the top-level sections (one node or profile of nodes.conf, one node of a spec) are
  // recorded only when one of them is asked for, by parsing that entry's lines again: a 10,000-node file then keeps
  // 10,000 spans, not 200,000.
  let record = true;
  const deferred = new Map<string, { start: number; indent: number }>();
  const put: Put = (path, span) => {
    if (record) spans.set(path, span);
  };
  // Where the text of the last value read ends (line, column after it): a block collection ends where its last value does.
  let lastLine = 0;
  let lastCol = 0;
  const ended = (span: Span): Span => {
    span.endLine = lastLine;
    span.endCol = lastCol;
    return span;
  };
  /** A value written on its line after the key or dash, at `col`: a flow collection or a scalar. */
  const inline = (l: Line, rest: string, col: number, path: string, key?: { keyLine: number; keyCol: number; keyEndCol: number }): SimpleValue => {
    const c = rest.charCodeAt(0);
    const v = c === 91 || c === 123 ? flow(rest, l.no, col, path, put, typed) : scalar(rest, typed);
    lastLine = l.no;
    lastCol = col + rest.length;
    if (record) put(path, { line: l.no, col, endLine: lastLine, endCol: lastCol, ...key });
    return v;
  };
  /** An absent value after a key or dash that ends line `l`: null, placed where yaml places it. */
  const absent = (l: Line, path: string, key?: { keyLine: number; keyCol: number; keyEndCol: number }): null => {
    lastLine = l.no;
    lastCol = l.tail;
    put(path, { line: l.no, col: l.tail, endLine: l.no, endCol: l.tail, ...key });
    return null;
  };
  // A block at `indent` starting at ls[p]: a map or a sequence.
  // `depth` 0 is the document itself: its entries' paths are their keys alone (a key "" is not the document).
  const block = (indent: number, path: string, key: { keyLine: number; keyCol: number; keyEndCol: number } | undefined, depth: number): SimpleValue => {
    const first = ls[p]!;
    if (first.indent !== indent) bail();
    // Recorded before the entries inside it and ended after them, as positions.ts walks the yaml package's tree (so that a
    // top-level key "" and the document itself, which share an index key, resolve alike).
    const span: Span | undefined = record ? { line: first.no, col: indent + 1, endLine: 0, endCol: 0, ...key } : undefined;
    if (span) put(path, span);
    const v = first.text === '-' || first.text.startsWith('- ') ? seqBlock(indent, path, depth) : mapBlock(indent, path, depth);
    if (span) ended(span);
    return v;
  };
  const seqBlock = (indent: number, path: string, depth: number): SimpleValue => {
    const out: SimpleValue[] = [];
    while (p < ls.length && ls[p]!.indent === indent && (ls[p]!.text === '-' || ls[p]!.text.startsWith('- '))) {
      const l = ls[p]!;
      const itemPath = !record ? path : depth === 0 ? String(out.length) : `${path}${SEP}${out.length}`;
      const rest = l.text === '-' ? '' : l.text.slice(2).trimStart();
      const restIndent = indent + (l.text.length - rest.length);
      if (rest === '') {
        p++;
        // The item's value on the lines below, deeper than the dash; else null.
        out.push(p < ls.length && ls[p]!.indent > indent ? block(ls[p]!.indent, itemPath, undefined, depth + 1) : absent(l, itemPath));
        continue;
      }
      if (rest.startsWith('- ') || rest === '-') bail();
      if (splitKey(rest, typed)) {
        // A map inside the sequence: its first key on the dash line, the others aligned under it (the line is put back
        // afterwards, so the entry can be parsed again for its positions).
        const at = p;
        ls[p] = { indent: restIndent, text: rest, no: l.no, tail: l.tail };
        out.push(block(restIndent, itemPath, undefined, depth + 1));
        ls[at] = l;
      } else {
        p++;
        out.push(inline(l, rest, restIndent + 1, itemPath));
      }
    }
    return out;
  };
  const mapBlock = (indent: number, path: string, depth: number): SimpleValue => {
    const out: { [k: string]: SimpleValue } = {};
    while (p < ls.length && ls[p]!.indent === indent) {
      const l = ls[p]!;
      if (l.text.startsWith('- ') || l.text === '-') bail();
      const kv = splitKey(l.text, typed);
      if (!kv) return bail();
      if (Object.prototype.hasOwnProperty.call(out, kv.key)) bail();
      // Paths only name recorded positions: inside a deferred entry none is recorded, so none is built (10,000 nodes' keys).
      const childPath = !record ? path : depth === 0 ? kv.key : `${path}${SEP}${kv.key}`;
      const key = record ? { keyLine: l.no, keyCol: indent + 1, keyEndCol: indent + 1 + kv.keyLength } : undefined;
      p++;
      if (kv.rest === '') {
        const next = ls[p];
        // A sequence may sit at the key's own indentation (wwctl's style); a map must be deeper.
        if (next && (next.indent > indent || (next.indent === indent && (next.text === '-' || next.text.startsWith('- '))))) {
          const defer = record && depth === 1;
          if (defer) {
            deferred.set(childPath, { start: p, indent: next.indent });
            // Its own span is recorded (the entry's first line to its last value), the ones inside it only on demand.
            spans.set(childPath, { line: next.no, col: next.indent + 1, endLine: 0, endCol: 0, ...key });
            record = false;
          }
          out[kv.key] = block(next.indent, childPath, key, depth + 1);
          if (defer) {
            record = true;
            ended(spans.get(childPath)!);
          }
        } else out[kv.key] = absent(l, childPath, key);
      } else {
        if (kv.rest.startsWith('- ') || kv.rest === '-') bail();
        out[kv.key] = inline(l, kv.rest, indent + 1 + l.text.length - kv.rest.length, childPath, key);
      }
    }
    return out;
  };
  let value: SimpleValue;
  try {
    if (ls.length === 0) return undefined;
    value = block(ls[0]!.indent, '', undefined, 0);
    if (p !== ls.length) return undefined;
  } catch (e) {
    if (e instanceof Bail) return undefined;
    throw e;
  }
  const expand = (path: SpecPath): void => {
    if (path.length < 2) return;
    const entry = keyOf(path.slice(0, 2));
    const d = deferred.get(entry);
    if (!d) return;
    deferred.delete(entry);
    const own = spans.get(entry);
    p = d.start;
    block(d.indent, entry, undefined, 2);
    // The entry's own span keeps its key.
    if (own) spans.set(entry, own);
  };
  const ref = (path: SpecPath, useKey: boolean): SourceRef => {
    expand(path);
    for (let n = path.length; n >= 0; n--) {
      const s = spans.get(keyOf(n === path.length ? path : path.slice(0, n)));
      if (!s) continue;
      if (useKey && s.keyLine !== undefined) return { file, path, line: s.keyLine, column: s.keyCol!, endLine: s.keyLine, endColumn: s.keyEndCol! };
      return { file, path, line: s.line, column: s.col, endLine: s.endLine, endColumn: s.endCol };
    }
    return { file, path, line: 1, column: 1 };
  };
  const index: PositionIndex = {
    file,
    at: (path) => ref(path, false),
    keyAt: (path) => ref(path, true),
    has: (path) => {
      expand(path);
      return spans.has(keyOf(path));
    },
  };
  return { value, index };
}
