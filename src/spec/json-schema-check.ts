// A yes/no JSON Schema check (pure) for the keywords schema/cluster.schema.json uses, with ajv's semantics for each.
// It lets the CLI accept a valid spec without loading zod: compiling and evaluating zod costs more than the rest of `herd validate`.
// zod stays the source of truth and explains every rejection; test/unit/spec/schema.test.ts proves this check, ajv and zod agree.

type Schema = Readonly<Record<string, unknown>>;
type Obj = Record<string, unknown>;

/** Keywords that only annotate: they never change what validates. */
const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly']);

/** Every keyword this check evaluates; any other keyword makes it throw rather than pass a document it did not check. */
export const CHECKED_KEYWORDS: ReadonlySet<string> = new Set([
  'type', 'const', 'enum', 'anyOf', 'allOf',
  'minLength', 'maxLength', 'pattern',
  'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
  'properties', 'required', 'additionalProperties', 'propertyNames',
  'items', 'minItems', 'maxItems',
]);

/** Keywords in `schema` (at any depth) that this check does not evaluate. */
export function uncheckedKeywords(schema: unknown): string[] {
  const out = new Set<string>();
  const walk = (s: unknown): void => {
    if (s === null || typeof s !== 'object' || Array.isArray(s)) return;
    for (const [k, v] of Object.entries(s)) {
      if (!CHECKED_KEYWORDS.has(k) && !ANNOTATIONS.has(k)) out.add(k);
      if (k === 'properties') Object.values(v as Obj).forEach(walk);
      else if (k === 'anyOf' || k === 'allOf') (v as unknown[]).forEach(walk);
      else if (k === 'additionalProperties' || k === 'propertyNames' || k === 'items') walk(v);
    }
  };
  walk(schema);
  return [...out].sort();
}

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function hasType(v: unknown, type: string): boolean {
  switch (type) {
    case 'string': return typeof v === 'string';
    // ajv: a number must be finite; an integer is a finite number without a fractional part.
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'boolean': return typeof v === 'boolean';
    case 'null': return v === null;
    case 'array': return Array.isArray(v);
    case 'object': return isObj(v);
    default: throw new Error(`JSON Schema type "${type}" is not one json-schema-check.ts knows`);
  }
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (!isObj(a) || !isObj(b)) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
}

/** String length as JSON Schema counts it (ajv's ucs2length): code points, a surrogate pair being one. */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; n++) {
    const c = s.charCodeAt(i++);
    if (c >= 0xd800 && c <= 0xdbff && i < s.length && (s.charCodeAt(i) & 0xfc00) === 0xdc00) i++;
  }
  return n;
}

const patterns = new Map<string, RegExp>();
// ajv compiles patterns with the u flag (its default unicodeRegExp).
const regex = (p: string): RegExp => patterns.get(p) ?? patterns.set(p, new RegExp(p, 'u')).get(p)!;

/** Whether `v` satisfies `schema`: the same verdict ajv (draft 2020-12) gives, for the keywords in CHECKED_KEYWORDS. */
export function conformsTo(schema: Schema, v: unknown): boolean {
  for (const key in schema) {
    const s = schema[key];
    switch (key) {
      case 'type':
        if (!(Array.isArray(s) ? s.some((t: string) => hasType(v, t)) : hasType(v, s as string))) return false;
        break;
      case 'const':
        if (!equal(v, s)) return false;
        break;
      case 'enum':
        if (!(s as unknown[]).some((x) => equal(v, x))) return false;
        break;
      case 'anyOf':
        if (!(s as Schema[]).some((sub) => conformsTo(sub, v))) return false;
        break;
      case 'allOf':
        if (!(s as Schema[]).every((sub) => conformsTo(sub, v))) return false;
        break;
      case 'minLength':
        if (typeof v === 'string' && codePoints(v) < (s as number)) return false;
        break;
      case 'maxLength':
        if (typeof v === 'string' && codePoints(v) > (s as number)) return false;
        break;
      case 'pattern':
        if (typeof v === 'string' && !regex(s as string).test(v)) return false;
        break;
      case 'minimum':
        if (typeof v === 'number' && v < (s as number)) return false;
        break;
      case 'maximum':
        if (typeof v === 'number' && v > (s as number)) return false;
        break;
      case 'exclusiveMinimum':
        if (typeof v === 'number' && v <= (s as number)) return false;
        break;
      case 'exclusiveMaximum':
        if (typeof v === 'number' && v >= (s as number)) return false;
        break;
      case 'properties':
        if (isObj(v)) for (const [k, sub] of Object.entries(s as Obj)) if (Object.hasOwn(v, k) && !conformsTo(sub as Schema, v[k])) return false;
        break;
      case 'required':
        if (isObj(v) && !(s as string[]).every((k) => Object.hasOwn(v, k))) return false;
        break;
      case 'additionalProperties':
        if (isObj(v)) {
          const known = (schema.properties ?? {}) as Obj;
          for (const k of Object.keys(v)) {
            if (Object.hasOwn(known, k)) continue;
            if (s === false || (s !== true && !conformsTo(s as Schema, v[k]))) return false;
          }
        }
        break;
      case 'propertyNames':
        if (isObj(v) && !Object.keys(v).every((k) => conformsTo(s as Schema, k))) return false;
        break;
      case 'items':
        if (Array.isArray(v) && !v.every((x) => conformsTo(s as Schema, x))) return false;
        break;
      case 'minItems':
        if (Array.isArray(v) && v.length < (s as number)) return false;
        break;
      case 'maxItems':
        if (Array.isArray(v) && v.length > (s as number)) return false;
        break;
      default:
        if (!ANNOTATIONS.has(key)) throw new Error(`JSON Schema keyword "${key}" is not one json-schema-check.ts evaluates`);
    }
  }
  return true;
}
