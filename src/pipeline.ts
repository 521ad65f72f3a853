// The whole pure pipeline behind one I/O twin: read a spec from disk, validate, resolve, compile to an artifact set.
// (Placeholder signature while the compiler lands; see compileSpecAt below.)
import type { Diagnostic } from './diagnostics/diagnostic.ts';
import type { ArtifactSet } from './artifacts/artifact.ts';

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
  /** Cluster name from the spec (undefined when the spec could not be read). */
  readonly clusterName?: string;
  /** sha256 over the spec file and every file it pulls in (inventory CSV, overlay templates), for binding saved plans. */
  readonly specHash: string;
  /** Present when there were no error diagnostics. */
  readonly artifacts?: ArtifactSet;
}

/** Resolve `path` (a spec file or a folder holding cluster.yaml), load, validate and compile it. Throws a HerdFailure when the spec can't be read. */
export async function compileSpecAt(path: string, cwd: string, options: CompileOptions = {}): Promise<CompileResult> {
  void path;
  void cwd;
  void options;
  throw new Error('compileSpecAt: not implemented yet');
}
