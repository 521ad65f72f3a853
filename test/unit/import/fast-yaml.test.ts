// The fast nodes.conf reader against the yaml package (the reference): the same value and the same positions for every
// nodes.conf the tests know, and it must actually run on them (a reader that always declined would pass the rest).
// What it does not understand it declines, and the yaml package reads that.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSimpleYaml } from '../../../src/import/fast-yaml.ts';
import { loadYaml } from '../../../src/spec/load.ts';
import { compileText } from './helpers.ts';
import { generateRangedSpec } from '../../../bench/validate.ts';

const REPO = join(import.meta.dirname, '../../..');
const SITES = join(REPO, 'test/fixtures/import-sites');

/** Scalars as strings, nulls dropped: how readNodesConf sees any document. */
function norm(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(norm);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== null && x !== undefined).map(([k, x]) => [k, norm(x)]));
  return v === null ? null : String(v);
}

function leafPaths(v: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(v)) v.forEach((x, i) => leafPaths(x, [...path, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v as Record<string, unknown>)) leafPaths(x, [...path, k], out);
  else out.push(path);
  return out;
}

function corpus(): [string, string][] {
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

describe('the fast nodes.conf reader', () => {
  for (const [name, text] of corpus()) {
    it(`${name}: the value and positions the yaml package gives`, () => {
      const fast = readSimpleYaml('nodes.conf', text);
      expect(fast, 'the fast reader declined a nodes.conf in its subset').toBeDefined();
      const ref = loadYaml('nodes.conf', text);
      expect(norm(fast!.value)).toEqual(norm(ref.value));
      for (const p of leafPaths(ref.value)) {
        const a = fast!.index.at(p);
        const b = ref.index.at(p);
        expect(`${a.line}:${a.column}`, p.join('/')).toBe(`${b.line}:${b.column}`);
        const ka = fast!.index.keyAt(p);
        const kb = ref.index.keyAt(p);
        if (typeof p[p.length - 1] === 'string') expect(`${ka.line}:${ka.column}`, `key ${p.join('/')}`).toBe(`${kb.line}:${kb.column}`);
      }
    });
  }

  const declined = {
    anchors: 'a: &x { b: 1 }\nc: *x\n',
    'block scalar': 'a: |\n  text\n',
    'multi-line plain scalar': 'a: one\n  two\n',
    'multi-line flow': 'a: [x,\n  y]\n',
    tabs: 'a:\n\tb: 1\n',
    'duplicate key': 'a: 1\na: 2\n',
    'octal-looking number': 'a: 010\n',
    float: 'a: 1.0\n',
    'capitalised boolean': 'a: True\n',
    tag: 'a: !!str 1\n',
    'document marker': '---\na: 1\n',
  };
  for (const [what, text] of Object.entries(declined)) {
    it(`declines ${what}, left to the yaml package`, () => {
      expect(readSimpleYaml('x', text)).toBeUndefined();
    });
  }

  it('agrees on quoting, comments and flow collections', () => {
    const text = [
      'nodes:',
      '  "n1":   # a comment',
      "    tags: { a: 'its', b: \"x: y\", c: [1, \"2\"], d: {} }",
      '    list:',
      '    - x#y',
      '    - "~quiet"',
      '    - ~quiet',
      '    empty:',
      '    nul: ~',
      '    ip: 10.0.0.1',
      '    mac: 52:54:00:aa:00:01',
      '',
    ].join('\n');
    const fast = readSimpleYaml('x', text);
    expect(fast).toBeDefined();
    expect(norm(fast!.value)).toEqual(norm(loadYaml('x', text).value));
  });
});
