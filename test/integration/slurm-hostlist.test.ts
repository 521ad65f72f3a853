// Integration: herd's hostlist module (src/spec/hostlist.ts) agrees with Slurm 22.05's own `scontrol show hostnames/hostlist`.
// Cases are generated with a fixed seed, so a failure names reproducible inputs; all mismatches are collected and shown together.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareHostnames, compressHostlist, compressOrdered, expandHostlist } from '../../src/spec/hostlist.ts';
import { scontrolHostlistBatch, scontrolHostnames, scontrolHostnamesBatch } from './slurm/harness.ts';

const execFileP = promisify(execFile);
const SEED = 20_250_611;
/** scontrol's message for a rejected expression (it still exits 0). */
const REJECTED = /Invalid hostlist|Invalid range/;

// ---- generators -------------------------------------------------------------------------------------------------

/** Prefixes with dashes and dots, sometimes ending in a digit (c1[2-3] is c12, c13). */
const prefix = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z]{1,3}$/) },
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z][a-z0-9]{0,3}[-.][a-z]{0,3}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z]{1,2}[0-9]$/) },
);

/** A number written with a zero-padded width (width 1 is unpadded). */
const padded = (n: number, width: number): string => String(n).padStart(width, '0');

/** One bracket part: `7`, `007`, `8-12`, `08-12`, `098-102`... The high bound is written padded or not. */
const part = fc
  .record({ lo: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 1200 })), span: fc.integer({ min: 0, max: 12 }), width: fc.integer({ min: 1, max: 4 }), padHi: fc.boolean(), single: fc.boolean() })
  .map(({ lo, span, width, padHi, single }) => {
    const loS = padded(lo, width);
    if (single) return loS;
    const hi = lo + span;
    return `${loS}-${padHi ? padded(hi, width) : String(hi)}`;
  });

const bracket = fc.array(part, { minLength: 1, maxLength: 3 }).map((ps) => `[${ps.join(',')}]`);

/** A valid item: plain name, prefix[..], or prefix[..]text[..] (a product; the text may be empty). */
const item = fc.oneof(
  fc.tuple(prefix, fc.option(fc.integer({ min: 0, max: 999 }), { nil: undefined })).map(([p, n]) => (n === undefined ? p : `${p}${n}`)),
  fc.tuple(prefix, bracket).map(([p, b]) => p + b),
  fc.tuple(prefix, bracket, fc.constantFrom('', '-n', '.r', 'x'), bracket).map(([p, b1, t, b2]) => p + b1 + t + b2),
);

/** Comma-joined items; sometimes an item repeats (Slurm keeps duplicates). */
const validExpr = fc
  .tuple(fc.array(item, { minLength: 1, maxLength: 3 }), fc.boolean())
  .map(([items, dup]) => (dup ? [...items, items[0]!] : items).join(','));

/** Names for compression: runs of consecutive numbers with one width, shuffled together, with duplicates and bare names. */
const run = fc
  .record({
    // A small shared pool makes runs with one prefix but different widths meet, which is where compression is subtle.
    p: fc.oneof(fc.constantFrom('c', 'n-'), prefix),
    start: fc.oneof(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 95, max: 105 }), fc.integer({ min: 995, max: 1005 }), fc.integer({ min: 0, max: 5000 })),
    len: fc.integer({ min: 1, max: 5 }),
    width: fc.integer({ min: 1, max: 4 }),
  })
  .map(({ p, start, len, width }) => Array.from({ length: len }, (_, i) => p + padded(start + i, width)));
const names = fc
  .tuple(fc.array(run, { minLength: 1, maxLength: 4 }), fc.array(prefix, { maxLength: 1 }), fc.boolean())
  .map(([runs, bare, dup]) => {
    const all = [...runs.flat(), ...bare];
    return dup ? [...all, all[all.length - 1]!] : all;
  });

