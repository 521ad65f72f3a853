// Reading an existing Warewulf 4.6 nodes.conf (pure): the YAML with positions, the keys Warewulf reads checked per release,
// and every node's merged view computed the way Warewulf 4.6 merges (profiles depth-first in order, then the node; scalars
// last setter wins, lists concatenate then `~item` removes, maps merge key by key, netdevs by netname).
import { diagnosticAt, type Diagnostic, type SourceRef } from '../diagnostics/diagnostic.ts';
import { parseDocument } from 'yaml';
import { loadYaml, type LoadedYaml } from '../spec/load.ts';
import { readSimpleYaml } from './fast-yaml.ts';
import type { PositionIndex } from '../spec/positions.ts';
import type { WarewulfVersion } from '../spec/model.ts';
import { KERNEL_KEYS, NODE_ONLY_KEYS, PROFILE_KEYS } from '../compile/warewulf-keys.ts';
import { compareHostnames } from '../spec/hostlist.ts';

export type WwValue = string | WwValue[] | { [k: string]: WwValue };
export type WwMap = { [k: string]: WwValue };

export interface WwNodeView {
  readonly name: string;
  readonly at: SourceRef;
  /** Profiles the node lists, as written (negations removed), in order. */
  readonly listed: readonly string[];
  /** The merged node, Warewulf's keys and string values. */
  readonly merged: WwMap;
  /** Flattened path (`network devices/default/ipaddr`) -> where its value was last set (looked up when asked). */
  readonly from: { get(path: string): SourceRef | undefined };
}

export interface WwNodesConf {
  readonly file: string;
  readonly nodes: readonly WwNodeView[];
  readonly profileNames: readonly string[];
  /** Where IPv6 netdev keys of each spelling first appear: `ipaddr6` family (4.6.5) and `ip6addr`/`prefix` (4.6.0-4.6.4). */
  readonly ipv6Keys: { readonly newStyle?: SourceRef; readonly oldStyle?: SourceRef };
  readonly index: PositionIndex;
  readonly diagnostics: readonly Diagnostic[];
}

const IPMI_KEYS = ['username', 'password', 'ipaddr', 'gateway', 'netmask', 'port', 'interface', 'escapechar', 'write', 'template', 'tags'];
const NETDEV_BASE = ['type', 'onboot', 'device', 'hwaddr', 'ipaddr', 'netmask', 'gateway', 'mtu', 'tags'];
const NETDEV_NEW = ['ipaddr6', 'prefixlen6', 'gateway6'];
const NETDEV_OLD = ['ip6addr', 'prefix'];
/** Lists Warewulf filters `~item` negations out of after merging. */
const NEGATABLE = new Set(['system overlay', 'runtime overlay', 'kernel/args']);

/** A scalar as yaml.v3 puts it into Warewulf's string fields. */
function str(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : String(v);
}

function toWw(v: unknown): WwValue {
  if (Array.isArray(v)) return v.map(toWw);
  if (v !== null && typeof v === 'object') {
    const o: WwMap = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== null && x !== undefined) o[k] = toWw(x);
    return o;
  }
  return str(v);
}

const isMapV = (v: WwValue | undefined): v is WwMap => v !== undefined && typeof v === 'object' && !Array.isArray(v);

/**
 * Merge `src` onto `base` the way mergo.Merge(WithOverride, WithAppendSlice) does, recording the setter of every leaf. `base`
 * is never changed: maps `src` touches are copied, the rest is shared, so nodes of one profile chain share its merge.
 */
function mergeOnto(base: WwMap, src: WwMap, path: string, owner: readonly string[], from: Map<string, readonly string[]>): WwMap {
  const dst: WwMap = { ...base };
  for (const [k, v] of Object.entries(src)) {
    const p = path ? `${path}/${k}` : k;
    const cur = dst[k];
    if (isMapV(v)) {
      dst[k] = mergeOnto(isMapV(cur) ? cur : {}, v, p, owner, from);
    } else if (Array.isArray(v)) {
      if (v.length === 0) continue;
      dst[k] = Array.isArray(cur) ? [...cur, ...v] : [...v];
      from.set(p, owner);
    } else if (v !== '') {
      dst[k] = v;
      from.set(p, owner);
    }
  }
  return dst;
}

