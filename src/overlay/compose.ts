// Compose one node's overlay stage (pure): the files of each overlay in the node's list, in order, merged into the
// entries of one archive. A later overlay replaces an earlier one's file (and the plan names which overlay each file came
// from); herd's own overlays never write the same path twice (that would be a bug in herd, so it is an internal error).
// Parents are added with 0755 root:root unless an overlay gives the directory itself. Mtimes follow content (see mtimeOf).
import { createHash } from 'node:crypto';
import { earlyBootReason } from '../spec/warewulf-facts.ts';
import type { SourceRef } from '../diagnostics/diagnostic.ts';
import type { OverlayFile, OverlayProblem } from './types.ts';

export interface ComposedEntry {
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly content?: Uint8Array;
  readonly target?: string;
  readonly sha256?: string;
  readonly hidden?: 'secret' | 'head-file';
  /** The overlay that wrote this entry ('' for parent directories herd added). */
  readonly origin: string;
}

/** One overlay's output for the node, in list order. */
export interface OverlayPart {
  readonly name: string;
  readonly builtin: boolean;
  readonly files: readonly OverlayFile[];
  /** Where the overlay is defined (for placement errors). */
  readonly at?: SourceRef;
}

/**
 * wwclient rewrites a file on a running node only when its size, mtime or mode differ (#1984): a change from 10.0.0.2 to
 * 10.0.0.3 keeps the size, so the mtime must change whenever the content does, and must not change when it does not (or
 * every node rewrites every file on every refresh). Warewulf uses the build time, which rewrites everything after every
 * build; herd derives the mtime from the content itself: a fixed base plus 26 bits of the content's sha256 (a window of
 * about two years after 2020-09-13). Same content, same mtime, on every build machine; different content, a different
 * mtime except with probability 2^-26 per change (and then only if size and mode match too).
 */
export const MTIME_BASE = 1_600_000_000;
export const DIR_MTIME = MTIME_BASE;

export function mtimeOf(sha256: string): number {
  return MTIME_BASE + (parseInt(sha256.slice(0, 8), 16) & 0x3ffffff);
}

const encoder = new TextEncoder();
/** Content hashes by buffer identity: a shared buffer (hosts of 10,000 nodes, the wwclient binary) is hashed once. */
const shaCache = new WeakMap<Uint8Array, string>();

export function bytesOf(c: Uint8Array | string | undefined): Uint8Array {
  return c === undefined ? new Uint8Array(0) : typeof c === 'string' ? encoder.encode(c) : c;
}

/** A file's bytes, encoded once per file object: its hash (shaOf, by buffer) is then taken once however often it is used. */
const fileBytesMemo = new WeakMap<OverlayFile, Uint8Array>();
export function fileBytes(f: OverlayFile): Uint8Array {
  if (typeof f.content !== 'string') return bytesOf(f.content);
  let b = fileBytesMemo.get(f);
  if (b === undefined) {
    b = encoder.encode(f.content);
    fileBytesMemo.set(f, b);
  }
  return b;
}

export function shaOf(b: Uint8Array): string {
  let s = shaCache.get(b);
  if (s === undefined) {
    s = createHash('sha256').update(b).digest('hex');
    shaCache.set(b, s);
  }
  return s;
}

/** Paths already found valid: every node's overlays list the same few dozen paths (bounded, as a long herd serve runs on). */
const validPaths = new Set<string>();

export function validOverlayPath(p: string): boolean {
  if (validPaths.has(p)) return true;
  if (p === '' || p.startsWith('/') || p.endsWith('/') || p.includes('\0')) return false;
  const ok = p.split('/').every((c) => c !== '' && c !== '.' && c !== '..');
  if (ok) {
    if (validPaths.size >= 100_000) validPaths.clear();
    validPaths.add(p);
  }
  return ok;
}

export interface ComposeResult {
  readonly entries: readonly ComposedEntry[];
  readonly problems: readonly OverlayProblem[];
}

/**
 * Merge the parts of one stage. `stage` decides the placement check: a runtime archive may not hold a file that must exist
 * before systemd starts (tmpfiles.d, units, fstab, network files, keys...): wwclient applies it only after boot.
 */
