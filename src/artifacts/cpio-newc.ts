// Streaming, byte-reproducible cpio "newc" (070701) writer that builds the content index while it writes (pure: no I/O; file data arrives through caller-supplied iterables).
//
// Format facts this follows (GNU cpio 2.13 `copyout.c`, Linux `init/initramfs.c`, libarchive's cpio reader):
// - Header: "070701" + 13 fields of 8 uppercase hex digits (ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
//   devminor, rdevmajor, rdevminor, namesize, check), then the name with its NUL; header+name padded to 4 bytes,
//   data padded to 4 bytes. namesize counts BYTES of the UTF-8 name including the NUL.
// - Hard links: every link carries the same ino and nlink; only the LAST link in the archive carries the data and the
//   earlier ones have filesize 0. GNU cpio defers size-0 links until the data arrives; the kernel creates the file at
//   the first link, `link()`s the later ones to it and writes the data through the last one (it opens without O_TRUNC).
// - The kernel ignores names longer than PATH_MAX (4096 with the NUL) and symlink targets longer than PATH_MAX, so
//   both are rejected here rather than silently dropped at boot.
// - The archive ends with a "TRAILER!!!" entry and is zero-padded to a multiple of 512 bytes like GNU cpio's output;
//   the kernel skips zero padding between concatenated archives (image + overlays).
// Our choices: inode numbers count up from 1 in archive order (a hard-link group takes the number of its first link;
// 1 rather than 0 because some readers take ino 0 as "unset"; `inodeBase: 0` reproduces `cpio --reproducible`
// byte for byte); dev major/minor are 0; directories get nlink 2 + their subdirectories in the archive, and hard links
// the number of links in the archive; mtimes are written as given.
//
// Why not the packer of npm `cpio-stream` (1.4.3, lib/pack.js + lib/newc.js): it counts namesize and name padding in
// UTF-16 code units (`name.length`) and allocates the header by that count, so a UTF-8 name is truncated and its
// namesize is wrong (test/unit/artifacts/cpio-newc.test.ts shows GNU cpio failing on its output); it fills a missing
// mtime with `new Date()` and a missing dev with 0777777 (not reproducible); it uses the deprecated `new Buffer`; and it
// emits one small buffer per header. Its extractor is fine and tests use it as a second reader.
import { createHash } from 'node:crypto';
import type { ContentEntry } from './artifact.ts';

export type CpioEntryType = 'file' | 'directory' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

/** File data: bytes in memory, or a function called once, when the entry is written, that streams the bytes. */
export type FileData = Uint8Array | (() => AsyncIterable<Uint8Array> | Iterable<Uint8Array>);

export interface CpioEntry {
  /** Relative path, '/'-separated, no leading '/', no '.' or '..' components, e.g. `usr/bin/ls`. */
  readonly path: string;
  readonly type: CpioEntryType;
  /** Permission bits (0..0o7777); the file-type bits come from `type`. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch, already clamped by the caller (e.g. to SOURCE_DATE_EPOCH). */
  readonly mtime: number;
  /** Files: byte length of the data (required when `data` is a function; must equal what it yields). */
  readonly size?: number;
  /**
   * Files: the content. A yielded piece shorter than CPIO_PASSTHROUGH_MIN is copied before the next one is requested,
   * so a source may reuse its buffer for those; longer pieces are passed on without copying and must stay untouched.
   */
  readonly data?: FileData;
  /** Symlinks: the target. */
  readonly target?: string;
  /** Char/block devices. */
  readonly rdevMajor?: number;
  readonly rdevMinor?: number;
  /**
   * Files that are hard links of each other share a key (e.g. `${dev}:${ino}`). Every link declares the same size;
   * the data is taken from the first link that has any and written once, with the last link.
   */
  readonly linkKey?: string;
}

