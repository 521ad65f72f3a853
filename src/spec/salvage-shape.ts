// Salvage after a failed shape check (pure): neutralise each invalid value so the rest of the spec can still be resolved and rule-checked in the same run.
import type { z } from 'zod';
import type { SourceRef, SpecPath } from '../diagnostics/diagnostic.ts';
import type { PositionIndex } from './positions.ts';
import { clusterSchema, type ClusterSpec } from './schema.ts';
import { didYouMean } from './did-you-mean.ts';

type Issue = z.core.$ZodIssue;
type Obj = Record<string, unknown>;

export interface Salvage {
  /** The spec with every invalid value neutralised, when what is left still has the required shape. */
  readonly spec?: ClusterSpec;
  /** Collection entries dropped whole (`nodes:c1`, `slurm.partitions:debug`): references to them are not "unknown". */
  readonly dropped: ReadonlySet<string>;
  /** Values removed because their own shape was wrong: semantic findings about them would be follow-on errors. */
  readonly neutralised: readonly SpecPath[];
  /** Misspelt keys read under the key they were meant to be: `[...parent, meant]` → the key as written. */
  readonly renamed: ReadonlyMap<string, { readonly parent: SpecPath; readonly meant: string; readonly written: string }>;
  /** First-pass issues that a misspelling already explains (the "missing" twin of an unknown key): not reported. */
  readonly explained: ReadonlySet<Issue>;
  /** Issues found only after a misspelt key was read as meant (its value is wrong too): worth reporting now rather than in the next round. */
  readonly behindRenames: readonly Issue[];
  /** The document as salvage read it (renames applied), to render `behindRenames` against. */
  readonly readAs: unknown;
}

/** Named collections whose entries can be dropped individually so the rest of the spec is still checked. */
const COLLECTIONS: readonly SpecPath[] = [['nodes'], ['images'], ['profiles'], ['overlays'], ['nfs'], ['slurm', 'partitions']];

/** Settings that nodes inherit: a value neutralised here would turn into "missing" findings on every node, so the whole profile is dropped instead (nodes using it report nothing missing). */
const INHERITED: readonly SpecPath[] = [['profiles']];

/** Passes after the first: each can only remove more, so a handful suffices; the cap guards against a schema that never settles. */
const MAX_PASSES = 6;

const SEP = '\u0001';
export const pathKey = (p: SpecPath): string => p.map(String).join(SEP);

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function valueAt(root: unknown, path: SpecPath): unknown {
  let v: unknown = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, seg)) return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

const startsWith = (p: SpecPath, prefix: SpecPath): boolean => prefix.length <= p.length && prefix.every((seg, i) => p[i] === seg);

const collectionOf = (p: SpecPath, within: readonly SpecPath[] = COLLECTIONS): SpecPath | undefined => within.find((c) => c.length < p.length && startsWith(p, c));

/** Deletes the value at `path`, or the whole list holding it (a hole in a list would be another error, and splicing shifts every position after it). */
function removeValue(root: Obj, path: SpecPath): SpecPath | undefined {
  let end = path.length;
  while (end > 0 && typeof path[end - 1] === 'number') end--;
  if (end === 0) return undefined;
  const at = path.slice(0, end);
  const parent = valueAt(root, at.slice(0, -1));
  const key = String(at[at.length - 1]);
  if (!isObj(parent) || !Object.hasOwn(parent, key)) return undefined;
  delete parent[key];
  return at;
}

/**
 * Neutralise what the first shape check found wrong, then parse again; repeat while something is left to remove.
 *
 * - An unknown key close to a known key that is absent is read as that key (the value is still checked, and the "missing" twin of the misspelling is not reported); any other unknown key is deleted, which changes nothing the schema knows.
 * - A wrong value inside a profile drops the profile; elsewhere only the value is deleted.
 * - Whatever a later pass finds is neutralised the same way; a required key now missing drops the enclosing collection entry, or, outside any collection, salvage gives up and only the shape errors are reported.
 */
