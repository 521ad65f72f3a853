// Slurm hostlist expansion/compression: known cases, error offsets, and a differential against Slurm's own `scontrol show hostnames|hostlist`.
// scontrol (Debian slurm-wlm) is the oracle: it parses hostlists locally given any slurm.conf, no daemon needed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareHostnames, compressHostlist, compressOrdered, countHostlist, expandHostlist, MAX_HOSTLIST_EXPANSION, sortByHostname, sortHostnames } from '../../../src/spec/hostlist.ts';

const names = (expr: string): string[] => {
  const r = expandHostlist(expr);
  if (!r.ok) throw new Error(`${expr}: ${r.error.message}`);
  return r.names;
};

describe('expandHostlist', () => {
  it.each([
    ['c1', ['c1']],
    ['c[1-3]', ['c1', 'c2', 'c3']],
    ['c[001-003]', ['c001', 'c002', 'c003']],
    // Padding comes from the low bound: c[1-010] is c1..c10, c[01-3] is c01..c03.
    ['c[1-010]', ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'c10']],
    ['c[01-3]', ['c01', 'c02', 'c03']],
    ['n[009-011]', ['n009', 'n010', 'n011']],
    ['c[1,3,5-6]', ['c1', 'c3', 'c5', 'c6']],
    ['r[1-2]n[1-2]', ['r1n1', 'r1n2', 'r2n1', 'r2n2']],
    ['c[1-2],gpu1,d[3]', ['c1', 'c2', 'gpu1', 'd3']],
    ['c[1-2],c2', ['c1', 'c2', 'c2']],
    ['ib-c[1-2]', ['ib-c1', 'ib-c2']],
  ])('%s', (expr, expected) => {
    expect(names(expr)).toEqual(expected);
  });

  it.each([
    ['', 0, /empty/],
    ['c[1-2]-ib', 6, /text after a bracket/],
    ['gpu[1-2]x', 8, /text after a bracket/],
    ['c[2-1]', 2, /backwards/],
    ['c[]', 2, /empty brackets/],
    ['c[1-2', 1, /unclosed/],
    ['c1]', 2, /unexpected "\]"/],
    ['c[a-b]', 2, /not a number/],
    ['c1,,c2', 3, /empty name/],
    ['c 1', 1, /whitespace/],
  ])('rejects %j at offset %i', (expr, offset, message) => {
    const r = expandHostlist(expr);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.message).toMatch(message);
      expect(r.error.offset).toBe(offset);
    }
  });

  it('refuses expansions past the cap instead of eating memory', () => {
    expect(expandHostlist(`c[1-${MAX_HOSTLIST_EXPANSION + 1}]`).ok).toBe(false);
    expect(expandHostlist('c[1-99999999]').ok).toBe(false);
    expect(expandHostlist('a[1-1001]b[1-1000]').ok).toBe(false);
  });

  // A product of bracket groups must be refused before it is built (a[1-60000]b[1-60000] would be 3.6e9 names).
  // Run in a child process so a regression (a hang) cannot block the test worker.
  it('refuses a huge bracket product quickly', () => {
    const src = `import { expandHostlist } from ${JSON.stringify(new URL('../../../src/spec/hostlist.ts', import.meta.url).href)};
      const r = expandHostlist('a[1-60000]b[1-60000]'); console.log(r.ok ? 'ok' : r.error.message);`;
    const r = spawnSync(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', '--input-type=module', '-e', src], { encoding: 'utf8', timeout: 4000 });
    expect(r.stdout).toMatch(/more than 1000000 names/);
  });
});

