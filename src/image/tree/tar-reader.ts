// Streaming tar reader (I/O: reads a byte stream, or an open file at offsets): yields each entry's header and its data.
import type { FileHandle } from 'node:fs/promises';
import { ImageError } from '../source/image-error.ts';
import { finishHeader, gnuLongName, mergePax, padding, parseHeaderBlock, parsePaxRecords, type PaxRecords, type TarHeader } from './tar-header.ts';

/** Sequential bytes with a position: a decompressed stream, or a file read at offsets (which can skip without reading). */
export interface ByteSource {
  readonly where: string;
  /** Bytes consumed so far (offset in the uncompressed tar). */
  position(): number;
  /** Exactly n bytes; undefined when the source is at its end before the first byte; throws on a short read. */
  readExact(n: number): Promise<Uint8Array | undefined>;
  /** The next n bytes as chunks (views, valid until the next chunk is requested). */
  chunks(n: number): AsyncGenerator<Uint8Array>;
  skip(n: number): Promise<void>;
  /** Consume whatever follows the end of the archive, so digests over the whole stream are complete. */
  drain(): Promise<void>;
  /** Stop early: release what the source holds open (a stream's file); files opened by the caller stay open. */
  close(): Promise<void>;
}

export interface TarEntry {
  readonly header: TarHeader;
  /** Offset of the entry's data in the (uncompressed) tar stream. */
  readonly dataOffset: number;
  /** The data; read it before asking for the next entry or it is skipped. */
  readonly body: AsyncIterable<Uint8Array>;
}

const MAX_META_SIZE = 8 << 20;

function truncated(where: string): ImageError {
  return new ImageError('bad-tar', `${where}: unexpected end of tar data (truncated archive?)`);
}

export function streamSource(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, where: string): ByteSource {
  const it: AsyncIterator<Uint8Array> | Iterator<Uint8Array> = Symbol.asyncIterator in src ? src[Symbol.asyncIterator]() : src[Symbol.iterator]();
  let buf: Uint8Array = new Uint8Array(0);
  let off = 0;
  let pos = 0;
  let ended = false;
  const fill = async (): Promise<boolean> => {
    while (!ended) {
      const r = await it.next();
      if (r.done === true) ended = true;
      else if (r.value.length > 0) {
        buf = r.value;
        off = 0;
        return true;
      }
    }
    return false;
  };
  async function* chunks(n: number): AsyncGenerator<Uint8Array> {
    while (n > 0) {
      if (off >= buf.length && !(await fill())) throw truncated(where);
      const take = Math.min(n, buf.length - off);
      const piece = buf.subarray(off, off + take);
      off += take;
      pos += take;
      n -= take;
      yield piece;
    }
  }
  return {
    where,
    position: () => pos,
    async readExact(n) {
      if (off >= buf.length && !(await fill())) return undefined;
      if (buf.length - off >= n) {
        const out = buf.slice(off, off + n);
        off += n;
        pos += n;
        return out;
      }
      const out = new Uint8Array(n);
      let got = 0;
      for await (const c of chunks(n)) {
        out.set(c, got);
        got += c.length;
      }
      return out;
    },
    chunks,
    async skip(n) {
      for await (const _ of chunks(n)) {
        // discarding
      }
    },
    async drain() {
      pos += buf.length - off;
      off = buf.length;
      while (await fill()) {
        pos += buf.length;
        off = buf.length;
      }
    },
    async close() {
      if (!ended) {
        ended = true;
        await it.return?.();
      }
    },
  };
}

/** Positional reads from an open file starting at `start`, through a read-ahead window; skipping data costs nothing. */
export function fileSource(fh: FileHandle, fileSize: number, where: string, start = 0): ByteSource {
  const WINDOW = 256 << 10;
  let pos = start;
  let win: Uint8Array = new Uint8Array(0);
  let winStart = 0;
  const readAt = async (at: number, n: number): Promise<Uint8Array> => {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(out, got, n - got, at + got);
      if (bytesRead === 0) throw truncated(where);
      got += bytesRead;
    }
    return out;
  };
  // Bytes [pos, pos + n) from the window, refilling it when they are not all there (one read serves many headers).
  const take = async (n: number): Promise<Uint8Array> => {
    if (pos < winStart || pos + n > winStart + win.length) {
      if (pos + n > fileSize) throw truncated(where);
      winStart = pos;
      win = await readAt(pos, Math.max(n, Math.min(WINDOW, fileSize - pos)));
    }
    const out = win.subarray(pos - winStart, pos - winStart + n);
    pos += n;
    return out;
  };
  return {
    where,
    position: () => pos - start,
    async readExact(n) {
      if (pos >= fileSize) return undefined;
      return (await take(n)).slice();
    },
    async *chunks(n) {
      while (n > 0) {
        const piece = await take(Math.min(n, 1 << 20));
        n -= piece.length;
        yield piece;
      }
    },
    async skip(n) {
      if (pos + n > fileSize) throw truncated(where);
      pos += n;
    },
    async drain() {
      pos = fileSize;
    },
    async close() {
      // the caller owns the file handle
    },
  };
}

/**
 * Entries of a tar archive in order. PAX ('x', 'g') and GNU long-name ('L', 'K') entries are folded into the
 * header they describe. Stops at the end-of-archive block (and drains the rest) or at a clean end of data.
 */
export async function* readTar(src: ByteSource): AsyncGenerator<TarEntry> {
  try {
    yield* entries(src);
  } finally {
    await src.close();
  }
}

async function* entries(src: ByteSource): AsyncGenerator<TarEntry> {
  let globalPax: PaxRecords = new Map();
  let localPax: PaxRecords | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const headerOffset = src.position();
    const block = await src.readExact(512);
    if (block === undefined) return;
    const where = `${src.where} (tar header at byte ${headerOffset})`;
    const raw = parseHeaderBlock(block, where);
    if (raw === undefined) {
      await src.drain();
      return;
    }
    const meta = raw.typeflag === 'x' || raw.typeflag === 'g' || raw.typeflag === 'L' || raw.typeflag === 'K';
    if (meta) {
      if (raw.size > MAX_META_SIZE) throw new ImageError('bad-tar', `${where}: extended header of ${raw.size} bytes is implausibly large`);
      const data = (await src.readExact(raw.size)) ?? new Uint8Array(0);
      await src.skip(padding(raw.size));
      if (raw.typeflag === 'x') localPax = parsePaxRecords(data, where);
      else if (raw.typeflag === 'g') globalPax = mergePax(globalPax, parsePaxRecords(data, where));
      else if (raw.typeflag === 'L') longName = gnuLongName(data, where);
      else longLink = gnuLongName(data, where);
      continue;
    }
    const header = finishHeader(raw, localPax === undefined ? globalPax : mergePax(globalPax, localPax), longName, longLink, where);
    localPax = undefined;
    longName = undefined;
    longLink = undefined;
    const dataOffset = src.position();
    let consumed = 0;
    const size = header.size;
    const body: AsyncIterable<Uint8Array> = {
      async *[Symbol.asyncIterator]() {
        for await (const c of src.chunks(size - consumed)) {
          consumed += c.length;
          yield c;
        }
      },
    };
    yield { header, dataOffset, body };
    const rest = size - consumed;
    consumed = size;
    await src.skip(rest + padding(size));
  }
}
