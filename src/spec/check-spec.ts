// The spec front end (pure): YAML bytes and the files the spec references in; the resolved model and every diagnostic out.
import { diagnosticAt, hasErrors, sortDiagnostics, type Diagnostic } from '../diagnostics/diagnostic.ts';
import { loadYaml } from './load.ts';
import { checkShape } from './check-shape.ts';
import { auxiliaryPaths, resolveSpec, type AuxInputs } from './resolve.ts';
import { checkRules } from './rules/index.ts';
import { applySuppressions } from './suppress.ts';
import { followOnTest, renamedIndex } from './salvage-shape.ts';
import type { ClusterModel } from './model.ts';
import type { ClusterSpec } from './schema.ts';
import { countHostlist, MAX_NODES } from './hostlist.ts';
import type { PositionIndex } from './positions.ts';

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

/** At most this many diagnostics of one rule are listed; the rest are counted in one summary where the first was left out. */
export const MAX_PER_RULE = 500;

/**
 * 200,000 nodes without a MAC, each on its own line, would be 200,000 findings: nobody reads past the first screen, and
 * every output (pull-request annotations above all) drowns. Keep the first MAX_PER_RULE of each rule in sorted order.
 */
function capPerRule(sorted: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Map<string, number>();
  const out: Diagnostic[] = [];
  const summaries = new Map<string, { at: number; left: number; error: boolean }>();
  for (const d of sorted) {
    const n = (seen.get(d.rule) ?? 0) + 1;
    seen.set(d.rule, n);
    if (n <= MAX_PER_RULE) {
      out.push(d);
      continue;
    }
    const s = summaries.get(d.rule);
    if (s) {
      s.left++;
      s.error ||= d.severity === 'error';
    } else {
      summaries.set(d.rule, { at: out.length, left: 1, error: d.severity === 'error' });
      out.push(d);
    }
  }
  for (const [rule, s] of summaries) {
    const first = out[s.at]!;
    const { related: _related, ...located } = first;
    out[s.at] = {
      ...located,
      severity: s.error ? 'error' : first.severity,
      message: `and ${s.left} more ${rule} finding${s.left === 1 ? '' : 's'} from here on, not listed (the first ${MAX_PER_RULE} are)`,
      hint: 'fix the ones listed first: findings of one rule by the thousand usually share one cause',
    };
  }
  return out;
}

/** The nodes entry that takes the spec past MAX_NODES, counted without expanding anything (invalid hostlists count 0: they are reported later). */
function tooManyNodes(spec: ClusterSpec, index: PositionIndex): Diagnostic | undefined {
  let total = 0;
  let over: string | undefined;
  for (const key of Object.keys(spec.nodes)) {
    total += countHostlist(key) ?? 0;
    if (total > MAX_NODES) over ??= key;
  }
  if (over === undefined) return undefined;
  return diagnosticAt(index.keyAt(['nodes', over]), 'node/too-many-nodes', 'error', `the nodes entries define ${total} nodes, more than the ${MAX_NODES} herd validates in one spec; "${over}" takes the count past it`, 'split the cluster into several specs (one per Warewulf server and Slurm cluster), or fix a range that is larger than meant');
}

/** Load, shape-check, resolve and rule-check a spec. Never throws; all diagnostics come back sorted. */
export function checkSpec(file: string, bytes: Uint8Array | string, readAux: AuxReader): SpecCheck {
  const loaded = loadYaml(file, bytes);
  const finish = (ds: Diagnostic[], spec?: ClusterSpec, model?: ClusterModel): SpecCheck => {
    const all = capPerRule(sortDiagnostics(collapseRepeats(applySuppressions(file, loaded.text, ds))));
    return hasErrors(all) || !model ? { diagnostics: all, ...(spec ? { spec } : {}) } : { model, spec: spec!, diagnostics: all };
  };
  if (loaded.value === undefined || hasErrors(loaded.diagnostics)) return finish(loaded.diagnostics);
  const shape = checkShape(loaded.value, loaded.index);
  const diagnostics = [...loaded.diagnostics, ...shape.diagnostics];
  if (!shape.spec) return finish(diagnostics);
  // After salvage, the semantic stages see the spec as it was meant (misspelt keys read as meant, bad values removed); their findings about a removed value are follow-ons of its shape error, not news.
  const isFollowOn = followOnTest(shape.salvage?.neutralised ?? []);
  const index = shape.salvage ? renamedIndex(loaded.index, shape.salvage.renamed) : loaded.index;
  const semantic = (d: Diagnostic): void => {
    if (!isFollowOn(d.specPath, d.rule)) diagnostics.push(d);
  };
  const tooMany = tooManyNodes(shape.spec, index);
  if (tooMany) return finish([...diagnostics, tooMany], shape.spec);
  const aux = readAux(auxiliaryPaths(shape.spec));
  const resolution = resolveSpec(file, shape.spec, index, aux, shape.dropped);
  resolution.diagnostics.forEach(semantic);
  if (!resolution.model) return finish(diagnostics, shape.spec);
  checkRules({ spec: shape.spec, model: resolution.model, index }).forEach(semantic);
  return finish(diagnostics, shape.spec, shape.diagnostics.length === 0 ? resolution.model : undefined);
}
