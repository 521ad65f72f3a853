// Entry point for image inputs (I/O): openImageSource(ref) dispatches on the spec's source syntax to an ImageSource.
//
// A local source (dir:, tar:, oci:, oci-archive:, docker-archive:) must be inside the spec folder, the folder `baseDir`
// names: herd runs as root on heads and on untrusted pull requests in CI, so a spec must not be able to make it read
// /etc or another checkout. The folder is opened once as a ConfinedDir and the source is resolved through it: `..` may not
// climb out, an absolute path must lie below the folder, and symlinks (the source itself included, which is followed as
// the user's own path) are followed only while they stay inside. A file source is then read through the descriptor it was
// opened with, a directory source through the ConfinedDir, by descriptor, never by its name again.
import { closeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { ConfinedDir, isPathBlocked, specRelative, type PathBlocked } from '../../fs/confined-dir.ts';
import type { UnpackBudget } from '../tree/unpack-budget.ts';
import { indexArchive, type ArchiveIndex } from './archive-index.ts';
import { digestTap, readOpen } from './blob-stream.ts';
import { readDockerArchive } from './docker-archive.ts';
import { openFileHashIndex } from './file-hashes.ts';
import { ImageError, ioError } from './image-error.ts';
import { applyLayers, DEFAULT_PLATFORM, type ImageSource, type LayerInfo, type Platform } from './image-source.ts';
import { archiveAccess, dirAccess, readOciLayout } from './oci-layout.ts';
import { readRootfsDir } from './rootfs-dir.ts';
import { parseImageRef, type ImageRef } from './source-ref.ts';

export interface OpenImageOptions {
  /** The spec folder: relative source paths are resolved against it, and every local source must be inside it. */
  readonly baseDir: string;
  /** Platform to select from multi-platform images and to check single ones against; default linux/amd64. */
  readonly platform?: Platform;
  /** Where compressed archives are spilled (removed again by close()); default the OS temp dir. */
  readonly scratchDir?: string;
  /** Bounds what a compressed archive may spill (the same budget then bounds the layers, in buildTree). */
  readonly budget?: UnpackBudget;
  /** Opens docker:// references; supplied by the registry client (src/image/registry). */
  readonly openRemote?: (ref: Extract<ImageRef, { transport: 'docker' }>, platform: Platform) => Promise<ImageSource>;
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

const INSIDE_HINT = 'Put the image in the spec folder (or a folder below it) and name it relative to the spec, e.g. dir:images/rocky; symlinks in the spec folder may only point inside it.';

function outside(ref: string, why: string): ImageError {
  return new ImageError('outside-spec-folder', `image source "${ref}" is outside the spec folder${why}: image sources must be inside the spec folder`, { hint: INSIDE_HINT });
}

/** The error for a PathBlocked met while resolving the source itself. */
function blockedSource(e: PathBlocked, ref: string, kind: 'file' | 'directory', path: string): ImageError {
  switch (e.kind) {
    case 'escape':
      return outside(ref, e.at === '' ? '' : ` (${e.at} is a symlink to ${e.target ?? '..'})`);
    case 'loop':
      return new ImageError('bad-source-ref', `image source "${ref}": too many levels of symlinks at ${e.at}`, { file: path });
    default:
      return wrongKind(ref, kind, path, kind === 'file' ? 'not a regular file' : 'not a directory');
  }
}

function wrongKind(ref: string, kind: 'file' | 'directory', path: string, what: string): ImageError {
  return new ImageError('bad-source-ref', `image source ${ref}: ${path} is ${what}`, {
    file: path,
    hint: kind === 'directory' ? 'oci: and dir: take a directory; use oci-archive: or tar: for a file.' : 'oci-archive:, docker-archive: and tar: take a file.',
  });
}

/** A local source as a path relative to the spec folder, or the outside-spec-folder error. */
function insideRel(dir: ConfinedDir, baseDir: string, ref: string, path: string): string {
  const rel = specRelative(path, baseDir, dir.real);
  if (rel === undefined) throw outside(ref, '');
  return rel;
}

/** Check that `rel` is a directory inside the spec folder (following symlinks that stay inside). */
function checkDirectory(dir: ConfinedDir, rel: string, ref: string, path: string): void {
  let st;
  try {
    st = dir.statDir(rel);
  } catch (e) {
    if (isPathBlocked(e)) throw blockedSource(e, ref, 'directory', path);
    throw ioError(e, path, `opening image source ${ref}`);
  }
  if (st === null) throw new ImageError('not-found', `${path} does not exist (while opening image source ${ref})`, { file: path });
}

/** Open the regular file `rel` inside the spec folder (a symlink at the end followed while inside) as a handle. */
async function openFile(dir: ConfinedDir, rel: string, ref: string, path: string): Promise<{ fh: FileHandle; size: number }> {
  let opened;
  try {
    opened = dir.openReadFollowing(rel);
  } catch (e) {
    if (!isPathBlocked(e)) throw ioError(e, path, `opening image source ${ref}`);
    if (e.kind === 'special' && isDirectory(dir, rel)) throw wrongKind(ref, 'file', path, 'a directory');
    throw blockedSource(e, ref, 'file', path);
  }
  if (opened === undefined) throw new ImageError('not-found', `${path} does not exist (while opening image source ${ref})`, { file: path });
  try {
    // The same open file as a FileHandle: /proc/self/fd/N names the descriptor's file, not a path that may have changed.
    return { fh: await open(`/proc/self/fd/${opened.fd}`, 'r'), size: Number(opened.stat.size) };
  } finally {
    closeSync(opened.fd);
  }
}

function isDirectory(dir: ConfinedDir, rel: string): boolean {
  try {
    return dir.isDirectory(rel);
  } catch {
    return false;
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
  if (parsed.transport === 'docker') {
    if (opts.openRemote === undefined) {
      throw new ImageError('unsupported', `image source ${ref}: registry sources need the registry client`, { hint: 'Pull the image first (skopeo copy docker://… oci:DIR:TAG) and use oci:DIR:TAG.' });
    }
    return opts.openRemote(parsed, platform);
  }
  // Opened for each use and closed again: an open source holds no descriptors of the spec folder between reads (a dir:
  // source holds one from buildTree() until close(), for its files are read again when packed).
  const openSpec = (): ConfinedDir => ConfinedDir.open(opts.baseDir, { what: 'spec folder' });
  const dir = openSpec();
  try {
    const rel = insideRel(dir, opts.baseDir, ref, parsed.path);
    return await openLocal(ref, parsed, rel, dir, openSpec, platform, opts);
  } finally {
    dir.close();
  }
}

async function openLocal(
  ref: string,
  parsed: Exclude<ImageRef, { transport: 'docker' }>,
  rel: string,
  dir: ConfinedDir,
  openSpec: () => ConfinedDir,
  platform: Platform,
  opts: OpenImageOptions,
): Promise<ImageSource> {
  const scratch = opts.scratchDir ?? tmpdir();
  const noop = async (): Promise<void> => undefined;
  switch (parsed.transport) {
    case 'oci': {
      checkDirectory(dir, rel, ref, parsed.path);
      const img = await readOciLayout(dirAccess(openSpec, rel, parsed.path), parsed.tag, platform);
      return layeredSource(ref, 'oci', withTag(parsed.path, parsed.tag), img, noop);
    }
    case 'oci-archive': {
      const index = await indexArchive({ ...(await openFile(dir, rel, ref, parsed.path)), where: parsed.path }, scratch, opts.budget);
      const img = await closeOnError(index, () => readOciLayout(archiveAccess(index), parsed.tag, platform));
      return layeredSource(ref, 'oci-archive', withTag(parsed.path, parsed.tag), img, () => index.close());
    }
    case 'docker-archive': {
      const index = await indexArchive({ ...(await openFile(dir, rel, ref, parsed.path)), where: parsed.path }, scratch, opts.budget);
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
      const path = parsed.path;
      const { fh, size } = await openFile(dir, rel, ref, path);
      try {
        // The tarball's own digest keys its cached uncompressed copy (a rootfs tarball has no diff_id).
        const tap = digestTap(readOpen(fh, 0, size, path), 'sha256');
        for await (const _ of tap.stream) {
          // hashing only
        }
        const layer: LayerInfo = { where: path, digest: tap.result().digest, open: () => readOpen(fh, 0, size, path) };
        // A rootfs tarball is not a layer: `.wh.` names in it are ordinary files.
        return { ref, transport: 'tar', where: path, layers: [layer], warnings: [], buildTree: (b) => applyLayers([layer], { ...b, whiteouts: false }), close: () => fh.close() };
      } catch (e) {
        await fh.close();
        throw e;
      }
    }
    case 'dir': {
      checkDirectory(dir, rel, ref, parsed.path);
      const warnings: string[] = [];
      let held: ConfinedDir | undefined;
      return {
        ref,
        transport: 'dir',
        where: parsed.path,
        layers: [],
        warnings,
        buildTree: async (b) => {
          held ??= openSpec();
          const hashes = b.fileHashDir === undefined ? undefined : await openFileHashIndex(b.fileHashDir, held.real + (rel === '' ? '' : `/${rel}`));
          const r = await readRootfsDir(held, rel, parsed.path, {
            ...(b.budget === undefined ? {} : { budget: b.budget }),
            ...(hashes === undefined ? {} : { hashes }),
            ...(b.afterWalk === undefined ? {} : { afterWalk: b.afterWalk }),
          });
          warnings.push(...r.warnings);
          return r.tree;
        },
        close: async () => held?.close(),
      };
    }
  }
}
