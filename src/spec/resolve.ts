// Resolution (pure): a shape-valid spec plus the files it references become the one immutable ClusterModel.
import { posix } from 'node:path';
import { diagnosticAt, type Diagnostic, type SourceRef } from '../diagnostics/diagnostic.ts';
import type { PositionIndex } from './positions.ts';
import type { ClusterSpec } from './schema.ts';
import type { ClusterModel, HeadFileRef, HeadModel, ImageModel, ImageSourceKind, NetworkDeviceModel, NfsMountModel, NodeModel, OverlayModel, PartitionModel, WarewulfVersion } from './model.ts';
import { deepFreeze } from './model.ts';
import { parseInventory, type InventoryRow } from './inventory.ts';
import { resolveNodes, type DraftNetwork, type DraftNode } from './resolve-nodes.ts';
import { builtinOverlays, defaultBaseOverlays, DEFAULT_WAREWULF_VERSION, HERD_BUILT_OVERLAYS, HERD_SSH_KEY_TYPES } from './warewulf-facts.ts';
import { formatIPv4, inNetwork, netmaskToPrefix, normalizeMac, parseCidr, parseIPv4, prefixToNetmask, type IPv4Network } from './ipv4.ts';
import { expandHostlist } from './hostlist.ts';
import { parseSizeMiB, parseSlurmTime } from './units.ts';
import { didYouMean } from './did-you-mean.ts';
import { inputProblemDiagnostic, type InputProblem } from './input-problems.ts';
import { DEFAULT_SLURM_VERSION } from './slurm-keys.ts';

/** Files a spec pulls in, read by the I/O twin: the inventory CSV and each site overlay's file listing. */
export interface AuxInputs {
  /** Inventory CSV text by spec-relative path (undefined: missing), or why it was not read. */
  readonly inventory?: { readonly file: string; readonly text: string | undefined; readonly problem?: InputProblem };
  /** Site overlay template listings by overlay name (undefined: folder missing). Symlinks are listed too. */
  readonly overlayFiles: Readonly<Record<string, readonly string[] | undefined>>;
  /** Symlinks in site overlay folders by overlay name: path in the folder -> link target, listed as they are, never followed. */
  readonly overlaySymlinks?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** What was met reading a site overlay folder by overlay name: the folder itself (`entry: false`) or an entry inside it. */
  readonly overlayProblems?: Readonly<Record<string, readonly { readonly entry: boolean; readonly problem: InputProblem }[]>>;
}

/** A site overlay's template folder; undefined when the entry only re-kinds a built-in overlay (no source of its own). */
function siteOverlayFolder(name: string, o: { readonly source?: string | undefined }, builtins: Readonly<Record<string, unknown>>): string | undefined {
  return o.source !== undefined || builtins[name] === undefined ? (o.source ?? `overlays/${name}`) : undefined;
}

/** The spec-relative paths the I/O twin must read before resolving. */
export function auxiliaryPaths(spec: ClusterSpec): { inventory?: string; overlays: Record<string, string> } {
  const overlays: Record<string, string> = {};
  const builtins = builtinOverlays(spec.warewulf?.version ?? DEFAULT_WAREWULF_VERSION);
  for (const [name, o] of Object.entries(spec.overlays ?? {})) {
    const folder = siteOverlayFolder(name, o, builtins);
    if (folder !== undefined) overlays[name] = folder;
  }
  return spec.inventory ? { inventory: spec.inventory, overlays } : { overlays };
}

export interface Resolution {
  readonly model?: ClusterModel;
  readonly diagnostics: Diagnostic[];
}

const SOURCE_KINDS: readonly ImageSourceKind[] = ['docker', 'oci-archive', 'docker-archive', 'oci', 'dir', 'tar'];

export function parseImageSource(source: string): { kind: ImageSourceKind; ref: string } | undefined {
  for (const k of SOURCE_KINDS) {
    const prefix = k === 'docker' ? 'docker://' : `${k}:`;
    if (source.startsWith(prefix) && source.length > prefix.length) return { kind: k, ref: source.slice(prefix.length) };
  }
  return undefined;
}

