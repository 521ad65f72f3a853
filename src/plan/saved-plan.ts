// Saved plans (pure): `herd plan --out` binds a plan to what would be written and to the target state it was planned against; hashes only, never content.
// The binding is the compiled artifact set (path, kind, sha256, size, mode, owner, group, secret; the pending prefixes), the state
// snapshot id (src/plan/state-snapshot.ts) of the target or published snapshot, herd's version and the plan's actions: never the spec's
// bytes, so a comment-only edit leaves a reviewed plan valid while any change to an artifact or to the target makes it stale.
// The file is one header line, `herd-saved-plan formatVersion=3 bytes=N sha256=H`, then the canonical JSON body whose byte count and sha256 it states:
// a truncated file is told apart from a spec (it starts with the header, or is named *.herd) and from an edited one (the body no longer matches its checksum).
import { z } from 'zod';
import { sha256Hex, type ArtifactSet } from '../artifacts/artifact.ts';
import { herdFailure, type HerdFailure } from '../diagnostics/diagnostic.ts';
import { canonicalJson } from './canonical-json.ts';
import type { Plan } from './plan-types.ts';

/** 3 binds to the compiled artifacts and a state snapshot id instead of the spec's bytes; 2 added the checksummed header line; 1 was bare JSON. */
export const SAVED_PLAN_FORMAT_VERSION = 3;

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

/** One compiled artifact as far as the bytes and metadata written to the target go. */
export const savedArtifactSchema = z.strictObject({
  path: z.string(),
  kind: z.string(),
  sha256,
  size: z.number().int().nonnegative(),
  mode: z.number().int(),
  owner: z.string(),
  group: z.string(),
  secret: z.boolean(),
});

export const savedPlanSchema = z.strictObject({
  formatVersion: z.literal(SAVED_PLAN_FORMAT_VERSION),
  kind: z.literal('herd-saved-plan'),
  herdVersion: z.string(),
  cluster: z.string().nullable(),
  /** Where the spec was when planned (informational): absolute, and relative to the folder herd plan ran in (null when outside it). */
  specFile: z.string(),
  /** Relative and never climbing out (`..`): on the head it names the spec inside the checkout apply runs in, never a file elsewhere. */
  specPath: z
    .string()
    .regex(/^(?!\/)(?!(?:.*\/)?\.\.(?:\/|$)).+$/)
    .nullable(),
  /** sha256 of the spec's bytes when planned; shown, not bound. */
  specHash: sha256,
  /** target: planned against the live target at `root`; snapshot: against a state snapshot the head published (`herd plan --state`). */
  basis: z.enum(['target', 'snapshot']),
  /** The target root, absolute (for a snapshot: the head's root recorded in it). */
  root: z.string(),
  /** The state snapshot id of the target the plan was made against: apply recomputes it on the target and refuses any other. */
  snapshotId: sha256,
  manifestHash: sha256.nullable(),
  /** sha256 of the canonical JSON of `{artifacts, pending}`. */
  artifactsHash: sha256,
  artifacts: z.array(savedArtifactSchema),
  /** Prefixes not built when planned: apply leaves them as the target has them, exactly as the plan said. */
  pending: z.array(z.strictObject({ prefix: z.string(), reason: z.string() })),
  /** sha256 of the canonical JSON of `actions`. */
  fingerprint: sha256,
  actions: z.array(savedActionSchema),
});

export type SavedAction = z.infer<typeof savedActionSchema>;
export type SavedArtifact = z.infer<typeof savedArtifactSchema>;
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

/** What would be written: the compiled artifacts (no content) and the pending prefixes, sorted. */
export function artifactBinding(set: ArtifactSet): { artifacts: SavedArtifact[]; pending: { prefix: string; reason: string }[] } {
  const artifacts = set.artifacts
    .map((a) => ({ path: a.path, kind: a.kind, sha256: a.sha256, size: a.size, mode: a.mode, owner: a.owner, group: a.group, secret: Boolean(a.secret) }))
    .sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  const pending = (set.pending ?? []).map((p) => ({ prefix: p.prefix, reason: p.reason })).sort((x, y) => (x.prefix < y.prefix ? -1 : x.prefix > y.prefix ? 1 : 0));
  return { artifacts, pending };
}

const artifactsHashOf = (b: ReturnType<typeof artifactBinding>, hash: (text: string) => string) => hash(canonicalJson({ artifacts: b.artifacts, pending: b.pending.map((p) => p.prefix) }));

/**
 * The artifact set apply works with for a saved plan: what the plan left pending stays pending (the target keeps it as it is, as the
 * reviewed plan said), even where this machine could build it, e.g. overlays holding the munge key that only the head has.
 */
export function restrictToPlan(set: ArtifactSet, saved: Pick<SavedPlan, 'pending'>): ArtifactSet {
  const under = (path: string) => underSavedPending(saved, path);
  const pending = new Map<string, { prefix: string; reason: string }>();
  for (const p of [...saved.pending, ...(set.pending ?? [])]) if (!pending.has(p.prefix)) pending.set(p.prefix, { prefix: p.prefix, reason: p.reason });
  return {
    ...set,
    artifacts: set.artifacts.filter((a) => !under(a.path)),
    pending: [...pending.values()].sort((x, y) => (x.prefix < y.prefix ? -1 : x.prefix > y.prefix ? 1 : 0)),
  };
}

