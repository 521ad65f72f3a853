// WWW-Authenticate challenge parsing and token-URL building (pure): the anonymous Bearer flow of the distribution token spec.
import { registryError } from './errors.ts';

export interface AuthChallenge {
  /** Lowercased scheme, e.g. `bearer` or `basic`. */
  readonly scheme: string;
  /** Parameters with lowercased names, e.g. realm, service, scope. */
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parse a WWW-Authenticate header (RFC 7235: one or more `scheme k=v, k="quoted"` challenges).
 * Unparseable tails are ignored rather than thrown, because a registry that sends junk still often works anonymously.
 */
export function parseAuthChallenges(header: string): AuthChallenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const n = header.length;
  const skip = (re: RegExp) => {
    while (i < n && re.test(header[i] ?? '')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i] ?? '')) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skip(/[\s,]/);
    const word = token();
    if (word === '') break;
    skip(/[ \t]/);
    if (header[i] === '=' && out.length > 0) {
      i++;
      skip(/[ \t]/);
      let value: string;
      if (header[i] === '"') {
        i++;
        value = '';
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        // Lenient beyond RFC 7235's token: some registries send unquoted URLs as realm.
        const start = i;
        while (i < n && !/[\s,]/.test(header[i] ?? '')) i++;
        value = header.slice(start, i);
      }
      const last = out[out.length - 1];
      if (last) last.params[word.toLowerCase()] = value;
    } else {
      out.push({ scheme: word.toLowerCase(), params: {} });
    }
  }
  return out;
}

/**
 * The token endpoint URL for an anonymous pull: realm with `service` and `scope` query parameters.
 * The challenge's own scope is used when it names one; otherwise pull access to `repository`.
 */
export function tokenUrl(challenge: AuthChallenge, repository: string): URL {
  const realm = challenge.params.realm;
  let url: URL;
  try {
    url = new URL(realm ?? '');
  } catch {
    throw registryError('IMAGE.REGISTRY_AUTH', `the registry's Bearer challenge has no usable realm (${JSON.stringify(realm)})`);
  }
  if (challenge.params.service !== undefined) url.searchParams.set('service', challenge.params.service);
  url.searchParams.set('scope', challenge.params.scope ?? `repository:${repository}:pull`);
  return url;
}

/** The token from a token-endpoint JSON answer (`token`, or the OAuth2 `access_token` alias), or undefined. */
export function tokenFromResponse(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  const t = typeof b.token === 'string' && b.token !== '' ? b.token : b.access_token;
  return typeof t === 'string' && t !== '' ? t : undefined;
}
