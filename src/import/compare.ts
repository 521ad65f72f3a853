// What the imported spec changes in meaning (pure): the files herd builds from it are read back the way Warewulf and slurmctld
// read them and compared, node by node and key by key, with the site's originals; each difference is reported at the
// original's file:line (one report per key, counting the nodes it touches).
import { secretHash } from '../artifacts/secret-lines.ts';
import { SLURM_DEFAULTS } from '../spec/slurm-keys.ts';
import { diagnosticAt, type Diagnostic, type SourceRef } from '../diagnostics/diagnostic.ts';
import { parseSlurmTime } from '../spec/units.ts';
import { expandHostlist } from '../spec/hostlist.ts';
import { WAREWULF_SSH_KEY_TYPES, wwBool, wwBoolDefaultTrue } from '../spec/warewulf-facts.ts';
import { NETNAME } from '../compile/nodes-conf.ts';
import { formatIPv4, netmaskToPrefix, parseCidr, parseIPv4 } from '../spec/ipv4.ts';
import { isMapV, type WwMap, type WwMergedNode, type WwNodesConf, type WwValue } from './nodes-conf.ts';
import { parseGresConf, parseSlurmConf, slurmTopology, type GresLine, type SlurmPair, type SlurmSite } from './slurm-conf.ts';
import { parseExports, readWarewulfConf, type ExportLine, type WarewulfConf } from './head-files.ts';

/** Collects differences keyed by what differs, so 10,000 nodes with one dropped key make one report. */
class Differences {
  private readonly groups = new Map<string, { at: SourceRef; message: string; count: number }>();
  add(group: string, at: SourceRef, message: string): void {
    const g = this.groups.get(group);
    if (g) g.count++;
    else this.groups.set(group, { at, message, count: 1 });
  }
  get size(): number {
    return this.groups.size;
  }
  diagnostics(hint: string): Diagnostic[] {
    return [...this.groups.values()].map((g) => diagnosticAt(g.at, 'import/changed-value', 'warning', g.count > 1 ? `${g.message} (and on ${g.count - 1} more node${g.count === 2 ? '' : 's'})` : g.message, hint));
  }
}

function flatten(v: WwValue | unknown, path: string, out: Map<string, string>): void {
  if (isMapV(v as WwValue)) {
    for (const [k, x] of Object.entries(v as WwMap)) flatten(x, path ? `${path}/${k}` : k, out);
    return;
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flatten(x, path ? `${path}/${k}` : k, out);
    return;
  }
  if (Array.isArray(v)) {
    if (v.length > 0) out.set(path, JSON.stringify(v.map((x) => (isMapV(x as WwValue) ? Object.fromEntries(Object.entries(x as WwMap).map(([k, y]) => [k, String(y)])) : String(x)))));
    return;
  }
  if (v !== undefined && v !== null && String(v) !== '') out.set(path, String(v));
}

function normWw(path: string, v: string): string {
  // Booleans as Warewulf reads them (spec/warewulf-facts.ts): "off" is an onboot of true, "on" a discoverable of false.
  if (/\/onboot$/.test(path)) return String(wwBoolDefaultTrue(v));
  if (/^discoverable$|\/write$/.test(path)) return String(wwBool(v));
  // warewulfd finds a node by MAC with strings.EqualFold (node/util.go FindByHwaddr), and DHCP and NetworkManager read MACs
  // in either case: the case of a hwaddr means nothing.
  if (/\/hwaddr$/.test(path)) return v.toLowerCase();
  return v;
}

const show = (v: string): string => (v.length > 60 ? `${v.slice(0, 57)}...` : v);

export interface FileVerdict {
  readonly path: string;
  readonly verdict: 'identical' | 'bytes-only' | 'changed' | 'new';
}

/** A leaf as the comparison sees it: a non-empty string, or a non-empty list as JSON; undefined for no value. */
function leaf(v: WwValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (Array.isArray(v)) return v.length > 0 ? JSON.stringify(v.map((x) => (isMapV(x) ? Object.fromEntries(Object.entries(x).map(([k, y]) => [k, String(y)])) : String(x)))) : undefined;
  return undefined;
}

