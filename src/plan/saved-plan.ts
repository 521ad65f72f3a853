// Saved plans (pure): `herd plan --out` binds a plan to the spec hash, the state hash and herd's version; hashes only, never content.
// Apply recompiles the spec and re-plans under the lock; it proceeds only if every binding and every action hash is unchanged.
import { z } from 'zod';
import { herdFailure, type HerdFailure } from '../diagnostics/diagnostic.ts';
import { canonicalJson } from './canonical-json.ts';
import type { Plan } from './plan-types.ts';

export const SAVED_PLAN_FORMAT_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const savedActionSchema = z.strictObject({
  action: z.enum(['create', 'update', 'delete', 'no-op']),
  path: z.string(),
  reasons: z.array(z.string()),
  before: sha256.nullable(),
  after: sha256.nullable(),
  mode: z.number().int().nullable(),
  drift: z.string().nullable(),
});

export const savedPlanSchema = z.strictObject({
  formatVersion: z.literal(SAVED_PLAN_FORMAT_VERSION),
  kind: z.literal('herd-saved-plan'),
  herdVersion: z.string(),
  cluster: z.string().nullable(),
  /** Absolute paths: a saved plan is applied on the machine that made it. */
  specFile: z.string(),
  root: z.string(),
  specHash: sha256,
  manifestHash: sha256.nullable(),
  /** sha256 of the canonical JSON of `actions`. */
  fingerprint: sha256,
  actions: z.array(savedActionSchema),
});

export type SavedAction = z.infer<typeof savedActionSchema>;
export type SavedPlan = z.infer<typeof savedPlanSchema>;

/** The parts of a plan that must not move between plan and apply: every non-trivial action with its hashes. */
export function planActionsForBinding(plan: Plan): SavedAction[] {
  return plan.actions
    .filter((a) => a.action !== 'no-op' || a.reasons.length > 0)
    .map((a) => ({
      action: a.action,
      path: a.path,
      reasons: [...a.reasons],
      before: a.before?.sha256 ?? null,
      after: a.after?.sha256 ?? null,
      mode: a.after?.mode ?? null,
      drift: a.drift?.kind ?? null,
    }));
}

export interface SavedPlanInput {
  readonly herdVersion: string;
  readonly cluster: string | null;
  readonly specFile: string;
  readonly root: string;
  readonly specHash: string;
  readonly manifestHash: string | null;
  /** Hash the binding with this; sha256Hex from src/artifacts is the one herd uses. */
  readonly hash: (text: string) => string;
}

export function buildSavedPlan(plan: Plan, input: SavedPlanInput): SavedPlan {
  const actions = planActionsForBinding(plan);
  return {
    formatVersion: SAVED_PLAN_FORMAT_VERSION,
    kind: 'herd-saved-plan',
    herdVersion: input.herdVersion,
    cluster: input.cluster,
    specFile: input.specFile,
    root: input.root,
    specHash: input.specHash,
    manifestHash: input.manifestHash,
    fingerprint: input.hash(canonicalJson(actions)),
    actions,
  };
}

export function serializeSavedPlan(p: SavedPlan): string {
  return canonicalJson(p, 2) + '\n';
}

/** Parse a saved plan's text; undefined when the text is not a saved plan at all (so it may be a spec instead). */
export function parseSavedPlan(text: string, file: string): { ok: true; plan: SavedPlan } | { ok: false; failure: HerdFailure } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || (json as { kind?: unknown }).kind !== 'herd-saved-plan') return undefined;
  const version = (json as { formatVersion?: unknown }).formatVersion;
  if (typeof version === 'number' && version > SAVED_PLAN_FORMAT_VERSION) {
    return { ok: false, failure: herdFailure('state/unsupported-version', `${file} is a saved plan of formatVersion ${version}; this herd reads version ${SAVED_PLAN_FORMAT_VERSION}`, 'run herd plan again with this herd') };
  }
  const parsed = savedPlanSchema.safeParse(json);
  if (!parsed.success) return { ok: false, failure: herdFailure('state/unreadable', `${file} is not a valid saved plan`, 'run herd plan --out again') };
  return { ok: true, plan: parsed.data };
}

export interface CurrentBinding {
  readonly herdVersion: string;
  readonly specHash: string;
  readonly manifestHash: string | null;
  readonly plan: Plan;
  readonly hash: (text: string) => string;
}

/** Why a saved plan may no longer be applied, or undefined when it still describes exactly what apply would do. */
export function staleReason(saved: SavedPlan, now: CurrentBinding): string | undefined {
  if (saved.herdVersion !== now.herdVersion) return `it was made by herd ${saved.herdVersion}, this is herd ${now.herdVersion}`;
  if (saved.specHash !== now.specHash) return 'the spec changed since it was made';
  if (saved.manifestHash !== now.manifestHash) return 'the target was applied to since it was made (the state manifest changed)';
  const actions = planActionsForBinding(now.plan);
  if (now.hash(canonicalJson(actions)) !== saved.fingerprint || canonicalJson(actions) !== canonicalJson(saved.actions)) {
    const savedPaths = new Map(saved.actions.map((a) => [a.path, canonicalJson(a)]));
    const moved = actions.find((a) => savedPaths.get(a.path) !== canonicalJson(a)) ?? saved.actions.find((a) => !actions.some((b) => b.path === a.path));
    return `the files on the target changed since it was made${moved ? ` (first difference: ${moved.path})` : ''}`;
  }
  return undefined;
}
