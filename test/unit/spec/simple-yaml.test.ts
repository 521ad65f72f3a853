// The subset YAML reader (src/spec/simple-yaml.ts) against the yaml package (the reference, through loadYaml with the
// subset reader off): the same value and the same positions, start and end, key and value, for every spec, YAML fixture
// and nodes.conf the tests know, for a table of awkward scalars, and for thousands of random edits of the examples. It
// must actually run on the common files (a reader that always declined would pass the rest), and what it does not
// understand it declines, so that the yaml package reads it and reports its errors.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readSimpleYaml } from '../../../src/spec/simple-yaml.ts';
import { loadYaml } from '../../../src/spec/load.ts';
import type { PositionIndex } from '../../../src/spec/positions.ts';
import { compileText } from '../import/helpers.ts';
import { generateRangedSpec } from '../../../bench/validate.ts';

const REPO = join(import.meta.dirname, '../../..');
const SITES = join(REPO, 'test/fixtures/import-sites');

/** Scalars as strings, nulls dropped: how readNodesConf sees any document. */
function norm(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(norm);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== null && x !== undefined).map(([k, x]) => [k, norm(x)]));
  return v === null ? null : String(v);
}

/** Every path of a value: the root, each collection and each leaf. */
function allPaths(v: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(path);
  if (Array.isArray(v)) v.forEach((x, i) => allPaths(x, [...path, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v as Record<string, unknown>)) allPaths(x, [...path, k], out);
  return out;
}

/** Positions as one comparable string per path: value span, key span, whether the path exists; and a path below a leaf. */
function positions(index: PositionIndex, value: unknown): string[] {
  const show = (r: ReturnType<PositionIndex['at']>) => `${r.line}:${r.column}-${r.endLine ?? '?'}:${r.endColumn ?? '?'}`;
  return allPaths(value).map((p) => `${p.join('/')} at ${show(index.at(p))} key ${show(index.keyAt(p))} has ${index.has(p)} below ${show(index.at([...p, 'zz', 0]))}`);
}

function expectSame(name: string, text: string, typed: boolean): boolean {
  const fast = readSimpleYaml(name, text, { typed });
  if (!fast) return false;
  const ref = loadYaml(name, text, { subsetReader: false });
  expect(ref.diagnostics.filter((d) => d.severity === 'error'), `${name}: the subset reader accepted a document the yaml package refuses`).toEqual([]);
  if (typed) expect(fast.value, name).toStrictEqual(ref.value);
  else expect(norm(fast.value), name).toEqual(norm(ref.value));
  expect(positions(fast.index, fast.value), name).toEqual(positions(ref.index, ref.value));
  return true;
}

function yamlFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (e === 'node_modules' || e === '.herd' || e === '.git') continue;
    const st = lstatSync(p);
    if (st.isDirectory()) yamlFiles(p, out);
    else if (!st.isFile()) continue;
    else if (/\.ya?ml$/.test(e) || e === 'nodes.conf' || e === 'warewulf.conf') out.push(p);
  }
  return out;
}

function nodesConfs(): [string, string][] {
  const out: [string, string][] = readdirSync(SITES).sort().map((s) => [s, readFileSync(join(SITES, s, 'etc/warewulf/nodes.conf'), 'utf8')]);
  for (const c of ['lab', 'condo']) {
    const dir = join(REPO, 'clusters', c);
    const inv = c === 'condo' ? readFileSync(join(dir, 'inventory.csv'), 'utf8') : undefined;
    const overlays: Record<string, string[]> = c === 'condo' ? { 'slurm-node': [], 'site-motd': [] } : { 'slurm-node': [] };
    out.push([`herd's ${c}`, compileText(readFileSync(join(dir, 'cluster.yaml'), 'utf8'), inv, overlays).files.get('etc/warewulf/nodes.conf')!]);
  }
  const g = generateRangedSpec(300);
  out.push(["herd's 300 nodes", compileText(g.spec, g.inventory).files.get('etc/warewulf/nodes.conf')!]);
  return out;
}

