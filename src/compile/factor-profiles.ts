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
export function factorProfiles(input: FactorInput): FactorOutput {
  const members = new Map<string, string[]>();
  for (const [node, profs] of input.profilesOf) for (const p of profs) { const list = members.get(p); if (list) list.push(node); else members.set(p, [node]); }
  const profiles = new Map<string, FieldMap>();
  for (const [p, nodes] of members) {
    const first = input.nodes.get(nodes[0]!) ?? {};
    const common: FieldMap = {};
    for (const [field, value] of Object.entries(first)) {
      let all = true;
      for (const n of nodes) {
        const f = input.nodes.get(n);
        if (!f || !(field in f) || !same(f[field], value)) {
          all = false;
          break;
        }
      }
      if (all) common[field] = value;
    }
    profiles.set(p, common);
  }
  // A later profile repeating what an earlier-listed profile already gives all its nodes is redundant: drop it there.
  for (const [p, nodes] of members) {
    const fields = profiles.get(p)!;
    for (const field of Object.keys(fields)) {
      const redundant = nodes.every((n) => {
        const profs = input.profilesOf.get(n)!;
        for (const q of profs) {
          if (q === p) return false;
          if (field in (profiles.get(q) ?? {})) return true;
        }
        return false;
      });
      if (redundant) delete fields[field];
    }
  }
  for (const field of input.listFields) {
    for (const profs of input.profilesOf.values()) {
      let carriers = 0;
      for (const p of profs) if (field in (profiles.get(p) ?? {})) carriers++;
      if (carriers > 1) for (const p of profs) delete profiles.get(p)![field];
    }
  }
  const nodes = new Map<string, FieldMap>();
  for (const [node, fields] of input.nodes) {
    const profs = (input.profilesOf.get(node) ?? []).map((p) => profiles.get(p) ?? {});
    const own: FieldMap = {};
    for (const field in fields) if (!profs.some((p) => field in p)) own[field] = fields[field];
    nodes.set(node, own);
  }
  return { profiles, nodes };
}

/** Turn `a/b/c` flattened paths back into nested maps. */
export function unflatten(fields: FieldMap): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(fields)) {
    const parts = path.split('/');
    let cur = out;
    for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
    cur[parts[parts.length - 1]!] = value;
  }
  return out;
}
