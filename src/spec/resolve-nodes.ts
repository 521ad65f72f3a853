// Node resolution (pure): expand hostlists, merge defaults -> profiles -> entry with provenance, join MACs and addresses.
import { diagnosticAt, relatedAt, type Diagnostic, type SourceRef, type SpecPath } from '../diagnostics/diagnostic.ts';
import type { PositionIndex } from './positions.ts';
import type { ClusterSpec, NetworkDeviceSpec, NodeEntrySpec, NodeSettingsSpec } from './schema.ts';
import { rowIndex, type InventoryRow } from './inventory.ts';
import { expandHostlist, sortByHostname } from './hostlist.ts';
import { formatIPv4, inNetwork, normalizeMac, parseIPv4, type IPv4Network } from './ipv4.ts';
import { parseSizeMiB } from './units.ts';
import { addIPv6 } from './ipv6.ts';
import { didYouMean } from './did-you-mean.ts';

/** A node after merging, before overlays are split by kind and partitions attached. */
export interface DraftNode {
  name: string;
  entry: string;
  profiles: string[];
  image?: string;
  overlays: string[];
  mac?: string;
  address?: string;
  device?: string;
  /** The provisioning NIC's netname, where a layer sets one (else network.netname). */
  netname?: string;
  address6?: string;
  prefix6?: number;
  gateway6?: string;
  /** Other network devices by netname (shared by the nodes of an entry unless one has per-node values). */
  networks: Record<string, DraftNetwork>;
  driver?: string;
  memoryMiB?: number;
  cpus?: number;
  sockets?: number;
  coresPerSocket?: number;
  threadsPerCore?: number;
  gpus?: { type: string; count: number; file?: string };
  tags: Record<string, string>;
  /** kernel_args items of every layer in order (`~arg` removes), applied to the image's arguments when the node is finished. */
  kernelArgs: string[];
  ipmi?: DraftIpmi;
  discoverable?: boolean;
  slurm: { features: string[]; weight?: number; extra: Record<string, string> };
  /** `~name` items: overlays removed from the inherited and base lists. */
  removedOverlays: string[];
  /** Facts already reported wrong for this node (a list-size mismatch, a dropped profile): no follow-on "missing" errors. */
  unreported: Set<'mac' | 'address' | 'image'>;
  at: Record<string, SourceRef>;
}

/** IPMI settings merged by key down the chain (tags by tag), the port as Warewulf's string. */
export interface DraftIpmi {
  passwordFile?: string;
  address?: string;
  netmask?: string;
  gateway?: string;
  username?: string;
  port?: string;
  interface?: string;
  escapechar?: string;
  write?: boolean;
  template?: string;
  tags: Record<string, string>;
}

/** A network device after merging: the spec's fields (per-node values already picked), with where each came from. */
export interface DraftNetwork {
  fields: Partial<Record<keyof NetworkDeviceSpec, unknown>> & { tags?: Record<string, string> };
  at: Record<string, SourceRef>;
}

/** Network device fields that take one value per node of a range (a list, a map, or a counted start address). */
const PER_NODE_NET_FIELDS = ['mac', 'address', 'address6'] as const;

interface Layer {
  readonly path: SpecPath;
  readonly settings: NodeSettingsSpec;
  readonly refs: Map<string, SourceRef>;
}

const NOTHING_UNREPORTED: Set<'mac' | 'address' | 'image'> = new Set();
const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export interface NodeResolution {
  readonly nodes: DraftNode[];
  readonly diagnostics: Diagnostic[];
}

