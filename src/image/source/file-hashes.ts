// Per-file content hashes of a dir: source, remembered between builds (I/O: one JSON file in the build cache).
//
// A dir: rootfs has no digest of its own, so its build key is taken over the content of every file. Reading a whole rootfs
// on every plan would make an unchanged rebuild slow, so, as git's index does, a file's sha256 is reused while its
// (dev, ino, size, mtime, ctime) stamp is unchanged. mtime alone proves nothing (cp -p, rsync -a and touch -d set it), but
// ctime is set by the kernel on every change and cannot be set from userspace. As in git, a hash taken within RACY_NS of
// the file's ctime is not remembered: a write in the same timestamp tick would not move ctime. The file is only a cache:
// a missing, unreadable or malformed one is rebuilt, and a hash from it is still checked when the file is packed.
// It is columnar ({format, keys: [...], hashes: [...]}, in step): a no-change plan reads it whole, and two arrays of
// strings parse several times faster, with less garbage, than one object with a property per file (format 1).
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileStamp } from '../tree/fs-tree.ts';

export interface FileHashIndex {
  get(stamp: FileStamp): string | undefined;
  /** Remember a hash taken now (unless racy). */
  set(stamp: FileStamp, sha256: string): void;
  /** Write what was used or learned in this build (entries not seen are dropped). */
  save(): Promise<void>;
}

export interface FileHashOptions {
  /** Default 2 s. */
  readonly racyNs?: bigint;
  /** Wall clock in ns since the epoch; for tests. */
  readonly now?: () => bigint;
}

const FORMAT = 2;
const keyOf = (s: FileStamp): string => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;

/** The index for the source directory whose real path is `sourceReal`, kept under `dir`. */
export async function openFileHashIndex(dir: string, sourceReal: string, options: FileHashOptions = {}): Promise<FileHashIndex> {
  const file = join(dir, `${createHash('sha256').update(sourceReal).digest('hex')}.json`);
  const racy = options.racyNs ?? 2_000_000_000n;
  const now = options.now ?? ((): bigint => BigInt(Date.now()) * 1_000_000n);
  const known = new Map<string, string>();
  try {
    const json = JSON.parse(await readFile(file, 'utf8')) as { format?: unknown; keys?: unknown; hashes?: unknown };
    const { keys, hashes } = json;
    // Checked as a whole (one test over every hash at once): an index that is wrong anywhere is not used at all.
    if (json.format === FORMAT && Array.isArray(keys) && Array.isArray(hashes) && keys.length === hashes.length && keys.every((k) => typeof k === 'string') && hashes.every((h) => typeof h === 'string' && h.length === 64) && /^[0-9a-f]*$/.test(hashes.join(''))) {
      for (let i = 0; i < keys.length; i++) known.set(keys[i] as string, hashes[i] as string);
    }
  } catch {
    // no index yet, or not one herd can use: start over
  }
  const used = new Map<string, string>();
  let learned = false;
  return {
    get(stamp) {
      const k = keyOf(stamp);
      const h = known.get(k);
      if (h !== undefined) used.set(k, h);
      return h;
    },
    set(stamp, sha256) {
      if (stamp.ctimeNs + racy < now()) {
        const k = keyOf(stamp);
        if (known.get(k) !== sha256) learned = true;
        used.set(k, sha256);
      }
    },
    async save() {
      // A no-change build used exactly what the file holds: rewriting 20,000 identical entries is most of its cost.
      if (!learned && used.size === known.size) return;
      await mkdir(dir, { recursive: true });
      const tmp = `${file}.tmp-${randomUUID()}`;
      try {
        const sorted = [...used].sort((a, b) => (a[0] < b[0] ? -1 : 1));
        await writeFile(tmp, JSON.stringify({ format: FORMAT, keys: sorted.map((e) => e[0]), hashes: sorted.map((e) => e[1]) }), { mode: 0o600 });
        await rename(tmp, file);
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
    },
  };
}
