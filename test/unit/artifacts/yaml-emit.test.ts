// herd's YAML emitter against the yaml package: every scalar yamlScalar writes reads back as the same string, and its fast
// path for word-like strings (issue 16) quotes exactly what the full rule quotes, including the strings YAML would take for
// numbers, booleans or null.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { emitYaml, plainEverywhere, yamlScalar } from '../../../src/artifacts/yaml-emit.ts';

/** The quoting rule as one expression (the emitter's, before its word-like fast path), for byte-identical output. */
const AMBIGUOUS = /^(?:[-+]?(?:\d[\d_]*)?(?:\.\d*)?(?:[eE][-+]?\d+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[-+]?\d[\d_]*(?::[0-5]?\d)+(?:\.\d*)?|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~|\d{4}-\d\d?-\d\d?.*)$/;
function fullRule(s: string): string {
  const needs = s === '' || AMBIGUOUS.test(s) || /^[\s\-?:,[\]{}#&*!|>'"%@`]/.test(s) || /\s$/.test(s) || /: |:$| #|[\t\n\r\u0000-\u001f\u007f\u0085\u2028\u2029\ufeff]/.test(s);
  return needs ? JSON.stringify(s) : s;
}

const WORDS = ['y', 'Y', 'yes', 'No', 'true', 'FALSE', 'on', 'Off', 'null', 'e5', 'E10', '1e3', '0x1f', '0o17', '0b101', '010', '1_000', '12:30', '2024-01-02', '1.5', '10.0.0.1', 'c001', 'rocky-9', '_x', 'a/b', 'x.y-z'];
const wordlike = fc.stringMatching(/^[\w][\w./-]{0,12}$/);
const any = fc.string({ unit: fc.constantFrom(...'aZ09_./-: #\t\n\'"[]{}~!&*?,|>%@`\u0085\u00e9'.split('')), maxLength: 10 });

describe('yamlScalar', () => {
  it('quotes what the full rule quotes, on word-like strings (its fast path) and any others', () => {
    for (const w of WORDS) expect(yamlScalar(w), w).toBe(fullRule(w));
    expect(WORDS.filter((w) => yamlScalar(w) !== w).length, 'the word list must hold strings that need quotes').toBeGreaterThan(10);
    fc.assert(fc.property(fc.oneof(wordlike, any, fc.constantFrom(...WORDS)), (s) => yamlScalar(s) === fullRule(s)), { numRuns: 20_000 });
  });

  it('writes scalars the yaml package reads back as the same string', () => {
    fc.assert(
      fc.property(fc.oneof(wordlike, any, fc.constantFrom(...WORDS)), (s) => {
        expect(parse(`k: ${yamlScalar(s)}\n`)).toEqual({ k: s });
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('emitYaml', () => {
  it('writes maps in key order, empty maps and lists inline, and reads back with the yaml package', () => {
    const doc = { nodes: { c2: { profiles: ['default'], 'network devices': { default: { hwaddr: '52:54:00:aa:00:02' } } }, c1: {}, 'yes': [] }, n: null, empty: {} };
    const text = emitYaml(doc, { quoteKeys: new Set(['hwaddr']) });
    expect(text).toBe(['nodes:', '  c2:', '    profiles:', '      - default', '    network devices:', '      default:', '        hwaddr: "52:54:00:aa:00:02"', '  c1: {}', '  "yes": []', '"n": null', 'empty: {}', ''].join('\n'));
    expect(parse(text)).toEqual(doc);
  });
});

// renderWarewulfConf writes warewulf.conf with emitYaml when every free-text value is plainEverywhere, with the yaml
// package's stringify otherwise: the two must give the same bytes for such documents.
describe('plainEverywhere', () => {
  const pieces = fc.string({ unit: fc.constantFrom(...'aZ09_./,=:@+-'.split('')), minLength: 1, maxLength: 12 });
  it('strings it accepts come out of emitYaml and the yaml package byte for byte, in warewulf.conf\'s shape', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(pieces, fc.constantFrom(...WORDS, '/home', 'rw,sync,no_subtree_check', 'rw,fsid=0,sec=krb5:krb5i', '@group', '+x', '1.2.3', 'a:b', 'x:')), pieces, (a, b) => {
        if (!plainEverywhere(a) || !plainEverywhere(b)) return;
        accepted++;
        const conf = { ipaddr: '10.0.0.1', warewulf: { port: 9873, secure: false }, tftp: { tftproot: a }, nfs: { enabled: true, 'export paths': [{ path: a, 'export options': b }], 'systemd name': 'nfs-server' }, ssh: { 'key types': ['ed25519', 'rsa'] } };
        expect(emitYaml(conf)).toBe(stringify(conf, { indent: 2, lineWidth: 0 }));
      }),
      { numRuns: 5_000 },
    );
    expect(accepted).toBeGreaterThan(1000);
    expect(['yes', '1.5', '-x', ':x', 'a: b', 'x:', 'a b', '"q"'].filter(plainEverywhere)).toEqual([]);
  });
});