export interface CpioOptions {
  /** First inode number. Default 1; GNU `cpio --reproducible` (--renumber-inodes) starts at 0. */
  readonly inodeBase?: number;
  /** Output chunk size; header and small data writes are batched into chunks this large. Default 1 MiB. */
  readonly chunkSize?: number;
  /** Pad the archive end to a multiple of this (GNU cpio: 512). Default 512; 4 means no extra padding. */
  readonly padTo?: number;
  /**
   * Reuse one batch buffer: each chunk is valid only until the next is requested. Saves an allocation per chunk (and
   * the garbage collections they trigger); only for consumers that copy or finish with a chunk before pulling the next.
   */
  readonly transientChunks?: boolean;
  /**
   * Data pieces at least this long pass through as their own chunk, the very buffer given (default CPIO_PASSTHROUGH_MIN).
   * Overlay packing lowers it so a shared file (a 10,000-node /etc/hosts) reaches the compressor as the same buffer on every node.
   */
  readonly passthroughMin?: number;
}

export interface CpioStream {
  /** The archive bytes; each chunk is a fresh buffer the consumer may keep (unless `transientChunks`). Iterate once. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** The content index in archive order; throws until `chunks` has been fully consumed. */
  contents(): readonly ContentEntry[];
  /** Bytes produced so far (a plain number: archives beyond 4 GiB are fine). */
  bytesWritten(): number;
}

const MAX_U32 = 0xffffffff;
const PATH_MAX = 4096;
const HEADER_LEN = 110;
const TYPE_BITS: Record<CpioEntryType, number> = { file: 0o100000, directory: 0o040000, symlink: 0o120000, char: 0o020000, block: 0o060000, fifo: 0o010000, socket: 0o140000 };
/** Data pieces at least this long are passed through as their own chunk instead of being copied into the batch buffer. */
export const CPIO_PASSTHROUGH_MIN = 256 * 1024;

/** Two ASCII hex digits per byte value, so a 32-bit field is four table lookups. */
const HEX_PAIRS = (() => {
  const digits = '0123456789ABCDEF';
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) t[i] = (digits.charCodeAt(i >> 4) << 8) | digits.charCodeAt(i & 15);
  return t;
})();

