// OCI distribution v2 HTTP client (I/O through an injectable fetch): manifests and blob streams, anonymous Bearer auth, redirects, mirrors.
import { parseAuthChallenges, tokenFromResponse, tokenUrl } from './auth.ts';
import { resolveEndpoints, type Endpoint, type EndpointOptions } from './endpoint.ts';
import { registryError, type RegistryError } from './errors.ts';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from './manifest.ts';
import { formatReference, type ImageReference } from './reference.ts';

/** The subset of the WHATWG fetch that the client uses; tests inject a counting or failing one. */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface RegistryClientOptions extends EndpointOptions {
  /** Defaults to the global fetch (undici). */
  readonly fetch?: FetchLike;
  readonly userAgent?: string;
}

export interface FetchedManifest {
  readonly bytes: Uint8Array;
  /** HTTP Content-Type, without parameters. */
  readonly contentType?: string;
  /** The registry's Docker-Content-Digest header, when sent; only advisory, the bytes are hashed anyway. */
  readonly headerDigest?: string;
  /** Base URL that answered, so errors can name the mirror. */
  readonly endpoint: string;
}

export interface FetchedBlob {
  /** The body, not yet read: callers stream it to disk and must consume or cancel it. */
  readonly body: ReadableStream<Uint8Array>;
  readonly contentLength?: number;
  readonly endpoint: string;
}

export interface RegistryClient {
  /** GET /v2/<repo>/manifests/<tag-or-digest> with Accept for OCI and Docker schema2 manifests and indexes. */
  getManifest(ref: ImageReference, reference: string, signal?: AbortSignal): Promise<FetchedManifest>;
  /** GET /v2/<repo>/blobs/<digest>, following redirects (storage backends answer 307 to a signed URL). */
  getBlob(ref: ImageReference, digest: string, signal?: AbortSignal): Promise<FetchedBlob>;
}

const MAX_REDIRECTS = 5;
const MAX_TOKEN_BYTES = 1024 * 1024;

