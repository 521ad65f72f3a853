// Canonical JSON (pure): sorted keys, no undefined members, fixed whitespace, so equal values always give equal bytes and hashes.

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue | undefined };

function normalize(value: unknown): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonical JSON: non-finite number');
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : normalize(v)));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = normalize(v);
  }
  return out;
}

/** Serialize with sorted keys; `indent` 0 gives the compact form that hashes are taken over. */
export function canonicalJson(value: unknown, indent = 0): string {
  return JSON.stringify(normalize(value), null, indent);
}
