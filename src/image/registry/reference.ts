// Image reference parsing and normalisation (pure): `docker://host[:port]/repo[:tag][@sha256:hex]` as the distribution spec names images.
import { registryError } from './errors.ts';

export interface ImageReference {
  /** Normalised registry host[:port]; Docker Hub is always `docker.io`. */
  readonly registry: string;
  /** Repository path inside the registry; Docker Hub official images carry `library/`. */
  readonly repository: string;
  /** Tag, defaulted to `latest` only when there is no digest either. */
  readonly tag?: string;
  /** `sha256:<64 hex>`; when present it wins over the tag, as in docker and skopeo. */
  readonly digest?: string;
}

export const DOCKER_HUB = 'docker.io';
/** The API host behind `docker.io`; `docker.io` itself only redirects browsers. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

// Grammar from the distribution reference package (docs: reference/regexp.go); only the facts are reused.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST_ANY = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const SHA256 = /^sha256:[0-9a-f]{64}$/;
const MAX_NAME = 255;

/**
 * Parse a registry image reference, with or without the `docker://` transport prefix.
 * Throws IMAGE.REFERENCE_INVALID for malformed input and IMAGE.DIGEST_UNSUPPORTED for a digest other than sha256.
 */
export function parseReference(input: string): ImageReference {
  const raw = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  const bad = (why: string, hint?: string) => registryError('IMAGE.REFERENCE_INVALID', `invalid image reference "${input}": ${why}`, hint);
  if (raw === '') throw bad('it is empty');
  if (raw.includes('://')) throw bad('only the docker:// transport names a registry image', 'use docker://host/repo:tag');

  let rest = raw;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_ANY.test(digest)) throw bad(`"${digest}" is not a digest`, 'write the digest as sha256:<64 lowercase hex digits>');
    if (!digest.startsWith('sha256:')) {
      throw registryError('IMAGE.DIGEST_UNSUPPORTED', `digest algorithm of "${digest}" is not supported`, 'pin the image by its sha256 digest');
    }
    if (!SHA256.test(digest)) throw bad(`"${digest}" is not a sha256 digest`, 'a sha256 digest is 64 lowercase hex digits');
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`"${tag}" is not a valid tag`, 'tags are up to 128 characters of [A-Za-z0-9_.-], not starting with . or -');
  }
  if (rest === '') throw bad('the repository name is missing');

  const { registry, repository } = splitDomain(rest);
  if (!DOMAIN.test(registry)) throw bad(`"${registry}" is not a valid registry host`);
  if (repository.length > MAX_NAME) throw bad(`the repository name is longer than ${MAX_NAME} characters`);
  for (const part of repository.split('/')) {
    if (part !== part.toLowerCase() && PATH_COMPONENT.test(part.toLowerCase())) throw bad('repository names must be lowercase');
    if (!PATH_COMPONENT.test(part)) throw bad(`"${part}" is not a valid repository path component`);
  }

  const ref: { registry: string; repository: string; tag?: string; digest?: string } = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  if (tag === undefined && digest === undefined) ref.tag = 'latest';
  return ref;
}

// A first component is a registry host only if it looks like one (dot, port or localhost, or uppercase), as docker decides.
function splitDomain(name: string): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  let registry: string;
  let repository: string;
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    registry = DOCKER_HUB;
    repository = name;
  } else {
    registry = first;
    repository = name.slice(slash + 1);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  return { registry, repository };
}

/** Canonical text form, without the transport: `docker.io/library/alpine:3.20@sha256:...`. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** What to ask the registry's manifests endpoint for: the digest when pinned, else the tag. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/**
 * True when the reference names its content by digest, so it cannot float.
 * Accepts a parsed reference or a source string; a string that does not parse is not pinned.
 */
export function isPinnedByDigest(ref: string | ImageReference): boolean {
  if (typeof ref !== 'string') return ref.digest !== undefined;
  try {
    return parseReference(ref).digest !== undefined;
  } catch {
    return false;
  }
}

/** The host name without port or IPv6 brackets, lowercased. */
export function registryHostname(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']')).toLowerCase();
  const colon = registry.lastIndexOf(':');
  return (colon >= 0 ? registry.slice(0, colon) : registry).toLowerCase();
}

/** Registries on the loopback interface speak plain http, as docker and skopeo assume. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registryHostname(registry);
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}