/** Expressions herd rejects that Slurm must reject too, built around random prefixes and numbers. */
const invalidExpr = fc
  .tuple(prefix, fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 9 }))
  .chain(([p, n, k]) =>
    fc.constantFrom(
      `${p}[${n + k}-${n}]`, // backwards range
      `${p}[${n}-x]`, // not a number
      `${p}[]`, // empty brackets
      `${p}[${n}-${n + k}]-ib`, // text after the last bracket
      `${p}[${n}-${n + k}]a`,
      `${p}[${n},,${n + k}]`, // empty part
      `${p}[-${n}]`,
      `${p}[${n}-${n + k}-${n + 2 * k}]`,
      `${p}[[${n}]]`,
      `${p}[${n}]]`,
      `${p}[${n}-${n + k}],${p}[${n + k}-${n}]`, // one bad item among good ones
    ),
  );

const sample = <T>(arb: fc.Arbitrary<T>, numRuns: number, seed: number): T[] => fc.sample(arb, { numRuns, seed });

// ---- checks -------------------------------------------------------------------------------------------------------

interface Mismatch {
  readonly input: string;
  readonly herd: unknown;
  readonly scontrol: unknown;
}

/** Compares expandHostlist with scontrol on every expression (one scontrol batch); returns the disagreements. */
async function expandMismatches(exprs: readonly string[]): Promise<Mismatch[]> {
  const slurm = await scontrolHostnamesBatch(exprs);
  const out: Mismatch[] = [];
  exprs.forEach((expr, i) => {
    const h = expandHostlist(expr);
    const s = slurm[i]!;
    const slurmOk = s.errors.length === 0;
    if (h.ok && slurmOk && JSON.stringify(h.names) === JSON.stringify(s.names)) return;
    if (!h.ok && !slurmOk) return;
    out.push({ input: expr, herd: h.ok ? h.names : `rejected: ${h.error.message}`, scontrol: slurmOk ? s.names : `rejected: ${s.errors.join(' | ')}` });
  });
  return out;
}

/** Compares compressOrdered with scontrol show hostlist on every list; returns the disagreements. */
async function compressMismatches(lists: readonly (readonly string[])[]): Promise<Mismatch[]> {
  const slurm = await scontrolHostlistBatch(lists);
  const out: Mismatch[] = [];
  lists.forEach((list, i) => {
    const h = compressOrdered(list);
    const s = slurm[i]!;
    if (s.errors.length === 0 && h === s.hostlist) return;
    out.push({ input: list.join(','), herd: h, scontrol: s.errors.length === 0 ? s.hostlist : `rejected: ${s.errors.join(' | ')}` });
  });
  return out;
}