/** Expand and merge every node entry. `net` is the provisioning network when it parsed (for address checks). */
export function resolveNodes(spec: ClusterSpec, index: PositionIndex, inventory: readonly InventoryRow[], inventoryFile: string | undefined, net: IPv4Network | undefined, dropped: ReadonlySet<string>): NodeResolution {
  const diagnostics: Diagnostic[] = [];
  const layerOf = (path: SpecPath, settings: NodeSettingsSpec): Layer => ({ path, settings, refs: new Map() });
  const refOf = (layer: Layer, field: string): SourceRef => {
    let r = layer.refs.get(field);
    if (!r) {
      // A field ending in the separator names a map key: its position is the key's (`networks.ib0` itself).
      r = field.endsWith('\u0001') ? index.keyAt([...layer.path, ...field.slice(0, -1).split('\u0001')]) : index.at([...layer.path, ...field.split('\u0001')]);
      layer.refs.set(field, r);
    }
    return r;
  };
  const defaults = spec.defaults ? layerOf(['defaults'], spec.defaults) : undefined;
  const profileLayers = new Map<string, Layer>();
  for (const [name, p] of Object.entries(spec.profiles ?? {})) profileLayers.set(name, layerOf(['profiles', name], p));

  // 100,000 nodes: every map keyed by node name costs a noticeable share of validate, so there is one (the inventory's).
  const invIndex = rowIndex(inventory);
  const usedRow = new Uint8Array(inventory.length);
  const nodes: DraftNode[] = [];

  for (const [entryKey, entry] of Object.entries(spec.nodes)) {
    const entryPath: SpecPath = ['nodes', entryKey];
    const keyRef = index.keyAt(entryPath);
    const expanded = expandHostlist(entryKey);
    if (!expanded.ok) {
      diagnostics.push(
        diagnosticAt({ ...keyRef, column: (keyRef.column ?? 1) + expanded.error.offset }, 'node/hostlist-syntax', 'error', `"${entryKey}": ${expanded.error.message}`, 'write a name or a Slurm hostlist such as c[001-128] or c[1-2,5]'),
      );
      continue;
    }
    const names = expanded.names;
    for (const n of names) {
      if (!HOSTNAME_RE.test(n)) {
        diagnostics.push(diagnosticAt(keyRef, 'node/invalid-name', 'error', `"${n}" is not a valid host name`, 'use letters, digits and dashes (no dots, underscores or leading/trailing dash), at most 63 characters'));
      }
    }
    // Profiles: only those listed apply (as in Warewulf, there is no implicit profile besides `defaults`).
    const layers: Layer[] = defaults ? [defaults] : [];
    const profNames = entry.profiles ?? [];
    let profileDropped = false;
    profNames.forEach((p, i) => {
      const l = profileLayers.get(p);
      if (l) layers.push(l);
      else if (dropped.has(`profiles:${p}`)) profileDropped = true;
      else {
        const guess = didYouMean(p, profileLayers.keys());
        diagnostics.push(diagnosticAt(index.at([...entryPath, 'profiles', i]), 'ref/unknown-profile', 'error', `profile "${p}" is not defined`, guess ? `did you mean "${guess}"?` : `define it under profiles: or remove it (defined: ${[...profileLayers.keys()].join(', ') || 'none'})`));
      }
    });
    const own = layerOf(entryPath, entry);
    layers.push(own);
    const base = mergeLayers(layers, own, refOf);

    const before = diagnostics.length;
    const macs = assignList('mac', entry.mac, names, entryPath, index, diagnostics);
    const macFailed = diagnostics.length > before;
    const before2 = diagnostics.length;
    const addrs = assignAddresses(entry.address, names, entryPath, index, net, diagnostics);
    const addrFailed = diagnostics.length > before2;
    // A BMC address given on a range entry counts up like the node address (or is a list); on a single node it is its own.
    const ipmiAddrs = entry.ipmi?.address !== undefined ? assignAddresses(entry.ipmi.address, names, [...entryPath, 'ipmi'], index, undefined, diagnostics) : undefined;
    const addrs6 = assignAddresses(entry.address6, names, entryPath, index, undefined, diagnostics, 'address6');
    // Per-node values of the entry's own network devices: mac and addresses, counted or listed like the node's own.
    const netAssigned: { net: string; field: string; values: Assigned[] }[] = [];
    for (const [net, dev] of Object.entries(entry.networks ?? {})) {
      const p: SpecPath = [...entryPath, 'networks', net];
      if (dev.mac !== undefined) netAssigned.push({ net, field: 'mac', values: assignList('mac', dev.mac, names, p, index, diagnostics) });
      if (dev.address !== undefined) netAssigned.push({ net, field: 'address', values: assignAddresses(dev.address, names, p, index, undefined, diagnostics) });
      if (dev.address6 !== undefined) netAssigned.push({ net, field: 'address6', values: assignAddresses(dev.address6, names, p, index, undefined, diagnostics, 'address6') });
    }
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      // Object.assign, not spreads with extra keys: V8 takes a slow path for those, and this runs once per node (200,000).
      const at: Record<string, SourceRef> = Object.assign({}, base.at);
      at.name = keyRef;
      // Most nodes have nothing to suppress: share one empty set instead of allocating 10,000.
      const unreported = macFailed || addrFailed || profileDropped ? new Set<'mac' | 'address' | 'image'>() : NOTHING_UNREPORTED;
      if (macFailed) unreported.add('mac');
      if (addrFailed) unreported.add('address');
      if (profileDropped) unreported.add('image');
      // Nodes of one entry share the merged settings; joinInventory copies tags before adding to them.
      const node = Object.assign({}, base.node) as DraftNode;
      node.name = name;
      node.entry = entryKey;
      node.profiles = profNames;
      node.unreported = unreported;
      node.at = at;
      const m = macs[i];
      if (m) {
        node.mac = m.value;
        at.mac = m.at;
      }
      const a = addrs[i];
      if (a) {
        node.address = a.value;
        at.address = a.at;
      }
      const ia = ipmiAddrs?.[i];
      if (ia && node.ipmi) {
        node.ipmi = { ...node.ipmi, address: ia.value };
        at['ipmi.address'] = ia.at;
      } else if (ipmiAddrs && node.ipmi?.address !== undefined) {
        // The entry's BMC addresses were refused (reported once): its nodes get none, not the start address each (follow-on duplicates).
        const { address: _refused, ...rest } = node.ipmi;
        node.ipmi = rest;
      }
      const a6 = addrs6[i];
      if (a6) {
        node.address6 = a6.value;
        at.address6 = a6.at;
      }
      if (netAssigned.length > 0) {
        const nets: Record<string, DraftNetwork> = Object.assign({}, node.networks);
        for (const { net, field, values } of netAssigned) {
          const v = values[i];
          if (!v) continue;
          const prev = nets[net] ?? { fields: {}, at: {} };
          const copy = nets[net] === base.node.networks[net] || !nets[net] ? { fields: { ...prev.fields }, at: { ...prev.at } } : prev;
          copy.fields[field as 'mac'] = v.value;
          copy.at[field] = v.at;
          nets[net] = copy;
        }
        node.networks = nets;
      }
      const k = invIndex.get(name);
      if (k !== undefined) {
        usedRow[k] = 1;
        joinInventory(node, inventory[k]!, diagnostics);
      }
      nodes.push(node);
    }
  }
  inventory.forEach((row, k) => {
    if (usedRow[k] === 0 && inventoryFile) {
      diagnostics.push(diagnosticAt(row.at, 'inventory/unknown-node', 'warning', `inventory row for ${row.name}, which no nodes entry defines`, 'add the node to the spec or remove the row'));
    }
  });
  // Duplicates are found after sorting, where equal names are neighbours (the sort is stable: the first defined comes first and is kept).
  const sorted = sortByHostname(nodes, (n) => n.name);
  const unique: DraftNode[] = [];
  for (const node of sorted) {
    const prev = unique[unique.length - 1];
    if (prev?.name === node.name) {
      diagnostics.push(diagnosticAt(node.at.name, 'node/duplicate-name', 'error', `node ${node.name} is defined twice`, 'each node name may appear in one nodes entry only', [relatedAt(prev.at.name, `first defined here`)]));
      continue;
    }
    unique.push(node);
  }
  return { nodes: unique, diagnostics };
}

