// Warewulf 4.6 nodes.conf from the resolved model (pure). Every key emitted is one Warewulf 4.6 reads (see warewulf-keys.ts).
import { emitYaml, type YamlValue } from '../artifacts/yaml-emit.ts';
import type { ClusterModel, NodeModel } from '../spec/model.ts';
import { compareHostnames } from '../spec/hostlist.ts';
import { factorProfiles, unflatten, type FieldMap } from './factor-profiles.ts';
import { IPMI_SETTINGS } from './warewulf-keys.ts';

/** The default netname of the provisioning NIC (network.netname), the same on profiles and nodes so Warewulf merges them field by field. */
export const NETNAME = 'default';

/** One of a node's netdevs as Warewulf's host templates see it (they range over the netdevs in name order). */
export interface NetdevView {
  readonly name: string;
  readonly primary: boolean;
  readonly device?: string | undefined;
  readonly mac?: string | undefined;
  readonly address?: string | undefined;
  readonly address6?: string | undefined;
}

/** The provisioning NIC (under the node's netname) and the node's other network devices, sorted by netname. */
export function netdevsOf(n: NodeModel): NetdevView[] {
  const own: NetdevView = { name: n.netname, primary: true, device: n.device, mac: n.mac, address: n.address, address6: n.address6 };
  if (n.networks.length === 0) return [own];
  const all: NetdevView[] = [own, ...n.networks.map((d) => ({ name: d.name, primary: false, device: d.device, mac: d.mac, address: d.address, address6: d.address6 }))];
  return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const fstabCache = new WeakMap<ClusterModel, unknown[]>();
function fstabOf(model: ClusterModel): unknown[] {
  let v = fstabCache.get(model);
  if (!v) {
    v = model.nfs.map((m) => ({ spec: `${m.server}:${m.export}`, file: m.mountPoint, vfstype: 'nfs', mntops: m.options, freq: 0, passno: 0 }));
    fstabCache.set(model, v);
  }
  return v;
}

/** Flatten one node's Warewulf settings into `a/b/c` paths so profiles can take the shared ones. */
function nodeFields(model: ClusterModel, n: NodeModel, passwords?: IpmiPasswordValues): FieldMap {
  const im = model.images[n.image]!;
  const nd = `network devices/${n.netname}`;
  const f: FieldMap = {
    'image name': n.image,
    'ipxe template': 'default',
    init: '/sbin/init',
    root: 'initramfs',
    // Shared arrays (not copies): nodes with the same lists then compare by identity when profiles are factored.
    'system overlay': n.systemOverlays,
    'runtime overlay': n.runtimeOverlays,
    'kernel/args': n.kernelArgs,
    [`${nd}/type`]: 'ethernet',
    [`${nd}/onboot`]: 'true',
    [`${nd}/hwaddr`]: n.mac,
    [`${nd}/ipaddr`]: n.address,
    // Never blank: a missing netmask makes Warewulf write `address=` with no prefix and the node boots without an IP.
    [`${nd}/netmask`]: n.netmask,
  };
  if (model.warewulf.clusterName !== '') f['cluster name'] = model.warewulf.clusterName;
  if (im.kernel.version) f['kernel/version'] = im.kernel.version;
  if (n.ipmi) {
    for (const [key, field] of Object.entries(IPMI_SETTINGS)) {
      const v = n.ipmi[field];
      if (v !== undefined) f[`ipmi/${key}`] = String(v);
    }
    for (const [k, v] of Object.entries(n.ipmi.tags)) f[`ipmi/tags/${k}`] = v;
    // The BMC password, only when herd read it on the head (the pipeline marks nodes.conf pending otherwise).
    const pw = n.ipmi.passwordFile !== undefined ? passwords?.get(n.ipmi.passwordFile) : undefined;
    if (pw !== undefined) f['ipmi/password'] = pw;
  }
  // Client NFS mounts ride in the fstab resource that Warewulf's fstab overlay renders (with nofail,_netdev by default,
  // so a /home that is not up yet never blocks boot).
  if (model.nfs.length > 0) f['resources/fstab'] = fstabOf(model);
  if (n.gateway) f[`${nd}/gateway`] = n.gateway;
  if (model.network.mtu !== undefined) f[`${nd}/mtu`] = String(model.network.mtu);
  if (n.device) f[`${nd}/device`] = n.device;
  model.network.dns.forEach((d, i) => (f[`${nd}/tags/DNS${i + 1}`] = d));
  if (model.network.domain) f[`${nd}/tags/DNSSEARCH`] = model.network.domain;
  for (const [k, v] of Object.entries(n.tags)) f[`tags/${k}`] = v;
  const v465 = model.warewulf.version === '4.6.5';
  ipv6Fields(f, nd, n.address6, n.prefix6, n.gateway6, v465);
  for (const d of n.networks) {
    const p = `network devices/${d.name}`;
    // Type and onboot only where the spec sets them: Warewulf's templates default both (ethernet, on), as herd does.
    if (d.at.type !== undefined) f[`${p}/type`] = d.type;
    if (d.onboot !== undefined) f[`${p}/onboot`] = String(d.onboot);
    if (d.device !== undefined) f[`${p}/device`] = d.device;
    if (d.mac !== undefined) f[`${p}/hwaddr`] = d.mac;
    if (d.address !== undefined) f[`${p}/ipaddr`] = d.address;
    if (d.netmask !== undefined) f[`${p}/netmask`] = d.netmask;
    if (d.gateway !== undefined) f[`${p}/gateway`] = d.gateway;
    if (d.mtu !== undefined) f[`${p}/mtu`] = String(d.mtu);
    ipv6Fields(f, p, d.address6, d.prefix6, d.gateway6, v465);
    for (const [k, v] of Object.entries(d.tags)) f[`${p}/tags/${k}`] = v;
  }
  // Without `primary network`, Warewulf takes the first netdev by name as the primary (the node's hostname in /etc/hosts, DHCP).
  if (n.netname !== NETNAME || n.networks.some((d) => d.name < n.netname)) f['primary network'] = n.netname;
  return f;
}

/** IPv6 keys in the release's spelling: 4.6.5 `ipaddr6`/`prefixlen6`/`gateway6`, earlier `ip6addr`/`prefix` (no gateway; a rule refuses one). */
function ipv6Fields(f: FieldMap, p: string, address6: string | undefined, prefix6: number | undefined, gateway6: string | undefined, v465: boolean): void {
  if (address6 !== undefined) f[`${p}/${v465 ? 'ipaddr6' : 'ip6addr'}`] = address6;
  if (prefix6 !== undefined) f[`${p}/${v465 ? 'prefixlen6' : 'prefix'}`] = String(prefix6);
  if (gateway6 !== undefined && v465) f[`${p}/gateway6`] = gateway6;
}

const KEY_ORDER = ['comment', 'profiles', 'discoverable', 'cluster name', 'image name', 'ipxe template', 'init', 'root', 'kernel', 'ipmi', 'system overlay', 'runtime overlay', 'network devices', 'primary network', 'tags', 'resources'];
const IPMI_ORDER = ['username', 'password', ...Object.keys(IPMI_SETTINGS).filter((k) => k !== 'username'), 'tags'];
const NETDEV_ORDER = ['type', 'onboot', 'device', 'hwaddr', 'ipaddr', 'netmask', 'gateway', 'mtu', 'ipaddr6', 'prefixlen6', 'gateway6', 'ip6addr', 'prefix', 'tags'];

function ordered(obj: Record<string, unknown>, order: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of order) if (k in obj) out[k] = obj[k];
  for (const k of Object.keys(obj).sort()) if (!(k in out)) out[k] = obj[k];
  return out;
}

