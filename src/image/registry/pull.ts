// Pull one image from a registry into the local cache as an OCI layout (I/O): resolve, select platform, verify every byte, commit atomically.
import { openBlobCache, sha256Digest, type BlobCache, type Staging } from './cache.ts';
import { createRegistryClient, readBodyLimited, type RegistryClient, type RegistryClientOptions } from './client.ts';
import { registryError } from './errors.ts';
import { configPlatform, MAX_MANIFEST_BYTES, parseManifest, type Descriptor, type ImageManifest, type Platform } from './manifest.ts';
import { DEFAULT_PLATFORM, formatPlatform, normalizePlatform, parsePlatform, platformMatches, selectManifest } from './platform.ts';
import { formatReference, manifestReference, parseReference, type ImageReference } from './reference.ts';

export interface PullOptions extends RegistryClientOptions {
  /** Cache root; see cache.ts for what lives under it. */
  readonly cacheDir: string;
  /** Platform to pick from a multi-arch index, `os/arch[/variant]`; default linux/amd64. */
  readonly platform?: string | Platform;
  /** Never touch the network: succeed only from the cache, else fail with IMAGE.NOT_CACHED. */
  readonly offline?: boolean;
  /** Parallel layer downloads; default 3. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

export interface PulledLayer {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
}

export interface PullResult {
  /** An OCI image layout (oci-layout, index.json with exactly this one manifest, blobs/sha256/...). */
  readonly layoutDir: string;
  readonly manifestDigest: string;
  readonly manifestMediaType: string;
  readonly configDigest: string;
  readonly layers: readonly PulledLayer[];
  /** The platform of the pulled image, from its config (falling back to the index entry, then the request). */
  readonly platform: Platform;
  /** Canonical reference that was pulled, e.g. `docker.io/library/alpine:3.20`. */
  readonly reference: string;
  /** What the reference resolved to: the index digest for a multi-arch image, else the manifest digest. Pin this. */
  readonly resolvedDigest: string;
  /** Blobs and bytes fetched from the network by this pull (0 when served from the cache). */
  readonly downloaded: { readonly blobs: number; readonly bytes: number };
}

// Image configs with long histories reach a few MiB; anything past this is not a config.
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/**
 * Pull `source` (`docker://host/repo[:tag][@sha256:...]` or a parsed reference) into the cache.
 * Every manifest and blob is hashed against its digest; on any failure nothing from this pull stays in the cache.
 * A reference pinned by digest whose image is already cached needs no network request at all.
 */
export async function pullImage(source: string | ImageReference, opts: PullOptions): Promise<PullResult> {
  const ref = typeof source === 'string' ? parseReference(source) : source;
  const wanted = typeof opts.platform === 'string' ? parsePlatform(opts.platform) : normalizePlatform(opts.platform ?? DEFAULT_PLATFORM);
  // Offline, a reference without a digest can only be resolved by the registry: fail as resolveTop would, without opening
  // (creating) the cache first, so a plan of an unpulled image does no file I/O for it (issue 17: start-up).
  if (opts.offline === true && ref.digest === undefined) network({ opts } as Ctx, `manifest of ${formatReference(ref)}`);
  const cache = await openBlobCache(opts.cacheDir);
  const staging = await cache.beginStaging();
  const ctx: Ctx = { ref, opts, cache, staging, client: undefined, downloaded: { blobs: 0, bytes: 0 } };
  try {
    const name = formatReference(ref);
    const top = await resolveTop(ctx);
    const topDoc = parseManifest(top.bytes, top.mediaType, name);

    let manifestDesc: Descriptor;
    let manifest: ImageManifest;
    let indexPlatform: Platform | undefined;
    if (topDoc.kind === 'index') {
      const chosen = selectManifest(topDoc, wanted, name);
      const bytes = await loadSmall(ctx, chosen, MAX_MANIFEST_BYTES, `manifest ${chosen.digest} (${formatPlatform(chosen.platform ?? wanted)}) of ${name}`, true);
      const doc = parseManifest(bytes, chosen.mediaType, `${chosen.digest} of ${name}`);
      if (doc.kind !== 'manifest') {
        throw registryError('IMAGE.MANIFEST_UNSUPPORTED', `${name}: the index entry for ${formatPlatform(wanted)} is itself an index`, 'nested indexes are not supported; pin the platform manifest digest instead');
      }
      manifest = doc;
      manifestDesc = { mediaType: doc.mediaType, digest: chosen.digest, size: bytes.byteLength };
      indexPlatform = chosen.platform;
    } else {
      manifest = topDoc;
      manifestDesc = { mediaType: topDoc.mediaType, digest: top.digest, size: top.bytes.byteLength };
    }

    const configBytes = await loadSmall(ctx, manifest.config, MAX_CONFIG_BYTES, `config ${manifest.config.digest} of ${name}`, false);
    const fromConfig = configPlatform(configBytes);
    if (fromConfig !== undefined && !platformMatches(wanted, fromConfig)) {
      throw registryError(
        'IMAGE.PLATFORM_MISMATCH',
        `${name} is a ${formatPlatform(fromConfig)} image, not ${formatPlatform(wanted)}`,
        'use a multi-arch reference or an image built for the wanted platform',
      );
    }
    const platform = fromConfig ?? indexPlatform ?? wanted;

    await fetchLayers(ctx, manifest.layers, name);
    await staging.commit();
    const layoutDir = await cache.ensureLayout({ ...manifestDesc, platform }, [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]);
    return {
      layoutDir,
      manifestDigest: manifestDesc.digest,
      manifestMediaType: manifestDesc.mediaType,
      configDigest: manifest.config.digest,
      layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
      platform,
      reference: name,
      resolvedDigest: top.digest,
      downloaded: { ...ctx.downloaded },
    };
  } finally {
    await staging.discard();
  }
}