function joinInventory(node: DraftNode, row: InventoryRow, diagnostics: Diagnostic[]): void {
  if (row.mac !== undefined) {
    if (node.mac !== undefined && normalizeMac(node.mac) !== normalizeMac(row.mac)) {
      diagnostics.push(diagnosticAt(row.macAt, 'inventory/conflict', 'error', `inventory gives ${node.name} MAC ${row.mac} but the spec says ${node.mac}`, 'keep the MAC in one place', [relatedAt(node.at.mac, 'set in the spec here')]));
    } else if (node.mac === undefined) {
      node.mac = row.mac;
      node.at.mac = row.macAt!;
    }
  }
  if (row.address !== undefined) {
    if (node.address !== undefined && node.address !== row.address) {
      diagnostics.push(diagnosticAt(row.addressAt, 'inventory/conflict', 'error', `inventory gives ${node.name} address ${row.address} but the spec says ${node.address}`, 'keep the address in one place', [relatedAt(node.at.address, 'set in the spec here')]));
    } else if (node.address === undefined) {
      node.address = row.address;
      node.at.address = row.addressAt!;
    }
  }
  // Tags the node does not set come from the row; the node's tags object is shared by its entry, so it is copied once, only when a tag is added.
  let tags: Record<string, string> | undefined;
  for (const k in row.extra) {
    if (k in node.tags) continue;
    tags ??= Object.assign({}, node.tags);
    tags[k] = row.extra[k]!;
  }
  if (tags) node.tags = tags;
}

