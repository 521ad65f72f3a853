// Shape check (pure): zod validates the structure; each issue becomes a located diagnostic with a concrete hint.
import type { z } from 'zod';
import { diagnosticAt, type Diagnostic, type SpecPath } from '../diagnostics/diagnostic.ts';
import type { PositionIndex } from './positions.ts';
import { clusterSchema, API_VERSION, type ClusterSpec } from './schema.ts';
import { didYouMean } from './did-you-mean.ts';
import { conformsTo } from './json-schema-check.ts';
import publishedSchema from '../../schema/cluster.schema.json' with { type: 'json' };
import { renamedIndex, salvageShape, type Salvage } from './salvage-shape.ts';

type AnySchema = z.ZodType;
interface Def {
  type: string;
  shape?: Record<string, AnySchema>;
  innerType?: AnySchema;
  valueType?: AnySchema;
  element?: AnySchema;
  options?: AnySchema[];
}
const defOf = (s: AnySchema): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object schemas that could sit at `path` (several when a union allows several objects). */
function objectsAt(schema: AnySchema, path: SpecPath): Def[] {
  let current: AnySchema[] = [schema];
  const unwrap = (s: AnySchema): AnySchema[] => {
    const d = defOf(s);
    if (d.type === 'optional' || d.type === 'nullable' || d.type === 'default') return unwrap(d.innerType!);
    if (d.type === 'union') return d.options!.flatMap(unwrap);
    return [s];
  };
  for (const seg of path) {
    const next: AnySchema[] = [];
    for (const s of current.flatMap(unwrap)) {
      const d = defOf(s);
      if (d.type === 'object' && typeof seg === 'string' && d.shape?.[seg]) next.push(d.shape[seg]);
      else if (d.type === 'record') next.push(d.valueType!);
      else if (d.type === 'array' && typeof seg === 'number') next.push(d.element!);
    }
    current = next;
  }
  return current.flatMap(unwrap).map(defOf).filter((d) => d.type === 'object');
}

function describeExpected(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return issue.expected;
  return 'a different value';
}

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a map' : typeof v === 'string' ? `the string "${v.length > 40 ? v.slice(0, 40) + '…' : v}"` : `${typeof v} ${String(v)}`);