function putHex8(buf: Uint8Array, off: number, v: number): void {
  for (let shift = 24, o = off; shift >= 0; shift -= 8, o += 2) {
    const pair = HEX_PAIRS[(v >>> shift) & 0xff]!;
    buf[o] = pair >> 8;
    buf[o + 1] = pair & 0xff;
  }
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

/** Key that orders paths component by component ('/' sorts before every other byte), so parents precede children. */
function sortKey(path: string): Buffer {
  const b = Buffer.from(path, 'utf8');
  for (let i = 0; i < b.length; i++) if (b[i] === 0x2f) b[i] = 0;
  return b;
}

/** Compares archive paths by UTF-8 bytes, component by component (a depth-first, parents-first order). */
export function compareArchivePaths(a: string, b: string): number {
  return Buffer.compare(sortKey(a), sortKey(b));
}

/** Returns the entries in archive order: parents before children, siblings by UTF-8 byte order. */
export function sortCpioEntries<T extends { readonly path: string }>(entries: readonly T[]): T[] {
  const keyed = entries.map((e) => ({ e, k: sortKey(e.path) }));
  keyed.sort((x, y) => Buffer.compare(x.k, y.k));
  return keyed.map((x) => x.e);
}

interface Planned {
  readonly e: CpioEntry;
  readonly name: Buffer;
  readonly ino: number;
  /** The header's mode field: type bits | permission bits (0 for the trailer, as GNU cpio writes it). */
  readonly mode: number;
  readonly nlink: number;
  /** Bytes stored after this header (0 for all but the last link of a hard-link group). */
  readonly size: number;
  /** Hard links: index in the plan of the group's first link (which the index lists as the file). */
  readonly primary: number;
  /** Whether this entry writes the group's data (the last link, or any plain file). */
  readonly carrier: boolean;
  readonly data: FileData | undefined;
}

function u32(value: number | undefined, what: string, path: string): number {
  const v = value ?? 0;
  if (!Number.isInteger(v) || v < 0 || v > MAX_U32) throw new Error(`cpio: ${path}: ${what} ${v} does not fit newc's 32-bit unsigned field`);
  return v;
}

function checkPath(path: string): Buffer {
  if (path === '' || path.startsWith('/') || path.includes('\0')) throw new Error(`cpio: invalid path ${JSON.stringify(path)}: must be relative, non-empty, without NUL`);
  for (const part of path.split('/')) {
    if (part === '' || part === '.' || part === '..') throw new Error(`cpio: invalid path ${JSON.stringify(path)}: empty, '.' or '..' component`);
  }
  if (path === 'TRAILER!!!') throw new Error('cpio: the path "TRAILER!!!" would end the archive early');
  const name = Buffer.from(path + '\0', 'utf8');
  if (name.length > PATH_MAX) throw new Error(`cpio: path is ${name.length - 1} bytes; the kernel ignores names over ${PATH_MAX - 1} bytes: ${path.slice(0, 80)}…`);
  return name;
}

/** Declared size of a file entry; `needData` is false for hard links whose data may come from another link. */
function fileSize(e: CpioEntry, needData = true): number {
  const d = e.data;
  if (d instanceof Uint8Array) {
    if (e.size !== undefined && e.size !== d.length) throw new Error(`cpio: ${e.path}: size ${e.size} but data has ${d.length} bytes`);
    return d.length;
  }
  if (d !== undefined && e.size === undefined) throw new Error(`cpio: ${e.path}: size is required when data is streamed`);
  const size = e.size ?? 0;
  if (!Number.isInteger(size) || size < 0) throw new Error(`cpio: ${e.path}: invalid size ${size}`);
  if (size > MAX_U32) throw new Error(`cpio: ${e.path} is ${size} bytes; newc stores file sizes in 32 bits, so the limit is ${MAX_U32} bytes (4 GiB - 1)`);
  if (size > 0 && d === undefined && needData) throw new Error(`cpio: ${e.path}: size ${size} but no data`);
  return size;
}

/** Validates every entry and fixes inode numbers, link counts and which link carries the data, before any byte is written. */
function plan(entries: readonly CpioEntry[], inodeBase: number): Planned[] {
  const seen = new Set<string>();
  const subdirs = new Map<string, number>();
  const groups = new Map<string, number[]>();
  entries.forEach((e, i) => {
    if (seen.has(e.path)) throw new Error(`cpio: duplicate path ${e.path}`);
    seen.add(e.path);
    if (!Object.hasOwn(TYPE_BITS, e.type)) throw new Error(`cpio: ${e.path}: unknown type ${String(e.type)}`);
    if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) throw new Error(`cpio: ${e.path}: mode ${e.mode} is not permission bits (0..0o7777)`);
    u32(e.uid, 'uid', e.path);
    u32(e.gid, 'gid', e.path);
    u32(e.mtime, 'mtime', e.path);
    if (e.type === 'directory') {
      const slash = e.path.lastIndexOf('/');
      if (slash > 0) subdirs.set(e.path.slice(0, slash), (subdirs.get(e.path.slice(0, slash)) ?? 0) + 1);
    }
    if (e.linkKey !== undefined) {
      if (e.type !== 'file') throw new Error(`cpio: ${e.path}: only regular files can be hard links`);
      const g = groups.get(e.linkKey);
      if (g) g.push(i);
      else groups.set(e.linkKey, [i]);
    }
  });
  const out: Planned[] = [];
  const groupIno = new Map<string, number>();
  let nextIno = inodeBase;
  entries.forEach((e, i) => {
    const name = checkPath(e.path);
    let ino: number;
    let nlink = 1;
    let size = 0;
    let primary = i;
    let carrier = false;
    let data: FileData | undefined;
    if (e.type === 'file') {
      const group = e.linkKey === undefined ? undefined : groups.get(e.linkKey);
      if (group && group.length > 1) {
        const first = groupIno.get(e.linkKey!);
        ino = first ?? nextIno++;
        if (first === undefined) groupIno.set(e.linkKey!, ino);
        nlink = group.length;
        primary = group[0]!;
        carrier = group[group.length - 1] === i;
        const sizes = new Set(group.map((j) => fileSize(entries[j]!, false)));
        if (sizes.size !== 1) throw new Error(`cpio: hard links of ${entries[primary]!.path} disagree on size`);
        if (carrier) {
          size = fileSize(e, false);
          data = group.map((j) => entries[j]!.data).find((d) => d !== undefined);
          if (size > 0 && data === undefined) throw new Error(`cpio: ${e.path}: size ${size} but no link of the group has data`);
        }
      } else {
        ino = nextIno++;
        carrier = true;
        size = fileSize(e);
        data = e.data;
      }
    } else {
      ino = nextIno++;
      if (e.data !== undefined || e.size) throw new Error(`cpio: ${e.path}: only files carry data`);
      if (e.type === 'directory') nlink = 2 + (subdirs.get(e.path) ?? 0);
      if (e.type === 'symlink') {
        if (!e.target || e.target.includes('\0')) throw new Error(`cpio: ${e.path}: symlink target must be non-empty, without NUL`);
        data = Buffer.from(e.target, 'utf8');
        size = data.length;
        carrier = true;
        if (size > PATH_MAX - 1) throw new Error(`cpio: ${e.path}: symlink target is ${size} bytes; the kernel ignores targets over ${PATH_MAX - 1}`);
      }
      if (e.type === 'char' || e.type === 'block') {
        u32(e.rdevMajor, 'rdevMajor', e.path);
        u32(e.rdevMinor, 'rdevMinor', e.path);
      }
    }
    out.push({ e, name, ino, mode: TYPE_BITS[e.type] | e.mode, nlink, size, primary, carrier, data });
  });
  return out;
}

