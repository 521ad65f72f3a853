// Image artifacts (pure): a built image becomes the files Warewulf 4.6's provision tree expects, each an artifact
// whose change means "reboot the nodes using it".
import type { Artifact } from '../artifacts/artifact.ts';
import type { ClusterModel, ImageModel } from '../spec/model.ts';

/** A finished build output: its hash and a producer streaming it (the I/O stays with the builder; apply re-checks the hash while copying). */
export interface BuiltOutput {
  readonly sha256: string;
  readonly size: number;
  readonly produce: () => AsyncIterable<Uint8Array>;
}

/** What the image builder hands the compiler. */
export interface BuiltImageFiles {
  readonly img: BuiltOutput;
  readonly gz: BuiltOutput;
  readonly kernel: BuiltOutput & { readonly version: string; readonly pathInImage: string };
  readonly contents: Artifact['contents'];
  /** The spec put a secret into the image (extra-files.ts secretFiles): its files are owner-only and plans show only hashes. */
  readonly secret?: boolean;
}

export function imagePaths(model: ClusterModel, image: string): { img: string; gz: string; chroot: string } {
  const base = `${model.warewulf.stateDir}/provision/images/${image}`;
  return { img: `${base}.img`, gz: `${base}.img.gz`, chroot: `${model.warewulf.stateDir}/chroots/${image}/rootfs/` };
}

export function imageArtifacts(model: ClusterModel, im: ImageModel, built: BuiltImageFiles): Artifact[] {
  const paths = imagePaths(model, im.name);
  const impact = { class: 'reboot' as const, reason: `nodes booting image ${im.name} get it at their next boot` };
  const common = { mode: 0o644, owner: 'root', group: 'root', nodes: [...im.nodes], impact };
  // warewulfd runs as root and reads the image from disk, so owner-only costs nothing when the image holds a secret.
  const image = built.secret ? { ...common, mode: 0o600, secret: true } : common;
  return [
    { ...image, path: paths.img, kind: 'image', produce: built.img.produce, sha256: built.img.sha256, size: built.img.size, ...(built.contents ? { contents: built.contents } : {}), description: `image ${im.name} (cpio newc)` },
    { ...image, path: paths.gz, kind: 'image', produce: built.gz.produce, sha256: built.gz.sha256, size: built.gz.size, description: `image ${im.name} (gzip, what iPXE fetches)` },
    // warewulfd serves the kernel from the image's chroot, where Warewulf 4.6 looks for it (it finds /lib/modules/<ver>/vmlinuz too).
    { ...common, path: paths.chroot + built.kernel.pathInImage.replace(/^\/+/, ''), kind: 'kernel', mode: 0o644, produce: built.kernel.produce, sha256: built.kernel.sha256, size: built.kernel.size, description: `kernel ${built.kernel.version} of image ${im.name}` },
  ];
}