/** Resolve the spec into the cluster model, reporting what cannot be resolved. */
export function resolveSpec(specFile: string, spec: ClusterSpec, index: PositionIndex, aux: AuxInputs, dropped: ReadonlySet<string> = new Set()): Resolution {
  const diagnostics: Diagnostic[] = [];
  const version: WarewulfVersion = spec.warewulf?.version ?? DEFAULT_WAREWULF_VERSION;
  const layout = spec.warewulf?.layout ?? 'upstream';
  const builtins = builtinOverlays(version);

  // Network: the prefix is mandatory (a node without one boots with a blank address=, the seed's trap).
  const netRef = index.at(['network', 'cidr']);
  const cidr = parseCidr(spec.network.cidr);
  let net: IPv4Network | undefined;
  if (!cidr.ok) {
    if (cidr.reason === 'missing-prefix') {
      diagnostics.push(diagnosticAt(netRef, 'net/missing-prefix', 'error', `network.cidr "${spec.network.cidr}" has no prefix length`, 'write it as address/prefix, e.g. 10.0.0.0/24: without a netmask Warewulf writes a blank address= and the node boots with no IP'));
    } else diagnostics.push(diagnosticAt(netRef, 'net/malformed-address', 'error', `network.cidr "${spec.network.cidr}" is not an IPv4 network`, 'write it as address/prefix, e.g. 10.0.0.0/24'));
  } else {
    net = cidr.net;
    if (cidr.hostBitsSet) diagnostics.push(diagnosticAt(netRef, 'net/host-bits-set', 'warning', `network.cidr "${spec.network.cidr}" has host bits set; the network is ${formatIPv4(net.network)}/${net.prefix}`, `write ${formatIPv4(net.network)}/${net.prefix}`));
    if (spec.network.netmask !== undefined) {
      const m = parseIPv4(spec.network.netmask);
      const p = m === undefined ? undefined : netmaskToPrefix(m);
      if (p === undefined) diagnostics.push(diagnosticAt(index.at(['network', 'netmask']), 'net/inconsistent-netmask', 'error', `netmask "${spec.network.netmask}" is not a contiguous dotted netmask`, `remove it (derived from cidr: ${formatIPv4(net.netmask)})`));
      else if (p !== net.prefix) diagnostics.push(diagnosticAt(index.at(['network', 'netmask']), 'net/inconsistent-netmask', 'error', `netmask ${spec.network.netmask} is /${p} but network.cidr is /${net.prefix}`, `remove netmask or make it ${formatIPv4(net.netmask)}`));
    }
  }
  const checkIp = (value: string, ref: SourceRef, what: string): number | undefined => {
    const ip = parseIPv4(value);
    if (ip === undefined) {
      diagnostics.push(diagnosticAt(ref, value.includes('/') ? 'net/address-with-prefix' : 'net/malformed-address', 'error', `${what} "${value}" is not an IPv4 address`, value.includes('/') ? 'give the bare address; the prefix comes from network.cidr' : 'write a dotted IPv4 address such as 10.0.0.2'));
    }
    return ip;
  };
  const headRef = index.at(['head', 'address']);
  const headIp = checkIp(spec.head.address, headRef, 'head.address');
  if (net && headIp !== undefined && !inNetwork(headIp, net)) {
    diagnostics.push(diagnosticAt(headRef, 'net/address-outside-network', 'error', `head.address ${spec.head.address} is outside ${spec.network.cidr}`, 'use an address inside network.cidr or widen it'));
  }
  if (spec.network.gateway !== undefined) {
    const g = checkIp(spec.network.gateway, index.at(['network', 'gateway']), 'network.gateway');
    if (net && g !== undefined && !inNetwork(g, net)) diagnostics.push(diagnosticAt(index.at(['network', 'gateway']), 'net/address-outside-network', 'error', `network.gateway ${spec.network.gateway} is outside ${spec.network.cidr}`, 'a gateway must be on the network it serves'));
  }
  (spec.network.dns ?? []).forEach((d, i) => checkIp(d, index.at(['network', 'dns', i]), 'network.dns entry'));

  // Inventory.
  let inventory: InventoryRow[] = [];
  if (spec.inventory) {
    const inv = aux.inventory;
    if (inv?.problem) diagnostics.push(inputProblemDiagnostic(index.at(['inventory']), { kind: 'inventory' }, inv.problem));
    else if (!inv || inv.text === undefined) {
      diagnostics.push(diagnosticAt(index.at(['inventory']), 'inventory/missing-file', 'error', `inventory file "${spec.inventory}" does not exist`, 'create it beside the spec (header row: name,mac,address) or remove the inventory key'));
    } else {
      const parsed = parseInventory(inv.file, inv.text);
      inventory = parsed.rows;
      for (const d of parsed.diagnostics) diagnostics.push(d);
    }
  }

  // Overlays: built-ins by name, site ones from template folders next to the spec.
  const overlays: Record<string, OverlayModel> = {};
  for (const [name, kind] of Object.entries(builtins)) overlays[name] = { name, kind, builtin: true, files: [], at: index.at(['warewulf']) };
  for (const [name, o] of Object.entries(spec.overlays ?? {})) {
    const at = index.at(['overlays', name, 'kind']);
    const source = siteOverlayFolder(name, o, builtins);
    if (source === undefined) {
      overlays[name] = { name, kind: o.kind, builtin: true, files: [], at };
      continue;
    }
    const files = aux.overlayFiles[name];
    const problems = aux.overlayProblems?.[name] ?? [];
    if (problems.length > 0) {
      const named = index.has(['overlays', name, 'source']) ? index.at(['overlays', name, 'source']) : index.keyAt(['overlays', name]);
      for (const p of problems) diagnostics.push(inputProblemDiagnostic(named, { kind: p.entry ? 'overlay-entry' : 'overlay', name }, p.problem));
    }
    if (files === undefined && !problems.some((p) => !p.entry)) {
      diagnostics.push(diagnosticAt(index.at(['overlays', name]), 'overlay/missing-source', 'error', `site overlay "${name}" has no template folder at ${source}`, `create ${source}/ beside the spec (files inside it are laid out as on the node) or set overlays.${name}.source`));
    }
    const symlinks = aux.overlaySymlinks?.[name];
    const owners: Record<string, { user: string; group: string; at: SourceRef }> = {};
    for (const [path, who] of Object.entries(o.owners ?? {})) {
      const [user, group] = who.split(':');
      owners[path.replace(/^\/+/, '').replace(/\/+$/, '')] = { user: user!, group: group ?? user!, at: index.at(['overlays', name, 'owners', path]) };
    }
    const modes: Record<string, { mode: number; at: SourceRef }> = {};
    for (const [path, m] of Object.entries(o.modes ?? {})) modes[path.replace(/^\/+/, '').replace(/\/+$/, '')] = { mode: parseInt(m, 8), at: index.at(['overlays', name, 'modes', path]) };
    overlays[name] = { name, kind: o.kind, builtin: false, source, files: [...(files ?? [])].sort(), ...(symlinks && Object.keys(symlinks).length > 0 ? { symlinks } : {}), ...(Object.keys(owners).length > 0 ? { owners } : {}), ...(Object.keys(modes).length > 0 ? { modes } : {}), at };
  }
  const baseOverlays = spec.warewulf?.base_overlays ?? defaultBaseOverlays(spec.network.stack);
  baseOverlays.forEach((o, i) => {
    if (overlays[o]?.builtin && !HERD_BUILT_OVERLAYS.has(o)) diagnostics.push(notBuilt(o, index.at(['warewulf', 'base_overlays', i])));
    if (!overlays[o]) {
      const guess = didYouMean(o, Object.keys(overlays));
      diagnostics.push(diagnosticAt(index.at(['warewulf', 'base_overlays', i]), 'ref/unknown-overlay', 'error', `overlay "${o}" does not exist in Warewulf ${version} and is not defined under overlays:`, guess ? `did you mean "${guess}"?` : 'define it under overlays: with a template folder'));
    }
  });

  // Images.
  const images: Record<string, ImageModel> = {};
  for (const [name, im] of Object.entries(spec.images)) {
    const p = ['images', name];
    if (!/^[\w\-.:]+$/.test(name)) diagnostics.push(diagnosticAt(index.keyAt(p), 'image/invalid-name', 'error', `image name "${name}" has characters Warewulf does not allow`, 'use letters, digits, _, -, . and : only'));
    const src = parseImageSource(im.source);
    if (!src) {
      diagnostics.push(diagnosticAt(index.at([...p, 'source']), 'image/source-syntax', 'error', `image source "${im.source}" has no known transport`, 'use docker://registry/repo:tag@sha256:..., oci:DIR, oci-archive:FILE, docker-archive:FILE, dir:ROOTFS or tar:ROOTFS.tar'));
    }
    const users: Record<string, number> = {};
    const groups: Record<string, number> = {};
    for (const [who, pin] of Object.entries(im.pins ?? {})) {
      if (typeof pin === 'number') {
        users[who] = pin;
        groups[who] = pin;
      } else {
        if (pin.uid !== undefined) users[who] = pin.uid;
        if (pin.gid !== undefined) groups[who] = pin.gid;
      }
    }
    images[name] = {
      name,
      source: im.source,
      sourceKind: src?.kind ?? 'dir',
      sourceRef: src?.ref ?? im.source,
      kernel: { ...(im.kernel?.version ? { version: im.kernel.version } : {}), args: im.kernel?.args ?? ['quiet', 'crashkernel=no', 'net.ifnames=1'], copyToBoot: im.kernel?.copy_to_boot ?? false },
      pins: { users, groups },
      files: (im.files ?? []).map((f, i) => ({
        path: f.path,
        type: f.type ?? (f.target !== undefined ? 'symlink' : f.content !== undefined ? 'file' : 'directory'),
        ...(f.content !== undefined ? { content: f.content } : {}),
        ...(f.target !== undefined ? { target: f.target } : {}),
        mode: typeof f.mode === 'number' ? f.mode : f.mode !== undefined ? parseInt(f.mode, 8) : f.content === undefined && f.target === undefined ? 0o755 : 0o644,
        owner: f.owner ?? 'root',
        group: f.group ?? f.owner ?? 'root',
        at: index.at([...p, 'files', i]),
      })),
      requires: im.requires ?? [],
      exclude: im.exclude ?? [],
      ...(im.size !== undefined ? { sizeMiB: parseSizeMiB(im.size) } : {}),
      nodes: [],
      at: { self: index.keyAt(p), source: index.at([...p, 'source']), kernel: index.at([...p, 'kernel']), pins: index.at([...p, 'pins']), requires: index.has([...p, 'requires']) ? index.at([...p, 'requires']) : index.keyAt(p), ...(im.size !== undefined ? { size: index.at([...p, 'size']) } : {}) },
    };
  }

  // Nodes.
  const res = resolveNodes(spec, index, inventory, aux.inventory?.file, net, dropped);
  for (const d of res.diagnostics) diagnostics.push(d);
  const finishCtx: FinishCtx = { spec, index, net, overlays, images, baseOverlays, diagnostics, dropped, version, overlaySplits: new Map(), kernelArgs: new Map(), reportedOverlays: new Set(), networkModels: new WeakMap(), netmask: net ? formatIPv4(prefixToNetmask(net.prefix)) : '' };
  const nodes = res.nodes.map((d) => finishNode(d, finishCtx));

  // Slurm partitions.
  const partitions: PartitionModel[] = [];
  // Membership by node position, not by name: nodes are sorted and distinct, so a partition's members in node order are
  // already in hostlist order, and 100,000 nodes need no per-partition set of names, sort, or name-keyed map (issue #17).
  const nodeIndex = new Map<string, number>();
  nodes.forEach((n, i) => nodeIndex.set(n.name, i));
  const memberships: Uint8Array[] = [];
  // Nodes whose entry was dropped for a shape error are defined, just unreadable: naming them is no second error.
  const droppedNodes = new Set([...dropped].filter((k) => k.startsWith('nodes:')).flatMap((k) => { const ex = expandHostlist(k.slice('nodes:'.length)); return ex.ok ? ex.names : []; }));
  const byProfile = new Map<string, number[]>();
  nodes.forEach((n, i) => { for (const p of n.profiles) { const list = byProfile.get(p); if (list) list.push(i); else byProfile.set(p, [i]); } });
  const slurm = spec.slurm;
  for (const [pname, part] of Object.entries(slurm?.partitions ?? {})) {
    const pp = ['slurm', 'partitions', pname];
    const member = new Uint8Array(nodes.length);
    const exprs = part.nodes === undefined ? [] : Array.isArray(part.nodes) ? part.nodes : [part.nodes];
    exprs.forEach((expr, i) => {
      const ref = index.at(Array.isArray(part.nodes) ? [...pp, 'nodes', i] : [...pp, 'nodes']);
      const ex = expandHostlist(expr);
      if (!ex.ok) {
        diagnostics.push(diagnosticAt(ref, 'node/hostlist-syntax', 'error', `"${expr}": ${ex.error.message}`, 'write a Slurm hostlist such as c[001-128]'));
        return;
      }
      const unknown: string[] = [];
      for (const n of ex.names) {
        const k = nodeIndex.get(n);
        if (k !== undefined) member[k] = 1;
        else if (!droppedNodes.has(n)) unknown.push(n);
      }
      if (unknown.length > 0) {
        const sample = unknown.slice(0, 5).join(', ') + (unknown.length > 5 ? `, … (${unknown.length} in all)` : '');
        diagnostics.push(diagnosticAt(ref, 'ref/unknown-node', 'error', `partition ${pname} names nodes that are not defined: ${sample}`, 'define them under nodes: or fix the hostlist (slurmctld refuses to start on an unknown node)'));
      }
    });
    (part.profiles ?? []).forEach((prof, i) => {
      if (!(spec.profiles ?? {})[prof]) {
        if (!dropped.has(`profiles:${prof}`)) diagnostics.push(diagnosticAt(index.at([...pp, 'profiles', i]), 'ref/unknown-profile', 'error', `profile "${prof}" is not defined`, 'define it under profiles: or remove it'));
        return;
      }
      for (const k of byProfile.get(prof) ?? []) member[k] = 1;
    });
    const members: string[] = [];
    member.forEach((m, k) => {
      if (m) members.push(nodes[k]!.name);
    });
    memberships.push(member);
    if (members.length === 0 && exprs.length + (part.profiles?.length ?? 0) === 0) {
      diagnostics.push(diagnosticAt(index.keyAt(pp), 'slurm/empty-partition', 'error', `partition ${pname} has no nodes`, 'give it nodes: (a hostlist) or profiles:'));
    }
    const time = (field: 'max_time' | 'default_time'): string | undefined => {
      const v = part[field];
      if (v === undefined) return undefined;
      const t = parseSlurmTime(v);
      return t.ok ? t.canonical : undefined;
    };
    partitions.push({
      name: pname,
      nodes: members,
      default: part.default ?? false,
      maxTime: time('max_time') ?? 'UNLIMITED',
      ...(time('default_time') ? { defaultTime: time('default_time')! } : {}),
      priorityTier: part.priority_tier ?? 1,
      ...(part.preempt_mode ? { preemptMode: part.preempt_mode } : {}),
      state: part.state ?? 'UP',
      extra: Object.fromEntries(Object.entries(part.extra ?? {}).map(([k, v]) => [k, String(v)])),
      at: index.keyAt(pp),
    });
  }
  const tiers = new Set(partitions.map((p) => p.priorityTier));
  const preemptMode = slurm?.preempt_mode ?? (tiers.size > 1 ? 'REQUEUE' : 'OFF');
  // Nodes in the same partitions share one list: a cluster has a handful of distinct lists, not one per node.
  const lists = new Map<string, string[]>();
  nodes.forEach((n, k) => {
    let key = '';
    for (let p = 0; p < partitions.length; p++) if (memberships[p]![k]) key += `${p},`;
    let list = lists.get(key);
    if (!list) lists.set(key, (list = partitions.filter((_, p) => memberships[p]![k]).map((p) => p.name)));
    (n as { partitions: readonly string[] }).partitions = list;
  });
  const finalNodes = nodes;
  for (const n of finalNodes) {
    const im = images[n.image];
    if (im) (im.nodes as string[]).push(n.name);
  }

  const exportsAll: NfsMountModel[] = Object.entries(spec.nfs ?? {}).map(([mountPoint, m]) => ({
    mountPoint,
    server: m.server ?? spec.head.address,
    export: m.export ?? mountPoint,
    options: m.options ?? 'defaults,nofail,_netdev',
    exportOptions: m.export_options ?? 'rw,sync,no_subtree_check',
    at: index.keyAt(['nfs', mountPoint]),
  }));
  const nfs = exportsAll.filter((m) => spec.nfs?.[m.mountPoint]?.mount !== false);

  // The model is built even when resolution found errors, so the semantic rules can still report everything at once;
  // callers hand it to later stages only when no error was found.
  if (!net || headIp === undefined) return { diagnostics };

  const model: ClusterModel = {
    name: spec.name,
    specFile,
    warewulf: { version, layout, stateDir: layout === 'openhpc' ? 'srv/warewulf' : 'var/lib/warewulf', tftpDir: layout === 'openhpc' ? 'srv/tftpboot' : 'var/lib/tftpboot', baseOverlays, clusterName: spec.warewulf?.cluster_name ?? spec.name,
      autobuildOverlays: spec.warewulf?.autobuild_overlays ?? false, dhcpTemplate: spec.warewulf?.dhcp_template ?? 'static', sshKeyTypes: spec.warewulf?.ssh_key_types ?? HERD_SSH_KEY_TYPES,
      at: index.at(['warewulf']) },
    head: { name: spec.head.name, address: spec.head.address, files: resolveHeadFiles(spec, index, diagnostics), at: index.at(['head']) },
    network: {
      cidr: `${formatIPv4(net.network)}/${net.prefix}`,
      network: formatIPv4(net.network),
      prefix: net.prefix,
      netmask: formatIPv4(net.netmask),
      broadcast: formatIPv4(net.broadcast),
      ...(spec.network.gateway ? { gateway: spec.network.gateway } : {}),
      dns: spec.network.dns ?? [],
      ...(spec.network.domain ? { domain: spec.network.domain } : {}),
      interface: spec.network.interface,
      trustedZone: spec.network.trusted_zone ?? true,
      trustSource: spec.network.trust_source ?? true,
      stack: spec.network.stack ?? 'NetworkManager',
      ...(spec.network.mtu !== undefined ? { mtu: spec.network.mtu } : {}),
      netname: spec.network.netname ?? 'default',
      dhcpRange: spec.network.dhcp_range ?? defaultDhcpRange(net, [headIp, ...finalNodes.map((n) => parseIPv4(n.address)!), ...(spec.network.gateway ? [parseIPv4(spec.network.gateway)!] : [])], finalNodes.length),
      at: index.at(['network']),
    },
    nfs,
    exports: exportsAll,
    images,
    overlays,
    profiles: Object.fromEntries(Object.keys(spec.profiles ?? {}).map((p) => [p, { name: p, at: index.keyAt(['profiles', p]) }])),
    nodes: finalNodes,
    slurm: {
      clusterName: slurm?.cluster_name ?? spec.name,
      version: slurm?.version ?? DEFAULT_SLURM_VERSION,
      returnToService: slurm?.return_to_service ?? 2,
      configless: slurm?.configless ?? false,
      ...(slurm?.reboot_batch_size !== undefined ? { rebootBatchSize: slurm.reboot_batch_size } : {}),
      preemptType: preemptMode === 'OFF' ? 'preempt/none' : 'preempt/partition_prio',
      preemptMode,
      partitions,
      extra: Object.fromEntries(Object.entries(slurm?.extra ?? {}).flatMap(([k, v]) => (v === null ? [] : [[k, String(v)]]))),
      omit: Object.entries(slurm?.extra ?? {}).flatMap(([k, v]) => (v === null ? [k] : [])),
      at: index.at(['slurm']),
    },
  };
  return { model: deepFreeze(model), diagnostics };
}

