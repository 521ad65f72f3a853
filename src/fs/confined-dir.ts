// The one mechanism every path herd reads or writes goes through (I/O): a directory opened once, and paths below it resolved
// component by component through directory descriptors, never following a symlink that leaves it.
//
// Node has no openat(2), so a held directory descriptor N is addressed as /proc/self/fd/N: the kernel resolves that magic link
// to the very directory the descriptor holds (not to a path that may have changed since), then looks up the next name in it.
// Opening each component with O_NOFOLLOW | O_DIRECTORY relative to its parent's descriptor gives openat semantics: a symlink
// swapped in after a check is never followed by accident, because nothing is ever resolved by path twice. Symlinks met on
// the way are resolved by herd itself and followed only while they stay inside the directory (host semantics: an absolute
// target must name a place under the directory's real path); the last component is never followed, so a file herd opens
// is the file at that name, or the open fails. Files are checked on their open descriptor (fstat), not by path again.
import { closeSync, constants as C, fchmodSync, fstatSync, fsyncSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, openSync, readdirSync, readlinkSync, readSync, realpathSync, renameSync, rmdirSync, statfsSync, symlinkSync, unlinkSync, writeSync, type BigIntStats, type Dirent } from 'node:fs';
import { posix, resolve } from 'node:path';

/** Why a path below a confined directory cannot be used. `at` is the relative path of the component that stopped the walk. */
export type BlockedKind = 'escape' | 'not-a-directory' | 'loop' | 'special';

export class PathBlocked extends Error {
  readonly kind: BlockedKind;
  /** The path that was asked for, relative to the confined directory. */
  readonly rel: string;
  /** The component that stopped the walk ('' for the directory itself). */
  readonly at: string;
  /** The symlink's target, for kind 'escape' and 'loop'. */
  readonly target?: string;
  constructor(kind: BlockedKind, rel: string, at: string, message: string, target?: string) {
    super(message);
    this.kind = kind;
    this.rel = rel;
    this.at = at;
    if (target !== undefined) this.target = target;
  }
}

export const isPathBlocked = (e: unknown): e is PathBlocked => e instanceof PathBlocked;

