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
  const fieldsOf = all.map((n) => nodes.get(n)!);
  const index = new Map(all.map((n, i) => [n, i]));
  // Members and profile lists by node position, so the per-field passes below index arrays instead of looking names up.
  const memberIdx = new Map([...members].map(([p, ms]) => [p, ms.map((n) => index.get(n) ?? -1)]));
  const profilesIdx = all.map((n) => profilesOf.get(n) ?? []);
  // Each node's value of a field as its JSON text, computed once per field; values shared by identity are written once.
  const ks: (string | undefined)[] = new Array(all.length);
  const last: { value: unknown; text: string | undefined } = { value: undefined, text: undefined };
  for (const field of [...fieldNames].sort()) {
    let everyHas = true;
    for (let i = 0; i < all.length; i++) {
      const v = fieldsOf[i]![field];
      if (v === undefined) {
        ks[i] = undefined;
        everyHas = false;
      } else if (v === last.value && typeof v === 'object') ks[i] = last.text;
      else {
        last.value = v;
        last.text = key(v);
        ks[i] = last.text;
      }
    }
    const first = fieldsOf[0]![field];
    const firstKey = ks[0];
    if (first !== undefined && ks.every((k) => k === firstKey)) {
      defaults[field] = first;
      continue;
    }
    // When every node has a value and most share one, that one goes on defaults and the rest override it.
    let base: unknown;
    let baseKey: string | undefined;
    if (!concat.has(field) && everyHas) {
      const counts = new Map<string, number>();
      for (const k of ks) counts.set(k!, (counts.get(k!) ?? 0) + 1);
      const [bestKey, most] = [...counts].reduce((a, b) => (b[1] > a[1] ? b : a));
      // ... unless exactly one profile's members are the nodes with it: then it reads better on that profile.
      let holders = 0;
      for (const k of ks) if (k === bestKey) holders++;
      const isProfile = [...memberIdx.values()].some((ms) => ms.length === holders && ms.every((i) => ks[i] === bestKey));
      if (most * 2 > all.length && !isProfile) {
        base = JSON.parse(bestKey);
        baseKey = bestKey;
        defaults[field] = base;
      }
    }
    const carried = new Map<string, unknown>();
    const carriedKeys = new Map<string, string>();
    for (const [p, ms] of memberIdx) {
      if (ms.length < 2 || ms[0]! < 0) continue;
      const v = fieldsOf[ms[0]!]![field];
      const vk = ks[ms[0]!];
      if (v === undefined || vk === undefined) continue;
      if (ms.every((i) => i >= 0 && ks[i] === vk) && (baseKey === undefined || vk !== baseKey)) {
        carried.set(p, v);
        carriedKeys.set(p, vk);
      }
    }
    if (concat.has(field)) {
      for (const [p, ms] of memberIdx) {
        if (!carried.has(p)) continue;
        if (ms.some((i) => profilesIdx[i]!.filter((q) => carried.has(q)).length > 1)) {
          carried.delete(p);
          carriedKeys.delete(p);
        }
      }
    }
    // A profile repeating what an earlier-listed profile already gives every one of its members says nothing: leave it out.
    if (!concat.has(field)) {
      for (const p of [...carried.keys()]) {
        const vk = carriedKeys.get(p);
        const redundant = memberIdx.get(p)!.every((i) => {
          for (const q of profilesIdx[i]!) {
            if (q === p) return false;
            if (carriedKeys.has(q) && carriedKeys.get(q) === vk) return true;
          }
          return false;
        });
        if (redundant) {
          carried.delete(p);
          carriedKeys.delete(p);
        }
      }
    }
    for (const [p, v] of carried) profiles.get(p)![field] = v;
    for (let i = 0; i < all.length; i++) {
      if (ks[i] === undefined) continue;
      let eff: string | undefined = baseKey;
      for (const p of profilesIdx[i]!) if (carriedKeys.has(p)) eff = carriedKeys.get(p);
      if (eff !== ks[i]) out.get(all[i]!)![field] = fieldsOf[i]![field];
    }
  }
  return { defaults, profiles, nodes: out };
}