/**
 * A DHCP pool for PXE/iPXE that never overlaps static addresses: the largest free block at the top of the network,
 * at least twice the node count when it fits (PXE and iPXE each take a lease: warewulf#802).
 */
export function defaultDhcpRange(net: IPv4Network, used: number[], nodeCount: number): { start: string; end: string } {
  const taken = new Set(used);
  const lastHost = net.broadcast - 1;
  let end = lastHost;
  while (end > net.network && taken.has(end)) end--;
  let start = end;
  const want = Math.max(32, nodeCount * 2);
  while (start - 1 > net.network && !taken.has(start - 1) && end - start + 1 < want) start--;
  return { start: formatIPv4(start), end: formatIPv4(end) };
}

/**
 * Where each head file may be read from. herd also runs in CI on pull requests anyone can open: a spec naming
 * /etc/shadow as its "munge key" would pack that file into every node's overlay. So each head input is held to the
 * folder its kind lives in on a Warewulf head; anything else is an error on the line that names it.
 */
const HEAD_FILE_RULES: Readonly<Record<string, { readonly def: string; readonly ok: (p: string) => boolean; readonly where: string; readonly stateOnly?: boolean }>> = {
  munge_key: { def: '/etc/munge/munge.key', ok: (p) => /^\/etc\/munge\/[^/]+$/.test(p), where: 'a file in /etc/munge/', stateOnly: true },
  ssh_host_keys: { def: '/etc/warewulf/keys', ok: (p) => /^\/etc\/(warewulf|ssh)(\/[^/]+)*$/.test(p), where: 'a folder under /etc/warewulf/ or /etc/ssh/', stateOnly: true },
  authorized_keys: { def: '/root/.ssh/authorized_keys', ok: (p) => /^\/(root|home\/[^/]+)\/\.ssh\/authorized_keys2?$/.test(p), where: "a user's ~/.ssh/authorized_keys" },
  passwd: { def: '/etc/passwd', ok: (p) => p === '/etc/passwd', where: '/etc/passwd on the head' },
  group: { def: '/etc/group', ok: (p) => p === '/etc/group', where: '/etc/group on the head' },
  warewulf_overlays: { def: '/usr/share/warewulf/overlays', ok: (p) => /^(\/[^/]+)*\/warewulf\/overlays$/.test(p), where: "a Warewulf distribution overlay folder (…/warewulf/overlays)", stateOnly: true },
};

