// Factor per-node settings into profiles (pure): a field moves into a profile only when Warewulf's own merge reproduces every node's value.

/** Flattened field path -> value (JSON-comparable). List fields hold arrays. */
export type FieldMap = Record<string, unknown>;

export interface FactorInput {
  /** Node -> resolved flattened fields. */
  readonly nodes: ReadonlyMap<string, FieldMap>;
  /** Node -> profiles listed on it, in order. */
  readonly profilesOf: ReadonlyMap<string, readonly string[]>;
  /** Fields Warewulf concatenates across profiles (overlays, kernel args): such a field may live in at most one of a node's profiles. */
  readonly listFields: ReadonlySet<string>;
}

export interface FactorOutput {
  readonly profiles: Map<string, FieldMap>;
  readonly nodes: Map<string, FieldMap>;
}

/** Structured values serialised once each (nodes usually share the very same arrays, which compare by identity first). */
const jsonCache = new WeakMap<object, string>();
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const ja = jsonCache.get(a) ?? JSON.stringify(a);
  const jb = jsonCache.get(b) ?? JSON.stringify(b);
  jsonCache.set(a, ja);
  jsonCache.set(b, jb);
  return ja === jb;
}

/**
 * For each profile, keep the fields on which all its nodes agree. Scalars then merge "last setter wins" to the same value,
 * so any agreeing profile is safe. Lists are concatenated by Warewulf, so a list field stays in a profile only if no other
 * profile of any of its nodes also carries it. Whatever no profile of a node carries stays on the node.
 */
// The loops below index arrays and use Map#forEach rather than for-of and entries: with 10,000 nodes, iterator results and
// [key, value] pairs were most of what factoring allocated (issue 16). Same order, same result.
const EMPTY: FieldMap = {};
const NO_PROFILES: readonly string[] = [];
const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

export function factorProfiles(input: FactorInput): FactorOutput {
  const members = new Map<string, string[]>();
  input.profilesOf.forEach((profs, node) => {
    for (let i = 0; i < profs.length; i++) {
      const p = profs[i]!;
      const list = members.get(p);
      if (list) list.push(node);
      else members.set(p, [node]);
    }
  });
  const profiles = new Map<string, FieldMap>();
  members.forEach((nodes, p) => {
    const first = input.nodes.get(nodes[0]!) ?? {};
    const common: FieldMap = {};
    for (const field in first) {
      if (!hasOwn(first, field)) continue;
      const value = first[field];
      let all = true;
      for (let i = 0; i < nodes.length; i++) {
        const f = input.nodes.get(nodes[i]!);
        if (!f || !(field in f) || !same(f[field], value)) {
          all = false;
          break;
        }
      }
      if (all) common[field] = value;
    }
    profiles.set(p, common);
  });
  // A later profile repeating what an earlier-listed profile already gives all its nodes is redundant: drop it there.
  members.forEach((nodes, p) => {
    const fields = profiles.get(p)!;
    for (const field of Object.keys(fields)) {
      const redundant = nodes.every((n) => {
        const profs = input.profilesOf.get(n)!;
        for (let i = 0; i < profs.length; i++) {
          const q = profs[i]!;
          if (q === p) return false;
          if (field in (profiles.get(q) ?? EMPTY)) return true;
        }
        return false;
      });
      if (redundant) delete fields[field];
    }
  });
  for (const field of input.listFields) {
    input.profilesOf.forEach((profs) => {
      let carriers = 0;
      for (let i = 0; i < profs.length; i++) if (field in (profiles.get(profs[i]!) ?? EMPTY)) carriers++;
      if (carriers > 1) for (let i = 0; i < profs.length; i++) delete profiles.get(profs[i]!)![field];
    });
  }
  const nodes = new Map<string, FieldMap>();
  input.nodes.forEach((fields, node) => {
    const names = input.profilesOf.get(node) ?? NO_PROFILES;
    const own: FieldMap = {};
    for (const field in fields) {
      let inProfile = false;
      for (let i = 0; i < names.length && !inProfile; i++) inProfile = field in (profiles.get(names[i]!) ?? EMPTY);
      if (!inProfile) own[field] = fields[field];
    }
    nodes.set(node, own);
  });
  return { profiles, nodes };
}

/** Turn `a/b/c` flattened paths back into nested maps. */
export function unflatten(fields: FieldMap): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path in fields) {
    if (!hasOwn(fields, path)) continue;
    const parts = path.split('/');
    let cur = out;
    for (let i = 0; i < parts.length - 1; i++) cur = (cur[parts[i]!] ??= {}) as Record<string, unknown>;
    cur[parts[parts.length - 1]!] = fields[path];
  }
  return out;
}
