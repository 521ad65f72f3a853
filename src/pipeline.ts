// The whole pipeline behind one I/O twin (I/O shell): read a spec from disk, validate, resolve, compile to an artifact set.
import type { Diagnostic } from './diagnostics/diagnostic.ts';
import { hasErrors } from './diagnostics/diagnostic.ts';
import type { ArtifactSet } from './artifacts/artifact.ts';
import type { ClusterModel } from './spec/model.ts';
import { loadSpecFromDisk, sourceTexts } from './spec/load-from-disk.ts';
import { compileConfig } from './compile/compile-cluster.ts';
import { readIpmiPasswords } from './overlay/head-inputs.ts';
import { artifactSet } from './artifacts/artifact.ts';
import { buildClusterImages, confinedCacheDir, defaultCacheDir } from './image/build/build-images.ts';
import type { BuildProgress } from './image/build/build-image.ts';
import { availableParallelism } from 'node:os';
import { buildClusterOverlays } from './overlay/build-overlays.ts';

const NODES_CONF = 'etc/warewulf/nodes.conf';

export interface CompileOptions {
  /** SOURCE_DATE_EPOCH (seconds) for archive timestamps; from the environment at the CLI edge. */
  readonly sourceDateEpoch?: number;
  /** Build node images too (default true). Config-only callers (goldens, slurmctld checks) turn it off. */
  readonly images?: boolean;
  /** Parallel compression workers for image builds (default: available cores). */
  readonly workers?: number;
  /** Build cache; default `.herd/<cluster>/cache` beside the spec. */
  readonly cacheDir?: string;
  readonly onProgress?: (event: BuildProgress) => void;
  /** For tests: called once an image build's temporary folder exists, before packing (see the build command's test hook). */
  readonly beforePack?: () => Promise<void>;
  /** Where the overlays read head files (munge key, SSH host keys, Warewulf install): `/` on the head (the default). */
  readonly headRoot?: string;
}

export interface CompileResult {
  readonly diagnostics: readonly Diagnostic[];
  /** Absolute path of the spec file. */
  readonly specFile: string;
  /** Directory holding the spec (relative paths in the spec resolve here). */
  readonly specDir: string;
  /** The spec path relative to cwd, as shown to users. */
  readonly displayPath: string;
  /** Cluster name from the spec (undefined when the spec did not resolve). */
  readonly clusterName?: string;
  /** sha256 over the spec file and every file it pulls in (inventory CSV, overlay templates), for binding saved plans. */
  readonly specHash: string;
  readonly model?: ClusterModel;
  /** Present when there were no error diagnostics. */
  readonly artifacts?: ArtifactSet;
  /** Image build summary lines (built, reused from cache, pending). */
  readonly imageSummary?: readonly string[];
  /** Cache key of each image built or reused this run (its folder is `<cache>/images/<name>/<key>`); pending and failed images are absent. */
  readonly imageKeys?: ReadonlyMap<string, string>;
  /** Source texts by display path, for code frames. */
  readonly sources: ReadonlyMap<string, string>;
}

/** Resolve `path` (a spec file or a folder holding cluster.yaml), load, validate and compile it. Throws a HerdFailure when the spec can't be read. */
export async function compileSpecAt(path: string, cwd: string, options: CompileOptions = {}): Promise<CompileResult> {
  const spec = loadSpecFromDisk(path, cwd);
  const sources = sourceTexts(spec, cwd);
  const base = { diagnostics: spec.diagnostics, specFile: spec.specPath, specDir: spec.specDir, displayPath: spec.displayPath, specHash: spec.specHash, sources };
  if (!spec.model || hasErrors(spec.diagnostics)) return { ...base, ...(spec.spec ? { clusterName: spec.spec.name } : {}) };
  // BMC passwords (ipmi.password_file) are read on the head; where one is absent nodes.conf waits as pending, never
  // compiled without it.
  const bmc = readIpmiPasswords(spec.model, options.headRoot ?? '/', spec.specDir);
  if (hasErrors(bmc.diagnostics)) return { ...base, diagnostics: [...spec.diagnostics, ...bmc.diagnostics], clusterName: spec.model.name, model: spec.model };
  const bmcPending = bmc.missing !== undefined ? [{ prefix: NODES_CONF, reason: bmc.missing }] : [];
  const config = compileConfig(spec.model, { specDisplayPath: spec.displayPath, ...(bmc.passwords.size > 0 ? { ipmiPasswords: bmc.passwords } : {}) }).filter((a) => bmc.missing === undefined || a.path !== NODES_CONF);
  if (options.images === false) return { ...base, clusterName: spec.model.name, model: spec.model, artifacts: { ...artifactSet(config, bmcPending), slurmVersion: spec.model.slurm.version } };
  // Images: built offline (registry images come from the cache `herd pull` fills), reused when unchanged.
  // The default cache sits beside the spec, whose content may come from a pull request: a committed `.herd` symlink out of the
  // folder is refused here (exit 3, like any unsafe path), before anything is written through it.
  const images = await buildClusterImages(spec.model, {
    specDir: spec.specDir,
    cacheDir: confinedCacheDir(spec.specDir, options.cacheDir ?? defaultCacheDir(spec.specDir, spec.model.name)),
    workers: options.workers ?? Math.max(1, availableParallelism()),
    offline: true,
    ...(options.sourceDateEpoch !== undefined ? { sourceDateEpoch: options.sourceDateEpoch } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.beforePack ? { beforePack: options.beforePack } : {}),
  });
  // Overlays: every node's __SYSTEM__ and __RUNTIME__, from the model, the built images' accounts and the head's files.
  const overlays = await buildClusterOverlays(spec.model, {
    specDir: spec.specDir,
    cacheDir: confinedCacheDir(spec.specDir, options.cacheDir ?? defaultCacheDir(spec.specDir, spec.model.name)),
    headRoot: options.headRoot ?? '/',
    inputs: spec.inputs,
    inputModes: spec.inputModes,
    symlinks: spec.symlinks,
    imageAccounts: images.accounts,
    ipmiPasswords: bmc,
    config: new Map(config.flatMap((a) => (a.bytes ? [[a.path, Buffer.from(a.bytes).toString('utf8')] as const] : []))),
  });
  const diagnostics = [...spec.diagnostics, ...images.diagnostics, ...overlays.diagnostics];
  const withImages = { ...base, diagnostics, clusterName: spec.model.name, model: spec.model, imageSummary: [...images.summary, ...overlays.summary], imageKeys: images.keys };
  if (hasErrors(images.diagnostics) || hasErrors(overlays.diagnostics)) return withImages;
  const set = artifactSet([...config, ...images.artifacts, ...overlays.artifacts], [...bmcPending, ...images.pending, ...overlays.pending]);
  return { ...withImages, artifacts: { ...set, slurmVersion: spec.model.slurm.version } };
}