/**
 * A relative head path names a file in the spec folder: a stand-in head for a laptop or CI (clusters/demo keeps one). It is
 * read through the spec folder, so it cannot reach anything else. Keys and the Warewulf install must lie in the spec
 * folder's `.herd/` state folder, which is never committed: a secret beside the spec would end up in git.
 */
function specRelativeHeadPath(raw: string, stateOnly: boolean): { path: string } | { problem: string } {
  const norm = posix.normalize(raw).replace(/\/+$/, '');
  if (norm === '..' || norm.startsWith('../')) return { problem: 'climbs out of the spec folder' };
  if (stateOnly && !norm.startsWith('.herd/')) return { problem: "is in the spec folder but not under its .herd/ state folder: keys there would be committed to git" };
  return { path: norm };
}

/** A Warewulf distribution overlay herd does not build (netplan, localtime, sfdisk...): say what to do instead. */
function notBuilt(name: string, at: SourceRef | undefined): Diagnostic {
  return diagnosticAt(at, 'overlay/not-built-by-herd', 'error', `herd does not build Warewulf's ${name} overlay: herd renders every node's overlays itself, from the spec`, `remove ${name} from the list (herd builds ${[...HERD_BUILT_OVERLAYS].join(', ')}), or define a site overlay named ${name} under overlays: with your own files`);
}

