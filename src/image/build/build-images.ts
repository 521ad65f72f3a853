// Build every image the cluster boots (I/O shell) and turn the results into artifacts, pending markers and located diagnostics.
import { createReadStream } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { ConfinedDir, isPathBlocked } from '../../fs/confined-dir.ts';
import { diagnosticAt, herdFailure, type Diagnostic, type SourceRef } from '../../diagnostics/diagnostic.ts';
import type { Artifact, PendingArtifacts } from '../../artifacts/artifact.ts';
import type { ClusterModel, ImageModel } from '../../spec/model.ts';
import { imageArtifacts, imagePaths, type BuiltOutput } from '../../compile/image-artifacts.ts';
import { secretFiles } from '../fix/extra-files.ts';
import { buildImage, isImageBuildFailure, type BuildProgress, type BuiltFile } from './build-image.ts';
import type { ImageProblem, VerifyContext } from './fixes.ts';

export interface ClusterImageOptions {
  readonly specDir: string;
  /** The build cache, as confinedCacheDir returned it (callers that pick the cache check it there, once). */
  readonly cacheDir: string;
  readonly sourceDateEpoch?: number;
  readonly workers: number;
  readonly offline: boolean;
  readonly onProgress?: (event: BuildProgress) => void;
  /** For tests: called once a dir: source is walked, before any of its file content is read. */
  readonly afterWalk?: () => void | Promise<void>;
  /** For tests: called once an image build's temporary folder exists, before packing. */
  readonly beforePack?: () => Promise<void>;
}

export interface ClusterImages {
  readonly artifacts: Artifact[];
  readonly pending: PendingArtifacts[];
  readonly diagnostics: Diagnostic[];
  /** One line per image for the build summary: what was fixed, reused or left pending. */
  readonly summary: string[];
  /** Each built image's passwd and group after pins (absent for a pending or failed image). */
  readonly accounts: Map<string, { readonly passwd: string; readonly group: string }>;
  /** Each built image's cache key: its folder is `<cache>/images/<name>/<key>` (absent for a pending or failed image; herd cache --prune keeps those). */
  readonly keys: Map<string, string>;
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
    case 'source':
      return im.at.source;
    default:
      return im.at.self;
  }
}