/** A small deterministic generator (mulberry32), so every run tries the same edits. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the subset YAML reader', () => {
  describe('nodes.conf (every scalar a string)', () => {
    for (const [name, text] of nodesConfs()) {
      it(`${name}: the value and positions the yaml package gives`, () => {
        expect(expectSame('nodes.conf', text, false), 'the subset reader declined a nodes.conf in its subset').toBe(true);
      });
    }
  });

  it('every YAML file in the repository: the same value and positions, or declined; the examples are read', () => {
    const files = [...yamlFiles(join(REPO, 'clusters')), ...yamlFiles(join(REPO, 'test'))];
    const read: string[] = [];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      const name = relative(REPO, f);
      if (expectSame(name, text, true)) read.push(name);
    }
    for (const c of ['lab', 'condo', 'demo']) expect(read).toContain(`clusters/${c}/cluster.yaml`);
    expect(read.length).toBeGreaterThan(files.length / 2);
  });

  it('generated specs (ranges, explicit entries) are read the same', () => {
    expect(expectSame('g.yaml', generateRangedSpec(50).spec, true)).toBe(true);
  });

  // Each scalar in three places: a map value, a flow sequence item, a block sequence item.
  const SCALARS = [
    'x', 'a b', 'a  b', '1', '-1', '+1', '007', '1.5', '1.', '.5', '-.5', '1e3', '1E-3', '0x1f', '0o17', '0b1', '.inf', '-.INF', '.nan', '.NaN',
    'true', 'True', 'TRUE', 'tRue', 'false', 'no', 'yes', 'on', 'off', 'y', 'n', 'null', 'Null', 'NULL', '~', 'nULL',
    '1_000', '1:30', '10.0.0.1', '10.0.0.0/24', 'fd00::1', '::1', '52:54:00:aa:00:01', '1h', '8GiB', '12:00:00', '2026-12-06',
    '"q"', "'q'", "'it''s'", '"a\\"b"', '"a\\tb"', '"\\x41"', '"\\u00e9"', '"a # b"', "'a # b'", 'a#b', 'a #b', 'http://x/#f',
    '-', '- x', '-x', '--x', '?', '? x', '?x', ':', ':x', 'a:', 'a:b', 'a: b', '&a x', '*a', '!t x', '!!str 1', '|', '>', '%x', '@x', '`x',
    '[a, b]', '[a,b]', '[ a , b ]', '[]', '[ ]', '{}', '{a: 1}', '{a: 1, b: [x, "y"]}', '{ a : 1 }', '[a, [b, c]]', '[a,]', '[a,,b]', '{a}', '{a: }',
    '[a', 'a]', '{a: 1', '"unterminated', "'unterminated", 'é', 'ünïcode wörds', '"é"', 'a\u0085b', 'x "y"', "x 'y'",
    'a\u00a0', '\u00a0', 'a\u2028b', 'a\u3000', '\u200b', 'a\u202f', '\ud83d\ude00',
  ];
  it('awkward scalars: the same value and positions, or declined', () => {
    let read = 0;
    for (const s of SCALARS) {
      for (const text of [`k: ${s}\n`, `k: [${s}]\n`, `k:\n  - ${s}\n  - z\n`, `"k": ${s}   # c\nz:\n`, `k: ${s}`]) {
        if (expectSame(JSON.stringify(text), text, true)) read++;
        expectSame(JSON.stringify(text), text, false);
      }
    }
    expect(read).toBeGreaterThan(SCALARS.length);
  });

  it('random edits of the examples: whatever the subset reader accepts, it reads as the yaml package does', () => {
    const rnd = random(17);
    const bases = ['lab', 'condo', 'demo'].map((c) => readFileSync(join(REPO, 'clusters', c, 'cluster.yaml'), 'utf8'));
    const pieces = [' ', '  ', '\n', '- ', ': ', ':', '#', ' #', '"', "'", '[', ']', '{', '}', ',', '-', '1', 'true', '~', 'x', '\t', '&a ', '*a', '|'];
    let accepted = 0;
    for (let n = 0; n < 2000; n++) {
      let text = bases[n % bases.length]!;
      for (let edits = 1 + Math.floor(rnd() * 3); edits > 0; edits--) {
        const at = Math.floor(rnd() * text.length);
        const r = rnd();
        if (r < 0.3) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(rnd() * 4));
        else if (r < 0.8) text = text.slice(0, at) + pieces[Math.floor(rnd() * pieces.length)]! + text.slice(at);
        else {
          // A whole line moved, or its indentation changed.
          const lines = text.split('\n');
          const i = Math.floor(rnd() * lines.length);
          if (r < 0.9) lines[i] = (rnd() < 0.5 ? ' ' : '') + lines[i]!.replace(/^ {0,2}/, rnd() < 0.5 ? '' : '  ');
          else lines.splice(Math.floor(rnd() * lines.length), 0, lines[i]!);
          text = lines.join('\n');
        }
      }
      if (expectSame(`edit ${n}`, text, true)) accepted++;
    }
    expect(accepted).toBeGreaterThan(200);
  }, 120_000);

  // Documents generated from a small grammar (block maps and sequences, a sequence at its key's indentation, flow
  // sequences and maps, plain and quoted keys, trailing and whole-line comments, blank lines), each alphabet aimed at one
  // kind of trouble: indicators and quotes, plain words, the core schema's typed spellings, Unicode.
  type Doc = { t: 's'; v: string } | { t: 'flow'; v: string } | { t: 'map'; e: [string, Doc][] } | { t: 'seq'; e: Doc[] };
  const emitDoc = (d: Doc, indent: number, out: string[], prefix: string, sameIndentSeq: boolean): void => {
    const pad = ' '.repeat(indent);
    if (d.t === 's' || d.t === 'flow') out.push(`${prefix}${d.v}`);
    else if (d.t === 'map') {
      d.e.forEach(([k, v], i) => {
        const head = i === 0 ? prefix : pad;
        if (v.t === 's' || v.t === 'flow') out.push(`${head}${k}: ${v.v}`);
        else {
          out.push(`${head}${k}:`);
          const deeper = v.t === 'seq' && sameIndentSeq ? indent : indent + 2;
          emitDoc(v, deeper, out, ' '.repeat(deeper), sameIndentSeq);
        }
      });
    } else {
      d.e.forEach((v, i) => {
        const head = i === 0 ? prefix : pad;
        if (v.t === 'map') emitDoc(v, indent + 2, out, `${head}- `, sameIndentSeq);
        else if (v.t === 'seq') {
          out.push(`${head}-`);
          emitDoc(v, indent + 2, out, ' '.repeat(indent + 2), sameIndentSeq);
        } else out.push(`${head}- ${v.v}`);
      });
    }
  };
  for (const alphabet of ['ab1 -:#\'"[]{},.', 'abc 01.:-', 'tTfF0 .~nul-+e', 'a1 é\u00a0😀']) {
    it(`generated documents over ${JSON.stringify(alphabet)}: whatever the subset reader accepts, it reads as the yaml package does`, () => {
      const scalar = fc.string({ unit: fc.constantFrom(...alphabet.split(/(?:)/u)), maxLength: 7 });
      const { v: flowValue } = fc.letrec((tie) => ({
        v: fc.oneof(
          { maxDepth: 2 },
          scalar,
          fc.array(tie('v') as fc.Arbitrary<string>, { maxLength: 3 }).map((a) => `[${a.join(', ')}]`),
          fc.array(fc.tuple(scalar, tie('v') as fc.Arbitrary<string>), { maxLength: 3 }).map((a) => `{${a.map(([k, x]) => `${k}: ${x}`).join(', ')}}`),
        ),
      }));
      const { map } = fc.letrec((tie) => ({
        node: fc.oneof({ maxDepth: 3 }, fc.record({ t: fc.constant('s' as const), v: scalar }), fc.record({ t: fc.constant('flow' as const), v: flowValue as fc.Arbitrary<string> }), tie('map'), tie('seq')),
        map: fc.record({ t: fc.constant('map' as const), e: fc.array(fc.tuple(fc.oneof(scalar, scalar.map((k) => `"${k}"`), scalar.map((k) => `'${k}'`)).filter((k) => k.trim() !== ''), tie('node')), { minLength: 1, maxLength: 3 }) }),
        seq: fc.record({ t: fc.constant('seq' as const), e: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }),
      }));
      const comments = fc.array(fc.constantFrom('', '', '', '  # c', ' #x', '#y'), { minLength: 16, maxLength: 16 });
      let accepted = 0;
      fc.assert(
        fc.property(map as fc.Arbitrary<Doc>, comments, fc.boolean(), fc.boolean(), (d, notes, sameIndentSeq, blanks) => {
          const out: string[] = [];
          emitDoc(d, 0, out, '', sameIndentSeq);
          const lines = out.flatMap((l, i) => {
            const c = notes[i % notes.length]!;
            const withNote = c.startsWith('#') ? [l, ' '.repeat(i % 3) + c] : [l + c];
            return blanks && i % 4 === 1 ? ['', ...withNote] : withNote;
          });
          const text = `${lines.join('\n')}\n`;
          if (expectSame('generated', text, true)) accepted++;
          expectSame('generated (strings)', text, false);
        }),
        { numRuns: 1000, seed: 42 },
      );
      expect(accepted).toBeGreaterThan(20);
    }, 120_000);
  }

  const declined = {
    anchors: 'a: &x { b: 1 }\nc: *x\n',
    'block scalar': 'a: |\n  text\n',
    'multi-line plain scalar': 'a: one\n  two\n',
    'multi-line flow': 'a: [x,\n  y]\n',
    tabs: 'a:\n\tb: 1\n',
    'carriage returns': 'a: 1\r\nb: 2\r\n',
    'duplicate key': 'a: 1\na: 2\n',
    'duplicate key in a flow map': 'a: {b: 1, b: 2}\n',
    'the __proto__ key': '__proto__: 1\n',
    'a number as a key': '80: x\n',
    'a sequence on the key line': 'a: - b\n',
    'hex number': 'a: 0x10\n',
    tag: 'a: !!str 1\n',
    'document marker': '---\na: 1\n',
    'a deeper line after a value': 'a: 1\n  b: 2\n',
    'a line at no open indentation': 'a:\n    b: 1\n  c: 2\n',
  };
  for (const [what, text] of Object.entries(declined)) {
    it(`declines ${what}, left to the yaml package`, () => {
      expect(readSimpleYaml('x', text, { typed: true })).toBeUndefined();
    });
  }

  it('strings mode declines spellings the core schema reads as other values; typed mode reads them as it does', () => {
    for (const text of ['a: 010\n', 'a: 1.0\n', 'a: True\n']) expect(readSimpleYaml('x', text)).toBeUndefined();
    expect(readSimpleYaml('x', 'a: 1.0\nb: True\nc: -7\nd: ~\n', { typed: true })!.value).toStrictEqual({ a: 1, b: true, c: -7, d: null });
  });

  it('a 10,000-entry spec keeps positions for every entry, recorded when asked for', () => {
    const text = ['nodes:', ...Array.from({ length: 10000 }, (_, i) => `  - name: n${i}\n    address: 10.0.${i >> 8}.${i & 255}`)].join('\n') + '\n';
    const fast = readSimpleYaml('big.yaml', text, { typed: true })!;
    expect((fast.value as { nodes: unknown[] }).nodes).toHaveLength(10000);
    expect(fast.index.at(['nodes', 9999, 'address'])).toMatchObject({ line: 20001, column: 14, endLine: 20001, endColumn: 24 });
    expect(fast.index.keyAt(['nodes', 5000, 'name'])).toMatchObject({ line: 10002, column: 5, endColumn: 9 });
  });
});
