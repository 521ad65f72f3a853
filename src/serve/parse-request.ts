// How warewulfd routes and parses a provisioning request (pure): Go's ServeMux prefixes and path cleaning, then Warewulf 4.6.5's
// parseReq (internal/pkg/warewulfd/parser.go): `/<word>/<MAC>?stage=...`, the MAC with `-` or `:` in any case.
import { posix } from 'node:path';

/** The prefixes warewulfd registers (server/server.go); everything else is Go's "404 page not found". */
export const PROVISION_PREFIXES = ['/provision/', '/ipxe/', '/efiboot/', '/kernel/', '/container/', '/overlay-system/', '/overlay-runtime/'] as const;
/** Registered by warewulfd but not served by herd: overlay files rendered on request (wwclient) and the node status JSON. */
export const UNSERVED_PREFIXES = ['/overlay-file/', '/status'] as const;

export interface ProvisionRequest {
  /** Lower case, colons. */
  readonly hwaddr: string;
  readonly stage: string;
  readonly compress: string;
  /** `overlay=a,b`: an ad-hoc overlay set (herd serves it only when such an image already exists in the root). */
  readonly overlay: string;
  readonly assetkey: string;
  readonly uuid: string;
  readonly efifile: string;
  readonly ipaddr: string;
  readonly remotePort: number;
  /** Go's RemoteAddr (`ip:port`, `[ip6]:port`), as warewulfd logs it. */
  readonly remoteAddr: string;
}

export type Routed =
  | { readonly kind: 'provision'; readonly request: ProvisionRequest }
  /** Go's ServeMux redirects a path that is not clean (`..`, `.`, `//`) to its cleaned form with 301. */
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'bad-request'; readonly reason: string; readonly logged: boolean }
  | { readonly kind: 'not-found'; readonly reason: string };

/** Go's url.PathUnescape for a request path; undefined for a malformed escape (Go's server answers 400 then). */
function unescapePath(p: string): string | undefined {
  if (/%(?![0-9A-Fa-f]{2})/.test(p)) return undefined;
  try {
    return decodeURIComponent(p);
  } catch {
    // Escapes that are not UTF-8 (%ff): Go keeps the raw bytes; herd decodes byte by byte as latin1, which only matters for a MAC lookup that fails anyway.
    return p.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}

/** Go's path cleaning for mux redirects: path.Clean, keeping a trailing slash. */
function cleanPath(p: string): string {
  if (p === '') return '/';
  const rooted = p.startsWith('/') ? p : `/${p}`;
  let np = posix.normalize(rooted);
  while (np.startsWith('//')) np = np.slice(1);
  if (np.length > 1 && np.endsWith('/') && !rooted.endsWith('/')) np = np.slice(0, -1);
  if (rooted.endsWith('/') && !np.endsWith('/')) np += '/';
  return np;
}

/** The first value of each query parameter, as Go's url.Query()[name][0] gives it ('' when absent). */
function queryOf(raw: string): (name: string) => string {
  const params = new URLSearchParams(raw);
  return (name) => params.get(name) ?? '';
}

/**
 * Route one request line. `target` is the raw request target (path and query, as sent), `remote` the peer socket address.
 * Never touches the file system: the MAC only selects a node from the model, it never becomes part of a path.
 */
export function routeRequest(target: string, remote: { readonly address: string; readonly port: number }): Routed {
  if (!target.startsWith('/')) return { kind: 'bad-request', reason: 'request target is not an absolute path', logged: false };
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  const decoded = unescapePath(rawPath);
  if (decoded === undefined) return { kind: 'bad-request', reason: `malformed escape in ${rawPath}`, logged: false };
  if (decoded.includes('\0')) return { kind: 'bad-request', reason: 'NUL in path', logged: false };
  // warewulfd's slashFix replaces `//` with `/` (once over the string, like strings.Replace) before the mux sees the path.
  const path = decoded.replaceAll('//', '/');
  const clean = cleanPath(path);
  if (clean !== path) return { kind: 'redirect', location: clean + (rawQuery ? `?${rawQuery}` : '') };
  for (const prefix of PROVISION_PREFIXES) {
    if (`${path}/` === prefix) return { kind: 'redirect', location: prefix + (rawQuery ? `?${rawQuery}` : '') };
  }
  const prefix = PROVISION_PREFIXES.find((p) => path.startsWith(p));
  if (!prefix) return { kind: 'not-found', reason: UNSERVED_PREFIXES.some((p) => path.startsWith(p)) ? `${path}: not served by herd` : `${path}: no such route` };
  return parseProvision(path, rawQuery, remote);
}

/** warewulfd's parseReq. A missing MAC is looked up in the ARP cache by warewulfd; herd has none and answers 400. */
function parseProvision(path: string, rawQuery: string, remote: { readonly address: string; readonly port: number }): Routed {
  const parts = path.split('/');
  if (parts.length < 3) return { kind: 'bad-request', reason: 'unknown path components in GET', logged: true };
  const word = parts[1]!;
  let hwaddr = '';
  let efifile = '';
  if (word !== 'efiboot') hwaddr = parts[2]!.replaceAll('-', ':').toLowerCase();
  else efifile = parts.slice(2).join('/');
  const address = remote.address.startsWith('::ffff:') && remote.address.includes('.') ? remote.address.slice(7) : remote.address;
  const remoteAddr = address.includes(':') ? `[${address}]:${remote.port}` : `${address}:${remote.port}`;
  const get = queryOf(rawQuery);
  const inferred: Record<string, string> = { ipxe: 'ipxe', provision: 'ipxe', kernel: 'kernel', image: 'image', 'overlay-system': 'system', 'overlay-runtime': 'runtime', efiboot: 'efiboot', initramfs: 'initramfs' };
  const stage = get('stage') || inferred[word] || '';
  if (stage === '') return { kind: 'bad-request', reason: 'no stage encoded in GET', logged: true };
  if (hwaddr === '') return { kind: 'bad-request', reason: 'no hwaddr encoded in GET', logged: true };
  return {
    kind: 'provision',
    request: { hwaddr, stage, compress: get('compress'), overlay: get('overlay'), assetkey: get('assetkey'), uuid: get('uuid'), efifile, ipaddr: address, remotePort: remote.port, remoteAddr },
  };
}
