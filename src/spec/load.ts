// YAML loading with source positions (pure): bytes in, a plain value plus a position index and diagnostics out; never throws.
import { isAlias, isMap, isPair, isScalar, LineCounter, parseDocument, visit, type YAMLError } from 'yaml';
import { diagnosticAt, type Diagnostic } from '../diagnostics/diagnostic.ts';
import { indexPositions, type PositionIndex } from './positions.ts';
import { readSimpleYaml } from './simple-yaml.ts';

export interface LoadedYaml {
  readonly text: string;
  /** The document as plain JS; undefined when it could not be read at all. */
  readonly value: unknown;
  readonly index: PositionIndex;
  readonly diagnostics: Diagnostic[];
}

/** Billion-laughs guard: more alias expansions than this is refused. */
const MAX_ALIAS_COUNT = 1000;
/** Deeper documents are refused before parsing: the yaml composer recurses, and a stack overflow can leave V8 unable to go on. */
export const MAX_NESTING = 200;

/** Upper bound of the nesting depth (flow brackets plus block indentation and compact `- - -`), outside quotes and comments. */
function nestingDepth(text: string): { depth: number; line: number; column: number } {
  let flow = 0;
  let worst = { depth: 0, line: 1, column: 1 };
  let line = 1;
  let lineStart = 0;
  let quote: string | null = null;
  let atLineStart = true;
  let block = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      lineStart = i + 1;
      atLineStart = true;
      block = 0;
      if (quote === "'" || quote === '"') continue;
      continue;
    }
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (atLineStart) {
      if (c === ' ') {
        block++;
        continue;
      }
      if (c === '-' && text[i + 1] === ' ') {
        block += 2;
        i++;
        continue;
      }
      atLineStart = false;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      const nl = text.indexOf('\n', i);
      i = (nl < 0 ? text.length : nl) - 1;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') flow++;
    else if (c === ']' || c === '}') flow = Math.max(0, flow - 1);
    const depth = flow + Math.floor(block / 2);
    if (depth > worst.depth) worst = { depth, line, column: i - lineStart + 1 };
  }
  return worst;
}

const yamlRule: Record<string, string> = {
  DUPLICATE_KEY: 'yaml/duplicate-key',
  BAD_ALIAS: 'yaml/alias',
  ALIAS_PROPS: 'yaml/alias',
};

/** Decode UTF-8 strictly: a spec with invalid bytes is reported at the first bad byte, never guessed at. */
function decode(file: string, bytes: Uint8Array): { text?: string; diagnostic?: Diagnostic } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes) };
  } catch {
    let line = 1;
    let column = 1;
    let bad = 0;
    // Find the first invalid byte to point at it.
    for (let i = 0; i < bytes.length; ) {
      const b = bytes[i]!;
      const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
      let ok = len > 0 && i + len <= bytes.length;
      for (let j = 1; ok && j < len; j++) ok = (bytes[i + j]! & 0xc0) === 0x80;
      if (ok && len > 1) ok = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(i, i + len)) !== '\ufffd';
      if (!ok) {
        bad = i;
        break;
      }
      if (b === 0x0a) {
        line++;
        column = 1;
      } else column++;
      i += len;
    }
    return {
      diagnostic: diagnosticAt(
        { file, path: [], line, column },
        'yaml/encoding',
        'error',
        `the file is not valid UTF-8 (byte 0x${bytes[bad]?.toString(16).padStart(2, '0')} at offset ${bad})`,
        'save the spec as UTF-8',
      ),
    };
  }
}