/**
 * Walk two merged views side by side and call `visit` for every leaf path either has (`a/b/c`), with both values; the path
 * string is built as the walk goes, and nothing else is allocated for leaves that agree.
 */
function walkPair(a: WwValue | undefined, b: WwValue | undefined, path: string, visit: (path: string, va: string | undefined, vb: string | undefined) => void): void {
  const am = isMapV(a);
  const bm = isMapV(b);
  if (am || bm) {
    if (am) for (const k in a) walkPair(a[k], bm ? b[k] : undefined, path ? `${path}/${k}` : k, visit);
    if (bm) for (const k in b) if (!am || !(k in a)) walkPair(undefined, b[k], path ? `${path}/${k}` : k, visit);
    if (!am && leaf(a) !== undefined) visit(path, leaf(a), undefined);
    if (!bm && leaf(b) !== undefined) visit(path, undefined, leaf(b));
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && sameList(a, b)) return;
  const va = leaf(a);
  const vb = leaf(b);
  if (va !== undefined || vb !== undefined) visit(path, va, vb);
}

/** Two lists with the same items (strings, or maps of strings), without writing them out; the last answer is kept, since the nodes of one profile chain share their lists. */
let lastPair: { a: WwValue[]; b: WwValue[]; same: boolean } | undefined;
function sameList(a: WwValue[], b: WwValue[]): boolean {
  if (lastPair && lastPair.a === a && lastPair.b === b) return lastPair.same;
  let same = a.length === b.length;
  for (let i = 0; same && i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (typeof x === 'string' || typeof y === 'string') same = x === y;
    else if (isMapV(x) && isMapV(y)) same = Object.keys(x).length === Object.keys(y).length && Object.keys(x).every((k) => typeof x[k] === 'string' && x[k] === y[k]);
    else same = false;
  }
  lastPair = { a, b, same };
  return same;
}

/**
 * A value herd writes out that Warewulf 4.6.5 already uses when the key is unset, so stating it changes nothing on the node:
 * - `ipxe template`: warewulfd serves `default.ipxe` for an empty template (internal/pkg/warewulfd/provision.go);
 * - `root`: wwinit's /init runs with `WWROOT=${WWROOT:-initramfs}` (overlays/wwinit/rootfs/init); only the dracut iPXE
 *   template defaults to tmpfs, so this holds only while the node's template is the default one;
 * - `init`: wwinit's run-init execs /sbin/init when WWINIT is empty and /sbin/init is executable, which it is in every
 *   systemd image (the only kind herd boots);
 * - a network device's `type` (every distribution template reads `default "ethernet"`) and `onboot` (`BoolDefaultTrue`).
 */
function isWarewulfDefault(source: WwMap, path: string, value: string): boolean {
  switch (path) {
    case 'ipxe template':
      return value === 'default';
    case 'root': {
      const t = source['ipxe template'];
      return value === 'initramfs' && (t === undefined || t === '' || t === 'default');
    }
    case 'init':
      return value === '/sbin/init';
  }
  if (/^network devices\/[^/]+\/type$/.test(path)) return value === 'ethernet';
  if (/^network devices\/[^/]+\/onboot$/.test(path)) return value === 'true';
  return false;
}

/**
 * An fstab resource list as the fstab line Warewulf's fstab overlay writes for each entry: `default "nfs"` vfstype,
 * `default "defaults"` mntops, `default 0` freq and passno (overlays/fstab/rootfs/etc/fstab.ww), and an NFS server naming
 * the head (`warewulf`, the name Warewulf's hosts overlay gives it on every node, or the head's own name) written as the
 * head's address: the mount reaches the same server either way.
 */