/** Merge settings down the chain. Scalars: last setter wins. Maps: by key. `overlays`: concatenated, `~name` removes. */
function mergeLayers(layers: readonly Layer[], own: Layer, refOf: (l: Layer, f: string) => SourceRef): { node: Omit<DraftNode, 'name' | 'entry' | 'profiles' | 'at' | 'unreported'>; at: Record<string, SourceRef> } {
  const at: Record<string, SourceRef> = {};
  const node: Omit<DraftNode, 'name' | 'entry' | 'profiles' | 'at' | 'unreported'> = { overlays: [], removedOverlays: [], tags: {}, kernelArgs: [], networks: {}, slurm: { features: [], extra: {} } };
  for (const l of layers) {
    const s = l.settings;
    if (s.image !== undefined) (node.image = s.image), (at.image = refOf(l, 'image'));
    if (s.device !== undefined) (node.device = s.device), (at.device = refOf(l, 'device'));
    if (s.netname !== undefined) (node.netname = s.netname), (at.netname = refOf(l, 'netname'));
    if (s.driver !== undefined) (node.driver = s.driver), (at.driver = refOf(l, 'driver'));
    if (s.memory !== undefined) (node.memoryMiB = parseSizeMiB(s.memory)), (at.memory = refOf(l, 'memory'));
    if (s.cpus !== undefined) (node.cpus = s.cpus), (at.cpus = refOf(l, 'cpus'));
    if (s.sockets !== undefined) (node.sockets = s.sockets), (at.sockets = refOf(l, 'sockets'));
    if (s.cores_per_socket !== undefined) (node.coresPerSocket = s.cores_per_socket), (at.cores_per_socket = refOf(l, 'cores_per_socket'));
    if (s.threads_per_core !== undefined) (node.threadsPerCore = s.threads_per_core), (at.threads_per_core = refOf(l, 'threads_per_core'));
    if (s.gpus !== undefined) (node.gpus = { ...s.gpus }), (at.gpus = refOf(l, 'gpus'));
    if (s.tags) Object.assign(node.tags, s.tags);
    if (s.kernel_args) (node.kernelArgs = [...node.kernelArgs, ...s.kernel_args]), (at.kernel_args = refOf(l, 'kernel_args'));
    if (s.discoverable !== undefined) (node.discoverable = s.discoverable), (at.discoverable = refOf(l, 'discoverable'));
    if (s.ipmi) {
      const i: DraftIpmi = node.ipmi ? { ...node.ipmi, tags: { ...node.ipmi.tags } } : { tags: {} };
      const { address, port, tags, password_file: passwordFile, ...rest } = s.ipmi;
      Object.assign(i, rest);
      if (passwordFile !== undefined) i.passwordFile = passwordFile;
      if (typeof address === 'string') (i.address = address), (at['ipmi.address'] = refOf(l, 'ipmi'));
      if (port !== undefined) i.port = String(port);
      if (tags) Object.assign(i.tags, tags);
      node.ipmi = i;
      at.ipmi = refOf(l, 'ipmi');
    }
    if (s.prefix6 !== undefined) (node.prefix6 = s.prefix6), (at.prefix6 = refOf(l, 'prefix6'));
    if (s.gateway6 !== undefined) (node.gateway6 = s.gateway6), (at.gateway6 = refOf(l, 'gateway6'));
    if (s.networks) mergeNetworks(node.networks, l, s.networks, own, refOf);
    if (s.overlays) {
      for (const o of s.overlays) {
        if (o.startsWith('~')) {
          node.overlays = node.overlays.filter((x) => x !== o.slice(1));
          if (!node.removedOverlays.includes(o.slice(1))) node.removedOverlays.push(o.slice(1));
        } else {
          node.removedOverlays = node.removedOverlays.filter((x) => x !== o);
          if (!node.overlays.includes(o)) node.overlays.push(o);
        }
      }
      at.overlays = refOf(l, 'overlays');
    }
    if (s.slurm) {
      if (s.slurm.features) node.slurm.features = [...s.slurm.features];
      if (s.slurm.weight !== undefined) node.slurm.weight = s.slurm.weight;
      if (s.slurm.extra) {
        for (const [k, v] of Object.entries(s.slurm.extra)) node.slurm.extra[k] = String(v);
        at['slurm.extra'] = refOf(l, 'slurm');
      }
    }
  }
  return { node, at };
}