/** Parse a YAML spec. Every problem (encoding, syntax, duplicate keys, alias bombs, nesting) becomes a diagnostic. */
export function loadYaml(file: string, input: Uint8Array | string, options: { readonly subsetReader?: boolean } = {}): LoadedYaml {
  const emptyIndex: PositionIndex = { file, at: (path) => ({ file, path, line: 1, column: 1 }), keyAt: (path) => ({ file, path, line: 1, column: 1 }), has: () => false };
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    const d = decode(file, input);
    if (d.diagnostic) return { text: '', value: undefined, index: emptyIndex, diagnostics: [d.diagnostic] };
    text = d.text!;
  }
  const lineCounter = new LineCounter();
  const diagnostics: Diagnostic[] = [];
  const depth = nestingDepth(text);
  if (depth.depth > MAX_NESTING) {
    return {
      text,
      value: undefined,
      index: emptyIndex,
      diagnostics: [diagnosticAt({ file, path: [], line: depth.line, column: depth.column }, 'yaml/syntax', 'error', `the document is nested more than ${MAX_NESTING} levels deep`, 'a cluster spec needs a handful of levels; flatten this structure')],
    };
  }
  // The common case without the yaml package (spec/simple-yaml.ts): the same value and positions, in a fraction of the time
  // (a short command's start, a 10,000-entry spec). Anything outside its subset, and every error, is the yaml package's.
  const simple = options.subsetReader === false ? undefined : readSimpleYaml(file, text, { typed: true });
  if (simple && simple.value !== null && typeof simple.value === 'object') return { text, value: simple.value, index: simple.index, diagnostics: [] };
  try {
    // uniqueKeys off: the yaml package compares each new key with every earlier one (quadratic: 10,000 node entries took seconds);
    // duplicates are found below with one Set per map instead, reported the same way.
    const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false, strict: true, keepSourceTokens: false });
    const index = indexPositions(file, doc, lineCounter);
    const toDiag = (e: YAMLError, severity: 'error' | 'warning'): Diagnostic => {
      const p = lineCounter.linePos(e.pos[0]);
      const rule = yamlRule[e.code] ?? 'yaml/syntax';
      const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+.*$/, '');
      const hint =
        rule === 'yaml/duplicate-key'
          ? 'each key may appear once in a map; merge the two entries'
          : e.code === 'TAB_AS_INDENT'
            ? 'indent with spaces, not tabs'
            : 'fix the YAML syntax at this position';
      return diagnosticAt({ file, path: [], line: p.line, column: p.col }, rule, severity, msg, hint);
    };
    for (const e of doc.errors) diagnostics.push(toDiag(e, 'error'));
    for (const w of doc.warnings) diagnostics.push(toDiag(w, 'warning'));
    if (doc.errors.length > 0) return { text, value: undefined, index, diagnostics };
    // An alias to an anchor that does not exist, and the __proto__ key (which plain JS objects would silently swallow).
    visit(doc, {
      Map(_, map) {
        if (!isMap(map) || map.items.length < 2) return;
        const seen = new Set<unknown>();
        for (const pair of map.items) {
          const key = isScalar(pair.key) ? pair.key.value : pair.key;
          if (!seen.has(key)) {
            seen.add(key);
            continue;
          }
          const p = lineCounter.linePos((pair.key as { range?: [number, number, number] } | null)?.range?.[0] ?? 0);
          diagnostics.push(diagnosticAt({ file, path: [], line: p.line, column: p.col }, 'yaml/duplicate-key', 'error', 'Map keys must be unique', 'each key may appear once in a map; merge the two entries'));
        }
      },
      Alias(_, node) {
        if (isAlias(node) && node.resolve(doc) === undefined) {
          const p = lineCounter.linePos(node.range?.[0] ?? 0);
          diagnostics.push(diagnosticAt({ file, path: [], line: p.line, column: p.col }, 'yaml/alias', 'error', `alias *${node.source} refers to no anchor &${node.source}`, `define &${node.source} before it is used, or write the value out`));
        }
      },
      Pair(_, pair) {
        if (isPair(pair) && isScalar(pair.key) && pair.key.value === '__proto__') {
          const p = lineCounter.linePos(pair.key.range?.[0] ?? 0);
          diagnostics.push(diagnosticAt({ file, path: [], line: p.line, column: p.col }, 'yaml/syntax', 'error', 'the key __proto__ is reserved', 'rename it'));
        }
      },
    });
    if (diagnostics.some((d) => d.severity === 'error')) return { text, value: undefined, index, diagnostics };
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      diagnostics.push(
        diagnosticAt({ file, path: [], line: 1, column: 1 }, 'yaml/alias', 'error', `aliases expand too much: ${(e as Error).message}`, 'write the values out instead of nesting aliases'),
      );
      return { text, value: undefined, index, diagnostics };
    }
    if (value === null || value === undefined) {
      diagnostics.push(diagnosticAt({ file, path: [], line: 1, column: 1 }, 'yaml/empty', 'error', 'the spec is empty', `start with "apiVersion: herd.dev/v1alpha1" and "kind: Cluster"`));
    }
    return { text, value, index, diagnostics };
  } catch (e) {
    // The yaml composer recurses; pathological nesting can exhaust the stack. Report it instead of crashing.
    const tooDeep = e instanceof RangeError;
    diagnostics.push(
      diagnosticAt(
        { file, path: [], line: 1, column: 1 },
        'yaml/syntax',
        'error',
        tooDeep ? 'the document is nested too deeply to read' : `the YAML could not be read: ${(e as Error).message}`,
        'simplify the document structure',
      ),
    );
    return { text, value: undefined, index: emptyIndex, diagnostics };
  }
}
