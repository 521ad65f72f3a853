// OCI / Docker image JSON documents (pure): descriptors, manifests, image indexes, configs, and platform selection.
import { ImageError } from './image-error.ts';
import type { ImageConfig, Platform } from './image-source.ts';

export interface Descriptor {
  readonly mediaType?: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: Platform;
}

export interface ManifestList {
  readonly manifests?: readonly unknown[];
}

export interface Manifest {
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

const CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

function bad(where: string, what: string): ImageError {
  return new ImageError('bad-layout', `${where}: ${what}`, { file: where.replace(/ (manifests|layers)\[\d+\]$/, '') });
}

export function parseJson(data: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(Buffer.from(data).toString('utf8')) as unknown;
  } catch (e) {
    throw bad(where, `not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function optString(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(where, `"${key}" must be a string`);
  return v;
}

function optStrings(o: Record<string, unknown>, key: string, where: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw bad(where, `"${key}" must be a list of strings`);
  return v as string[];
}

function stringMap(v: unknown, key: string, where: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v) || !Object.values(v).every((s) => typeof s === 'string')) throw bad(where, `"${key}" must map strings to strings`);
  return v as Record<string, string>;
}

export function parseDescriptor(x: unknown, where: string): Descriptor {
  if (!isRecord(x)) throw bad(where, 'descriptor is not an object');
  const digest = optString(x, 'digest', where);
  if (digest === undefined) throw bad(where, 'descriptor has no digest');
  const size = x.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw bad(where, 'descriptor has no valid size');
  const mediaType = optString(x, 'mediaType', where);
  const annotations = stringMap(x.annotations, 'annotations', where);
  let platform: Platform | undefined;
  if (isRecord(x.platform)) {
    const os = optString(x.platform, 'os', where);
    const architecture = optString(x.platform, 'architecture', where);
    const variant = optString(x.platform, 'variant', where);
    if (os !== undefined && architecture !== undefined) platform = variant === undefined ? { os, architecture } : { os, architecture, variant };
  }
  return {
    digest,
    size,
    ...(mediaType === undefined ? {} : { mediaType }),
    ...(annotations === undefined ? {} : { annotations }),
    ...(platform === undefined ? {} : { platform }),
  };
}

export function parseManifest(x: unknown, where: string): Manifest {
  if (!isRecord(x)) throw bad(where, 'manifest is not an object');
  if (x.schemaVersion === 1) {
    throw new ImageError('unsupported', `${where}: Docker schema 1 manifests are not supported`, { file: where, hint: 'Re-push or copy the image with a current tool (skopeo copy converts it).' });
  }
  if (Array.isArray(x.manifests)) throw bad(where, 'expected an image manifest, found an image index');
  const mediaType = optString(x, 'mediaType', where);
  const config = parseDescriptor(x.config, `${where} config`);
  if (config.mediaType !== undefined && !CONFIG_TYPES.has(config.mediaType)) {
    throw new ImageError('unsupported', `${where}: not a container image (config media type ${config.mediaType})`, { file: where });
  }
  if (!Array.isArray(x.layers)) throw bad(where, 'manifest has no layers list');
  const layers = x.layers.map((l, i) => parseDescriptor(l, `${where} layers[${i}]`));
  for (const l of layers) {
    if (l.mediaType !== undefined && !LAYER_TYPES.has(l.mediaType)) {
      throw new ImageError('unsupported', `${where}: layer ${l.digest} has media type ${l.mediaType}, which herd cannot unpack`, { file: where });
    }
  }
  return { ...(mediaType === undefined ? {} : { mediaType }), config, layers };
}

export function parseImageConfig(x: unknown, where: string): ImageConfig {
  if (!isRecord(x)) throw bad(where, 'image config is not an object');
  const inner = isRecord(x.config) ? x.config : {};
  const rootfs = isRecord(x.rootfs) ? x.rootfs : {};
  const architecture = optString(x, 'architecture', where);
  const os = optString(x, 'os', where);
  const variant = optString(x, 'variant', where);
  const entrypoint = optStrings(inner, 'Entrypoint', where);
  const cmd = optStrings(inner, 'Cmd', where);
  const workingDir = optString(inner, 'WorkingDir', where);
  const user = optString(inner, 'User', where);
  return {
    ...(architecture === undefined ? {} : { architecture }),
    ...(os === undefined ? {} : { os }),
    ...(variant === undefined ? {} : { variant }),
    env: optStrings(inner, 'Env', where) ?? [],
    ...(entrypoint === undefined ? {} : { entrypoint }),
    ...(cmd === undefined ? {} : { cmd }),
    ...(workingDir === undefined ? {} : { workingDir }),
    ...(user === undefined ? {} : { user }),
    labels: stringMap(inner.Labels, 'Labels', where) ?? {},
    diffIds: optStrings(rootfs, 'diff_ids', where) ?? [],
    raw: x,
  };
}

function normArch(a: string): string {
  return a === 'x86_64' ? 'amd64' : a === 'aarch64' ? 'arm64' : a;
}

/** The manifest for `platform` among an index's entries; an exact variant match wins, then one without a variant. */
export function selectPlatform(list: readonly Descriptor[], platform: Platform, where: string): Descriptor {
  const matching = list.filter(
    (d) =>
      d.platform !== undefined &&
      d.platform.os === platform.os &&
      normArch(d.platform.architecture) === normArch(platform.architecture) &&
      (platform.variant === undefined || d.platform.variant === platform.variant),
  );
  const best = matching.find((d) => d.platform?.variant === platform.variant) ?? matching[0];
  if (best === undefined) {
    const have = list
      .map((d) => d.platform)
      .filter((p): p is Platform => p !== undefined && p.os !== 'unknown')
      .map((p) => `${p.os}/${p.architecture}${p.variant === undefined ? '' : `/${p.variant}`}`);
    throw new ImageError('no-matching-manifest', `${where}: no image for ${platform.os}/${platform.architecture} (available: ${have.length === 0 ? 'none' : have.join(', ')})`, {
      file: where,
      hint: 'Use an image built for the nodes\' platform.',
    });
  }
  return best;
}