function shape(fields: FieldMap, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const o = { ...extra, ...unflatten(fields) } as Record<string, unknown>;
  const devs = o['network devices'] as Record<string, Record<string, unknown>> | undefined;
  if (devs) for (const k of Object.keys(devs)) devs[k] = ordered(devs[k]!, NETDEV_ORDER);
  if (o.kernel) o.kernel = ordered(o.kernel as Record<string, unknown>, ['version', 'args']);
  if (o.ipmi) o.ipmi = ordered(o.ipmi as Record<string, unknown>, IPMI_ORDER);
  return ordered(o, KEY_ORDER);
}

/**
 * Render nodes.conf. Every node lists `default` first (Warewulf applies only listed profiles), then its spec profiles.
 * Settings shared by all nodes of a profile move into that profile; the rest stays on the node.
 */
export function renderNodesConf(model: ClusterModel, header: string, passwords?: IpmiPasswordValues): string {
  // MACs are always quoted: a YAML 1.1 reader could take an all-digit MAC such as 52:54:00:00:00:01 for a base-60 number.
  return header + emitYaml(nodesConfDocument(model, passwords) as YamlValue, { quoteKeys: new Set(['hwaddr']) });
}

/** BMC passwords read on the head, by the ipmi.password_file that names them. */
export type IpmiPasswordValues = ReadonlyMap<string, string>;