/**
 * Network devices merge by netname, then field by field (tags by key). The per-node fields of the node entry itself are
 * assigned per node by the caller; on defaults and profiles they are plain values every node of them takes.
 */
function mergeNetworks(into: Record<string, DraftNetwork>, l: Layer, nets: Record<string, NetworkDeviceSpec>, own: Layer, refOf: (l: Layer, f: string) => SourceRef): void {
  for (const [net, dev] of Object.entries(nets)) {
    const d = (into[net] ??= { fields: {}, at: {} });
    for (const [k, v] of Object.entries(dev) as [keyof NetworkDeviceSpec, unknown][]) {
      if (v === undefined) continue;
      if (l === own && (PER_NODE_NET_FIELDS as readonly string[]).includes(k)) continue;
      if (k === 'tags') {
        d.fields.tags = { ...(d.fields.tags ?? {}), ...(v as Record<string, string>) };
        d.at.tags = refOf(l, `networks\u0001${net}\u0001tags`);
        continue;
      }
      d.fields[k] = v;
      d.at[k] = refOf(l, `networks\u0001${net}\u0001${k}`);
    }
    d.at.self ??= refOf(l, `networks\u0001${net}\u0001`);
  }
}

type Assigned = { value: string; at: SourceRef } | undefined;

/** Per-node MACs from a single value, a list in hostlist order (sizes must match) or a name -> MAC map. */
function assignList(field: 'mac', v: NodeEntrySpec['mac'], names: readonly string[], entryPath: SpecPath, index: PositionIndex, diagnostics: Diagnostic[]): Assigned[] {
  const out: Assigned[] = names.map(() => undefined);
  if (v === undefined) return out;
  const path = [...entryPath, field];
  if (typeof v === 'string') {
    if (names.length > 1) {
      diagnostics.push(diagnosticAt(index.at(path), 'node/list-size-mismatch', 'error', `one MAC for ${names.length} nodes`, 'give a list with one MAC per node, a map name: MAC, or use the inventory CSV'));
      return out;
    }
    out[0] = { value: v, at: index.at(path) };
  } else if (Array.isArray(v)) {
    if (v.length !== names.length) {
      diagnostics.push(diagnosticAt(index.at(path), 'node/list-size-mismatch', 'error', `${v.length} MACs for ${names.length} nodes (${entryPath[1]})`, 'give exactly one MAC per node, in hostlist order'));
      return out;
    }
    v.forEach((m, i) => (out[i] = { value: m, at: index.at([...path, i]) }));
  } else {
    const pos = new Map(names.map((n, i) => [n, i]));
    for (const [n, m] of Object.entries(v)) {
      const i = pos.get(n);
      if (i === undefined) {
        diagnostics.push(diagnosticAt(index.keyAt([...path, n]), 'ref/unknown-node', 'error', `MAC given for ${n}, which is not in ${String(entryPath[1])}`, 'key the map by the names the hostlist expands to'));
        continue;
      }
      out[i] = { value: m, at: index.at([...path, n]) };
    }
  }
  return out;
}