function resolveHeadFiles(spec: ClusterSpec, index: PositionIndex, diagnostics: Diagnostic[]): HeadModel['files'] {
  const users = spec.head.users ?? {};
  const given: Record<string, string | undefined> = {
    munge_key: spec.head.munge_key, ssh_host_keys: spec.head.ssh_host_keys, authorized_keys: spec.head.authorized_keys,
    passwd: users.passwd, group: users.group, warewulf_overlays: spec.head.warewulf_overlays,
  };
  const ref = (key: string): HeadFileRef => {
    const rule = HEAD_FILE_RULES[key]!;
    const keyPath = key === 'passwd' || key === 'group' ? ['head', 'users', key] : ['head', key];
    const at = index.has(keyPath) ? index.at(keyPath) : index.at(['head']);
    const raw = given[key];
    if (raw === undefined) return { path: rule.def, inSpec: false, at };
    const norm = raw.startsWith('/') ? posix.normalize(raw).replace(/\/+$/, '') : raw;
    if (!raw.startsWith('/')) {
      const rel = specRelativeHeadPath(raw, rule.stateOnly === true);
      if ('path' in rel) return { path: rel.path, inSpec: true, at };
      diagnostics.push(diagnosticAt(at, 'paths/head-file-not-allowed', 'error', `head.${keyPath.slice(1).join('.')} "${raw}" ${rel.problem}`, `use ${rule.where}, e.g. ${rule.def}${rule.stateOnly ? ', or a stand-in head under the spec folder\'s .herd/ (e.g. .herd/head' + rule.def + ')' : ', or a file inside the spec folder'}`));
      return { path: rule.def, inSpec: false, at };
    }
    if (!rule.ok(norm)) {
      diagnostics.push(diagnosticAt(at, 'paths/head-file-not-allowed', 'error', `head.${keyPath.slice(1).join('.')} "${raw}" is not where herd may read it from: overlays are built in CI on pull requests too, and whatever this names is packed into every node`, `use ${rule.where}, e.g. ${rule.def}`));
      return { path: rule.def, inSpec: false, at };
    }
    return { path: norm, inSpec: false, at };
  };
  return {
    mungeKey: ref('munge_key'), sshHostKeys: ref('ssh_host_keys'), authorizedKeys: ref('authorized_keys'),
    passwd: ref('passwd'), group: ref('group'), minId: users.min_id ?? 1000, warewulfOverlays: ref('warewulf_overlays'),
  };
}

