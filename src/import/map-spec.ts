// From a site's parsed files to the cluster spec an expert would write (pure): merged Warewulf nodes plus slurm.conf
// hardware and partitions, factored into defaults, profiles and node entries, with a comment on every inferred value.
import { secretHash } from '../artifacts/secret-lines.ts';
import { diagnosticAt, type Diagnostic, type SourceRef } from '../diagnostics/diagnostic.ts';
import { API_VERSION } from '../spec/schema.ts';
import type { WarewulfVersion } from '../spec/model.ts';
import { builtinOverlays, defaultBaseOverlays, HERD_BUILT_OVERLAYS, HERD_OVERLAYS, HERD_SSH_KEY_TYPES, WAREWULF_SSH_KEY_TYPES, wwBool, wwBoolDefaultTrue } from '../spec/warewulf-facts.ts';
import { formatIPv4, netmaskToPrefix, parseIPv4, prefixToNetmask } from '../spec/ipv4.ts';
import { NETNAME } from '../compile/nodes-conf.ts';
import { IPMI_SETTINGS } from '../compile/warewulf-keys.ts';
import { compareHostnames } from '../spec/hostlist.ts';
import { isMapV, primaryNetdev, sitePasswordFiles, wwList, wwString, type WwMap, type WwNodesConf, type WwNodeView } from './nodes-conf.ts';
import { globalValue, type GresLine, type SlurmSite } from './slurm-conf.ts';
import { confList, confString, trustedInterfaces, trustedSources, type ExportLine, type HostsEntry, type WarewulfConf } from './head-files.ts';
import { placeFields, type Fields } from './factor.ts';
import { WW_CONF_DEFAULTS } from './compare.ts';
import { mapSlurm, slurmNodeFields } from './map-slurm.ts';
import { nodeEntries, orderNetworkKeys, setPath } from './node-entries.ts';

/** Everything the mapper reads, already parsed. */
export interface ParsedSite {
  readonly nodesConf: WwNodesConf;
  readonly warewulfConf?: WarewulfConf;
  readonly slurm?: SlurmSite;
  readonly gres?: readonly GresLine[];
  readonly exports?: readonly ExportLine[];
  readonly hosts?: readonly HostsEntry[];
  readonly trustedZone?: string;
  /** Names of site overlay folders found under the site's Warewulf overlay directory. */
  readonly siteOverlayFolders: ReadonlySet<string>;
}

export interface MapOptions {
  readonly warewulfVersion?: WarewulfVersion;
  /** More nodes than this move their MACs to inventory.csv. */
  readonly inventoryThreshold?: number;
  /** Extra global slurm.conf keys (decided after a first compile) and a DHCP range to pin. */
  readonly slurmExtra?: Readonly<Record<string, string | null>>;
  readonly dhcpRange?: { readonly start: string; readonly end: string };
}

/** A spec document plus comments keyed by path (`a\u0001b`), placed on the line above the key. */
export interface SpecDraft {
  readonly doc: Record<string, unknown>;
  readonly comments: Map<string, string>;
  readonly inventory?: string;
  /** Site overlays the spec defines, with the folder under the site root when there is one. */
  readonly siteOverlays: readonly string[];
  readonly diagnostics: Diagnostic[];
  /** Facts later steps need. */
  readonly version: WarewulfVersion;
}

export const pathKey = (path: readonly (string | number)[]): string => path.map(String).join('\u0001');

/** The Warewulf release, from the flag or the evidence in the files, with the reason. */
function inferVersion(site: ParsedSite, flag: WarewulfVersion | undefined, overlays: ReadonlySet<string>): { version: WarewulfVersion; why?: string } {
  if (flag) return { version: flag };
  const ipv6 = site.nodesConf.ipv6Keys;
  if (ipv6.newStyle) return { version: '4.6.5', why: `nodes.conf uses the 4.6.5 netdev key spelling (line ${ipv6.newStyle.line})` };
  const dnsmasq = confString(site.warewulfConf, ['dhcp', 'systemd name']) === 'dnsmasq';
  if (overlays.has('ifupdown') || overlays.has('wwclient.x86_64')) return { version: '4.6.5', why: 'nodes use an overlay that first shipped in 4.6.5' };
  if (ipv6.oldStyle) return { version: dnsmasq ? '4.6.4' : '4.6.3', why: `nodes.conf uses the pre-4.6.5 netdev key ip6addr (line ${ipv6.oldStyle.line})${dnsmasq ? ' and warewulf.conf serves DHCP with dnsmasq (4.6.4 and later)' : ''}` };
  if (dnsmasq) return { version: '4.6.4', why: 'warewulf.conf serves DHCP with dnsmasq, which arrived in 4.6.4; nothing in the files needs 4.6.5' };
  return { version: '4.6.5', why: 'nothing in the files tells the release apart; herd assumes the newest (pass --warewulf-version to say)' };
}

const IP_FIELDS = ['ipaddr', 'netmask', 'gateway'];

/** Every overlay any node lists (nodes of one profile chain share their lists: each list is read once). */
function overlayNames(nodes: readonly WwNodeView[]): Set<string> {
  const out = new Set<string>();
  const seen = new Set<unknown>();
  for (const n of nodes) {
    for (const key of ['system overlay', 'runtime overlay']) {
      const list = n.merged[key];
      if (!Array.isArray(list) || seen.has(list)) continue;
      seen.add(list);
      for (const o of list) if (typeof o === 'string') out.add(o);
    }
  }
  return out;
}

/** Split `server:/path` of an fstab spec. */
function nfsSpec(spec: string): { server: string; path: string } | undefined {
  const i = spec.indexOf(':/');
  return i > 0 ? { server: spec.slice(0, i), path: spec.slice(i + 1) } : undefined;
}

