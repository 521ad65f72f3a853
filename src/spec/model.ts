// The resolved cluster model (pure types): the one immutable value every later stage compiles from.
// Every value that came from the spec keeps a SourceRef so later stages can point errors at the line that caused it.
import type { SourceRef } from '../diagnostics/diagnostic.ts';
import type { SlurmVersion } from './slurm-keys.ts';

export type WarewulfVersion = '4.6.0' | '4.6.1' | '4.6.2' | '4.6.3' | '4.6.4' | '4.6.5';
export type WarewulfLayout = 'upstream' | 'openhpc';

export interface WarewulfModel {
  readonly version: WarewulfVersion;
  readonly layout: WarewulfLayout;
  /** Warewulf state dir: /var/lib/warewulf (upstream) or /srv/warewulf (OpenHPC), without leading slash. */
  readonly stateDir: string;
  readonly tftpDir: string;
  readonly baseOverlays: readonly string[];
  /** `cluster name` on every node in nodes.conf; '' for none (warewulf.cluster_name, default the spec's name). */
  readonly clusterName: string;
  /** warewulf.conf `autobuild overlays` (warewulf.autobuild_overlays, default false). */
  readonly autobuildOverlays: boolean;
  /** warewulf.conf `dhcp: template`, which the head's DHCP files follow (warewulf.dhcp_template, default static). */
  readonly dhcpTemplate: 'static' | 'default';
  /** warewulf.conf `ssh: key types` (warewulf.ssh_key_types, default ed25519, ecdsa, rsa). */
  readonly sshKeyTypes: readonly string[];
  readonly at: SourceRef;
}

export interface NetworkModel {
  readonly cidr: string;
  readonly network: string;
  readonly prefix: number;
  readonly netmask: string;
  readonly broadcast: string;
  readonly gateway?: string;
  readonly dns: readonly string[];
  readonly domain?: string;
  readonly interface: string;
  /** herd writes firewalld's trusted zone (network.trusted_zone, default true). */
  readonly trustedZone: boolean;
  /** firewalld's trusted zone names the network as a source too (network.trust_source, default true). */
  readonly trustSource: boolean;
  /** The network stack herd configures on the nodes. */
  readonly stack: 'NetworkManager' | 'networkd';
  readonly mtu?: number;
  /** Warewulf's network name of the provisioning NIC (network.netname, default `default`). */
  readonly netname: string;
  readonly dhcpRange: { readonly start: string; readonly end: string };
  readonly at: SourceRef;
}

/** A file the overlays read when they are built: an absolute path on the head, or (accounts only) a file in the spec folder. */
export interface HeadFileRef {
  readonly path: string;
  /** true: relative to the spec folder (a spec input); false: absolute on the head, read under the head root. */
  readonly inSpec: boolean;
  readonly at: SourceRef;
}

export interface HeadModel {
  readonly name: string;
  readonly address: string;
  /** What the built-in overlays read on the head (under the head root herd is given, `/` by default). */
  readonly files: {
    readonly mungeKey: HeadFileRef;
    readonly sshHostKeys: HeadFileRef;
    readonly authorizedKeys: HeadFileRef;
    readonly passwd: HeadFileRef;
    readonly group: HeadFileRef;
    readonly minId: number;
    readonly warewulfOverlays: HeadFileRef;
  };
  readonly at: SourceRef;
}

export interface NfsMountModel {
  readonly mountPoint: string;
  readonly server: string;
  readonly export: string;
  readonly options: string;
  readonly exportOptions: string;
  readonly at: SourceRef;
}

export interface ImageFileModel {
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink';
  readonly content?: string;
  readonly target?: string;
  readonly mode: number;
  readonly owner: string;
  readonly group: string;
  readonly at: SourceRef;
}

export type ImageSourceKind = 'docker' | 'oci' | 'oci-archive' | 'docker-archive' | 'dir' | 'tar';

