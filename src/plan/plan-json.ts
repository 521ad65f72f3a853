// The plan's JSON shape (pure): versioned zod schemas for `herd plan|apply --format json`, and the builder from a Plan value.
// Documented in docs/plan-json.md; bump PLAN_FORMAT_VERSION only when a consumer has to change.
import { z } from 'zod';
import { IMPACT_ORDER, type ContentEntry, type ImpactClass } from '../artifacts/artifact.ts';
import { compressHostlist } from '../spec/hostlist.ts';
import type { Diagnostic, HerdFailure } from '../diagnostics/diagnostic.ts';
import { impactGroups } from './impact.ts';
import { nextSteps } from './runbook.ts';
import { overlayGroups, type OverlayGroup } from './overlay-groups.ts';
import { pendingGroups } from './pending-groups.ts';
import type { AwaitingReboot } from './state-manifest.ts';
import { isChange, summarizePlan, type ArchiveFileChange, type ContentDiff, type Drift, type FileState, type Plan, type PlanAction } from './plan-types.ts';

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
  hidden: z.enum(['secret', 'head-file']).optional().describe('overlays: content never shown, only hashes (a secret, or a file read on the head outside the spec folder)'),
  origin: z.string().optional().describe('overlays: the overlay the entry came from'),
});
const contentDiffJson = z.strictObject({
  added: z.array(contentEntryJson),
  removed: z.array(contentEntryJson),
  changed: z.array(z.strictObject({ path: z.string(), before: contentEntryJson, after: contentEntryJson })),
});
const driftKind = z.enum(['content', 'mode', 'missing', 'unmanaged', 'not-a-file', 'rebuilt']);
const driftJson = z.strictObject({
  kind: driftKind,
  blocking: z.boolean().describe('apply refuses unless --overwrite-drift (not-a-file: always)'),
  recordedSha256: sha256.nullable(),
  liveSha256: sha256.nullable(),
  diff: z.string().optional().describe('unified diff recorded → live; never for secrets'),
  detail: z.string().optional().describe('not-a-file: what is in the way (a symlink leaving the root, a directory, a device), with its path'),
});
const impactJson = z.strictObject({ class: impactClass, service: z.string().optional(), reason: z.string().optional() });
const stageJson = z.enum(['system', 'runtime']);
const changeReason = z.enum(['new', 'missing', 'content', 'mode', 'owner', 'removed-from-spec', 'interrupted-leftover']);
const overlayInfoJson = z.strictObject({
  node: z.string(),
  stage: stageJson,
  overlays: z.array(z.string()).describe('the overlays composed into the archive, in order'),
  gzipOf: z.string().optional().describe('set on a .img.gz: the path of the .img it compresses (text and markdown fold it into that entry)'),
});
const archiveFileChangeJson = z.strictObject({
  path: z.string().describe('inside the archive, relative to the node root'),
  change: z.enum(['added', 'removed', 'changed']),
  before: contentEntryJson.nullable(),
  after: contentEntryJson.nullable(),
  hidden: z.enum(['secret', 'head-file']).optional().describe('hashes only: never a diff'),
  diff: z.string().optional().describe('unified diff previous → planned of the file text'),
  noDiff: z.enum(['hidden', 'binary', 'too-large', 'not-read']).optional().describe('why a content change has no diff'),
});
const overlayGroupJson = z.strictObject({
  stage: stageJson,
  action: z.enum(['create', 'update', 'delete']),
  reasons: z.array(changeReason),
  impact: impactJson,
  drift: driftKind.nullable(),
  nodes: z.string().describe('hostlist of the nodes whose archive changes exactly this way'),
  nodeCount: z.number().int().positive(),
  paths: z.array(z.string()).describe('the archives of the entry, one per node (the .img, or a .img.gz changing on its own)'),
  twinPaths: z.array(z.string()).describe('the .img.gz twins folded into the entry'),
  gzip: z.boolean().describe('true when `paths` are .img.gz files changing without their .img'),
  twinChange: z.string().optional().describe('how the twins change when that differs from their .img, e.g. "create (missing)"'),
  overlays: z.array(z.string()).optional().describe('the overlays composed into the archives, when the same for every node'),
  files: z.array(archiveFileChangeJson).optional().describe('file-level changes inside, identical for every node of the entry; absent when unknown'),
  filesSource: z.enum(['archive', 'index']).optional().describe('archive: both archives were read for text diffs; index: none was (nothing to diff as text, unreadable, or past the reading cap)'),
});
const pendingJson = z.strictObject({ prefix: z.string(), reason: z.string() });
const pendingGroupJson = z.strictObject({
  reason: z.string(),
  paths: z.array(z.string()).describe('prefixes as shown: per-node overlay folders merged into one hostlist path'),
  nodes: z.string().describe('hostlist of the nodes whose overlays are pending ("" when none)'),
  nodeCount: z.number().int().nonnegative(),
  prefixes: z.number().int().positive().describe('how many entries of `pending` this stands for'),
});

