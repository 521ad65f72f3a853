// The published JSON Schema: it must be what the zod source of truth generates, and ajv (a second, independent validator)
// must accept and reject exactly the documents zod does, over every fixture spec and thousands of mutations of them.
// So must herd's own check of the schema (json-schema-check.ts), which the CLI runs so that a valid spec never loads zod.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
// Named import: the CommonJS default export is not constructable under nodenext typing.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { clusterSchema } from '../../../src/spec/schema.ts';
import { renderClusterJsonSchema } from '../../../src/spec/json-schema.ts';
import { conformsTo, uncheckedKeywords } from '../../../src/spec/json-schema-check.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SCHEMA_FILE = join(REPO, 'schema/cluster.schema.json');

describe('schema/cluster.schema.json', () => {
  it('is exactly what the zod schema generates (run `npm run gen:schema` when this fails)', () => {
    const committed = readFileSync(SCHEMA_FILE, 'utf8');
    expect(committed, 'schema/cluster.schema.json is stale: run `npm run gen:schema` and commit the result').toBe(renderClusterJsonSchema());
  });

  it('is a valid draft 2020-12 schema that ajv compiles in strict mode', () => {
    const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true });
    const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(ajv.validateSchema(schema), JSON.stringify(ajv.errors)).toBe(true);
    expect(() => ajv.compile(schema)).not.toThrow();
  });
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const DEMO_IMAGE = join(REPO, 'clusters', 'demo', 'image');

/** Every cluster.yaml (and other .yaml) the repo keeps as a fixture or example. */
function fixtureYamlFiles(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      // Generated, git-ignored trees are not fixtures: .herd/ state and clusters/demo's prepared image (whose absolute
      // symlinks point into this machine's own root).
      if (e.startsWith('.') || p === DEMO_IMAGE || lstatSync(p).isSymbolicLink()) continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e)) out.push(p);
    }
  };
  for (const root of ['clusters', 'test/golden/validate', 'test/fixtures/specs']) walk(join(REPO, root));
  return out.sort();
}

/** Parse as a YAML loader would; undefined for files that are not UTF-8 or not valid YAML (those never reach a schema). */
function parseYaml(bytes: Buffer): Json | undefined {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  const doc = parseDocument(text, { uniqueKeys: true, strict: true });
  if (doc.errors.length > 0) return undefined;
  try {
    return doc.toJS({ maxAliasCount: 1000 }) as Json;
  } catch {
    return undefined;
  }
}

const REPLACEMENTS: readonly Json[] = [42, 0, -1, 1.5, 2 ** 53, 70000, 4294967295, 'x', '', '6GiB', 'herd.dev/v1alpha1', true, null, [], {}, ['x'], [1], { a: 'b' }, { kind: 'system' }];

