// Stored-state formats (pure): the state manifest herd keeps in the target and the pending-apply journal, as versioned zod schemas.
// They live in the core (not src/state) because planChanges reads them; src/state only moves their bytes.
import { z } from 'zod';
import { IMPACT_ORDER, type ImpactClass } from '../artifacts/artifact.ts';
import { unsafeArtifactPath } from '../artifacts/artifact-path.ts';
import { herdFailure, type HerdFailure } from '../diagnostics/diagnostic.ts';
import { canonicalJson } from './canonical-json.ts';

export const STATE_FORMAT_VERSION = 1 as const;

// Shared by the schemas and their hand-written twin validManifest below.
const SHA256 = /^[0-9a-f]{64}$/;
const DECIMAL = /^\d+$/;
const ENTRY_KINDS = ['config', 'image', 'overlay', 'kernel', 'tree', 'index', 'secret'] as const;
const sha256 = z.string().regex(SHA256);
const decimal = z.string().regex(DECIMAL);

export const impactSchema = z.strictObject({
  class: z.enum(IMPACT_ORDER as [ImpactClass, ...ImpactClass[]]),
  service: z.string().optional(),
  reason: z.string().optional(),
});

/** What lstat said right after herd wrote the file: the fast path trusts the recorded hash while these still match. */
export const recordedStatSchema = z.strictObject({
  size: z.number().int().nonnegative(),
  mtimeNs: decimal,
  ctimeNs: decimal,
  ino: decimal,
});

/** A path read from state: never trusted, it must be one herd could have written (relative, normalised, inside the root, outside herd's state). */
const targetPath = z.string().superRefine((p, ctx) => {
  const why = unsafeArtifactPath(p);
  if (why) ctx.addIssue({ code: 'custom', message: `path ${JSON.stringify(p)} ${why}` });
});

export const manifestEntrySchema = z.strictObject({
  path: targetPath,
  kind: z.enum(ENTRY_KINDS),
  sha256,
  size: z.number().int().nonnegative(),
  mode: z.number().int().min(0).max(0o7777),
  /** Desired owner and group by name, recorded even when herd could not chown. */
  owner: z.string(),
  group: z.string(),
  /** Numeric ids herd applied, or null when it did not chown (not root, or the name is unknown on this machine). */
  uid: z.number().int().nullable(),
  gid: z.number().int().nullable(),
  secret: z.boolean().optional(),
  nodes: z.array(z.string()),
  impact: impactSchema,
  /** Index into `generations`: which apply (spec, herd version) produced these bytes. */
  generation: z.number().int().nonnegative(),
  stat: recordedStatSchema,
});

export const generationSchema = z.strictObject({
  generation: z.number().int().nonnegative(),
  specHash: sha256,
  /** Git commit of the spec's repository when known. */
  specCommit: z.string().nullable(),
  herdVersion: z.string(),
  appliedAt: z.string(),
});

export const stateManifestSchema = z.strictObject({
  formatVersion: z.literal(STATE_FORMAT_VERSION),
  kind: z.literal('herd-state'),
  cluster: z.string(),
  generations: z.array(generationSchema),
  entries: z.array(manifestEntrySchema),
});

export type ManifestEntry = z.infer<typeof manifestEntrySchema>;
export type Generation = z.infer<typeof generationSchema>;
export type StateManifest = z.infer<typeof stateManifestSchema>;
export type RecordedStat = z.infer<typeof recordedStatSchema>;

/**
 * Written before the first change of an apply and removed after the manifest: the hashes an apply may have put at each path.
 * After a crash it tells the next plan which unrecorded bytes are herd's own (so they are not mistaken for drift) and which temp files to clean.
 */
export const pendingJournalSchema = z.strictObject({
  formatVersion: z.literal(STATE_FORMAT_VERSION),
  kind: z.literal('herd-pending'),
  pid: z.number().int(),
  host: z.string(),
  command: z.string(),
  since: z.string(),
  paths: z.record(targetPath, z.array(sha256)),
});
export type PendingJournal = z.infer<typeof pendingJournalSchema>;

/** One upgrade per old formatVersion, each to the next version; empty while only version 1 exists. */
const UPGRADES: Record<number, (old: Record<string, unknown>) => Record<string, unknown>> = {};

