// A fast reader for the YAML subset nodes.conf is written in (pure): block maps and sequences indented with spaces, plain and
// quoted scalars, one-line flow collections, comments. The yaml package needs seconds for a 10,000-node nodes.conf; this
// needs milliseconds. Anything outside the subset (anchors, aliases, tags, block scalars, multi-line scalars, tabs, duplicate
// keys, document markers) returns undefined and the caller reads the file with the yaml package instead, so this reader
// never has to be right about YAML it does not understand. Scalars come back as strings (Warewulf's fields are strings);
// `null`, `~` and empty values as null. A differential test holds it to the yaml package on every nodes.conf the tests know.
import type { SourceRef, SpecPath } from '../diagnostics/diagnostic.ts';
import type { PositionIndex } from '../spec/positions.ts';

type Value = string | null | Value[] | { [k: string]: Value };

interface Line {
  readonly indent: number;
  /** Text after the indentation, comment removed, trailing spaces trimmed. */
  readonly text: string;
  readonly no: number;
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

function lines(text: string): Line[] {
  const out: Line[] = [];
  const raw = text.split('\n');
  for (let i = 0; i < raw.length; i++) {
    let l = raw[i]!;
    if (l.endsWith('\r')) l = l.slice(0, -1);
    if (l.includes('\t')) bail();
    let indent = 0;
    while (l.charCodeAt(indent) === 32) indent++;
    if (indent === l.length || l.charCodeAt(indent) === 35) continue;
    let t = l.slice(indent);
    const c = t.includes('#') ? commentAt(t) : -1;
    if (c >= 0) t = t.slice(0, c);
    t = t.trimEnd();
    if (t === '') continue;
    if (STARTS_SPECIAL.has(t.charCodeAt(0)) && /^(---|\.\.\.)(\s|$)|^[&*!|>%@`?]/.test(t)) bail();
    out.push({ indent, text: t, no: i + 1 });
  }
  return out;
}

const PLAIN_BAD = /^[[\]{}&*!|>'"%@`,?]|: |\s#| &| \*|:$/;
const WORD = /^[A-Za-z_][\w./-]*$/;

function scalar(s: string): Value {
  if (s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL') return null;
  if (s.startsWith('"')) {
    if (!s.endsWith('"') || s.length < 2) bail();
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
  // A name, path or word (letters first, then letters, digits, _ . / -): nothing below can apply but the boolean spellings.
  if (WORD.test(s)) return /^(true|false|null)$/i.test(s) && !/^(true|false)$/.test(s) ? bail() : s;
  if (PLAIN_BAD.test(s)) bail();
  // Plain scalars the YAML core schema reads as numbers or booleans in another spelling (010, 1.0, 0x1f, True) would come
  // back from the yaml package as a different string: leave them to it.
  if (/^[-+]?(\.?\d|\.(inf|nan))/i.test(s) && !/^(0|[1-9]\d*)$/.test(s) && /^[-+]?(\d[\d_]*)?(\.[\d_]*)?([eE][-+]?\d+)?$|^[-+]?0[xo]|^[-+]?\.(inf|nan)$/i.test(s)) bail();
  if (/^(true|false|null)$/i.test(s) && !/^(true|false)$/.test(s)) bail();
  return s;
}

/** Split `key: rest` at the first `:` followed by a space or the end, outside quotes; undefined when there is none. */
function splitKey(t: string): { key: string; rest: string } | undefined {
  let q: string | null = null;
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    if (q) {
      if (q === '"' && c === '\\') i++;
      else if (c === q) q = null;
      continue;
    }
    if ((c === '"' || c === "'") && i === 0) q = c;
    else if (c === '[' || c === '{') return undefined;
    else if (c === ':' && (i + 1 === t.length || t[i + 1] === ' ')) {
      const k = t.slice(0, i).trimEnd();
      const key = scalar(k);
      if (typeof key !== 'string' || k === '') bail();
      return { key: key as string, rest: t.slice(i + 1).trim() };
    }
  }
  return undefined;
}

/** A one-line flow collection starting at column `col` of line `line`; every item and key is recorded with `put`. */
function flow(s: string, line: number, col: number, path: string, put: (path: string, span: Span) => void): Value {
  let i = 0;
  const ws = (): void => {
    while (s[i] === ' ') i++;
  };
  const item = (pth: string, keySpan?: { keyLine: number; keyCol: number }, record = true): Value => {
    ws();
    if (record) put(pth, { line, col: col + i, ...(keySpan ?? {}) });
    if (s[i] === '[') {
      i++;
      const out: Value[] = [];
      ws();
      if (s[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(item(`${pth}${SEP}${out.length}`));
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === ']') {
          i++;
          return out;
        }
        return bail();
      }
    }
    if (s[i] === '{') {
      i++;
      const out: { [k: string]: Value } = {};
      ws();
      if (s[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        ws();
        const keyCol = col + i;
        const k = atom(true);
        if (typeof k !== 'string' || s[i] !== ':') bail();
        i++;
        if (Object.prototype.hasOwnProperty.call(out, k as string) || k === '__proto__') bail();
        out[k as string] = item(`${pth}${SEP}${k as string}`, { keyLine: line, keyCol });
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === '}') {
          i++;
          return out;
        }
        return bail();
      }
    }
    return atom(false);
  };
  const atom = (isKey: boolean): Value => {
    ws();
    if (s[i] === '"' || s[i] === "'") {
      const q = s[i]!;
      let j = i + 1;
      while (j < s.length && s[j] !== q) j += s[j] === '\\' && q === '"' ? 2 : 1;
      if (q === "'" && s[j + 1] === "'") bail();
      const v = scalar(s.slice(i, j + 1));
      i = j + 1;
      return v;
    }
    let j = i;
    while (j < s.length && !/[,\]}]/.test(s[j]!) && !(s[j] === ':' && (isKey || s[j + 1] === ' ' || s[j + 1] === undefined))) j++;
    const raw = s.slice(i, j).trim();
    i = j;
    if (/[[{]/.test(raw)) bail();
    return scalar(raw);
  };
  const v = item(path, undefined, false);
  ws();
  if (i !== s.length) bail();
  return v;
}

interface Span {
  readonly line: number;
  readonly col: number;
  readonly keyLine?: number;
  readonly keyCol?: number;
}

const SEP = '\u0001';

/** Parse `text`; undefined when it is not in the subset (read it with the yaml package then). */
export function readSimpleYaml(file: string, text: string): { value: unknown; index: PositionIndex } | undefined {
  const spans = new Map<string, Span>();
  let ls: Line[];
  try {
    ls = lines(text);
  } catch (e) {
    if (e instanceof Bail) return undefined;
    throw e;
  }
  let p = 0;
  // Positions below the entries of the top-level sections (one node or profile of nodes.conf) are recorded only when one of
  // them is asked for, by parsing that entry's lines again: a 10,000-node file then keeps 10,000 spans, not 200,000.
  let record = true;
  const deferred = new Map<string, { start: number; indent: number }>();
  const put = (path: string, span: Span): void => {
    if (record) spans.set(path, span);
  };
  const valueCol = (l: Line, rest: string): number => l.indent + l.text.length - rest.length + 1;
  // A block at `indent` starting at ls[p]: a map or a sequence.
  const block = (indent: number, path: string): Value => {
    const first = ls[p]!;
    if (first.indent !== indent) bail();
    if (first.text === '-' || first.text.startsWith('- ')) {
      const out: Value[] = [];
      while (p < ls.length && ls[p]!.indent === indent && (ls[p]!.text === '-' || ls[p]!.text.startsWith('- '))) {
        const l = ls[p]!;
        const itemPath = record ? `${path}${SEP}${out.length}` : path;
        const rest = l.text === '-' ? '' : l.text.slice(2).trimStart();
        const restIndent = indent + (l.text.length - rest.length);
        if (record) put(itemPath, { line: l.no, col: restIndent + 1 });
        if (rest === '') {
          p++;
          out.push(p < ls.length && ls[p]!.indent > indent ? block(ls[p]!.indent, itemPath) : null);
          continue;
        }
        const kv = splitKey(rest);
        if (kv) {
          // A map inside the sequence: its first key on the dash line, the others aligned under it (the line is put back
          // afterwards, so the entry can be parsed again for its positions).
          const at = p;
          ls[p] = { indent: restIndent, text: rest, no: l.no };
          out.push(mapBlock(restIndent, itemPath));
          ls[at] = l;
        } else {
          p++;
          const v = /^[[{]/.test(rest) ? flow(rest, l.no, restIndent + 1, itemPath, put) : scalar(rest);
          out.push(v);
        }
      }
      return out;
    }
    return mapBlock(indent, path);
  };
  const mapBlock = (indent: number, path: string): Value => {
    const out: { [k: string]: Value } = {};
    while (p < ls.length && ls[p]!.indent === indent) {
      const l = ls[p]!;
      if (l.text.startsWith('- ') || l.text === '-') bail();
      const kv = splitKey(l.text);
      if (!kv) return bail();
      if (Object.prototype.hasOwnProperty.call(out, kv.key) || kv.key === '__proto__') bail();
      // Paths only name recorded positions: inside a deferred entry none is recorded, so none is built (10,000 nodes' keys).
      const childPath = !record ? path : path === '' ? kv.key : `${path}${SEP}${kv.key}`;
      p++;
      if (kv.rest === '') {
        const next = ls[p];
        // A sequence may sit at the key's own indentation (wwctl's style); a map must be deeper.
        if (next && (next.indent > indent || (next.indent === indent && (next.text === '-' || next.text.startsWith('- '))))) {
          if (record) put(childPath, { line: next.no, col: next.indent + 1, keyLine: l.no, keyCol: indent + 1 });
          const defer = record && path !== '' && !path.includes(SEP);
          if (defer) {
            deferred.set(childPath, { start: p, indent: next.indent });
            record = false;
          }
          out[kv.key] = block(next.indent, childPath);
          if (defer) record = true;
        } else {
          if (record) put(childPath, { line: l.no, col: indent + 1, keyLine: l.no, keyCol: indent + 1 });
          out[kv.key] = null;
        }
      } else {
        if (record) put(childPath, { line: l.no, col: valueCol(l, kv.rest), keyLine: l.no, keyCol: indent + 1 });
        out[kv.key] = /^[[{]/.test(kv.rest) ? flow(kv.rest, l.no, valueCol(l, kv.rest), childPath, put) : scalar(kv.rest);
      }
    }
    return out;
  };
  let value: Value;
  try {
    if (ls.length === 0) return undefined;
    value = block(ls[0]!.indent, '');
    if (p !== ls.length) return undefined;
  } catch (e) {
    if (e instanceof Bail) return undefined;
    throw e;
  }
  const keyOf = (path: SpecPath): string => path.map(String).join(SEP);
  const expand = (path: SpecPath): void => {
    if (path.length <= 2) return;
    const entry = keyOf(path.slice(0, 2));
    const d = deferred.get(entry);
    if (!d) return;
    deferred.delete(entry);
    p = d.start;
    block(d.indent, entry);
  };
  const ref = (path: SpecPath, useKey: boolean): SourceRef => {
    expand(path);
    for (let n = path.length; n > 0; n--) {
      const s = spans.get(keyOf(path.slice(0, n)));
      if (s) return useKey && s.keyLine !== undefined ? { file, path, line: s.keyLine, column: s.keyCol! } : { file, path, line: s.line, column: s.col };
    }
    return { file, path, line: 1, column: 1 };
  };
  const index: PositionIndex = { file, at: (path) => ref(path, false), keyAt: (path) => ref(path, true), has: (path) => {
    expand(path);
    return spans.has(keyOf(path));
  } };
  return { value, index };
}
