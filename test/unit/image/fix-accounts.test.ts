import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendAccount, findAccount, idsByName, parseAccountDb, parseId, serializeAccountDb, type AccountDbKind } from '../../../src/image/fix/accounts.ts';

const KINDS: AccountDbKind[] = ['passwd', 'group', 'shadow', 'gshadow'];

describe('account databases', () => {
  it('round-trip any text byte for byte (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), fc.array(fc.oneof(fc.string(), fc.constantFrom('#x', '+nis', '-user', '', 'a:b:c:d', 'a:x:1:2:g:/h:/s', '\r', ':::')), { maxLength: 12 }), (kind, lines) => {
        const text = lines.join('\n');
        expect(serializeAccountDb(parseAccountDb(kind, text))).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it('keep comments, NIS lines, short lines, CRLF and a missing final newline as they are', () => {
    const text = '# local accounts\nroot:x:0:0:root:/root:/bin/bash\r\n+@netgroup\n-baduser\nbroken:line\n\nmunge:x:998:998::/run/munge:/sbin/nologin';
    const db = parseAccountDb('passwd', text);
    expect(db.lines.filter((l) => l.kind === 'entry').map((l) => (l.kind === 'entry' ? l.fields[0] : ''))).toEqual(['root', 'munge']);
    expect(findAccount(db, 'root')?.[6]).toBe('/bin/bash\r');
    expect(serializeAccountDb(db)).toBe(text);
  });

  it('parse this machine\'s /etc/passwd and /etc/group as getent does (the oracle)', () => {
    for (const [kind, file, idField] of [['passwd', '/etc/passwd', 2], ['group', '/etc/group', 2]] as const) {
      const text = readFileSync(file, 'latin1');
      const db = parseAccountDb(kind, text);
      expect(serializeAccountDb(db)).toBe(text);
      const oracle = new Map<string, number>();
      for (const line of execFileSync('getent', ['-s', 'files', kind], { encoding: 'latin1' }).split('\n')) {
        const f = line.split(':');
        if (f.length > idField && !oracle.has(f[0]!)) oracle.set(f[0]!, Number(f[idField]));
      }
      expect(idsByName(db)).toEqual(oracle);
    }
  });

  it('append an entry before the final newline, or at the very end when there is none', () => {
    const shadow = parseAccountDb('shadow', 'root:*::0:99999:7:::\n');
    expect(appendAccount(shadow, 'munge')).toEqual(['munge', '!*', '', '', '', '', '', '', '']);
    expect(serializeAccountDb(shadow)).toBe('root:*::0:99999:7:::\nmunge:!*:::::::\n');
    const gshadow = parseAccountDb('gshadow', 'root:::');
    appendAccount(gshadow, 'munge');
    expect(serializeAccountDb(gshadow)).toBe('root:::\nmunge:!::');
    const empty = parseAccountDb('shadow', '');
    appendAccount(empty, 'x');
    expect(serializeAccountDb(empty)).toBe('x:!*:::::::\n');
  });

  it('read IDs only when they are plain decimal numbers', () => {
    expect([parseId('995'), parseId('0'), parseId(''), parseId('-1'), parseId(' 5'), parseId('4294967295'), parseId('4294967296'), parseId('1e3')]).toEqual([995, 0, undefined, undefined, undefined, 4294967295, undefined, undefined]);
  });
});