function fstabMeaning(list: string, head: { readonly address: string; readonly name: string } | undefined): string {
  try {
    const items = JSON.parse(list) as unknown[];
    return JSON.stringify(items.map((e) => {
      if (e === null || typeof e !== 'object') return e;
      const x = e as Record<string, unknown>;
      const str = (k: string, d: string): string => (x[k] === undefined || x[k] === '' ? d : String(x[k]));
      let spec = str('spec', '');
      const m = /^([^:]+):(.*)$/.exec(spec);
      if (head && m && (m[1] === 'warewulf' || m[1] === head.name)) spec = `${head.address}:${m[2]}`;
      return [spec, str('file', ''), str('vfstype', 'nfs'), str('mntops', 'defaults'), str('freq', '0'), str('passno', '0')].join(' ');
    }));
  } catch {
    return list;
  }
}

/** Every node's merged view of the original and of herd's rebuilt nodes.conf (merged from its document, not read back). */
export function compareNodesConf(source: WwNodesConf, rebuilt: { readonly nodes: readonly WwMergedNode[] }, primaryOf: ReadonlyMap<string, string>, netnameOf: ReadonlyMap<string, string> = new Map(), head?: { readonly address: string; readonly name: string }): Diagnostic[] {
  const byName = new Map(rebuilt.nodes.map((n) => [n.name, n]));
  const d = new Differences();
  for (const n of source.nodes) {
    const r = byName.get(n.name);
    if (!r) {
      d.add(`missing`, n.at, `node ${n.name} is not in the rebuilt nodes.conf`);
      continue;
    }
    const primary = primaryOf.get(n.name);
    const netname = netnameOf.get(n.name) ?? NETNAME;
    let renamed: WwMap = n.merged;
    const devs = n.merged['network devices'];
    if (primary && primary !== netname && isMapV(devs)) {
      const copy: WwMap = { ...devs, [netname]: devs[primary]! };
      delete copy[primary];
      renamed = { ...n.merged, 'network devices': copy };
      d.add(`rename:${primary}`, n.from.get(`network devices/${primary}/hwaddr`) ?? n.at, `network device ${primary} becomes "${netname}" (the spec's netname for the provisioning NIC; /etc/hosts aliases change from ${n.name}-${primary} to ${n.name}-${netname})`);
    }
    // Most leaves agree: those return before anything is made for them (10,000 nodes, a few dozen leaves each).
    walkPair(renamed, r.merged, '', (p, v, w) => {
      if (v === w || p === 'comment') return;
      if (v === undefined && w !== undefined && isWarewulfDefault(renamed, p, w)) return;
      if (p === 'resources/fstab' && v !== undefined && w !== undefined && fstabMeaning(v, head) === fstabMeaning(w, head)) return;
      if (v === undefined) d.add(`add:${p}:${w}`, n.at, `nodes.conf ${p}: herd adds ${show(w!)}`);
      else if (w === undefined && /(^|\/)password$/.test(p)) d.add(`drop:${p}`, setAt(n, p, primary, netname), `nodes.conf ${p} (sha256 ${secretHash(v)}) is dropped: wwctl power and wwinit's ipmi write go without it`);
      else if (w === undefined) d.add(`drop:${p}`, setAt(n, p, primary, netname), `nodes.conf ${p}: ${show(v)} is dropped (herd does not model it)`);
      else if (normWw(p, w) !== normWw(p, v)) d.add(`change:${p}:${v}:${w}`, setAt(n, p, primary, netname), `nodes.conf ${p}: ${show(v)} becomes ${show(w)}`);
    });
  }
  const sourceNames = new Set(source.nodes.map((n) => n.name));
  for (const r of rebuilt.nodes) if (!sourceNames.has(r.name)) d.add('extra', { file: source.file, path: [], line: 1, column: 1 }, `the rebuilt nodes.conf has node ${r.name}, which the site does not`);
  return d.diagnostics('check that this difference is intended before adopting the spec; herd plan shows the whole diff');
}

/** Where the site set the value at `p` (a path under the renamed provisioning netdev is looked up under the site's name for it). */
function setAt(n: WwNodesConf['nodes'][number], p: string, primary: string | undefined, netname: string): SourceRef {
  return n.from.get(primary && p.startsWith(`network devices/${netname}/`) ? p.replace(`/${netname}/`, `/${primary}/`) : p) ?? n.at;
}

