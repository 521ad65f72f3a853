// The plan as JSON (pure): one envelope document per run, in the shape planOutputSchema documents.
import type { Diagnostic, HerdFailure } from '../diagnostics/diagnostic.ts';
import { jsonEnvelope, toPlanDocument, type ApplyResultJson, type PlanMeta } from './plan-json.ts';
import type { Plan } from './plan-types.ts';

export interface JsonRunInfo {
  readonly exitCode: number;
  readonly diagnostics: readonly Diagnostic[];
  readonly failure?: HerdFailure;
}

/** `herd plan --format json`: the envelope with the plan document as result (null when there is no plan). */
export function renderPlanJson(plan: Plan | null, meta: PlanMeta | null, run: JsonRunInfo): string {
  const result = plan && meta ? toPlanDocument(plan, meta) : null;
  return JSON.stringify(jsonEnvelope('plan', { ...run, result }), null, 2) + '\n';
}

/** `herd apply --format json`: the envelope with the plan and what apply did. */
export function renderApplyJson(result: ApplyResultJson | null, run: JsonRunInfo): string {
  return JSON.stringify(jsonEnvelope('apply', { ...run, result }), null, 2) + '\n';
}