export interface SavedPlanInput {
  readonly herdVersion: string;
  readonly cluster: string | null;
  readonly specFile: string;
  readonly specPath: string | null;
  readonly specHash: string;
  readonly basis: 'target' | 'snapshot';
  readonly root: string;
  readonly snapshotId: string;
  readonly manifestHash: string | null;
  readonly artifacts: ArtifactSet;
  /** Hash the binding with this; sha256Hex from src/artifacts is the one herd uses. */
  readonly hash: (text: string) => string;
}

export function buildSavedPlan(plan: Plan, input: SavedPlanInput): SavedPlan {
  const actions = planActionsForBinding(plan);
  const binding = artifactBinding(input.artifacts);
  return {
    formatVersion: SAVED_PLAN_FORMAT_VERSION,
    kind: 'herd-saved-plan',
    herdVersion: input.herdVersion,
    cluster: input.cluster,
    specFile: input.specFile,
    specPath: input.specPath,
    specHash: input.specHash,
    basis: input.basis,
    root: input.root,
    snapshotId: input.snapshotId,
    manifestHash: input.manifestHash,
    artifactsHash: artifactsHashOf(binding, input.hash),
    artifacts: binding.artifacts,
    pending: binding.pending,
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
    : {
        ok: false,
        failure: herdFailure(
          'state/unsupported-version',
          `${file} was made by an older herd (saved-plan formatVersion ${version}, ${version === 1 ? 'without an integrity checksum' : "bound to the spec's bytes, not to the compiled artifacts and a state snapshot"}); this herd reads version ${SAVED_PLAN_FORMAT_VERSION}`,
          remake(file),
        ),
      };
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

/** Why the artifacts compiled now are not the ones the plan was made for, or undefined when they are the same. */
export function artifactsDifference(saved: SavedPlan, now: ArtifactSet, hash: (text: string) => string): string | undefined {
  const b = artifactBinding(now);
  if (artifactsHashOf(b, hash) === saved.artifactsHash && canonicalJson(b.artifacts) === canonicalJson(saved.artifacts)) {
    const samePending = canonicalJson(b.pending.map((p) => p.prefix)) === canonicalJson(saved.pending.map((p) => p.prefix));
    if (samePending) return undefined;
  }
  const under = (path: string, prefix: string) => path === prefix || path.startsWith(prefix);
  const savedPrefixes = new Set(saved.pending.map((p) => p.prefix));
  const nowPrefixes = new Set(b.pending.map((p) => p.prefix));
  // A prefix the plan writes that this machine cannot build: the plan cannot be applied here as reviewed.
  const missing = b.pending.find((p) => !savedPrefixes.has(p.prefix) && saved.artifacts.some((a) => under(a.path, p.prefix)));
  if (missing) return `${missing.prefix} could not be built here (${missing.reason}), but the plan writes it`;
  const was = new Map(saved.artifacts.map((a) => [a.path, canonicalJson(a)]));
  const is = new Map(b.artifacts.map((a) => [a.path, canonicalJson(a)]));
  const moved = [
    ...[...new Set([...was.keys(), ...is.keys()])].filter((p) => was.get(p) !== is.get(p)),
    ...[...new Set([...savedPrefixes, ...nowPrefixes])].filter((p) => savedPrefixes.has(p) !== nowPrefixes.has(p)),
  ].sort();
  if (moved.length === 0) return 'the compiled artifacts differ from the ones it was made for';
  const shown = moved.slice(0, 8).join(', ') + (moved.length > 8 ? ` and ${moved.length - 8} more` : '');
  return `what herd would write changed since it was made (the spec or a file it reads changed: ${shown})`;
}

/** True for a path under one of the prefixes the saved plan left pending. */
export const underSavedPending = (saved: Pick<SavedPlan, 'pending'>, path: string): boolean => saved.pending.some((p) => path === p.prefix || path.startsWith(p.prefix));

/** Why the actions planned now differ from the saved ones (leaving out paths `skip` says), or undefined when they are the same. */
export function actionsDifference(saved: SavedPlan, now: Plan, hash: (text: string) => string, skip?: (path: string) => boolean): string | undefined {
  const actions = planActionsForBinding(now).filter((a) => !skip?.(a.path));
  if (hash(canonicalJson(actions)) === saved.fingerprint && canonicalJson(actions) === canonicalJson(saved.actions)) return undefined;
  const savedPaths = new Map(saved.actions.map((a) => [a.path, canonicalJson(a)]));
  const moved = actions.find((a) => savedPaths.get(a.path) !== canonicalJson(a)) ?? saved.actions.find((a) => !actions.some((b) => b.path === a.path));
  return `the files on the target changed since it was made${moved ? ` (first difference: ${moved.path})` : ''}`;
}
