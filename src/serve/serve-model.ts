// What `herd serve` knows about the cluster (pure): the nodes by MAC and the server settings, taken from the compiled spec.
//
// Source of truth: the model of the spec, not the applied nodes.conf. The model is what herd rendered nodes.conf from, so it is
// exact (no re-implementation of Warewulf's profile merge, which nodes.conf would need before a node's image or kernel args
// could be read), and it is typed. The cost: serving a root that was applied from another version of the spec answers with
// this spec's settings; the files (image, kernel, overlays) still come only from the root, so `herd plan` first shows that gap.
import { netdevsOf } from '../compile/nodes-conf.ts';
import type { ClusterModel } from '../spec/model.ts';

/** One node as warewulfd's provision handler sees it after the profile merge. */
export interface ServeNode {
  readonly id: string;
  readonly cluster: string;
  readonly image: string;
  /** nodes.conf `kernel: version:` (a path in the image or a version prefix); absent: the image's newest kernel. */
  readonly kernelVersion?: string;
  readonly kernelArgs: readonly string[];
  readonly root: string;
  /** nodes.conf `ipxe template:`; herd writes `default`. */
  readonly ipxeTemplate: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly netdevs: readonly { readonly name: string; readonly device?: string; readonly hwaddr: string }[];
}

export interface ServeModel {
  /** Warewulf state dir in the root (`var/lib/warewulf` or `srv/warewulf`), no leading slash. */
  readonly stateDir: string;
  /** Lower-case colon MAC -> node. */
  readonly nodesByMac: ReadonlyMap<string, ServeNode>;
  /** warewulf.conf `ipaddr` and `warewulf: port`, for the iPXE script's metadata lines. */
  readonly ipaddr: string;
  readonly port: number;
  /** `host:port` the iPXE script tells the node to fetch from (warewulfd: ipaddr:port). */
  readonly authority: string;
  /** warewulf.conf `secure`: the runtime overlay only to a privileged source port. herd writes `secure: false`. */
  readonly secure: boolean;
}

export interface ServeSettings {
  readonly port: number;
  readonly secure: boolean;
  /** Overrides the authority (`host:port`) written into iPXE scripts, e.g. `10.0.2.2:PORT` behind QEMU's user network. */
  readonly authority?: string;
}

/** The port herd's warewulf.conf sets (compile/warewulf-conf.ts) and warewulfd's default. */
export const WAREWULF_PORT = 9873;

/**
 * Build the serve model. Nodes are visited in id order and a later node wins a shared MAC, as warewulfd's node DB does
 * (herd's spec rules refuse duplicate MACs before this point anyway).
 */
export function serveModelOf(model: ClusterModel, settings: ServeSettings): ServeModel {
  const nodesByMac = new Map<string, ServeNode>();
  const sorted = [...model.nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const n of sorted) {
    const im = model.images[n.image];
    const node: ServeNode = {
      id: n.name,
      cluster: model.warewulf.clusterName,
      image: n.image,
      ...(im?.kernel.version ? { kernelVersion: im.kernel.version } : {}),
      kernelArgs: n.kernelArgs,
      root: 'initramfs',
      ipxeTemplate: 'default',
      tags: n.tags,
      // Every netdev with a MAC, as warewulfd hands them to the iPXE template (ifname= for each named device).
      netdevs: netdevsOf(n).flatMap((d) => (d.mac ? [{ name: d.name, ...(d.device ? { device: d.device } : {}), hwaddr: d.mac }] : [])),
    };
    nodesByMac.set(n.mac.toLowerCase(), node);
  }
  return {
    stateDir: model.warewulf.stateDir,
    nodesByMac,
    ipaddr: model.head.address,
    port: settings.port,
    authority: settings.authority ?? `${model.head.address}:${settings.port}`,
    secure: settings.secure,
  };
}
