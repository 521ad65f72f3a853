// Build every image the cluster boots (I/O shell) and turn the results into artifacts, pending markers and located diagnostics.
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { diagnosticAt, type Diagnostic, type SourceRef } from '../../diagnostics/diagnostic.ts';
import type { Artifact, PendingArtifacts } from '../../artifacts/artifact.ts';
import type { ClusterModel, ImageModel } from '../../spec/model.ts';
import { imageArtifacts, imagePaths, type BuiltOutput } from '../../compile/image-artifacts.ts';
import { buildImage, isImageBuildFailure, type BuildProgress, type BuiltFile } from './build-image.ts';
import type { ImageProblem, VerifyContext } from './fixes.ts';

export interface ClusterImageOptions {
  readonly specDir: string;
  readonly cacheDir: string;
  readonly sourceDateEpoch?: number;
  readonly workers: number;
  readonly offline: boolean;
  readonly onProgress?: (event: BuildProgress) => void;
}

export interface ClusterImages {
  readonly artifacts: Artifact[];
  readonly pending: PendingArtifacts[];
  readonly diagnostics: Diagnostic[];
  /** One line per image for the build summary: what was fixed, reused or left pending. */
  readonly summary: string[];
}

export function verifyContextFor(model: ClusterModel, im: ImageModel): VerifyContext {
  const nodes = model.nodes.filter((n) => n.image === im.name);
  return {
    ...(im.kernel.version ? { kernelVersion: im.kernel.version } : {}),
    requires: [...im.requires],
    ...(im.sizeMiB !== undefined ? { declaredSizeMiB: im.sizeMiB } : {}),
    nfs: model.nfs.length > 0,
    slurm: nodes.some((n) => n.partitions.length > 0),
    drivers: [...new Set(nodes.flatMap((n) => (n.driver ? [n.driver] : [])))].sort(),
    pins: { users: { ...im.pins.users }, groups: { ...im.pins.groups } },
    nodes: nodes.map((n) => ({ name: n.name, ...(n.memoryMiB !== undefined ? { memoryMiB: n.memoryMiB } : {}) })),
  };
}

/** Where an image problem points in the spec: the field that can fix it. */
function refFor(im: ImageModel, p: ImageProblem): SourceRef {
  switch (p.field) {
    case 'kernel':
      return im.at.kernel;
    case 'pins':
      return im.at.pins;
    case 'requires':
      return im.at.requires;
    case 'size':
      return im.at.size ?? im.at.self;
    default:
      return im.at.self;
  }
}

const stream = (f: BuiltFile): BuiltOutput => ({ sha256: f.sha256, size: f.size, produce: () => createReadStream(f.path, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array> });

/** Build all images that some node boots, one after another (each build already uses every core for compression). */
export async function buildClusterImages(model: ClusterModel, opts: ClusterImageOptions): Promise<ClusterImages> {
  const out: ClusterImages = { artifacts: [], pending: [], diagnostics: [], summary: [] };
  for (const im of Object.values(model.images).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (im.nodes.length === 0) continue;
    const r = await buildImage(im, {
      specDir: opts.specDir,
      cacheDir: opts.cacheDir,
      workers: opts.workers,
      offline: opts.offline,
      verify: verifyContextFor(model, im),
      ...(opts.sourceDateEpoch !== undefined ? { sourceDateEpoch: opts.sourceDateEpoch } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    const paths = imagePaths(model, im.name);
    if (isImageBuildFailure(r)) {
      out.pending.push({ prefix: paths.img, reason: r.message }, { prefix: paths.chroot, reason: r.message });
      out.diagnostics.push(diagnosticAt(im.at.source, r.pending ? 'image/pending' : 'image/build-failed', r.pending ? 'warning' : 'error', r.message, r.hint));
      out.summary.push(`image ${im.name}: ${r.pending ? 'pending' : 'failed'}: ${r.message}`);
      continue;
    }
    for (const p of r.problems) out.diagnostics.push(diagnosticAt(refFor(im, p), p.code, 'error', p.message, p.hint));
    out.summary.push(`image ${im.name}: ${r.fromCache ? 'unchanged (build cache)' : 'built'}, kernel ${r.kernel.version}, ${r.contents.length} entries, ${(r.gz.size / 1048576).toFixed(1)} MiB gzip${r.report.length ? `; ${r.report.join('; ')}` : ''}`);
    out.artifacts.push(...imageArtifacts(model, im, { img: stream(r.img), gz: stream(r.gz), kernel: { ...stream(r.kernel), version: r.kernel.version, pathInImage: r.kernel.pathInImage }, contents: r.contents }));
  }
  return out;
}

export const defaultCacheDir = (specDir: string, cluster: string): string => join(specDir, '.herd', cluster, 'cache');