/** The image's kernel arguments, then each kernel_args item in order: `~arg` removes every `arg` so far, others are appended. */
function kernelArgsOf(d: DraftNode, c: FinishCtx): readonly string[] {
  const base = (d.image !== undefined ? c.images[d.image]?.kernel.args : undefined) ?? [];
  if (d.kernelArgs.length === 0) return base;
  const key = `${d.image ?? ''}\u0000${d.kernelArgs.join('\u0000')}`;
  let args = c.kernelArgs.get(key);
  if (!args) {
    const out = [...base];
    for (const a of d.kernelArgs) {
      if (a.startsWith('~')) {
        for (let i = out.length - 1; i >= 0; i--) if (out[i] === a.slice(1)) out.splice(i, 1);
      } else out.push(a);
    }
    args = out;
    c.kernelArgs.set(key, args);
  }
  return args;
}

interface FinishCtx {
  spec: ClusterSpec;
  index: PositionIndex;
  net: IPv4Network | undefined;
  overlays: Record<string, OverlayModel>;
  images: Record<string, ImageModel>;
  baseOverlays: readonly string[];
  diagnostics: Diagnostic[];
  dropped: ReadonlySet<string>;
  version: WarewulfVersion;
  overlaySplits: Map<string, { system: string[]; runtime: string[]; unknown: string[] }>;
  /** A node's kernel arguments by image and kernel_args items: nodes that boot alike share one array. */
  kernelArgs: Map<string, readonly string[]>;
  netmask: string;
  reportedOverlays: Set<string>;
  /** Resolved network devices by the merged record they came from (the nodes of an entry share it). */
  networkModels: WeakMap<Record<string, DraftNetwork>, NetworkDeviceModel[]>;
}

