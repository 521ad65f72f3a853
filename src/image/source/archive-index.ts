// Random access to the members of an archive file (I/O): oci-archive and docker-archive are tars of blobs.
//
// The archive is read through the handle it was opened with (opened inside the spec folder by open-image-source.ts), never
// by its name again. An uncompressed archive (what skopeo and docker save write) is indexed by reading only its headers;
// members are then read in place at their offsets, nothing is extracted. A compressed archive (`docker save | gzip`)
// cannot be read at offsets, so its members are spilled once into a scratch directory that close() removes; how much
// may be spilled is bounded by the build's unpack budget.
import type { FileHandle } from 'node:fs/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { normalizePath } from '../tree/fs-tree.ts';
import { fileSource, readTar, streamSource } from '../tree/tar-reader.ts';
import type { UnpackBudget } from '../tree/unpack-budget.ts';
import { decompress, detectCompression, readOpen, readRange, type PositionalReader } from './blob-stream.ts';
import { ImageError, ioError } from './image-error.ts';
import { trackTemp } from '../../fs/temp-registry.ts';

export interface ArchiveMember {
  /** Normalized member name, e.g. `blobs/sha256/ab…`. */
  readonly name: string;
  /** The scratch file it was spilled to; absent when it is read in place from the archive. */
  readonly spilled?: string;
  readonly offset: number;
  readonly size: number;
}

export interface ArchiveIndex {
  /** The archive, for messages. */
  readonly archive: string;
  /** The open archive members are read from in place. */
  readonly file: PositionalReader;
  readonly members: ReadonlyMap<string, ArchiveMember>;
  /** Remove spilled members and close the archive. */
  close(): Promise<void>;
}

/** An archive opened by the caller; indexArchive owns the handle from then on (closes it on failure and on close()). */
export interface OpenArchive {
  readonly fh: FileHandle;
  readonly size: number;
  /** For messages. */
  readonly where: string;
}

export function memberWhere(index: ArchiveIndex, name: string): string {
  return `${index.archive}!${name}`;
}

export function openMember(index: ArchiveIndex, m: ArchiveMember): AsyncIterable<Uint8Array> {
  const where = memberWhere(index, m.name);
  return m.spilled === undefined ? readOpen(index.file, m.offset, m.size, where) : readRange(m.spilled, m.offset, m.size, where);
}

interface Link {
  readonly name: string;
  readonly target: string;
}

function resolveLinks(members: Map<string, ArchiveMember>, links: readonly Link[]): void {
  // Links may point at links; a few passes settle any sane archive.
  for (let pass = 0; pass < 8; pass++) {
    let progress = false;
    for (const l of links) {
      const t = members.get(l.target);
      if (t !== undefined && !members.has(l.name)) {
        members.set(l.name, { ...t, name: l.name });
        progress = true;
      }
    }
    if (!progress) return;
  }
}

export async function indexArchive(file: OpenArchive, scratchDir: string, budget?: UnpackBudget): Promise<ArchiveIndex> {
  const { fh, size, where: archive } = file;
  const members = new Map<string, ArchiveMember>();
  const links: Link[] = [];
  let spill: string | undefined;
  // An interrupted run removes the spilled members too (temp-registry.ts).
  let forget = (): void => {};
  try {
    const head = new Uint8Array(8);
    await fh.read(head, 0, 8, 0);
    const compression = detectCompression(head);
    const entries = compression === 'none' ? readTar(fileSource(fh, size, archive)) : readTar(streamSource(decompress(readOpen(fh, 0, size, archive), archive), archive));
    if (compression !== 'none') {
      spill = await mkdtemp(join(scratchDir, 'herd-archive-'));
      forget = trackTemp(spill);
    }
    let n = 0;
    for await (const e of entries) {
      const name = normalizePath(e.header.name);
      if (e.header.type === 'hardlink') links.push({ name, target: normalizePath(e.header.linkname) });
      else if (e.header.type === 'symlink') links.push({ name, target: normalizePath(`${name}/../${e.header.linkname}`) });
      else if (e.header.type !== 'file') continue;
      else if (spill === undefined) members.set(name, { name, offset: e.dataOffset, size: e.header.size });
      else {
        budget?.consumed(e.header.size, `${archive}!${name}`, 'archive');
        const spilled = join(spill, String(n++));
        await writeFile(spilled, e.body);
        members.set(name, { name, spilled, offset: 0, size: e.header.size });
      }
    }
  } catch (e) {
    if (spill !== undefined) await rm(spill, { recursive: true, force: true });
    forget();
    await fh.close();
    if (e instanceof ImageError) throw e;
    throw ioError(e, archive, 'reading the archive');
  }
  resolveLinks(members, links);
  const scratch = spill;
  let closed = false;
  return {
    archive,
    file: fh,
    members,
    async close() {
      if (closed) return;
      closed = true;
      if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
      forget();
      await fh.close();
    },
  };
}