export function salvageShape(value: unknown, issues: readonly Issue[], knownKeys: (path: SpecPath) => readonly string[]): Salvage {
  const dropped = new Set<string>();
  const neutralised: SpecPath[] = [];
  const renamed = new Map<string, { parent: SpecPath; meant: string; written: string }>();
  const explained = new Set<Issue>();
  const behindRenames: Issue[] = [];
  if (!isObj(value)) return { dropped, neutralised, renamed, explained, behindRenames, readAs: value };
  const pruned = structuredClone(value) as Obj;
  // The document as written, with renames applied: copied only once a misspelling is read as meant.
  let shownCopy: Obj | undefined;
  const readAsNow = (): unknown => shownCopy ?? value;
  const none = (): Salvage => ({ dropped, neutralised, renamed, explained, behindRenames, readAs: readAsNow() });

  const dropEntry = (p: SpecPath, within?: readonly SpecPath[]): boolean => {
    const coll = collectionOf(p, within);
    if (!coll) return false;
    const container = valueAt(pruned, coll);
    const key = String(p[coll.length]);
    if (!isObj(container) || !Object.hasOwn(container, key)) return dropped.has(`${coll.join('.')}:${key}`);
    delete container[key];
    dropped.add(`${coll.join('.')}:${key}`);
    return true;
  };

  // Missing keys of the first pass, by path, so a misspelling can claim its twin.
  const missing = new Map<string, Issue>();
  for (const issue of issues) {
    const p = issue.path as SpecPath;
    if (issue.code !== 'unrecognized_keys' && valueAt(value, p) === undefined) missing.set(pathKey(p), issue);
  }

  // Misspellings first: zod may list the "missing" twin before the unknown key that explains it.
  for (const issue of issues) {
    const p = issue.path as SpecPath;
    if (issue.code === 'unrecognized_keys') {
      const holder = valueAt(pruned, p);
      if (!isObj(holder)) continue;
      const known = knownKeys(p);
      for (const k of issue.keys) {
        if (!Object.hasOwn(holder, k)) continue;
        const meant = didYouMean(k, known);
        if (meant !== undefined && !Object.hasOwn(holder, meant)) {
          Object.defineProperty(holder, meant, { value: holder[k], enumerable: true, writable: true, configurable: true });
          shownCopy ??= structuredClone(value) as Obj;
          const shown = valueAt(shownCopy, p);
          if (isObj(shown)) Object.defineProperty(shown, meant, { value: shown[k], enumerable: true, writable: true, configurable: true });
          renamed.set(pathKey([...p, meant]), { parent: p, meant, written: k });
          const twin = missing.get(pathKey([...p, meant]));
          if (twin) explained.add(twin);
        }
        delete holder[k];
      }
    }
  }
  // A missing key the entry cannot do without drops the entry; a wrong value inside a profile drops the profile; elsewhere only the value goes.
  const neutralise = (p: SpecPath): boolean => {
    const coll = collectionOf(p);
    if (valueAt(pruned, p) === undefined || (coll && p.length === coll.length + 1)) return dropEntry(p);
    if (collectionOf(p, INHERITED)) return dropEntry(p, INHERITED);
    const removed = removeValue(pruned, p);
    if (removed) neutralised.push(removed);
    return removed !== undefined || dropEntry(p);
  };
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys' || explained.has(issue)) continue;
    if (!neutralise(issue.path as SpecPath)) return none();
  }

  // Whatever a later pass finds comes from the removals and renames, and is neutralised the same way. A required key now missing is a follow-on, never reported; a misspelt key's value that is wrong too is news, reported now (behindRenames) rather than in the next round.
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const r = clusterSchema.safeParse(pruned);
    if (r.success) return { spec: r.data, dropped, neutralised, renamed, explained, behindRenames, readAs: readAsNow() };
    let progress = false;
    for (const issue of r.error.issues) {
      const p = issue.path as SpecPath;
      if (pass === 0 && valueAt(readAsNow(), p) !== undefined && p.some((_, n) => renamed.has(pathKey(p.slice(0, n + 1))))) behindRenames.push(issue);
      if (neutralise(p)) progress = true;
    }
    if (!progress) return none();
  }
  return none();
}

/**
 * A test for follow-on errors: a semantic finding about a value that was neutralised, or about the object that lost it
 * ("node c1 has no mac" after c1's mac was removed), or a "missing" finding for a removed default. Indexed by path, so
 * 200,000 removed values and as many findings stay linear.
 */
export function followOnTest(neutralised: readonly SpecPath[]): (at: SpecPath | undefined, rule: string) => boolean {
  if (neutralised.length === 0) return () => false;
  const removed = new Set(neutralised.map(pathKey));
  const holders = new Set(neutralised.map((p) => pathKey(p.slice(0, -1))));
  const defaultsMissing = new Set(neutralised.filter((p) => p.length === 2 && p[0] === 'defaults').map((p) => `/missing-${String(p[1])}`));
  return (at, rule) => {
    if (!at || rule.startsWith('yaml/') || rule.startsWith('schema/')) return false;
    if (holders.has(pathKey(at))) return true;
    for (let n = 1; n <= at.length; n++) if (removed.has(pathKey(at.slice(0, n)))) return true;
    const slash = rule.indexOf('/');
    return slash > 0 && defaultsMissing.has(rule.slice(slash));
  };
}

/** Positions for a salvaged spec: a value read under the key it was meant to have still points at the key as written. */
export function renamedIndex(index: PositionIndex, renamed: Salvage['renamed']): PositionIndex {
  if (renamed.size === 0) return index;
  const written = (path: SpecPath): SpecPath => {
    let out: (string | number)[] | undefined;
    for (let n = 1; n <= path.length; n++) {
      const hit = renamed.get(pathKey(path.slice(0, n)));
      if (hit) (out ??= [...path])[n - 1] = hit.written;
    }
    return out ?? path;
  };
  const keep = (path: SpecPath, ref: SourceRef): SourceRef => ({ ...ref, path });
  return {
    file: index.file,
    at: (path) => keep(path, index.at(written(path))),
    keyAt: (path) => keep(path, index.keyAt(written(path))),
    has: (path) => index.has(written(path)),
  };
}