/** The node with `~item` negations applied to its overlay and kernel argument lists (a new top-level map; shared parts untouched). */
function withoutNegations(m: WwMap): WwMap {
  const filter = (list: WwValue[]): WwValue[] => {
    if (!list.some((x) => typeof x === 'string' && x.startsWith('~'))) return list;
    const items = list.map((x) => str(x));
    const removed = new Set(items.filter((x) => x.startsWith('~')).map((x) => x.slice(1)));
    return items.filter((x) => !x.startsWith('~') && !removed.has(x));
  };
  const out: WwMap = { ...m };
  for (const key of ['system overlay', 'runtime overlay']) if (Array.isArray(out[key])) out[key] = filter(out[key] as WwValue[]);
  const kernel = out.kernel;
  if (isMapV(kernel) && Array.isArray(kernel.args)) out.kernel = { ...kernel, args: filter(kernel.args) };
  return out;
}

/** Check the keys of one profile or node against what Warewulf `version` reads; unknown ones are dropped by Warewulf without a word. */
function checkKeys(entry: WwMap, base: (string | number)[], isNode: boolean, index: PositionIndex, version: WarewulfVersion | undefined, ds: Diagnostic[], ipv6: { newStyle?: SourceRef; oldStyle?: SourceRef }): void {
  const unknown = (path: (string | number)[], key: string, where: string): void => {
    ds.push(diagnosticAt(index.keyAt(path), 'import/unknown-key', 'warning', `${where} key "${key}" is not one Warewulf 4.6 reads: Warewulf ignores it, and so does the import`, 'remove it from nodes.conf, or check its spelling'));
  };
  const allowed = isNode ? [...PROFILE_KEYS, ...NODE_ONLY_KEYS] : PROFILE_KEYS;
  for (const [k, v] of Object.entries(entry)) {
    if (!allowed.includes(k)) {
      unknown([...base, k], k, isNode ? 'node' : 'profile');
      delete entry[k];
      continue;
    }
    if (k === 'kernel' && isMapV(v)) for (const kk of Object.keys(v)) if (!KERNEL_KEYS.includes(kk)) { unknown([...base, k, kk], `kernel: ${kk}`, 'kernel'); delete v[kk]; }
    if (k === 'ipmi' && isMapV(v)) for (const kk of Object.keys(v)) if (!IPMI_KEYS.includes(kk)) { unknown([...base, k, kk], `ipmi: ${kk}`, 'ipmi'); delete v[kk]; }
    if (k === 'network devices' && isMapV(v)) {
      for (const [net, dev] of Object.entries(v)) {
        if (!isMapV(dev)) continue;
        for (const kk of Object.keys(dev)) {
          const path = [...base, k, net, kk];
          if (NETDEV_NEW.includes(kk)) ipv6.newStyle ??= index.keyAt(path);
          if (NETDEV_OLD.includes(kk)) ipv6.oldStyle ??= index.keyAt(path);
          const known = [...NETDEV_BASE, ...(version === undefined ? [...NETDEV_NEW, ...NETDEV_OLD] : version === '4.6.5' ? NETDEV_NEW : NETDEV_OLD)];
          if (!known.includes(kk)) {
            const renamed = version === '4.6.5' && kk === 'ip6addr' ? ' (4.6.5 renamed it ipaddr6)' : version !== undefined && version !== '4.6.5' && kk === 'ipaddr6' ? ` (Warewulf ${version} spells it ip6addr)` : '';
            unknown(path, kk, `network device${renamed}`);
            delete dev[kk];
          }
        }
      }
    }
  }
}

const ownerCache = new Map<string, readonly string[]>();
function ownerOf(section: string, name: string): readonly string[] {
  const k = `${section}\u0000${name}`;
  let o = ownerCache.get(k);
  if (!o) {
    o = [section, name];
    if (ownerCache.size > 100_000) ownerCache.clear();
    ownerCache.set(k, o);
  }
  return o;
}

