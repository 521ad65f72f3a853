// Random access to the members of an archive file (I/O): oci-archive and docker-archive are tars of blobs.
//
// An uncompressed archive (what skopeo and docker save write) is indexed by reading only its headers; members are
// then read in place at their offsets, nothing is extracted. A compressed archive (`docker save | gzip`) cannot be
// read at offsets, so its members are spilled once into a scratch directory that close() removes.
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { normalizePath } from '../tree/fs-tree.ts';
import { fileSource, readTar, streamSource } from '../tree/tar-reader.ts';
import { decompress, detectCompression, readRange } from './blob-stream.ts';
import { ImageError, ioError } from './image-error.ts';

export interface ArchiveMember {
  /** Normalized member name, e.g. `blobs/sha256/ab…`. */
  readonly name: string;
  readonly file: string;
  readonly offset: number;
  readonly size: number;
}

export interface ArchiveIndex {
  readonly archive: string;
  readonly members: ReadonlyMap<string, ArchiveMember>;
  close(): Promise<void>;
}

export function memberWhere(index: ArchiveIndex, name: string): string {
  return `${index.archive}!${name}`;
}

export function openMember(index: ArchiveIndex, m: ArchiveMember): AsyncIterable<Uint8Array> {
  return readRange(m.file, m.offset, m.size, memberWhere(index, m.name));
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

export async function indexArchive(archive: string, scratchDir: string): Promise<ArchiveIndex> {
  let fh;
  try {
    fh = await open(archive, 'r');
  } catch (e) {
    throw ioError(e, archive, 'opening the archive');
  }
  const members = new Map<string, ArchiveMember>();
  const links: Link[] = [];
  let spill: string | undefined;
  try {
    const { size } = await fh.stat();
    const head = new Uint8Array(8);
    await fh.read(head, 0, 8, 0);
    const compression = detectCompression(head);
    const entries =
      compression === 'none'
        ? readTar(fileSource(fh, size, archive))
        : readTar(streamSource(decompress(readRange(archive, 0, undefined, archive), archive), archive));
    if (compression !== 'none') spill = await mkdtemp(join(scratchDir, 'herd-archive-'));
    let n = 0;
    for await (const e of entries) {
      const name = normalizePath(e.header.name);
      if (e.header.type === 'hardlink') links.push({ name, target: normalizePath(e.header.linkname) });
      else if (e.header.type === 'symlink') links.push({ name, target: normalizePath(`${name}/../${e.header.linkname}`) });
      else if (e.header.type !== 'file') continue;
      else if (spill === undefined) members.set(name, { name, file: archive, offset: e.dataOffset, size: e.header.size });
      else {
        const file = join(spill, String(n++));
        await writeFile(file, e.body);
        members.set(name, { name, file, offset: 0, size: e.header.size });
      }
    }
  } catch (e) {
    if (spill !== undefined) await rm(spill, { recursive: true, force: true });
    if (e instanceof ImageError) throw e;
    throw ioError(e, archive, 'reading the archive');
  } finally {
    await fh.close();
  }
  resolveLinks(members, links);
  const scratch = spill;
  return {
    archive,
    members,
    async close() {
      if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
    },
  };
}
