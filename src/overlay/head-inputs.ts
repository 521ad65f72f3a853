// Read what the built-in overlays need from the build machine (I/O shell): the munge key, SSH host keys, root's
// authorized_keys and the site's users. Paths come from the spec (held to their usual folders by resolve.ts) and are read
// under the head root (`/` on the head; a test's folder elsewhere) through one ConfinedDir: no symlink is followed, no FIFO
// or device is opened, sizes are capped. Contents are never quoted in any message; secrets are never kept beyond the build.
import { posix } from 'node:path';
import { ConfinedDir, isPathBlocked } from '../fs/confined-dir.ts';
import { diagnosticAt, type Diagnostic } from '../diagnostics/diagnostic.ts';
import type { ClusterModel, HeadFileRef } from '../spec/model.ts';
import type { AccountTexts, HeadInputs } from './types.ts';

/** munged refuses keys shorter than 32 bytes (MUNGE_MINIMUM_SECRET_LEN) and longer than 1024 (MUNGE_MAXIMUM_SECRET_LEN). */
const MUNGE_MIN = 32;
const MUNGE_MAX = 1024;
const MAX_SMALL = 1 << 20;
const MAX_ACCOUNTS = 16 << 20;

export interface HeadRead {
  readonly inputs: HeadInputs;
  /** Why an input is absent (the overlays needing it are pending), by HeadInputs key. */
  readonly missing: ReadonlyMap<keyof HeadInputs, string>;
  readonly diagnostics: readonly Diagnostic[];
}

const errno = (e: unknown): string => (e as NodeJS.ErrnoException | undefined)?.code ?? (isPathBlocked(e) ? e.kind : 'error');

/** What a read found: bytes, absent (with a reason for pending), or a problem worth an error. */
type ReadOutcome = { bytes: Buffer } | { absent: string } | { error: string };

function readAt(dir: ConfinedDir | undefined, rel: string, shown: string, max: number): ReadOutcome {
  if (dir === undefined) return { absent: `${shown} cannot be read: the head root is not available` };
  try {
    const b = dir.readFile(rel, max);
    return b === undefined ? { absent: `${shown} does not exist on this machine` } : { bytes: b };
  } catch (e) {
    if (e instanceof RangeError) return { error: `${shown} is larger than ${max} bytes` };
    const code = errno(e);
    if (code === 'EACCES' || code === 'EPERM') return { absent: `${shown} is not readable by this user (build overlays as root on the head)` };
    if (code === 'ENOTDIR') return { absent: `${shown} does not exist on this machine` };
    if (isPathBlocked(e)) return { error: `${shown} is not a regular file reached without symlinks (${e.kind}); herd does not follow links for head files` };
    return { error: `${shown} cannot be read (${code})` };
  }
}

/** Where a head file is read: under the head root (an absolute path), or in the spec folder (a stand-in head's relative path). */
interface Places {
  readonly head: ConfinedDir | undefined;
  readonly spec: ConfinedDir | undefined;
}
const placeOf = (p: Places, ref: HeadFileRef): { dir: ConfinedDir | undefined; rel: string } =>
  ref.inSpec ? { dir: p.spec, rel: ref.path } : { dir: p.head, rel: ref.path.slice(1) };
const readRef = (p: Places, ref: HeadFileRef, max: number): ReadOutcome => {
  const at = placeOf(p, ref);
  return readAt(at.dir, at.rel, ref.path, max);
};

/**
 * Open the head root and, when some file is read from a stand-in head in the spec folder, the spec folder; a place that
 * cannot be opened is undefined (what would be read there is absent), the head root's error kept for a message.
 */
function openPlaces(headRoot: string, specDir: string, needSpec: boolean): Places & { readonly headError?: unknown; close(): void } {
  let head: ConfinedDir | undefined;
  let spec: ConfinedDir | undefined;
  let headError: unknown;
  try {
    head = ConfinedDir.open(headRoot, { what: 'head root' });
  } catch (e) {
    headError = e;
  }
  try {
    if (needSpec) spec = ConfinedDir.open(specDir, { what: 'spec folder' });
  } catch {
    spec = undefined;
  }
  return { head, spec, ...(headError !== undefined ? { headError } : {}), close: () => { head?.close(); spec?.close(); } };
}

