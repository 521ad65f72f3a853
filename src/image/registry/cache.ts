// Content-addressed blob cache and OCI layouts on disk (I/O): the only registry module that touches the filesystem.
import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { copyFile, link, mkdir, mkdtemp, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { registryError } from './errors.ts';
import { layoutIndexJson, OCI_LAYOUT_JSON, type Descriptor } from './manifest.ts';
import { trackTemp } from '../../fs/temp-registry.ts';

/**
 * Cache layout under `root`:
 *   blobs/sha256/<hex>                 every verified blob, once (manifests, indexes, configs, layers)
 *   layouts/sha256/<manifest hex>/     one OCI image layout per image manifest, its blobs hard-linked from blobs/
 *   tmp/                               staging; a pull's files live here until every one of them verified
 */
export interface BlobCache {
  readonly root: string;
  blobPath(digest: string): string;
  /** A blob is present when its file exists with the expected size (it was hashed before it got there). */
  has(digest: string, size?: number): Promise<boolean>;
  /** A small cached blob (manifest, config), re-hashed on read; undefined when absent or damaged. */
  readVerified(digest: string, limit: number): Promise<Uint8Array | undefined>;
  layoutPath(manifestDigest: string): string;
  hasLayout(manifestDigest: string): Promise<boolean>;
  /** Start a pull: blobs go to a private staging dir and reach blobs/ only through `commit`. */
  beginStaging(): Promise<Staging>;
  /** Build (once) the OCI layout for an image manifest whose blobs are all in the cache; returns its directory. */
  ensureLayout(manifest: Descriptor, blobDigests: readonly string[]): Promise<string>;
}

export interface Staging {
  readonly dir: string;
  /** Verify bytes against the digest (and size when known), then stage them. */
  putBytes(digest: string, bytes: Uint8Array, size?: number): Promise<void>;
  /** Stream a body to disk while hashing it; never holds the blob in memory. Aborts once more than `size` bytes arrive. */
  putStream(digest: string, size: number, body: ReadableStream<Uint8Array>, what: string): Promise<void>;
  /** Move every staged blob into the cache. */
  commit(): Promise<void>;
  /** Remove the staging dir and whatever is in it; safe to call after commit. */
  discard(): Promise<void>;
}

const SHA256 = /^sha256:([0-9a-f]{64})$/;

function hexOf(digest: string): string {
  const m = SHA256.exec(digest);
  if (!m?.[1]) throw registryError('IMAGE.DIGEST_UNSUPPORTED', `"${digest}" is not a sha256 digest`);
  return m[1];
}

/** Open (creating if needed) a cache rooted at `root`. */
export async function openBlobCache(root: string): Promise<BlobCache> {
  const blobsDir = join(root, 'blobs', 'sha256');
  const layoutsDir = join(root, 'layouts', 'sha256');
  const tmpDir = join(root, 'tmp');
  await Promise.all([mkdir(blobsDir, { recursive: true }), mkdir(layoutsDir, { recursive: true }), mkdir(tmpDir, { recursive: true })]);
  const blobPath = (digest: string) => join(blobsDir, hexOf(digest));
  const layoutPath = (digest: string) => join(layoutsDir, hexOf(digest));

  return {
    root,
    blobPath,
    layoutPath,
    async has(digest, size) {
      const st = await stat(blobPath(digest)).catch(() => undefined);
      return st !== undefined && st.isFile() && (size === undefined || st.size === size);
    },
    async readVerified(digest, limit) {
      const path = blobPath(digest);
      const st = await stat(path).catch(() => undefined);
      if (st === undefined || !st.isFile() || st.size > limit) return undefined;
      const bytes = new Uint8Array(await readFile(path));
      return sha256Digest(bytes) === digest ? bytes : undefined;
    },
    async hasLayout(digest) {
      return (await stat(join(layoutPath(digest), 'index.json')).catch(() => undefined)) !== undefined;
    },
    async beginStaging() {
      const dir = await mkdtemp(join(tmpDir, 'pull-'));
      // An interrupted pull removes its staging folder (temp-registry.ts); discard forgets it.
      return createStaging(dir, blobsDir, trackTemp(dir));
    },
    async ensureLayout(manifest, blobDigests) {
      const final = layoutPath(manifest.digest);
      if ((await stat(join(final, 'index.json')).catch(() => undefined)) !== undefined) return final;
      const build = await mkdtemp(join(tmpDir, 'layout-'));
      const forget = trackTemp(build);
      try {
        const dest = join(build, 'blobs', 'sha256');
        await mkdir(dest, { recursive: true });
        for (const d of new Set([manifest.digest, ...blobDigests])) await linkOrCopy(blobPath(d), join(dest, hexOf(d)));
        await writeDurable(join(build, 'oci-layout'), OCI_LAYOUT_JSON);
        await writeDurable(join(build, 'index.json'), layoutIndexJson(manifest));
        try {
          await rename(build, final);
        } catch (e) {
          // Another pull of the same image won the race; its layout has the same bytes.
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw e;
        }
        return final;
      } finally {
        await rm(build, { recursive: true, force: true });
        forget();
      }
    },
  };
}

function createStaging(dir: string, blobsDir: string, forget: () => void = () => {}): Staging {
  const staged = new Set<string>();

  const mismatch = (digest: string, actual: string, what: string) =>
    registryError('IMAGE.DIGEST_MISMATCH', `${what}: content digest ${actual} does not match the expected ${digest}`, 'the registry, mirror or network altered the data; nothing was cached');

  return {
    dir,
    async putBytes(digest, bytes, size) {
      const hex = hexOf(digest);
      if (size !== undefined && bytes.byteLength !== size) {
        throw registryError('IMAGE.SIZE_MISMATCH', `blob ${digest} is ${bytes.byteLength} bytes, its descriptor says ${size}`);
      }
      const actual = sha256Digest(bytes);
      if (actual !== digest) throw mismatch(digest, actual, `blob ${digest}`);
      await writeDurable(join(dir, hex), bytes);
      staged.add(hex);
    },
    async putStream(digest, size, body, what) {
      const hex = hexOf(digest);
      const part = join(dir, `${hex}.part`);
      const hash = createHash('sha256');
      const fh = await open(part, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o644);
      const reader = body.getReader();
      let total = 0;
      let ok = false;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          total += value.byteLength;
          if (total > size) throw registryError('IMAGE.SIZE_MISMATCH', `${what}: more than the ${size} bytes its descriptor declares`);
          hash.update(value);
          await fh.write(value);
        }
        if (total !== size) throw registryError('IMAGE.SIZE_MISMATCH', `${what}: got ${total} bytes, its descriptor declares ${size}`);
        const actual = `sha256:${hash.digest('hex')}`;
        if (actual !== digest) throw mismatch(digest, actual, what);
        await fh.sync();
        ok = true;
      } finally {
        if (!ok) await reader.cancel().catch(() => undefined);
        await fh.close();
        if (!ok) await rm(part, { force: true });
      }
      await rename(part, join(dir, hex));
      staged.add(hex);
    },
    async commit() {
      // Rename within one filesystem is atomic, so a reader sees either no blob or a complete verified one.
      for (const hex of [...staged].sort()) await rename(join(dir, hex), join(blobsDir, hex));
      staged.clear();
    },
    async discard() {
      await rm(dir, { recursive: true, force: true });
      forget();
    },
  };
}

/** `sha256:<hex>` of bytes. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function writeDurable(path: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(path, fsc.O_CREAT | fsc.O_TRUNC | fsc.O_WRONLY, 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// Hard links keep each blob stored once on disk; a filesystem without them gets a copy.
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'EPERM' && code !== 'EXDEV' && code !== 'ENOTSUP' && code !== 'EMLINK') throw e;
    await copyFile(from, to);
  }
}
