// Build one node image (I/O shell): source -> in-memory tree -> declarative fixes -> cpio newc + parallel gzip ->
// verification of the BUILT archive -> a content-addressed build cache. What `wwctl image import/exec/build` do, rootless.
//
// Unpacking is bounded from the start by what the image may take (the nodes' memory, its declared size; see
// unpack-budget.ts), and only a build that passed verification is kept: a refused or failed build leaves nothing in the
// cache. Outputs are written owner-only (an image may carry a secret the spec put there, see extra-files.ts).
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { once } from 'node:events';
import type { ContentEntry, DeferredContents } from '../../artifacts/artifact.ts';
import { cpioNewc } from '../../artifacts/cpio-newc.ts';
import { gzipParallel } from '../../artifacts/gzip-parallel.ts';
import type { ImageModel } from '../../spec/model.ts';
import { isImageError } from '../source/image-error.ts';
import { openImageSource } from '../source/open-image-source.ts';
import { layerCache, readContent } from '../tree/content-store.ts';
import { walkTree, type FsTree } from '../tree/fs-tree.ts';
import { UnpackBudget } from '../tree/unpack-budget.ts';
import { unpackLimit } from '../verify/ram-check.ts';
import { pullImage } from '../registry/index.ts';
import { treeToCpioEntries } from './tree-to-cpio.ts';
import { sweepStaleTemps, trackTemp } from '../../fs/temp-registry.ts';
import { applyImageFixes, checkArchiveIndex, droppedXattrs, readArchiveIndex, type ArchiveIndexJson, type ImageProblem, type VerifyContext } from './fixes.ts';

/** Bump when the bytes herd produces for the same input change, so cached builds are not reused across it. */
export const IMAGE_BUILDER_VERSION = 'herd-image-3';

export interface ImageBuildOptions {
  readonly specDir: string;
  /** Build cache (layers, registry blobs, built images); default `.herd/<cluster>/cache` beside the spec. */
  readonly cacheDir: string;
  readonly sourceDateEpoch?: number;
  /** Parallel gzip workers (os.availableParallelism at the CLI edge). */
  readonly workers: number;
  /** Never contact a registry: docker:// sources come from the cache or are reported pending. */
  readonly offline: boolean;
  readonly verify: VerifyContext;
  readonly onProgress?: (event: BuildProgress) => void;
  /** For tests: called once a dir: source is walked, before any of its file content is read. */
  readonly afterWalk?: () => void | Promise<void>;
  /** For tests: called once the build's temporary folder exists, before packing starts (an interrupt test pauses here). */
  readonly beforePack?: () => Promise<void>;
}

export type BuildProgress =
  | { readonly phase: 'layer'; readonly image: string; readonly index: number; readonly count: number; readonly files: number; readonly fromCache: boolean }
  | { readonly phase: 'pack'; readonly image: string; readonly bytes: number; readonly files: number };