export const planChangeJsonSchema = z.strictObject({
  action: z.enum(['create', 'update', 'delete']),
  path: z.string().describe('relative to the target root'),
  kind: z.enum(['config', 'image', 'overlay', 'kernel', 'tree', 'index', 'secret']),
  secret: z.boolean().describe('true: only hashes are shown, never content or diff'),
  reasons: z.array(changeReason),
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
  overlay: overlayInfoJson.optional().describe('for overlay archives: whose and which stage'),
  overlayGroup: z.number().int().nonnegative().optional().describe('index into overlayGroups of the entry this archive belongs to'),
});

export const planDocumentSchema = z.strictObject({
  formatVersion: z.literal(PLAN_FORMAT_VERSION),
  kind: z.literal('herd-plan'),
  herdVersion: z.string(),
  cluster: z.string().nullable(),
  root: z.string(),
  specHash: sha256,
  manifestHash: sha256.nullable().describe('sha256 of the state manifest the plan was computed against; null for a fresh target'),
  snapshotId: sha256.optional().describe('set when planned against a published state snapshot (herd plan --state): its id'),
  summary: z.strictObject({
    create: z.number().int(),
    update: z.number().int(),
    delete: z.number().int(),
    unchanged: z.number().int(),
    drift: z.number().int(),
    blockingDrift: z.number().int(),
    stateOnly: z.number().int(),
    pending: z.number().int().nonnegative().describe('entries of `pending`'),
    changesPresent: z.boolean().describe('what --detailed-exitcode reports as 2: changes, drift or pending artifacts'),
  }),
  changes: z.array(planChangeJsonSchema),
  drift: z.array(driftJson.extend({ path: z.string() })),
  stateOnly: z.array(z.strictObject({ path: z.string(), reason: z.enum(['record', 'forget']) })),
  pending: z.array(pendingJson).describe('path prefixes not built this run (e.g. an image whose source is not cached): the target keeps what was last applied there'),
  pendingGroups: z.array(pendingGroupJson).describe('`pending` for reading: one entry per reason'),
  overlayGroups: z.array(overlayGroupJson).describe('overlay archive changes, nodes with identical file-level changes in one entry'),
  impact: z.array(z.strictObject({ class: impactClass, service: z.string().nullable(), nodes: z.string(), nodeCount: z.number().int(), paths: z.array(z.string()) })),
  nextSteps: z.array(z.strictObject({ class: impactClass, service: z.string().nullable(), nodes: z.string(), command: z.string().nullable(), description: z.string() })),
  interrupted: z
    .strictObject({ pid: z.number().int(), host: z.string(), command: z.string(), since: z.string(), leftoverTempFiles: z.array(z.string()) })
    .nullable()
    .describe('an earlier apply that did not finish'),
  awaitingReboot: z
    .array(z.strictObject({ node: z.string(), since: z.number().int(), requestedAt: z.string().nullable() }))
    .optional()
    .describe('nodes an apply changed the image or system overlay of, not yet seen back from a reboot (herd rollout); absent when none'),
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
  /** Set when planned against a published state snapshot (`herd plan --state`). */
  readonly snapshotId?: string;
  /** Nodes awaiting a reboot from the target's reboot record (herd rollout); absent or empty when none. */
  readonly awaitingReboot?: readonly AwaitingReboot[];
}

export const octal = (mode: number): string => '0' + (mode & 0o7777).toString(8).padStart(3, '0');

function fileStateJsonOf(f: FileState | null) {
  return f ? { sha256: f.sha256, size: f.size, mode: octal(f.mode), ...(f.owner !== undefined ? { owner: f.owner } : {}), ...(f.group !== undefined ? { group: f.group } : {}) } : null;
}

function entryJson(e: ContentEntry) {
  return {
    path: e.path,
    type: e.type,
    mode: octal(e.mode),
    uid: e.uid,
    gid: e.gid,
    size: e.size,
    ...(e.sha256 ? { sha256: e.sha256 } : {}),
    ...(e.hidden ? { hidden: e.hidden } : {}),
    ...(e.origin !== undefined ? { origin: e.origin } : {}),
  };
}

function fileChangeJson(c: ArchiveFileChange) {
  return {
    path: c.path,
    change: c.before === null ? ('added' as const) : c.after === null ? ('removed' as const) : ('changed' as const),
    before: c.before ? entryJson(c.before) : null,
    after: c.after ? entryJson(c.after) : null,
    ...(c.hidden ? { hidden: c.hidden } : {}),
    // Hidden entries never carry a diff; the reader never keeps their bytes, and this guard keeps it so if that ever changes.
    ...(c.diff !== undefined && !c.hidden ? { diff: c.diff } : {}),
    ...(c.noDiff ? { noDiff: c.noDiff } : {}),
  };
}

function overlayGroupJsonOf(g: OverlayGroup) {
  return {
    stage: g.stage,
    action: g.action,
    reasons: [...g.reasons] as PlanChangeJson['reasons'],
    impact: impactJsonOf(g.impact),
    drift: g.drift,
    nodes: g.hostlist,
    nodeCount: g.nodes.length,
    paths: g.archives.map((a) => a.path),
    twinPaths: g.twins.map((a) => a.path),
    gzip: g.gzip,
    ...(g.twinChange ? { twinChange: g.twinChange } : {}),
    ...(g.overlays ? { overlays: [...g.overlays] } : {}),
    ...(g.changes ? { files: g.changes.files.map(fileChangeJson), filesSource: g.changes.source } : {}),
  };
}

function impactJsonOf(i: PlanAction['impact']) {
  return { class: i.class, ...(i.service ? { service: i.service } : {}), ...(i.reason ? { reason: i.reason } : {}) };
}

function contentDiffJsonOf(d: ContentDiff) {
  return { added: d.added.map(entryJson), removed: d.removed.map(entryJson), changed: d.changed.map((c) => ({ path: c.path, before: entryJson(c.before), after: entryJson(c.after) })) };
}

function driftJsonOf(d: Drift) {
  return { kind: d.kind, blocking: d.blocking, recordedSha256: d.recordedSha256, liveSha256: d.liveSha256, ...(d.diff ? { diff: d.diff } : {}), ...(d.detail ? { detail: d.detail } : {}) };
}

function changeJson(a: PlanAction, overlayGroup: number | undefined): PlanChangeJson {
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
    impact: impactJsonOf(a.impact),
    nodes: [...a.nodes],
    hostlist: compressHostlist(a.nodes),
    ...(a.description ? { description: a.description } : {}),
    // Secrets never carry a diff; planChanges does not make one, and this guard keeps it so if that ever changes.
    ...(a.diff && !a.secret ? { diff: a.diff } : {}),
    ...(a.contentDiff && !a.secret ? { contentDiff: contentDiffJsonOf(a.contentDiff) } : {}),
    ...(a.contentEntries !== undefined ? { contentEntries: a.contentEntries } : {}),
    ...(a.contentDiffUnavailable ? { contentDiffUnavailable: true } : {}),
    ...(a.overlay ? { overlay: { node: a.overlay.node, stage: a.overlay.stage, overlays: [...a.overlay.overlays], ...(a.overlay.gzipOf !== undefined ? { gzipOf: a.overlay.gzipOf } : {}) } } : {}),
    ...(overlayGroup !== undefined ? { overlayGroup } : {}),
  };
}

