// The node record (pure): the documented, versioned data a site overlay's `.hbs` templates see for one node
// (docs/overlay-templates.md). Templates render in strict mode, so an optional field is absent, never undefined: a
// template that prints one without testing it first fails on the node that lacks it instead of printing nothing.
import { realMemoryMiB } from '../compile/slurm-conf.ts';
import { deepFreeze, type ClusterModel, type NetworkDeviceModel, type NodeModel } from '../spec/model.ts';

/**
 * Bumped when a field is renamed, removed or changes meaning, so templates written against an older record can tell.
 * Adding a field keeps the version.
 */
export const NODE_RECORD_VERSION = 1;

export interface NetdevRecord {
  readonly device?: string;
  readonly mac: string;
  readonly address: string;
  readonly prefix: number;
  readonly netmask: string;
  readonly gateway?: string;
}

/** One of the node's other network devices: the model's fields without their source positions (adding a field keeps the version). */
export type NetworkRecord = Omit<NetworkDeviceModel, 'at'>;

export interface NodeRecord {
  readonly recordVersion: typeof NODE_RECORD_VERSION;
  readonly name: string;
  /** 1-based position in the cluster's node order (natural hostname order); not Warewulf's `.Id`, which is the name. */
  readonly id: number;
  readonly cluster: string;
  readonly image: string;
  readonly profiles: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
  readonly address: string;
  readonly prefix: number;
  readonly netmask: string;
  /** The address with its prefix, e.g. `10.0.0.2/24`. */
  readonly cidr: string;
  readonly gateway?: string;
  readonly mac: string;
  readonly device?: string;
  readonly dns: readonly string[];
  readonly domain?: string;
  readonly mtu?: number;
  readonly netdevs: { readonly default: NetdevRecord };
  /** IPv6 on the provisioning NIC (address6, prefix6, gateway6), each absent when unset. */
  readonly address6?: string;
  readonly prefix6?: number;
  readonly gateway6?: string;
  /** The node's other network devices (spec `networks:`), sorted by netname; optional fields absent when unset. */
  readonly networks: readonly NetworkRecord[];
  readonly head: { readonly name: string; readonly address: string };
  readonly partitions: readonly string[];
  readonly slurm: {
    readonly cpus: number;
    readonly sockets: number;
    readonly coresPerSocket: number;
    readonly threadsPerCore: number;
    /** What slurm.conf promises jobs (RealMemory); absent when the node's memory is not set. */
    readonly realMemoryMiB?: number;
    readonly features: readonly string[];
    readonly gpus?: { readonly type: string; readonly count: number; readonly file: string };
  };
  readonly nfs: readonly { readonly mountPoint: string; readonly server: string; readonly export: string; readonly options: string }[];
  /** Every node of the cluster, in node order (one array shared by every record of a model). */
  readonly nodes: readonly { readonly name: string; readonly address: string }[];
}

/** What every record of one model shares: built once per model, not once per node (10,000 nodes share one `nodes`). */
interface Shared {
  readonly head: NodeRecord['head'];
  readonly nfs: NodeRecord['nfs'];
  readonly nodes: NodeRecord['nodes'];
  readonly ids: ReadonlyMap<string, number>;
}

const sharedByModel = new WeakMap<ClusterModel, Shared>();

function shared(model: ClusterModel): Shared {
  let s = sharedByModel.get(model);
  if (s === undefined) {
    s = deepFreeze({
      head: { name: model.head.name, address: model.head.address },
      nfs: model.nfs.map((m) => ({ mountPoint: m.mountPoint, server: m.server, export: m.export, options: m.options })),
      nodes: model.nodes.map((n) => ({ name: n.name, address: n.address })),
      ids: new Map(model.nodes.map((n, i) => [n.name, i + 1])),
    });
    sharedByModel.set(model, s);
  }
  return s;
}

/** The template data of `node`, which must be one of `model.nodes`. */
export function nodeRecord(model: ClusterModel, node: NodeModel): NodeRecord {
  const s = shared(model);
  const net = model.network;
  const mem = realMemoryMiB(model, node);
  const netdev: NetdevRecord = {
    ...(node.device !== undefined ? { device: node.device } : {}),
    mac: node.mac,
    address: node.address,
    prefix: node.prefix,
    netmask: node.netmask,
    ...(node.gateway !== undefined ? { gateway: node.gateway } : {}),
  };
  return deepFreeze({
    recordVersion: NODE_RECORD_VERSION,
    name: node.name,
    id: s.ids.get(node.name) ?? 0,
    cluster: model.name,
    image: node.image,
    profiles: node.profiles,
    tags: node.tags,
    address: node.address,
    prefix: node.prefix,
    netmask: node.netmask,
    cidr: `${node.address}/${node.prefix}`,
    ...(node.gateway !== undefined ? { gateway: node.gateway } : {}),
    mac: node.mac,
    ...(node.device !== undefined ? { device: node.device } : {}),
    dns: net.dns,
    ...(net.domain !== undefined ? { domain: net.domain } : {}),
    ...(net.mtu !== undefined ? { mtu: net.mtu } : {}),
    netdevs: { default: netdev },
    ...(node.address6 !== undefined ? { address6: node.address6 } : {}),
    ...(node.prefix6 !== undefined ? { prefix6: node.prefix6 } : {}),
    ...(node.gateway6 !== undefined ? { gateway6: node.gateway6 } : {}),
    networks: node.networks.map(({ at: _at, ...d }) => d),
    head: s.head,
    partitions: node.partitions,
    slurm: {
      cpus: node.cpus,
      sockets: node.sockets,
      coresPerSocket: node.coresPerSocket,
      threadsPerCore: node.threadsPerCore,
      ...(mem !== undefined ? { realMemoryMiB: mem } : {}),
      features: node.slurm.features,
      ...(node.gpus !== undefined ? { gpus: { type: node.gpus.type, count: node.gpus.count, file: node.gpus.file } } : {}),
    },
    nfs: s.nfs,
    nodes: s.nodes,
  });
}
