// The cluster spec's shape, in zod (pure). Source of truth for schema/cluster.schema.json.
// Shape only: no refine/transform, because JSON Schema cannot carry them and ajv must agree with zod.
// Cross-field and value checks (addresses, MACs, hostlists, Slurm times) live in src/spec/rules with their own rule ids.
import { z } from 'zod';
import { WAREWULF_SSH_KEY_TYPES } from './warewulf-facts.ts';

export const API_VERSION = 'herd.dev/v1alpha1';

const name = z.string().min(1).describe('A name: letters, digits, dot, dash, underscore.');
const sizeString = z
  .string()
  .regex(/^\s*\d+(\.\d+)?\s*(B|K|M|G|T|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$/)
  .describe('A size such as 6GiB, 512MiB or 1.5TiB (binary units; a bare number is MiB).');
const size = z.union([z.number().int().nonnegative(), sizeString]);
const slurmTime = z
  .union([z.string(), z.number().int()])
  .describe('A Slurm time: minutes, M:S, H:M:S, D-H, D-H:M, D-H:M:S, or UNLIMITED. Note 2:00 is two minutes.');
const extras = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
  .describe('Slurm keys passed through verbatim (checked against the keys Slurm knows and the keys herd owns).');

/** slurm.extra: as extras, and null leaves out a general key herd would otherwise write (Slurm takes its own default). */
const globalExtras = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
  .describe('Slurm keys passed through verbatim (checked against the keys Slurm knows and the keys herd owns). null leaves out a key herd writes by default (its log and pid files, TaskPlugin...), so Slurm uses its own default: what herd import writes for a site that relies on the default.');

export const gpuSchema = z.strictObject({
  type: z.string().min(1).describe('GRES type, e.g. a100.'),
  count: z.number().int().min(1).max(64),
  file: z.string().optional().describe('Device files for gres.conf, default /dev/nvidia[0-(count-1)].'),
});

export const ipmiSchema = z
  .strictObject({
    address: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .describe("The BMC's IPv4 address; in a node entry for a range, the first address (the rest follow in order) or a list."),
    netmask: z.string().optional(),
    gateway: z.string().optional(),
    username: z.string().min(1).optional(),
    port: z.union([z.string().min(1), z.number().int().min(1).max(65535)]).optional(),
    interface: z.string().min(1).optional().describe('ipmitool interface, e.g. lanplus.'),
    escapechar: z.string().min(1).optional(),
    write: z.boolean().optional().describe("wwinit writes the address, netmask, gateway, user and VLAN into the BMC at boot (Warewulf's ipmi write)."),
    template: z.string().min(1).optional().describe("Warewulf's IPMI command template (wwctl power/console)."),
    tags: z.record(z.string(), z.string()).optional().describe('IPMI tags (vlan: the BMC VLAN wwinit sets).'),
    password_file: z.string().min(1).optional().describe("The BMC password's file on the head (its first line), read when herd builds, never from git: a file directly in /etc/herd/ (e.g. /etc/herd/ipmi-password, 0600), or for a stand-in head a file under the spec folder's .herd/. It reaches nodes.conf (wwctl power and console) and wwinit's config (ipmi write); plans show its hash only, and where the file is absent (a pull-request runner) nodes.conf waits as pending."),
  })
  .describe("The node's BMC, as Warewulf's ipmi settings (the password by file only: herd keeps secrets out of the spec).");
const macValue = z
  .union([z.string(), z.array(z.string()), z.record(z.string(), z.string())])
  .describe('MAC of a single node; a list in hostlist order for a range; or a map node name -> MAC.');
const addressValue = z
  .union([z.string(), z.array(z.string())])
  .describe('Address of a single node; for a range, the first address (the rest follow in order) or a list.');

/** One more network device of a node, Warewulf's netdev fields nearly one to one (its overlay templates read them). */
export const networkDeviceSchema = z.strictObject({
  type: z.enum(['ethernet', 'infiniband', 'bond', 'vlan']).optional().describe('Device type; default ethernet. A bond takes its members from devices whose tags.master names it; a vlan needs tags.parent_device and tags.vlan_id.'),
  device: z.string().min(1).optional().describe('Kernel name of the device on the node, e.g. ib0, bond0 or bond0.20.'),
  mac: macValue.optional(),
  address: addressValue.optional().describe('IPv4 address: of a single node; for a range, the first address (the rest follow in order) or a list.'),
  netmask: z.string().optional().describe('Dotted netmask of the device\'s network (required with an address).'),
  gateway: z.string().optional(),
  mtu: z.number().int().min(576).max(65535).optional(),
  onboot: z.boolean().optional().describe('Bring the device up at boot; default true.'),
  address6: addressValue.optional().describe('IPv6 address, counted over a range like address.'),
  prefix6: z.number().int().min(1).max(128).optional().describe('IPv6 prefix length.'),
  gateway6: z.string().optional().describe('IPv6 gateway (Warewulf 4.6.5 and later).'),
  tags: z.record(z.string(), z.string()).optional().describe('Warewulf netdev tags, read by its overlay templates: bond mode/miimon/xmit_hash_policy, vlan parent_device/vlan_id, master (bond member), DNS1..., route1...'),
});

/** Settings shared by `defaults`, `profiles` and node entries. Scalars override down the chain; maps merge by key; `overlays` concatenates (a `~name` item removes one); other lists replace. */
const nodeSettingsShape = {
  image: name.optional().describe('Image the node boots (a key of images).'),
  overlays: z
    .array(z.string().min(1))
    .optional()
    .describe('Overlays added to the inherited list; each overlay\'s kind (system/runtime) comes from its definition. "~name" removes one.'),
  device: z.string().min(1).optional().describe('Kernel name of the provisioning NIC on the node, e.g. enp1s0.'),
  netname: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .optional()
    .describe("Warewulf's network name of the provisioning NIC where it is not network.netname (nodes.conf netdev and the <node>-<netname> hosts alias), as on an imported site whose older nodes name it otherwise."),
  driver: z.string().min(1).optional().describe('Kernel module driving the provisioning NIC (checked in the built image), e.g. virtio_net.'),
  memory: size.optional().describe('Installed RAM. The initramfs root lives in it, so it must exceed twice the image.'),
  cpus: z.number().int().min(1).max(65536).optional(),
  sockets: z.number().int().min(1).max(1024).optional(),
  cores_per_socket: z.number().int().min(1).max(4096).optional(),
  threads_per_core: z.number().int().min(1).max(64).optional(),
  gpus: gpuSchema.optional(),
  kernel_args: z
    .array(z.string().min(1))
    .optional()
    .describe("Kernel arguments added to the image's (images.<name>.kernel.args) and the inherited ones, as Warewulf's kernel args; \"~arg\" removes one."),
  ipmi: ipmiSchema.optional(),
  discoverable: z.boolean().optional().describe("Warewulf's discoverable flag: warewulfd gives an unknown MAC that asks to this node (herd's nodes all have MACs, so it is kept only for imported sites)."),
  tags: z.record(z.string(), z.string()).optional().describe('Free-form tags, passed to Warewulf and templates.'),
  prefix6: z.number().int().min(1).max(128).optional().describe('IPv6 prefix length of the provisioning NIC (with address6).'),
  gateway6: z.string().optional().describe('IPv6 gateway of the provisioning NIC (Warewulf 4.6.5 and later).'),
  networks: z.record(z.string(), networkDeviceSchema).optional().describe('More network devices by Warewulf network name (netname): infiniband, bonds, VLANs, other NICs. Merged by name, then field by field.'),
  slurm: z
    .strictObject({
      features: z.array(z.string().min(1)).optional(),
      weight: z.number().int().min(0).max(4294967294).optional(),
      extra: extras.optional(),
    })
    .optional(),
};

export const nodeSettingsSchema = z.strictObject(nodeSettingsShape);

export const nodeEntrySchema = z.strictObject({
  ...nodeSettingsShape,
  profiles: z.array(name).optional().describe('Profiles applied in order, after defaults and before this entry.'),
  mac: macValue.optional(),
  address: addressValue.optional().describe('IPv4 address of a single node; for a range, the first address (the rest follow in order) or a list.'),
  address6: addressValue.optional().describe('IPv6 address of the provisioning NIC; for a range, the first address (the rest follow in order) or a list. Without one, IPv6 stays off on the provisioning NIC.'),
});

export const imageSchema = z.strictObject({
  source: z
    .string()
    .min(1)
    .describe(
      'docker://host/repo:tag@sha256:..., oci:DIR (OCI layout), oci-archive:FILE, docker-archive:FILE, dir:ROOTFS or tar:ROOTFS.tar; relative paths are relative to the spec.',
    ),
  kernel: z
    .strictObject({
      version: z.string().min(1).optional().describe('Kernel version to boot (uname -r or a prefix); default the only or newest.'),
      args: z.array(z.string().min(1)).optional(),
      copy_to_boot: z.boolean().optional().describe('Also place boot/vmlinuz-<ver> in the image (older tools only look there).'),
    })
    .optional(),
  pins: z
    .record(z.string(), z.union([z.number().int().min(0).max(4294967294), z.strictObject({ uid: z.number().int().min(0).max(4294967294).optional(), gid: z.number().int().min(0).max(4294967294).optional() })]))
    .optional()
    .describe('UID/GID pins: `munge: 995` pins user and group munge to 995; {uid, gid} pins them separately.'),
  files: z
    .array(
      z.strictObject({
        path: z.string().min(1),
        type: z.enum(['file', 'directory', 'symlink']).optional(),
        content: z.string().optional(),
        target: z.string().optional(),
        mode: z.union([z.string().regex(/^0?[0-7]{3,4}$/), z.number().int()]).optional(),
        owner: z.string().optional(),
        group: z.string().optional(),
      }),
    )
    .optional()
    .describe('Files and directories added to the image.'),
  requires: z.array(z.string().min(1)).optional().describe('Programs the built image must contain (checked in the artifact).'),
  exclude: z.array(z.string().min(1)).optional().describe('Paths left out of the image, in addition to its own /etc/warewulf/excludes.'),
  size: size.optional().describe('Declared unpacked size, checked against node memory before the image is built.'),
});

export const overlaySchema = z.strictObject({
  kind: z.enum(['system', 'runtime']).describe('system: applied in the initramfs before the OS starts; runtime: applied after boot by wwclient.'),
  source: z.string().min(1).optional().describe('Template folder, relative to the spec; default overlays/<name>.'),
  owners: z
    .record(z.string(), z.string().regex(/^[^:\s]+(:[^:\s]+)?$/))
    .optional()
    .describe('Owner of files and folders in the overlay by path on the node (e.g. "etc/slurm/cgroup.conf": "slurm:slurm"); default root:root. Names resolve against the image\'s accounts.'),
  modes: z
    .record(z.string(), z.string().regex(/^0?[0-7]{3,4}$/))
    .optional()
    .describe('Permission bits of files in the overlay by path on the node (e.g. "etc/foo/secret.conf": "0600"). Otherwise files are 0644, or 0755 when executable in git (git keeps only the executable bit, so other bits would depend on the checkout\'s umask).'),
});

export const partitionSchema = z.strictObject({
  nodes: z.union([z.string(), z.array(z.string())]).optional().describe('Hostlist(s) of nodes, e.g. c[001-128].'),
  profiles: z.array(name).optional().describe('Every node using one of these profiles.'),
  default: z.boolean().optional(),
  max_time: slurmTime.optional(),
  default_time: slurmTime.optional(),
  priority_tier: z.number().int().min(0).max(65535).optional(),
  preempt_mode: z.enum(['OFF', 'CANCEL', 'REQUEUE', 'SUSPEND']).optional(),
  state: z.enum(['UP', 'DOWN', 'DRAIN', 'INACTIVE']).optional(),
  extra: extras.optional(),
});

export const clusterSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION).describe('Format version of this file.'),
  kind: z.literal('Cluster'),
  name: name.describe('Cluster name (also Slurm ClusterName unless slurm.cluster_name is set).'),
  warewulf: z
    .strictObject({
      version: z.enum(['4.6.0', '4.6.1', '4.6.2', '4.6.3', '4.6.4', '4.6.5']).optional().describe('Warewulf release on the head node; default 4.6.5.'),
      layout: z.enum(['upstream', 'openhpc']).optional().describe('upstream: /var/lib/warewulf; openhpc: /srv/warewulf. Default upstream.'),
      base_overlays: z.array(z.string().min(1)).optional().describe("Overlays every node starts with; default Warewulf's default profile for the version."),
      cluster_name: z.string().optional().describe("Warewulf's cluster name on every node in nodes.conf (iPXE and templates see it); default the spec's name; \"\" writes none."),
      autobuild_overlays: z.boolean().optional().describe("warewulf.conf's autobuild overlays: warewulfd rebuilds a node's overlays when nodes.conf is newer than them. Default false (herd builds them). Safe either way: Warewulf rebuilds them from herd's templates (var/lib/warewulf/overlays) to the same files, and herd plan calls such a rebuilt archive rebuilt, not drift."),
      dhcp_template: z.enum(['static', 'default']).optional().describe("warewulf.conf's dhcp template, as the head's DHCP configuration herd writes follows it: static (default) gives every node's MAC its address; default serves the dynamic range only (wwinit then sets each node's address from nodes.conf)."),
      ssh_key_types: z.array(z.enum(WAREWULF_SSH_KEY_TYPES)).min(1).optional().describe("warewulf.conf's ssh key types: the host keys wwctl configure ssh makes on the head. Default ed25519, ecdsa, rsa."),
    })
    .optional(),
  head: z.strictObject({
    name: name.describe('Head node hostname (Slurm controller).'),
    address: z.string().describe('Head address on the provisioning network.'),
    munge_key: z.string().min(1).optional().describe('Munge key on the head, read when overlays are built (never from git); default /etc/munge/munge.key. Must lie under /etc/munge/, or, for a stand-in head (a laptop, CI), be a path relative to the spec folder under its .herd/ state folder.'),
    ssh_host_keys: z.string().min(1).optional().describe('Folder on the head with the nodes\' SSH host keys (ssh_host_*_key[.pub]); default /etc/warewulf/keys, where wwctl configure ssh puts them; or a folder under the spec folder\'s .herd/ (a stand-in head).'),
    authorized_keys: z.string().min(1).optional().describe("root's authorized_keys for the nodes; default /root/.ssh/authorized_keys on the head; or a file in the spec folder."),
    users: z
      .strictObject({
        passwd: z.string().min(1).optional().describe('Site users: /etc/passwd on the head (default), or a file in the spec folder.'),
        group: z.string().min(1).optional().describe('Site groups: /etc/group on the head (default), or a file in the spec folder.'),
        min_id: z.number().int().min(0).max(4294967294).optional().describe('Only users and groups with an ID at least this are site accounts (default 1000; 65534 is never taken).'),
      })
      .optional()
      .describe("Users and groups added to the image's own on every node (Warewulf's syncuser, with clashes reported)."),
    warewulf_overlays: z.string().min(1).optional().describe("The head's Warewulf distribution overlay folder, where wwinit and wwclient come from; default /usr/share/warewulf/overlays; or a folder under the spec folder's .herd/ (a stand-in head)."),
  }),
  network: z.strictObject({
    cidr: z.string().describe('Provisioning network, e.g. 10.0.0.0/24.'),
    netmask: z.string().optional().describe('Dotted netmask; derived from cidr when omitted (must agree with it).'),
    gateway: z.string().optional(),
    dns: z.array(z.string()).optional(),
    domain: z.string().optional(),
    interface: z.string().min(1).describe('Head NIC serving the provisioning network (put in the trusted firewall zone).'),
    trusted_zone: z.boolean().optional().describe("herd writes firewalld's trusted zone (etc/firewalld/zones/trusted.xml) with the cluster NIC, so firewalld never drops Slurm, munge, NFS or Warewulf traffic from the nodes (the seed's malformed RPC); default true. false: herd writes no zone, and the head's firewall stays as the site keeps it (what herd import writes for a site without one)."),
    trust_source: z.boolean().optional().describe("firewalld's trusted zone also trusts the provisioning network as a source, so its traffic is accepted on any head interface; default true. false: the interface alone (as a zone with just the NIC)."),
    stack: z.enum(['NetworkManager', 'networkd']).optional().describe('Network stack configured on the nodes: NetworkManager keyfiles (default, as on EL10) or systemd-networkd.'),
    mtu: z.number().int().min(576).max(65535).optional().describe('MTU of the provisioning NIC on the nodes.'),
    netname: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional().describe("Warewulf's network name of the provisioning NIC (its nodes.conf netdev and the <node>-<netname> hosts alias); default default."),
    dhcp_range: z.strictObject({ start: z.string(), end: z.string() }).optional(),
  }),
  nfs: z
    .record(
      z.string(),
      z.strictObject({
        export: z.string().optional().describe('Path exported by the server; default the mount point.'),
        server: z.string().optional().describe('Server address or name; default the head.'),
        options: z.string().optional().describe('Mount options; default defaults,nofail,_netdev.'),
        export_options: z.string().optional().describe('exports(5) options; default rw,sync,no_subtree_check.'),
        mount: z.boolean().optional().describe('false: the head exports the path but herd mounts it on no node (a site overlay or autofs does); default true.'),
      }),
    )
    .optional()
    .describe('NFS mounts on every node, keyed by mount point.'),
  images: z.record(z.string(), imageSchema),
  overlays: z.record(z.string(), overlaySchema).optional().describe('Site overlays (and kind overrides of built-in ones).'),
  inventory: z.string().optional().describe('CSV beside the spec with a header row: name,mac[,address,...]; joined to nodes by name.'),
  defaults: nodeSettingsSchema.optional(),
  profiles: z.record(z.string(), nodeSettingsSchema).optional(),
  nodes: z.record(z.string(), nodeEntrySchema).describe('Nodes keyed by hostname or hostlist (c[001-128]).'),
  slurm: z
    .strictObject({
      cluster_name: z.string().optional(),
      version: z.enum(['22.05', '24.11']).optional().describe("Slurm release on the head and nodes: the slurm.conf keys it accepts, the defaults herd writes out and what a change needs (24.11's scontrol reconfigure restarts the daemons and takes added or removed nodes). Default 22.05 (Debian 12's slurm-wlm); Debian 13 ships 24.11."),
      return_to_service: z.number().int().min(0).max(2).optional(),
      reboot_batch_size: z.number().int().min(1).max(100000).optional().describe('herd rollout: how many nodes Slurm reboots at once (scontrol reboot ASAP), waiting for each batch to come back before the next; default 8. herd rollout --batch overrides it.'),
      configless: z.boolean().optional().describe("Slurm's configless mode: slurmd fetches slurm.conf from slurmctld (--conf-server), so a Slurm change needs no overlay refresh on the nodes. Default false: the nodes get slurm.conf in their runtime overlay."),
      preempt_mode: z.enum(['OFF', 'CANCEL', 'REQUEUE', 'SUSPEND,GANG']).optional().describe('Global PreemptMode for the condo model; default REQUEUE when priority tiers differ.'),
      partitions: z.record(z.string(), partitionSchema),
      extra: globalExtras.optional(),
    })
    .optional(),
});

export type ClusterSpec = z.infer<typeof clusterSchema>;
export type NodeSettingsSpec = z.infer<typeof nodeSettingsSchema>;
export type NodeEntrySpec = z.infer<typeof nodeEntrySchema>;
export type ImageSpec = z.infer<typeof imageSchema>;
export type PartitionSpec = z.infer<typeof partitionSchema>;
export type NetworkDeviceSpec = z.infer<typeof networkDeviceSchema>;
