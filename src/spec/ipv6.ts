// IPv6 addresses as 128-bit values (pure): strict parsing, RFC 5952 text, counting for ranges.

import { parseIPv4 } from './ipv4.ts';

const MAX = (1n << 128n) - 1n;

/**
 * Parse an IPv6 address in hex groups (`::` shorthand allowed; no zone or prefix). `embeddedIPv4` also takes a dotted
 * IPv4 address as the last two groups (`::ffff:10.0.0.1`), as Go's net.ParseIP does; the spec's own addresses never may.
 */
export function parseIPv6(s: string, options: { readonly embeddedIPv4?: boolean } = {}): bigint | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const part = (t: string, last: boolean): number[] | undefined => {
    if (t === '') return [];
    const out: number[] = [];
    const gs = t.split(':');
    for (let i = 0; i < gs.length; i++) {
      const g = gs[i]!;
      if (options.embeddedIPv4 && last && i === gs.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (v4 === undefined) return undefined;
        out.push(Math.floor(v4 / 0x10000), v4 % 0x10000);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(g)) out.push(parseInt(g, 16));
      else return undefined;
    }
    return out;
  };
  const h = part(halves[0]!, halves.length === 1);
  const t = halves.length === 2 ? part(halves[1]!, true) : [];
  if (!h || !t) return undefined;
  const given = h.length + t.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const groups = [...h, ...new Array<number>(8 - given).fill(0), ...t];
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (two or more) of zero groups as `::`. */
export function formatIPv6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** `s` plus `n`, or undefined when `s` is no IPv6 address or the sum runs past the address space. */
export function addIPv6(s: string, n: number): string | undefined {
  const v = parseIPv6(s);
  if (v === undefined) return undefined;
  const sum = v + BigInt(n);
  return sum > MAX ? undefined : formatIPv6(sum);
}
