// What every image input resolves to (types), and building the rootfs tree from ordered, digest-verified layers (I/O).
import { open } from 'node:fs/promises';
import { applyLayer, type ApplyStats } from '../tree/apply-layer.ts';
import { rangeSink, type LayerCache } from '../tree/content-store.ts';
import { createTree, type FsTree } from '../tree/fs-tree.ts';
import type { UnpackBudget } from '../tree/unpack-budget.ts';
import { fileSource } from '../tree/tar-reader.ts';
import { decompress, digestAlgorithm, digestTap } from './blob-stream.ts';
import { ImageError, ioError } from './image-error.ts';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** The parts of the OCI/Docker image config herd uses; `raw` is the whole parsed JSON. */
export interface ImageConfig {
  readonly architecture?: string;
  readonly os?: string;
  readonly variant?: string;
  readonly env: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly workingDir?: string;
  readonly user?: string;
  readonly labels: Readonly<Record<string, string>>;
  /** sha256 digests of the uncompressed layers, base first. */
  readonly diffIds: readonly string[];
  readonly raw: unknown;
}

export interface LayerInfo {
  /** Where the blob is, for messages: a path, or `archive.tar!member`. */
  readonly where: string;
  /** Digest of the stored (possibly compressed) bytes, verified while reading. */
  readonly digest?: string;
  readonly size?: number;
  /** Digest of the uncompressed tar (config rootfs.diff_ids), verified while reading. */
  readonly diffId?: string;
  readonly mediaType?: string;
  /** The stored bytes. */
  open(): AsyncIterable<Uint8Array>;
}

export type Transport = 'oci' | 'oci-archive' | 'docker-archive' | 'dir' | 'tar' | 'docker';

export interface BuildTreeOptions {
  /** Where uncompressed layers are cached; tree file refs point into it (see src/image/tree/content-store.ts). */
  readonly cache: LayerCache;
  readonly onLayer?: (layer: LayerInfo, index: number, stats: ApplyStats, fromCache: boolean) => void;
  /** Bounds what the source may unpack to; one per build (it tracks the tree being built). */
  readonly budget?: UnpackBudget;
  /** dir: sources: where the per-file hashes of earlier builds are kept (see file-hashes.ts). */
  readonly fileHashDir?: string;
  /** dir: sources, for tests: called once the tree is walked, before any file content is read. */
  readonly afterWalk?: () => void | Promise<void>;
}

export interface ImageSource {
  /** The reference as given. */
  readonly ref: string;
  readonly transport: Transport;
  /** What was opened, for messages (a path, plus the tag when there is one). */
  readonly where: string;
  readonly manifestDigest?: string;
  /** Absent for rootfs inputs (dir:, tar:), which have no image config. */
  readonly config?: ImageConfig;
  /** Base layer first; empty for dir:. */
  readonly layers: readonly LayerInfo[];
  readonly warnings: readonly string[];
  buildTree(opts: BuildTreeOptions): Promise<FsTree>;
  /** Remove scratch files (spilled archive members); the source is unusable afterwards. */
  close(): Promise<void>;
}

function mismatch(where: string, what: string, expected: string, actual: string): ImageError {
  return new ImageError('digest-mismatch', `${where}: ${what} is ${actual}, but the image says ${expected}`, {
    file: where,
    hint: 'The blob is corrupt or was modified after the image was written; copy or pull the image again.',
  });
}

/**
 * Apply layers base first. A layer already in the cache (by diff_id) is read from there, headers only; otherwise
 * it is decompressed once, teed into the cache, and committed there only after its digests verified.
 */
export async function applyLayers(layers: readonly LayerInfo[], opts: BuildTreeOptions & { readonly whiteouts?: boolean }): Promise<FsTree> {
  const tree = createTree();
  const layerOpts = { ...(opts.whiteouts === undefined ? {} : { whiteouts: opts.whiteouts }), ...(opts.budget === undefined ? {} : { budget: opts.budget }) };
  for (const [i, layer] of layers.entries()) {
    const label = `layer ${i + 1}/${layers.length} ${layer.where}`;
    const key = layer.diffId ?? layer.digest;
    if (key === undefined) throw new ImageError('bad-layout', `${label}: no digest to verify or cache the layer by`);
    const cached = opts.cache.path(key);
    const sink = rangeSink(cached);
    if (await opts.cache.has(key)) {
      const fh = await open(cached, 'r').catch((e: unknown) => {
        throw ioError(e, cached, 'reading a cached layer');
      });
      try {
        const stats = await applyLayer(tree, fileSource(fh, (await fh.stat()).size, cached), { where: label, sink, ...layerOpts });
        opts.onLayer?.(layer, i, stats, true);
      } finally {
        await fh.close();
      }
      continue;
    }
    const writer = await opts.cache.create();
    try {
      const stored = layer.digest === undefined ? undefined : digestTap(layer.open(), digestAlgorithm(layer.digest, layer.where));
      const plain = digestTap(decompress(stored?.stream ?? layer.open(), label), layer.diffId === undefined ? 'sha256' : digestAlgorithm(layer.diffId, layer.where));
      const tee = async function* (): AsyncGenerator<Uint8Array> {
        for await (const c of plain.stream) {
          opts.budget?.consumed(c.length, label);
          await writer.write(c);
          yield c;
        }
      };
      const stats = await applyLayer(tree, tee(), { where: label, sink, ...layerOpts });
      if (stored !== undefined && layer.digest !== undefined) {
        const got = stored.result();
        if (got.digest !== layer.digest) throw mismatch(layer.where, 'the blob digest', layer.digest, got.digest);
        if (layer.size !== undefined && got.size !== layer.size) {
          throw new ImageError('digest-mismatch', `${layer.where}: blob is ${got.size} bytes, but the manifest says ${layer.size}`, { file: layer.where });
        }
      }
      if (layer.diffId !== undefined) {
        const got = plain.result().digest;
        if (got !== layer.diffId) throw mismatch(layer.where, 'the uncompressed layer digest', layer.diffId, got);
      }
      await writer.commit(key);
      opts.onLayer?.(layer, i, stats, false);
    } catch (e) {
      await writer.abort();
      throw await explain(e, layer);
    }
  }
  return tree;
}

// A corrupt blob usually surfaces as a gzip or tar error first; name the real cause when the digest says so.
async function explain(e: unknown, layer: LayerInfo): Promise<unknown> {
  if (layer.digest === undefined || (e instanceof ImageError && (e.code === 'digest-mismatch' || e.code === 'too-big'))) return e;
  try {
    const tap = digestTap(layer.open(), digestAlgorithm(layer.digest, layer.where));
    for await (const _ of tap.stream) {
      // hashing only
    }
    const got = tap.result().digest;
    if (got !== layer.digest) return mismatch(layer.where, 'the blob digest', layer.digest, got);
  } catch {
    // the original error is the better one
  }
  return e;
}
