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

/** Comparable form of a field value: primitives as themselves, structures serialised once per node. */
type Canon = string | number | boolean | null | undefined;
const canon = (v: unknown): Canon => (v !== null && typeof v === 'object' ? JSON.stringify(v) : (v as Canon));

/**
 * For each profile, keep the fields on which all its nodes agree. Scalars then merge "last setter wins" to the same value,
 * so any agreeing profile is safe. Lists are concatenated by Warewulf, so a list field stays in a profile only if no other
 * profile of any of its nodes also carries it. Whatever no profile of a node carries stays on the node.
 */
export function factorProfiles(input: FactorInput): FactorOutput {
  const members = new Map<string, string[]>();
  for (const [node, profs] of input.profilesOf) for (const p of profs) { const list = members.get(p); if (list) list.push(node); else members.set(p, [node]); }
  const canonOf = new Map<string, Map<string, Canon>>();
  for (const [node, fields] of input.nodes) canonOf.set(node, new Map(Object.entries(fields).map(([k, v]) => [k, canon(v)])));
  const profiles = new Map<string, FieldMap>();
  for (const [p, nodes] of members) {
    const first = input.nodes.get(nodes[0]!) ?? {};
    const firstCanon = canonOf.get(nodes[0]!)!;
    const common: FieldMap = {};
    for (const [field, value] of Object.entries(first)) {
      const c = firstCanon.get(field);
      if (nodes.every((n) => { const m = canonOf.get(n); return m !== undefined && m.has(field) && m.get(field) === c; })) common[field] = value;
    }
    profiles.set(p, common);
  }
  // A later profile repeating what an earlier-listed profile already gives all its nodes is redundant: drop it there.
  for (const [p, nodes] of members) {
    for (const field of Object.keys(profiles.get(p)!)) {
      const redundant = nodes.every((n) => {
        const profs = input.profilesOf.get(n)!;
        const earlier = profs.slice(0, profs.indexOf(p));
        return earlier.some((q) => field in (profiles.get(q) ?? {}));
      });
      if (redundant) delete profiles.get(p)![field];
    }
  }
  for (const field of input.listFields) {
    for (const profs of input.profilesOf.values()) {
      const carriers = profs.filter((p) => field in (profiles.get(p) ?? {}));
      if (carriers.length > 1) for (const p of carriers) delete profiles.get(p)![field];
    }
  }
  const nodes = new Map<string, FieldMap>();
  for (const [node, fields] of input.nodes) {
    const profs = input.profilesOf.get(node) ?? [];
    const own: FieldMap = {};
    for (const [field, value] of Object.entries(fields)) if (!profs.some((p) => field in (profiles.get(p) ?? {}))) own[field] = value;
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