/** write(2) until every byte of `data` is written: a write may be short (signals, a nearly full disk). */
export function writeAllSync(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
const MAX_HOPS = 40;
/** Directory descriptors kept open for reuse; the cache is emptied (between operations, never during one) when it grows past this. */
const MAX_CACHED = 256;
const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;
const fdPath = (fd: number, name?: string): string => (name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`);

/** Kernel filesystems that are never a target or an input: walking them spins, hangs or reads secrets (/proc/self/environ). */
const SPECIAL_FS = new Set([0x9fa0, 0x62656572, 0x1cd1, 0x63677270, 0x27e0eb, 0x64626720, 0x73636673, 0x74726163, 0xcafe4a11, 0x6e736673, 0xf97cff8c, 0x67596969]);
const SPECIAL_TREES = ['/proc', '/sys', '/dev'];

/** For a missing absolute path, the real path of its deepest existing ancestor; undefined when `abs` exists (or cannot be judged). */
function existingAncestor(abs: string): string | undefined {
  let at = abs;
  for (;;) {
    try {
      lstatSync(at);
      break;
    } catch (e) {
      if (errno(e) !== 'ENOENT' && errno(e) !== 'ENOTDIR') return undefined;
      const up = posix.dirname(at);
      if (up === at) return undefined;
      at = up;
    }
  }
  if (at === abs) return undefined;
  try {
    return realpathSync(at);
  } catch {
    return undefined;
  }
}

/** True when `real` (a real path) is on a kernel pseudo filesystem: /proc, /sys, /dev and their kin. */
export function isSpecialPlace(real: string, statfsType?: number): boolean {
  if (SPECIAL_TREES.some((t) => real === t || real.startsWith(t + '/'))) return true;
  return statfsType !== undefined && SPECIAL_FS.has(statfsType);
}

/** What a file is, for messages: "a directory", "a FIFO", "a device"... from its lstat (or stat). */
export function fileKind(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isFile()) return 'a file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'a special file';
}

/** Read at most `max` bytes from `fd`; undefined when there are more (a file may grow after its fstat). */
export function readBounded(fd: number, size: bigint, max: number): Buffer | undefined {
  if (size > BigInt(max)) return undefined;
  let buf = Buffer.allocUnsafe(Number(size) + 1);
  let n = 0;
  for (;;) {
    if (n === buf.length) {
      if (n > max) return undefined;
      const bigger = Buffer.allocUnsafe(Math.min(max + 1, buf.length * 2));
      buf.copy(bigger, 0, 0, n);
      buf = bigger;
    }
    const got = readSync(fd, buf, n, buf.length - n, null);
    if (got === 0) break;
    n += got;
  }
  return n > max ? undefined : buf.subarray(0, n);
}

let procChecked = false;
function needProc(): void {
  if (procChecked) return;
  try {
    if (!lstatSync('/proc/self/fd').isDirectory()) throw new Error('not a directory');
  } catch {
    throw new PathBlocked('special', '', '', 'herd needs /proc mounted (Linux) to open paths without following symlinks');
  }
  procChecked = true;
}

/**
 * Split a relative path into components. Returns undefined for an absolute path, an empty one, NUL bytes, or `..` that climbs
 * above the start. `.` and empty components are dropped.
 */
export function relParts(rel: string): string[] | undefined {
  if (rel.startsWith('/') || rel.includes('\0')) return undefined;
  const out: string[] = [];
  for (const c of rel.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else out.push(c);
  }
  return out;
}

export interface ConfinedOpenOptions {
  /** Create the directory (and its parents, following the user's own path) when missing. */
  readonly create?: boolean;
  /** What the directory is, for messages: "target root", "spec folder". */
  readonly what: string;
}

/** A directory every path below which is opened without leaving it. Close it when done (it holds descriptors). */
export class ConfinedDir {
  /** The real path (symlinks of the user's own path resolved once, when opened). */
  readonly real: string;
  readonly what: string;
  private readonly rootFd: number;
  private readonly cache = new Map<string, number>();
  /** The directory each cached descriptor is (dev:ino), so removing one forgets exactly its descriptors. */
  private readonly cachedIds = new Map<string, string>();
  /** Operations in progress that hold descriptors from the cache (see remember). */
  private holding = 0;
  private closed = false;

  private constructor(real: string, rootFd: number, what: string) {
    this.real = real;
    this.rootFd = rootFd;
    this.what = what;
  }

  /**
   * Open `path` (the user's own path: followed once here). Throws PathBlocked('special') for /proc, /sys, /dev and other kernel
   * filesystems, PathBlocked('not-a-directory') when it is not a directory; other errors (ENOENT, EACCES) pass through.
   */
  static open(path: string, options: ConfinedOpenOptions): ConfinedDir {
    needProc();
    const abs = resolve(path);
    // Judge a missing path by its deepest existing part, before creating anything: Node's recursive mkdir below /proc retries
    // ENOENT forever (herd spun at 100% CPU on --root /proc/x), and a kernel filesystem is refused whether or not the path exists.
    const existing = existingAncestor(abs);
    if (existing !== undefined) {
      let type: number | undefined;
      try {
        type = Number(statfsSync(existing).type);
      } catch {
        type = undefined;
      }
      if (isSpecialPlace(existing, type)) throw new PathBlocked('special', '', '', `${options.what} ${path} is on a kernel filesystem (${existing}); herd never reads or writes there`);
    }
    if (options.create) {
      try {
        mkdirSync(abs, { recursive: true, mode: 0o755 });
      } catch (e) {
        if (errno(e) !== 'EEXIST' && errno(e) !== 'ENOTDIR') throw e;
      }
    }
    const real = realpathSync(abs);
    let type: number | undefined;
    try {
      type = Number(statfsSync(real).type);
    } catch {
      type = undefined;
    }
    if (isSpecialPlace(real, type)) throw new PathBlocked('special', '', '', `${options.what} ${path} is on a kernel filesystem (${real}); herd never reads or writes there`);
    let fd: number;
    try {
      fd = openSync(real, DIR_FLAGS);
    } catch (e) {
      if (errno(e) === 'ENOTDIR' || errno(e) === 'ELOOP') throw new PathBlocked('not-a-directory', '', '', `${options.what} ${path} is not a directory`);
      throw e;
    }
    return new ConfinedDir(real, fd, options.what);
  }

  /** Host path of `rel`, for display and for tools that need a path; never used to open anything. */
  hostPath(rel: string): string {
    return rel === '' ? this.real : posix.join(this.real, rel);
  }

  private blocked(kind: BlockedKind, rel: string, at: string, target?: string): PathBlocked {
    const where = this.hostPath(at);
    const msg =
      kind === 'escape'
        ? `${where} is a symlink to ${target}, which leaves the ${this.what} ${this.real}`
        : kind === 'loop'
          ? `${where}: too many levels of symlinks`
          : kind === 'special'
            ? `${where} is not a regular file or directory`
            : `${where} is in the way: not a directory`;
    return new PathBlocked(kind, rel, at, msg, target);
  }

  /**
   * Descriptor of the directory `parts` names, resolving in-directory symlinks; creates missing directories when `create`.
   * Returns undefined when a component is missing (and not created). The descriptor belongs to the cache: do not close it.
   */
  private dirFd(parts: readonly string[], rel: string, create: boolean): number | undefined {
    if (this.closed) throw new Error('ConfinedDir used after close');
    if (parts.length === 0) return this.rootFd;
    const key = parts.join('/');
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    // One plain directory below a cached one (the next node's folder beside the last): opened from it with the walk's own
    // flags, so a symlink or anything else there falls to the full walk below, which decides.
    const last = parts[parts.length - 1]!;
    const parent = parts.length > 1 && last !== '..' && last !== '.' && last !== '' ? this.cache.get(key.slice(0, key.length - last.length - 1)) : undefined;
    if (parent !== undefined) {
      let fd: number | undefined;
      try {
        fd = openSync(fdPath(parent, last), DIR_FLAGS);
      } catch (e) {
        // Missing and wanted: made there and opened with the same flags (the next node's folder of a new tree). Anything
        // else, or anything in the way of that (a race), goes to the full walk below, which reports or creates it.
        if (create && errno(e) === 'ENOENT') {
          try {
            mkdirSync(fdPath(parent, last), { mode: 0o755 });
            fd = openSync(fdPath(parent, last), DIR_FLAGS);
          } catch {
            fd = undefined;
          }
        }
      }
      if (fd !== undefined) return this.remember(key, fd);
    }
    // Walk from the top: a stack of (component, fd) so `..` from a symlink target steps back without reopening by path.
    const stack: { name: string; fd: number }[] = [];
    const opened: number[] = [];
    const queue = [...parts];
    let hops = 0;
    const cur = () => (stack.length === 0 ? this.rootFd : stack[stack.length - 1]!.fd);
    const curRel = (name?: string) => [...stack.map((s) => s.name), ...(name === undefined ? [] : [name])].join('/');
    try {
      while (queue.length > 0) {
        const c = queue.shift()!;
        if (c === '' || c === '.') continue;
        if (c === '..') {
          if (stack.length === 0) throw this.blocked('escape', rel, curRel(), '..');
          stack.pop();
          continue;
        }
        let fd: number | undefined;
        try {
          fd = openSync(fdPath(cur(), c), DIR_FLAGS);
        } catch (e) {
          const code = errno(e);
          if (code === 'ENOENT') {
            if (!create) {
              for (const o of opened) closeSync(o);
              return undefined;
            }
            try {
              mkdirSync(fdPath(cur(), c), { mode: 0o755 });
            } catch (e2) {
              if (errno(e2) !== 'EEXIST') throw e2;
            }
            queue.unshift(c); // open it again through the same checks (a symlink may have won the race)
            if (++hops > MAX_HOPS) throw this.blocked('loop', rel, curRel(c));
            continue;
          }
          if (code !== 'ENOTDIR' && code !== 'ELOOP') throw e;
          const st = lstatSync(fdPath(cur(), c));
          if (!st.isSymbolicLink()) throw this.blocked('not-a-directory', rel, curRel(c));
          if (++hops > MAX_HOPS) throw this.blocked('loop', rel, curRel(c));
          const target = readlinkSync(fdPath(cur(), c));
          if (target.startsWith('/')) {
            const inside = this.inside(target);
            if (inside === undefined) throw this.blocked('escape', rel, curRel(c), target);
            stack.length = 0;
            queue.unshift(...inside.split('/'));
          } else {
            // Relative: resolved from the symlink's own directory; a `..` past the top is caught above.
            if (!staysBelow(target, stack.length)) throw this.blocked('escape', rel, curRel(c), target);
            queue.unshift(...target.split('/'));
          }
          continue;
        }
        opened.push(fd);
        stack.push({ name: c, fd });
      }
    } catch (e) {
      for (const fd of opened) closeSync(fd);
      throw e;
    }
    const final = cur();
    if (final === this.rootFd) {
      for (const fd of opened) closeSync(fd);
      return final;
    }
    // A walk that met no symlink and no `..` opened exactly the directories its parts name: each is kept for the next walk
    // below it (a plan of 10,000 nodes' folders otherwise walks the same five parents 10,000 times). Otherwise only the final.
    if (stack.length === parts.length && opened.length === parts.length && stack.every((s, i) => s.name === parts[i])) {
      for (let i = 0; i < opened.length - 1; i++) {
        const k = parts.slice(0, i + 1).join('/');
        if (this.cache.has(k)) closeSync(opened[i]!);
        else this.remember(k, opened[i]!);
      }
    } else for (const fd of opened) if (fd !== final) closeSync(fd);
    return this.remember(key, final);
  }

  /**
   * Cache `fd` for `key`. The cache is emptied when full, but not while an operation holds descriptors from it (rename and link
   * hold two parents: emptying it between them would close the first).
   */
  private remember(key: string, fd: number): number {
    if (this.cache.size >= MAX_CACHED && this.holding === 0) this.flush();
    this.cache.set(key, fd);
    const st = fstatSync(fd, { bigint: true });
    this.cachedIds.set(key, `${st.dev}:${st.ino}`);
    return fd;
  }

  /** Forget (and close) every cached descriptor of the directory `id` (dev:ino), under whatever path it was reached. */
  private forgetDir(id: string): void {
    for (const [key, cached] of this.cachedIds) {
      if (cached !== id) continue;
      closeSync(this.cache.get(key)!);
      this.cache.delete(key);
      this.cachedIds.delete(key);
    }
  }

  /** Run `f` with descriptors from the cache kept open throughout. */
  private holdingCache<T>(f: () => T): T {
    this.holding++;
    try {
      return f();
    } finally {
      this.holding--;
    }
  }

  /** Close cached directory descriptors (not the top one). Safe between operations. */
  flush(): void {
    for (const fd of this.cache.values()) closeSync(fd);
    this.cache.clear();
    this.cachedIds.clear();
  }

  /** Components of `rel`; PathBlocked('escape') for an absolute path or a `..` that climbs out. */
  private partsOf(rel: string): string[] {
    const parts = relParts(rel);
    if (parts === undefined) throw this.blocked('escape', rel, '', rel);
    return parts;
  }

  /** Parent descriptor and last name of `rel`; undefined when a parent is missing. Throws PathBlocked. */
  private parentOf(rel: string, create: boolean): { fd: number; name: string } | undefined {
    const parts = this.partsOf(rel);
    if (parts.length === 0) throw new PathBlocked('not-a-directory', rel, '', `${this.hostPath('')}: a file name is needed below the ${this.what}`);
    const fd = this.dirFd(parts.slice(0, -1), rel, create);
    return fd === undefined ? undefined : { fd, name: parts[parts.length - 1]! };
  }

  /** parentOf for operations that need the parent to exist: an ENOENT error naming `what` otherwise. */
  private parentNeeded(rel: string, create: boolean, what: string): { fd: number; name: string } {
    const p = this.parentOf(rel, create);
    if (!p) throw Object.assign(new Error(`${what}: parent directory missing`), { code: 'ENOENT' });
    return p;
  }

  /** lstat of `rel` (the last component not followed); null when it or a parent does not exist. Throws PathBlocked. */
  lstat(rel: string): BigIntStats | null {
    const p = this.parentOf(rel, false);
    if (!p) return null;
    try {
      return lstatSync(fdPath(p.fd, p.name), { bigint: true });
    } catch (e) {
      if (errno(e) === 'ENOENT') return null;
      throw e;
    }
  }

  /** True when `rel` resolves (parents inside) to an existing directory. */
  isDirectory(rel: string): boolean {
    const parts = this.partsOf(rel);
    try {
      return this.dirFd(parts, rel, false) !== undefined;
    } catch (e) {
      if (isPathBlocked(e) && e.kind === 'not-a-directory' && e.at === parts.join('/')) return false;
      throw e;
    }
  }

  /**
   * fstat of the directory `rel` (every component resolved as above, the last one too, so an in-directory symlink to a
   * directory gives that directory); null when it does not exist. Throws PathBlocked, ('not-a-directory') for a file.
   */
  statDir(rel: string): BigIntStats | null {
    const parts = this.partsOf(rel);
    const fd = this.dirFd(parts, rel, false);
    return fd === undefined ? null : fstatSync(fd, { bigint: true });
  }

  /**
   * The directory `rel` below this one as a ConfinedDir of its own (created when `create`), or undefined when missing.
   * Reached through the same walk, so a folder herd derives from this one (`.herd/<cluster>/root` beside a spec) cannot be a
   * symlink out of it. The new descriptor is reopened from the walked one (/proc/self/fd/N), never by path.
   */
  subdir(rel: string, options: ConfinedOpenOptions): ConfinedDir | undefined {
    const parts = this.partsOf(rel);
    const fd = this.dirFd(parts, rel, options.create ?? false);
    if (fd === undefined) return undefined;
    const own = openSync(fdPath(fd), C.O_RDONLY | C.O_DIRECTORY);
    return new ConfinedDir(readlinkSync(fdPath(own)), own, options.what);
  }

  /** Create `rel` and its parents as directories (0755), inside. Throws PathBlocked. */
  mkdirs(rel: string): void {
    const parts = this.partsOf(rel);
    this.dirFd(parts, rel, true);
  }

  /**
   * Open the regular file `rel` for reading without following a symlink at any step; returns the descriptor and its fstat.
   * Returns undefined when it does not exist. Throws PathBlocked('special') for anything but a regular file (a FIFO is opened
   * non-blocking, so it never hangs), PathBlocked for a parent in the way.
   */
  openRead(rel: string): { fd: number; stat: BigIntStats } | undefined {
    const p = this.parentOf(rel, false);
    if (!p) return undefined;
    const o = this.openRegularAt(p.fd, p.name, rel, rel, false);
    if (o === 'symlink') throw this.blocked('special', rel, rel);
    return o;
  }

  /**
   * Open the regular file `name` in the directory descriptor `dir`, never following it. lstat first, so a device is never opened
   * at all (opening some has effects: /dev/watchdog arms a reboot); the fstat of the descriptor still decides, in case of a swap.
   * 'symlink' when it is one and `links` allows it (the caller resolves it); undefined when absent.
   */
  private openRegularAt(dir: number, name: string, rel: string, at: string, links: boolean): { fd: number; stat: BigIntStats } | 'symlink' | undefined {
    let pre: ReturnType<typeof lstatSync>;
    try {
      pre = lstatSync(fdPath(dir, name));
    } catch (e) {
      if (errno(e) === 'ENOENT') return undefined;
      throw e;
    }
    if (!pre.isFile() && !(links && pre.isSymbolicLink())) throw this.blocked('special', rel, at);
    let fd: number;
    try {
      fd = openSync(fdPath(dir, name), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
    } catch (e) {
      const code = errno(e);
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP') {
        if (links) return 'symlink';
        throw this.blocked('special', rel, at);
      }
      throw e;
    }
    const stat = fstatSync(fd, { bigint: true });
    if (!stat.isFile()) {
      closeSync(fd);
      throw this.blocked('special', rel, at);
    }
    return { fd, stat };
  }

  /** The part of an absolute symlink target below this directory ('' for itself), or undefined when it points elsewhere. */
  private inside(target: string): string | undefined {
    if (target === this.real) return '';
    if (target.startsWith(this.real + '/')) return target.slice(this.real.length + 1);
    return this.real === '/' ? target.slice(1) : undefined;
  }

  /**
   * openRead for a name a user wrote (a spec's `inventory: nodes.csv`): a symlink at the last component is followed too, but
   * only while it stays inside, at most 40 hops; its `..` are resolved on the directories actually walked, as the kernel would.
   * Returns undefined when it does not exist; throws PathBlocked('escape') for a link that leaves, ('loop'), or ('special')
   * for anything but a regular file in the end.
   */
  openReadFollowing(rel: string): { fd: number; stat: BigIntStats } | undefined {
    let parts: string[] = this.partsOf(rel);
    // The last link followed, so a `..` of its target that climbs out is reported as that link's escape.
    let link: { at: string; target: string } | undefined;
    const walk = (p: readonly string[]): number | undefined => {
      try {
        return this.dirFd(p, rel, false);
      } catch (e) {
        if (link && isPathBlocked(e) && e.kind === 'escape' && e.target === '..') throw this.blocked('escape', rel, link.at, link.target);
        throw e;
      }
    };
    for (let hops = 0; ; hops++) {
      if (parts.length === 0) throw this.blocked('special', rel, '');
      const name: string = parts[parts.length - 1]!;
      const dirParts = parts.slice(0, -1);
      if (name === '..') {
        walk(parts); // a directory, or an escape
        throw this.blocked('special', rel, parts.join('/'));
      }
      const dir = walk(dirParts);
      if (dir === undefined) return undefined;
      const o = this.openRegularAt(dir, name, rel, parts.join('/'), true);
      if (o !== 'symlink') return o;
      if (hops >= MAX_HOPS) throw this.blocked('loop', rel, parts.join('/'));
      const target: string = readlinkSync(fdPath(dir, name));
      link = { at: parts.join('/'), target };
      const steps = (t: string): string[] => t.split('/').filter((c) => c !== '' && c !== '.');
      if (target.startsWith('/')) {
        const inside = this.inside(target);
        if (inside === undefined) throw this.blocked('escape', rel, parts.join('/'), target);
        parts = steps(inside);
      } else parts = [...dirParts, ...steps(target)]; // raw `..` kept: dirFd climbs the real walk, and refuses leaving
    }
  }

  /** Read the regular file `rel`, or undefined when absent; at most `maxBytes`, also if it grows while read (a RangeError beyond). */
  readFile(rel: string, maxBytes = Number.MAX_SAFE_INTEGER): Buffer | undefined {
    const o = this.openRead(rel);
    if (!o) return undefined;
    try {
      const bytes = readBounded(o.fd, o.stat.size, maxBytes);
      if (bytes === undefined) throw new RangeError(`${this.hostPath(rel)} is larger than ${maxBytes} bytes`);
      return bytes;
    } finally {
      closeSync(o.fd);
    }
  }

  /** Entries of the directory `rel` (symlinks inside resolved as above); undefined when it does not exist. */
  readdir(rel: string): Dirent[] | undefined {
    const parts = this.partsOf(rel);
    const fd = this.dirFd(parts, rel, false);
    if (fd === undefined) return undefined;
    return readdirSync(fdPath(fd), { withFileTypes: true });
  }

  /**
   * Entries of the directory `rel` (as readdir) with the lstat of each (never followed), both through the one descriptor, so
   * a walk of a large tree resolves each directory once, not once per entry. undefined when the directory does not exist;
   * an entry gone between the listing and its lstat has stat null.
   */
  readdirLstat(rel: string): { name: string; stat: BigIntStats | null }[] | undefined {
    const parts = this.partsOf(rel);
    const fd = this.dirFd(parts, rel, false);
    if (fd === undefined) return undefined;
    return readdirSync(fdPath(fd)).map((name) => ({ name, stat: lstatSync(fdPath(fd, name), { bigint: true, throwIfNoEntry: false }) ?? null }));
  }

  /** readlink of `rel` itself. */
  readlink(rel: string): string {
    const p = this.parentNeeded(rel, false, this.hostPath(rel));
    return readlinkSync(fdPath(p.fd, p.name));
  }

  /**
   * Create `rel` exclusively (O_CREAT | O_EXCL | O_NOFOLLOW) with `mode`, parents created when `mkdirs`; returns the write descriptor.
   * An existing file or symlink at `rel` makes it fail with EEXIST: callers remove their own leftovers first.
   */
  createExclusive(rel: string, mode: number, mkdirs = true): number {
    const p = this.parentNeeded(rel, mkdirs, this.hostPath(rel));
    return openSync(fdPath(p.fd, p.name), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, mode);
  }

  /**
   * Create `rel` exclusively (as createExclusive) and write all of `data` to it, fsynced when asked; the descriptor is
   * always closed. The one way herd writes a small new file it owns.
   */
  writeNew(rel: string, data: Uint8Array | string, mode: number, options: { readonly mkdirs?: boolean; readonly fsync?: boolean } = {}): void {
    const fd = this.createExclusive(rel, mode, options.mkdirs ?? true);
    try {
      writeAllSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      if (options.fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** rename(2) between two paths inside; parents must exist. Renaming a directory forgets cached descriptors (their paths moved). */
  rename(fromRel: string, toRel: string): void {
    const isDir = this.holdingCache(() => {
      const a = this.parentNeeded(fromRel, false, `rename ${fromRel} -> ${toRel}`);
      const b = this.parentNeeded(toRel, false, `rename ${fromRel} -> ${toRel}`);
      const dir = lstatSync(fdPath(a.fd, a.name), { throwIfNoEntry: false })?.isDirectory() ?? false;
      renameSync(fdPath(a.fd, a.name), fdPath(b.fd, b.name));
      return dir;
    });
    if (isDir) this.flush();
  }

  /** mkdtemp(3) in the directory `dirRel`: a new private (0700) directory named `prefix` plus random characters; returns its path. */
  mkdtemp(dirRel: string, prefix: string): string {
    if (prefix.includes('/')) throw new Error(`mkdtemp prefix ${prefix} must be a plain name`);
    const fd = this.dirFd(this.partsOf(dirRel), dirRel, false);
    if (fd === undefined) throw Object.assign(new Error(`${this.hostPath(dirRel)}: no such directory`), { code: 'ENOENT' });
    const name = posix.basename(mkdtempSync(fdPath(fd, prefix)));
    return dirRel === '' ? name : `${dirRel}/${name}`;
  }

  /** fchmod the directory `rel`, reached through the confined walk. */
  chmodDir(rel: string, mode: number): void {
    const fd = this.dirFd(this.partsOf(rel), rel, false);
    if (fd === undefined) throw Object.assign(new Error(`${this.hostPath(rel)}: no such directory`), { code: 'ENOENT' });
    fchmodSync(fd, mode);
  }

  /** rmdir(2) of the empty directory `rel` itself (a symlink there is not followed: ENOTDIR). */
  rmdir(rel: string): void {
    const p = this.parentNeeded(rel, false, this.hostPath(rel));
    const st = lstatSync(fdPath(p.fd, p.name), { bigint: true, throwIfNoEntry: false });
    rmdirSync(fdPath(p.fd, p.name));
    // A removed directory's cached descriptors would lead into a deleted folder: they go, under any path they were cached
    // (it was empty, so nothing below it is cached as a live folder). Everything else stays cached.
    if (st) this.forgetDir(`${st.dev}:${st.ino}`);
    else this.flush();
  }

  /**
   * Remove the directory `rel` and everything below it through the confined walk: a symlink inside is removed as a link, never
   * followed. Returns false when it does not exist; PathBlocked('not-a-directory') when `rel` is not a directory.
   */
  removeTree(rel: string): boolean {
    const st = this.lstat(rel);
    if (st === null) return false;
    if (!st.isDirectory()) throw this.blocked('not-a-directory', rel, rel);
    for (const e of this.readdir(rel) ?? []) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) this.removeTree(child);
      else this.unlink(child);
    }
    this.rmdir(rel);
    return true;
  }

  /** mkdir(2) of the new directory `rel` (its parent must exist); EEXIST when anything is there already. */
  mkdir(rel: string, mode: number): void {
    const p = this.parentNeeded(rel, false, this.hostPath(rel));
    mkdirSync(fdPath(p.fd, p.name), { mode });
  }

  /** symlink(2): a new link `rel` whose target is `target`, stored as is and never resolved here; EEXIST when `rel` exists. */
  symlink(target: string, rel: string): void {
    const p = this.parentNeeded(rel, false, this.hostPath(rel));
    symlinkSync(target, fdPath(p.fd, p.name));
  }

  /** lchown(2)/lutimes(2) of `rel` itself (a symlink is changed, never its target). */
  lchown(rel: string, uid: number, gid: number): void {
    const p = this.parentNeeded(rel, false, this.hostPath(rel));
    lchownSync(fdPath(p.fd, p.name), uid, gid);
  }

  lutimes(rel: string, seconds: number): void {
    const p = this.parentNeeded(rel, false, this.hostPath(rel));
    lutimesSync(fdPath(p.fd, p.name), seconds, seconds);
  }

  /** link(2) the existing `fromRel` (never followed) to the new name `toRel`; fails with EEXIST when `toRel` exists. */
  link(fromRel: string, toRel: string): void {
    this.holdingCache(() => {
      const a = this.parentNeeded(fromRel, false, `link ${fromRel} -> ${toRel}`);
      const b = this.parentNeeded(toRel, false, `link ${fromRel} -> ${toRel}`);
      linkSync(fdPath(a.fd, a.name), fdPath(b.fd, b.name));
    });
  }

  /** Remove the file (never a directory) `rel`; returns whether it existed. A symlink is removed itself, never its target. */
  unlink(rel: string): boolean {
    const p = this.parentOf(rel, false);
    if (!p) return false;
    try {
      unlinkSync(fdPath(p.fd, p.name));
      return true;
    } catch (e) {
      if (errno(e) === 'ENOENT') return false;
      throw e;
    }
  }

  /** fsync the directory `rel` so renames and unlinks in it survive a power cut. */
  fsyncDir(rel: string): void {
    const parts = this.partsOf(rel);
    const fd = this.dirFd(parts, rel, false);
    if (fd !== undefined) fsyncSync(fd);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    closeSync(this.rootFd);
    this.closed = true;
  }
}

/** Whether a relative symlink target, read in a directory `depth` levels below the top, stays at or below the top lexically. */
function staysBelow(target: string, depth: number): boolean {
  let d = depth;
  for (const t of target.split('/')) {
    if (t === '' || t === '.') continue;
    if (t === '..') {
      if (--d < 0) return false;
    } else d++;
  }
  return true;
}

/**
 * A path the spec names, as a path relative to `baseReal` (the spec folder's real path), or undefined when it leaves it.
 * Absolute paths are accepted when they lie under the base (as written or as its real path). Symlinks are checked later, by the walk.
 */
export function specRelative(p: string, base: string, baseReal: string): string | undefined {
  let rel: string;
  if (p.startsWith('/')) {
    const n = posix.normalize(p);
    const under = [baseReal, base].find((b) => n === b || n.startsWith(b === '/' ? '/' : b + '/'));
    if (under === undefined) return undefined;
    rel = n === under ? '' : n.slice(under === '/' ? 1 : under.length + 1);
  } else rel = p;
  const parts = relParts(rel);
  return parts === undefined ? undefined : parts.join('/');
}