function valueAt(root: unknown, path: SpecPath): unknown {
  let v: unknown = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function issueToDiagnostics(issue: z.core.$ZodIssue, root: unknown, index: PositionIndex): Diagnostic[] {
  const path = issue.path as (string | number)[];
  const where = path.length ? path.join('.') : 'the top level';
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = objectsAt(clusterSchema, path).flatMap((d) => Object.keys(d.shape ?? {}));
      return issue.keys.map((k) => {
        const guess = didYouMean(k, known);
        return diagnosticAt(
          index.keyAt([...path, k]),
          'schema/unknown-key',
          'error',
          `unknown key "${k}" in ${where}`,
          guess ? `did you mean "${guess}"?` : `known keys here: ${[...new Set(known)].sort().join(', ')}`,
        );
      });
    }
    case 'invalid_type': {
      const actual = valueAt(root, path);
      if (actual === undefined) {
        const key = path[path.length - 1];
        return [diagnosticAt(index.at(path.slice(0, -1)), 'schema/missing-key', 'error', `missing required key "${String(key)}" in ${path.slice(0, -1).join('.') || 'the top level'}`, `add ${String(key)}: (${issue.expected})`)];
      }
      return [diagnosticAt(index.at(path), 'schema/wrong-type', 'error', `${where} must be ${issue.expected}, not ${typeName(actual)}`, `write ${where} as ${issue.expected}`)];
    }
    case 'invalid_union': {
      const actual = valueAt(root, path);
      if (actual === undefined) {
        return [diagnosticAt(index.at(path.slice(0, -1)), 'schema/missing-key', 'error', `missing required key "${String(path[path.length - 1])}"`, 'add it')];
      }
      const expected = [...new Set(issue.errors.flatMap((errs) => errs.filter((e) => e.path.length === 0).map(describeExpected)))];
      // A union whose branch matched the type but failed deeper: report the deepest issues of the closest branch instead.
      const deeper = issue.errors.find((errs) => errs.length > 0 && errs.every((e) => e.path.length > 0));
      if (deeper) return deeper.flatMap((e) => issueToDiagnostics({ ...e, path: [...path, ...e.path] } as z.core.$ZodIssue, root, index));
      return [diagnosticAt(index.at(path), 'schema/wrong-type', 'error', `${where} must be ${expected.join(' or ') || 'another type'}, not ${typeName(actual)}`, `see the schema's description of ${where}`)];
    }
    case 'invalid_value': {
      const actual = valueAt(root, path);
      if (actual === undefined) {
        const key = path[path.length - 1];
        return [diagnosticAt(index.at(path.slice(0, -1)), 'schema/missing-key', 'error', `missing required key "${String(key)}" in ${path.slice(0, -1).join('.') || 'the top level'}`, `add ${String(key)}: ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`)];
      }
      if (path.length === 1 && path[0] === 'apiVersion') {
        return [diagnosticAt(index.at(path), 'schema/unsupported-version', 'error', `apiVersion ${typeName(actual)} is not one this herd understands`, `use apiVersion: ${API_VERSION} (or upgrade herd)`)];
      }
      const allowed = issue.values.map((v) => JSON.stringify(v)).join(', ');
      return [diagnosticAt(index.at(path), 'schema/invalid-value', 'error', `${where} is ${typeName(actual)}; allowed: ${allowed}`, `use one of ${allowed}`)];
    }
    case 'too_small':
    case 'too_big': {
      const actual = valueAt(root, path);
      const bound = issue.code === 'too_small' ? `at least ${String(issue.minimum)}` : `at most ${String(issue.maximum)}`;
      const what = issue.origin === 'string' ? `${bound} characters long` : issue.origin === 'array' ? `a list of ${bound} items` : bound;
      return [diagnosticAt(index.at(path), 'schema/out-of-range', 'error', `${where} is ${typeName(actual)}; it must be ${what}`, `change ${where}`)];
    }
    case 'invalid_format': {
      const actual = valueAt(root, path);
      return [diagnosticAt(index.at(path), 'schema/invalid-format', 'error', `${where} is ${typeName(actual)}, which is not in the expected format`, issue.message)];
    }
    default:
      return [diagnosticAt(index.at(path), 'schema/invalid-value', 'error', `${where}: ${issue.message}`, 'see the schema description')];
  }
}

export interface ShapeResult {
  readonly spec?: ClusterSpec;
  readonly diagnostics: Diagnostic[];
  /** Entries dropped because their own shape was wrong; rules must not report references to them as unknown. */
  readonly dropped: ReadonlySet<string>;
  /** What salvage did to read the rest of the spec (values removed, misspelt keys read as meant); absent when the shape was right. */
  readonly salvage?: Salvage;
}

/** Validate the shape. When parts are malformed, neutralise them (salvage-shape.ts) so the rest is still checked. */
export function checkShape(value: unknown, index: PositionIndex): ShapeResult {
  // The published JSON Schema accepts exactly what zod accepts (schema.test.ts), and zod parses these schemas (no transforms, no defaults) to an equal value:
  // a valid spec, the common case, never touches zod, and in the CLI bundle zod is then not even loaded (scripts/bundle.mjs).
  if (conformsTo(publishedSchema, value)) return { spec: value as ClusterSpec, diagnostics: [], dropped: new Set() };
  const first = clusterSchema.safeParse(value);
  if (first.success) return { spec: first.data, diagnostics: [], dropped: new Set() };
  const salvage = salvageShape(value, first.error.issues, (path) => objectsAt(clusterSchema, path).flatMap((d) => Object.keys(d.shape ?? {})));
  const diagnostics = first.error.issues.filter((i) => !salvage.explained.has(i)).flatMap((i) => issueToDiagnostics(i, value, index));
  if (salvage.behindRenames.length > 0) {
    const asMeant = renamedIndex(index, salvage.renamed);
    for (const i of salvage.behindRenames) diagnostics.push(...issueToDiagnostics(i, salvage.readAs, asMeant));
  }
  return { ...(salvage.spec ? { spec: salvage.spec } : {}), diagnostics, dropped: salvage.dropped, salvage };
}
