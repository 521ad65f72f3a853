// Overlay changes grouped (pure): nodes whose overlay archive changes identically read as one entry with a hostlist, and a
// .img.gz is folded into its .img. Linear in the number of actions: one pass to index the twins, one to key and group.
import type { Impact } from '../artifacts/artifact.ts';
import { compareHostnames, compressOrdered } from '../spec/hostlist.ts';
import { changeKey, fileChangesOf, withTextDiffs } from './archive-diff.ts';
import { isChange, type ArchiveChanges, type ChangeReason, type Drift, type PlanAction } from './plan-types.ts';

export interface OverlayGroup {
  readonly stage: 'system' | 'runtime';
  readonly action: 'create' | 'update' | 'delete';
  readonly reasons: readonly ChangeReason[];
  readonly impact: Impact;
  readonly drift: Drift['kind'] | null;
  /** Natural order. */
  readonly nodes: readonly string[];
  readonly hostlist: string;
  /** One archive per node, path order: the .img, or the .img.gz when it changes without its .img. */
  readonly archives: readonly PlanAction[];
  /** The .img.gz twins folded into their .img's entry. */
  readonly twins: readonly PlanAction[];
  /** True when `archives` are .img.gz files changing on their own. */
  readonly gzip: boolean;
  /** How the twins change when that differs from their .img (e.g. "create (missing)"). */
  readonly twinChange?: string;
  /** The overlays composed into the archives, when every node of the group has the same list. */
  readonly overlays?: readonly string[];
  /** File-level changes, identical for every node of the group by construction; absent when unknown (the previous index is not stored). */
  readonly changes?: ArchiveChanges;
  /** The archive path with the node's folder replaced by the hostlist, e.g. `srv/warewulf/provision/overlays/c[1-4]/__RUNTIME__.img`. */
  readonly pathPattern: string;
}

export interface OverlayIdentity {
  readonly node: string;
  readonly stage: 'system' | 'runtime';
  /** For a .img.gz: the path of its .img. */
  readonly gzipOf?: string;
}

const ARCHIVE_NAME = /\/__(SYSTEM|RUNTIME)__\.img(\.gz)?$/;

/** Node and stage of an overlay archive action: from the artifact's OverlayInfo, or (deletes, which have none) from its path. */
export function overlayIdentity(a: PlanAction): OverlayIdentity | undefined {
  if (a.overlay) return { node: a.overlay.node, stage: a.overlay.stage, ...(a.overlay.gzipOf !== undefined ? { gzipOf: a.overlay.gzipOf } : {}) };
  const m = a.kind === 'overlay' && a.nodes.length === 1 ? ARCHIVE_NAME.exec(a.path) : null;
  if (!m) return undefined;
  return { node: a.nodes[0]!, stage: m[1] === 'SYSTEM' ? 'system' : 'runtime', ...(m[2] ? { gzipOf: a.path.slice(0, -3) } : {}) };
}

export const stageLabel = (stage: 'system' | 'runtime'): string => (stage === 'system' ? '__SYSTEM__' : '__RUNTIME__');

const changeOf = (a: PlanAction) => `${a.action}${a.reasons.length ? ` (${a.reasons.join(', ')})` : ''}`;
const driftKey = (a: PlanAction) => (a.drift ? `${a.drift.kind}${a.drift.blocking ? '!' : ''}` : '');

/** The changes a group shows: the scan's file-level diff, else the stored-index diff by hash, else none. */
function changesOf(a: PlanAction): ArchiveChanges | undefined {
  if (a.archiveChanges) return a.archiveChanges;
  return a.contentDiff ? withTextDiffs(fileChangesOf(a.contentDiff), new Map(), new Map(), false) : undefined;
}

function patternOf(a: PlanAction, node: string, hostlist: string): string {
  const at = a.path.lastIndexOf(`/${node}/`);
  return at < 0 ? a.path : `${a.path.slice(0, at + 1)}${hostlist}${a.path.slice(at + node.length + 1)}`;
}

interface Builder {
  readonly first: PlanAction;
  readonly id: OverlayIdentity;
  readonly gzip: boolean;
  readonly archives: PlanAction[];
  readonly twins: PlanAction[];
  readonly nodes: string[];
  overlays: string | undefined | null;
  readonly twinChange: string | undefined;
  readonly changes: ArchiveChanges | undefined;
}

/**
 * Group the overlay archive changes of a plan. Two archives share an entry when they are the same stage and the same kind of file,
 * change the same way (action, reasons, impact, drift, and their twin alike) and their file-level changes are identical
 * (same paths, same before and after hashes, modes and owners). An update whose contents are unknown is an entry of its own.
 * Returns the groups (system first, then by first node) and the changing actions that are not overlay archives.
 */