const NO_NETWORKS: readonly NetworkDeviceModel[] = Object.freeze([]);

/** A node's other network devices, sorted by netname; values are kept as written (rules check them), MACs lower-cased when well-formed. */
function networkModels(nets: Record<string, DraftNetwork>, c: FinishCtx): readonly NetworkDeviceModel[] {
  const names = Object.keys(nets);
  if (names.length === 0) return NO_NETWORKS;
  const known = c.networkModels.get(nets);
  if (known) return known;
  const out: NetworkDeviceModel[] = names.sort().map((name) => {
    const f = nets[name]!.fields;
    const m: { -readonly [K in keyof NetworkDeviceModel]: NetworkDeviceModel[K] } = { name, type: (f.type as NetworkDeviceModel['type'] | undefined) ?? 'ethernet', tags: f.tags ?? {}, at: nets[name]!.at };
    if (typeof f.device === 'string') m.device = f.device;
    if (typeof f.mac === 'string') m.mac = normalizeMac(f.mac) ?? f.mac;
    if (typeof f.address === 'string') m.address = f.address;
    if (typeof f.netmask === 'string') m.netmask = f.netmask;
    if (typeof f.gateway === 'string') m.gateway = f.gateway;
    if (typeof f.mtu === 'number') m.mtu = f.mtu;
    if (typeof f.onboot === 'boolean') m.onboot = f.onboot;
    if (typeof f.address6 === 'string') m.address6 = f.address6;
    if (typeof f.prefix6 === 'number') m.prefix6 = f.prefix6;
    if (typeof f.gateway6 === 'string') m.gateway6 = f.gateway6;
    return m;
  });
  c.networkModels.set(nets, out);
  return out;
}

