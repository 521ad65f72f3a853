// Streaming reader of a built cpio newc image (.img, or .img.gz by its magic) into an entry index plus a few small files (I/O: consumes a byte stream; gunzips with node:zlib).
//
// Memory stays bounded whatever the archive size: headers are parsed as they pass, file data is skipped unless the
// `keep` predicate asks for that path (account files, modules.builtin), and kept files are capped in size. Reading
// stops at the TRAILER!!! entry, as the kernel's unpacker does for one archive. Format facts: "070701" (or "070702",
// same layout with a checksum) + 13 fields of 8 hex digits (ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
// devminor, rdevmajor, rdevminor, namesize, check), the NUL-terminated name, header+name padded to 4, data padded to 4.
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { normalizePath } from '../tree/fs-tree.ts';

export type ArchiveEntryType = 'file' | 'directory' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface ArchiveEntry {
  /** Relative path, cleaned (`./x` and `/x` give `x`; the `.` entry gives ''). */
  readonly path: string;
  readonly type: ArchiveEntryType;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  /** Bytes of data stored after this header (0 for all but the last name of a hard-linked file). */
  readonly size: number;
  readonly nlink: number;
  readonly ino: number;
  readonly devMajor: number;
  readonly devMinor: number;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
  /** Symlinks: the target. */
  readonly target?: string;
}

export interface CpioIndex {
  /** In archive order. */
  readonly entries: readonly ArchiveEntry[];
  /** Content of the kept files by (cleaned) archive path. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  /** Uncompressed bytes read, up to and including the trailer entry. */
  readonly bytes: number;
}

export interface ReadCpioOptions {
  /** Which files' content to keep; default `keepForVerify`. */
  readonly keep?: (path: string) => boolean;
  /** Kept files larger than this are skipped (not kept); default 16 MiB. */
  readonly maxKeepBytes?: number;
}

/** What verifyImageArchive reads: the account databases and each kernel's list of built-in modules, under lib or usr/lib. */
export function keepForVerify(path: string): boolean {
  return path === 'etc/passwd' || path === 'etc/group' || /^(?:usr\/)?lib\/modules\/[^/]+\/modules\.builtin$/.test(path);
}

const HEADER = 110;
const MAX_NAME = 64 * 1024;
const MAX_LINK = 64 * 1024;
const TYPES: Record<number, ArchiveEntryType> = { 0o100000: 'file', 0o040000: 'directory', 0o120000: 'symlink', 0o020000: 'char', 0o060000: 'block', 0o010000: 'fifo', 0o140000: 'socket' };

export async function readCpioIndex(stream: AsyncIterable<Uint8Array>, options: ReadCpioOptions = {}): Promise<CpioIndex> {
  const keep = options.keep ?? keepForVerify;
  const maxKeep = options.maxKeepBytes ?? 16 * 1024 * 1024;
  const reader = byteReader(await maybeGunzip(stream));
  const entries: ArchiveEntry[] = [];
  const files = new Map<string, Uint8Array>();
  const waiting = new Map<string, string[]>();
  try {
    for (;;) {
      const at = reader.offset();
      const h = await reader.read(HEADER, 'a cpio header');
      const magic = h.toString('latin1', 0, 6);
      if (magic !== '070701' && magic !== '070702') {
        throw new Error(`cpio: bad magic ${JSON.stringify(magic)} at byte ${at}: not a newc archive${magic === '070707' ? ' (this is the old portable format)' : ''}`);
      }
      const f = (i: number): number => {
        const s = h.toString('latin1', 6 + 8 * i, 14 + 8 * i);
        if (!/^[0-9A-Fa-f]{8}$/.test(s)) throw new Error(`cpio: header field ${i} at byte ${at} is not hex: ${JSON.stringify(s)}`);
        return parseInt(s, 16);
      };
      const [ino, rawMode, uid, gid, nlink, mtime, size, devMajor, devMinor, rdevMajor, rdevMinor, nameSize] = [f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8), f(9), f(10), f(11)] as number[] as [number, number, number, number, number, number, number, number, number, number, number, number];
      f(12);
      if (nameSize < 1 || nameSize > MAX_NAME) throw new Error(`cpio: name size ${nameSize} at byte ${at} is out of range`);
      const nameBytes = await reader.read(nameSize, 'a cpio name');
      if (nameBytes[nameSize - 1] !== 0) throw new Error(`cpio: name at byte ${at} is not NUL-terminated`);
      const name = nameBytes.toString('utf8', 0, nameSize - 1);
      await reader.skip(pad4(HEADER + nameSize), 'name padding');
      if (name === 'TRAILER!!!') break;
      const type = TYPES[rawMode & 0o170000];
      if (type === undefined) throw new Error(`cpio: ${name}: unknown file type in mode ${rawMode.toString(8)}`);
      if (type !== 'file' && type !== 'symlink' && size !== 0) throw new Error(`cpio: ${name}: a ${type} with ${size} bytes of data`);
      const path = normalizePath(name);
      let target: string | undefined;
      if (type === 'symlink') {
        if (size > MAX_LINK) throw new Error(`cpio: ${name}: symlink target of ${size} bytes`);
        target = (await reader.read(size, 'a symlink target')).toString('utf8');
      } else if (type === 'file' && (keep(path) || (nlink >= 2 && waiting.has(`${devMajor}:${devMinor}:${ino}`)))) {
        // A hard-linked file's data comes with its last name; earlier kept names wait for it.
        const key = `${devMajor}:${devMinor}:${ino}`;
        const names = [...(nlink >= 2 ? (waiting.get(key) ?? []) : []), ...(keep(path) ? [path] : [])];
        if (size === 0 && nlink >= 2) waiting.set(key, names);
        else if (size > maxKeep) await reader.skip(size, `the data of ${name}`);
        else {
          waiting.delete(key);
          const data = new Uint8Array(await reader.read(size, `the data of ${name}`));
          for (const n of names) files.set(n, data);
        }
      } else {
        await reader.skip(size, `the data of ${name}`);
      }
      await reader.skip(pad4(size), 'data padding');
      entries.push({ path, type, mode: rawMode & 0o7777, uid, gid, mtime, size, nlink, ino, devMajor, devMinor, rdevMajor, rdevMinor, ...(target !== undefined ? { target } : {}) });
    }
  } finally {
    await reader.close();
  }
  return { entries, files, bytes: reader.offset() };
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