describe('hostlist expansion matches scontrol show hostnames', () => {
  it('agrees on 300 generated valid expressions', async () => {
    const cases = sample(validExpr, 300, SEED);
    expect(cases.every((c) => expandHostlist(c).ok), 'generator must produce expressions herd accepts').toBe(true);
    expect(await expandMismatches(cases)).toEqual([]);
  });

  it('agrees on hand-picked edge cases (padding, widths crossing a digit, products, no prefix)', async () => {
    const cases = [
      'c[1-3]', 'c[001-003]', 'c[1-010]', 'c[01-2]', 'c[9-11]', 'c[009-011]', 'c[0001-3]', 'c[98-101]', 'c[1,3,5-6]',
      'c[1-2][3-4]', 'rack[1-2]-n[01-02]', '[1-2]', 'c[1-2],[3-4]', 'gpu-[1-2]', 'a.b-c[7]', 'c1,c1,c[1-2]', 'c[1-65536]',
    ];
    expect(await expandMismatches(cases)).toEqual([]);
  });

  it('rejects what herd rejects: 120 generated invalid expressions', async () => {
    const cases = sample(invalidExpr, 120, SEED + 1);
    const herdAccepted = cases.filter((c) => expandHostlist(c).ok);
    expect(herdAccepted, 'generator must produce expressions herd rejects').toEqual([]);
    const slurm = await scontrolHostnamesBatch(cases);
    expect(cases.filter((_, i) => !REJECTED.test(slurm[i]!.errors.join('\n')))).toEqual([]);
  });

  it('rejects what Slurm rejects: ranges longer than 65536 names', async () => {
    // Slurm's MAX_RANGE: c[1-65536] is the largest single range it expands.
    for (const expr of ['c[1-65537]', 'c[0-65536]', 'c[1-2,5-70000]']) {
      expect((await scontrolHostnames(expr)).errors.join('\n'), expr).toMatch(REJECTED);
      expect(expandHostlist(expr).ok, `herd accepts ${expr}, which scontrol rejects`).toBe(false);
    }
  });

  it('expands bracket numbers beyond 2^53 like scontrol, or rejects them, without hanging', async () => {
    // Run in a child process: a float-precision loop here would otherwise take the test worker down with it.
    const module = new URL('../../src/spec/hostlist.ts', import.meta.url).pathname;
    const script = `import { expandHostlist } from ${JSON.stringify(module)}; console.log(JSON.stringify(expandHostlist(process.argv[1])));`;
    for (const expr of ['c[9007199254740993-9007199254740994]', 'c[99999999999999999]']) {
      const slurm = await scontrolHostnames(expr);
      expect(slurm.errors, expr).toEqual([]);
      const child = await execFileP(process.execPath, ['--max-old-space-size=96', '--import', 'tsx', '--input-type=module', '-e', script, expr], { timeout: 20_000 })
        .then((r) => JSON.parse(r.stdout) as { ok: boolean; names?: string[] })
        .catch((e: Error & { signal?: string }) => ({ crashed: `${e.signal ?? ''} ${e.message.split('\n').slice(0, 2).join(' ')}` }));
      expect('crashed' in child ? child : child.ok ? child.names : 'rejected', `herd on ${expr}`).toSatisfy(
        (r: unknown) => r === 'rejected' || JSON.stringify(r) === JSON.stringify(slurm.names),
      );
    }
  });

  it('is stricter than scontrol where scontrol silently garbles input (pinned, so a Slurm change is noticed)', async () => {
    // scontrol exits 0 and prints no error for these; herd rejects them on purpose.
    const lenient: [string, string[]][] = [
      ['c[1-', ['c]']],
      ['c[1-2', ['c]']],
      ['c1]', ['c1]']],
      ['a,,b', ['a', 'b']],
      ['c[1-]', ['c1']],
      ['a b', ['a', 'b']],
    ];
    for (const [expr, garbled] of lenient) {
      expect(expandHostlist(expr).ok, expr).toBe(false);
      expect(await scontrolHostnames(expr), expr).toEqual({ names: garbled, errors: [] });
    }
  });
});

describe('hostlist compression matches scontrol show hostlist', () => {
  it('compressOrdered agrees on 300 generated name lists (order and duplicates kept)', async () => {
    expect(await compressMismatches(sample(names, 300, SEED + 2))).toEqual([]);
  });

  it('compressOrdered agrees on hand-picked edge cases', async () => {
    const cases = [
      ['c3', 'c1', 'c2', 'c2'], ['c9', 'c10'], ['c09', 'c10'], ['c1', 'c01'], ['c009', 'c010', 'c011'], ['c99', 'c100', 'c0100'],
      ['c1', 'd1', 'c2'], ['a', 'b1', 'b2'], ['n1-1', 'n1-2'], ['c0', 'c1'], ['c000', 'c001'], ['r1n1', 'r1n2', 'r2n1'],
    ];
    expect(await compressMismatches(cases)).toEqual([]);
  });

  it('compressOrdered agrees on numeric suffixes longer than 15 digits', async () => {
    const cases = [['c1234567890123456', 'c1234567890123457'], ['c12345678901234567890', 'c12345678901234567891']];
    expect(await compressMismatches(cases)).toEqual([]);
  });

  it('compressHostlist output expands, per scontrol, to the names sorted naturally and de-duplicated', async () => {
    const lists = sample(names, 100, SEED + 3);
    const compressed = lists.map((l) => compressHostlist(l));
    const back = await scontrolHostnamesBatch(compressed);
    const bad: Mismatch[] = [];
    lists.forEach((list, i) => {
      const want = [...new Set(list)].sort(compareHostnames);
      const b = back[i]!;
      if (b.errors.length === 0 && JSON.stringify(b.names) === JSON.stringify(want)) return;
      bad.push({ input: `${list.join(',')} -> ${compressed[i]}`, herd: want, scontrol: b.errors.length === 0 ? b.names : b.errors });
    });
    expect(bad).toEqual([]);
  });
});