function finishNode(d: DraftNode, c: FinishCtx): NodeModel {
  const at = d.at;
  const where = at.name!;
  if (d.image === undefined) {
    if (!d.unreported.has('image')) c.diagnostics.push(diagnosticAt(where, 'node/missing-image', 'error', `node ${d.name} has no image`, 'set image: on the node, a profile it uses, or defaults'));
  } else if (!c.images[d.image] && !c.dropped.has(`images:${d.image}`)) {
    const guess = didYouMean(d.image, Object.keys(c.images));
    c.diagnostics.push(diagnosticAt(at.image, 'ref/unknown-image', 'error', `image "${d.image}" is not defined (node ${d.name})`, guess ? `did you mean "${guess}"?` : `define it under images: (defined: ${Object.keys(c.images).join(', ') || 'none'})`));
  }
  let mac = '';
  if (d.mac === undefined) {
    if (!d.unreported.has('mac')) c.diagnostics.push(diagnosticAt(where, 'net/missing-mac', 'error', `node ${d.name} has no MAC address`, 'Warewulf recognises a PXE-booting node only by its MAC: set mac: or add a row to the inventory CSV'));
  } else {
    const m = normalizeMac(d.mac);
    if (!m) c.diagnostics.push(diagnosticAt(at.mac, 'net/malformed-mac', 'error', `"${d.mac}" is not a MAC address (node ${d.name})`, 'write six hex pairs separated by colons, e.g. 52:54:00:aa:00:01'));
    else {
      mac = m;
      const first = parseInt(m.slice(0, 2), 16);
      if (first & 1) c.diagnostics.push(diagnosticAt(at.mac, 'net/malformed-mac', 'error', `${d.mac} is a multicast MAC and cannot belong to a NIC (node ${d.name})`, 'check the MAC; the first byte of a NIC address is even'));
    }
  }
  let address = '';
  if (d.address === undefined) {
    if (!d.unreported.has('address')) c.diagnostics.push(diagnosticAt(where, 'net/missing-address', 'error', `node ${d.name} has no address`, 'set address: (a range takes its first address and counts up) or add an address column to the inventory'));
  } else {
    const ip = parseIPv4(d.address);
    if (ip === undefined) {
      const withPrefix = d.address.includes('/');
      c.diagnostics.push(diagnosticAt(at.address, withPrefix ? 'net/address-with-prefix' : 'net/malformed-address', 'error', `"${d.address}" is not an IPv4 address (node ${d.name})`, withPrefix ? 'give the bare address; the prefix comes from network.cidr for every node' : 'write a dotted IPv4 address such as 10.0.0.2'));
    } else {
      address = d.address;
      if (c.net && !inNetwork(ip, c.net)) {
        c.diagnostics.push(diagnosticAt(at.address, 'net/address-outside-network', 'error', `${d.address} (node ${d.name}) is outside ${c.spec.network.cidr}`, 'use an address inside network.cidr or widen it'));
      } else if (c.net && c.net.prefix < 31 && (ip === c.net.network || ip === c.net.broadcast)) {
        c.diagnostics.push(diagnosticAt(at.address, 'net/reserved-address', 'error', `${d.address} (node ${d.name}) is the ${ip === c.net.network ? 'network' : 'broadcast'} address of ${c.spec.network.cidr}`, 'pick a host address'));
      }
    }
  }
  // Overlays: the base list, then the merged node list; each lands in system or runtime by its definition.
  // Nodes of one entry share the same list, so the split is memoised (10,000 nodes, a handful of distinct lists).
  const memoKey = `${d.overlays.join('\n')}\u0000${d.removedOverlays.join('\n')}`;
  let split = c.overlaySplits.get(memoKey);
  if (!split) {
    const all: string[] = c.baseOverlays.filter((o) => !d.removedOverlays.includes(o));
    for (const o of d.overlays) if (!all.includes(o)) all.push(o);
    split = { system: [], runtime: [], unknown: [] };
    for (const o of all) {
      const def = c.overlays[o];
      if (!def) {
        if (!c.baseOverlays.includes(o)) split.unknown.push(o);
        continue;
      }
      (def.kind === 'system' ? split.system : split.runtime).push(o);
    }
    c.overlaySplits.set(memoKey, split);
  }
  for (const o of d.overlays) {
    if (!c.overlays[o]?.builtin || HERD_BUILT_OVERLAYS.has(o) || c.reportedOverlays.has(`${d.entry}|${o}`)) continue;
    c.reportedOverlays.add(`${d.entry}|${o}`);
    c.diagnostics.push(notBuilt(o, at.overlays));
  }
  for (const o of split.unknown) {
    if (c.reportedOverlays.has(`${d.entry}|${o}`)) continue;
    c.reportedOverlays.add(`${d.entry}|${o}`);
    const guess = didYouMean(o, Object.keys(c.overlays));
    c.diagnostics.push(diagnosticAt(at.overlays, 'ref/unknown-overlay', 'error', `overlay "${o}" is neither a Warewulf ${c.version} overlay nor defined under overlays: (node ${d.name})`, guess ? `did you mean "${guess}"?` : 'define it under overlays: with kind and a template folder'));
  }
  const systemOverlays = split.system;
  const runtimeOverlays = split.runtime;
  // CPU topology: fill in what is missing so Sockets*CoresPerSocket*ThreadsPerCore = CPUs.
  const sockets = d.sockets ?? 1;
  const threads = d.threadsPerCore ?? 1;
  const cores = d.coresPerSocket ?? (d.cpus !== undefined ? Math.max(1, Math.floor(d.cpus / (sockets * threads))) : 1);
  const cpus = d.cpus ?? sockets * cores * threads;
  // Built by assignment rather than conditional spreads: this runs once per node (10,000 at a time).
  const node: { -readonly [K in keyof NodeModel]: NodeModel[K] } = {
    name: d.name,
    entry: d.entry,
    profiles: d.profiles,
    image: d.image ?? '',
    systemOverlays,
    runtimeOverlays,
    mac,
    address,
    prefix: c.net?.prefix ?? 0,
    netmask: c.netmask,
    netname: d.netname ?? c.spec.network.netname ?? 'default',
    cpus,
    sockets,
    coresPerSocket: cores,
    threadsPerCore: threads,
    kernelArgs: kernelArgsOf(d, c),
    tags: d.tags,
    networks: networkModels(d.networks, c),
    slurm: d.slurm,
    partitions: [],
    at,
  };
  // The merged settings as they are (only keys the spec set; shared by the nodes of an entry unless each has its own address).
  if (d.ipmi) node.ipmi = d.ipmi;
  if (d.discoverable !== undefined) node.discoverable = d.discoverable;
  if (c.spec.network.gateway) node.gateway = c.spec.network.gateway;
  if (d.device) node.device = d.device;
  if (d.address6 !== undefined) node.address6 = d.address6;
  if (d.prefix6 !== undefined) node.prefix6 = d.prefix6;
  if (d.gateway6 !== undefined) node.gateway6 = d.gateway6;
  if (d.driver) node.driver = d.driver;
  if (d.memoryMiB !== undefined) node.memoryMiB = d.memoryMiB;
  if (d.gpus) node.gpus = { type: d.gpus.type, count: d.gpus.count, file: d.gpus.file ?? (d.gpus.count === 1 ? '/dev/nvidia0' : `/dev/nvidia[0-${d.gpus.count - 1}]`) };
  return node;
}
