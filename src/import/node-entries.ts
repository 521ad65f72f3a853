// Node entries of an imported spec (pure): nodes with the same profiles and settings, in hostlist order, become one entry
// per run of consecutive names and addresses (the address counted from the first); MACs and per-node tags go to the
// inventory CSV beyond a handful of nodes.
import { compressHostlist, expandHostlist } from '../spec/hostlist.ts';
import { parseIPv4 } from '../spec/ipv4.ts';
import { formatIPv6, parseIPv6 } from '../spec/ipv6.ts';
import type { Fields, Placement } from './factor.ts';

export interface EntryInput {
  readonly profilesOf: ReadonlyMap<string, readonly string[]>;
  readonly placed: Placement;
  readonly addrOf: ReadonlyMap<string, string>;
  readonly macOf: ReadonlyMap<string, string>;
  /** Per-node values besides the provisioning MAC and address: `address6`, `networks\u0001<net>\u0001mac|address|address6`. */
  readonly perNodeOf?: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly useInventory: boolean;
  /** Flat settings to the nested spec form (and their comments), keyed by the entry's spec path. */
  readonly settings: (f: Fields, path: (string | number)[]) => Record<string, unknown>;
}

/** `names` sorted in hostlist order. */
export function nodeEntries(names: readonly string[], c: EntryInput): { entries: Record<string, unknown>; inventory?: string } {
  const inventoryRows: string[] = [];
  // With an inventory, tags that differ node by node (serial numbers, racks) become its extra columns, which herd reads as tags.
  const tagColumns: string[] = [];
  if (c.useInventory) {
    const shared = new Set([...Object.keys(c.placed.defaults), ...[...c.placed.profiles.values()].flatMap((f) => Object.keys(f))]);
    const cols = new Set<string>();
    for (const f of c.placed.nodes.values()) for (const k of Object.keys(f)) if (k.startsWith('tags\u0001') && !shared.has(k) && /^[A-Za-z0-9_.-]+$/.test(k.slice(5))) cols.add(k);
    tagColumns.push(...[...cols].sort());
  }
  const own = new Map<string, Fields>();
  const columnValues = new Map<string, string[]>();
  for (const [n, f] of c.placed.nodes) {
    const copy = { ...f };
    if (tagColumns.length > 0) {
      columnValues.set(n, tagColumns.map((k) => csvCell(String(copy[k] ?? ''))));
      for (const k of tagColumns) delete copy[k];
    }
    own.set(n, copy);
  }
  const perNodeKeys = (n: string): string => Object.keys(c.perNodeOf?.get(n) ?? {}).sort().join('\n');
  const sig = (n: string): string => JSON.stringify([c.profilesOf.get(n), own.get(n), stem(n), perNodeKeys(n)]);
  const groups: string[][] = [];
  let lastSig = '';
  for (const n of names) {
    const last = groups[groups.length - 1];
    const s = sig(n);
    if (last && lastSig === s) last.push(n);
    else groups.push([n]);
    lastSig = s;
  }
  const entries: Record<string, unknown> = {};
  for (const g of groups) {
    for (const run of addressRuns(g, c.addrOf)) {
      const key = compressHostlist(run);
      const ex = expandHostlist(key);
      const expanded = ex.ok ? ex.names : run;
      const first = run[0]!;
      const entry: Record<string, unknown> = {};
      const profs = c.profilesOf.get(first) ?? [];
      if (profs.length > 0) entry.profiles = profs;
      Object.assign(entry, c.settings(own.get(first) ?? {}, ['nodes', key]));
      const macs = expanded.map((x) => c.macOf.get(x));
      if (c.useInventory) for (const x of expanded) inventoryRows.push([x, c.macOf.get(x) ?? '', ...(columnValues.get(x) ?? [])].join(','));
      else if (macs.every((m) => m !== undefined)) entry.mac = macs.length === 1 ? macs[0] : macs;
      const addrs = expanded.map((x) => c.addrOf.get(x));
      if (addrs.every((a) => a !== undefined)) entry.address = addrs.length === 1 || consecutive(addrs as string[]) ? addrs[0] : addrs;
      // Other per-node values: one, counted from the first (addresses in a row), or a list in hostlist order.
      for (const k of Object.keys(c.perNodeOf?.get(first) ?? {}).sort()) {
        const vs = expanded.map((x) => c.perNodeOf?.get(x)?.[k]);
        if (!vs.every((v) => v !== undefined)) continue;
        const counted = !k.endsWith('mac') && (vs.length === 1 || (k.endsWith('address6') ? consecutive6(vs as string[]) : consecutive(vs as string[])));
        setPath(entry, k.split('\u0001'), counted ? vs[0] : vs);
      }
      orderNetworkKeys(entry);
      entries[key] = entry;
    }
  }
  if (!c.useInventory || inventoryRows.length === 0) return { entries };
  return { entries, inventory: [['name', 'mac', ...tagColumns.map((k) => k.slice(5))].join(','), ...inventoryRows].join('\n') + '\n' };
}