describe('countHostlist', () => {
  it('counts what expandHostlist makes, and is undefined exactly where it fails', () => {
    const expr = fc.array(fc.constantFrom('c', 'n', '0', '1', '2', '9', '[', ']', '-', ',', '[1-3]', '[01-10,15]', '[1-300]', '[0-99]'), { maxLength: 12 }).map((xs) => xs.join(''));
    fc.assert(
      fc.property(expr, (e) => {
        const r = expandHostlist(e);
        expect(countHostlist(e)).toBe(r.ok ? r.names.length : undefined);
      }),
      { numRuns: 2000 },
    );
  });

  it('counts a million names without making them, and refuses more', () => {
    expect(countHostlist('r[01-20]n[00001-50000]')).toBe(1_000_000);
    expect(countHostlist('r[01-20]n[00001-50000],x1')).toBeUndefined();
    expect(expandHostlist('c[1-65536,1-65536,1-65536,1-65536,1-65536,1-65536,1-65536,1-65536,1-65536,1-65536,1-65536,1-65536,1-65536,1-65536,1-65536,1-65536]').ok).toBe(false);
  });
});

describe('compressHostlist / compareHostnames', () => {
  it.each([
    [['c1', 'c2', 'c3'], 'c[1-3]'],
    [['c3', 'c1', 'c2', 'c2'], 'c[1-3]'],
    [['c001', 'c002', 'c004'], 'c[001-002,004]'],
    [['c9', 'c10', 'c11'], 'c[9-11]'],
    [['c1', 'c01'], 'c[1,01]'],
    [['login', 'c1', 'c2'], 'c[1-2],login'],
  ])('%j -> %s', (input, expected) => {
    expect(compressHostlist(input)).toBe(expected);
  });

  it('sorts naturally: prefix, then number, then width', () => {
    expect(['c10', 'c9', 'b1', 'c01', 'c1'].sort(compareHostnames)).toEqual(['b1', 'c1', 'c01', 'c9', 'c10']);
  });

  it('round-trips: expanding the compressed form gives the sorted, de-duplicated names', () => {
    const name = fc.tuple(fc.constantFrom('c', 'n', 'gpu', 'r1n'), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 4 })).map(([p, n, w]) => p + String(n).padStart(w, '0'));
    fc.assert(
      fc.property(fc.array(name, { minLength: 1, maxLength: 30 }), (list) => {
        expect(names(compressHostlist(list))).toEqual([...new Set(list)].sort(compareHostnames));
      }),
      { numRuns: 300 },
    );
  });

  it('sorts (whole lists and keyed items, stably) as a BigInt reading of the trailing number does, past 2^64 too', () => {
    // The reference: split with a regex, compare the suffix as a BigInt (none, or above Slurm's 2^64-1, sorts as no number).
    const ref = (name: string): [string, bigint, number] => {
      const m = /^(.*?)(\d+)$/.exec(name);
      return !m || BigInt(m[2]!) > 18446744073709551615n ? [name, -1n, 0] : [m[1]!, BigInt(m[2]!), m[2]!.length];
    };
    const byRef = (a: string, b: string): number => {
      const [x, y] = [ref(a), ref(b)];
      return x[0] !== y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] !== y[1] ? (x[1] < y[1] ? -1 : 1) : x[2] - y[2];
    };
    const digits = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String), fc.constantFrom('', '0', '00', '007', '18446744073709551615', '18446744073709551616', '018446744073709551616'));
    const name = fc.tuple(fc.constantFrom('c', 'n', 'c1n', 'gpu-', ''), digits, fc.integer({ min: 0, max: 3 })).map(([p, d, z]) => p + '0'.repeat(d === '' ? 0 : z) + d).filter((n) => n !== '');
    fc.assert(
      fc.property(fc.array(name, { maxLength: 40 }), (list) => {
        const want = [...list].sort(byRef);
        expect(sortHostnames(list)).toEqual(want);
        expect([...list].sort(compareHostnames)).toEqual(want);
        const items = list.map((n, i) => ({ n, i }));
        expect(sortByHostname(items, (x) => x.n)).toEqual([...items].sort((a, b) => byRef(a.n, b.n) || a.i - b.i));
      }),
      { numRuns: 500 },
    );
  });
});

