// The plan's JSON shape (pure): versioned zod schemas for `herd plan|apply --format json`, and the builder from a Plan value.
// Documented in docs/plan-json.md; bump PLAN_FORMAT_VERSION only when a consumer has to change.
import { z } from 'zod';
import { IMPACT_ORDER, type ContentEntry, type ImpactClass } from '../artifacts/artifact.ts';
import { compressHostlist } from '../spec/hostlist.ts';
import type { Diagnostic, HerdFailure } from '../diagnostics/diagnostic.ts';
import { impactGroups, nextSteps } from './impact.ts';
import { isChange, summarizePlan, type ContentDiff, type Drift, type FileState, type Plan, type PlanAction } from './plan-types.ts';

export const PLAN_FORMAT_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const octalMode = z.string().regex(/^0[0-7]{3,4}$/).describe('Permission bits in octal, e.g. "0644".');
const impactClass = z.enum(IMPACT_ORDER as [ImpactClass, ...ImpactClass[]]);

const fileStateJson = z.strictObject({ sha256, size: z.number().int().nonnegative(), mode: octalMode, owner: z.string().optional(), group: z.string().optional() });
const contentEntryJson = z.strictObject({
  path: z.string(),
  type: z.enum(['file', 'directory', 'symlink', 'hardlink', 'char', 'block', 'fifo', 'socket']),
  mode: octalMode,
  uid: z.number().int(),
  gid: z.number().int(),
  size: z.number().int().nonnegative(),
  sha256: sha256.optional(),
});
const contentDiffJson = z.strictObject({
  added: z.array(contentEntryJson),
  removed: z.array(contentEntryJson),
  changed: z.array(z.strictObject({ path: z.string(), before: contentEntryJson, after: contentEntryJson })),
});
const driftKind = z.enum(['content', 'mode', 'missing', 'unmanaged', 'not-a-file']);
const driftJson = z.strictObject({
  kind: driftKind,
  blocking: z.boolean().describe('apply refuses unless --overwrite-drift (not-a-file: always)'),
  recordedSha256: sha256.nullable(),
  liveSha256: sha256.nullable(),
  diff: z.string().optional().describe('unified diff recorded → live; never for secrets'),
  detail: z.string().optional().describe('not-a-file: what is in the way (a symlink leaving the root, a directory, a device), with its path'),
});
const impactJson = z.strictObject({ class: impactClass, service: z.string().optional(), reason: z.string().optional() });

export const planChangeJsonSchema = z.strictObject({
  action: z.enum(['create', 'update', 'delete']),
  path: z.string().describe('relative to the target root'),
  kind: z.enum(['config', 'image', 'overlay', 'kernel', 'index', 'secret']),
  secret: z.boolean().describe('true: only hashes are shown, never content or diff'),
  reasons: z.array(z.enum(['new', 'missing', 'content', 'mode', 'owner', 'removed-from-spec', 'interrupted-leftover'])),
  before: fileStateJson.nullable().describe('the file on the target now'),
  after: fileStateJson.nullable().describe('the file the spec wants (null for delete)'),
  recordedSha256: sha256.nullable(),
  drift: driftJson.nullable(),
  impact: impactJson,
  nodes: z.array(z.string()),
  hostlist: z.string().describe('nodes, hostlist-compressed'),
  description: z.string().optional(),
  diff: z.string().optional().describe('unified diff live → planned for text configs'),
  contentDiff: contentDiffJson.optional().describe('for image/overlay updates'),
  contentEntries: z.number().int().nonnegative().optional(),
  contentDiffUnavailable: z.boolean().optional(),
});