/** Profiles a node uses, expanded depth-first (a profile's own profiles before it), negations and repeats removed. */
function expandProfiles(listed: readonly string[], profiles: Readonly<Record<string, WwMap>>): string[] {
  const negated = new Set(listed.filter((p) => p.startsWith('~')).map((p) => p.slice(1)));
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (p: string): void => {
    if (seen.has(p) || negated.has(p)) return;
    seen.add(p);
    const prof = profiles[p];
    const nested = prof && Array.isArray(prof.profiles) ? (prof.profiles as WwValue[]).map(str) : [];
    for (const q of nested) if (!q.startsWith('~')) visit(q);
    out.push(p);
  };
  for (const p of listed) if (!p.startsWith('~')) visit(p);
  return out;
}

/**
 * Parse nodes.conf and merge every node. `version` is the Warewulf release when known (it decides which IPv6 keys are read);
 * undefined accepts both spellings (the caller infers the release from which one is used).
 */
export function readNodesConf(file: string, bytes: Uint8Array | string, version: WarewulfVersion | undefined, options: { positions?: boolean } = {}): WwNodesConf {
  const loaded = readFast(file, bytes) ?? (options.positions === false ? loadWithoutPositions(file, bytes) : loadYaml(file, bytes));
  const ds: Diagnostic[] = [...loaded.diagnostics.map((d) => (d.rule === 'yaml/empty' ? { ...d, message: 'nodes.conf is empty' , hint: 'import a site whose nodes.conf lists its nodes' } : d))];
  const ipv6: { newStyle?: SourceRef; oldStyle?: SourceRef } = {};
  const empty = { file, nodes: [], profileNames: [], ipv6Keys: ipv6, index: loaded.index };
  if (loaded.value === undefined || ds.some((d) => d.severity === 'error')) return { ...empty, diagnostics: ds };
  const top = loaded.value;
  if (top === null || typeof top !== 'object' || Array.isArray(top)) {
    ds.push(diagnosticAt(loaded.index.at([]), 'import/unknown-key', 'error', 'nodes.conf is not a map with nodeprofiles: and nodes:', 'Warewulf refuses this file; import the nodes.conf wwctl writes'));
    return { ...empty, diagnostics: ds };
  }
  const t = toWw(top) as WwMap;
  for (const k of Object.keys(t)) {
    if (k !== 'nodeprofiles' && k !== 'nodes') ds.push(diagnosticAt(loaded.index.keyAt([k]), 'import/unknown-key', 'warning', `top-level key "${k}" is not one Warewulf 4.6 reads: Warewulf ignores it, and so does the import`, 'nodes.conf has nodeprofiles: and nodes: only'));
  }
  const section = (name: string): Record<string, WwMap> => {
    const v = t[name];
    if (v === undefined) return {};
    if (!isMapV(v)) {
      ds.push(diagnosticAt(loaded.index.at([name]), 'import/unknown-key', 'error', `${name}: must be a map of names to settings`, 'Warewulf refuses this file'));
      return {};
    }
    const out: Record<string, WwMap> = {};
    for (const [n, e] of Object.entries(v)) {
      if (!isMapV(e) && e !== '') {
        ds.push(diagnosticAt(loaded.index.at([name, n]), 'import/unknown-key', 'error', `${name}: ${n} must be a map of settings`, 'Warewulf refuses this file'));
        continue;
      }
      out[n] = isMapV(e) ? e : {};
      checkKeys(out[n]!, [name, n], name === 'nodes', loaded.index, version, ds, ipv6);
    }
    return out;
  };
  const profiles = section('nodeprofiles');
  const nodesRaw = section('nodes');
  const names = Object.keys(nodesRaw).sort(compareHostnames);
  const nodes: WwNodeView[] = [];
  const chains = new Map<string, { merged: WwMap; owners: Map<string, readonly string[]> }>();
  for (const name of names) {
    const raw = nodesRaw[name]!;
    const listed = Array.isArray(raw.profiles) ? (raw.profiles as WwValue[]).map(str) : [];
    for (const p of listed) {
      const q = p.replace(/^~/, '');
      if (!profiles[q]) ds.push(diagnosticAt(loaded.index.at(['nodes', name, 'profiles']), 'ref/unknown-profile', 'warning', `node ${name} lists profile "${q}", which nodes.conf does not define: Warewulf skips it`, 'define the profile or remove it from the node'));
    }
    // The profiles' merge is computed once per profile chain and shared by its nodes; each node is merged onto it.
    // The setter of each leaf is kept as the owning profile or node: positions are looked up only for values a report names.
    const chain = expandProfiles(listed, profiles);
    const chainKey = chain.join('\u0000');
    let base = chains.get(chainKey);
    if (!base) {
      let m: WwMap = {};
      const owners = new Map<string, readonly string[]>();
      for (const p of chain) {
        const prof = profiles[p];
        if (!prof) continue;
        const { profiles: _nested, ...rest } = prof;
        m = mergeOnto(m, rest, '', ownerOf('nodeprofiles', p), owners);
      }
      base = { merged: m, owners };
      chains.set(chainKey, base);
    }
    const { profiles: _own, ...own } = raw;
    const nodeOwners = new Map<string, readonly string[]>();
    const merged = withoutNegations(mergeOnto(base.merged, own, '', ownerOf('nodes', name), nodeOwners));
    const index = loaded.index;
    const shared = base.owners;
    const from = { get: (path: string): SourceRef | undefined => { const o = nodeOwners.get(path) ?? shared.get(path); return o ? index.at([...o, ...path.split('/')]) : undefined; } };
    const negated = new Set(listed.filter((p) => p.startsWith('~')).map((p) => p.slice(1)));
    nodes.push({ name, at: loaded.index.keyAt(['nodes', name]), listed: listed.filter((p) => !p.startsWith('~') && !negated.has(p)), merged, from });
  }
  return { file, nodes, profileNames: Object.keys(profiles), ipv6Keys: ipv6, index: loaded.index, diagnostics: ds };
}