export interface BuiltFile {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

export interface BuiltImage {
  readonly name: string;
  /** Build key: identifies source content plus every spec setting that shapes the bytes. */
  readonly key: string;
  readonly img: BuiltFile;
  readonly gz: BuiltFile;
  readonly kernel: BuiltFile & { readonly version: string; readonly pathInImage: string };
  /** The archive's entries, read from the cache on first use. */
  readonly contents: DeferredContents;
  /** The kernel is a file of the archive (not left out by the image's excludes). */
  readonly kernelInArchive: boolean;
  /** What the fixes changed, one line each, for the build summary. */
  readonly report: readonly string[];
  readonly problems: readonly ImageProblem[];
  /** What the image lost but may boot without (xattrs): reported as warnings, on cached builds too. */
  readonly warnings: readonly ImageProblem[];
  readonly fromCache: boolean;
  readonly unpackedBytes: number;
  /** The built image's /etc/passwd and /etc/group (after pins), read back from the archive: the overlays' owners and users. */
  readonly accounts: { readonly passwd: string; readonly group: string };
}

/** A build that could not happen (unreachable source, no kernel...): reported as pending or as an error with a hint. */
export interface ImageBuildFailure {
  readonly kind: 'image-build-failure';
  readonly image: string;
  readonly pending: boolean;
  readonly message: string;
  readonly hint?: string;
  /** What verification (or the bound on unpacking) found; each is reported at the spec setting it names. */
  readonly problems?: readonly ImageProblem[];
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const sha256Bytes = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function settingsKey(im: ImageModel): unknown {
  return { kernel: im.kernel, pins: im.pins, files: im.files.map(({ at: _at, ...f }) => f), exclude: im.exclude };
}

/**
 * Fingerprint of a tree, for rootfs directories (which have no digest of their own): metadata plus the sha256 of every
 * file's content, as read (rootfs-dir.ts hashes each file by descriptor; packing checks the bytes against that hash).
 */
function treeFingerprint(tree: FsTree): string {
  const h = createHash('sha256');
  // Lines are handed to the hash some hundreds at a time: one update per entry is most of this on a large rootfs.
  let lines = '';
  for (const e of walkTree(tree)) {
    const n = e.inode;
    const c = n.content;
    const content = c === undefined ? '' : c.kind === 'bytes' ? createHash('sha256').update(c.data).digest('hex') : c.sha256 ?? (c.kind === 'range' ? `${c.path}@${c.offset}` : '');
    lines += `${e.path}\0${n.type}\0${n.mode}\0${n.uid}\0${n.gid}\0${n.mtime}\0${n.size}\0${n.linkname ?? ''}\0${content}\0${e.hardlinkTo ?? ''}\n`;
    if (lines.length >= 65536) {
      h.update(lines);
      lines = '';
    }
  }
  return h.update(lines).digest('hex');
}


function failure(image: string, pending: boolean, message: string, hint?: string): ImageBuildFailure {
  return hint === undefined ? { kind: 'image-build-failure', image, pending, message } : { kind: 'image-build-failure', image, pending, message, hint };
}

function refused(image: string, problems: readonly ImageProblem[]): ImageBuildFailure {
  return { ...failure(image, false, `image ${image}: ${problems.map((p) => p.message).join('; ')}`, problems[0]?.hint), problems };
}

/** A cached build is checked again against the current nodes; one that no longer passes is refused. */
const passing = (b: BuiltImage | undefined): BuiltImage | ImageBuildFailure | undefined => (b === undefined || b.problems.length === 0 ? b : refused(b.name, b.problems));

export function isImageBuildFailure(x: unknown): x is ImageBuildFailure {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'image-build-failure';
}

/** Build (or reuse from the cache) one image. Never throws for input problems: returns an ImageBuildFailure instead. */
export async function buildImage(im: ImageModel, opts: ImageBuildOptions): Promise<BuiltImage | ImageBuildFailure> {
  const cache = opts.cacheDir;
  const budget = new UnpackBudget(unpackLimit(opts.verify), im.exclude);
  // Paths in messages relative to the spec folder, as the spec names them.
  const rel = (m: string): string => m.replaceAll(`${opts.specDir}/`, '');
  const tooBig = (problems: readonly ImageProblem[]): ImageBuildFailure => refused(im.name, problems.map((p) => ({ ...p, message: rel(p.message) })));
  let source;
  try {
    source = await openImageSource(im.source, {
      baseDir: opts.specDir,
      scratchDir: join(cache, 'scratch'),
      budget,
      openRemote: async (ref, platform) => {
        const pulled = await pullImage(ref.reference, { cacheDir: join(cache, 'registry'), offline: opts.offline, platform: `${platform.os}/${platform.architecture}` });
        // herd's own registry cache is the folder this layout must stay inside.
        return openImageSource(`oci:${basename(pulled.layoutDir)}`, { baseDir: dirname(pulled.layoutDir), platform, budget });
      },
    });
  } catch (e) {
    if (isImageError(e) && e.code === 'too-big') return tooBig(e.problems);
    const raw = e as { code?: string; message?: string; hint?: string };
    const err = { ...raw, message: raw.message === undefined ? undefined : rel(raw.message) };
    // Not cached (registry) or not built yet (a local layout the site's image pipeline produces): pending, not broken.
    if (err.code === 'IMAGE.NOT_CACHED') {
      return failure(im.name, true, `image ${im.name}: ${im.source} is not in the local cache and herd does not contact registries during plan`, `run \`herd pull\` on a machine with registry access (it fills ${join(cache, 'registry')}), or use an oci: layout`);
    }
    if (err.code === 'not-found') {
      return failure(im.name, true, `image ${im.name}: ${err.message ?? String(e)}`, 'build or copy the image there first (e.g. buildah push oci:...), or fix the path in source:');
    }
    return failure(im.name, false, `image ${im.name}: ${err.message ?? String(e)}`, err.hint);
  }
  let tmp: string | undefined;
  let forgetTmp = (): void => {};
  try {
    // Builds killed before they finished (SIGKILL, power loss) left their .tmp-<pid> folders here; an interrupted one removes its own.
    sweepStaleTemps(join(cache, 'images', im.name));
    const sourceId = source.manifestDigest ?? (source.layers.length > 0 ? source.layers.map((l) => l.diffId ?? l.digest ?? '').join(',') : undefined);
    const keyOf = (id: string): string => sha(JSON.stringify({ builder: IMAGE_BUILDER_VERSION, source: id, settings: settingsKey(im), sde: opts.sourceDateEpoch ?? null }));
    const outDir = (key: string): string => join(cache, 'images', im.name, key);
    if (sourceId !== undefined) {
      const hit = passing(await fromCache(im.name, keyOf(sourceId), outDir(keyOf(sourceId)), opts.verify));
      if (hit) return hit;
    }
    let files = 0;
    const tree = await source.buildTree({
      cache: layerCache(join(cache, 'layers')),
      budget,
      fileHashDir: join(cache, 'file-hashes'),
      ...(opts.afterWalk ? { afterWalk: opts.afterWalk } : {}),
      onLayer: (_l, i, stats, fromCacheLayer) => {
        files += (stats as { entries?: number }).entries ?? 0;
        opts.onProgress?.({ phase: 'layer', image: im.name, index: i, count: source!.layers.length, files, fromCache: fromCacheLayer });
      },
    });
    const key = keyOf(sourceId ?? `tree:${treeFingerprint(tree)}`);
    if (sourceId === undefined) {
      const hit = passing(await fromCache(im.name, key, outDir(key), opts.verify));
      if (hit) return hit;
    }
    const fixed = await applyImageFixes(tree, im, opts.sourceDateEpoch === undefined ? {} : { sourceDateEpoch: opts.sourceDateEpoch });
    if (!fixed.kernel) return failure(im.name, false, fixed.problems.map((p) => p.message).join('; ') || `image ${im.name}: no kernel`, fixed.problems[0]?.hint);
    tmp = `${outDir(key)}.tmp-${process.pid}`;
    forgetTmp = trackTemp(tmp);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(dirname(tmp), { recursive: true });
    await mkdir(tmp, { mode: 0o700 });
    await opts.beforePack?.();
    const dropped = droppedXattrs(tree);
    const entries = treeToCpioEntries(tree, opts.sourceDateEpoch === undefined ? {} : { sourceDateEpoch: opts.sourceDateEpoch });
    const stream = cpioNewc(entries);
    // One pass: each cpio chunk is written to the .img and hashed on its way into the parallel gzip, whose output is
    // written to the .img.gz and hashed too. gzipParallel pulls with bounded read-ahead, so memory stays bounded.
    const imgPath = join(tmp, 'image.img');
    const gzPath = join(tmp, 'image.img.gz');
    const img = createWriteStream(imgPath, { mode: 0o600 });
    const gz = createWriteStream(gzPath, { mode: 0o600 });
    const imgHash = createHash('sha256');
    const gzHash = createHash('sha256');
    let packed = 0;
    let gzSize = 0;
    const teeToImg = async function* (): AsyncGenerator<Uint8Array> {
      for await (const chunk of stream.chunks) {
        if (!img.write(chunk)) await once(img, 'drain');
        imgHash.update(chunk);
        packed += chunk.length;
        opts.onProgress?.({ phase: 'pack', image: im.name, bytes: packed, files: entries.length });
        yield chunk;
      }
    };
    try {
      for await (const c of gzipParallel(teeToImg(), { workers: opts.workers, level: 6 })) {
        gzHash.update(c);
        gzSize += c.length;
        if (!gz.write(c)) await once(gz, 'drain');
      }
    } finally {
      img.end();
      gz.end();
      await Promise.all([once(img, 'close'), once(gz, 'close')]);
    }
    const kernelBytes: Uint8Array[] = [];
    for await (const c of readContent(fixed.kernel.content)) kernelBytes.push(c.slice());
    const kernel = Buffer.concat(kernelBytes);
    await writeFile(join(tmp, 'vmlinuz'), kernel, { mode: 0o600 });
    const contents = stream.contents();
    // Read the built archive back with an independent reader and keep what verification needs.
    const archiveIndex = await readArchiveIndex(imgPath);
    const text = (p: string): string => (archiveIndex.files[p] === undefined ? '' : Buffer.from(archiveIndex.files[p]!, 'base64').toString('utf8'));
    const kernelPath = fixed.kernel.path.replace(/^\/+/, '');
    const meta: CachedMeta = {
      format: META_FORMAT,
      builder: IMAGE_BUILDER_VERSION,
      key,
      img: { path: 'image.img', sha256: imgHash.digest('hex'), size: packed },
      gz: { path: 'image.img.gz', sha256: gzHash.digest('hex'), size: gzSize },
      kernel: { path: 'vmlinuz', sha256: sha256Bytes(kernel), size: kernel.length },
      kernelVersion: fixed.kernel.version,
      kernelPath: fixed.kernel.path,
      report: fixed.report,
      fixProblems: fixed.problems,
      warnings: dropped === undefined ? [] : [dropped],
      entries: contents.length,
      unpackedBytes: contents.reduce((s, c) => s + c.size, 0),
      kernelInArchive: contents.some((c) => c.path === kernelPath && (c.type === 'file' || c.type === 'hardlink')),
      accounts: { passwd: text('etc/passwd'), group: text('etc/group') },
    };
    // Only a build that passes is kept: a refused one would be served stale, or taken for checked, by the next plan.
    const checked = checkArchiveIndex(archiveIndex, opts.verify);
    const problems = [...fixed.problems, ...checked];
    if (problems.length > 0) return refused(im.name, problems);
    await writeFile(join(tmp, CONTENTS), JSON.stringify(contents), { mode: 0o600 });
    await writeFile(join(tmp, ARCHIVE_INDEX), JSON.stringify(archiveIndex), { mode: 0o600 });
    await writeFile(join(tmp, VERIFIED), JSON.stringify({ context: verifyKey(opts.verify), problems: checked } satisfies Verified), { mode: 0o600 });
    // meta.json last: a folder without it is not a finished build.
    await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta), { mode: 0o600 });
    await rm(outDir(key), { recursive: true, force: true });
    await rename(tmp, outDir(key));
    tmp = undefined;
    const built = await fromCache(im.name, key, outDir(key), opts.verify);
    return built ? { ...built, fromCache: false } : failure(im.name, false, `image ${im.name}: build output vanished from ${outDir(key)}`);
  } catch (e) {
    if (isImageError(e) && e.code === 'too-big') return tooBig(e.problems);
    const err = e as { message?: string; hint?: string };
    return failure(im.name, false, `image ${im.name}: ${rel(err.message ?? String(e))}`, err.hint);
  } finally {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
    forgetTmp();
    await source.close();
  }
}