export function mapSite(site: ParsedSite, options: MapOptions = {}): SpecDraft {
  const ds: Diagnostic[] = [];
  const comments = new Map<string, string>();
  const note = (path: readonly (string | number)[], text: string): void => {
    const k = pathKey(path);
    comments.set(k, comments.has(k) ? `${comments.get(k)}; ${text}` : text);
  };
  const nodesConf = site.nodesConf;
  const wwNodes = nodesConf.nodes;
  const passwordFiles = sitePasswordFiles(wwNodes);
  for (const [pw, file] of passwordFiles) {
    const first = wwNodes.filter((n) => isMapV(n.merged.ipmi) && n.merged.ipmi.password === pw);
    // The start of the line only: a span's width would tell the password's length.
    const { endLine: _endLine, endColumn: _endColumn, ...at } = first[0]!.from.get('ipmi/password') ?? first[0]!.at;
    ds.push(diagnosticAt(at, 'import/inferred-value', 'warning', `the BMC password of ${first.length} node(s) (sha256 ${secretHash(pw)}) stays out of the spec: it names ${file}, which herd reads on the head when it builds`, `put that password in ${file} on the head (its first line; mode 0600, root's): until then herd plan lists nodes.conf as pending`));
  }
  const overlaysEverywhere = overlayNames(wwNodes);
  const { version, why } = inferVersion(site, options.warewulfVersion, overlaysEverywhere);
  const nodesFile = nodesConf.file;
  const atFile = (file: string): SourceRef => ({ file, path: [], line: 1, column: 1 });

  // Slurm side by node name.
  const slurmNodes = new Map((site.slurm?.nodes ?? []).map((n) => [n.name, n]));
  const wwNames = new Set(wwNodes.map((n) => n.name));
  if (site.slurm) {
    for (const n of wwNodes) if (!slurmNodes.has(n.name)) ds.push(diagnosticAt(n.at, 'import/node-mismatch', 'warning', `node ${n.name} is in nodes.conf but has no NodeName line in slurm.conf`, 'herd gives every node a NodeName line (CPUs=1 until the spec says more): add it to slurm.conf, or expect the plan to add it'));
    for (const s of site.slurm.nodes) if (!wwNames.has(s.name)) ds.push(diagnosticAt(s.at, 'import/node-mismatch', 'error', `node ${s.name} is in slurm.conf but not in nodes.conf`, 'herd defines nodes once, for Warewulf and Slurm together: add the node to nodes.conf or remove it from slurm.conf'));
  }

  // Per node: the netdev herd provisions over, its address and MAC.
  const netOf = new Map<string, string>();
  const addrOf = new Map<string, string>();
  const macOf = new Map<string, string>();
  const seenMac = new Map<string, WwNodeView>();
  const seenIp = new Map<string, WwNodeView>();
  for (const n of wwNodes) {
    const net = primaryNetdev(n.merged);
    if (net === undefined) {
      ds.push(diagnosticAt(n.at, 'net/missing-address', 'error', `node ${n.name} has no network device in nodes.conf`, 'give it a network device with hwaddr, ipaddr and netmask'));
      continue;
    }
    netOf.set(n.name, net);
    const dev = `network devices/${net}`;
    const devMap = (n.merged['network devices'] as WwMap)[net];
    const devField = (k: string): string | undefined => (isMapV(devMap) ? wwString(devMap, k) : undefined);
    const ip = devField('ipaddr');
    const mac = devField('hwaddr')?.toLowerCase();
    const slurmAddr = slurmNodes.get(n.name)?.addr;
    if (ip === undefined) {
      if (slurmAddr) {
        addrOf.set(n.name, slurmAddr.value);
        ds.push(diagnosticAt(n.at, 'import/node-mismatch', 'warning', `node ${n.name} has no ipaddr in nodes.conf; the import takes NodeAddr ${slurmAddr.value} from slurm.conf`, 'the spec gives Warewulf this address too'));
      } else ds.push(diagnosticAt(n.at, 'net/missing-address', 'error', `node ${n.name} has no ipaddr in nodes.conf`, 'give it an address: herd writes one for Warewulf and Slurm'));
    } else {
      addrOf.set(n.name, ip);
      const other = seenIp.get(ip);
      if (other) ds.push(diagnosticAt(n.from.get(`${dev}/ipaddr`) ?? n.at, 'net/duplicate-address', 'error', `nodes ${other.name} and ${n.name} both have address ${ip}`, 'give each node its own address'));
      else seenIp.set(ip, n);
      if (slurmAddr && slurmAddr.value !== ip) ds.push(diagnosticAt(slurmAddr.at, 'import/node-mismatch', 'warning', `slurm.conf gives ${n.name} NodeAddr=${slurmAddr.value}, nodes.conf gives ipaddr ${ip}; the import keeps ${ip} for both`, 'herd writes one address per node, for Warewulf and Slurm alike'));
    }
    if (site.slurm && slurmNodes.has(n.name) && !slurmAddr) ds.push(diagnosticAt(slurmNodes.get(n.name)!.at, 'slurm/node-name-resolution', 'warning', `NodeName=${n.name} has no NodeAddr: slurmd resolves the name; the import takes the address from nodes.conf`, 'herd always writes a literal NodeAddr'));
    if (mac === undefined) ds.push(diagnosticAt(n.at, 'net/missing-mac', 'warning', `node ${n.name} has no hwaddr in nodes.conf`, 'add its MAC to inventory.csv beside the spec before herd validate'));
    else {
      macOf.set(n.name, mac);
      const other = seenMac.get(mac);
      if (other) ds.push(diagnosticAt(n.from.get(`${dev}/hwaddr`) ?? n.at, 'net/duplicate-mac', 'error', `nodes ${other.name} and ${n.name} both have MAC ${mac}`, 'warewulfd keeps only the last node of a MAC: give each node its own'));
      else seenMac.set(mac, n);
    }
    if (ip !== undefined && !devField('netmask')) ds.push(diagnosticAt(n.from.get(`${dev}/ipaddr`) ?? n.at, 'net/missing-prefix', 'warning', `node ${n.name} has an ipaddr but no netmask: Warewulf writes a blank address= and the node boots without an IP`, 'the spec takes the netmask from network.cidr for every node'));
  }

  // Address fields Warewulf parses as Go net.IP: one that is not an IP makes Warewulf refuse the whole nodes.conf.
  const badIp = new Set<string>();
  const goodIp = new Set<string>();
  for (const n of wwNodes) {
    const devs = n.merged['network devices'];
    const maps: [string, WwMap][] = [];
    if (isMapV(devs)) for (const net in devs) if (isMapV(devs[net])) maps.push([`network devices/${net}`, devs[net] as WwMap]);
    if (isMapV(n.merged.ipmi)) maps.push(['ipmi', n.merged.ipmi]);
    for (const [prefix, m] of maps) for (const k of IP_FIELDS) {
      const v = m[k];
      if (typeof v !== 'string' || v === '' || goodIp.has(v)) continue;
      if (parseIPv4(v) !== undefined) {
        if (goodIp.size < 100_000) goodIp.add(v);
        continue;
      }
      const p = `${prefix}/${k}`;
      const at = n.from.get(p) ?? n.at;
      const key = `${at.file}:${at.line}:${at.column}`;
      if (badIp.has(key)) continue;
      badIp.add(key);
      ds.push(diagnosticAt(at, 'net/malformed-address', 'error', `${p} "${v}" is not an IPv4 address (node ${n.name}): Warewulf refuses the whole nodes.conf`, p.endsWith('netmask') ? 'write a dotted netmask such as 255.255.255.0' : 'write a dotted IPv4 address without a /prefix'));
    }
  }

  // Cluster-wide values: taken from the first node that has them (the compare step reports nodes that differ).
  const firstWith = (path: (n: WwNodeView) => string | undefined): string | undefined => {
    for (const n of wwNodes) {
      const v = path(n);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const devPath = (n: WwNodeView, k: string, tag?: string): string | undefined => {
    const net = netOf.get(n.name);
    const devs = net === undefined ? undefined : n.merged['network devices'];
    let v = isMapV(devs) && isMapV(devs[net!]) ? (devs[net!] as WwMap)[k] : undefined;
    if (tag !== undefined) v = isMapV(v) ? v[tag] : undefined;
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const ww = site.warewulfConf;
  const slurm = site.slurm;
  const ctld = slurm ? globalValue(slurm, 'SlurmctldHost') ?? globalValue(slurm, 'ControlMachine') : undefined;
  const ctldM = ctld ? /^([^(\s]+)(?:\(([^)]*)\))?$/.exec(ctld.value) : null;
  const wwIp = confString(ww, ['ipaddr']);
  let headAddress = wwIp?.split('/')[0] ?? ctldM?.[2] ?? (slurm ? globalValue(slurm, 'ControlAddr')?.value : undefined);
  let headName = ctldM?.[1];
  const wwHost = site.hosts?.find((h) => h.names.includes('warewulf'));
  if (!headName && wwHost) {
    headName = wwHost.names.find((x) => x !== 'warewulf');
    if (headName) note(['head', 'name'], 'inferred: the name /etc/hosts gives the Warewulf server (slurm.conf names no SlurmctldHost)');
  }
  if (!headAddress && wwHost) headAddress = wwHost.address;
  if (!headName) {
    headName = 'head';
    note(['head', 'name'], 'inferred: no SlurmctldHost in slurm.conf and no "warewulf" line in /etc/hosts; set the head\'s hostname');
    ds.push(diagnosticAt(atFile(slurm ? 'etc/slurm/slurm.conf' : nodesFile), 'import/inferred-value', 'warning', 'the head node\'s name is not in the site files; the spec says "head"', 'set head.name to the head\'s hostname (Slurm\'s SlurmctldHost)'));
  }
  if (!headAddress) {
    ds.push(diagnosticAt(atFile(ww?.file ?? nodesFile), 'import/missing-file', 'error', 'the head\'s address is in none of warewulf.conf (ipaddr), slurm.conf (SlurmctldHost) or /etc/hosts', 'import a site with its etc/warewulf/warewulf.conf'));
    headAddress = '0.0.0.0';
  }

  // Network: warewulf.conf's network, else the first node's address and netmask.
  let prefix: number | undefined;
  const wwMask = confString(ww, ['netmask']);
  if (wwIp?.includes('/')) prefix = Number(wwIp.split('/')[1]);
  else if (wwMask && parseIPv4(wwMask) !== undefined) prefix = netmaskToPrefix(parseIPv4(wwMask)!);
  const nodeMask = firstWith((n) => devPath(n, 'netmask'));
  if (prefix === undefined && nodeMask && parseIPv4(nodeMask) !== undefined) {
    prefix = netmaskToPrefix(parseIPv4(nodeMask)!);
    note(['network', 'cidr'], 'inferred from the nodes\' netmask in nodes.conf (warewulf.conf has none)');
  }
  if (prefix === undefined) {
    ds.push(diagnosticAt(atFile(ww?.file ?? nodesFile), 'net/missing-prefix', 'error', 'no netmask anywhere: neither warewulf.conf nor any node in nodes.conf has one', 'set netmask: in warewulf.conf (a blank netmask makes nodes boot without an IP)'));
    prefix = 24;
  }
  const headIp = parseIPv4(headAddress) ?? 0;
  const mask = prefixToNetmask(prefix);
  const cidr = `${formatIPv4((headIp & mask) >>> 0)}/${prefix}`;
  const network: Record<string, unknown> = { cidr };
  const gateway = firstWith((n) => devPath(n, 'gateway'));
  if (gateway) network.gateway = gateway;
  const dns: string[] = [];
  for (let i = 1; ; i++) {
    const d = firstWith((n) => devPath(n, 'tags', `DNS${i}`));
    if (!d) break;
    dns.push(d);
  }
  if (dns.length > 0) network.dns = dns;
  const domain = firstWith((n) => devPath(n, 'tags', 'DNSSEARCH'));
  if (domain) network.domain = domain;
  const zone = site.trustedZone ? trustedInterfaces(site.trustedZone) : [];
  if (zone.length > 0) {
    network.interface = zone[0];
    note(['network', 'interface'], 'inferred: the interface firewalld\'s trusted zone names on the head');
    if (!trustedSources(site.trustedZone!).includes(network.cidr as string)) {
      network.trust_source = false;
      note(['network', 'trust_source'], 'the site\'s trusted zone names the interface only, not the network as a source');
    }
  } else {
    network.interface = 'eth0';
    note(['network', 'interface'], 'inferred: the head\'s cluster NIC is in none of the site files; set it');
    ds.push(diagnosticAt(atFile(ww?.file ?? nodesFile), 'import/inferred-value', 'warning', 'the head\'s cluster NIC is in none of the site files; the spec says eth0', 'set network.interface to the head\'s NIC on the provisioning network'));
  }
  if (site.trustedZone === undefined) {
    network.trusted_zone = false;
    note(['network', 'trusted_zone'], 'the site has no firewalld trusted zone of its own, so herd writes none; true trusts the cluster NIC, so firewalld never drops Slurm or munge traffic');
  }
  const netname = mostCommon([...netOf.values()]);
  if (netname !== undefined && netname !== NETNAME) network.netname = netname;
  const stack = overlaysEverywhere.has('systemd.networkd') && !overlaysEverywhere.has('NetworkManager') ? 'networkd' : 'NetworkManager';
  if (stack === 'networkd') network.stack = 'networkd';
  const mtu = firstWith((n) => devPath(n, 'mtu'));
  if (mtu && /^\d+$/.test(mtu)) network.mtu = Number(mtu);
  if (options.dhcpRange) network.dhcp_range = { ...options.dhcpRange };

  // Overlays: what herd does not build is dropped (reported by the compare step); site overlays get a definition.
  const builtins = builtinOverlays(version);
  const siteKinds = new Map<string, 'system' | 'runtime'>();
  const kindOverride = new Map<string, 'system' | 'runtime'>();
  const notBuilt = new Map<string, SourceRef>();
  const keepOverlay = (n: WwNodeView, o: string, kind: 'system' | 'runtime'): boolean => {
    if (builtins[o] !== undefined && !HERD_BUILT_OVERLAYS.has(o)) {
      if (!notBuilt.has(o)) notBuilt.set(o, n.from.get(`${kind} overlay`) ?? n.at);
      return false;
    }
    if (builtins[o] === undefined) {
      if (!siteKinds.has(o)) siteKinds.set(o, kind);
    } else if (builtins[o] !== kind) kindOverride.set(o, kind);
    return true;
  };
  // The base list: herd's default, unless most nodes list the overlays herd builds in another order. Order is meaning (a
  // later overlay's file wins), so the spec then keeps the site's order in warewulf.base_overlays.
  const herdDefault = defaultBaseOverlays(stack);
  const base = siteBaseOverlays(wwNodes, builtins, herdDefault) ?? herdDefault;
  const overlaysOf = new Map<string, string[]>();
  // Nodes of one profile chain share their merged lists: each pair of lists is mapped once.
  const byLists = new Map<unknown, Map<unknown, string[]>>();
  for (const n of wwNodes) {
    const [sysList, rtList] = [n.merged['system overlay'], n.merged['runtime overlay']];
    const inner = byLists.get(sysList) ?? byLists.set(sysList, new Map()).get(sysList)!;
    const known = inner.get(rtList);
    if (known) {
      overlaysOf.set(n.name, known);
      continue;
    }
    const sys = wwList(n.merged, 'system overlay').filter((o) => keepOverlay(n, o, 'system'));
    const rt = wwList(n.merged, 'runtime overlay').filter((o) => keepOverlay(n, o, 'runtime'));
    const present = new Set([...sys, ...rt]);
    const extras = [...sys, ...rt].filter((o) => !base.includes(o));
    const removed = base.filter((o) => !present.has(o));
    const mapped = [...new Set(extras), ...removed.map((o) => `~${o}`)];
    inner.set(rtList, mapped);
    overlaysOf.set(n.name, mapped);
  }
  for (const [o, at] of notBuilt) ds.push(diagnosticAt(at, 'import/changed-value', 'warning', `overlay ${o} is a Warewulf distribution overlay herd does not build: the spec leaves it out`, 'herd renders the network, hosts, SSH and fstab files itself; put any file of it you still need in a site overlay'));

  // Images: one per image name. herd gives kernel arguments per image, so where the nodes of one image differ, the spec takes
  // what most of them boot with (the first seen on a tie); the compare step reports the nodes that change.
  const images: Record<string, Record<string, unknown>> = {};
  const stateDir = confString(ww, ['tftp', 'tftproot'])?.startsWith('/srv') ? 'srv/warewulf' : 'var/lib/warewulf';
  const hasNfs = wwNodes.some((n) => wwGetList(n.merged, 'resources/fstab').length > 0);
  const kernels = new Map<string, Map<string, number>>();
  for (const n of wwNodes) {
    const im = wwString(n.merged, 'image name');
    if (!im) {
      ds.push(diagnosticAt(n.at, 'node/missing-image', 'error', `node ${n.name} has no image name in nodes.conf`, 'Warewulf cannot provision it; set its image before importing'));
      continue;
    }
    const kernel: Record<string, unknown> = {};
    const version = wwString(n.merged, 'kernel/version');
    if (version) kernel.version = version;
    const args = wwList(n.merged, 'kernel/args');
    if (args.length > 0) kernel.args = args;
    const counts = kernels.get(im) ?? kernels.set(im, new Map()).get(im)!;
    const k = JSON.stringify(kernel);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  for (const [im, counts] of kernels) {
    let best = '';
    let most = 0;
    for (const [k, c] of counts) if (c > most) [best, most] = [k, c];
    const kernel = JSON.parse(best) as Record<string, unknown>;
    images[im] = { source: `dir:images/${im}`, ...(Object.keys(kernel).length > 0 ? { kernel } : {}), requires: ['slurmd', 'munged', ...(hasNfs ? ['mount.nfs'] : [])] };
    note(['images', im, 'source'], `inferred: nodes.conf names the image only; copy its rootfs (/${stateDir}/chroots/${im}/rootfs on the head) here, or pin a registry image (docker://...@sha256:)`);
    note(['images', im, 'requires'], 'inferred: what the nodes run (slurmd, munged, and mount.nfs for the NFS mounts); the build checks the image has them');
    if (counts.size > 1) note(['images', im, 'kernel'], `inferred: the nodes of this image boot with ${counts.size} different kernel settings in nodes.conf; these are what ${most} of them use`);
  }

  // Per-node settings (factored into defaults and profiles below).
  const gresFile = new Map<string, GresLine>();
  for (const g of site.gres ?? []) if (g.name === 'gpu') for (const name of g.nodes) gresFile.set(name, g);
  const fields = new Map<string, Fields>();
  const memoryFrom = new Map<string, string>();
  const perNodeOf = new Map<string, Record<string, string>>();
  for (const n of wwNodes) {
    const f: Fields = {};
    const im = wwString(n.merged, 'image name');
    if (im) f.image = im;
    const dev = netOf.has(n.name) ? wwString(n.merged, `network devices/${netOf.get(n.name)}/device`) : undefined;
    if (dev) f.device = dev;
    // A provisioning netdev named otherwise than most nodes' (network.netname) keeps its name on this node.
    const ownNet = netOf.get(n.name);
    if (ownNet !== undefined && ownNet !== (netname ?? NETNAME)) f.netname = ownNet;
    const ov = overlaysOf.get(n.name) ?? [];
    if (ov.length > 0) f.overlays = ov;
    const tags = n.merged.tags;
    if (isMapV(tags)) for (const [k, v] of Object.entries(tags)) if (typeof v === 'string') f[`tags\u0001${k}`] = v;
    if (im && images[im]) {
      const delta = kernelArgsDelta(((images[im]!.kernel as { args?: string[] } | undefined)?.args) ?? [], wwList(n.merged, 'kernel/args'));
      if (delta.length > 0) f.kernel_args = delta;
    }
    let ipmiAddr: string | undefined;
    const ipmi = n.merged.ipmi;
    if (isMapV(ipmi)) {
      // The password: the file on the head that will hold it (the import reports where to put it, by hash).
      const pw = ipmi.password;
      if (typeof pw === 'string' && pw !== '') f['ipmi\u0001password_file'] = passwordFiles.get(pw)!;
      for (const [k, v] of Object.entries(ipmi)) {
        const key = (IPMI_SETTINGS as Readonly<Record<string, string>>)[k];
        if (key === undefined || typeof v !== 'string' || v === '') continue;
        if (key === 'address') ipmiAddr = v;
        else if (key === 'write') f['ipmi\u0001write'] = wwBool(v);
        else f[`ipmi\u0001${key}`] = v;
      }
      const itags = ipmi.tags;
      if (isMapV(itags)) for (const [k, v] of Object.entries(itags)) if (typeof v === 'string') f[`ipmi\u0001tags\u0001${k}`] = v;
    }
    const disc = n.merged.discoverable;
    if (typeof disc === 'string' && disc !== '') f.discoverable = wwBool(disc);
    const own = networkFields(n, netOf.get(n.name), f);
    if (own) {
      // Like the provisioning NIC's: an address without netmask comes up blank on the node; the spec leaves it out (reported).
      for (const k of Object.keys(own)) {
        const net = /^networks\u0001(.+)\u0001address$/.exec(k)?.[1];
        if (net === undefined || f[`networks\u0001${net}\u0001netmask`] !== undefined) continue;
        ds.push(diagnosticAt(n.from.get(`network devices/${net}/ipaddr`) ?? n.at, 'net/missing-netmask', 'warning', `node ${n.name}'s network device ${net} has ipaddr ${own[k]} but no netmask: Warewulf writes a blank address= and the device comes up without an IP`, `the spec leaves the address out; give networks.${net} a netmask and the address back`));
        delete own[k];
      }
      // An IPv6 address without a prefix (Warewulf's templates then write no IPv6 address; herd's overlays assume /64): the
      // spec keeps it as the site has it, and the warning the spec's check would give at the written spec's line is given
      // here at the site's line instead (import-site.ts drops the check's).
      for (const k of Object.keys(own)) {
        const m = /^(?:networks\u0001(.+)\u0001)?address6$/.exec(k);
        if (!m) continue;
        const prefix = m[1] === undefined ? '' : `networks\u0001${m[1]}\u0001`;
        if (f[`${prefix}prefix6`] !== undefined) continue;
        const net = m[1] ?? netOf.get(n.name) ?? NETNAME;
        const at = n.from.get(`network devices/${net}/ipaddr6`) ?? n.from.get(`network devices/${net}/ip6addr`) ?? n.at;
        ds.push(diagnosticAt(at, 'net/missing-prefix6', 'warning', `node ${n.name}'s network device ${net} has IPv6 address ${own[k]} but no prefix: Warewulf's own network templates write no IPv6 address for it`, `give ${prefix === '' ? 'the node a prefix6' : `networks.${m[1]}.prefix6`} (e.g. 64) in the spec; herd's overlays assume 64 meanwhile`));
      }
      perNodeOf.set(n.name, own);
    }
    // A BMC address is per node like the netdev addresses: counted over a run of consecutive addresses, else listed.
    if (ipmiAddr !== undefined) perNodeOf.set(n.name, { ...perNodeOf.get(n.name), 'ipmi\u0001address': ipmiAddr });
    const s = slurmNodes.get(n.name);
    if (s) slurmNodeFields(s, gresFile.get(n.name), f, memoryFrom);
    fields.set(n.name, f);
  }
  const herdProfiles = [...new Set(wwNodes.flatMap((n) => n.listed))].filter((p) => p !== 'default').sort();
  const profilesOf = new Map(wwNodes.map((n) => [n.name, n.listed.filter((p) => p !== 'default')]));
  const placed = placeFields(fields, profilesOf, new Set(['overlays', 'kernel_args']));
  const settings = (f: Fields, path: (string | number)[]): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(f).sort(settingOrder)) {
      setPath(o, k.split('\u0001'), f[k]);
      if (k === 'memory' && memoryFrom.has(JSON.stringify(f[k]))) note([...path, 'memory'], memoryFrom.get(JSON.stringify(f[k]))!);
    }
    orderNetworkKeys(o);
    return o;
  };

  // Node entries: runs of nodes with the same settings and profiles, compressed into hostlists.
  const sortedNames = wwNodes.map((n) => n.name).sort(compareHostnames);
  const { entries, inventory } = nodeEntries(sortedNames, { profilesOf, placed, addrOf, macOf, perNodeOf, useInventory: wwNodes.length > (options.inventoryThreshold ?? 8), settings });

  // NFS mounts from the fstab resource, export options from /etc/exports.
  const nfs: Record<string, Record<string, unknown>> = {};
  const fstab = wwNodes.length > 0 ? wwGetList(wwNodes[0]!.merged, 'resources/fstab') : [];
  for (const e of fstab) {
    if (!isMapV(e as WwMap)) continue;
    const entry = e as WwMap;
    const file = typeof entry.file === 'string' ? entry.file : undefined;
    const spec = typeof entry.spec === 'string' ? nfsSpec(entry.spec) : undefined;
    const vfs = typeof entry.vfstype === 'string' ? entry.vfstype : 'nfs';
    if (!file || !spec || !vfs.startsWith('nfs')) continue;
    const m: Record<string, unknown> = {};
    if (spec.path !== file) m.export = spec.path;
    // "warewulf" is the name Warewulf's hosts overlay gives the head on every node.
    const onHead = spec.server === headAddress || spec.server === headName || spec.server === 'warewulf';
    if (!onHead) m.server = spec.server;
    else if (spec.server === 'warewulf') note(['nfs', file], 'inferred: "warewulf" is the head (Warewulf\'s hosts overlay names it so); herd mounts it by address');
    const mntops = typeof entry.mntops === 'string' ? entry.mntops : 'defaults';
    if (mntops !== 'defaults,nofail,_netdev') m.options = mntops;
    const ex = site.exports?.find((x) => x.path === spec.path);
    const exOpts = ex?.clients[0]?.options;
    if (exOpts && exOpts !== 'rw,sync,no_subtree_check') m.export_options = exOpts;
    nfs[file] = m;
  }
  // Paths the head exports that no node mounts through the fstab resource (a site overlay or autofs mounts them, if anyone).
  const exported = new Set(Object.entries(nfs).map(([file, m]) => (m.export as string | undefined) ?? file));
  for (const ex of site.exports ?? []) {
    if (exported.has(ex.path) || ex.path in nfs) continue;
    exported.add(ex.path);
    const exOpts = ex.clients[0]?.options;
    nfs[ex.path] = { mount: false, ...(exOpts && exOpts !== 'rw,sync,no_subtree_check' ? { export_options: exOpts } : {}) };
    note(['nfs', ex.path], 'inferred: /etc/exports exports it but no node mounts it through nodes.conf\'s fstab resource');
  }

  // Slurm: cluster name, preemption, partitions; extra global keys come from the caller's first compile.
  const name = firstWith((n) => wwString(n.merged, 'cluster name')) ?? (slurm ? globalValue(slurm, 'ClusterName')?.value : undefined) ?? 'cluster';
  const slurmDoc = slurm ? mapSlurm(slurm, name, profilesOf, [...slurmNodes.keys()], options.slurmExtra) : undefined;
  for (const [k, v] of Object.entries(options.slurmExtra ?? {})) if (v === null) note(['slurm', 'extra', k], `slurm.conf leaves ${k} to Slurm's default; null keeps it out of herd's slurm.conf`);

  const overlaysDoc: Record<string, unknown> = {};
  for (const [o, kind] of [...siteKinds].sort(([a], [b]) => (a < b ? -1 : 1))) {
    overlaysDoc[o] = { kind };
    if (!site.siteOverlayFolders.has(o)) note(['overlays', o], `inferred: listed in nodes.conf but no template folder under the site's overlays; the import writes an empty overlays/${o}/`);
  }
  for (const [o, kind] of kindOverride) overlaysDoc[o] = { kind };

  const doc: Record<string, unknown> = { apiVersion: API_VERSION, kind: 'Cluster', name };
  const wwDoc: Record<string, unknown> = {};
  if (version !== '4.6.5' || options.warewulfVersion) wwDoc.version = version;
  if (why) note(['warewulf', 'version'], `inferred: ${why}`);
  if (stateDir === 'srv/warewulf') {
    wwDoc.layout = 'openhpc';
    note(['warewulf', 'layout'], 'inferred: warewulf.conf serves TFTP from /srv/tftpboot, as OpenHPC packages it');
  }
  if (base !== herdDefault) {
    wwDoc.base_overlays = base;
    const without = Object.keys(HERD_OVERLAYS).filter((o) => !base.includes(o));
    note(['warewulf', 'base_overlays'], `inferred: the overlays herd builds, in the order most nodes list them in nodes.conf${without.length > 0 ? `; without ${without.join(' and ')}, as there: add ${without.length > 1 ? 'them' : 'it'} to have herd ship ${without.map((o) => HERD_OVERLAY_SHIPS[o]).join(' and ')}` : ''}`);
  }
  // warewulf.conf settings herd writes from the spec: the site's, where they differ from herd's defaults (Warewulf's own
  // defaults where the site sets none: autobuild on, the default DHCP template, four key types).
  const autobuild = confString(ww, ['warewulf', 'autobuild overlays']) ?? WW_CONF_DEFAULTS['warewulf/autobuild overlays'];
  if (autobuild === 'true') {
    wwDoc.autobuild_overlays = true;
    note(['warewulf', 'autobuild_overlays'], 'warewulfd rebuilds overlays itself, as on the site; from herd\'s templates, to the same files');
  }
  const template = confString(ww, ['dhcp', 'template']) ?? WW_CONF_DEFAULTS['dhcp/template'];
  if (template === 'default') wwDoc.dhcp_template = 'default';
  const keyTypes = confList(ww, ['ssh', 'key types']) ?? [...WAREWULF_SSH_KEY_TYPES];
  const known: readonly string[] = WAREWULF_SSH_KEY_TYPES;
  if (keyTypes.length > 0 && keyTypes.every((k) => known.includes(k)) && keyTypes.join() !== HERD_SSH_KEY_TYPES.join()) wwDoc.ssh_key_types = keyTypes;
  if (!wwNodes.some((n) => wwString(n.merged, 'cluster name') !== undefined)) {
    wwDoc.cluster_name = '';
    note(['warewulf', 'cluster_name'], 'the nodes in nodes.conf have no cluster name; herd writes none either');
  }
  if (Object.keys(wwDoc).length > 0) doc.warewulf = wwDoc;
  doc.head = { name: headName, address: headAddress };
  doc.network = network;
  if (Object.keys(nfs).length > 0) doc.nfs = nfs;
  if (inventory) doc.inventory = 'inventory.csv';
  doc.images = images;
  if (Object.keys(overlaysDoc).length > 0) doc.overlays = overlaysDoc;
  const defaults = settings(placed.defaults, ['defaults']);
  if (Object.keys(defaults).length > 0) doc.defaults = defaults;
  if (herdProfiles.length > 0) doc.profiles = Object.fromEntries(herdProfiles.map((p) => [p, settings(placed.profiles.get(p) ?? {}, ['profiles', p])]));
  doc.nodes = entries;
  if (slurmDoc) doc.slurm = slurmDoc;
  return { doc, comments, ...(inventory ? { inventory } : {}), siteOverlays: [...siteKinds.keys()].sort(), diagnostics: ds, version };
}

/** What each of herd's own overlays brings the nodes (the import's note when a site lacks one). */
const HERD_OVERLAY_SHIPS: Readonly<Record<string, string>> = {
  'herd-boot': 'the munge key',
  'herd-slurm': 'slurm.conf',
};

/**
 * The overlays herd builds, in the order the most common pair of overlay lists in nodes.conf gives them (system, then
 * runtime); undefined when that is herd's default order anyway and lists herd's own overlays, or no node lists any.
 */
function siteBaseOverlays(nodes: readonly WwNodeView[], builtins: Readonly<Record<string, 'system' | 'runtime'>>, herdDefault: readonly string[]): string[] | undefined {
  const counts = new Map<unknown, Map<unknown, { n: WwNodeView; count: number }>>();
  let best: { n: WwNodeView; count: number } | undefined;
  for (const n of nodes) {
    const [a, b] = [n.merged['system overlay'], n.merged['runtime overlay']];
    const inner = counts.get(a) ?? counts.set(a, new Map()).get(a)!;
    const c = inner.get(b) ?? { n, count: 0 };
    c.count++;
    inner.set(b, c);
    if (!best || c.count > best.count) best = c;
  }
  if (!best) return undefined;
  const pick = (kind: 'system' | 'runtime'): string[] => {
    const listed = wwList(best!.n.merged, `${kind} overlay`).filter((o) => HERD_BUILT_OVERLAYS.has(o) && builtins[o] === kind);
    return [...new Set(listed)];
  };
  const list = [...pick('system'), ...pick('runtime')];
  const sameOrder = (xs: readonly string[], ys: readonly string[]): boolean => {
    const ya = ys.filter((y) => xs.includes(y));
    const xa = xs.filter((x) => ys.includes(x));
    return xa.length === ya.length && xa.every((x, i) => x === ya[i]);
  };
  // Only the order matters here: overlays the site adds or lacks are each node's own additions and `~` removals. But a site
  // without herd's own overlays (any Warewulf site not yet run by herd) keeps its list: its nodes get their munge key and
  // slurm.conf some other way today, and the import changes nothing of that.
  return sameOrder(list, herdDefault) && Object.keys(HERD_OVERLAYS).every((o) => list.includes(o)) ? undefined : list;
}


/**
 * kernel_args that turn the image's arguments `base` into the node's `args` under herd's merge (appended in order, `~arg`
 * removes every earlier `arg`): the removed ones and the appended tail when the kept ones lead `args` in order, else every
 * base argument removed and `args` given whole.
 */
export function kernelArgsDelta(base: readonly string[], args: readonly string[]): string[] {
  if (base.length === args.length && base.every((a, i) => a === args[i])) return [];
  const have = new Set(args);
  const removed = [...new Set(base.filter((a) => !have.has(a)))];
  const kept = base.filter((a) => have.has(a));
  if (kept.every((a, i) => args[i] === a)) return [...removed.map((a) => `~${a}`), ...args.slice(kept.length)];
  return [...[...new Set(base)].map((a) => `~${a}`), ...args];
}

/** The value most nodes have (the first seen on a tie). */
function mostCommon(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  let most = 0;
  for (const [v, c] of counts) if (c > most) [best, most] = [v, c];
  return best;
}

const NET_TYPES = new Set(['ethernet', 'infiniband', 'bond', 'vlan']);
const uint = (v: string | undefined, max: number): number | undefined => (v !== undefined && /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= max ? Number(v) : undefined);

/**
 * A node's IPv6 on the provisioning NIC and its other netdevs as spec fields (`networks\u0001ib0\u0001type`...), added to
 * `f`; the values that differ node by node (MACs and addresses) are returned apart, for the node entries to list or count.
 * Both IPv6 spellings are read (4.6.5's ipaddr6/prefixlen6/gateway6, earlier ip6addr/prefix): the reader kept the release's.
 */
function networkFields(n: WwNodeView, primary: string | undefined, f: Fields): Record<string, string> | undefined {
  const devs = n.merged['network devices'];
  if (!isMapV(devs)) return undefined;
  const own: Record<string, string> = {};
  const ipv6 = (m: WwMap, prefix: string): void => {
    const a6 = wwString(m, 'ipaddr6') ?? wwString(m, 'ip6addr');
    if (a6 !== undefined) own[`${prefix}address6`] = a6;
    const p6 = uint(wwString(m, 'prefixlen6') ?? wwString(m, 'prefix'), 128);
    if (p6 !== undefined) f[`${prefix}prefix6`] = p6;
    const g6 = wwString(m, 'gateway6');
    if (g6 !== undefined) f[`${prefix}gateway6`] = g6;
  };
  for (const [net, dev] of Object.entries(devs)) {
    if (!isMapV(dev)) continue;
    if (net === primary) {
      ipv6(dev, '');
      continue;
    }
    const p = `networks\u0001${net}\u0001`;
    const type = wwString(dev, 'type')?.toLowerCase();
    if (type !== undefined && NET_TYPES.has(type)) f[`${p}type`] = type;
    for (const k of ['device', 'netmask', 'gateway'] as const) if (wwString(dev, k) !== undefined) f[`${p}${k}`] = wwString(dev, k);
    const mtu = uint(wwString(dev, 'mtu'), 65535);
    if (mtu !== undefined && mtu >= 576) f[`${p}mtu`] = mtu;
    const onboot = wwString(dev, 'onboot');
    if (onboot !== undefined) f[`${p}onboot`] = wwBoolDefaultTrue(onboot);
    const mac = wwString(dev, 'hwaddr');
    if (mac !== undefined) own[`${p}mac`] = mac.toLowerCase();
    const ip = wwString(dev, 'ipaddr');
    if (ip !== undefined) own[`${p}address`] = ip;
    ipv6(dev, p);
    const tags = dev.tags;
    if (isMapV(tags)) for (const [k, v] of Object.entries(tags)) if (typeof v === 'string') f[`${p}tags\u0001${k}`] = v;
    // A netdev with nothing herd reads still exists for Warewulf (its hosts and DHCP entries): keep its name.
    if (!Object.keys(f).some((k) => k.startsWith(p)) && !Object.keys(own).some((k) => k.startsWith(p))) f[`${p}type`] = 'ethernet';
  }
  return Object.keys(own).length > 0 ? own : undefined;
}

const SETTING_ORDER = ['image', 'overlays', 'kernel_args', 'device', 'netname', 'prefix6', 'gateway6', 'networks', 'memory', 'cpus', 'sockets', 'cores_per_socket', 'threads_per_core', 'gpus', 'ipmi', 'discoverable', 'tags', 'slurm'];
function settingOrder(a: string, b: string): number {
  const ra = SETTING_ORDER.indexOf(a.split('\u0001')[0]!);
  const rb = SETTING_ORDER.indexOf(b.split('\u0001')[0]!);
  return ra - rb || (a < b ? -1 : a > b ? 1 : 0);
}

function wwGetList(m: WwMap, path: string): unknown[] {
  let cur: unknown = m;
  for (const p of path.split('/')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return [];
    cur = (cur as Record<string, unknown>)[p];
  }
  return Array.isArray(cur) ? cur : [];
}