const NODE_DEFAULTS: Record<string, string> = { Sockets: '1', CoresPerSocket: '1', ThreadsPerCore: '1', State: 'UNKNOWN', Weight: '1', RealMemory: '1' };

type NodeDef = SlurmSite['nodes'][number];

/** A node's fields as slurmctld takes them, NodeAddr aside; the nodes of one NodeName line share theirs, so it is computed once per line. */
const fieldsByLine = new WeakMap<NodeDef['fields'], Map<string, { value: string; at: SourceRef }>>();
function lineFields(n: NodeDef): Map<string, { value: string; at: SourceRef }> {
  let out = fieldsByLine.get(n.fields);
  if (!out) {
    out = nodeFields(n);
    out.delete('NodeAddr');
    fieldsByLine.set(n.fields, out);
  }
  return out;
}

function nodeFields(n: NodeDef): Map<string, { value: string; at: SourceRef }> {
  const out = new Map<string, { value: string; at: SourceRef }>();
  for (const [k, p] of n.fields) {
    if (k === 'NodeAddr') continue;
    const key = k === 'Procs' ? 'CPUs' : k;
    let v = p.value;
    if (key === 'Features') v = v.split(',').sort().join(',');
    if (key === 'State') v = v.toUpperCase();
    out.set(key, { value: v, at: p.at });
  }
  if (n.addr) out.set('NodeAddr', { value: n.addr.value, at: n.addr.at });
  const topo = slurmTopology(n.fields);
  const filled: Record<string, number | undefined> = { CPUs: topo.cpus ?? 1, Sockets: topo.sockets, CoresPerSocket: topo.cores, ThreadsPerCore: topo.threads };
  for (const [k, v] of Object.entries(filled)) if (!out.has(k) && v !== undefined) out.set(k, { value: String(v), at: n.at });
  for (const [k, v] of Object.entries(NODE_DEFAULTS)) if (!out.has(k)) out.set(k, { value: v, at: n.at });
  return out;
}

function partFields(p: SlurmSite['partitions'][number], allNodes: readonly string[]): Map<string, { value: string; at: SourceRef }> {
  const out = new Map<string, { value: string; at: SourceRef }>();
  for (const [k, f] of p.fields) {
    let v = f.value;
    if (k === 'Nodes') {
      const ex = v.toUpperCase() === 'ALL' ? { ok: true as const, names: [...allNodes] } : expandHostlist(v);
      v = ex.ok ? [...new Set(ex.names)].sort().join(',') : v;
    } else if (k === 'MaxTime' || k === 'DefaultTime') {
      const t = parseSlurmTime(v);
      v = t.ok ? t.canonical : v;
    } else if (['Default', 'State', 'PreemptMode'].includes(k)) v = v.toUpperCase();
    out.set(k, { value: v, at: f.at });
  }
  const dflt: Record<string, string> = { Default: 'NO', MaxTime: 'UNLIMITED', PriorityTier: '1', State: 'UP' };
  for (const [k, v] of Object.entries(dflt)) if (!out.has(k)) out.set(k, { value: v, at: p.at });
  return out;
}

function globalsOf(s: SlurmSite): Map<string, SlurmPair> {
  const m = new Map<string, SlurmPair>();
  for (const g of s.globals) m.set(g.key.toLowerCase(), g);
  return m;
}

