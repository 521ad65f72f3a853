// Entry point for image inputs (I/O): openImageSource(ref) dispatches on the spec's source syntax to an ImageSource.
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { indexArchive, type ArchiveIndex } from './archive-index.ts';
import { digestTap, readRange } from './blob-stream.ts';
import { readDockerArchive } from './docker-archive.ts';
import { ImageError, ioError } from './image-error.ts';
import { applyLayers, DEFAULT_PLATFORM, type ImageSource, type LayerInfo, type Platform } from './image-source.ts';
import { archiveAccess, dirAccess, readOciLayout } from './oci-layout.ts';
import { readRootfsDir } from './rootfs-dir.ts';
import { parseImageRef, type ImageRef } from './source-ref.ts';

export interface OpenImageOptions {
  /** Absolute directory relative source paths are resolved against (the spec file's directory). */
  readonly baseDir: string;
  /** Platform to select from multi-platform images and to check single ones against; default linux/amd64. */
  readonly platform?: Platform;
  /** Where compressed archives are spilled (removed again by close()); default the OS temp dir. */
  readonly scratchDir?: string;
  /** Opens docker:// references; supplied by the registry client (src/image/registry). */
  readonly openRemote?: (ref: Extract<ImageRef, { transport: 'docker' }>, platform: Platform) => Promise<ImageSource>;
}

async function expect(path: string, kind: 'file' | 'directory', ref: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    throw ioError(e, path, `opening image source ${ref}`);
  }
  if (isDir !== (kind === 'directory')) {
    throw new ImageError('bad-source-ref', `image source ${ref}: ${path} is ${isDir ? 'a directory' : 'not a directory'}`, {
      file: path,
      hint: kind === 'directory' ? 'oci: and dir: take a directory; use oci-archive: or tar: for a file.' : 'oci-archive:, docker-archive: and tar: take a file.',
    });
  }
}

function withTag(path: string, tag: string | undefined): string {
  return tag === undefined ? path : `${path}:${tag}`;
}

async function closeOnError<T>(index: ArchiveIndex, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    await index.close();
    throw e;
  }
}

/** An ImageSource for the layered transports: metadata already read, layers applied on buildTree(). */
function layeredSource(
  ref: string,
  transport: 'oci' | 'oci-archive' | 'docker-archive',
  where: string,
  img: { readonly manifestDigest?: string | undefined; readonly config: NonNullable<ImageSource['config']>; readonly layers: readonly LayerInfo[] },
  close: () => Promise<void>,
): ImageSource {
  return {
    ref,
    transport,
    where,
    ...(img.manifestDigest === undefined ? {} : { manifestDigest: img.manifestDigest }),
    config: img.config,
    layers: img.layers,
    warnings: [],
    buildTree: (b) => applyLayers(img.layers, b),
    close,
  };
}

/**
 * Open an image input named by the spec's `source:` syntax. Metadata (index, manifest, config) is read and
 * verified now; layers are read, verified and applied by buildTree(). Call close() when done.
 */
export async function openImageSource(ref: string, opts: OpenImageOptions): Promise<ImageSource> {
  const parsed = parseImageRef(ref, opts.baseDir);
  const platform = opts.platform ?? DEFAULT_PLATFORM;
  const scratch = opts.scratchDir ?? tmpdir();
  const noop = async (): Promise<void> => undefined;
  switch (parsed.transport) {
    case 'docker': {
      if (opts.openRemote === undefined) {
        throw new ImageError('unsupported', `image source ${ref}: registry sources need the registry client`, { hint: 'Pull the image first (skopeo copy docker://… oci:DIR:TAG) and use oci:DIR:TAG.' });
      }
      return opts.openRemote(parsed, platform);
    }
    case 'oci': {
      await expect(parsed.path, 'directory', ref);
      const img = await readOciLayout(dirAccess(parsed.path), parsed.tag, platform);
      return layeredSource(ref, 'oci', withTag(parsed.path, parsed.tag), img, noop);
    }
    case 'oci-archive': {
      await expect(parsed.path, 'file', ref);
      const index = await indexArchive(parsed.path, scratch);
      const img = await closeOnError(index, () => readOciLayout(archiveAccess(index), parsed.tag, platform));
      return layeredSource(ref, 'oci-archive', withTag(parsed.path, parsed.tag), img, () => index.close());
    }
    case 'docker-archive': {
      await expect(parsed.path, 'file', ref);
      const index = await indexArchive(parsed.path, scratch);
      const where = withTag(parsed.path, parsed.reference ?? (parsed.sourceIndex === undefined ? undefined : `@${parsed.sourceIndex}`));
      const img = await closeOnError(index, async () => {
        if (!index.members.has('manifest.json') && index.members.has('oci-layout')) {
          const oci = await readOciLayout(archiveAccess(index), parsed.reference, platform);
          return { config: oci.config, layers: oci.layers, manifestDigest: oci.manifestDigest as string | undefined };
        }
        const d = await readDockerArchive(index, parsed.reference, parsed.sourceIndex, platform);
        return { config: d.config, layers: d.layers, manifestDigest: undefined };
      });
      return layeredSource(ref, 'docker-archive', where, img, () => index.close());
    }
    case 'tar': {
      await expect(parsed.path, 'file', ref);
      const path = parsed.path;
      // The tarball's own digest keys its cached uncompressed copy (a rootfs tarball has no diff_id).
      const tap = digestTap(readRange(path, 0, undefined, path), 'sha256');
      for await (const _ of tap.stream) {
        // hashing only
      }
      const layer: LayerInfo = { where: path, digest: tap.result().digest, open: () => readRange(path, 0, undefined, path) };
      // A rootfs tarball is not a layer: `.wh.` names in it are ordinary files.
      return { ref, transport: 'tar', where: path, layers: [layer], warnings: [], buildTree: (b) => applyLayers([layer], { ...b, whiteouts: false }), close: noop };
    }
    case 'dir': {
      await expect(parsed.path, 'directory', ref);
      const warnings: string[] = [];
      return {
        ref,
        transport: 'dir',
        where: parsed.path,
        layers: [],
        warnings,
        buildTree: async () => {
          const r = await readRootfsDir(parsed.path);
          warnings.push(...r.warnings);
          return r.tree;
        },
        close: noop,
      };
    }
  }
}