function parseVersioned<T>(
  text: string,
  what: string,
  schema: z.ZodType<T>,
  file: string,
  fast?: (doc: unknown) => T | undefined,
): { ok: true; value: T } | { ok: false; failure: HerdFailure } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, failure: herdFailure('state/unreadable', `${file} is not valid JSON: ${(e as Error).message}`, `restore it from a backup, or move it away to start from an empty ${what}`) };
  }
  let doc = json as Record<string, unknown>;
  let version = typeof doc?.formatVersion === 'number' ? doc.formatVersion : NaN;
  if (version > STATE_FORMAT_VERSION) {
    return {
      ok: false,
      failure: herdFailure('state/unsupported-version', `${file} has formatVersion ${version}; this herd understands up to ${STATE_FORMAT_VERSION}`, 'use the herd version that last applied to this target (or newer)'),
    };
  }
  while (UPGRADES[version]) {
    doc = UPGRADES[version]!(doc);
    version += 1;
  }
  const quick = fast?.(doc);
  if (quick !== undefined) return { ok: true, value: quick };
  const parsed = schema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'unknown shape';
    return { ok: false, failure: herdFailure('state/unreadable', `${file} is not a valid herd ${what} (${where})`, `restore it from a backup, or move it away to start from an empty ${what}`) };
  }
  return { ok: true, value: parsed.data };
}

/** Parse and validate a state manifest's text; never throws. */
export function parseStateManifest(text: string, file = 'state.json') {
  return parseVersioned<StateManifest>(text, 'state manifest', stateManifestSchema, file, validManifest);
}

// The manifest of a large cluster holds one entry per node and file: zod took about a quarter of a second for 10,000
// entries, most of a no-change plan's time beyond hashing (bench/plan.ts). validManifest checks exactly what
// stateManifestSchema checks and builds the same value (keys in the schema's order, as zod's output has them); anything it
// does not accept goes to zod, which decides and words the error. A differential test holds the two together.
const KINDS = new Set<string>(ENTRY_KINDS);
const IMPACTS = new Set<unknown>(IMPACT_ORDER);
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isCount = (v: unknown): v is number => isInt(v) && v >= 0;
const isStr = (v: unknown): v is string => typeof v === 'string';
/** Own keys all among `allowed` (strictObject), `required` all present. */
function keysOk(o: Obj, allowed: ReadonlySet<string>, required: number): boolean {
  let n = 0;
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
    if (!allowed.has(k)) return false;
    n++;
  }
  return n >= required;
}
const ENTRY_KEYS = new Set(['path', 'kind', 'sha256', 'size', 'mode', 'owner', 'group', 'uid', 'gid', 'secret', 'nodes', 'impact', 'generation', 'stat']);
const IMPACT_KEYS = new Set(['class', 'service', 'reason']);
const STAT_KEYS = new Set(['size', 'mtimeNs', 'ctimeNs', 'ino']);
const GENERATION_KEYS = new Set(['generation', 'specHash', 'specCommit', 'herdVersion', 'appliedAt']);
const MANIFEST_KEYS = new Set(['formatVersion', 'kind', 'cluster', 'generations', 'entries']);

function validEntry(e: unknown): ManifestEntry | undefined {
  if (!isObj(e) || !keysOk(e, ENTRY_KEYS, e.secret === undefined ? 13 : 14)) return undefined;
  const { impact, stat, nodes } = e;
  if (!isStr(e.path) || unsafeArtifactPath(e.path) || !KINDS.has(e.kind as string) || !isStr(e.sha256) || !SHA256.test(e.sha256)) return undefined;
  if (!isCount(e.size) || !isInt(e.mode) || e.mode < 0 || e.mode > 0o7777 || !isStr(e.owner) || !isStr(e.group)) return undefined;
  if (!(e.uid === null || isInt(e.uid)) || !(e.gid === null || isInt(e.gid)) || !(e.secret === undefined || typeof e.secret === 'boolean')) return undefined;
  if (!Array.isArray(nodes) || !nodes.every(isStr) || !isCount(e.generation)) return undefined;
  if (!isObj(impact) || !keysOk(impact, IMPACT_KEYS, 1) || !IMPACTS.has(impact.class)) return undefined;
  if (!(impact.service === undefined || isStr(impact.service)) || !(impact.reason === undefined || isStr(impact.reason))) return undefined;
  if (!isObj(stat) || !keysOk(stat, STAT_KEYS, 4) || !isCount(stat.size)) return undefined;
  if (!isStr(stat.mtimeNs) || !DECIMAL.test(stat.mtimeNs) || !isStr(stat.ctimeNs) || !DECIMAL.test(stat.ctimeNs) || !isStr(stat.ino) || !DECIMAL.test(stat.ino)) return undefined;
  return {
    path: e.path,
    kind: e.kind as ManifestEntry['kind'],
    sha256: e.sha256,
    size: e.size,
    mode: e.mode,
    owner: e.owner,
    group: e.group,
    uid: e.uid as number | null,
    gid: e.gid as number | null,
    ...(e.secret !== undefined ? { secret: e.secret as boolean } : {}),
    nodes: [...(nodes as string[])],
    impact: { class: impact.class as ImpactClass, ...(impact.service !== undefined ? { service: impact.service } : {}), ...(impact.reason !== undefined ? { reason: impact.reason } : {}) },
    generation: e.generation,
    stat: { size: stat.size, mtimeNs: stat.mtimeNs, ctimeNs: stat.ctimeNs, ino: stat.ino },
  };
}