/** slurm.conf as slurmctld reads it: global keys, every node's definition and every partition. */
export function compareSlurmConf(source: SlurmSite, rebuiltText: string): Diagnostic[] {
  const rebuilt = parseSlurmConf({ main: { file: '(rebuilt)', text: rebuiltText }, includes: new Map() });
  const d = new Differences();
  const mainFile = source.globals[0]?.at.file ?? source.nodes[0]?.at.file ?? 'slurm.conf';
  const top: SourceRef = { file: mainFile, path: [], line: 1, column: 1 };
  const ga = globalsOf(source);
  const gb = globalsOf(rebuilt);
  for (const [k, p] of ga) {
    const q = gb.get(k);
    if (!q) d.add(`g-drop:${k}`, p.at, `slurm.conf ${p.key}=${show(p.value)} is dropped`);
    else if (q.value !== p.value) d.add(`g-change:${k}`, p.at, `slurm.conf ${p.key}=${show(p.value)} becomes ${show(q.value)}`);
  }
  for (const [k, q] of gb) if (!ga.has(k) && SLURM_DEFAULTS[k] !== q.value) d.add(`g-add:${k}`, top, `slurm.conf: herd adds ${q.key}=${show(q.value)} (the site relies on Slurm's default)`);
  const rb = new Map(rebuilt.nodes.map((n) => [n.name, n]));
  // Nodes of one source line against nodes of one rebuilt line differ alike: the comparison of two lines' fields is made
  // once (the last pair is kept: nodes come in line order) and each node adds its name to the reports.
  type Found = { group: string; at: SourceRef | undefined; message: (name: string) => string };
  let lastPair: { a: NodeDef['fields']; b: NodeDef['fields']; found: Found[] } | undefined;
  const compareLines = (n: NodeDef, r: NodeDef): Found[] => {
    if (lastPair && lastPair.a === n.fields && lastPair.b === r.fields) return lastPair.found;
    const a = lineFields(n);
    const b = lineFields(r);
    const found: Found[] = [];
    for (const [k, v] of a) {
      const w = b.get(k);
      if (!w) found.push({ group: `n-drop:${k}:${v.value}`, at: v.at, message: (name) => `slurm.conf NodeName=${name} ${k}=${show(v.value)} is dropped` });
      else if (w.value !== v.value) found.push({ group: `n-change:${k}:${v.value}:${w.value}`, at: v.at, message: (name) => `slurm.conf NodeName=${name} ${k}=${show(v.value)} becomes ${show(w.value)}` });
    }
    for (const [k, w] of b) if (!a.has(k)) found.push({ group: `n-add:${k}:${w.value}`, at: undefined, message: (name) => `slurm.conf NodeName=${name}: herd adds ${k}=${show(w.value)}` });
    lastPair = { a: n.fields, b: r.fields, found };
    return found;
  };
  for (const n of source.nodes) {
    const r = rb.get(n.name);
    if (!r) {
      d.add('n-missing', n.at, `slurm.conf node ${n.name} has no NodeName line in the rebuilt slurm.conf`);
      continue;
    }
    for (const f of compareLines(n, r)) d.add(f.group, f.at ?? n.at, f.message(n.name));
    const [v, w] = [n.addr, r.addr];
    if (v && !w) d.add(`n-drop:NodeAddr:${v.value}`, v.at, `slurm.conf NodeName=${n.name} NodeAddr=${show(v.value)} is dropped`);
    else if (v && w && w.value !== v.value) d.add(`n-change:NodeAddr:${v.value}:${w.value}`, v.at, `slurm.conf NodeName=${n.name} NodeAddr=${show(v.value)} becomes ${show(w.value)}`);
    else if (!v && w) d.add(`n-add:NodeAddr:${w.value}`, n.at, `slurm.conf NodeName=${n.name}: herd adds NodeAddr=${show(w.value)}`);
  }
  const all = source.nodes.map((n) => n.name);
  const rp = new Map(rebuilt.partitions.map((p) => [p.name, p]));
  for (const p of source.partitions) {
    const r = rp.get(p.name);
    if (!r) {
      d.add(`p-missing:${p.name}`, p.at, `partition ${p.name} is not in the rebuilt slurm.conf`);
      continue;
    }
    const a = partFields(p, all);
    const b = partFields(r, rebuilt.nodes.map((n) => n.name));
    for (const [k, v] of a) {
      const w = b.get(k);
      if (!w) d.add(`p-drop:${p.name}:${k}`, v.at, `slurm.conf PartitionName=${p.name} ${k}=${show(v.value)} is dropped`);
      else if (w.value !== v.value) d.add(`p-change:${p.name}:${k}`, v.at, `slurm.conf PartitionName=${p.name} ${k}=${show(v.value)} becomes ${show(w.value)}`);
    }
    for (const [k, w] of b) if (!a.has(k)) d.add(`p-add:${p.name}:${k}`, p.at, `slurm.conf PartitionName=${p.name}: herd adds ${k}=${show(w.value)}`);
  }
  for (const o of source.others) d.add(`o:${o.key}`, o.at, `slurm.conf ${o.key}=${show(o.value)} is dropped (herd does not write ${o.key} lines)`);
  return d.diagnostics('check that this difference is intended before adopting the spec; herd plan shows the whole diff');
}