/** The stream itself, or its gunzipped bytes when it starts with the gzip magic (a .img.gz). */
async function maybeGunzip(stream: AsyncIterable<Uint8Array>): Promise<AsyncIterable<Uint8Array>> {
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  const rest: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => {
      let sentFirst = first.done === true;
      return {
        next: async () => {
          if (!sentFirst) {
            sentFirst = true;
            return { done: false, value: first.value as Uint8Array };
          }
          return it.next();
        },
        return: async () => (await it.return?.()) ?? { done: true, value: undefined },
      };
    },
  };
  const head = first.done === true ? undefined : first.value;
  if (head === undefined || head.length < 2 || head[0] !== 0x1f || head[1] !== 0x8b) return rest;
  const gunzip = createGunzip();
  pipeline(Readable.from(rest), gunzip, () => {
    // Errors surface through the gunzip stream's iterator.
  });
  return gunzip;
}

interface ByteReader {
  read(n: number, what: string): Promise<Buffer>;
  skip(n: number, what: string): Promise<void>;
  offset(): number;
  close(): Promise<void>;
}

function byteReader(source: AsyncIterable<Uint8Array>): ByteReader {
  const it = source[Symbol.asyncIterator]();
  let buf: Uint8Array = new Uint8Array(0);
  let pos = 0;
  let consumed = 0;
  const more = async (what: string): Promise<void> => {
    for (;;) {
      const r = await it.next();
      if (r.done === true) throw new Error(`cpio: archive ends at byte ${consumed}, in ${what} (truncated, or no TRAILER!!! entry)`);
      if (r.value.length === 0) continue;
      buf = r.value;
      pos = 0;
      return;
    }
  };
  return {
    async read(n, what) {
      const out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        if (pos >= buf.length) await more(what);
        const k = Math.min(n - off, buf.length - pos);
        out.set(buf.subarray(pos, pos + k), off);
        off += k;
        pos += k;
        consumed += k;
      }
      return out;
    },
    async skip(n, what) {
      let left = n;
      while (left > 0) {
        if (pos >= buf.length) await more(what);
        const k = Math.min(left, buf.length - pos);
        pos += k;
        left -= k;
        consumed += k;
      }
    },
    offset: () => consumed,
    async close() {
      await it.return?.();
    },
  };
}

/** The index as plain JSON (kept files in base64), for a build cache that re-verifies without reading the archive. */
export interface CpioIndexJson {
  readonly entries: readonly ArchiveEntry[];
  readonly files: Readonly<Record<string, string>>;
  readonly bytes: number;
}

export function cpioIndexToJson(index: CpioIndex): CpioIndexJson {
  const files: Record<string, string> = {};
  for (const [k, v] of [...index.files].sort((a, b) => (a[0] < b[0] ? -1 : 1))) files[k] = Buffer.from(v).toString('base64');
  return { entries: index.entries, files, bytes: index.bytes };
}

export function cpioIndexFromJson(json: CpioIndexJson): CpioIndex {
  return { entries: json.entries, files: new Map(Object.entries(json.files).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])), bytes: json.bytes };
}