/** Create a client; it remembers Bearer tokens per endpoint and repository for its lifetime. */
export function createRegistryClient(opts: RegistryClientOptions = {}): RegistryClient {
  const doFetch: FetchLike = opts.fetch ?? ((input, init) => fetch(input, init));
  const userAgent = opts.userAgent ?? 'herd';
  const tokens = new Map<string, string>();

  async function follow(url: URL, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<Response> {
    let current = url;
    let hdrs = headers;
    for (let hop = 0; ; hop++) {
      let res: Response;
      try {
        res = await doFetch(current, { method: 'GET', headers: hdrs, redirect: 'manual', signal });
      } catch (e) {
        if (signal?.aborted) throw e;
        const why = (e as { cause?: { code?: string; message?: string } }).cause;
        throw registryError('IMAGE.REGISTRY_UNREACHABLE', `cannot reach ${current.origin}: ${why?.code ?? why?.message ?? (e as Error).message}`, 'check the registry address, mirror setting and network', e);
      }
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || location === null) return res;
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw registryError('IMAGE.REGISTRY_HTTP', `too many redirects fetching ${url.href}`);
      const next = new URL(location, current);
      // A signed storage URL on another host must not receive the registry token (it may even reject it).
      if (next.origin !== current.origin) {
        const { authorization: _dropped, ...rest } = hdrs;
        hdrs = rest;
      }
      current = next;
    }
  }

  async function fetchToken(ep: Endpoint, challengeHeader: string, repository: string, signal: AbortSignal | undefined): Promise<string> {
    const challenges = parseAuthChallenges(challengeHeader);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer === undefined) {
      const schemes = challenges.map((c) => c.scheme).join(', ') || 'none';
      throw registryError('IMAGE.REGISTRY_AUTH', `${ep.base} requires credentials (${schemes} auth) for ${repository}; herd pulls anonymously`, 'use a public image or a mirror that allows anonymous pulls');
    }
    const url = tokenUrl(bearer, repository);
    const res = await follow(url, { 'user-agent': userAgent, accept: 'application/json' }, signal);
    if (res.status !== 200) {
      const detail = await errorDetail(res);
      throw registryError('IMAGE.REGISTRY_AUTH', `token request to ${url.origin}${url.pathname} for ${repository} failed with HTTP ${res.status}${detail}`, 'the repository may be private or misspelled');
    }
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(await readLimited(res, MAX_TOKEN_BYTES, `token from ${url.origin}`)));
    } catch (e) {
      if ((e as RegistryError).code !== undefined) throw e;
      throw registryError('IMAGE.REGISTRY_AUTH', `token endpoint ${url.origin}${url.pathname} did not answer JSON`);
    }
    const token = tokenFromResponse(body);
    if (token === undefined) throw registryError('IMAGE.REGISTRY_AUTH', `token endpoint ${url.origin}${url.pathname} answered without a token`);
    return token;
  }

  // One request against one endpoint: send the cached token, and on a 401 challenge get a token and retry once.
  async function send(ep: Endpoint, ref: ImageReference, path: string, accept: string | undefined, signal: AbortSignal | undefined): Promise<Response> {
    const url = new URL(`${ep.base}/v2/${ref.repository}/${path}`);
    const key = `${ep.base} ${ref.repository}`;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { 'user-agent': userAgent };
      if (accept !== undefined) headers.accept = accept;
      const token = tokens.get(key);
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      const res = await follow(url, headers, signal);
      if (res.status !== 401) return res;
      const challenge = res.headers.get('www-authenticate');
      const detail = await errorDetail(res);
      if (attempt > 0 || challenge === null) {
        throw registryError('IMAGE.REGISTRY_AUTH', `${ep.base} refused anonymous access to ${ref.repository} (HTTP 401${detail})`, 'the repository may be private or misspelled');
      }
      tokens.set(key, await fetchToken(ep, challenge, ref.repository, signal));
    }
  }

  // Walk the endpoints (mirror, then origin when fallback is on); only the last endpoint's failure is thrown.
  async function request(ref: ImageReference, path: string, accept: string | undefined, what: string, signal: AbortSignal | undefined): Promise<{ res: Response; ep: Endpoint }> {
    const endpoints = resolveEndpoints(ref, opts);
    let lastError: unknown;
    for (const [i, ep] of endpoints.entries()) {
      const isLast = i === endpoints.length - 1;
      try {
        const res = await send(ep, ref, path, accept, signal);
        if (res.ok) return { res, ep };
        const detail = await errorDetail(res);
        lastError =
          res.status === 404
            ? registryError(what.startsWith('manifest') ? 'IMAGE.MANIFEST_NOT_FOUND' : 'IMAGE.BLOB_NOT_FOUND', `${what} of ${formatReference(ref)} not found on ${ep.base}${detail}`, 'check the tag or digest; the registry does not have it')
            : registryError('IMAGE.REGISTRY_HTTP', `${ep.base} answered HTTP ${res.status} for ${what} of ${formatReference(ref)}${detail}`);
        if (isLast || !(res.status === 404 || res.status >= 500)) throw lastError;
      } catch (e) {
        if (isLast || signal?.aborted || (e as RegistryError).code !== 'IMAGE.REGISTRY_UNREACHABLE') throw e;
        lastError = e;
      }
    }
    throw lastError;
  }

  return {
    async getManifest(ref, reference, signal) {
      const { res, ep } = await request(ref, `manifests/${reference}`, MANIFEST_ACCEPT, `manifest ${reference}`, signal);
      const bytes = await readLimited(res, MAX_MANIFEST_BYTES, `manifest ${reference} from ${ep.base}`);
      const out: { -readonly [K in keyof FetchedManifest]: FetchedManifest[K] } = { bytes, endpoint: ep.base };
      const ct = res.headers.get('content-type')?.split(';')[0]?.trim();
      if (ct) out.contentType = ct;
      const hd = res.headers.get('docker-content-digest');
      if (hd) out.headerDigest = hd.trim();
      return out;
    },
    async getBlob(ref, digest, signal) {
      const { res, ep } = await request(ref, `blobs/${digest}`, undefined, `blob ${digest}`, signal);
      if (res.body === null) throw registryError('IMAGE.REGISTRY_HTTP', `${ep.base} sent no body for blob ${digest}`);
      const out: { -readonly [K in keyof FetchedBlob]: FetchedBlob[K] } = { body: res.body, endpoint: ep.base };
      const len = Number(res.headers.get('content-length') ?? NaN);
      if (Number.isSafeInteger(len) && len >= 0) out.contentLength = len;
      return out;
    },
  };
}

/** Read a whole small response body, refusing more than `limit` bytes so a hostile server cannot exhaust memory. */
export async function readLimited(res: Response, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  return readBodyLimited(res.body, Number.isSafeInteger(declared) ? declared : undefined, limit, what);
}

/** As readLimited, for a bare body stream (e.g. a blob from getBlob). */
export async function readBodyLimited(body: ReadableStream<Uint8Array> | null, declared: number | undefined, limit: number, what: string): Promise<Uint8Array> {
  const tooBig = () => registryError('IMAGE.MANIFEST_INVALID', `${what} is larger than ${limit} bytes`);
  if (declared !== undefined && declared > limit) {
    await body?.cancel();
    throw tooBig();
  }
  if (body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooBig();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

// The distribution error body ({errors:[{code,message}]}) says why far better than the status line; read a little of it.
async function errorDetail(res: Response): Promise<string> {
  let text: string;
  try {
    text = new TextDecoder().decode(await readLimited(res, 16 * 1024, 'error body'));
  } catch {
    return '';
  }
  try {
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const first = doc.errors?.[0];
    if (first) return `: ${[first.code, first.message].filter(Boolean).join(' ')}`;
  } catch {
    // not JSON; fall through to the raw text
  }
  const line = text.trim().split('\n')[0]?.slice(0, 200) ?? '';
  return line ? `: ${line}` : '';
}
