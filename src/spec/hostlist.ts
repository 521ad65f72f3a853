// Slurm hostlist expansion and compression (pure), matching Slurm 22.05's syntax as `scontrol show hostnames/hostlist` does.
// Expansion: comma-separated items; each item is text and bracket groups `[1-4,7]`; several groups expand as a product, the last varying fastest.
// Zero padding comes from the low bound (`c[001-3]` -> c001..c003; `c[1-010]` -> c1..c10).
// Slurm 22.05 rejects text after a closing bracket unless another bracket follows (`c[1-2]-ib` is fatal in slurm.conf), so we do too.

export interface HostlistError {
  readonly message: string;
  /** 0-based offset in the expression where the problem starts. */
  readonly offset: number;
}

export type HostlistResult = { readonly ok: true; readonly names: string[] } | { readonly ok: false; readonly error: HostlistError };

/** Refuse expansions larger than this: a typo like c[1-99999999] must not eat the machine. */
export const MAX_HOSTLIST_EXPANSION = 1_000_000;
/**
 * The most nodes one spec may define (nodes entries, and inventory rows). Memory grows with the node count (about 2 KB
 * per node while validating: 1,000,000 nodes peak near 2 GB), so past this a spec is refused before any node is made
 * rather than risking an out-of-memory crash. No Warewulf server or Slurm controller serves clusters near this size.
 */
export const MAX_NODES = MAX_HOSTLIST_EXPANSION;
/** Slurm refuses a single bracket range of more names than this ("Too many hosts in range"). */
export const MAX_RANGE_SIZE = 65_536;
/** Slurm keeps numeric suffixes in an unsigned long. */
const MAX_SUFFIX = 18446744073709551615n;

interface NumberRange {
  readonly lo: bigint;
  readonly hi: bigint;
  /** Zero padding, from the low bound as written. */
  readonly width: number;
}

interface Segment {
  readonly text: string;
  readonly ranges: readonly NumberRange[];
  /** How many numbers the ranges hold. */
  readonly count: number;
}

