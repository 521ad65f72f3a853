// Robustness of the spec front end: random, mutated and hostile inputs thrown at checkSpec must always come back as
// well-formed diagnostics (catalogued rule, severity, a line >= 1 when located in a file), never as an exception.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { checkSpec, type AuxReader, type SpecCheck } from '../../../src/spec/check-spec.ts';
import { RULES } from '../../../src/diagnostics/rule-catalog.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const LAB = readFileSync(resolve(REPO, 'clusters/lab/cluster.yaml'), 'utf8');
const INVENTORY = 'name,mac,address\nc1,52:54:00:aa:00:01,10.0.0.2\n';

/** Overlay folders exist for slurm-node only; an inventory, when named, has two rows. */
const aux: AuxReader = (paths) => ({
  overlayFiles: Object.fromEntries(Object.keys(paths.overlays).map((n) => [n, n === 'slurm-node' ? ['etc/tmpfiles.d/slurm.conf'] : undefined])),
  ...(paths.inventory !== undefined ? { inventory: { file: 'nodes.csv', text: INVENTORY } } : {}),
});

function assertWellFormed(input: string | Uint8Array, reader: AuxReader = aux): SpecCheck {
  let r: SpecCheck | undefined;
  expect(() => {
    r = checkSpec('cluster.yaml', input, reader);
  }).not.toThrow();
  for (const d of r!.diagnostics) {
    const where = `${d.rule} ${d.file}:${d.line}:${d.column} ${d.message}`;
    expect(RULES[d.rule], `uncatalogued rule: ${where}`).toBeDefined();
    expect(['error', 'warning', 'info'], where).toContain(d.severity);
    expect(typeof d.message === 'string' && d.message.length > 0, where).toBe(true);
    if (d.file !== undefined) {
      expect(Number.isInteger(d.line) && d.line! >= 1, `no line: ${where}`).toBe(true);
      if (d.column !== undefined) expect(d.column, where).toBeGreaterThanOrEqual(1);
    }
  }
  // A model is only ever handed out for an error-free spec.
  if (r!.model) expect(r!.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r!;
}

const lines = LAB.split('\n');
type Edit = { op: 'delete'; line: number } | { op: 'duplicate'; line: number } | { op: 'swap'; a: number; b: number } | { op: 'char'; at: number; ch: string } | { op: 'insert'; at: number; text: string };
const lineIndex = fc.nat({ max: lines.length - 1 });
const charIndex = fc.nat({ max: LAB.length - 1 });
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), line: lineIndex }),
  fc.record({ op: fc.constant('duplicate' as const), line: lineIndex }),
  fc.record({ op: fc.constant('swap' as const), a: lineIndex, b: lineIndex }),
  fc.record({ op: fc.constant('char' as const), at: charIndex, ch: fc.oneof(fc.constantFrom(':', ' ', '\t', '[', ']', '{', '}', '"', "'", '#', '-', '&', '*', '!', '|', '>', '\n', '0', 'x', '/', ',', '%', '@', '`'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })) }),
  fc.record({ op: fc.constant('insert' as const), at: charIndex, text: fc.oneof(fc.constantFrom('&a ', '*a', '*nope', '!!binary ', '<<: ', '? ', 'x: y\n', '- ', '~', '1e400', '99999999999999999999', '\ufeff'), fc.string({ unit: 'grapheme', maxLength: 12 })) }),
);

function applyEdits(edits: readonly Edit[]): string {
  let ls = [...lines];
  let text = '';
  for (const e of edits) {
    if (e.op === 'delete') ls.splice(Math.min(e.line, ls.length - 1), 1);
    else if (e.op === 'duplicate') ls.splice(e.line, 0, ls[Math.min(e.line, ls.length - 1)] ?? '');
    else if (e.op === 'swap') [ls[e.a % ls.length], ls[e.b % ls.length]] = [ls[e.b % ls.length]!, ls[e.a % ls.length]!];
    else if (e.op === 'char' || e.op === 'insert') {
      text = ls.join('\n');
      const at = e.at % Math.max(1, text.length);
      text = e.op === 'char' ? text.slice(0, at) + e.ch + text.slice(at + 1) : text.slice(0, at) + e.text + text.slice(at);
      ls = text.split('\n');
    }
  }
  return ls.join('\n');
}

