// Source positions for spec paths (pure): built once per document so any stage can point at the line a value came from.
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { SourceRef, SpecPath } from '../diagnostics/diagnostic.ts';

interface Span {
  readonly key?: readonly [number, number];
  readonly value: readonly [number, number];
}

const SEP = '\u0001';
/** The key of a path in a position index (shared with spec/simple-yaml.ts, whose index must agree with this one). */
export const keyOf = (path: SpecPath): string => path.map(String).join(SEP);

export interface PositionIndex {
  readonly file: string;
  /** Position of the value at `path`, falling back to the nearest ancestor that exists. */
  at(path: SpecPath): SourceRef;
  /** Position of the map key at `path` (for unknown-key and duplicate errors), else of its value. */
  keyAt(path: SpecPath): SourceRef;
  /** True when the document has a value at exactly this path. */
  has(path: SpecPath): boolean;
}

/** Index every map key and sequence item of a parsed document by its path. O(size of document). */
export function indexPositions(file: string, doc: Document, lineCounter: LineCounter): PositionIndex {
  const spans = new Map<string, Span>();
  // A value spans its text; a block collection (the yaml package's range runs on over the comments and blank lines after
  // it, up to the next key) from its first key or dash to the end of its last value's text, so that an editor or a JSON
  // consumer marks the entry itself.
  const endOf = (node: Node): number => {
    const r = node.range!;
    if (!(isMap(node) || isSeq(node)) || node.flow || node.items.length === 0) return r[1];
    const last = node.items[node.items.length - 1];
    if (isPair(last)) {
      const v = last.value as Node | null;
      if (v?.range) return endOf(v);
      const k = last.key as Node | null;
      return k?.range ? k.range[1] : r[1];
    }
    return (last as Node | undefined)?.range ? endOf(last as Node) : r[1];
  };
  const walk = (node: Node | null | undefined, path: (string | number)[], keyRange?: readonly [number, number]): void => {
    if (!node) return;
    const r = node.range;
    if (r) spans.set(keyOf(path), keyRange ? { key: keyRange, value: [r[0], endOf(node)] } : { value: [r[0], endOf(node)] });
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const k = pair.key as Node | null;
        const keyValue = isScalar(k) ? k.value : k ? String(k) : '';
        const kr = k?.range ? ([k.range[0], k.range[1]] as const) : undefined;
        const childPath = [...path, String(keyValue)];
        if (pair.value) walk(pair.value as Node, childPath, kr);
        else if (kr) spans.set(keyOf(childPath), { key: kr, value: kr });
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item as Node, [...path, i]));
    }
  };
  walk(doc.contents as Node | null, []);

  const toRef = (path: SpecPath, range: readonly [number, number]): SourceRef => {
    const start = lineCounter.linePos(range[0]);
    const end = lineCounter.linePos(Math.max(range[0], range[1]));
    return { file, path, line: start.line, column: start.col, endLine: end.line, endColumn: end.col };
  };
  const nearest = (path: SpecPath): { span: Span; path: SpecPath } | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const p = path.slice(0, n);
      const s = spans.get(keyOf(p));
      if (s) return { span: s, path: p };
    }
    return undefined;
  };
  return {
    file,
    at(path) {
      const hit = nearest(path);
      if (!hit) return { file, path, line: 1, column: 1 };
      return { ...toRef(path, hit.span.value), path };
    },
    keyAt(path) {
      const hit = nearest(path);
      if (!hit) return { file, path, line: 1, column: 1 };
      return { ...toRef(path, hit.span.key ?? hit.span.value), path };
    },
    has(path) {
      return spans.has(keyOf(path));
    },
  };
}

/** A position index for a file we have no YAML for (e.g. a CSV): line/column given directly. */
export function refInFile(file: string, line: number, column: number, path: SpecPath = []): SourceRef {
  return { file, path, line, column };
}
