// Where requests for a reference go (pure): mirror substitution, Docker Hub's API host, and http vs https.
import { registryError } from './errors.ts';
import { DOCKER_HUB, DOCKER_HUB_API, isLoopbackRegistry, type ImageReference } from './reference.ts';

export interface EndpointOptions {
  /**
   * A registry mirror used instead of the reference's own host, e.g. `http://127.0.0.1:5000`.
   * A string applies to every registry; a map is keyed by normalised registry (`docker.io`, `quay.io`).
   * The mirror serves the same repository paths (`library/alpine`), as Docker Hub pull-through mirrors do.
   */
  readonly mirror?: string | Readonly<Record<string, string>>;
  /** Try the origin registry after the mirror fails (unreachable, 404 or 5xx). Default false: the mirror is authoritative. */
  readonly fallbackToOrigin?: boolean;
  /** Plain http for these registries (or all when true). Loopback registries always use http. */
  readonly insecure?: boolean | readonly string[];
}

export interface Endpoint {
  /** Base URL without trailing slash, e.g. `https://registry-1.docker.io`. */
  readonly base: string;
  readonly isMirror: boolean;
}

/** The ordered endpoints to try for a reference: the mirror first when one is configured. */
export function resolveEndpoints(ref: ImageReference, opts: EndpointOptions): Endpoint[] {
  const origin: Endpoint = { base: originBase(ref.registry, opts.insecure), isMirror: false };
  const mirror = typeof opts.mirror === 'string' ? opts.mirror : opts.mirror?.[ref.registry];
  if (mirror === undefined) return [origin];
  const m: Endpoint = { base: mirrorBase(mirror), isMirror: true };
  return opts.fallbackToOrigin === true ? [m, origin] : [m];
}

function originBase(registry: string, insecure: EndpointOptions['insecure']): string {
  const host = registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
  const plain = isLoopbackRegistry(registry) || insecure === true || (Array.isArray(insecure) && insecure.includes(registry));
  return `${plain ? 'http' : 'https'}://${host}`;
}

// A bare host:port mirror gets the same http/https rule as a registry of that name.
function mirrorBase(mirror: string): string {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(mirror) ? mirror : `${isLoopbackRegistry(mirror.split('/')[0] ?? '') ? 'http' : 'https'}://${mirror}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw registryError('IMAGE.REFERENCE_INVALID', `registry mirror "${mirror}" is not a URL`, 'write the mirror as http(s)://host[:port]');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw registryError('IMAGE.REFERENCE_INVALID', `registry mirror "${mirror}" must be http or https`);
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}