const TOKENS = ['a:', 'nodes:', 'c[1-2]:', 'mac:', ' ', '  ', '\n', '\n  ', '- ', '[', ']', '{', '}', ',', '&x ', '*x', '!!str ', '!t ', '"', "'", '# herd-ignore: net/duplicate-mac why', '#', '---\n', '...\n', '|\n', '>-\n', '? ', ': ', '\t', '%YAML 1.2\n', '<<: *x', '1e400', '0x1F', '~', 'null', 'é', '😀', '\u0000', '\ufeff', '\r\n', '10.0.0.1', '2:00'];

describe('checkSpec never throws and always returns well-formed diagnostics', () => {
  it('on mutations of the lab spec (deleted, duplicated, swapped lines; changed and inserted characters)', () => {
    fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => void assertWellFormed(applyEdits(edits))), { numRuns: 150 });
  });

  it('on the lab with random values planted at random places (wrong types, huge numbers, odd strings)', () => {
    const base = parse(LAB) as Record<string, unknown>;
    const places: (string | number)[][] = [];
    const walk = (v: unknown, p: (string | number)[]): void => {
      if (p.length) places.push(p);
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
    };
    walk(base, []);
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(1e308, -1, 2 ** 64, Number.MAX_SAFE_INTEGER + 2, '', ' ', '10.0.0.1/24', '52:54:00:aa:00:01', 'c[1-99]', 'UNLIMITED'));
    fc.assert(
      fc.property(fc.constantFrom(...places), value, fc.boolean(), (path, v, drop) => {
        const doc = structuredClone(base);
        let parent: Record<string | number, unknown> = doc;
        for (const seg of path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
        const last = path[path.length - 1]!;
        if (drop) delete parent[last];
        else parent[last] = v;
        assertWellFormed(stringify(doc));
      }),
      { numRuns: 150 },
    );
  });

  it('on random text, YAML token soup and random bytes (including invalid UTF-8)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => void assertWellFormed(s)), { numRuns: 300 });
    fc.assert(fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }), (ts) => void assertWellFormed(ts.join(''))), { numRuns: 400 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => void assertWellFormed(b)), { numRuns: 300 });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.nat(), (junk, at) => {
        const bytes = Buffer.from(LAB);
        const i = at % bytes.length;
        void assertWellFormed(Buffer.concat([bytes.subarray(0, i), junk, bytes.subarray(i)]));
      }),
      { numRuns: 150 },
    );
  });

  it('on random inventory CSV text', () => {
    const spec = LAB.replace('name: lab\n', 'name: lab\ninventory: nodes.csv\n');
    const cell = fc.oneof(fc.constantFrom('name', 'mac', 'address', 'c1', 'c2', 'c3', '52:54:00:aa:00:01', '10.0.0.2', '"', '""', '"a,b"', '', ' '), fc.string({ maxLength: 6 }));
    const csv = fc.array(fc.array(cell, { maxLength: 5 }).map((cs) => cs.join(',')), { maxLength: 6 }).map((rs) => rs.join(fc.sample(fc.constantFrom('\n', '\r\n'), 1)[0]));
    fc.assert(fc.property(csv, (text) => void assertWellFormed(spec, (paths) => ({ ...aux(paths), inventory: { file: 'nodes.csv', text } }))), { numRuns: 100 });
  });

  it.each([
    ['empty file', ''],
    ['only whitespace', ' \n\t\n'],
    ['only a BOM', new Uint8Array([0xef, 0xbb, 0xbf])],
    ['a scalar document', 'hello'],
    ['a list document', '- a\n- b\n'],
    ['two documents', `${LAB}\n---\nkind: Cluster\n`],
    ['duplicate keys', LAB.replace('name: lab\n', 'name: lab\nname: lab2\n')],
    ['an undefined alias', LAB.replace('image: rockylinux-10', 'image: *nope')],
    ['billion laughs', `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n`],
    ['anchors and aliases used properly', LAB.replace('  compute:\n', '  compute: &c\n').replace('nodes:\n', 'x-copy: *c\nnodes:\n')],
    ['huge numbers', LAB.replace('cpus: 2', 'cpus: 1e400').replace('priority_tier: 10', 'priority_tier: 99999999999999999999999999').replace('return_to_service: 2', 'return_to_service: -0x8000000000000000')],
    ['moderately deep nesting inside a value', LAB.replace('dns: [10.0.0.1]', `dns: ${'['.repeat(200)}${']'.repeat(200)}`)],
    ['deep block nesting', Array.from({ length: 300 }, (_, i) => `${' '.repeat(i)}a:`).join('\n') + ' 1\n'],
    ['a 1 MB scalar', `apiVersion: herd.dev/v1alpha1\nkind: Cluster\nname: ${'x'.repeat(1 << 20)}\n`],
    ['tags', LAB.replace('name: lab', 'name: !!binary aGVsbG8=').replace('cpus: 2', 'cpus: !custom 2')],
    ['odd keys', LAB.replace('nodes:\n', 'nodes:\n  ? [a, b]\n  : { mac: x }\n  ~: ~\n  "": {}\n  constructor: {}\n')],
    ['overlong UTF-8 (C0 AF)', Buffer.concat([Buffer.from('name: '), Buffer.from([0xc0, 0xaf])])],
    ['UTF-8 encoded surrogate (ED A0 80)', Buffer.concat([Buffer.from(LAB), Buffer.from([0xed, 0xa0, 0x80])])],
    ['a truncated sequence at the end', Buffer.concat([Buffer.from(LAB), Buffer.from([0xe2, 0x82])])],
    ['UTF-16 with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(LAB, 'utf16le')])],
    ['random unicode keys and values', LAB.replace('nodes:\n', 'nodes:\n  "ｃ１": { mac: "５２", address: "１０.０.０.９" }\n  "c\u200b3": {}\n')],
  ] as [string, string | Uint8Array][])('on %s', (_name, input) => {
    assertWellFormed(input);
  });

  it('reports the undecodable byte of a non-UTF-8 file at its line and column', () => {
    const r = assertWellFormed(Buffer.concat([Buffer.from('apiVersion: herd.dev/v1alpha1\nkind: Clu'), Buffer.from([0xff]), Buffer.from('ster\n')]));
    expect(r.diagnostics).toMatchObject([{ rule: 'yaml/encoding', line: 2, column: 10 }]);
  });
});