/** Site users and groups from the head (or a file in the spec folder). Absent files simply mean no site accounts. */
function readAccounts(places: Places, passwd: HeadFileRef, group: HeadFileRef, diagnostics: Diagnostic[]): AccountTexts | undefined {
  const one = (ref: HeadFileRef): string | undefined => {
    const r = readRef(places, ref, MAX_ACCOUNTS);
    if ('bytes' in r) return r.bytes.toString('utf8');
    if ('error' in r) diagnostics.push(diagnosticAt(ref.at, 'overlay/head-file', 'error', r.error, 'point head.users at a readable regular file'));
    else if (ref.inSpec) diagnostics.push(diagnosticAt(ref.at, 'overlay/head-file', 'error', `${ref.path} does not exist in the spec folder`, 'create it (passwd(5) lines) or remove the setting'));
    return undefined;
  };
  const p = one(passwd);
  const g = one(group);
  if (p === undefined && g === undefined) return undefined;
  return { passwd: p ?? '', group: g ?? '' };
}

/** Read every head input the model's overlays may need. `headRoot` is `/` on a real head. */
export function readHeadInputs(model: ClusterModel, headRoot: string, specDir: string): HeadRead {
  const diagnostics: Diagnostic[] = [];
  const missing = new Map<keyof HeadInputs, string>();
  const f = model.head.files;
  const places = openPlaces(headRoot, specDir, [f.mungeKey, f.sshHostKeys, f.authorizedKeys, f.passwd, f.group].some((r) => r.inSpec));
  try {
    if (places.headError !== undefined) diagnostics.push(diagnosticAt(model.head.at, 'overlay/head-root', 'error', `the head root ${headRoot} cannot be opened (${errno(places.headError)})`, 'pass --head-root DIR naming a directory (default /)'));
    const inputs: { -readonly [K in keyof HeadInputs]: HeadInputs[K] } = {};
    const munge = readRef(places, f.mungeKey, MUNGE_MAX + 1);
    if ('bytes' in munge) {
      if (munge.bytes.length < MUNGE_MIN || munge.bytes.length > MUNGE_MAX) {
        diagnostics.push(diagnosticAt(f.mungeKey.at, 'overlay/munge-key', 'error', `the munge key ${f.mungeKey.path} is ${munge.bytes.length} bytes; munged needs ${MUNGE_MIN} to ${MUNGE_MAX}`, 'make a new one with mungekey --create (or dd if=/dev/urandom bs=1 count=1024), then restart munge on the head'));
      } else inputs.mungeKey = munge.bytes;
    } else if ('error' in munge) diagnostics.push(diagnosticAt(f.mungeKey.at, 'overlay/munge-key', 'error', munge.error, 'the munge key must be a regular file'));
    else missing.set('mungeKey', `the munge key: ${munge.absent}`);

    const { dir: keysDir, rel: keysRel } = placeOf(places, f.sshHostKeys);
    const keys = new Map<string, Uint8Array>();
    let keysProblem: string | undefined;
    try {
      const list = keysDir?.readdir(keysRel);
      if (list === undefined) keysProblem = `${f.sshHostKeys.path} does not exist on this machine (wwctl configure ssh makes the keys)`;
      for (const e of list ?? []) {
        if (!/^ssh_host_[a-z0-9]+_key(\.pub)?$/.test(e.name)) continue;
        const r = readAt(keysDir, `${keysRel}/${e.name}`, `${f.sshHostKeys.path}/${e.name}`, MAX_SMALL);
        if ('bytes' in r) keys.set(e.name, r.bytes);
        else if ('error' in r) diagnostics.push(diagnosticAt(f.sshHostKeys.at, 'overlay/host-keys', 'error', r.error, 'host keys must be regular files'));
      }
      if (list !== undefined && ![...keys.keys()].some((k) => !k.endsWith('.pub'))) keysProblem = `${f.sshHostKeys.path} holds no ssh_host_*_key (wwctl configure ssh makes them)`;
    } catch (e) {
      keysProblem = `${f.sshHostKeys.path} cannot be listed (${errno(e)})`;
    }
    if (keysProblem === undefined) inputs.hostKeys = keys;
    else missing.set('hostKeys', `SSH host keys: ${keysProblem}`);

    const ak = readRef(places, f.authorizedKeys, MAX_SMALL);
    if ('bytes' in ak) inputs.authorizedKeys = ak.bytes;
    else if ('error' in ak) diagnostics.push(diagnosticAt(f.authorizedKeys.at, 'overlay/authorized-keys', 'error', ak.error, 'authorized_keys must be a regular file'));
    else missing.set('authorizedKeys', `root's authorized_keys: ${ak.absent}`);

    const site = readAccounts(places, f.passwd, f.group, diagnostics);
    if (site) inputs.siteAccounts = site;
    return { inputs, missing, diagnostics };
  } finally {
    places.close();
  }
}

