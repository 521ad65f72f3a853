// Public surface of the registry client (re-exports only): pull docker:// images into the cache as OCI layouts.
export { pullImage, type PullOptions, type PullResult, type PulledLayer } from './pull.ts';
export { parseReference, formatReference, isPinnedByDigest, type ImageReference } from './reference.ts';
export { parsePlatform, formatPlatform, platformMatches, selectManifest, DEFAULT_PLATFORM } from './platform.ts';
export { createRegistryClient, type FetchLike, type RegistryClient, type RegistryClientOptions } from './client.ts';
export { openBlobCache, type BlobCache } from './cache.ts';
export { isRegistryError, type RegistryError, type RegistryErrorCode } from './errors.ts';
export { MEDIA, type Descriptor, type Platform } from './manifest.ts';
export type { EndpointOptions } from './endpoint.ts';