function writeHeader(buf: Uint8Array, off: number, p: Planned): number {
  const e = p.e;
  const dev = e.type === 'char' || e.type === 'block';
  buf[off] = 0x30; // "070701"
  buf[off + 1] = 0x37;
  buf[off + 2] = 0x30;
  buf[off + 3] = 0x37;
  buf[off + 4] = 0x30;
  buf[off + 5] = 0x31;
  putHex8(buf, off + 6, p.ino);
  putHex8(buf, off + 14, p.mode);
  putHex8(buf, off + 22, e.uid);
  putHex8(buf, off + 30, e.gid);
  putHex8(buf, off + 38, p.nlink);
  putHex8(buf, off + 46, e.mtime);
  putHex8(buf, off + 54, p.size);
  putHex8(buf, off + 62, 0);
  putHex8(buf, off + 70, 0);
  putHex8(buf, off + 78, dev ? (e.rdevMajor ?? 0) : 0);
  putHex8(buf, off + 86, dev ? (e.rdevMinor ?? 0) : 0);
  putHex8(buf, off + 94, p.name.length);
  putHex8(buf, off + 102, 0);
  buf.set(p.name, off + HEADER_LEN);
  let end = off + HEADER_LEN + p.name.length;
  for (let n = pad4(HEADER_LEN + p.name.length); n > 0; n--) buf[end++] = 0;
  return end;
}

const TRAILER: Planned = {
  e: { path: 'TRAILER!!!', type: 'file', mode: 0, uid: 0, gid: 0, mtime: 0 },
  name: Buffer.from('TRAILER!!!\0'),
  ino: 0,
  mode: 0,
  nlink: 1,
  size: 0,
  primary: 0,
  carrier: false,
  data: undefined,
};

function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Writes `entries`, in the given order (see `sortCpioEntries`), as one newc archive.
 * Everything that can be checked without reading data (paths, ranges, sizes ≤ 4 GiB - 1, hard-link groups) is checked
 * before the first chunk; data that is longer or shorter than its declared size fails the stream.
 */