/** A merged string value by `a/b/c` path, or undefined. */
export function wwGet(m: WwMap, path: string): WwValue | undefined {
  let cur: WwValue | undefined = m;
  for (const p of path.split('/')) {
    if (!isMapV(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

export const wwString = (m: WwMap, path: string): string | undefined => {
  const v = wwGet(m, path);
  return typeof v === 'string' && v !== '' ? v : undefined;
};

export const wwList = (m: WwMap, path: string): string[] => {
  const v = wwGet(m, path);
  return Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : [];
};

export { isMapV, NEGATABLE };

/**
 * herd's own nodes.conf, read back to compare: no position index (nothing is reported at its lines) and no duplicate-key pass
 * (herd's emitter writes each key once), which halves the time on 10,000 nodes. Syntax errors still come back as diagnostics.
 */
function loadWithoutPositions(file: string, bytes: Uint8Array | string): LoadedYaml {
  const text = typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes);
  const index = { file, at: (path: readonly (string | number)[]) => ({ file, path, line: 1, column: 1 }), keyAt: (path: readonly (string | number)[]) => ({ file, path, line: 1, column: 1 }), has: () => false };
  const doc = parseDocument(text, { uniqueKeys: false, strict: true });
  if (doc.errors.length > 0) return loadYaml(file, text);
  return { text, value: doc.toJS({ maxAliasCount: 1000 }), index, diagnostics: [] };
}

/** nodes.conf through the fast subset reader (fast-yaml.ts) when it is valid UTF-8 in that subset; undefined otherwise. */
function readFast(file: string, bytes: Uint8Array | string): LoadedYaml | undefined {
  let text: string;
  if (typeof bytes === 'string') text = bytes;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return undefined;
    }
  }
  if (text.startsWith('\ufeff') || text.includes('\u0000')) return undefined;
  const r = readSimpleYaml(file, text);
  if (!r || r.value === null || typeof r.value !== 'object' || Array.isArray(r.value)) return undefined;
  return { text, value: r.value, index: r.index, diagnostics: [] };
}