function gresByNode(lines: readonly GresLine[]): Map<string, string> {
  const m = new Map<string, string[]>();
  for (const l of lines) for (const n of l.nodes) (m.get(n) ?? m.set(n, []).get(n)!).push(`Name=${l.name} Type=${l.type ?? ''} File=${l.file ?? ''}`);
  return new Map([...m].map(([k, v]) => [k, v.sort().join(' | ')]));
}

export function compareGresConf(source: { file: string; text: string } | undefined, rebuiltText: string | undefined): Diagnostic[] {
  const a = source ? parseGresConf(source.file, source.text) : { lines: [], unscoped: [] };
  const b = rebuiltText ? parseGresConf('(rebuilt)', rebuiltText) : { lines: [], unscoped: [] };
  const d = new Differences();
  const ma = gresByNode(a.lines);
  const mb = gresByNode(b.lines);
  const top: SourceRef = { file: source?.file ?? 'etc/slurm/gres.conf', path: [], line: 1, column: 1 };
  const lineOf = new Map<string, SourceRef>();
  for (const l of a.lines) for (const n of l.nodes) if (!lineOf.has(n)) lineOf.set(n, l.at);
  for (const [n, v] of ma) {
    const at = lineOf.get(n)!;
    if (mb.get(n) !== v) d.add(`gres:${v}:${mb.get(n)}`, at, `gres.conf for ${n}: ${show(v)} becomes ${show(mb.get(n) ?? '(nothing)')}`);
  }
  for (const [n, v] of mb) if (!ma.has(n)) d.add(`gres-add:${v}`, top, `gres.conf: herd adds ${show(v)} for ${n}`);
  for (const u of a.unscoped) d.add(`gres-u:${u.key}`, u.at, `gres.conf ${u.key}=${show(u.value)} without NodeName is dropped`);
  return d.diagnostics('check that this difference is intended before adopting the spec');
}

/**
 * What Warewulf 4.6.5 takes for a warewulf.conf key that is not set: the `default:` tags of its config structs
 * (internal/pkg/config/buildconfig.go, dhcp.go, nfs.go, ssh.go, api.go), applied before the file is read. Lists as the
 * JSON the comparison flattens them to. Not tftproot: its default is the build's TFTPDIR (/var/lib/tftpboot on EL,
 * /srv/tftpboot on SUSE), so a site that leaves it unset says nothing herd can rely on.
 */
export const WW_CONF_DEFAULTS: Readonly<Record<string, string>> = {
  'warewulf/port': '9873',
  'warewulf/secure': 'true',
  'warewulf/update interval': '60',
  'warewulf/autobuild overlays': 'true',
  'warewulf/host overlay': 'true',
  'warewulf/grubboot': 'false',
  'dhcp/enabled': 'true',
  'dhcp/template': 'default',
  'dhcp/systemd name': 'dhcpd',
  'tftp/enabled': 'true',
  'tftp/systemd name': 'tftp',
  'nfs/enabled': 'true',
  'nfs/systemd name': 'nfsd',
  'ssh/key types': JSON.stringify(WAREWULF_SSH_KEY_TYPES),
  'api/enabled': 'false',
};