/** Each node of a JSON value with its path (root excluded). */
function nodes(v: Json, path: (string | number)[] = []): [(string | number)[], Json][] {
  const out: [(string | number)[], Json][] = path.length ? [[path, v]] : [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...nodes(x, [...path, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...nodes(x, [...path, k]));
  return out;
}

function mutate(doc: Json, path: (string | number)[], op: { kind: 'delete' } | { kind: 'set'; value: Json } | { kind: 'add-key'; key: string }): Json {
  const copy = structuredClone(doc);
  if (op.kind === 'add-key') {
    let target: Json = copy;
    for (const seg of path) target = (target as Record<string, Json>)[seg as string]!;
    (target as Record<string, Json>)[op.key] = 1;
    return copy;
  }
  let parent: Json = copy;
  for (const seg of path.slice(0, -1)) parent = (parent as Record<string, Json>)[seg as string]!;
  const last = path[path.length - 1]!;
  if (op.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete (parent as Record<string, Json>)[last];
  } else (parent as Record<string | number, Json>)[last] = op.value;
  return copy;
}

function mutations(doc: Json): { label: string; doc: Json }[] {
  const out: { label: string; doc: Json }[] = [];
  nodes(doc).forEach(([path, value], i) => {
    const at = path.join('.');
    out.push({ label: `delete ${at}`, doc: mutate(doc, path, { kind: 'delete' }) });
    // A rotating handful of wrong values per place keeps the run short while every replacement is used many times.
    for (let j = 0; j < 4; j++) {
      const r = REPLACEMENTS[(i * 4 + j) % REPLACEMENTS.length]!;
      out.push({ label: `${at} = ${JSON.stringify(r)}`, doc: mutate(doc, path, { kind: 'set', value: r }) });
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out.push({ label: `${at}.zz_unknown`, doc: mutate(doc, path, { kind: 'add-key', key: 'zz_unknown' }) });
      const first = Object.keys(value)[0];
      if (first) out.push({ label: `${at}.${first}x (typo)`, doc: mutate(doc, path, { kind: 'add-key', key: `${first}x` }) });
    }
  });
  for (const k of ['apiVersion', 'kind', 'name', 'head', 'network', 'images', 'nodes']) out.push({ label: `drop required ${k}`, doc: mutate(doc, [k], { kind: 'delete' }) });
  out.push({ label: 'top-level unknown key', doc: mutate(doc, [], { kind: 'add-key', key: 'colour' }) });
  return out;
}

describe("ajv, zod and herd's own schema check agree (differential)", () => {
  const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true });
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
  const validate = ajv.compile(schema);
  const verdicts = (doc: Json): { ajv: boolean; zod: boolean; herd: boolean } => ({ ajv: validate(doc) === true, zod: clusterSchema.safeParse(doc).success, herd: conformsTo(schema, doc) });
  const agree = (v: { ajv: boolean; zod: boolean; herd: boolean }): boolean => v.ajv === v.zod && v.herd === v.zod;
  const show = (v: { ajv: boolean; zod: boolean; herd: boolean }): string => `ajv ${v.ajv}, zod ${v.zod}, herd ${v.herd}`;

  it('herd\'s schema check evaluates every keyword the published schema uses', () => {
    expect(uncheckedKeywords(schema)).toEqual([]);
    expect(() => conformsTo({ type: 'object', patternProperties: {} }, {})).toThrow(/patternProperties/);
  });

  const files = fixtureYamlFiles();
  const corpus = files.flatMap((f) => {
    const doc = parseYaml(readFileSync(f));
    return doc === undefined ? [] : [{ label: relative(REPO, f), doc }];
  });

  it('on every fixture spec that is valid YAML, with both accepted and rejected ones in the corpus', () => {
    expect(files.length).toBeGreaterThan(50);
    const disagreements: string[] = [];
    let accepted = 0;
    for (const { label, doc } of corpus) {
      const v = verdicts(doc);
      if (!agree(v)) disagreements.push(`${label}: ${show(v)}`);
      if (v.zod) accepted++;
    }
    expect(disagreements).toEqual([]);
    expect(accepted, 'the corpus must contain accepted documents').toBeGreaterThan(0);
    expect(corpus.length - accepted, 'the corpus must contain rejected documents').toBeGreaterThan(0);
    expect(corpus.find((c) => c.label === 'clusters/lab/cluster.yaml') && verdicts(corpus.find((c) => c.label === 'clusters/lab/cluster.yaml')!.doc).zod).toBe(true);
  });

  it('on generated mutations of the valid specs: dropped keys, unknown keys, wrong types', () => {
    const bases = corpus.filter((c) => c.label.includes('valid-rich') || c.label === 'clusters/lab/cluster.yaml');
    expect(bases).toHaveLength(2);
    const disagreements: string[] = [];
    let accepted = 0;
    let total = 0;
    for (const base of bases) {
      for (const m of mutations(base.doc)) {
        const v = verdicts(m.doc);
        total++;
        if (v.zod) accepted++;
        if (!agree(v) && disagreements.length < 20) disagreements.push(`${base.label}: ${m.label}: ${show(v)}`);
      }
    }
    expect(disagreements).toEqual([]);
    expect(accepted).toBeGreaterThan(0);
    expect(total - accepted).toBeGreaterThan(0);
  });

  it('on random values planted at random places', () => {
    const base = corpus.find((c) => c.label === 'clusters/lab/cluster.yaml')!.doc;
    const places = nodes(base).map(([p]) => p);
    const value: fc.Arbitrary<Json> = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>;
    fc.assert(
      fc.property(fc.constantFrom(...places), value, (path, v) => {
        const doc = mutate(base, path, { kind: 'set', value: v });
        const r = verdicts(doc);
        expect(agree(r), `${path.join('.')} = ${JSON.stringify(v)}: ${show(r)}`).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});
