// The imported spec as YAML text (pure, deterministic): block maps at the top, one flow line per node entry and partition
// when it fits, and each comment on its own line above the key it explains.
import { yamlScalar } from '../artifacts/yaml-emit.ts';
import { pathKey } from './map-spec.ts';

const FLOW_WIDTH = 110;
/** Maps whose entries read best as one line each (a node entry, a partition, an NFS mount, an overlay). */
const FLOW_PARENTS = new Set(['nodes', 'partitions', 'nfs', 'overlays']);
const QUOTED_KEYS = new Set(['mac']);

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function scalar(v: unknown, flow: boolean, quote: boolean): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  const s = String(v);
  // Inside [...] or {...} a comma or bracket would end the scalar.
  if (flow && /[,[\]{}]/.test(s)) return JSON.stringify(s);
  return yamlScalar(s, quote);
}

function flow(v: unknown, key?: string): string {
  if (Array.isArray(v)) return `[${v.map((x) => flow(x, key)).join(', ')}]`;
  if (isMap(v)) {
    const parts = Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => `${yamlScalar(k)}: ${flow(x, k)}`);
    return parts.length === 0 ? '{}' : `{ ${parts.join(', ')} }`;
  }
  return scalar(v, true, key !== undefined && QUOTED_KEYS.has(key));
}

function fitsFlow(v: unknown): boolean {
  if (Array.isArray(v)) return v.every((x) => !isMap(x) && !Array.isArray(x));
  if (isMap(v)) return Object.values(v).every((x) => !isMap(x) || Object.values(x).every((y) => !isMap(y) && !Array.isArray(y)));
  return true;
}

/** Emit the spec document with a header comment; `comments` are keyed by the spec path of the key they explain. */
export function emitSpec(doc: Record<string, unknown>, comments: ReadonlyMap<string, string>, header: readonly string[]): string {
  const out: string[] = header.map((h) => `# ${h}`);
  const emitMap = (m: Record<string, unknown>, indent: string, path: string[]): void => {
    const parentFlow = FLOW_PARENTS.has(path[path.length - 1] ?? '') && path.length <= 2;
    for (const [k, v] of Object.entries(m)) {
      if (v === undefined) continue;
      const p = [...path, k];
      // A blank line before each top-level section after the header keys, as the example clusters are written.
      if (path.length === 0 && !['apiVersion', 'kind', 'name'].includes(k)) out.push('');
      const c = comments.get(pathKey(p));
      if (c) out.push(`${indent}# ${c}`);
      // Comments on keys inside a one-line entry go above the entry.
      const inner = isMap(v) ? Object.keys(v).flatMap((kk) => (comments.has(pathKey([...p, kk])) ? [comments.get(pathKey([...p, kk]))!] : [])) : [];
      const key = yamlScalar(k);
      if (isMap(v) || Array.isArray(v)) {
        const line = `${indent}${key}: ${flow(v, k)}`;
        const short = Array.isArray(v) && fitsFlow(v) && line.length <= FLOW_WIDTH;
        if ((parentFlow && fitsFlow(v) && line.length <= FLOW_WIDTH) || short || (Array.isArray(v) && v.length === 0) || (isMap(v) && Object.keys(v).length === 0)) {
          for (const ic of inner) out.push(`${indent}# ${ic}`);
          out.push(line);
          continue;
        }
        if (Array.isArray(v)) {
          out.push(`${indent}${key}:`);
          for (const item of v) {
            if (isMap(item)) {
              const start = out.length;
              emitMap(item, indent + '    ', p);
              out[start] = `${indent}  - ${out[start]!.trimStart()}`;
            } else out.push(`${indent}  - ${scalar(item, false, QUOTED_KEYS.has(k))}`);
          }
          continue;
        }
        out.push(`${indent}${key}:`);
        emitMap(v, indent + '  ', p);
        continue;
      }
      out.push(`${indent}${key}: ${scalar(v, false, QUOTED_KEYS.has(k))}`);
    }
  };
  emitMap(doc, '', []);
  return out.join('\n') + '\n';
}
