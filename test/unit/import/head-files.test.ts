// The import's reading of head files herd writes whole: a firewalld zone compared by what firewalld acts on.
import { describe, expect, it } from 'vitest';
import { zoneMeaning } from '../../../src/import/head-files.ts';

const zone = (inner: string, target = 'ACCEPT'): string => `<?xml version="1.0" encoding="utf-8"?>\n<!-- a comment -->\n<zone target="${target}">\n${inner}</zone>\n`;

describe('zoneMeaning', () => {
  it('is the target, interfaces and sources; labels, comments, order and spacing do not count', () => {
    const a = zoneMeaning(zone('  <short>Trusted</short>\n  <interface name="eno1"/>\n  <source address="10.0.0.0/24"/>\n'));
    const b = zoneMeaning(zone('<description>Cluster network</description>\n<source address="10.0.0.0/24" />\n<interface name="eno1" />\n<short>Mine</short>\n'));
    expect(a).toBeDefined();
    expect(b).toBe(a);
  });
  it('tells a missing source, another interface and another target apart', () => {
    const a = zoneMeaning(zone('  <interface name="eno1"/>\n  <source address="10.0.0.0/24"/>\n'));
    expect(zoneMeaning(zone('  <interface name="eno1"/>\n'))).not.toBe(a);
    expect(zoneMeaning(zone('  <interface name="eno2"/>\n  <source address="10.0.0.0/24"/>\n'))).not.toBe(a);
    expect(zoneMeaning(zone('  <interface name="eno1"/>\n  <source address="10.0.0.0/24"/>\n', 'DROP'))).not.toBe(a);
  });
  it('gives up (undefined: compared line by line) on anything else a zone can hold', () => {
    expect(zoneMeaning(zone('  <interface name="eno1"/>\n  <service name="ssh"/>\n'))).toBeUndefined();
    expect(zoneMeaning(zone('  <interface name="eno1"/>\n  <port protocol="tcp" port="6817"/>\n'))).toBeUndefined();
  });
});
