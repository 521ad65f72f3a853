// IPv4 addresses, networks and MACs as values (pure).

/** Parse dotted-quad IPv4 strictly (no leading zeros, which some tools read as octal). */
export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const v = Number(part);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function prefixToNetmask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Prefix length of a contiguous netmask, or undefined for a non-contiguous one (255.0.255.0). */
export function netmaskToPrefix(mask: number): number | undefined {
  for (let p = 0; p <= 32; p++) if (prefixToNetmask(p) === mask) return p;
  return undefined;
}

export interface IPv4Network {
  readonly network: number;
  readonly prefix: number;
  readonly netmask: number;
  readonly broadcast: number;
}

export type CidrParse = { ok: true; net: IPv4Network; hostBitsSet: boolean } | { ok: false; reason: 'syntax' | 'missing-prefix' | 'bad-prefix' };

/** Parse `a.b.c.d/len`. A missing prefix is its own failure: it is the seed's blank-netmask trap. */
export function parseCidr(s: string): CidrParse {
  const [addr, len, ...rest] = s.trim().split('/');
  if (rest.length > 0 || addr === undefined) return { ok: false, reason: 'syntax' };
  const ip = parseIPv4(addr);
  if (ip === undefined) return { ok: false, reason: 'syntax' };
  if (len === undefined || len === '') return { ok: false, reason: 'missing-prefix' };
  if (!/^\d{1,2}$/.test(len) || Number(len) > 32) return { ok: false, reason: 'bad-prefix' };
  const prefix = Number(len);
  const netmask = prefixToNetmask(prefix);
  const network = (ip & netmask) >>> 0;
  const broadcast = (network | (~netmask >>> 0)) >>> 0;
  return { ok: true, net: { network, prefix, netmask, broadcast }, hostBitsSet: network !== ip };
}

export const inNetwork = (ip: number, net: IPv4Network): boolean => ((ip & net.netmask) >>> 0) === net.network;

/** Normalise a MAC to lower-case colon form (udev compares case-sensitively; warewulfd lower-cases). Accepts `-` separators. */
export function normalizeMac(s: string): string | undefined {
  const t = s.trim().toLowerCase().replaceAll('-', ':');
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(t)) return undefined;
  return t;
}