/** Addresses: explicit per node, a list (sizes must match), or a start address assigned in hostlist order. */
function assignAddresses(v: NodeEntrySpec['address'], names: readonly string[], entryPath: SpecPath, index: PositionIndex, net: IPv4Network | undefined, diagnostics: Diagnostic[], field: 'address' | 'address6' = 'address'): Assigned[] {
  const out: Assigned[] = names.map(() => undefined);
  if (v === undefined) return out;
  const path = [...entryPath, field];
  if (Array.isArray(v)) {
    if (v.length !== names.length) {
      diagnostics.push(diagnosticAt(index.at(path), 'node/list-size-mismatch', 'error', `${v.length} ${field === 'address6' ? 'IPv6 addresses' : 'addresses'} for ${names.length} nodes (${String(entryPath[1])})`, 'give one address per node in hostlist order, or a single start address'));
      return out;
    }
    v.forEach((a, i) => (out[i] = { value: a, at: index.at([...path, i]) }));
    return out;
  }
  const ref = index.at(path);
  if (names.length === 1) {
    out[0] = { value: v, at: ref };
    return out;
  }
  if (field === 'address6') {
    const all = names.map((_, i) => addIPv6(v, i));
    if (all[0] === undefined) names.forEach((_, i) => (out[i] = { value: v, at: ref }));
    else if (all.some((a) => a === undefined)) diagnostics.push(diagnosticAt(ref, 'net/address-range-overflow', 'error', `${names.length} nodes from ${v} run past the end of the IPv6 address space`, 'start lower'));
    else all.forEach((a, i) => (out[i] = { value: a!, at: ref }));
    return out;
  }
  const start = parseIPv4(v);
  if (start === undefined) {
    names.forEach((_, i) => (out[i] = { value: v, at: ref }));
    return out;
  }
  const last = start + names.length - 1;
  if (last > 0xffffffff || (net && !inNetwork(last, net))) {
    diagnostics.push(diagnosticAt(ref, 'net/address-range-overflow', 'error', `${names.length} nodes from ${v} run to ${last > 0xffffffff ? 'past 255.255.255.255' : formatIPv4(last)}, ${net ? 'outside the provisioning network' : 'out of the IPv4 address space'}`, net ? 'start lower or widen network.cidr' : 'start lower'));
    return out;
  }
  names.forEach((_, i) => (out[i] = { value: formatIPv4(start + i), at: ref }));
  return out;
}
