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
/** Slurm refuses a single bracket range of more names than this ("Too many hosts in range"). */
export const MAX_RANGE_SIZE = 65_536;
/** Slurm keeps numeric suffixes in an unsigned long. */
const MAX_SUFFIX = 18446744073709551615n;

interface Segment {
  readonly text: string;
  readonly choices?: readonly string[];
}

/** Expand a Slurm hostlist expression into host names, in order (duplicates kept, as Slurm does). */
export function expandHostlist(expr: string): HostlistResult {
  const names: string[] = [];
  if (expr.trim() === '') return fail('empty hostlist', 0);
  let start = 0;
  let depth = 0;
  for (let i = 0; i <= expr.length; i++) {
    const c = expr[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    if ((c === ',' && depth === 0) || i === expr.length) {
      const item = expr.slice(start, i);
      const r = expandItem(item, start);
      if (!r.ok) return r;
      for (const n of r.names) names.push(n);
      if (names.length > MAX_HOSTLIST_EXPANSION) return fail(`hostlist expands to more than ${MAX_HOSTLIST_EXPANSION} names`, 0);
      start = i + 1;
    }
  }
  return { ok: true, names };
}

function fail(message: string, offset: number): HostlistResult {
  return { ok: false, error: { message, offset } };
}

function expandItem(item: string, base: number): HostlistResult {
  if (item === '') return fail('empty name between commas', base);
  const segments: Segment[] = [];
  let i = 0;
  let text = '';
  let sawBracket = false;
  while (i < item.length) {
    const c = item[i]!;
    if (c === '[') {
      const close = item.indexOf(']', i);
      if (close < 0) return fail(`unclosed "[" in "${item}"`, base + i);
      const inner = item.slice(i + 1, close);
      const choices = expandRanges(inner, base + i + 1);
      if (!Array.isArray(choices)) return { ok: false, error: choices };
      segments.push({ text, choices });
      text = '';
      sawBracket = true;
      i = close + 1;
      continue;
    }
    if (c === ']') return fail(`unexpected "]" in "${item}"`, base + i);
    if (/\s/.test(c)) return fail(`whitespace in host name "${item}"`, base + i);
    text += c;
    i++;
  }
  if (sawBracket && text !== '') {
    return fail(`"${item}" has text after a bracket range, which Slurm rejects; put the range last (e.g. ib-c[1-2]) or list the names`, base + item.lastIndexOf(']') + 1);
  }
  let out = [''];
  for (const s of segments) {
    if (out.length * s.choices!.length > MAX_HOSTLIST_EXPANSION) return fail(`hostlist expands to more than ${MAX_HOSTLIST_EXPANSION} names`, base);
    const next: string[] = [];
    for (const prefix of out) for (const ch of s.choices!) next.push(prefix + s.text + ch);
    out = next;
    if (out.length > MAX_HOSTLIST_EXPANSION) return fail(`hostlist expands to more than ${MAX_HOSTLIST_EXPANSION} names`, base);
  }
  if (text !== '') out = out.map((p) => p + text);
  return { ok: true, names: out };
}

function expandRanges(inner: string, base: number): string[] | HostlistError {
  if (inner === '') return { message: 'empty brackets "[]"', offset: base };
  const out: string[] = [];
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
    const width = loStr.length;
    if (hi <= BigInt(Number.MAX_SAFE_INTEGER)) for (let n = Number(lo); n <= Number(hi); n++) out.push(String(n).padStart(width, '0'));
    else for (let n = lo; n <= hi; n++) out.push(String(n).padStart(width, '0'));
    pos += part.length + 1;
  }
  return out;
}

interface HostName {
  readonly prefix: string;
  /** Numeric suffix (BigInt so suffixes past 2^53 stay exact), or -1n when the name has none. */
  readonly num: bigint;
  readonly width: number;
}

function splitName(name: string): HostName {
  const m = /^(.*?)(\d+)$/.exec(name);
  if (!m || BigInt(m[2]!) > MAX_SUFFIX) return { prefix: name, num: -1n, width: 0 };
  return { prefix: m[1]!, num: BigInt(m[2]!), width: m[2]!.length };
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
  const x = splitName(a);
  const y = splitName(b);
  if (x.prefix !== y.prefix) return x.prefix < y.prefix ? -1 : 1;
  if (x.num !== y.num) return x.num < y.num ? -1 : 1;
  return x.width - y.width;
}

/** Compress names into Slurm's shortest ranged form. Names are sorted and de-duplicated first, so the output is deterministic. */
export function compressHostlist(names: Iterable<string>): string {
  const sorted = [...new Set(names)].sort(compareHostnames);
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
