// Placing per-node settings where an expert would write them (pure): on `defaults` when every node agrees, on a profile
// when all its members agree, on the node otherwise; herd's own merge (defaults, profiles in order, node) then gives back
// every node's value exactly.

/** Field name -> JSON-comparable value; a missing key means the node has no value. */
export type Fields = Record<string, unknown>;

export interface Placement {
  readonly defaults: Fields;
  readonly profiles: Map<string, Fields>;
  readonly nodes: Map<string, Fields>;
}

const key = (v: unknown): string => JSON.stringify(v);

/**
 * `concat` fields (overlays) are concatenated by herd across defaults, profiles and node, so such a field is placed at one
 * level per node: on defaults when all agree, on a profile only when it is the single profile of each member carrying it.
 */
export function placeFields(nodes: ReadonlyMap<string, Fields>, profilesOf: ReadonlyMap<string, readonly string[]>, concat: ReadonlySet<string>): Placement {
  const defaults: Fields = {};
  const profiles = new Map<string, Fields>();
  const out = new Map<string, Fields>();
  const members = new Map<string, string[]>();
  for (const [n, ps] of profilesOf) for (const p of ps) (members.get(p) ?? members.set(p, []).get(p)!).push(n);
  for (const p of members.keys()) profiles.set(p, {});
  for (const n of nodes.keys()) out.set(n, {});
  const fieldNames = new Set<string>();
  for (const f of nodes.values()) for (const k of Object.keys(f)) fieldNames.add(k);
  const all = [...nodes.keys()];
  for (const field of [...fieldNames].sort()) {
    const first = nodes.get(all[0]!)![field];
    if (first !== undefined && all.every((n) => field in nodes.get(n)! && key(nodes.get(n)![field]) === key(first))) {
      defaults[field] = first;
      continue;
    }
    // When every node has a value and most share one, that one goes on defaults and the rest override it.
    let base: unknown;
    if (!concat.has(field) && all.every((n) => nodes.get(n)![field] !== undefined)) {
      const counts = new Map<string, number>();
      for (const n of all) { const k = key(nodes.get(n)![field]); counts.set(k, (counts.get(k) ?? 0) + 1); }
      const [bestKey, most] = [...counts].reduce((a, b) => (b[1] > a[1] ? b : a));
      // ... unless exactly one profile's members are the nodes with it: then it reads better on that profile.
      const holders = all.filter((n) => key(nodes.get(n)![field]) === bestKey);
      const isProfile = [...members.values()].some((ms) => ms.length === holders.length && ms.every((n) => key(nodes.get(n)![field]) === bestKey));
      if (most * 2 > all.length && !isProfile) {
        base = JSON.parse(bestKey);
        defaults[field] = base;
      }
    }
    const carried = new Map<string, unknown>();
    for (const [p, ms] of members) {
      const v = nodes.get(ms[0]!)?.[field];
      if (v === undefined || ms.length < 2) continue;
      if (ms.every((n) => key(nodes.get(n)?.[field]) === key(v)) && (base === undefined || key(v) !== key(base))) carried.set(p, v);
    }
    if (concat.has(field)) {
      for (const [p, ms] of members) {
        if (!carried.has(p)) continue;
        if (ms.some((n) => (profilesOf.get(n) ?? []).filter((q) => carried.has(q)).length > 1)) carried.delete(p);
      }
    }
    // A profile repeating what an earlier-listed profile already gives every one of its members says nothing: leave it out.
    if (!concat.has(field)) {
      for (const [p, v] of [...carried]) {
        const redundant = members.get(p)!.every((n) => {
          for (const q of profilesOf.get(n) ?? []) {
            if (q === p) return false;
            if (carried.has(q) && key(carried.get(q)) === key(v)) return true;
          }
          return false;
        });
        if (redundant) carried.delete(p);
      }
    }
    for (const [p, v] of carried) profiles.get(p)![field] = v;
    for (const [n, f] of nodes) {
      const v = f[field];
      let eff: unknown = base;
      for (const p of profilesOf.get(n) ?? []) if (carried.has(p)) eff = carried.get(p);
      if (v !== undefined && key(eff) !== key(v)) out.get(n)![field] = v;
    }
  }
  return { defaults, profiles, nodes: out };
}
