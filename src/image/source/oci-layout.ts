// Reading an OCI image layout (I/O through LayoutAccess): index.json -> (image index ->) manifest -> config + layers.
import { closeSync, read } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isPathBlocked, type ConfinedDir } from '../../fs/confined-dir.ts';
import { memberWhere, openMember, type ArchiveIndex } from './archive-index.ts';
import { digestAlgorithm, digestTap, readAll, readOpen } from './blob-stream.ts';
import { ImageError, ioError } from './image-error.ts';
import { parseDescriptor, parseImageConfig, parseJson, parseManifest, selectPlatform, type Descriptor, type ManifestList } from './image-json.ts';
import type { ImageConfig, LayerInfo, Platform } from './image-source.ts';

/** Files of a layout, in a directory or inside an archive. Names are relative: `index.json`, `blobs/sha256/…`. */
export interface LayoutAccess {
  /** The layout as a whole, for messages. */
  readonly where: string;
  /** One file of it, for messages. */
  whereOf(name: string): string;
  has(name: string): Promise<boolean>;
  open(name: string): AsyncIterable<Uint8Array>;
}

const readAt = promisify(read);

/**
 * A layout directory at `rel` inside the spec folder, which `openDir` opens (and each use closes again, so an open source
 * holds no descriptors between reads). Its files are opened by descriptor and never through a symlink: a layout written by
 * skopeo, umoci or buildah has none, and one that leads out of the spec folder must not be read.
 */
export function dirAccess(openDir: () => ConfinedDir, rel: string, where: string): LayoutAccess {
  const sub = (name: string): string => (rel === '' ? name : `${rel}/${name}`);
  const using = <T>(f: (dir: ConfinedDir) => T): T => {
    const dir = openDir();
    try {
      return f(dir);
    } finally {
      dir.close();
    }
  };
  return {
    where,
    whereOf: (name) => join(where, name),
    has: async (name) => {
      try {
        return using((dir) => dir.lstat(sub(name))) !== null;
      } catch {
        return true; // open() says what is wrong
      }
    },
    open: (name) =>
      (async function* () {
        const file = join(where, name);
        let opened;
        try {
          opened = using((dir) => dir.openRead(sub(name)));
        } catch (e) {
          if (!isPathBlocked(e)) throw ioError(e, file, 'reading the image layout');
          throw new ImageError('bad-layout', `${file} is not a regular file of the layout${e.kind === 'escape' ? ' (its path leads out of the spec folder)' : ''}; herd follows no symlinks inside an image layout`, {
            file,
            hint: 'Copy the image again (skopeo copy, umoci) so the layout holds plain files.',
          });
        }
        if (opened === undefined) throw new ImageError('not-found', `${file} does not exist`, { file });
        const { fd, stat } = opened;
        try {
          yield* readOpen({ read: (b, o, l, p) => readAt(fd, b, o, l, p) }, 0, Number(stat.size), file);
        } finally {
          closeSync(fd);
        }
      })(),
  };
}

export function archiveAccess(index: ArchiveIndex): LayoutAccess {
  return {
    where: index.archive,
    whereOf: (name) => memberWhere(index, name),
    has: async (name) => index.members.has(name),
    open: (name) => {
      const m = index.members.get(name);
      if (m === undefined) throw new ImageError('not-found', `${memberWhere(index, name)} is missing from the archive`, { file: index.archive });
      return openMember(index, m);
    },
  };
}

export function blobName(digest: string, where: string): string {
  digestAlgorithm(digest, where);
  return `blobs/${digest.replace(':', '/')}`;
}

const MAX_JSON = 32 << 20;

/** A small blob (manifest, index, config) read into memory and checked against its descriptor's digest and size. */
export async function readVerifiedBlob(access: LayoutAccess, desc: Descriptor): Promise<Buffer> {
  const name = blobName(desc.digest, access.where);
  const where = access.whereOf(name);
  if (!(await access.has(name))) {
    throw new ImageError('not-found', `${where} is missing (blob ${desc.digest} referenced by the image)`, {
      file: where,
      hint: 'The layout is incomplete; copy the image again (skopeo copy copies every blob).',
    });
  }
  if (desc.size > MAX_JSON) throw new ImageError('bad-layout', `${where}: ${desc.mediaType ?? 'metadata'} blob of ${desc.size} bytes is implausibly large`, { file: where });
  const tap = digestTap(access.open(name), digestAlgorithm(desc.digest, where));
  const data = await readAll(tap.stream, where);
  const got = tap.result();
  if (got.digest !== desc.digest || got.size !== desc.size) {
    throw new ImageError('digest-mismatch', `${where}: content is ${got.digest} (${got.size} bytes), but the image says ${desc.digest} (${desc.size} bytes)`, {
      file: where,
      hint: 'The blob is corrupt or was modified after the image was written; copy or pull the image again.',
    });
  }
  return data;
}

export interface ResolvedImage {
  readonly manifestDigest: string;
  readonly config: ImageConfig;
  readonly layers: readonly LayerInfo[];
}

const REF_NAME = 'org.opencontainers.image.ref.name';

function tagsOf(list: readonly Descriptor[]): string {
  const tags = [...new Set(list.map((d) => d.annotations?.[REF_NAME]).filter((t): t is string => t !== undefined))];
  return tags.length === 0 ? 'no tags' : `tags: ${tags.join(', ')}`;
}