/**
 * A finished build in the cache. Output hashes were taken when it was written; the archive itself was read back then
 * (verification of the artifact, not the source: the seed's lesson) and its index kept beside it (archive-index.json).
 * Checking it against the current nodes (memory, drivers) needs that index only when they changed since the last check
 * (verified.json remembers the last context and its result), and the archive's entries (contents.json) are read only by
 * whoever needs them: a no-change plan of an image of 20,000 files reads a few hundred bytes of JSON, not megabytes.
 */
async function fromCache(name: string, key: string, dir: string, verify: VerifyContext): Promise<BuiltImage | undefined> {
  const metaPath = join(dir, 'meta.json');
  if (!existsSync(metaPath)) return undefined;
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as CachedMeta;
  // A build of an earlier format is built again (its folder is replaced whole).
  if (meta.format !== META_FORMAT) return undefined;
  // Outputs have fixed names; anything else (a meta.json naming ../../etc/shadow, a symlink) is not a build herd wrote.
  const names = { img: 'image.img', gz: 'image.img.gz', kernel: 'vmlinuz' } as const;
  for (const k of ['img', 'gz', 'kernel'] as const) {
    const f = meta[k];
    if (f?.path !== names[k]) return undefined;
    const st = await lstat(join(dir, f.path)).catch(() => undefined);
    if (!st || !st.isFile() || st.size !== f.size) return undefined;
  }
  for (const f of [CONTENTS, ARCHIVE_INDEX]) if (!(await lstat(join(dir, f)).catch(() => undefined))?.isFile()) return undefined;
  const problems = [...meta.fixProblems, ...(await verifiedProblems(dir, verify))];
  const abs = (f: BuiltFile): BuiltFile => ({ ...f, path: join(dir, f.path) });
  let entries: readonly ContentEntry[] | undefined;
  const contents: DeferredContents = {
    count: meta.entries,
    load: () => {
      entries ??= JSON.parse(readFileSync(join(dir, CONTENTS), 'utf8')) as ContentEntry[];
      if (!Array.isArray(entries) || entries.length !== meta.entries) throw new Error(`${join(dir, CONTENTS)} does not list the image's ${meta.entries} entries: remove ${dir} and plan again`);
      return entries;
    },
  };
  return { name, key, img: abs(meta.img), gz: abs(meta.gz), kernel: { ...abs(meta.kernel), version: meta.kernelVersion, pathInImage: meta.kernelPath }, contents, kernelInArchive: meta.kernelInArchive, report: meta.report, problems, warnings: meta.warnings, fromCache: true, unpackedBytes: meta.unpackedBytes, accounts: meta.accounts };
}