/** The comma-separated items of a hostlist (commas inside brackets do not separate), with their offsets. */
function splitItems(expr: string): { item: string; start: number }[] {
  const items: { item: string; start: number }[] = [];
  let start = 0;
  let depth = 0;
  for (let i = 0; i <= expr.length; i++) {
    const c = expr[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    if ((c === ',' && depth === 0) || i === expr.length) {
      items.push({ item: expr.slice(start, i), start });
      start = i + 1;
    }
  }
  return items;
}

/** Expand a Slurm hostlist expression into host names, in order (duplicates kept, as Slurm does). */
export function expandHostlist(expr: string): HostlistResult {
  const names: string[] = [];
  if (expr.trim() === '') return fail('empty hostlist', 0);
  for (const { item, start } of splitItems(expr)) {
    const r = expandItem(item, start);
    if (!r.ok) return r;
    for (const n of r.names) names.push(n);
    if (names.length > MAX_HOSTLIST_EXPANSION) return fail(`hostlist expands to more than ${MAX_HOSTLIST_EXPANSION} names`, 0);
  }
  return { ok: true, names };
}

/**
 * How many names `expr` expands to, counted without making them (so a spec of too many nodes is refused before any node
 * exists); undefined when expandHostlist would report an error instead.
 */
export function countHostlist(expr: string): number | undefined {
  if (expr.trim() === '') return undefined;
  let total = 0;
  for (const { item, start } of splitItems(expr)) {
    const parsed = parseItem(item, start);
    if ('message' in parsed) return undefined;
    total += parsed.segments.reduce((n, seg) => n * seg.count, 1);
    if (total > MAX_HOSTLIST_EXPANSION) return undefined;
  }
  return total;
}

function fail(message: string, offset: number): HostlistResult {
  return { ok: false, error: { message, offset } };
}

/** One item's text and bracket groups, checked; no names made yet. */
function parseItem(item: string, base: number): { segments: Segment[]; tail: string } | HostlistError {
  if (item === '') return { message: 'empty name between commas', offset: base };
  const segments: Segment[] = [];
  let i = 0;
  let text = '';
  let sawBracket = false;
  while (i < item.length) {
    const c = item[i]!;
    if (c === '[') {
      const close = item.indexOf(']', i);
      if (close < 0) return { message: `unclosed "[" in "${item}"`, offset: base + i };
      const ranges = parseRanges(item.slice(i + 1, close), base + i + 1);
      if (!Array.isArray(ranges)) return ranges;
      segments.push({ text, ranges, count: ranges.reduce((n, r) => n + Number(r.hi - r.lo + 1n), 0) });
      text = '';
      sawBracket = true;
      i = close + 1;
      continue;
    }
    if (c === ']') return { message: `unexpected "]" in "${item}"`, offset: base + i };
    if (/\s/.test(c)) return { message: `whitespace in host name "${item}"`, offset: base + i };
    text += c;
    i++;
  }
  if (sawBracket && text !== '') {
    return { message: `"${item}" has text after a bracket range, which Slurm rejects; put the range last (e.g. ib-c[1-2]) or list the names`, offset: base + item.lastIndexOf(']') + 1 };
  }
  return { segments, tail: text };
}

function expandItem(item: string, base: number): HostlistResult {
  const parsed = parseItem(item, base);
  if ('message' in parsed) return { ok: false, error: parsed };
  const { segments, tail } = parsed;
  // Counted before any name is made: c[1-65536,1-65536,...] or a product of brackets must not eat the machine first.
  if (segments.reduce((n, seg) => n * seg.count, 1) > MAX_HOSTLIST_EXPANSION) return fail(`hostlist expands to more than ${MAX_HOSTLIST_EXPANSION} names`, base);
  let out = [''];
  for (const seg of segments) {
    const choices = numbers(seg.ranges);
    const next: string[] = [];
    for (const prefix of out) for (const ch of choices) next.push(prefix + seg.text + ch);
    out = next;
  }
  if (tail !== '') out = out.map((p) => p + tail);
  return { ok: true, names: out };
}

function parseRanges(inner: string, base: number): NumberRange[] | HostlistError {
  if (inner === '') return { message: 'empty brackets "[]"', offset: base };
  const out: NumberRange[] = [];
  let pos = 0;
  for (const part of inner.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return { message: `"${part}" is not a number or a range like 1-4`, offset: base + pos };
    const loStr = m[1]!;
    // BigInt: suffixes past 2^53 must still count exactly (Slurm uses 64-bit unsigned).
    const lo = BigInt(loStr);
    const hi = m[2] === undefined ? lo : BigInt(m[2]);
    if (hi > MAX_SUFFIX || lo > MAX_SUFFIX) return { message: `"${part}" is larger than Slurm's largest host number`, offset: base + pos };
    if (hi < lo) return { message: `range "${part}" runs backwards`, offset: base + pos };
    if (hi - lo + 1n > BigInt(MAX_RANGE_SIZE)) return { message: `range "${part}" has more than ${MAX_RANGE_SIZE} names, which Slurm refuses; split it`, offset: base + pos };
    out.push({ lo, hi, width: loStr.length });
    pos += part.length + 1;
  }
  return out;
}

/** The numbers of a bracket group as written (zero-padded), in order. */
function numbers(ranges: readonly NumberRange[]): string[] {
  const out: string[] = [];
  for (const { lo, hi, width } of ranges) {
    if (hi <= BigInt(Number.MAX_SAFE_INTEGER)) for (let n = Number(lo); n <= Number(hi); n++) out.push(String(n).padStart(width, '0'));
    else for (let n = lo; n <= hi; n++) out.push(String(n).padStart(width, '0'));
  }
  return out;
}

interface HostName {
  readonly prefix: string;
  /** Numeric suffix (BigInt so suffixes past 2^53 stay exact), or -1n when the name has none. */
  readonly num: bigint;
  readonly width: number;
}

/** Where the trailing run of digits of `name` starts (name.length when there is none). A loop, not /^(.*?)(\d+)$/: sorting 100,000 names runs this millions of times. */
function digitStart(name: string): number {
  let i = name.length;
  while (i > 0) {
    const c = name.charCodeAt(i - 1);
    if (c < 48 || c > 57) break;
    i--;
  }
  return i;
}

/** The suffix digits `name.slice(start)` without leading zeros ('' for zero), or undefined when past Slurm's largest number. */
function significant(name: string, start: number): string | undefined {
  let i = start;
  while (i < name.length - 1 && name.charCodeAt(i) === 48) i++;
  const s = name.slice(i);
  return s.length > 20 || (s.length === 20 && s > '18446744073709551615') ? undefined : s;
}

function splitName(name: string): HostName {
  const start = digitStart(name);
  if (start === name.length || significant(name, start) === undefined) return { prefix: name, num: -1n, width: 0 };
  return { prefix: name.slice(0, start), num: BigInt(name.slice(start)), width: name.length - start };
}

/** A sort key equivalent to splitName without BigInt: the number as its significant digits (compared by length, then text). */
interface SortKey {
  readonly prefix: string;
  /** Significant digits of the suffix, or undefined when the name has no (usable) number. */
  readonly digits: string | undefined;
  readonly width: number;
}

function sortKey(name: string): SortKey {
  const start = digitStart(name);
  const digits = start === name.length ? undefined : significant(name, start);
  return digits === undefined ? { prefix: name, digits: undefined, width: 0 } : { prefix: name.slice(0, start), digits, width: name.length - start };
}

function compareKeys(x: SortKey, y: SortKey): number {
  if (x.prefix !== y.prefix) return x.prefix < y.prefix ? -1 : 1;
  if (x.digits !== y.digits) {
    if (x.digits === undefined) return -1;
    if (y.digits === undefined) return 1;
    if (x.digits.length !== y.digits.length) return x.digits.length - y.digits.length;
    return x.digits < y.digits ? -1 : 1;
  }
  return x.width - y.width;
}

const digits = (n: bigint): number => String(n).length;
const zeroPadding = (n: bigint, width: number): number => Math.max(0, width - digits(n));

/** Slurm's width equivalence: c9 and c10 share a range, c1 and c01 do not. Returns a width printing both numbers exactly as written, or -1. */
function equivalentWidth(nw: number, n: bigint, mw: number, m: bigint): number {
  if (nw === mw) return nw;
  const nPadded = zeroPadding(n, nw) > 0;
  const mPadded = zeroPadding(m, mw) > 0;
  if (nPadded && mPadded) return -1;
  if (nPadded) return nw <= digits(m) ? nw : -1;
  if (mPadded) return mw <= digits(n) ? mw : -1;
  return Math.min(nw, mw);
}

interface Range {
  prefix: string;
  lo: bigint;
  hi: bigint;
  width: number;
}

/** Natural order used everywhere herd lists nodes: prefix, then number, then padding width. */
export function compareHostnames(a: string, b: string): number {
  return compareKeys(sortKey(a), sortKey(b));
}

/**
 * `items` sorted by their host names in compareHostnames order (stable), each name split once rather than at every
 * comparison: sorting 100,000 nodes compares about 1.7 million pairs.
 */
export function sortByHostname<T>(items: Iterable<T>, nameOf: (item: T) => string): T[] {
  const list = [...items];
  // Nodes usually come in order already (ranges expand in order): check that first, keeping no key alive.
  let prev: SortKey | undefined;
  let sorted = true;
  for (const item of list) {
    const key = sortKey(nameOf(item));
    if (prev && compareKeys(prev, key) > 0) {
      sorted = false;
      break;
    }
    prev = key;
  }
  if (sorted) return list;
  const keyed: { item: T; key: SortKey }[] = [];
  for (const item of list) keyed.push({ item, key: sortKey(nameOf(item)) });
  keyed.sort((a, b) => compareKeys(a.key, b.key));
  return keyed.map((k) => k.item);
}

/** Host names in compareHostnames order. */
export function sortHostnames(names: Iterable<string>): string[] {
  return sortByHostname(names, (n) => n);
}

/** Compress names into Slurm's shortest ranged form. Names are sorted and de-duplicated first, so the output is deterministic. */
export function compressHostlist(names: Iterable<string>): string {
  const sorted = sortHostnames(new Set(names));
  return compressOrdered(sorted);
}

/** Compress names in the given order, as `scontrol show hostlist` would (adjacent runs merge; same-prefix neighbours share a bracket). */
export function compressOrdered(names: readonly string[]): string {
  const ranges: Range[] = [];
  for (const name of names) {
    const h = splitName(name);
    const last = ranges[ranges.length - 1];
    if (last && h.num >= 0n && last.lo >= 0n && last.prefix === h.prefix && h.num === last.hi + 1n) {
      const w = equivalentWidth(last.width, last.hi, h.width, h.num);
      if (w >= 0) {
        last.hi = h.num;
        last.width = w;
        continue;
      }
    }
    ranges.push({ prefix: h.prefix, lo: h.num, hi: h.num, width: h.width });
  }
  const parts: string[] = [];
  for (let i = 0; i < ranges.length; ) {
    const r = ranges[i]!;
    if (r.lo < 0n) {
      parts.push(r.prefix);
      i++;
      continue;
    }
    let j = i + 1;
    while (j < ranges.length && ranges[j]!.lo >= 0n && ranges[j]!.prefix === r.prefix) j++;
    const group = ranges.slice(i, j);
    if (group.length === 1 && r.lo === r.hi) parts.push(r.prefix + pad(r.lo, r.width));
    else parts.push(`${r.prefix}[${group.map(fmtRange).join(',')}]`);
    i = j;
  }
  return parts.join(',');
}

const pad = (n: bigint, width: number): string => String(n).padStart(width, '0');
const fmtRange = (r: Range): string => (r.lo === r.hi ? pad(r.lo, r.width) : `${pad(r.lo, r.width)}-${pad(r.hi, r.width)}`);
