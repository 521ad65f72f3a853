// Pending artifacts for display (pure): one entry per reason, with the per-node overlay prefixes of many nodes merged into one hostlist path.
import type { PendingArtifacts } from '../artifacts/artifact.ts';
import { compressHostlist } from '../spec/hostlist.ts';

export interface PendingGroup {
  readonly reason: string;
  /** Prefixes as shown, sorted: `srv/warewulf/provision/overlays/c[1-1000]/` stands for 1,000 node folders. */
  readonly paths: readonly string[];
  /** The nodes whose overlays are pending for this reason, as a hostlist ('' when none). */
  readonly nodes: string;
  readonly nodeCount: number;
  /** How many pending prefixes the entry stands for. */
  readonly prefixes: number;
}

/** `<…>provision/overlays/<node>/…`: a node's overlay folder (the prefix herd marks pending when a node's overlays cannot be built). */
const NODE_OVERLAYS = /^(.*provision\/overlays\/)([^/]+)(\/.*)?$/;

/** Group pending prefixes by reason, in the order of their first prefix; linear apart from sorting. */
export function pendingGroups(pending: readonly PendingArtifacts[]): PendingGroup[] {
  const byReason = new Map<string, { plain: string[]; nodes: Map<string, string[]>; all: Set<string>; count: number }>();
  for (const p of pending) {
    let g = byReason.get(p.reason);
    if (!g) byReason.set(p.reason, (g = { plain: [], nodes: new Map(), all: new Set(), count: 0 }));
    g.count++;
    const m = NODE_OVERLAYS.exec(p.prefix);
    if (!m) {
      g.plain.push(p.prefix);
      continue;
    }
    const shape = `${m[1]}\0${m[3] ?? ''}`;
    const list = g.nodes.get(shape);
    if (list) list.push(m[2]!);
    else g.nodes.set(shape, [m[2]!]);
    g.all.add(m[2]!);
  }
  return [...byReason].map(([reason, g]) => {
    const merged = [...g.nodes].map(([shape, nodes]) => {
      const [base, tail] = shape.split('\0') as [string, string];
      return `${base}${compressHostlist(nodes)}${tail}`;
    });
    return { reason, paths: [...g.plain, ...merged].sort(), nodes: compressHostlist(g.all), nodeCount: g.all.size, prefixes: g.count };
  });
}

/** "a, b and 3 more" for a one-line mention. */
export function listShort(items: readonly string[], max = 3): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