/** The verify context as one string: the same nodes, drivers, programs and pins give the same key. */
const verifyKey = (verify: VerifyContext): string => sha(JSON.stringify(verify));

/** What checking the archive against `verify` finds: remembered for the last context checked, else read from its index. */
async function verifiedProblems(dir: string, verify: VerifyContext): Promise<ImageProblem[]> {
  const context = verifyKey(verify);
  try {
    const last = JSON.parse(readFileSync(join(dir, VERIFIED), 'utf8')) as Partial<Verified>;
    if (last.context === context && Array.isArray(last.problems)) return last.problems;
  } catch {
    // not checked yet, or unreadable: check again
  }
  const problems = checkArchiveIndex(JSON.parse(readFileSync(join(dir, ARCHIVE_INDEX), 'utf8')) as ArchiveIndexJson, verify);
  // Remembering is an optimisation: a cache folder that cannot be written only means checking again next time.
  const tmp = join(dir, `${VERIFIED}.tmp-${process.pid}`);
  try {
    await writeFile(tmp, JSON.stringify({ context, problems } satisfies Verified), { mode: 0o600, flag: 'wx' });
    await rename(tmp, join(dir, VERIFIED));
  } catch {
    // 'wx' never writes through anything already there (a leftover of a killed run is removed for the next one).
    await rm(tmp, { force: true }).catch(() => {});
  }
  return problems;
}

const META_FORMAT = 2;
const CONTENTS = 'contents.json';
const ARCHIVE_INDEX = 'archive-index.json';
const VERIFIED = 'verified.json';

interface Verified {
  readonly context: string;
  readonly problems: readonly ImageProblem[];
}

interface CachedMeta {
  readonly format: number;
  readonly builder: string;
  readonly key: string;
  readonly img: BuiltFile;
  readonly gz: BuiltFile;
  readonly kernel: BuiltFile;
  readonly kernelVersion: string;
  readonly kernelPath: string;
  readonly report: string[];
  readonly fixProblems: ImageProblem[];
  readonly warnings: ImageProblem[];
  /** How many entries contents.json lists, and the sum of their sizes. */
  readonly entries: number;
  readonly unpackedBytes: number;
  readonly kernelInArchive: boolean;
  /** The built image's /etc/passwd and /etc/group, read back from the archive. */
  readonly accounts: { readonly passwd: string; readonly group: string };
}