describe('agreement with Slurm (scontrol show hostnames / hostlist)', () => {
  let dir = '';
  let conf = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'herd-hostlist-'));
    conf = join(dir, 'slurm.conf');
    writeFileSync(conf, 'ClusterName=t\nSlurmctldHost=localhost\nNodeName=x CPUs=1\nPartitionName=p Nodes=x\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Run many scontrol commands in one process (interactive mode on stdin), split by a sentinel hostname. */
  function scontrol(commands: readonly (readonly ['hostnames' | 'hostlist', string])[]): { results: string[][]; stderr: string } {
    const SEP = 'zzsentinel';
    const input = commands.map(([what, arg]) => `show ${what} ${arg}\nshow hostnames ${SEP}\n`).join('');
    const r = spawnSync('scontrol', [], { input, env: { ...process.env, SLURM_CONF: conf }, encoding: 'utf8', timeout: 30_000 });
    if (r.error || r.status !== 0) throw new Error(`scontrol (Debian package slurm-wlm) is needed as the hostlist oracle: ${r.error?.message ?? r.stderr}`);
    const lines = r.stdout.split('\n').filter((l) => !l.startsWith('scontrol:') && l !== '');
    const results: string[][] = [[]];
    for (const l of lines) {
      if (l === SEP) results.push([]);
      else results[results.length - 1]!.push(l);
    }
    expect(results).toHaveLength(commands.length + 1);
    return { results: results.slice(0, commands.length), stderr: r.stderr };
  }

  const range = fc
    .tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 3 }))
    .map(([lo, len, w]) => (len === 0 ? String(lo).padStart(w, '0') : `${String(lo).padStart(w, '0')}-${lo + len}`));
  const group = fc.array(range, { minLength: 1, maxLength: 3 }).map((rs) => `[${rs.join(',')}]`);
  const item = fc.oneof(
    fc.tuple(fc.constantFrom('c', 'n', 'rack'), group, fc.option(fc.tuple(fc.constantFrom('n', 'x'), group))).map(([p, g, more]) => p + g + (more ? more[0] + more[1] : '')),
    fc.tuple(fc.constantFrom('login', 'c', 'gpu'), fc.integer({ min: 0, max: 99 })).map(([p, n]) => `${p}${n}`),
  );
  const expr = fc.array(item, { minLength: 1, maxLength: 3 }).map((xs) => xs.join(','));

  it('expands random hostlists exactly as scontrol does', () => {
    const samples = fc.sample(expr, { numRuns: 300, seed: 4242 });
    const theirs = scontrol(samples.map((s) => ['hostnames', s] as const)).results;
    samples.forEach((s, i) => expect(names(s), s).toEqual(theirs[i]));
  });

  it('rejects what scontrol calls an invalid hostlist', () => {
    const bad = ['c[1-2]-ib', 'c[2-1]', 'c[]', 'gpu[1-2]x', 'r[1-2]n[1-2]-ib'];
    const theirs = scontrol(bad.map((s) => ['hostnames', s] as const));
    bad.forEach((s, i) => {
      expect(theirs.results[i], s).toEqual([]);
      expect(theirs.stderr).toContain(`Invalid hostlist: ${s}`);
      expect(expandHostlist(s).ok, s).toBe(false);
    });
  });

  it('compresses name lists in order exactly as scontrol show hostlist does', () => {
    const name = fc.tuple(fc.constantFrom('c', 'n', 'gpu', 'r1n'), fc.integer({ min: 0, max: 120 }), fc.integer({ min: 1, max: 4 })).map(([p, n, w]) => p + String(n).padStart(w, '0'));
    const lists = fc.sample(fc.array(name, { minLength: 1, maxLength: 12 }), { numRuns: 300, seed: 99 });
    const theirs = scontrol(lists.map((l) => ['hostlist', l.join(',')] as const)).results;
    lists.forEach((l, i) => expect(compressOrdered(l), l.join(',')).toBe(theirs[i]![0]));
  });
});
