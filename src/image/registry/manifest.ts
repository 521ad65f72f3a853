// Manifest and index documents (pure): media types, the Accept header, and strict parsing of OCI / Docker schema2 JSON.
import { registryError } from './errors.ts';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

const INDEX_TYPES: readonly string[] = [MEDIA.ociIndex, MEDIA.dockerList];
const MANIFEST_TYPES: readonly string[] = [MEDIA.ociManifest, MEDIA.dockerManifest];
const SCHEMA1 = /^application\/vnd\.docker\.distribution\.manifest\.v1\+(?:prettyjws|json)$/;

/** Sent on every manifest request; without it registries down-convert to schema1 or refuse. */
export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

/** containerd's cap; a manifest larger than this is hostile or broken, and we hold manifests in memory. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly osVersion?: string;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
  readonly urls?: readonly string[];
}

export interface ImageIndex {
  readonly kind: 'index';
  readonly mediaType: string;
  readonly manifests: readonly Descriptor[];
}

export interface ImageManifest {
  readonly kind: 'manifest';
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

const SHA256 = /^sha256:[0-9a-f]{64}$/;

/**
 * Parse manifest bytes as an index or an image manifest.
 * `contentType` is the HTTP Content-Type (or the descriptor's mediaType); the document's own mediaType wins when set,
 * and a document without either is classified by shape, which the OCI spec allows.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, where: string): ImageIndex | ImageManifest {
  const invalid = (why: string) => registryError('IMAGE.MANIFEST_INVALID', `manifest ${where} is invalid: ${why}`);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw invalid(`not JSON (${(e as Error).message})`);
  }
  if (!isObject(doc)) throw invalid('not a JSON object');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const header = contentType?.split(';')[0]?.trim();
  const type = declared ?? (header && header !== 'application/json' && header !== 'text/plain' ? header : undefined);
  if ((type !== undefined && SCHEMA1.test(type)) || doc.schemaVersion === 1) {
    throw registryError('IMAGE.MANIFEST_UNSUPPORTED', `manifest ${where} is Docker schema1, which herd does not read`, 'push the image again with a current tool (schema2 or OCI)');
  }
  if (doc.schemaVersion !== 2) throw invalid(`schemaVersion is ${JSON.stringify(doc.schemaVersion)}, expected 2`);

  const isIndex = type !== undefined ? INDEX_TYPES.includes(type) : Array.isArray(doc.manifests) && doc.config === undefined;
  const isManifest = type !== undefined ? MANIFEST_TYPES.includes(type) : isObject(doc.config) && doc.manifests === undefined;
  if (isIndex) {
    if (!Array.isArray(doc.manifests)) throw invalid('an index needs a manifests array');
    return { kind: 'index', mediaType: type ?? MEDIA.ociIndex, manifests: doc.manifests.map((d, i) => parseDescriptor(d, `manifests[${i}]`, invalid)) };
  }
  if (isManifest) {
    if (!Array.isArray(doc.layers)) throw invalid('an image manifest needs a layers array');
    return {
      kind: 'manifest',
      mediaType: type ?? MEDIA.ociManifest,
      config: parseDescriptor(doc.config, 'config', invalid),
      layers: doc.layers.map((d, i) => parseDescriptor(d, `layers[${i}]`, invalid)),
    };
  }
  throw registryError(
    'IMAGE.MANIFEST_UNSUPPORTED',
    `manifest ${where} has media type ${type ?? '(none)'}, which is neither an image manifest nor an index`,
    'herd reads OCI and Docker schema2 images; artifacts of other kinds cannot be booted',
  );
}

function parseDescriptor(d: unknown, at: string, invalid: (why: string) => Error): Descriptor {
  if (!isObject(d)) throw invalid(`${at} is not an object`);
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw invalid(`${at}.mediaType is missing`);
  if (typeof d.digest !== 'string' || !SHA256.test(d.digest)) {
    throw invalid(`${at}.digest ${JSON.stringify(d.digest)} is not a sha256 digest`);
  }
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${at}.size ${JSON.stringify(d.size)} is not a byte count`);
  const out: { -readonly [K in keyof Descriptor]: Descriptor[K] } = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.platform !== undefined) {
    const p = d.platform;
    if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') throw invalid(`${at}.platform needs os and architecture`);
    out.platform = platformOf(p);
  }
  if (Array.isArray(d.urls)) out.urls = d.urls.filter((u): u is string => typeof u === 'string');
  return out;
}

/** The platform an image config declares (os, architecture, variant, os.version), or undefined when it does not say. */
export function configPlatform(configBytes: Uint8Array): Platform | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(configBytes));
  } catch {
    return undefined;
  }
  if (!isObject(doc) || typeof doc.os !== 'string' || typeof doc.architecture !== 'string') return undefined;
  return platformOf(doc);
}

function platformOf(p: Record<string, unknown>): Platform {
  const out: { -readonly [K in keyof Platform]: Platform[K] } = { os: String(p.os), architecture: String(p.architecture) };
  if (typeof p.variant === 'string' && p.variant !== '') out.variant = p.variant;
  if (typeof p['os.version'] === 'string' && p['os.version'] !== '') out.osVersion = p['os.version'];
  return out;
}

/** Descriptor JSON in OCI field order, for index.json; deterministic because the order is fixed here. */
export function descriptorJson(d: Descriptor): Record<string, unknown> {
  const out: Record<string, unknown> = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.platform) {
    const p: Record<string, unknown> = { architecture: d.platform.architecture, os: d.platform.os };
    if (d.platform.osVersion !== undefined) p['os.version'] = d.platform.osVersion;
    if (d.platform.variant !== undefined) p.variant = d.platform.variant;
    out.platform = p;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** index.json of a single-image OCI layout: exactly one manifest, so readers need no ref name to pick it. */
export function layoutIndexJson(manifest: Descriptor): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [descriptorJson(manifest)] });
}

export const OCI_LAYOUT_JSON = JSON.stringify({ imageLayoutVersion: '1.0.0' });