export function composeStage(node: string, stage: 'system' | 'runtime', parts: readonly OverlayPart[], secure = false): ComposeResult {
  const byPath = new Map<string, ComposedEntry>();
  const builtinWriter = new Map<string, string>();
  const problems: OverlayProblem[] = [];
  for (const part of parts) {
    for (const f of part.files) {
      if (!validOverlayPath(f.path)) {
        problems.push({ code: 'overlay/bad-path', message: `overlay ${part.name} gives node ${node} a file at "${f.path}", which is not a path inside the node's root`, ...(part.at ? { at: part.at } : {}) });
        continue;
      }
      if (part.builtin && f.type !== 'directory') {
        const first = builtinWriter.get(f.path);
        if (first !== undefined && first !== part.name) throw new Error(`internal: herd's overlays ${first} and ${part.name} both write ${f.path} for node ${node}`);
        builtinWriter.set(f.path, part.name);
      }
      if (stage === 'runtime' && f.type !== 'directory') {
        const why = earlyBootReason(f.path);
        if (why !== undefined) {
          problems.push({
            code: 'overlay/early-boot-in-runtime',
            message: `runtime overlay ${part.name} gives node ${node} /${f.path} (${why}), which must exist before systemd starts${secure ? '; with warewulf secure: true the runtime overlay arrives only after wwclient starts' : '; wwclient applies runtime overlays after boot'}`,
            hint: `make ${part.name} kind: system, or move /${f.path} to a system overlay`,
            ...(part.at ? { at: part.at } : {}),
          });
          continue;
        }
      }
      const content = f.type === 'file' ? fileBytes(f) : undefined;
      const sha256 = content !== undefined ? shaOf(content) : f.type === 'symlink' ? createHash('sha256').update(f.target ?? '').digest('hex') : undefined;
      // Built by assignment (the same keys, in the same order, as the spread form had): one object per file of every node.
      const e = { path: f.path, type: f.type, mode: f.mode & 0o7777, uid: f.uid, gid: f.gid, mtime: sha256 !== undefined ? mtimeOf(sha256) : DIR_MTIME } as { -readonly [K in keyof ComposedEntry]: ComposedEntry[K] };
      if (content !== undefined) e.content = content;
      if (f.type === 'symlink') e.target = f.target ?? '';
      if (sha256 !== undefined) e.sha256 = sha256;
      if (f.hidden) e.hidden = f.hidden;
      e.origin = part.name;
      // Later wins, directories included: a directory given twice keeps the later overlay's mode and owner (Warewulf keeps
      // the first creator's mode, an accident of its copy loop, not something a spec could rely on).
      byPath.set(f.path, e);
    }
  }
  // Parents: every ancestor of every entry exists as a directory entry (0755 root:root unless an overlay gave it).
  for (const p of [...byPath.keys()]) {
    const parts2 = p.split('/');
    for (let i = 1; i < parts2.length; i++) {
      const dir = parts2.slice(0, i).join('/');
      const have = byPath.get(dir);
      if (have === undefined) byPath.set(dir, { path: dir, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: DIR_MTIME, origin: '' });
      else if (have.type !== 'directory') {
        problems.push({ code: 'overlay/path-conflict', message: `node ${node}: /${dir} is a ${have.type} from overlay ${have.origin}, but /${p} needs it to be a directory` });
        byPath.delete(p);
        break;
      }
    }
  }
  const entries = [...byPath.values()].sort((a, b) => compareParentsFirst(a.path, b.path));
  return { entries, problems };
}

/** Parents before children, siblings by UTF-8 byte order ('/' sorts before every other byte), as cpio-newc.ts writes. */
export function compareParentsFirst(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === 0x2f) return -1;
    if (y === 0x2f) return 1;
    // Below the surrogates, UTF-16 code unit order is UTF-8 byte order; only astral characters need the bytes.
    if (x < 0xd800 && y < 0xd800) return x - y;
    return Buffer.compare(Buffer.from(a.slice(i), 'utf8'), Buffer.from(b.slice(i), 'utf8'));
  }
  return a.length - b.length;
}

/** Key over everything that shapes the archive bytes of one stage (paths, types, modes, owners, mtimes, content hashes). */
export function stageKey(builder: string, entries: readonly ComposedEntry[]): string {
  const h = createHash('sha256').update(builder).update('\n');
  for (const e of entries) h.update(`${e.path}\0${e.type}\0${e.mode}\0${e.uid}\0${e.gid}\0${e.mtime}\0${e.sha256 ?? ''}\0${e.target ?? ''}\n`);
  return h.digest('hex');
}
