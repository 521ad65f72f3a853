// Overlay artifacts (pure): one node's composed stage becomes the two files warewulfd serves, the cpio `.img` (which must
// exist: warewulfd builds its own from Warewulf's templates whenever it is missing) and the `.img.gz` iPXE fetches.
import type { Artifact, ContentEntry } from '../artifacts/artifact.ts';
import type { ClusterModel, NodeModel } from '../spec/model.ts';

export function overlayPaths(model: ClusterModel, node: string, stage: 'system' | 'runtime'): { img: string; gz: string } {
  const base = `${model.warewulf.stateDir}/provision/overlays/${node}/${stage === 'system' ? '__SYSTEM__' : '__RUNTIME__'}.img`;
  return { img: base, gz: `${base}.gz` };
}

export interface PackedOutputs {
  readonly img: { readonly sha256: string; readonly size: number };
  readonly gz: { readonly sha256: string; readonly size: number };
}

export function overlayArtifacts(
  model: ClusterModel,
  node: NodeModel,
  stage: 'system' | 'runtime',
  overlays: readonly string[],
  packed: PackedOutputs,
  contents: readonly ContentEntry[],
  produce: { readonly img: () => AsyncIterable<Uint8Array>; readonly gz: () => AsyncIterable<Uint8Array> },
): Artifact[] {
  const paths = overlayPaths(model, node.name, stage);
  const impact =
    stage === 'system'
      ? { class: 'reboot' as const, reason: `node ${node.name} gets its new __SYSTEM__ overlay at its next boot` }
      : { class: 'runtime-refresh' as const, reason: `wwclient on ${node.name} applies the new __RUNTIME__ overlay within its update interval (60 s); no reboot` };
  // The munge key and SSH private keys ride in __SYSTEM__: such an archive is owner-only (warewulfd reads it as root).
  const mode = contents.some((c) => c.hidden === 'secret') ? 0o600 : 0o644;
  const common = { kind: 'overlay' as const, mode, owner: 'root', group: 'root', nodes: [node.name], impact };
  const label = `${node.name}'s ${stage === 'system' ? '__SYSTEM__' : '__RUNTIME__'} overlay`;
  return [
    { ...common, path: paths.img, produce: produce.img, sha256: packed.img.sha256, size: packed.img.size, contents, overlay: { node: node.name, stage, overlays: [...overlays] }, description: `${label} (cpio newc)` },
    { ...common, path: paths.gz, produce: produce.gz, sha256: packed.gz.sha256, size: packed.gz.size, overlay: { node: node.name, stage, overlays: [...overlays], gzipOf: paths.img }, description: `${label} (gzip, what iPXE and wwclient fetch)` },
  ];
}