export const planDocumentSchema = z.strictObject({
  formatVersion: z.literal(PLAN_FORMAT_VERSION),
  kind: z.literal('herd-plan'),
  herdVersion: z.string(),
  cluster: z.string().nullable(),
  root: z.string(),
  specHash: sha256,
  manifestHash: sha256.nullable().describe('sha256 of the state manifest the plan was computed against; null for a fresh target'),
  summary: z.strictObject({
    create: z.number().int(),
    update: z.number().int(),
    delete: z.number().int(),
    unchanged: z.number().int(),
    drift: z.number().int(),
    blockingDrift: z.number().int(),
    stateOnly: z.number().int(),
    changesPresent: z.boolean(),
  }),
  changes: z.array(planChangeJsonSchema),
  drift: z.array(driftJson.extend({ path: z.string() })),
  stateOnly: z.array(z.strictObject({ path: z.string(), reason: z.enum(['record', 'forget']) })),
  impact: z.array(z.strictObject({ class: impactClass, service: z.string().nullable(), nodes: z.string(), nodeCount: z.number().int(), paths: z.array(z.string()) })),
  nextSteps: z.array(z.strictObject({ class: impactClass, service: z.string().nullable(), nodes: z.string(), command: z.string().nullable(), description: z.string() })),
  interrupted: z
    .strictObject({ pid: z.number().int(), host: z.string(), command: z.string(), since: z.string(), leftoverTempFiles: z.array(z.string()) })
    .nullable()
    .describe('an earlier apply that did not finish'),
});

const diagnosticJson = z.strictObject({
  rule: z.string(),
  severity: z.enum(['error', 'warning', 'info']),
  message: z.string(),
  hint: z.string().optional(),
  file: z.string().optional(),
  line: z.number().int().optional(),
  column: z.number().int().optional(),
  endLine: z.number().int().optional(),
  endColumn: z.number().int().optional(),
  specPath: z.array(z.union([z.string(), z.number()])).optional(),
  related: z.array(z.strictObject({ message: z.string(), file: z.string().optional(), line: z.number().int().optional(), column: z.number().int().optional(), specPath: z.array(z.union([z.string(), z.number()])).optional() })).optional(),
});
const failureJson = z.strictObject({ rule: z.string(), message: z.string(), hint: z.string().optional() });

const envelope = <C extends string, R extends z.ZodType>(command: C, result: R) =>
  z.strictObject({
    formatVersion: z.literal(PLAN_FORMAT_VERSION),
    command: z.literal(command),
    ok: z.boolean(),
    exitCode: z.number().int(),
    diagnostics: z.array(diagnosticJson),
    failure: failureJson.nullable(),
    result: result.nullable(),
  });

/** `herd plan --format json` writes exactly one of these to stdout. */
export const planOutputSchema = envelope('plan', planDocumentSchema);

export const applyResultSchema = z.strictObject({
  plan: planDocumentSchema,
  applied: z.boolean().describe('false when there was nothing to do or apply was refused'),
  counts: z.strictObject({ created: z.number().int(), updated: z.number().int(), deleted: z.number().int(), recorded: z.number().int() }),
  manifestHash: sha256.nullable().describe('the state manifest after apply'),
});
/** `herd apply --format json` writes exactly one of these to stdout. */
export const applyOutputSchema = envelope('apply', applyResultSchema);

export type PlanDocument = z.infer<typeof planDocumentSchema>;
export type PlanChangeJson = z.infer<typeof planChangeJsonSchema>;
export type PlanOutput = z.infer<typeof planOutputSchema>;
export type ApplyResultJson = z.infer<typeof applyResultSchema>;
export type ApplyOutput = z.infer<typeof applyOutputSchema>;

/** Facts about a plan that are not part of the Plan value: where and against what it was computed. */
export interface PlanMeta {
  readonly herdVersion: string;
  readonly cluster: string | null;
  /** The target root as shown to the user (relative to cwd where possible). */
  readonly root: string;
  readonly specHash: string;
  readonly manifestHash: string | null;
}

export const octal = (mode: number): string => '0' + (mode & 0o7777).toString(8).padStart(3, '0');

function fileStateJsonOf(f: FileState | null) {
  return f ? { sha256: f.sha256, size: f.size, mode: octal(f.mode), ...(f.owner !== undefined ? { owner: f.owner } : {}), ...(f.group !== undefined ? { group: f.group } : {}) } : null;
}

function entryJson(e: ContentEntry) {
  return { path: e.path, type: e.type, mode: octal(e.mode), uid: e.uid, gid: e.gid, size: e.size, ...(e.sha256 ? { sha256: e.sha256 } : {}) };
}

function contentDiffJsonOf(d: ContentDiff) {
  return { added: d.added.map(entryJson), removed: d.removed.map(entryJson), changed: d.changed.map((c) => ({ path: c.path, before: entryJson(c.before), after: entryJson(c.after) })) };
}

