// The spec front end (pure): YAML bytes and the files the spec references in; the resolved model and every diagnostic out.
import { hasErrors, sortDiagnostics, type Diagnostic } from '../diagnostics/diagnostic.ts';
import { loadYaml } from './load.ts';
import { checkShape } from './check-shape.ts';
import { auxiliaryPaths, resolveSpec, type AuxInputs } from './resolve.ts';
import { checkRules } from './rules/index.ts';
import { applySuppressions } from './suppress.ts';
import type { ClusterModel } from './model.ts';
import type { ClusterSpec } from './schema.ts';

export interface SpecCheck {
  /** Present only when there is no error diagnostic: later stages never see an invalid model. */
  readonly model?: ClusterModel;
  readonly spec?: ClusterSpec;
  readonly diagnostics: readonly Diagnostic[];
}

/** Reads the referenced files for a parsed spec; the I/O twin supplies it, tests pass a map. */
export type AuxReader = (paths: ReturnType<typeof auxiliaryPaths>) => AuxInputs;

/** One place, one rule, one report: nodes sharing a profile line would otherwise repeat the same finding per node. */
function collapseRepeats(ds: readonly Diagnostic[]): Diagnostic[] {
  const groups = new Map<string, Diagnostic[]>();
  const order: string[] = [];
  for (const d of ds) {
    const key = d.line === undefined ? `${order.length}\u0000unique` : `${d.rule}\u0000${d.file}\u0000${d.line}\u0000${d.column}`;
    const g = groups.get(key);
    if (g) g.push(d);
    else {
      groups.set(key, [d]);
      order.push(key);
    }
  }
  return order.map((k) => {
    const g = groups.get(k)!;
    return g.length === 1 ? g[0]! : { ...g[0]!, message: `${g[0]!.message} (and ${g.length - 1} more like it here)` };
  });
}

/** Load, shape-check, resolve and rule-check a spec. Never throws; all diagnostics come back sorted. */
export function checkSpec(file: string, bytes: Uint8Array | string, readAux: AuxReader): SpecCheck {
  const loaded = loadYaml(file, bytes);
  const finish = (ds: Diagnostic[], spec?: ClusterSpec, model?: ClusterModel): SpecCheck => {
    const all = sortDiagnostics(collapseRepeats(applySuppressions(file, loaded.text, ds)));
    return hasErrors(all) || !model ? { diagnostics: all, ...(spec ? { spec } : {}) } : { model, spec: spec!, diagnostics: all };
  };
  if (loaded.value === undefined || hasErrors(loaded.diagnostics)) return finish(loaded.diagnostics);
  const shape = checkShape(loaded.value, loaded.index);
  const diagnostics = [...loaded.diagnostics, ...shape.diagnostics];
  if (!shape.spec) return finish(diagnostics);
  const aux = readAux(auxiliaryPaths(shape.spec));
  const resolution = resolveSpec(file, shape.spec, loaded.index, aux, shape.dropped);
  diagnostics.push(...resolution.diagnostics);
  if (!resolution.model) return finish(diagnostics, shape.spec);
  diagnostics.push(...checkRules({ spec: shape.spec, model: resolution.model, index: loaded.index }));
  return finish(diagnostics, shape.spec, shape.diagnostics.length === 0 ? resolution.model : undefined);
}