/**
 * One node's settings as Warewulf has them once its profiles are merged: what nodesConfDocument factors into profiles and the
 * node, whole (without comments). `herd import` compares a site's merged nodes with these instead of merging the factored
 * document back; a property test holds the two equal (test/unit/import/round-trip.test.ts), and the oracle tests hold the
 * document to real Warewulf's merge.
 */
export function nodeSettings(model: ClusterModel, n: NodeModel, passwords?: IpmiPasswordValues): Record<string, unknown> {
  const o = unflatten(nodeFields(model, n, passwords));
  if (n.discoverable !== undefined) o.discoverable = String(n.discoverable);
  return o;
}

const documents = new WeakMap<ClusterModel, { nodeprofiles: Record<string, unknown>; nodes: Record<string, unknown> }>();

/**
 * nodes.conf as the document renderNodesConf writes (computed once per model): `herd import` merges it the way Warewulf
 * does to compare with a site's nodes.conf, instead of reading the rendered text back.
 */
export function nodesConfDocument(model: ClusterModel, passwords?: IpmiPasswordValues): { readonly nodeprofiles: Record<string, unknown>; readonly nodes: Record<string, unknown> } {
  const withPasswords = passwords !== undefined && passwords.size > 0;
  const known = withPasswords ? undefined : documents.get(model);
  if (known) return known;
  const nodes = [...model.nodes].sort((a, b) => compareHostnames(a.name, b.name));
  const profilesOf = new Map(nodes.map((n) => [n.name, ['default', ...n.profiles]]));
  const factored = factorProfiles({
    nodes: new Map(nodes.map((n) => [n.name, nodeFields(model, n, passwords)])),
    profilesOf,
    listFields: new Set(['system overlay', 'runtime overlay', 'kernel/args', 'resources/fstab']),
  });
  const profileNames = ['default', ...Object.keys(model.profiles).sort().filter((p) => p !== 'default')];
  const nodeprofiles: Record<string, unknown> = {};
  for (const p of profileNames) {
    const fields = factored.profiles.get(p) ?? {};
    nodeprofiles[p] = shape(fields, { comment: p === 'default' ? `herd: settings shared by every node of cluster ${model.name}` : `herd: spec profile ${p}` });
  }
  const nodesOut: Record<string, unknown> = {};
  // discoverable is a node-only key in Warewulf 4.6 (profiles cannot carry it), so it is never factored.
  for (const n of nodes) nodesOut[n.name] = shape(factored.nodes.get(n.name) ?? {}, { profiles: profilesOf.get(n.name), ...(n.discoverable !== undefined ? { discoverable: String(n.discoverable) } : {}) });
  const doc = { nodeprofiles, nodes: nodesOut };
  if (!withPasswords) documents.set(model, doc);
  return doc;
}