/** Run checkSpec in a child process: pathological nesting must not take the test worker down with it. */
function checkInChild(inputs: readonly string[]): { status: number | null; out: string; err: string } {
  const url = new URL('../../../src/spec/check-spec.ts', import.meta.url).href;
  const src = `import { checkSpec } from ${JSON.stringify(url)};
    const inputs = JSON.parse(process.env.HERD_FUZZ_INPUTS);
    for (const t of inputs) {
      const r = checkSpec('cluster.yaml', t, () => ({ overlayFiles: {} }));
      console.log(JSON.stringify(r.diagnostics.map((d) => [d.rule, d.severity, d.line ?? null])));
    }`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', src], { cwd: REPO, encoding: 'utf8', timeout: 60_000, env: { ...process.env, HERD_FUZZ_INPUTS: JSON.stringify(inputs) } });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe('pathological nesting (10,000 levels)', () => {
  const open = '['.repeat(10_000);
  const closed = '['.repeat(10_000) + ']'.repeat(10_000);

  it('one such document is reported as a YAML error', () => {
    const r = checkInChild([closed]);
    expect(r.status, r.err.slice(0, 500)).toBe(0);
    const [first] = r.out.trim().split('\n').map((l) => JSON.parse(l) as [string, string, number | null][]);
    expect(first!.length).toBeGreaterThan(0);
    expect(first!.every(([rule, , line]) => rule === 'yaml/syntax' && line !== null && line >= 1)).toBe(true);
  });

  it('several such documents in one process are each reported, without crashing the process', () => {
    const r = checkInChild([open, closed, open, closed]);
    expect(r.status, r.err.slice(0, 300)).toBe(0);
    expect(r.out.trim().split('\n')).toHaveLength(4);
  });
});
