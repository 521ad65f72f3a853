// Saved plans (pure): `herd plan --out` binds a plan to the spec hash, the state hash and herd's version; hashes only, never content.
// Apply recompiles the spec and re-plans under the lock; it proceeds only if every binding and every action hash is unchanged.
// The file is one header line, `herd-saved-plan formatVersion=2 bytes=N sha256=H`, then the canonical JSON body whose byte count and sha256 it states:
// a truncated file is told apart from a spec (it starts with the header, or is named *.herd) and from an edited one (the body no longer matches its checksum).
import { z } from 'zod';
import { sha256Hex } from '../artifacts/artifact.ts';
import { herdFailure, type HerdFailure } from '../diagnostics/diagnostic.ts';
import { canonicalJson } from './canonical-json.ts';
import type { Plan } from './plan-types.ts';

/** 2 added the checksummed header line; 1 was bare JSON, which this herd refuses as made by an older herd. */
export const SAVED_PLAN_FORMAT_VERSION = 2;

/** A file with this extension is always read as a saved plan, so even an empty or garbled one is reported as a damaged plan, not as a spec. */
export const SAVED_PLAN_EXTENSION = '.herd';

const MAGIC = 'herd-saved-plan';

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

const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

export function serializeSavedPlan(p: SavedPlan): string {
  const body = canonicalJson(p, 2) + '\n';
  return `${MAGIC} formatVersion=${SAVED_PLAN_FORMAT_VERSION} bytes=${utf8Length(body)} sha256=${sha256Hex(body)}\n${body}`;
}

export type SavedPlanParse = { ok: true; plan: SavedPlan } | { ok: false; failure: HerdFailure };

const remake = (file: string) => `make it again with herd plan --out ${file}`;
const damaged = (file: string): SavedPlanParse => ({ ok: false, failure: herdFailure('state/damaged-plan', `${file} is not a complete saved plan (truncated or damaged)`, remake(file)) });
const modified = (file: string, why: string): SavedPlanParse => ({ ok: false, failure: herdFailure('state/modified-plan', `${file} was modified after herd wrote it: ${why}`, `${remake(file)}; herd applies a saved plan exactly as written or not at all`) });

function otherVersion(file: string, version: number): SavedPlanParse {
  return version > SAVED_PLAN_FORMAT_VERSION
    ? { ok: false, failure: herdFailure('state/unsupported-version', `${file} is a saved plan of formatVersion ${version}; this herd reads version ${SAVED_PLAN_FORMAT_VERSION}`, 'run herd plan again with this herd') }
    : { ok: false, failure: herdFailure('state/unsupported-version', `${file} was made by an older herd (saved-plan formatVersion ${version}, without an integrity checksum); this herd reads version ${SAVED_PLAN_FORMAT_VERSION}`, remake(file)) };
}

/** How version 1 (bare canonical JSON, keys sorted) begins; a truncated one no longer parses but still starts like this. */
const V1_START = /^\{\s*"actions"\s*:\s*\[/;

/** A file without the header: an old bare-JSON saved plan, a damaged one, or (returning undefined) a spec. */
function parseUnframed(text: string, file: string): SavedPlanParse | undefined {
  const named = file.endsWith(SAVED_PLAN_EXTENSION);
  // Cut off inside the header's first word.
  if (text.length > 0 && `${MAGIC} `.startsWith(text)) return damaged(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return named || V1_START.test(text) ? damaged(file) : undefined;
  }
  if (typeof json === 'object' && json !== null && (json as { kind?: unknown }).kind === 'herd-saved-plan') {
    const version = (json as { formatVersion?: unknown }).formatVersion;
    return typeof version === 'number' && version !== SAVED_PLAN_FORMAT_VERSION ? otherVersion(file, version) : damaged(file);
  }
  return named ? damaged(file) : undefined;
}

/**
 * Parse a saved plan's text; undefined when the text is not a saved plan at all (so it may be a spec instead).
 * `file` is the name the user gave: it is shown in messages, and a `.herd` extension marks the file as a saved plan whatever it holds.
 * The body is checked against the header before it is parsed, so every edit is reported as one, even one that leaves valid JSON behind.
 */
export function parseSavedPlan(text: string, file: string): SavedPlanParse | undefined {
  if (!text.startsWith(`${MAGIC} `)) return parseUnframed(text, file);
  const newline = text.indexOf('\n');
  if (newline < 0) return damaged(file);
  const header = text.slice(0, newline);
  const version = /^herd-saved-plan formatVersion=(\d+)(?: |$)/.exec(header);
  if (version && Number(version[1]) !== SAVED_PLAN_FORMAT_VERSION) return otherVersion(file, Number(version[1]));
  const fields = /^herd-saved-plan formatVersion=\d+ bytes=(\d+) sha256=([0-9a-f]{64})$/.exec(header);
  if (!version || !fields) return damaged(file);
  const body = text.slice(newline + 1);
  const bytes = utf8Length(body);
  const declared = Number(fields[1]);
  if (bytes < declared) return damaged(file);
  if (bytes > declared) return modified(file, `it is ${bytes - declared} byte(s) longer than herd wrote it`);
  if (sha256Hex(body) !== fields[2]) return modified(file, 'its content does not match the sha256 checksum on its first line');
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return damaged(file);
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
