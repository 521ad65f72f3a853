// A streaming reader of newc ("070701") and newc-with-crc ("070702") cpio archives (pure: bytes in, entries out).
//
// Used to unpack a built image into the chroot Warewulf's own image tools read (state/tree-write.ts). The archive is read
// once, in order; each entry's data is handed over whole (memory is bounded by the largest single file, not the archive).
// Why not npm `cpio-stream`'s extractor: it is a Node stream with per-entry substreams (a pause/resume protocol for every
// one of an image's tens of thousands of entries) and decodes names as ASCII; this is a plain async generator over the
// same header layout as cpio-newc.ts writes (see the format notes there) and the kernel's initramfs unpacker reads.

export interface NewcEntry {
  /** Name as stored, e.g. `etc/passwd` or `.` (no normalisation here). */
  readonly name: string;
  readonly ino: number;
  /** Full st_mode: type bits and permission bits. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly mtime: number;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
  /**
   * The stored data: a file's content (empty for the non-final links of a hard-link group), a symlink's target bytes.
   * It may be a view into the source's chunk: valid until the next entry is requested.
   */
  readonly data: Uint8Array;
}

export type NewcType = 'file' | 'directory' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export function newcType(mode: number): NewcType | undefined {
  switch (mode & 0o170000) {
    case 0o100000: return 'file';
    case 0o040000: return 'directory';
    case 0o120000: return 'symlink';
    case 0o020000: return 'char';
    case 0o060000: return 'block';
    case 0o010000: return 'fifo';
    case 0o140000: return 'socket';
    default: return undefined;
  }
}

const HEADER = 110;
const EMPTY = new Uint8Array(0);
/** The kernel ignores names of PATH_MAX (4096 with the NUL) and more; anything longer here is damage, not a name. */
const MAX_NAME = 4096;

export class CpioFormatError extends Error {}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

/** Pulls exact byte counts out of a chunked source, copying only when a request spans chunks. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** Index of the first unread chunk in `chunks`, and the read position inside it. */
  private first = 0;
  private head = 0;
  private buffered = 0;
  private readonly it: AsyncIterator<Uint8Array>;
  private done = false;
  offset = 0;
  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else if (r.value.length > 0) {
        if (this.first > 64 && this.first * 2 > this.chunks.length) {
          this.chunks = this.chunks.slice(this.first);
          this.first = 0;
        }
        this.chunks.push(r.value);
        this.buffered += r.value.length;
      }
    }
    return this.buffered >= n;
  }

  async take(n: number, what: string): Promise<Uint8Array> {
    if (n === 0) return EMPTY;
    if (!(await this.fill(n))) throw new CpioFormatError(`cpio archive ends inside ${what} at byte ${this.offset}`);
    this.offset += n;
    this.buffered -= n;
    const c0 = this.chunks[this.first]!;
    if (c0.length - this.head >= n) {
      const out = c0.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === c0.length) {
        this.first++;
        this.head = 0;
      }
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[this.first]!;
      const k = Math.min(c.length - this.head, n - at);
      out.set(c.subarray(this.head, this.head + k), at);
      at += k;
      this.head += k;
      if (this.head === c.length) {
        this.first++;
        this.head = 0;
      }
    }
    return out;
  }

  async close(): Promise<void> {
    if (!this.done) await this.it.return?.();
  }
}

const ascii = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { fatal: false });

function hexField(h: Uint8Array, i: number, at: number): number {
  const s = ascii.decode(h.subarray(6 + i * 8, 14 + i * 8));
  if (!/^[0-9A-Fa-f]{8}$/.test(s)) throw new CpioFormatError(`cpio header at byte ${at} has a damaged field (${JSON.stringify(s)})`);
  return parseInt(s, 16);
}

/** Every entry of the archive up to (not including) its TRAILER!!!; throws CpioFormatError on a damaged or truncated archive. */
export async function* readNewc(source: AsyncIterable<Uint8Array>): AsyncGenerator<NewcEntry> {
  const q = new ByteQueue(source);
  try {
    for (;;) {
      const at = q.offset;
      const h = await q.take(HEADER, 'a header');
      const magic = ascii.decode(h.subarray(0, 6));
      if (magic !== '070701' && magic !== '070702') throw new CpioFormatError(`not a newc cpio archive: bad magic ${JSON.stringify(magic)} at byte ${at}`);
      const f = (i: number) => hexField(h, i, at);
      const namesize = f(11);
      if (namesize < 1 || namesize > MAX_NAME) throw new CpioFormatError(`cpio header at byte ${at} has a name of ${namesize} bytes`);
      const nameBytes = await q.take(namesize + pad4(HEADER + namesize), 'a name');
      const name = utf8.decode(nameBytes.subarray(0, namesize - 1));
      const filesize = f(6);
      const data = await q.take(filesize, `the data of ${name}`);
      await q.take(pad4(filesize), `the padding of ${name}`);
      if (name === 'TRAILER!!!') return;
      yield { name, ino: f(0), mode: f(1), uid: f(2), gid: f(3), nlink: f(4), mtime: f(5), rdevMajor: f(9), rdevMinor: f(10), data };
    }
  } finally {
    await q.close();
  }
}