export interface ImageModel {
  readonly name: string;
  readonly source: string;
  readonly sourceKind: ImageSourceKind;
  /** Location part of the source (registry reference or path relative to the spec dir). */
  readonly sourceRef: string;
  readonly kernel: { readonly version?: string; readonly args: readonly string[]; readonly copyToBoot: boolean };
  readonly pins: { readonly users: Readonly<Record<string, number>>; readonly groups: Readonly<Record<string, number>> };
  readonly files: readonly ImageFileModel[];
  readonly requires: readonly string[];
  readonly exclude: readonly string[];
  readonly sizeMiB?: number;
  /** Nodes booting this image, sorted. */
  readonly nodes: readonly string[];
  readonly at: { readonly self: SourceRef; readonly source: SourceRef; readonly kernel: SourceRef; readonly pins: SourceRef; readonly requires: SourceRef; readonly size?: SourceRef };
}

export type OverlayKind = 'system' | 'runtime';

export interface OverlayModel {
  readonly name: string;
  readonly kind: OverlayKind;
  readonly builtin: boolean;
  /** Site template folder relative to the spec dir (site overlays only). */
  readonly source?: string;
  /** Entries of the template folder that are not directories, relative to it (site overlays only); symlinks included. */
  readonly files: readonly string[];
  /**
   * The symlinks among `files` (path -> link target, as stored; never followed: a systemd `.wants` link names a path on the
   * node). Their bytes are not in the spec's inputs; the regular files' are.
   */
  readonly symlinks?: Readonly<Record<string, string>>;
  /** Owners set in the spec by path on the node (site overlays only). */
  readonly owners?: Readonly<Record<string, { readonly user: string; readonly group: string; readonly at: SourceRef }>>;
  /** Permission bits set in the spec by path on the node (site overlays only). */
  readonly modes?: Readonly<Record<string, { readonly mode: number; readonly at: SourceRef }>>;
  readonly at: SourceRef;
}

export interface GpuModel {
  readonly type: string;
  readonly count: number;
  readonly file: string;
}

/** A node's BMC as Warewulf's ipmi settings (the password never: only the head file that holds it). */
export interface IpmiModel {
  /** ipmi.password_file: an absolute path on the head, or relative to the spec folder (under .herd/). */
  readonly passwordFile?: string;
  readonly address?: string;
  readonly netmask?: string;
  readonly gateway?: string;
  readonly username?: string;
  readonly port?: string;
  readonly interface?: string;
  readonly escapechar?: string;
  readonly write?: boolean;
  readonly template?: string;
  readonly tags: Readonly<Record<string, string>>;
}

export type NetworkDeviceType = 'ethernet' | 'infiniband' | 'bond' | 'vlan';

/** A network device besides the provisioning NIC (a node's `networks:` entry after merging). */
export interface NetworkDeviceModel {
  /** Warewulf's network name (the nodes.conf netdev key). */
  readonly name: string;
  readonly type: NetworkDeviceType;
  readonly device?: string;
  /** Lower-case, colon-separated when well-formed. */
  readonly mac?: string;
  readonly address?: string;
  readonly netmask?: string;
  readonly gateway?: string;
  readonly mtu?: number;
  readonly onboot?: boolean;
  readonly address6?: string;
  readonly prefix6?: number;
  readonly gateway6?: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Where each field came from. */
  readonly at: Readonly<Record<string, SourceRef>>;
}

