// Reading an existing Warewulf 4.6 nodes.conf (pure): the YAML with positions, the keys Warewulf reads checked per release,
// and every node's merged view computed the way Warewulf 4.6 merges (profiles depth-first in order, then the node; scalars
// last setter wins, lists concatenate then `~item` removes, maps merge key by key, netdevs by netname).
import { diagnosticAt, type Diagnostic, type SourceRef } from '../diagnostics/diagnostic.ts';
import { loadYaml, type LoadedYaml } from '../spec/load.ts';
import { readSimpleYaml } from '../spec/simple-yaml.ts';
import type { PositionIndex } from '../spec/positions.ts';
import type { ClusterModel, WarewulfVersion } from '../spec/model.ts';
import { nodeSettings } from '../compile/nodes-conf.ts';
import { IPMI_KEYS, KERNEL_KEYS, NODE_ONLY_KEYS, PROFILE_KEYS } from '../compile/warewulf-keys.ts';
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

const NETDEV_BASE = ['type', 'onboot', 'device', 'hwaddr', 'ipaddr', 'netmask', 'gateway', 'mtu', 'tags'];
const NETDEV_NEW = ['ipaddr6', 'prefixlen6', 'gateway6'];
const NETDEV_OLD = ['ip6addr', 'prefix'];
const PROFILE_KEY_SET = new Set(PROFILE_KEYS);
const NODE_KEY_SET = new Set([...PROFILE_KEYS, ...NODE_ONLY_KEYS]);
const NETDEV_ANY = new Set([...NETDEV_BASE, ...NETDEV_NEW, ...NETDEV_OLD]);
const NETDEV_465 = new Set([...NETDEV_BASE, ...NETDEV_NEW]);
const NETDEV_PRE465 = new Set([...NETDEV_BASE, ...NETDEV_OLD]);
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

/** toWw in place, for a freshly parsed document nothing else holds: no copy of a 10,000-node tree. */
function toWwInPlace(v: unknown): WwValue {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x !== 'string') v[i] = x !== null && typeof x === 'object' ? toWwInPlace(x) : str(x);
    }
    return v as WwValue[];
  }
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k in o) {
      const x = o[k];
      if (typeof x === 'string') continue;
      if (x === null || x === undefined) delete o[k];
      else o[k] = typeof x === 'object' ? toWwInPlace(x) : str(x);
    }
    return o as WwMap;
  }
  return str(v);
}

const isMapV = (v: WwValue | undefined): v is WwMap => v !== undefined && typeof v === 'object' && !Array.isArray(v);

/**
 * Merge `src` onto `base` the way mergo.Merge(WithOverride, WithAppendSlice) does. `base` is never changed: maps `src`
 * touches are copied, the rest is shared, so nodes of one profile chain share its merge.
 */
function mergeOnto(base: WwMap, src: WwMap, skip?: string): WwMap {
  const dst: WwMap = { ...base };
  for (const k in src) {
    if (k === skip) continue;
    const v = src[k]!;
    const cur = dst[k];
    if (isMapV(v)) dst[k] = mergeOnto(isMapV(cur) ? cur : {}, v);
    else if (Array.isArray(v)) {
      if (v.length > 0) dst[k] = Array.isArray(cur) ? [...cur, ...v] : v;
    } else if (v !== '') dst[k] = v;
  }
  return dst;
}

/** Whether `m` sets the value at `segs` (a non-empty list, a map, a non-empty string). */
function sets(m: WwMap | undefined, segs: readonly string[]): boolean {
  let cur: WwValue | undefined = m;
  for (const s of segs) cur = isMapV(cur) ? cur[s] : undefined;
  return cur !== undefined && (Array.isArray(cur) ? cur.length > 0 : isMapV(cur) || cur !== '');
}

/**
 * Where a merged value was last set: the node's own entry when it sets it, else the last profile of its chain that does.
 * One object per node with its lookup on the prototype, not closures per node (issue 16: 10,000 nodes).
 */
class SetterOf {
  readonly #index: PositionIndex;
  readonly #name: string;
  readonly #own: WwMap;
  readonly #chain: readonly string[];
  readonly #profiles: Readonly<Record<string, WwMap>>;