/** Name without its trailing number and the number's width: nodes group into one hostlist only with the same stem. */
function stem(name: string): string {
  const m = /^(.*?)(\d*)$/.exec(name)!;
  return `${m[1]}#${m[2]!.length}`;
}

function consecutive(addrs: readonly string[]): boolean {
  const ips = addrs.map((a) => parseIPv4(a));
  return ips.every((ip, i) => ip !== undefined && (i === 0 || ip === ips[i - 1]! + 1));
}

const NETWORK_KEY_ORDER = ['type', 'device', 'mac', 'address', 'netmask', 'gateway', 'mtu', 'onboot', 'address6', 'prefix6', 'gateway6', 'tags'];

/** A settings map's `networks` devices with their keys in the order the schema documents them (in place). */
export function orderNetworkKeys(settings: Record<string, unknown>): void {
  const nets = settings.networks as Record<string, Record<string, unknown>> | undefined;
  if (!nets) return;
  for (const [name, dev] of Object.entries(nets)) {
    const out: Record<string, unknown> = {};
    for (const k of NETWORK_KEY_ORDER) if (k in dev) out[k] = dev[k];
    nets[name] = out;
  }
}

function consecutive6(addrs: readonly string[]): boolean {
  const first = parseIPv6(addrs[0]!);
  return first !== undefined && addrs.every((a, i) => a === formatIPv6(first + BigInt(i)));
}

/** Set `v` at `path` in `o`, making the maps on the way. */
export function setPath(o: Record<string, unknown>, path: readonly string[], v: unknown): void {
  let cur = o;
  for (const p of path.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
  cur[path[path.length - 1]!] = v;
}

function stepName(name: string): string | undefined {
  const m = /^(.*?)(\d+)$/.exec(name);
  if (!m) return undefined;
  return m[1]! + String(Number(m[2]) + 1).padStart(m[2]!.length, '0');
}

/**
 * Split a group into entries: runs of consecutive names with consecutive addresses become one entry each (address counted
 * from the first); runs shorter than four are gathered into one entry with an address list, so scattered addresses do not
 * make one entry per node.
 */
function addressRuns(group: readonly string[], addrOf: ReadonlyMap<string, string>): string[][] {
  const runs: string[][] = [];
  for (const n of group) {
    const last = runs[runs.length - 1];
    const prev = last?.[last.length - 1];
    const ip = parseIPv4(addrOf.get(n) ?? '');
    const pip = prev ? parseIPv4(addrOf.get(prev) ?? '') : undefined;
    if (last && prev && ip !== undefined && pip !== undefined && ip === pip + 1 && stepName(prev) === n) last.push(n);
    else runs.push([n]);
  }
  const out: string[][] = [];
  let small: string[] = [];
  for (const r of runs) {
    if (r.length >= 4) {
      if (small.length > 0) out.push(small);
      small = [];
      out.push(r);
    } else small.push(...r);
  }
  if (small.length > 0) out.push(small);
  return out;
}

/** A CSV cell, quoted when it holds a comma, quote or surrounding space. */
function csvCell(v: string): string {
  return /[",\n]|^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}