/** The BMC passwords the nodes' ipmi.password_file name, by that path as the spec gives it. */
export interface IpmiPasswords {
  readonly passwords: ReadonlyMap<string, string>;
  /** Why one is absent (nodes.conf and the nodes' wwinit config then wait as pending); undefined when all were read. */
  readonly missing?: string;
  readonly diagnostics: readonly Diagnostic[];
}

/** IPMI 2.0 (RAKP) passwords are at most 20 bytes; ipmitool refuses longer ones. */
const IPMI_PASSWORD_MAX = 20;

/** The files the model's nodes name for their BMC password, each with where it is first set. */
export function ipmiPasswordFiles(model: ClusterModel): Map<string, HeadFileRef> {
  const out = new Map<string, HeadFileRef>();
  for (const n of model.nodes) {
    const p = n.ipmi?.passwordFile;
    // The path as the rule checked it (spec/rules/ipmi.ts normalises it the same way).
    if (p !== undefined && !out.has(p)) out.set(p, { path: posix.normalize(p), inSpec: !p.startsWith('/'), at: n.at.ipmi ?? n.at.name ?? model.head.at });
  }
  return out;
}

/**
 * Read each BMC password file (its first line) under the head root, or the spec folder for a stand-in head. Never quoted
 * in a message; a password Warewulf could not carry (too long, or a character that breaks wwinit's shell-quoted config)
 * is an error naming the file.
 */
export function readIpmiPasswords(model: ClusterModel, headRoot: string, specDir: string): IpmiPasswords {
  const files = ipmiPasswordFiles(model);
  const passwords = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  const missing: string[] = [];
  if (files.size === 0) return { passwords, diagnostics };
  // A head root that cannot be opened leaves the passwords absent (nodes.conf pending); the overlays' read reports it.
  const places = openPlaces(headRoot, specDir, [...files.values()].some((r) => r.inSpec));
  try {
    for (const [key, ref] of files) {
      const r = readRef(places, ref, 4096);
      if ('absent' in r) {
        missing.push(`the BMC password: ${r.absent}`);
        continue;
      }
      if ('error' in r) {
        diagnostics.push(diagnosticAt(ref.at, 'overlay/head-file', 'error', `ipmi.password_file: ${r.error}`, 'the BMC password must be a regular file (its first line is the password)'));
        continue;
      }
      const line = r.bytes.toString('utf8').split('\n')[0]!.replace(/\r$/, '');
      const bad = line === '' ? 'is empty' : Buffer.byteLength(line) > IPMI_PASSWORD_MAX ? `is ${Buffer.byteLength(line)} bytes; IPMI 2.0 passwords are at most ${IPMI_PASSWORD_MAX}` : /["\\$`]|[^\x20-\x7e]/.test(line) ? 'holds a character wwinit\'s shell-quoted config cannot carry (" \\ $ ` or one outside printable ASCII)' : undefined;
      if (bad) diagnostics.push(diagnosticAt(ref.at, 'overlay/head-file', 'error', `the BMC password in ${ref.path} ${bad}`, 'set the BMC password to at most 20 printable ASCII characters without " \\ $ `, and write it as the first line of the file'));
      else passwords.set(key, line);
    }
    return { passwords, ...(missing.length > 0 ? { missing: [...new Set(missing)].join('; ') } : {}), diagnostics };
  } finally {
    places.close();
  }
}
