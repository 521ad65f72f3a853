// Tar header decoding (pure): ustar/GNU/v7 512-byte headers, PAX records with binary xattr values, GNU long names.
//
// herd parses tar itself instead of using tar-stream's extractor because tar-stream decodes PAX records as UTF-8
// strings, which corrupts binary xattr values such as security.capability, and ignores PAX uid/gid/mtime.
// Field semantics follow Go's archive/tar, the reader behind umoci, containerd and Docker.
import { ImageError } from '../source/image-error.ts';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

/** A header as stored in one 512-byte block, before PAX / GNU extensions are applied. */
export interface RawHeader {
  /** Raw bytes: a name cut at 100 bytes may end mid-character when PAX or GNU long names carry the real one. */
  readonly name: Uint8Array;
  readonly typeflag: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly linkname: Uint8Array;
  readonly uname: string;
  readonly gname: string;
  readonly devMajor: number;
  readonly devMinor: number;
}

/** A fully decoded entry header. */
export interface TarHeader {
  readonly name: string;
  readonly type: TarEntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Bytes of data following the header (0 for every type but regular files). */
  readonly size: number;
  readonly mtime: number;
  readonly linkname: string;
  readonly uname: string;
  readonly gname: string;
  readonly devMajor: number;
  readonly devMinor: number;
  readonly xattrs: Readonly<Record<string, Uint8Array>>;
}

export type PaxRecords = Map<string, Uint8Array>;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const ascii = new TextDecoder('latin1');

function cstring(block: Uint8Array, start: number, len: number): Uint8Array {
  let end = start;
  while (end < start + len && block[end] !== 0) end++;
  return block.subarray(start, end);
}

/** Decode a name as UTF-8; herd's tree and cpio output are UTF-8 only, so anything else is an error. */
export function decodeName(bytes: Uint8Array, where: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    const shown = Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
    throw new ImageError('unsupported', `${where}: file name "${shown}" is not valid UTF-8`, {
      hint: 'herd handles UTF-8 file names only; rename the file in the image.',
    });
  }
}

function numeric(block: Uint8Array, start: number, len: number, field: string, where: string): number {
  const first = block[start] as number;
  if (first & 0x80) {
    // GNU base-256: big-endian two's complement; 0xff marks a negative number (pre-1970 mtimes).
    const negative = first === 0xff;
    let v = negative ? -1 : first & 0x7f;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + (block[i] as number) - (negative ? 255 : 0);
    if (!Number.isSafeInteger(v)) throw new ImageError('bad-tar', `${where}: ${field} field out of range`);
    return v;
  }
  const text = ascii.decode(block.subarray(start, start + len)).replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new ImageError('bad-tar', `${where}: ${field} field "${text}" is not an octal number`);
  return parseInt(text, 8);
}

function checksumOk(block: Uint8Array, stored: number): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** Decode one header block; undefined for an all-zero block (end of archive). */
export function parseHeaderBlock(block: Uint8Array, where: string): RawHeader | undefined {
  if (block.every((b) => b === 0)) return undefined;
  const stored = numeric(block, 148, 8, 'checksum', where);
  if (!checksumOk(block, stored)) {
    throw new ImageError('bad-tar', `${where}: invalid tar header checksum (not a tar archive, corrupted, or still compressed)`);
  }
  const magic = ascii.decode(block.subarray(257, 263));
  const posix = magic === 'ustar\0';
  let nameBytes = cstring(block, 0, 100);
  if (posix && block[345] !== 0) {
    const prefix = cstring(block, 345, 155);
    const joined = new Uint8Array(prefix.length + 1 + nameBytes.length);
    joined.set(prefix);
    joined[prefix.length] = 0x2f;
    joined.set(nameBytes, prefix.length + 1);
    nameBytes = joined;
  }
  const hasUstarFields = posix || magic === 'ustar ';
  const flagByte = block[156] as number;
  return {
    name: nameBytes,
    typeflag: flagByte === 0 ? '\0' : String.fromCharCode(flagByte),
    mode: numeric(block, 100, 8, 'mode', where),
    uid: numeric(block, 108, 8, 'uid', where),
    gid: numeric(block, 116, 8, 'gid', where),
    size: numeric(block, 124, 12, 'size', where),
    mtime: numeric(block, 136, 12, 'mtime', where),
    linkname: cstring(block, 157, 100),
    uname: hasUstarFields ? ascii.decode(cstring(block, 265, 32)) : '',
    gname: hasUstarFields ? ascii.decode(cstring(block, 297, 32)) : '',
    devMajor: hasUstarFields ? numeric(block, 329, 8, 'devmajor', where) : 0,
    devMinor: hasUstarFields ? numeric(block, 337, 8, 'devminor', where) : 0,
  };
}

