// What `import { z } from 'zod'` gives the CLI bundle (scripts/bundle.mjs): zod with every schema built on first use.
// herd's modules build their schemas when they load, but most runs never parse with them (a valid spec is accepted by
// src/spec/json-schema-check.ts; plan reads no state file on a first run), and compiling and evaluating zod costs more
// than the rest of `herd validate`. Here a builder call (z.string(), .optional(), z.strictObject({...})) only records
// itself; anything else (safeParse, _zod, shape, ZodError...) loads zod (dist/zod.cjs) and replays the recipe once, so
// each schema is the very object zod would have built, just later. A builder missing from BUILDERS only makes its
// schema load zod at once; it cannot change a result.
import { createRequire } from 'node:module';

let zod;
// bin/code-cache.js, when it runs the CLI, loads zod with V8's code cache through this hook. Else zod.cjs, relative to the
// chunk that holds this module (dist/cli/ and dist/chunks/ are both one level below dist/), with a require made only
// then: making one costs a start a few milliseconds (issue 17).
const realZod = () => (zod ??= globalThis[Symbol.for('herd.loadZod')]?.() ?? createRequire(import.meta.url)('../zod.cjs'));

/** zod 4 calls that only build a schema from their arguments, on z and on schemas. */
const BUILDERS = new Set([
  // z.*
  'string', 'number', 'int', 'boolean', 'bigint', 'literal', 'enum', 'array', 'object', 'strictObject', 'looseObject',
  'record', 'partialRecord', 'union', 'discriminatedUnion', 'intersection', 'tuple', 'any', 'unknown', 'never', 'null',
  'undefined', 'void', 'date', 'lazy', 'custom', 'instanceof', 'map', 'set', 'nullable', 'optional', 'nullish',
  // schema methods
  'min', 'max', 'length', 'nonnegative', 'positive', 'negative', 'nonpositive', 'gt', 'gte', 'lt', 'lte', 'multipleOf',
  'regex', 'startsWith', 'endsWith', 'includes', 'trim', 'toLowerCase', 'toUpperCase', 'nonempty', 'describe', 'meta',
  'default', 'catch', 'prefault', 'refine', 'superRefine', 'check', 'transform', 'pipe', 'brand', 'readonly', 'or', 'and',
  'extend', 'safeExtend', 'merge', 'pick', 'omit', 'partial', 'required', 'strict', 'passthrough', 'catchall',
]);

const RECIPE = Symbol('deferred zod recipe');

/**
 * What a stand-in stands for: `key(...args)` called on the value of the recipe `parent`, or zod's `z` itself; built the
 * first time anything but a builder call needs it. Recipes and their one shared proxy handler hold the state, not a
 * handler and closures per stand-in: herd's modules make hundreds of schemas as they load, all kept (issue 17).
 */
class Recipe {
  constructor(parent, key, args) {
    this.parent = parent;
    this.key = key;
    this.args = args;
    this.built = false;
    this.value = undefined;
  }

  real() {
    if (!this.built) {
      this.value = this.parent === undefined ? realZod().z : this.parent.real()[this.key](...this.args.map(materialize));
      this.built = true;
    }
    return this.value;
  }
}

const handler = {
  get(recipe, key) {
    if (key === RECIPE) return recipe;
    if (typeof key === 'string' && BUILDERS.has(key)) return (...args) => new Proxy(new Recipe(recipe, key, args), handler);
    const v = recipe.real();
    const r = Reflect.get(v, key, v);
    return typeof r === 'function' && !/^[A-Z]/.test(String(key)) ? r.bind(v) : r;
  },
  has: (recipe, key) => Reflect.has(recipe.real(), key),
  ownKeys: (recipe) => Reflect.ownKeys(recipe.real()),
  getOwnPropertyDescriptor: (recipe, key) => {
    const d = Reflect.getOwnPropertyDescriptor(recipe.real(), key);
    return d && { ...d, configurable: true };
  },
  getPrototypeOf: (recipe) => Reflect.getPrototypeOf(recipe.real()),
  set: (recipe, key, v) => Reflect.set(recipe.real(), key, v),
};

/** Arguments of a builder, with every stand-in in them (also inside a shape or a list of options) replaced by its schema. */
function materialize(a) {
  if (a === null || typeof a !== 'object') return a;
  const recipe = a[RECIPE];
  if (recipe) return recipe.real();
  if (Array.isArray(a)) return a.map(materialize);
  const proto = Object.getPrototypeOf(a);
  if (proto !== Object.prototype && proto !== null) return a;
  return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, materialize(v)]));
}

export const z = new Proxy(new Recipe(undefined, undefined, undefined), handler);