/** The keys Warewulf 4.6's config structs read, by section ('' for the top level); any other key is ignored by its YAML parse. */
const WW_CONF_KEYS: Readonly<Record<string, readonly string[]>> = {
  '': ['comment', 'ipaddr', 'netmask', 'network', 'fqdn', 'ipaddr6', 'prefixlen6', 'warewulf', 'api', 'dhcp', 'tftp', 'nfs', 'ssh', 'image mounts', 'paths', 'wwclient'],
  warewulf: ['port', 'secure', 'update interval', 'autobuild overlays', 'host overlay', 'grubboot'],
  dhcp: ['enabled', 'template', 'range start', 'range end', 'range6 start', 'range6 end', 'systemd name'],
  tftp: ['enabled', 'tftproot', 'systemd name', 'ipxe'],
  nfs: ['enabled', 'export paths', 'systemd name'],
  ssh: ['key types'],
  api: ['enabled', 'allowed subnets'],
  wwclient: ['port'],
};

function wwConfKnown(path: string): boolean {
  const [first, second] = path.split('/');
  if (!WW_CONF_KEYS['']!.includes(first!)) return false;
  const section = WW_CONF_KEYS[first!];
  return section === undefined || second === undefined || section.includes(second);
}

/** warewulf.conf as Warewulf reads it: `ipaddr: a.b.c.d/n` gives ipaddr, and network and netmask where unset (config/root.go Parse); defaults filled in. */
function effectiveWwConf(m: Map<string, string>): Map<string, string> {
  const out = new Map(m);
  const ip = out.get('ipaddr');
  const cidr = ip?.includes('/') ? parseCidr(ip) : undefined;
  if (cidr?.ok) {
    out.set('ipaddr', ip!.split('/')[0]!);
    if (!out.has('network')) out.set('network', formatIPv4(cidr.net.network));
    if (!out.has('netmask')) out.set('netmask', formatIPv4(cidr.net.netmask));
  }
  for (const [k, v] of Object.entries(WW_CONF_DEFAULTS)) if (!out.has(k)) out.set(k, v);
  return out;
}

/** What the warewulf.conf comparison knows of the rest of the site and of herd's layout. */
export interface WarewulfConfContext {
  /** The TFTP root herd's layout assumes (/var/lib/tftpboot: Warewulf's EL build default; /srv/tftpboot for OpenHPC). */
  readonly tftproot: string;
  /** The site's /etc/exports, which Warewulf writes from warewulf.conf's export paths (and an admin may have edited). */
  readonly exports?: readonly ExportLine[];
}