/** Parse `LEN key=value\n` records. Values stay bytes: SCHILY.xattr values are binary. */
export function parsePaxRecords(data: Uint8Array, where: string): PaxRecords {
  const out: PaxRecords = new Map();
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break; // some writers pad the record block with NULs
    let sp = i;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = Number(ascii.decode(data.subarray(i, sp)));
    const end = i + len;
    if (!Number.isInteger(len) || len <= sp - i || end > data.length || data[end - 1] !== 0x0a) {
      throw new ImageError('bad-tar', `${where}: malformed PAX extended header record at byte ${i}`);
    }
    const eq = data.indexOf(0x3d, sp + 1);
    if (eq < 0 || eq >= end) throw new ImageError('bad-tar', `${where}: PAX record without '=' at byte ${i}`);
    out.set(decodeName(data.subarray(sp + 1, eq), where), data.subarray(eq + 1, end - 1));
    i = end;
  }
  return out;
}

/** Merge PAX records into a running set; an empty value deletes the key (POSIX semantics for overriding globals). */
export function mergePax(base: PaxRecords, add: PaxRecords): PaxRecords {
  const out = new Map(base);
  for (const [k, v] of add) {
    if (v.length === 0) out.delete(k);
    else out.set(k, v);
  }
  return out;
}

/** The name stored in a GNU 'L'/'K' long-name entry's data. */
export function gnuLongName(data: Uint8Array, where: string): string {
  return decodeName(cstring(data, 0, data.length), where);
}

function typeOf(raw: RawHeader, name: string, where: string): TarEntryType {
  switch (raw.typeflag) {
    case '0':
    case '7': // contiguous file: a regular file everywhere but a few old Unixes
      return 'file';
    case '\0':
      return name.endsWith('/') ? 'directory' : 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'char';
    case '4':
      return 'block';
    case '5':
      return 'directory';
    case '6':
      return 'fifo';
    case 'S':
      throw new ImageError('unsupported', `${where}: ${name}: GNU sparse files are not supported`, { hint: 'Rebuild the layer without --sparse.' });
    default:
      throw new ImageError('unsupported', `${where}: ${name}: unsupported tar entry type '${raw.typeflag}'`);
  }
}

function paxNumber(v: Uint8Array, key: string, where: string): number {
  const text = ascii.decode(v);
  if (!/^-?\d+(\.\d+)?$/.test(text)) throw new ImageError('bad-tar', `${where}: PAX ${key}="${text}" is not a number`);
  return key === 'mtime' ? Math.floor(Number(text)) : Number(text);
}

/** Apply PAX records and GNU long names to a raw header, the way Go's archive/tar merges them. */
export function finishHeader(raw: RawHeader, pax: PaxRecords, longName: string | undefined, longLink: string | undefined, where: string): TarHeader {
  let name = longName ?? (pax.has('path') ? '' : decodeName(raw.name, where));
  let linkname = longLink ?? (pax.has('linkpath') ? '' : decodeName(raw.linkname, where));
  let { size, uid, gid, mtime, uname, gname, devMajor, devMinor } = raw;
  let xattrs: Record<string, Uint8Array> | undefined;
  for (const [key, value] of pax) {
    if (key === 'path') name = decodeName(value, where);
    else if (key === 'linkpath') linkname = decodeName(value, where);
    else if (key === 'size') size = paxNumber(value, key, where);
    else if (key === 'uid') uid = paxNumber(value, key, where);
    else if (key === 'gid') gid = paxNumber(value, key, where);
    else if (key === 'mtime') mtime = paxNumber(value, key, where);
    else if (key === 'uname') uname = decodeName(value, where);
    else if (key === 'gname') gname = decodeName(value, where);
    else if (key === 'SCHILY.devmajor') devMajor = paxNumber(value, key, where);
    else if (key === 'SCHILY.devminor') devMinor = paxNumber(value, key, where);
    else if (key.startsWith('SCHILY.xattr.')) (xattrs ??= {})[key.slice('SCHILY.xattr.'.length)] = value.slice();
    else if (key.startsWith('GNU.sparse.')) {
      throw new ImageError('unsupported', `${where}: ${name}: PAX sparse files are not supported`, { hint: 'Rebuild the layer without --sparse.' });
    }
  }
  const type = typeOf(raw, name, where);
  // Go's reader treats the size of header-only types as 0 and reads the next header right after.
  const hasData = type === 'file';
  return {
    name,
    type,
    mode: raw.mode & 0o7777,
    uid,
    gid,
    size: hasData ? size : 0,
    mtime,
    linkname,
    uname,
    gname,
    devMajor,
    devMinor,
    xattrs: xattrs ?? {},
  };
}

export function padding(size: number): number {
  return (512 - (size % 512)) % 512;
}
