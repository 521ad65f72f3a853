// IPv4 addresses, networks and MACs, checked against Node's own parser (net.isIPv4) and subnet matcher (net.BlockList).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BlockList, isIPv4 } from 'node:net';
import { formatIPv4, inNetwork, netmaskToPrefix, normalizeMac, parseCidr, parseIPv4, prefixToNetmask } from '../../../src/spec/ipv4.ts';

const octet = fc.integer({ min: 0, max: 255 });
const address = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));

describe('parseIPv4 / formatIPv4', () => {
  it.each([
    ['10.0.0.1', 0x0a000001],
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffffffff],
    ['192.168.1.20', 0xc0a80114],
  ])('%s', (s, n) => {
    expect(parseIPv4(s)).toBe(n);
    expect(formatIPv4(n)).toBe(s);
  });

  it.each(['010.0.0.1', '1.2.3', '256.1.1.1', '1.2.3.4.5', '10.0.0.1/24', '', 'a.b.c.d', '1..2.3', '0x0a.0.0.1', '１.2.3.4'])('rejects %j', (s) => {
    expect(parseIPv4(s)).toBeUndefined();
  });

  it('accepts exactly what Node accepts (leading zeros refused, as Warewulf\'s Go net.ParseIP does)', () => {
    const noisy = fc.oneof(
      address,
      fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 })).map((o) => o.join('.')),
      fc.tuple(address, fc.constantFrom('0', '.', '.1', '00')).map(([a, x]) => a.replace(/^(\d+)/, (m) => (x === '0' || x === '00' ? x + m : m)) + (x.startsWith('.') ? x : '')),
      fc.stringMatching(/^[0-9.]{1,16}$/),
    );
    fc.assert(
      fc.property(noisy, (s) => {
        expect(parseIPv4(s) !== undefined, s).toBe(isIPv4(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every address', () => {
    fc.assert(
      fc.property(address, (s) => {
        expect(formatIPv4(parseIPv4(s)!)).toBe(s);
      }),
    );
  });
});

describe('netmasks and networks', () => {
  it('maps every prefix to its netmask and back', () => {
    for (let p = 0; p <= 32; p++) {
      const mask = prefixToNetmask(p);
      expect(netmaskToPrefix(mask)).toBe(p);
      // Independent: the netmask has p leading one bits.
      expect(formatIPv4(mask).split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('')).toBe('1'.repeat(p) + '0'.repeat(32 - p));
    }
    expect(formatIPv4(prefixToNetmask(24))).toBe('255.255.255.0');
    expect(netmaskToPrefix(parseIPv4('255.0.255.0')!)).toBeUndefined();
  });

  it('parses cidr, naming the missing prefix (the blank address= trap) separately', () => {
    expect(parseCidr('10.0.0.0')).toEqual({ ok: false, reason: 'missing-prefix' });
    expect(parseCidr('10.0.0.0/')).toEqual({ ok: false, reason: 'missing-prefix' });
    expect(parseCidr('10.0.0.0/33')).toEqual({ ok: false, reason: 'bad-prefix' });
    expect(parseCidr('10.0.0/24')).toEqual({ ok: false, reason: 'syntax' });
    expect(parseCidr('10.0.0.0/24/1')).toEqual({ ok: false, reason: 'syntax' });
    const ok = parseCidr('10.0.0.5/24');
    expect(ok.ok && ok.hostBitsSet).toBe(true);
    if (ok.ok) {
      expect(formatIPv4(ok.net.network)).toBe('10.0.0.0');
      expect(formatIPv4(ok.net.broadcast)).toBe('10.0.0.255');
      expect(formatIPv4(ok.net.netmask)).toBe('255.255.255.0');
    }
    const clean = parseCidr('10.1.0.0/22');
    expect(clean.ok && !clean.hostBitsSet && formatIPv4(clean.net.broadcast)).toBe('10.1.3.255');
  });

  it('decides membership exactly as net.BlockList does', () => {
    fc.assert(
      fc.property(address, fc.integer({ min: 0, max: 32 }), address, (base, prefix, probe) => {
        const c = parseCidr(`${base}/${prefix}`);
        expect(c.ok).toBe(true);
        if (!c.ok) return;
        const list = new BlockList();
        list.addSubnet(formatIPv4(c.net.network), prefix, 'ipv4');
        expect(inNetwork(parseIPv4(probe)!, c.net), `${probe} in ${base}/${prefix}`).toBe(list.check(probe, 'ipv4'));
        expect(inNetwork(c.net.network, c.net) && inNetwork(c.net.broadcast, c.net)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('normalizeMac', () => {
  it.each([
    ['52:54:00:AA:00:01', '52:54:00:aa:00:01'],
    ['52-54-00-aa-00-01', '52:54:00:aa:00:01'],
    [' 52:54:00:aa:00:01 ', '52:54:00:aa:00:01'],
  ])('%j -> %s', (input, out) => {
    expect(normalizeMac(input)).toBe(out);
  });

  it.each(['52:54:00:aa:00', '52:54:00:aa:00:01:02', '5254.00aa.0001', '52:54:00:aa:00:0g', '525400aa0001', ''])('rejects %j', (input) => {
    expect(normalizeMac(input)).toBeUndefined();
  });
});