export function cpioNewc(entries: readonly CpioEntry[], options: CpioOptions = {}): CpioStream {
  const chunkSize = options.chunkSize ?? 1 << 20;
  const padTo = options.padTo ?? 512;
  if (chunkSize < 2 * PATH_MAX + HEADER_LEN) throw new Error(`cpio: chunkSize ${chunkSize} is too small`);
  if (padTo < 4 || padTo % 4 !== 0) throw new Error(`cpio: padTo must be a positive multiple of 4`);
  const inodeBase = options.inodeBase ?? 1;
  const passthroughMin = options.passthroughMin ?? CPIO_PASSTHROUGH_MIN;
  if (!Number.isInteger(inodeBase) || inodeBase < 0 || inodeBase + entries.length > MAX_U32) throw new Error(`cpio: inodeBase ${inodeBase} out of range`);
  const planned = plan(entries, inodeBase);
  const index: (ContentEntry | undefined)[] = new Array<ContentEntry | undefined>(planned.length);
  let written = 0;
  let done = false;
  let started = false;

  async function* generate(): AsyncGenerator<Uint8Array> {
    let buf = Buffer.allocUnsafe(chunkSize);
    let fill = 0;
    const take = (): Buffer => {
      const out = buf.subarray(0, fill);
      written += fill;
      if (!options.transientChunks) buf = Buffer.allocUnsafe(chunkSize);
      fill = 0;
      return out;
    };
    for (let i = 0; i <= planned.length; i++) {
      const p = planned[i] ?? TRAILER;
      if (fill + HEADER_LEN + p.name.length + 3 > chunkSize) yield take();
      fill = writeHeader(buf, fill, p);
      if (i === planned.length) break;
      const e = p.e;
      if (e.type === 'file' && p.primary !== i) {
        index[i] = { path: e.path, type: 'hardlink', mode: e.mode, uid: e.uid, gid: e.gid, size: 0, sha256: sha256Hex(planned[p.primary]!.e.path) };
      } else if (e.type !== 'file' && e.type !== 'symlink') {
        index[i] = { path: e.path, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, size: 0 };
      }
      if (!p.carrier) continue;
      const hash = createHash('sha256');
      let count = 0;
      const d = p.data;
      const source: Iterable<Uint8Array> | AsyncIterable<Uint8Array> = d === undefined ? [] : d instanceof Uint8Array ? [d] : d();
      for await (const piece of source) {
        count += piece.length;
        if (count > p.size) throw new Error(`cpio: ${e.path}: data is longer than its declared size ${p.size} (did the file change while being archived?)`);
        hash.update(piece);
        if (piece.length >= passthroughMin) {
          if (fill > 0) yield take();
          written += piece.length;
          yield piece;
          continue;
        }
        for (let off = 0; off < piece.length; ) {
          const n = Math.min(piece.length - off, chunkSize - fill);
          buf.set(piece.subarray(off, off + n), fill);
          fill += n;
          off += n;
          if (fill === chunkSize) yield take();
        }
      }
      if (count !== p.size) throw new Error(`cpio: ${e.path}: data has ${count} bytes but the declared size is ${p.size} (did the file change while being archived?)`);
      if (fill + 3 > chunkSize) yield take();
      for (let n = pad4(p.size); n > 0; n--) buf[fill++] = 0;
      const at = e.type === 'symlink' ? i : p.primary;
      const pe = planned[at]!.e;
      index[at] = { path: pe.path, type: pe.type === 'symlink' ? 'symlink' : 'file', mode: pe.mode, uid: pe.uid, gid: pe.gid, size: p.size, sha256: hash.digest('hex') };
    }
    // Zero padding of the archive end: the position is a plain number, exact well past 4 GiB.
    let tail = (padTo - ((written + fill) % padTo)) % padTo;
    while (tail > 0) {
      const n = Math.min(tail, chunkSize - fill);
      buf.fill(0, fill, fill + n);
      fill += n;
      tail -= n;
      if (fill === chunkSize) yield take();
    }
    if (fill > 0) yield take();
    done = true;
  }

  return {
    chunks: {
      [Symbol.asyncIterator]() {
        if (started) throw new Error('cpio: the archive stream can be iterated only once');
        started = true;
        return generate();
      },
    },
    contents() {
      if (!done) throw new Error('cpio: contents() is available once the archive has been fully written');
      return index as ContentEntry[];
    },
    bytesWritten: () => written,
  };
}