interface Ctx {
  readonly ref: ImageReference;
  readonly opts: PullOptions;
  readonly cache: BlobCache;
  readonly staging: Staging;
  client: RegistryClient | undefined;
  readonly downloaded: { blobs: number; bytes: number };
}

// The client is made on first use, so a pull served from the cache provably never constructs one.
function network(ctx: Ctx, what: string): RegistryClient {
  if (ctx.opts.offline === true) {
    throw registryError('IMAGE.NOT_CACHED', `${what} is not in the cache, and offline mode forbids fetching it`, 'pull once with network access, or pin a digest that is cached');
  }
  ctx.client ??= createRegistryClient(ctx.opts);
  return ctx.client;
}

// The manifest or index the reference names: from the cache when pinned by digest, otherwise from the registry.
async function resolveTop(ctx: Ctx): Promise<{ digest: string; bytes: Uint8Array; mediaType?: string }> {
  const { ref, cache, staging } = ctx;
  const name = formatReference(ref);
  if (ref.digest !== undefined) {
    const cached = await cache.readVerified(ref.digest, MAX_MANIFEST_BYTES);
    if (cached !== undefined) return { digest: ref.digest, bytes: cached };
  }
  const fetched = await network(ctx, `manifest of ${name}`).getManifest(ref, manifestReference(ref), ctx.opts.signal);
  ctx.downloaded.blobs++;
  ctx.downloaded.bytes += fetched.bytes.byteLength;
  const actual = sha256Digest(fetched.bytes);
  const expected = ref.digest ?? fetched.headerDigest ?? actual;
  if (actual !== expected) {
    throw registryError(
      'IMAGE.DIGEST_MISMATCH',
      `manifest of ${name} from ${fetched.endpoint} hashes to ${actual}, but ${ref.digest !== undefined ? 'the reference pins' : 'the registry announced'} ${expected}`,
      'the registry, mirror or network altered the manifest; nothing was cached',
    );
  }
  if (!(await cache.has(actual))) await staging.putBytes(actual, fetched.bytes);
  const out: { digest: string; bytes: Uint8Array; mediaType?: string } = { digest: actual, bytes: fetched.bytes };
  if (fetched.contentType !== undefined) out.mediaType = fetched.contentType;
  return out;
}

// A manifest or config blob by descriptor: cached bytes (re-hashed), else fetched, verified and staged.
async function loadSmall(ctx: Ctx, desc: Descriptor, limit: number, what: string, isManifest: boolean): Promise<Uint8Array> {
  const cached = await ctx.cache.readVerified(desc.digest, limit);
  if (cached !== undefined && cached.byteLength === desc.size) return cached;
  const client = network(ctx, what);
  let bytes: Uint8Array;
  if (isManifest) {
    bytes = (await client.getManifest(ctx.ref, desc.digest, ctx.opts.signal)).bytes;
  } else {
    const blob = await client.getBlob(ctx.ref, desc.digest, ctx.opts.signal);
    bytes = await readBodyLimited(blob.body, blob.contentLength, limit, what);
  }
  ctx.downloaded.blobs++;
  ctx.downloaded.bytes += bytes.byteLength;
  const actual = sha256Digest(bytes);
  if (actual !== desc.digest) {
    throw registryError('IMAGE.DIGEST_MISMATCH', `${what}: content digest ${actual} does not match the expected ${desc.digest}`, 'the registry, mirror or network altered the data; nothing was cached');
  }
  await ctx.staging.putBytes(desc.digest, bytes, desc.size);
  return bytes;
}

// Layers stream straight to staging; the first failure aborts the others, and staging is discarded by the caller.
async function fetchLayers(ctx: Ctx, layers: readonly Descriptor[], name: string): Promise<void> {
  const missing: Descriptor[] = [];
  const seen = new Set<string>();
  for (const l of layers) {
    if (seen.has(l.digest)) continue;
    seen.add(l.digest);
    if (/\.(?:foreign|nondistributable)\./.test(l.mediaType)) {
      throw registryError('IMAGE.MANIFEST_UNSUPPORTED', `${name} has a non-distributable layer ${l.digest} (${l.mediaType})`, 'Windows-style foreign layers cannot be pulled');
    }
    if (!(await ctx.cache.has(l.digest, l.size))) missing.push(l);
  }
  if (missing.length === 0) return;
  const client = network(ctx, `layer ${missing[0]?.digest} of ${name}`);
  const abort = new AbortController();
  const outer = ctx.opts.signal;
  const onOuterAbort = () => abort.abort(outer?.reason);
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  let failure: { error: unknown } | undefined;
  const queue = [...missing];
  const worker = async () => {
    for (let l = queue.shift(); l !== undefined && failure === undefined; l = queue.shift()) {
      const what = `layer ${l.digest} of ${name}`;
      try {
        const blob = await client.getBlob(ctx.ref, l.digest, abort.signal);
        if (blob.contentLength !== undefined && blob.contentLength !== l.size) {
          await blob.body.cancel();
          throw registryError('IMAGE.SIZE_MISMATCH', `${what}: the registry sends ${blob.contentLength} bytes, the manifest declares ${l.size}`);
        }
        await ctx.staging.putStream(l.digest, l.size, blob.body, what);
        ctx.downloaded.blobs++;
        ctx.downloaded.bytes += l.size;
      } catch (e) {
        if (failure === undefined) {
          failure = { error: e };
          abort.abort();
        }
      }
    }
  };
  const n = Math.max(1, Math.min(ctx.opts.concurrency ?? 3, missing.length));
  try {
    await Promise.all(Array.from({ length: n }, worker));
  } finally {
    outer?.removeEventListener('abort', onOuterAbort);
  }
  if (failure !== undefined) throw failure.error;
}