  constructor(index: PositionIndex, name: string, own: WwMap, chain: readonly string[], profiles: Readonly<Record<string, WwMap>>) {
    this.#index = index;
    this.#name = name;
    this.#own = own;
    this.#chain = chain;
    this.#profiles = profiles;
  }

  get(path: string): SourceRef | undefined {
    const segs = path.split('/');
    if (sets(this.#own, segs)) return this.#index.at(['nodes', this.#name, ...segs]);
    for (let i = this.#chain.length - 1; i >= 0; i--) if (sets(this.#profiles[this.#chain[i]!], segs)) return this.#index.at(['nodeprofiles', this.#chain[i]!, ...segs]);
    return undefined;
  }
}

/** The node with `~item` negations applied to its overlay and kernel argument lists: `m` is the node's own new top-level map (mergeOnto's result); shared parts are not changed. */
function withoutNegations(m: WwMap): WwMap {
  const filter = (list: WwValue[]): WwValue[] => {
    if (!list.some((x) => typeof x === 'string' && x.startsWith('~'))) return list;
    const items = list.map((x) => str(x));
    const removed = new Set(items.filter((x) => x.startsWith('~')).map((x) => x.slice(1)));
    return items.filter((x) => !x.startsWith('~') && !removed.has(x));
  };
  for (const key of ['system overlay', 'runtime overlay']) if (Array.isArray(m[key])) m[key] = filter(m[key] as WwValue[]);
  const kernel = m.kernel;
  if (isMapV(kernel) && Array.isArray(kernel.args)) {
    const args = filter(kernel.args);
    if (args !== kernel.args) m.kernel = { ...kernel, args };
  }
  return m;
}

/** Check the keys of one profile or node against what Warewulf `version` reads; unknown ones are dropped by Warewulf without a word. */
function checkKeys(entry: WwMap, base: (string | number)[], isNode: boolean, index: PositionIndex, version: WarewulfVersion | undefined, ds: Diagnostic[], ipv6: { newStyle?: SourceRef; oldStyle?: SourceRef }): void {
  const unknown = (path: (string | number)[], key: string, where: string): void => {
    ds.push(diagnosticAt(index.keyAt(path), 'import/unknown-key', 'warning', `${where} key "${key}" is not one Warewulf 4.6 reads: Warewulf ignores it, and so does the import`, 'remove it from nodes.conf, or check its spelling'));
  };
  const allowed = isNode ? NODE_KEY_SET : PROFILE_KEY_SET;
  for (const k in entry) {
    const v = entry[k];
    if (!allowed.has(k)) {
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
          // The key's path only when a position is looked up: not for each key of 10,000 nodes' netdevs (issue 16).
          if (ipv6.newStyle === undefined && NETDEV_NEW.includes(kk)) ipv6.newStyle = index.keyAt([...base, k, net, kk]);
          if (ipv6.oldStyle === undefined && NETDEV_OLD.includes(kk)) ipv6.oldStyle = index.keyAt([...base, k, net, kk]);
          const known = version === undefined ? NETDEV_ANY : version === '4.6.5' ? NETDEV_465 : NETDEV_PRE465;
          if (!known.has(kk)) {
            const renamed = version === '4.6.5' && kk === 'ip6addr' ? ' (4.6.5 renamed it ipaddr6)' : version !== undefined && version !== '4.6.5' && kk === 'ipaddr6' ? ` (Warewulf ${version} spells it ip6addr)` : '';
            unknown([...base, k, net, kk], kk, `network device${renamed}`);
            delete dev[kk];
          }
        }
      }
    }
  }
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
export function readNodesConf(file: string, bytes: Uint8Array | string, version: WarewulfVersion | undefined): WwNodesConf {
  const loaded = readFast(file, bytes) ?? loadYaml(file, bytes);
  const ds: Diagnostic[] = [...loaded.diagnostics.map((d) => (d.rule === 'yaml/empty' ? { ...d, message: 'nodes.conf is empty' , hint: 'import a site whose nodes.conf lists its nodes' } : d))];
  if (loaded.value === undefined || ds.some((d) => d.severity === 'error')) return { file, nodes: [], profileNames: [], ipv6Keys: {}, index: loaded.index, diagnostics: ds };
  return mergeNodes(file, loaded.value, loaded.index, version, ds, true);
}

/** A node as Warewulf merges it: its name and merged settings (what the compare reads of the rebuilt side). */
export interface WwMergedNode {
  readonly name: string;
  readonly merged: WwMap;
}

/**
 * herd's nodes.conf for `model` as Warewulf merges each node, straight from the model (compile/nodes-conf.ts nodeSettings;
 * the model's lists are final, with no `~item` left to remove): the same views as mergeNodesDocument(nodesConfDocument(model)),
 * without factoring 10,000 nodes into profiles and merging them back (issue 16: about a fifth of the import).
 */
export function modelNodeViews(model: ClusterModel, passwords?: ReadonlyMap<string, string>): WwMergedNode[] {
  return model.nodes.map((n) => {
    // Every value is a string, a list of strings or a map of them already, but for the fstab resource's numbers (freq, passno).
    const merged = nodeSettings(model, n, passwords) as WwMap;
    if (merged.resources !== undefined) merged.resources = toWw(merged.resources);
    return { name: n.name, merged };
  });
}

/**
 * herd's own nodes.conf as its document (compile/nodes-conf.ts nodesConfDocument), merged the way Warewulf merges without
 * writing and reading the text: nothing is reported at its lines, so it has no positions. The reference modelNodeViews is
 * held to (test/unit/import/round-trip.test.ts).
 */
export function mergeNodesDocument(doc: unknown, version: WarewulfVersion | undefined): WwNodesConf {
  const file = '(rebuilt)';
  const nowhere = (path: readonly (string | number)[]): SourceRef => ({ file, path, line: 1, column: 1 });
  return mergeNodes(file, doc, { file, at: nowhere, keyAt: nowhere, has: () => false }, version, []);
}

/** `owned`: `top` was just parsed for this call, so it is normalised in place rather than copied. */
function mergeNodes(file: string, top: unknown, index: PositionIndex, version: WarewulfVersion | undefined, ds: Diagnostic[], owned = false): WwNodesConf {
  const ipv6: { newStyle?: SourceRef; oldStyle?: SourceRef } = {};
  const empty = { file, nodes: [], profileNames: [], ipv6Keys: ipv6, index };
  if (top === null || typeof top !== 'object' || Array.isArray(top)) {
    ds.push(diagnosticAt(index.at([]), 'import/unknown-key', 'error', 'nodes.conf is not a map with nodeprofiles: and nodes:', 'Warewulf refuses this file; import the nodes.conf wwctl writes'));
    return { ...empty, diagnostics: ds };
  }
  const t = (owned ? toWwInPlace(top) : toWw(top)) as WwMap;
  for (const k of Object.keys(t)) {
    if (k !== 'nodeprofiles' && k !== 'nodes') ds.push(diagnosticAt(index.keyAt([k]), 'import/unknown-key', 'warning', `top-level key "${k}" is not one Warewulf 4.6 reads: Warewulf ignores it, and so does the import`, 'nodes.conf has nodeprofiles: and nodes: only'));
  }
  const section = (name: string): Record<string, WwMap> => {
    const v = t[name];
    if (v === undefined) return {};
    if (!isMapV(v)) {
      ds.push(diagnosticAt(index.at([name]), 'import/unknown-key', 'error', `${name}: must be a map of names to settings`, 'Warewulf refuses this file'));
      return {};
    }
    const out: Record<string, WwMap> = {};
    for (const [n, e] of Object.entries(v)) {
      if (!isMapV(e) && e !== '') {
        ds.push(diagnosticAt(index.at([name, n]), 'import/unknown-key', 'error', `${name}: ${n} must be a map of settings`, 'Warewulf refuses this file'));
        continue;
      }
      out[n] = isMapV(e) ? e : {};
      checkKeys(out[n]!, [name, n], name === 'nodes', index, version, ds, ipv6);
    }
    return out;
  };
  const profiles = section('nodeprofiles');
  const nodesRaw = section('nodes');
  const names = Object.keys(nodesRaw).sort(compareHostnames);
  const nodes: WwNodeView[] = [];
  const chains = new Map<string, { merged: WwMap; chain: readonly string[] }>();
  const chainOf = new Map<string, string[]>();
  for (const name of names) {
    const raw = nodesRaw[name]!;
    const listed = Array.isArray(raw.profiles) ? (raw.profiles as WwValue[]).map(str) : [];
    for (const p of listed) {
      const q = p.replace(/^~/, '');
      if (!profiles[q]) ds.push(diagnosticAt(index.at(['nodes', name, 'profiles']), 'ref/unknown-profile', 'warning', `node ${name} lists profile "${q}", which nodes.conf does not define: Warewulf skips it`, 'define the profile or remove it from the node'));
    }
    // The profiles' merge is computed once per profile chain and shared by its nodes; each node is merged onto it. Where a
    // value was set is looked up only for values a report names: the node's own entry, else the last profile that sets it.
    const listedKey = listed.join('\u0000');
    const chain = chainOf.get(listedKey) ?? chainOf.set(listedKey, expandProfiles(listed, profiles)).get(listedKey)!;
    const chainKey = chain.join('\u0000');
    let base = chains.get(chainKey);
    if (!base) {
      let m: WwMap = {};
      for (const p of chain) {
        const prof = profiles[p];
        if (!prof) continue;
        m = mergeOnto(m, prof, 'profiles');
      }
      base = { merged: m, chain };
      chains.set(chainKey, base);
    }
    const merged = withoutNegations(mergeOnto(base.merged, raw, 'profiles'));
    const from = new SetterOf(index, name, raw, base.chain, profiles);
    const negated = listed.some((p) => p.startsWith('~')) ? new Set(listed.filter((p) => p.startsWith('~')).map((p) => p.slice(1))) : undefined;
    let at: SourceRef | undefined;
    nodes.push({
      name,
      get at() {
        return (at ??= index.keyAt(['nodes', name]));
      },
      listed: negated ? listed.filter((p) => !p.startsWith('~') && !negated.has(p)) : listed,
      merged,
      from,
    });
  }
  return { file, nodes, profileNames: Object.keys(profiles), ipv6Keys: ipv6, index: index, diagnostics: ds };
}

/**
 * The node's primary netdev as Warewulf 4.6.5 takes it (node/methods.go updatePrimaryNetDev): `primary network` when it
 * names one of the node's netdevs, else the first netdev by name; undefined for a node without netdevs.
 */
export function primaryNetdev(merged: WwMap): string | undefined {
  const devs = merged['network devices'];
  if (!isMapV(devs)) return undefined;
  const p = merged['primary network'];
  if (typeof p === 'string' && isMapV(devs[p] as WwValue)) return p;
  let first: string | undefined;
  for (const k in devs) if (first === undefined || k < first) first = k;
  return first;
}

/** A merged string value by `a/b/c` path, or undefined. */
const splitPaths = new Map<string, readonly string[]>();
export function wwGet(m: WwMap, path: string): WwValue | undefined {
  let segs = splitPaths.get(path);
  if (!segs) {
    segs = path.split('/');
    if (splitPaths.size > 10_000) splitPaths.clear();
    splitPaths.set(path, segs);
  }
  let cur: WwValue | undefined = m;
  for (const p of segs) {
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

/** nodes.conf through the fast subset reader (spec/simple-yaml.ts) when it is valid UTF-8 in that subset; undefined otherwise. */
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

/**
 * The site's BMC passwords as the files the spec names for them, in the order nodes first have them:
 * /etc/herd/ipmi-password, then /etc/herd/ipmi-password-2... (password -> file). The passwords stay in memory: the
 * spec names the file, and the admin puts the password there on the head.
 */
export function sitePasswordFiles(nodes: readonly WwMergedNode[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of nodes) {
    const ipmi = n.merged.ipmi;
    const pw = ipmi !== null && typeof ipmi === 'object' && !Array.isArray(ipmi) ? (ipmi as WwMap).password : undefined;
    if (typeof pw === 'string' && pw !== '' && !out.has(pw)) out.set(pw, `/etc/herd/ipmi-password${out.size === 0 ? '' : `-${out.size + 1}`}`);
  }
  return out;
}

/** The same by file (file -> password): what the head's files hold once the admin has put the passwords there. */
export function sitePasswordsByFile(nodes: readonly WwMergedNode[]): Map<string, string> {
  return new Map([...sitePasswordFiles(nodes)].map(([pw, file]) => [file, pw]));
}