/** The JSON model of a plan; every renderer's data, and what `--format json` prints. */
export function toPlanDocument(plan: Plan, meta: PlanMeta): PlanDocument {
  const groups = impactGroups(plan);
  const changes = plan.actions.filter(isChange);
  const overlays = overlayGroups(changes).groups;
  const groupOf = new Map<string, number>();
  overlays.forEach((g, i) => {
    for (const a of g.archives) groupOf.set(a.path, i);
    for (const a of g.twins) groupOf.set(a.path, i);
  });
  const s = summarizePlan(plan);
  return {
    formatVersion: PLAN_FORMAT_VERSION,
    kind: 'herd-plan',
    herdVersion: meta.herdVersion,
    cluster: meta.cluster,
    root: meta.root,
    specHash: meta.specHash,
    manifestHash: meta.manifestHash,
    ...(meta.snapshotId ? { snapshotId: meta.snapshotId } : {}),
    summary: {
      create: s.create,
      update: s.update,
      delete: s.delete,
      unchanged: s.unchanged,
      drift: s.drift,
      blockingDrift: s.blockingDrift,
      stateOnly: s.stateOnly,
      pending: s.pending,
      changesPresent: s.changesPresent,
    },
    changes: changes.map((a) => changeJson(a, groupOf.get(a.path))),
    drift: plan.actions.filter((a) => a.drift).map((a) => ({ path: a.path, ...driftJsonOf(a.secret ? { ...a.drift!, diff: undefined } : a.drift!) })),
    stateOnly: plan.actions.filter((a) => a.action === 'no-op' && a.reasons.length > 0).map((a) => ({ path: a.path, reason: a.reasons[0] as 'record' | 'forget' })),
    pending: (plan.pending ?? []).map((p) => ({ prefix: p.prefix, reason: p.reason })),
    pendingGroups: pendingGroups(plan.pending ?? []).map((g) => ({ ...g, paths: [...g.paths] })),
    overlayGroups: overlays.map(overlayGroupJsonOf),
    impact: groups.map((g) => ({ class: g.class, service: g.service, nodes: g.hostlist, nodeCount: g.nodes.length, paths: [...g.paths] })),
    nextSteps: nextSteps(plan).map((s) => ({ ...s })),
    interrupted: plan.interrupted ? { ...plan.interrupted, leftoverTempFiles: [...plan.interrupted.leftoverTempFiles] } : null,
    ...(meta.awaitingReboot && meta.awaitingReboot.length > 0 ? { awaitingReboot: meta.awaitingReboot.map((a) => ({ ...a })) } : {}),
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