const stream = (f: BuiltFile): BuiltOutput => ({ sha256: f.sha256, size: f.size, produce: () => createReadStream(f.path, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array> });

/**
 * The build cache as a real path. One inside the spec folder (the default, .herd/<cluster>/cache) is where a pull request
 * could commit a symlink, so it is reached and created from the spec folder without leaving it, or refused (a HerdFailure
 * state/unsafe-path, exit 3); herd would otherwise write images, and read cached ones, wherever the symlink points. One
 * outside is the user's own choice. Every caller that picks a cache (compile, pull) checks it here, once.
 */
export function confinedCacheDir(specDir: string, cacheDir: string): string {
  const rel = relative(specDir, cacheDir);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return cacheDir;
  const refuse = (why: string) =>
    herdFailure('state/unsafe-path', `the image build cache ${rel} cannot be used: ${why}`, 'herd keeps its build cache and local state in .herd/ inside the spec folder: remove the symlink (never commit .herd/), or pass --root and a spec folder without it');
  let top: ConfinedDir | undefined;
  try {
    top = ConfinedDir.open(specDir, { what: 'spec folder' });
    const sub = top.subdir(rel.split(sep).join('/'), { what: 'image build cache', create: true });
    if (sub === undefined) throw refuse('it could not be created');
    try {
      // herd never puts a symlink in its cache, and below this point the cache is written by path: a symlink found there
      // (committed to a pull request as .herd/<cluster>/cache/images -> /etc, say) would redirect the writes, so it is refused.
      const link = firstSymlink(sub, '');
      if (link !== undefined) throw refuse(`${sub.hostPath(link)} is a symlink, which herd never puts there`);
      return sub.real;
    } finally {
      sub.close();
    }
  } catch (e) {
    if (isPathBlocked(e)) throw refuse(e.message);
    throw e;
  } finally {
    top?.close();
  }
}

/** The first symlink below `rel` in `dir` (depth first, through the confined walk), or undefined. */
function firstSymlink(dir: ConfinedDir, rel: string): string | undefined {
  for (const e of dir.readdir(rel) ?? []) {
    const child = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isSymbolicLink()) return child;
    if (e.isDirectory()) {
      const found = firstSymlink(dir, child);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Build all images that some node boots, one after another (each build already uses every core for compression). */
export async function buildClusterImages(model: ClusterModel, opts: ClusterImageOptions): Promise<ClusterImages> {
  const out: ClusterImages = { artifacts: [], pending: [], diagnostics: [], summary: [], accounts: new Map(), keys: new Map() };
  for (const im of Object.values(model.images).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (im.nodes.length === 0) continue;
    // A secret in an image reaches every node that boots it and sits in the head's provision tree: say so where the
    // spec puts it, and keep the image files owner-only with only their hashes in plans.
    const secrets = secretFiles(im.files);
    for (const s of secrets) {
      out.diagnostics.push(
        diagnosticAt(
          im.files[s.index]?.at,
          'image/secret-in-image',
          'warning',
          `/${s.path} looks like a secret (${s.why}): every node booting image ${im.name} downloads it, so herd writes the image files owner-only (0600) and shows only their hashes`,
          'keep keys out of images: deliver them per node through an overlay, or with your configuration management',
        ),
      );
    }
    const r = await buildImage(im, {
      specDir: opts.specDir,
      cacheDir: opts.cacheDir,
      workers: opts.workers,
      offline: opts.offline,
      verify: verifyContextFor(model, im),
      ...(opts.sourceDateEpoch !== undefined ? { sourceDateEpoch: opts.sourceDateEpoch } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.afterWalk ? { afterWalk: opts.afterWalk } : {}),
      ...(opts.beforePack ? { beforePack: opts.beforePack } : {}),
    });
    const paths = imagePaths(model, im.name);
    if (isImageBuildFailure(r)) {
      out.pending.push({ prefix: paths.img, reason: r.message }, { prefix: paths.chroot, reason: r.message });
      if (r.problems !== undefined && r.problems.length > 0) for (const p of r.problems) out.diagnostics.push(diagnosticAt(refFor(im, p), p.code, 'error', p.message, p.hint));
      else out.diagnostics.push(diagnosticAt(im.at.source, r.pending ? 'image/pending' : 'image/build-failed', r.pending ? 'warning' : 'error', r.message, r.hint));
      out.summary.push(`image ${im.name}: ${r.pending ? 'pending' : 'failed'}: ${r.message}`);
      continue;
    }
    for (const p of r.problems) out.diagnostics.push(diagnosticAt(refFor(im, p), p.code, 'error', p.message, p.hint));
    for (const w of r.warnings) out.diagnostics.push(diagnosticAt(refFor(im, w), w.code, 'warning', w.message, w.hint));
    out.summary.push(`image ${im.name}: ${r.fromCache ? 'unchanged (build cache)' : 'built'}, kernel ${r.kernel.version}, ${r.contents.count} entries, ${(r.gz.size / 1048576).toFixed(1)} MiB gzip${r.report.length ? `; ${r.report.join('; ')}` : ''}`);
    out.accounts.set(im.name, r.accounts);
    out.keys.set(im.name, r.key);
    out.artifacts.push(...imageArtifacts(model, im, { img: stream(r.img), gz: stream(r.gz), kernel: { ...stream(r.kernel), version: r.kernel.version, pathInImage: r.kernel.pathInImage }, contents: r.contents, kernelInArchive: r.kernelInArchive, secret: secrets.length > 0 }));
  }
  return out;
}

export const defaultCacheDir = (specDir: string, cluster: string): string => join(specDir, '.herd', cluster, 'cache');
