// Image artifacts (pure): a built image becomes the files Warewulf 4.6's provision tree expects, each an artifact
// whose change means "reboot the nodes using it".
import { treeSha256, type Artifact, type TreeExtra } from '../artifacts/artifact.ts';
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
  /** The kernel (pathInImage) is a file of the archive; otherwise the image's excludes kept it out. */
  readonly kernelInArchive: boolean;
  /** The spec put a secret into the image (extra-files.ts secretFiles): its files are owner-only and plans show only hashes. */
  readonly secret?: boolean;
}

export function imagePaths(model: ClusterModel, image: string): { img: string; gz: string; chroot: string } {
  const base = `${model.warewulf.stateDir}/provision/images/${image}`;
  return { img: `${base}.img`, gz: `${base}.img.gz`, chroot: `${model.warewulf.stateDir}/chroots/${image}/rootfs/` };
}

export function imageArtifacts(model: ClusterModel, im: ImageModel, built: BuiltImageFiles): Artifact[] {
  const paths = imagePaths(model, im.name);
  // The chroot holds the image as Warewulf's tools expect it: the archive's files, plus the kernel where the image's excludes
  // (often /boot) kept it out of the archive, since warewulfd looks for the kernel there.
  const kernelPath = built.kernel.pathInImage.replace(/^\/+/, '');
  const extras: TreeExtra[] = built.kernelInArchive ? [] : [{ path: kernelPath, mode: 0o644, sha256: built.kernel.sha256, size: built.kernel.size, produce: built.kernel.produce }];
  const impact = { class: 'reboot' as const, reason: `nodes booting image ${im.name} get it at their next boot` };
  const common = { mode: 0o644, owner: 'root', group: 'root', nodes: [...im.nodes], impact };
  // warewulfd runs as root and reads the image from disk, so owner-only costs nothing when the image holds a secret.
  const image = built.secret ? { ...common, mode: 0o600, secret: true } : common;
  return [
    { ...image, path: paths.img, kind: 'image', produce: built.img.produce, sha256: built.img.sha256, size: built.img.size, ...(built.contents ? { contents: built.contents } : {}), description: `image ${im.name} (cpio newc)` },
    { ...image, path: paths.gz, kind: 'image', produce: built.gz.produce, sha256: built.gz.sha256, size: built.gz.size, description: `image ${im.name} (gzip, what iPXE fetches)` },
    // The whole image unpacked into its chroot, where warewulfd finds the kernel (/boot or /lib/modules/<ver>/vmlinuz) and from
    // which Warewulf's own image tools rebuild the .img: with the full tree there, a habitual `wwctl image build --force` packs
    // the same files instead of a near-empty image (state/tree-write.ts).
    {
      ...image,
      path: paths.chroot.replace(/\/$/, ''),
      kind: 'tree',
      mode: 0o755,
      produce: built.img.produce,
      sha256: treeSha256(built.img, extras),
      size: built.img.size + extras.reduce((n, e) => n + e.size, 0),
      tree: { archive: { sha256: built.img.sha256, size: built.img.size }, extras },
      description: `image ${im.name} unpacked for Warewulf's tools (kernel ${built.kernel.version} at /${built.kernel.pathInImage.replace(/^\/+/, '')})`,
    },
  ];
}