function validGeneration(g: unknown): Generation | undefined {
  if (!isObj(g) || !keysOk(g, GENERATION_KEYS, 5) || !isCount(g.generation) || !isStr(g.specHash) || !SHA256.test(g.specHash)) return undefined;
  if (!(g.specCommit === null || isStr(g.specCommit)) || !isStr(g.herdVersion) || !isStr(g.appliedAt)) return undefined;
  return { generation: g.generation, specHash: g.specHash, specCommit: g.specCommit as string | null, herdVersion: g.herdVersion, appliedAt: g.appliedAt };
}

/** The manifest as stateManifestSchema would parse it, or undefined to let zod decide. */
export function validManifest(doc: unknown): StateManifest | undefined {
  if (!isObj(doc) || !keysOk(doc, MANIFEST_KEYS, 5) || doc.formatVersion !== STATE_FORMAT_VERSION || doc.kind !== 'herd-state' || !isStr(doc.cluster)) return undefined;
  if (!Array.isArray(doc.generations) || !Array.isArray(doc.entries)) return undefined;
  const generations: Generation[] = [];
  for (const g of doc.generations) {
    const v = validGeneration(g);
    if (!v) return undefined;
    generations.push(v);
  }
  const entries: ManifestEntry[] = [];
  for (const e of doc.entries) {
    const v = validEntry(e);
    if (!v) return undefined;
    entries.push(v);
  }
  return { formatVersion: STATE_FORMAT_VERSION, kind: 'herd-state', cluster: doc.cluster, generations, entries };
}

export function parsePendingJournal(text: string, file = 'pending.json') {
  return parseVersioned<PendingJournal>(text, 'pending-apply journal', pendingJournalSchema, file);
}

/** The manifest's stored bytes: canonical JSON, entries sorted by path, so one state has one hash. */
export function serializeStateManifest(m: StateManifest): string {
  const entries = [...m.entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return canonicalJson({ ...m, entries }) + '\n';
}

export function serializePendingJournal(p: PendingJournal): string {
  return canonicalJson(p) + '\n';
}

/**
 * Which nodes must still reboot to run what herd applied (`var/lib/herd/reboots.json`): an image or __SYSTEM__ overlay takes effect only at boot.
 * A file of its own, not a manifest field: `herd rollout` updates it as nodes come back, and must not change the manifest hash that saved plans
 * and published state snapshots bind to (a rollout changes no file herd owns). An absent file means no node is awaiting a reboot, so state
 * written by an older herd loads unchanged.
 */
export const rebootRecordSchema = z.strictObject({
  formatVersion: z.literal(STATE_FORMAT_VERSION),
  kind: z.literal('herd-reboots'),
  /** Node name → the generation since which it needs a reboot and, once herd rollout asked Slurm, when it asked. */
  nodes: z.record(
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
    z.strictObject({ since: z.number().int().nonnegative(), requestedAt: z.string().nullable() }),
  ),
});
export type RebootRecord = z.infer<typeof rebootRecordSchema>;
/** One node awaiting a reboot, as plans show it. */
export interface AwaitingReboot {
  readonly node: string;
  readonly since: number;
  readonly requestedAt: string | null;
}

export function parseRebootRecord(text: string, file = 'reboots.json') {
  return parseVersioned<RebootRecord>(text, 'reboot record', rebootRecordSchema, file);
}

/** Canonical bytes (nodes sorted by canonicalJson), so one record has one form. */
export function serializeRebootRecord(r: RebootRecord): string {
  return canonicalJson(r) + '\n';
}