/** Pick the manifest descriptor named by `tag` from index.json (or the only one), then walk image indexes by platform. */
async function selectManifest(access: LayoutAccess, tag: string | undefined, platform: Platform): Promise<{ desc: Descriptor; json: unknown }> {
  const indexWhere = access.whereOf('index.json');
  if (!(await access.has('oci-layout'))) {
    throw new ImageError('bad-layout', `${access.where} is not an OCI image layout (no oci-layout file)`, {
      file: access.where,
      hint: 'Point the source at a directory written by skopeo/umoci/buildah (oci:DIR), or use dir: for a plain rootfs.',
    });
  }
  if (!(await access.has('index.json'))) throw new ImageError('bad-layout', `${indexWhere} is missing`, { file: indexWhere });
  const index = parseJson(await readAll(access.open('index.json'), indexWhere), indexWhere) as ManifestList | null;
  if (typeof index !== 'object' || index === null || !Array.isArray(index.manifests)) {
    throw new ImageError('bad-layout', `${indexWhere}: no "manifests" list`, { file: indexWhere });
  }
  const all = index.manifests.map((d, i) => parseDescriptor(d, `${indexWhere} manifests[${i}]`));
  let candidates = tag === undefined ? all : all.filter((d) => d.annotations?.[REF_NAME] === tag);
  if (candidates.length === 0) {
    throw new ImageError('no-matching-manifest', tag === undefined ? `${indexWhere} lists no images` : `${access.where} has no image tagged "${tag}" (${tagsOf(all)})`, {
      file: indexWhere,
    });
  }
  if (tag === undefined && candidates.length > 1) {
    const latest = candidates.filter((d) => d.annotations?.[REF_NAME] === 'latest');
    if (latest.length > 0) candidates = latest;
    else if (!candidates.every((d) => d.platform !== undefined)) {
      throw new ImageError('no-matching-manifest', `${access.where} holds several images; name one by adding :TAG to the source (${tagsOf(all)})`, {
        file: indexWhere,
      });
    }
  }
  let desc = candidates.length === 1 ? (candidates[0] as Descriptor) : selectPlatform(candidates, platform, indexWhere);
  // Follow image indexes (OCI) and manifest lists (Docker) by platform, whatever the descriptor's media type says.
  for (let depth = 0; ; depth++) {
    const where = access.whereOf(blobName(desc.digest, access.where));
    const json = parseJson(await readVerifiedBlob(access, desc), where);
    const list = typeof json === 'object' && json !== null ? (json as ManifestList).manifests : undefined;
    if (!Array.isArray(list)) return { desc, json };
    if (depth >= 8) throw new ImageError('bad-layout', `${where}: image indexes nested too deeply`, { file: where });
    desc = selectPlatform(
      list.map((d, i) => parseDescriptor(d, `${where} manifests[${i}]`)),
      platform,
      where,
    );
  }
}

/** Resolve `tag` in a layout to its config and layers (all metadata blobs verified; layers verified when read). */
export async function readOciLayout(access: LayoutAccess, tag: string | undefined, platform: Platform): Promise<ResolvedImage> {
  const { desc, json } = await selectManifest(access, tag, platform);
  const where = access.whereOf(blobName(desc.digest, access.where));
  const manifest = parseManifest(json, where);
  const configWhere = access.whereOf(blobName(manifest.config.digest, access.where));
  const config = parseImageConfig(parseJson(await readVerifiedBlob(access, manifest.config), configWhere), configWhere);
  checkPlatform(config, platform, configWhere);
  if (config.diffIds.length !== manifest.layers.length) {
    throw new ImageError('bad-layout', `${where}: ${manifest.layers.length} layers, but the config lists ${config.diffIds.length} diff_ids`, { file: where });
  }
  const layers = manifest.layers.map((l, i): LayerInfo => {
    const name = blobName(l.digest, where);
    return {
      where: access.whereOf(name),
      digest: l.digest,
      size: l.size,
      diffId: config.diffIds[i] as string,
      ...(l.mediaType === undefined ? {} : { mediaType: l.mediaType }),
      open: () => access.open(name),
    };
  });
  for (const l of layers) {
    const name = blobName(l.digest as string, where);
    if (!(await access.has(name))) {
      throw new ImageError('not-found', `${l.where} is missing (layer ${l.digest})`, {
        file: l.where,
        hint: 'The layout is incomplete (a foreign or non-distributable layer?); copy the image again with skopeo copy.',
      });
    }
  }
  return { manifestDigest: desc.digest, config, layers };
}

/** An image built for another platform boots nothing; say so before building it. */
export function checkPlatform(config: ImageConfig, platform: Platform, where: string): void {
  const norm = (a: string | undefined): string | undefined => (a === 'x86_64' ? 'amd64' : a === 'aarch64' ? 'arm64' : a);
  if ((config.os !== undefined && config.os !== platform.os) || (config.architecture !== undefined && norm(config.architecture) !== norm(platform.architecture))) {
    throw new ImageError('no-matching-manifest', `${where}: the image is for ${config.os ?? '?'}/${config.architecture ?? '?'}, not ${platform.os}/${platform.architecture}`, {
      file: where,
      hint: 'Use an image (or a tag of a multi-platform image) built for the nodes\' platform.',
    });
  }
}