export function compareWarewulfConf(source: WarewulfConf, rebuiltText: string, context?: WarewulfConfContext): Diagnostic[] {
  const rebuilt = readWarewulfConf('(rebuilt)', rebuiltText);
  const written = new Map<string, string>();
  const b0 = new Map<string, string>();
  flatten(source.value ?? {}, '', written);
  flatten(rebuilt.value ?? {}, '', b0);
  const d = new Differences();
  const at = (p: string): SourceRef => source.index.at(p.split('/'));
  const ignored: Diagnostic[] = [];
  for (const [p, v] of written) {
    if (wwConfKnown(p)) continue;
    ignored.push(diagnosticAt(at(p), 'import/unknown-key', 'warning', `warewulf.conf ${p}: ${show(v)} is a key Warewulf 4.6 does not read; herd leaves it out`, 'nothing changes on the head: Warewulf ignored it'));
    written.delete(p);
  }
  const a = effectiveWwConf(written);
  const b = effectiveWwConf(b0);
  const top: SourceRef = { file: source.file, path: [], line: 1, column: 1 };
  // tftproot unset is the build's TFTPDIR; herd's layout states the one its packages use (the same assumption as for the
  // provisioning folder), so writing it out is no change on such a head, but it is an assumption: said, not hidden.
  const tftp = b.get('tftp/tftproot');
  if (context && !a.has('tftp/tftproot') && tftp === context.tftproot) {
    a.set('tftp/tftproot', tftp);
    ignored.push(diagnosticAt(top, 'import/inferred-value', 'warning', `warewulf.conf sets no tftp/tftproot, so Warewulf uses its build's default; herd writes ${tftp}, the default of the packages its layout assumes`, 'if the head serves TFTP from elsewhere (/srv/tftp on Debian and Ubuntu builds, /srv/tftpboot on SUSE and OpenHPC), say so with warewulf.layout'));
  }
  // Export paths Warewulf reads only to write /etc/exports: an export the admin added there by hand, which herd lists in
  // warewulf.conf too, leaves what the head exports unchanged (and survives the next wwctl configure nfs).
  const exportsA = a.get('nfs/export paths');
  const exportsB = b.get('nfs/export paths');
  if (context?.exports && exportsB !== undefined && exportsA !== exportsB) {
    type Ex = { path?: string; 'export options'?: string };
    const listA = exportsA === undefined ? [] : (JSON.parse(exportsA) as Ex[]);
    const listB = JSON.parse(exportsB) as Ex[];
    const key = (e: Ex): string => `${e.path} ${e['export options'] ?? ''}`;
    const inA = new Set(listA.map(key));
    const added = listB.filter((e) => !inA.has(key(e)));
    const byHand = (e: Ex): boolean => context.exports!.some((l) => l.path === e.path && l.clients.length > 0 && l.clients.every((c) => c.options === e['export options']));
    if (listB.filter((e) => inA.has(key(e))).length === listA.length && added.every(byHand)) {
      a.set('nfs/export paths', exportsB);
      for (const e of added) ignored.push(diagnosticAt(at('nfs/export paths'), 'import/inferred-value', 'warning', `warewulf.conf nfs/export paths: herd adds ${e.path} (${e['export options']}), which the site's /etc/exports already exports by hand; Warewulf reads export paths only to write /etc/exports`, 'nothing the head exports changes; wwctl configure nfs would have dropped the hand-made line, and now keeps it'));
    }
  }
  for (const [p, v] of a) {
    const w = b.get(p);
    if (w === undefined) d.add(`drop:${p}`, at(p), `warewulf.conf ${p}: ${show(v)} is dropped`);
    else if (w !== v) d.add(`change:${p}`, at(p), `warewulf.conf ${p}: ${show(v)} becomes ${show(w)}`);
  }
  for (const [p, w] of b) if (!a.has(p)) d.add(`add:${p}`, top, `warewulf.conf ${p}: herd adds ${show(w)}`);
  return [...ignored, ...d.diagnostics('herd writes warewulf.conf whole; check that this difference is intended')];
}

export function compareExports(source: readonly ExportLine[], file: string, rebuiltText: string | undefined): Diagnostic[] {
  const b = rebuiltText ? parseExports('(rebuilt)', rebuiltText) : [];
  const key = (l: ExportLine): string[] => l.clients.map((c) => `${l.path} ${cidrClient(c.client)}(${c.options})`);
  const kb = new Set(b.flatMap(key));
  const ka = new Set(source.flatMap(key));
  const d = new Differences();
  for (const l of source) for (const k of key(l)) if (!kb.has(k)) d.add(`x-drop:${k}`, l.at, `/etc/exports ${k} is not in herd's exports`);
  for (const k of kb) if (!ka.has(k)) d.add(`x-add:${k}`, { file, path: [], line: 1, column: 1 }, `/etc/exports: herd adds ${k}`);
  return d.diagnostics('herd writes /etc/exports whole from the spec\'s nfs: mounts');
}

/** An exports(5) client `net/255.255.255.0` in the CIDR form herd writes (`net/24`), so the two spellings compare equal. */
function cidrClient(c: string): string {
  const m = /^([\d.]+)\/([\d.]+)$/.exec(c);
  if (!m) return c;
  const mask = parseIPv4(m[2]!);
  const prefix = mask === undefined ? undefined : netmaskToPrefix(mask);
  return prefix === undefined ? c : `${m[1]}/${prefix}`;
}