export interface NodeModel {
  readonly name: string;
  /** The spec's nodes key this node came from (a name or hostlist). */
  readonly entry: string;
  readonly profiles: readonly string[];
  readonly image: string;
  readonly systemOverlays: readonly string[];
  readonly runtimeOverlays: readonly string[];
  readonly mac: string;
  readonly address: string;
  readonly prefix: number;
  readonly netmask: string;
  readonly gateway?: string;
  readonly device?: string;
  /** Warewulf's network name of the provisioning NIC: the node's netname setting, else network.netname. */
  readonly netname: string;
  /** IPv6 on the provisioning NIC (none: IPv6 stays off there). */
  readonly address6?: string;
  readonly prefix6?: number;
  readonly gateway6?: string;
  /** The node's other network devices, sorted by name (shared by the nodes of one entry when they have no per-node values). */
  readonly networks: readonly NetworkDeviceModel[];
  readonly driver?: string;
  readonly memoryMiB?: number;
  readonly cpus: number;
  readonly sockets: number;
  readonly coresPerSocket: number;
  readonly threadsPerCore: number;
  readonly gpus?: GpuModel;
  /** Kernel arguments the node boots with: its image's, then kernel_args down the chain (`~arg` removes). */
  readonly kernelArgs: readonly string[];
  readonly ipmi?: IpmiModel;
  readonly discoverable?: boolean;
  readonly tags: Readonly<Record<string, string>>;
  readonly slurm: { readonly features: readonly string[]; readonly weight?: number; readonly extra: Readonly<Record<string, string>> };
  readonly partitions: readonly string[];
  /** Where each setting came from (defaults, a profile, or the node entry). */
  readonly at: Readonly<Record<string, SourceRef>>;
}

export interface PartitionModel {
  readonly name: string;
  readonly nodes: readonly string[];
  readonly default: boolean;
  readonly maxTime: string;
  readonly defaultTime?: string;
  readonly priorityTier: number;
  readonly preemptMode?: string;
  readonly state: string;
  readonly extra: Readonly<Record<string, string>>;
  readonly at: SourceRef;
}

export interface SlurmModel {
  readonly clusterName: string;
  /** Slurm release the configuration is written for (slurm.version, default 22.05). */
  readonly version: SlurmVersion;
  /** slurmd fetches its configuration from slurmctld (SlurmctldParameters=enable_configless, slurmd --conf-server). */
  readonly configless: boolean;
  /** herd rollout's batch size (slurm.reboot_batch_size); undefined: the rollout's default. */
  readonly rebootBatchSize?: number;
  readonly returnToService: number;
  readonly preemptType: 'preempt/none' | 'preempt/partition_prio';
  readonly preemptMode: string;
  readonly partitions: readonly PartitionModel[];
  readonly extra: Readonly<Record<string, string>>;
  /** General keys herd writes by default that slurm.extra sets to null: left out, so Slurm uses its own default. */
  readonly omit: readonly string[];
  readonly at: SourceRef;
}

export interface ProfileModel {
  readonly name: string;
  readonly at: SourceRef;
}

export interface ClusterModel {
  readonly name: string;
  readonly specFile: string;
  readonly warewulf: WarewulfModel;
  readonly head: HeadModel;
  readonly network: NetworkModel;
  /** NFS mounts on every node (spec nfs entries without `mount: false`). */
  readonly nfs: readonly NfsMountModel[];
  /** Every spec nfs entry, mounted or export-only, in spec order: what the head exports. */
  readonly exports: readonly NfsMountModel[];
  readonly images: Readonly<Record<string, ImageModel>>;
  readonly overlays: Readonly<Record<string, OverlayModel>>;
  readonly profiles: Readonly<Record<string, ProfileModel>>;
  /** Every node, sorted by hostname (natural order). */
  readonly nodes: readonly NodeModel[];
  readonly slurm: SlurmModel;
}

/** Freeze a value and everything under it, so no later stage can mutate the shared model. Shared sub-objects are visited once. */
export function deepFreeze<T>(v: T): T {
  const stack: unknown[] = [v];
  while (stack.length > 0) {
    const x = stack.pop();
    if (x === null || typeof x !== 'object' || Object.isFrozen(x)) continue;
    Object.freeze(x);
    if (Array.isArray(x)) {
      for (const item of x) if (item !== null && typeof item === 'object') stack.push(item);
    } else {
      for (const k in x) {
        const item = (x as Record<string, unknown>)[k];
        if (item !== null && typeof item === 'object') stack.push(item);
      }
    }
  }
  return v;
}