export function overlayGroups(actions: readonly PlanAction[]): { groups: OverlayGroup[]; others: PlanAction[] } {
  const others: PlanAction[] = [];
  const overlay: { a: PlanAction; id: OverlayIdentity }[] = [];
  for (const a of actions) {
    if (!isChange(a)) continue;
    const id = overlayIdentity(a);
    if (id) overlay.push({ a, id });
    else others.push(a);
  }
  const images = new Set(overlay.filter((o) => o.id.gzipOf === undefined).map((o) => o.a.path));
  const twinOf = new Map<string, PlanAction>();
  for (const o of overlay) if (o.id.gzipOf !== undefined && images.has(o.id.gzipOf)) twinOf.set(o.id.gzipOf, o.a);

  // A plain Map: nodes with one change share one ArchiveChanges object, keyed once (a WeakMap costs the collector dearly at 10,000 entries).
  const keys = new Map<ArchiveChanges, string>();
  const builders = new Map<string, Builder>();
  for (const { a, id } of overlay) {
    if (id.gzipOf !== undefined && images.has(id.gzipOf)) continue;
    const gzip = id.gzipOf !== undefined;
    const twin = twinOf.get(a.path);
    const twinDiffers = twin !== undefined && (changeOf(twin) !== changeOf(a) || driftKey(twin) !== driftKey(a));
    const changes = changesOf(a);
    let filesKey: string;
    if (changes) {
      filesKey = keys.get(changes) ?? changeKey(changes.files);
      keys.set(changes, filesKey);
    } else {
      // Contents unknown: an update is grouped with nothing; a create or delete says nothing about contents.
      filesKey = a.action === 'update' && a.reasons.includes('content') ? `unknown ${a.path}` : '';
    }
    const attrs = [
      a.reasons.includes('mode') ? `${a.before?.mode}>${a.after?.mode}` : '',
      a.reasons.includes('owner') ? `${a.after?.owner}:${a.after?.group}` : '',
      a.action === 'create' ? (a.overlay?.overlays.join(',') ?? '') : '',
    ].join(' ');
    const key = [gzip ? 'gz' : 'img', id.stage, changeOf(a), a.impact.class, a.impact.service ?? '', driftKey(a), twin ? changeOf(twin) + driftKey(twin) : '-', attrs, filesKey].join('\0');
    let b = builders.get(key);
    if (!b) {
      b = { first: a, id, gzip, archives: [], twins: [], nodes: [], overlays: undefined, twinChange: twinDiffers ? changeOf(twin) : undefined, changes };
      builders.set(key, b);
    }
    b.archives.push(a);
    if (twin) b.twins.push(twin);
    b.nodes.push(id.node);
    const list = a.overlay?.overlays.join('\0');
    b.overlays = b.overlays === undefined ? (list ?? null) : b.overlays === list ? b.overlays : null;
  }

  // One natural sort of all nodes; groups then sort their nodes (and each other) by rank, not by re-parsing names.
  const rank = new Map([...new Set(overlay.map((o) => o.id.node))].sort(compareHostnames).map((n, i) => [n, i]));
  const byRank = (x: string, y: string) => rank.get(x)! - rank.get(y)!;
  const sorted = [...builders.values()].map((b) => {
    const nodes = [...new Set(b.nodes)].sort(byRank);
    const hostlist = compressOrdered(nodes);
    return { b, nodes, hostlist, first: rank.get(nodes[0]!)!, pattern: patternOf(b.first, b.id.node, hostlist) };
  });
  sorted.sort((x, y) => (x.b.id.stage === y.b.id.stage ? 0 : x.b.id.stage === 'system' ? -1 : 1) || Number(x.b.gzip) - Number(y.b.gzip) || x.first - y.first || (x.pattern < y.pattern ? -1 : x.pattern > y.pattern ? 1 : 0));
  const groups = sorted.map(({ b, nodes, hostlist, pattern }): OverlayGroup => {
    const a = b.first;
    return {
      stage: b.id.stage,
      action: a.action as OverlayGroup['action'],
      reasons: a.reasons,
      impact: a.impact,
      drift: a.drift?.kind ?? null,
      nodes,
      hostlist,
      archives: b.archives,
      twins: b.twins,
      gzip: b.gzip,
      ...(b.twinChange ? { twinChange: b.twinChange } : {}),
      ...(typeof b.overlays === 'string' ? { overlays: b.overlays === '' ? [] : b.overlays.split('\0') } : {}),
      ...(b.changes ? { changes: b.changes } : {}),
      pathPattern: pattern,
    };
  });
  return { groups, others };
}