function driftJsonOf(d: Drift) {
  return { kind: d.kind, blocking: d.blocking, recordedSha256: d.recordedSha256, liveSha256: d.liveSha256, ...(d.diff ? { diff: d.diff } : {}), ...(d.detail ? { detail: d.detail } : {}) };
}

function changeJson(a: PlanAction): PlanChangeJson {
  return {
    action: a.action as 'create' | 'update' | 'delete',
    path: a.path,
    kind: a.kind,
    secret: a.secret,
    reasons: a.reasons as PlanChangeJson['reasons'],
    before: fileStateJsonOf(a.before),
    after: fileStateJsonOf(a.after),
    recordedSha256: a.recordedSha256,
    drift: a.drift ? driftJsonOf(a.drift) : null,
    impact: { class: a.impact.class, ...(a.impact.service ? { service: a.impact.service } : {}), ...(a.impact.reason ? { reason: a.impact.reason } : {}) },
    nodes: [...a.nodes],
    hostlist: compressHostlist(a.nodes),
    ...(a.description ? { description: a.description } : {}),
    // Secrets never carry a diff; planChanges does not make one, and this guard keeps it so if that ever changes.
    ...(a.diff && !a.secret ? { diff: a.diff } : {}),
    ...(a.contentDiff && !a.secret ? { contentDiff: contentDiffJsonOf(a.contentDiff) } : {}),
    ...(a.contentEntries !== undefined ? { contentEntries: a.contentEntries } : {}),
    ...(a.contentDiffUnavailable ? { contentDiffUnavailable: true } : {}),
  };
}

/** The JSON model of a plan; every renderer's data, and what `--format json` prints. */
export function toPlanDocument(plan: Plan, meta: PlanMeta): PlanDocument {
  const groups = impactGroups(plan);
  return {
    formatVersion: PLAN_FORMAT_VERSION,
    kind: 'herd-plan',
    herdVersion: meta.herdVersion,
    cluster: meta.cluster,
    root: meta.root,
    specHash: meta.specHash,
    manifestHash: meta.manifestHash,
    summary: summarizePlan(plan),
    changes: plan.actions.filter(isChange).map(changeJson),
    drift: plan.actions.filter((a) => a.drift).map((a) => ({ path: a.path, ...driftJsonOf(a.secret ? { ...a.drift!, diff: undefined } : a.drift!) })),
    stateOnly: plan.actions.filter((a) => a.action === 'no-op' && a.reasons.length > 0).map((a) => ({ path: a.path, reason: a.reasons[0] as 'record' | 'forget' })),
    impact: groups.map((g) => ({ class: g.class, service: g.service, nodes: g.hostlist, nodeCount: g.nodes.length, paths: [...g.paths] })),
    nextSteps: nextSteps(groups).map((s) => ({ ...s })),
    interrupted: plan.interrupted ? { ...plan.interrupted, leftoverTempFiles: [...plan.interrupted.leftoverTempFiles] } : null,
  };
}

export interface EnvelopeInput<R> {
  readonly exitCode: number;
  readonly diagnostics: readonly Diagnostic[];
  readonly failure?: HerdFailure;
  readonly result: R | null;
}

/** The one JSON document a command prints: `{formatVersion, command, ok, exitCode, diagnostics, failure, result}`. */
export function jsonEnvelope<C extends 'plan' | 'apply', R>(command: C, input: EnvelopeInput<R>) {
  return {
    formatVersion: PLAN_FORMAT_VERSION,
    command,
    ok: input.exitCode === 0 || (command === 'plan' && input.exitCode === 2),
    exitCode: input.exitCode,
    diagnostics: input.diagnostics.map((d) => ({ ...d, ...(d.specPath ? { specPath: [...d.specPath] } : {}), ...(d.related ? { related: d.related.map((r) => ({ ...r, ...(r.specPath ? { specPath: [...r.specPath] } : {}) })) } : {}) })),
    failure: input.failure ? { rule: input.failure.rule, message: input.failure.message, ...(input.failure.hint ? { hint: input.failure.hint } : {}) } : null,
    result: input.result,
  };
}
