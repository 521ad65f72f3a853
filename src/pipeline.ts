// The whole pipeline behind one I/O twin (I/O shell): read a spec from disk, validate, resolve, compile to an artifact set.
import type { Diagnostic } from './diagnostics/diagnostic.ts';
import { hasErrors } from './diagnostics/diagnostic.ts';
import type { ArtifactSet } from './artifacts/artifact.ts';
import type { ClusterModel } from './spec/model.ts';
import { loadSpecFromDisk } from './spec/load-from-disk.ts';
import { compileCluster } from './compile/compile-cluster.ts';

export interface CompileOptions {
  /** SOURCE_DATE_EPOCH (seconds) for archive timestamps; from the environment at the CLI edge. */
  readonly sourceDateEpoch?: number;
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
  /** Source texts by display path, for code frames. */
  readonly sources: ReadonlyMap<string, string>;
}

/** Resolve `path` (a spec file or a folder holding cluster.yaml), load, validate and compile it. Throws a HerdFailure when the spec can't be read. */
export async function compileSpecAt(path: string, cwd: string, options: CompileOptions = {}): Promise<CompileResult> {
  void options;
  const spec = loadSpecFromDisk(path, cwd);
  const sources = new Map<string, string>();
  for (const [abs, bytes] of spec.inputs) {
    const rel = abs === spec.specPath ? spec.displayPath : abs.startsWith(cwd + '/') ? abs.slice(cwd.length + 1) : abs;
    sources.set(rel, Buffer.from(bytes).toString('utf8'));
  }
  const base = { diagnostics: spec.diagnostics, specFile: spec.specPath, specDir: spec.specDir, displayPath: spec.displayPath, specHash: spec.specHash, sources };
  if (!spec.model || hasErrors(spec.diagnostics)) return { ...base, ...(spec.spec ? { clusterName: spec.spec.name } : {}) };
  const artifacts = compileCluster(spec.model, { specDisplayPath: spec.displayPath });
  return { ...base, clusterName: spec.model.name, model: spec.model, artifacts };
}
