// `herd plan [spec]` (I/O shell): compile the spec, compare it with the target's state and live files, and show or save the plan.
import { isAbsolute, relative, resolve } from 'node:path';
import { sha256Hex } from '../../artifacts/artifact.ts';
import { hasErrors, herdFailure, isHerdFailure, type Diagnostic, type HerdFailure } from '../../diagnostics/diagnostic.ts';
import { renderDiagnostics, renderFailure, summarize } from '../../diagnostics/render-text.ts';
import { compileSpecAt, type CompileOptions, type CompileResult } from '../../pipeline.ts';
import type { PlanMeta } from '../../plan/plan-json.ts';
import type { RebootRecord } from '../../plan/state-manifest.ts';
import { summarizePlan, type Plan } from '../../plan/plan-types.ts';
import { renderApplyJson, renderPlanJson } from '../../plan/render-json.ts';
import { renderPlanMarkdown } from '../../plan/render-markdown.ts';
import { renderPlanText } from '../../plan/render-text.ts';
import { planChanges } from '../../plan/plan-changes.ts';
import { buildSavedPlan, serializeSavedPlan } from '../../plan/saved-plan.ts';
import { liveStateOf, withLiveTexts, withoutLiveDiffs, type StateSnapshot } from '../../plan/state-snapshot.ts';
import { awaitingReboot } from '../../rollout/reboot-record.ts';
import { recordedTexts } from '../../state/recorded-text.ts';
import { readSnapshotFile, SAVED_PLAN_FILE, snapshotOfSession, writeOutputFile } from '../../state/snapshot-io.ts';
import { describeHolder, type LockInfo } from '../../state/lock.ts';
import { defaultRootFor } from '../../state/paths.ts';
import { openTarget, type TargetSession } from '../../state/target.ts';
import type { Command, ParsedArgs } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { sourceDateEpochOf, type CommandContext } from '../io.ts';
import { checkRootEarly, checkSavedPlanPathEarly } from '../check-paths-early.ts';

export interface StateCommandDeps {
  /** The compiler; tests inject synthetic artifact sets here. */
  readonly compile: (path: string, cwd: string, options: CompileOptions) => Promise<CompileResult>;
  /** Defaults to the CLI's VERSION. */
  readonly herdVersion?: string;
  readonly now?: () => Date;
}

export const defaultDeps: StateCommandDeps = { compile: compileSpecAt };

export async function herdVersionOf(deps: StateCommandDeps): Promise<string> {
  return deps.herdVersion ?? (await import('../main.ts')).VERSION;
}

/** A path as the user should see it: relative to cwd when it is below it. */
export function displayPath(abs: string, cwd: string): string {
  const rel = relative(cwd, abs);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? abs : rel;
}

export function lockTimeoutMs(values: ParsedArgs['values']): number {
  const raw = values['lock-timeout'];
  if (raw === undefined) return 0;
  const seconds = Number(raw);
  if (typeof raw !== 'string' || !Number.isFinite(seconds) || seconds < 0) throw herdFailure('cli/usage', `--lock-timeout must be a number of seconds, not "${String(raw)}"`, 'e.g. --lock-timeout 60');
  return seconds * 1000;
}

export type Compiled = { ok: true; result: CompileResult & { artifacts: NonNullable<CompileResult['artifacts']> } } | { ok: false; exitCode: number; diagnostics: readonly Diagnostic[] };

/** Compile the spec; diagnostics go to stderr in text mode. An invalid spec is exit 1, an unreadable one a thrown HerdFailure. */
export async function compileDesired(specArg: string, ctx: CommandContext, deps: StateCommandDeps, extra: Pick<CompileOptions, 'images'> = {}): Promise<Compiled> {
  const options: CompileOptions = { ...sourceDateEpochOf(ctx.io.env), ...extra };
  const result = await deps.compile(specArg, ctx.io.cwd, options);
  const ds = result.diagnostics;
  if (ctx.format !== 'json' && ds.length > 0) ctx.io.stderr.write(renderDiagnostics(ds, result.sources, ctx.color) + `\n${result.displayPath}: ${summarize(ds)}\n`);
  if (hasErrors(ds) || !result.artifacts) return { ok: false, exitCode: EXIT.findings, diagnostics: ds };
  return { ok: true, result: { ...result, artifacts: result.artifacts } };
}

/** The folder a root must stay inside: the spec folder for the default root herd derives from it (its content may come from a pull request). */
export function rootConfinement(root: string, result: CompileResult): { confineTo?: string } {
  return root === defaultRootFor(result.specDir, result.clusterName ?? 'cluster') ? { confineTo: result.specDir } : {};
}

/** `--root`, else the local folder beside the spec: `.herd/<cluster>/root`. */
export function targetRootFor(values: ParsedArgs['values'], result: CompileResult, cwd: string): string {
  const root = values.root;
  if (typeof root === 'string' && root !== '') return resolve(cwd, root);
  return defaultRootFor(result.specDir, result.clusterName ?? 'cluster');
}

export function tellLockEvents(ctx: CommandContext, session: Pick<TargetSession, 'lock'>): void {
  const took = session.lock?.tookOver;
  if (took && ctx.format !== 'json') ctx.io.stderr.write(`herd: took over a stale lock left by ${describeHolder(took)}, which is no longer running\n`);
}

export const onLockWait = (ctx: CommandContext) => (holder: LockInfo | undefined) => {
  if (ctx.format !== 'json') ctx.io.stderr.write(`herd: waiting for the lock held by ${describeHolder(holder)}\n`);
};

/** Report a failure in the requested format and return its exit code. */
export function reportFailure(ctx: CommandContext, command: 'plan' | 'apply', failure: HerdFailure, exitCode: number, diagnostics: readonly Diagnostic[] = []): number {
  if (ctx.format === 'json') {
    const run = { exitCode, diagnostics, failure };
    ctx.io.stdout.write(command === 'plan' ? renderPlanJson(null, null, run) : renderApplyJson(null, run));
  } else {
    ctx.io.stderr.write(renderFailure(failure, ctx.color));
  }
  return exitCode;
}

/** The plan meta's nodes awaiting reboot (from the target's record or a snapshot's), absent when none. */
function awaitingMeta(record: RebootRecord | undefined): Pick<PlanMeta, 'awaitingReboot'> {
  const awaiting = awaitingReboot(record);
  return awaiting.length > 0 ? { awaitingReboot: awaiting } : {};
}

export function planMetaOf(result: CompileResult, session: TargetSession, herdVersion: string, cwd: string): PlanMeta {
  return { herdVersion, cluster: result.clusterName ?? null, root: displayPath(session.root, cwd), specHash: result.specHash, manifestHash: session.stored.manifestHash, ...awaitingMeta(session.stored.reboots) };
}

/** The spec as given relative to the folder herd runs in, so a saved plan made in one checkout finds the spec in another (null when outside it). */
export function specPathOf(specFile: string, cwd: string): string | null {
  const rel = relative(cwd, specFile);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? null : rel.split('\\').join('/');
}

/**
 * A plan against a published state snapshot: nothing on any target is read, drift is what the snapshot recorded (apply re-checks it on
 * the head). Text diffs come from the spec as it was at the commit each file was applied from, when this clone has it.
 */
export async function planAgainstSnapshot(compiled: Compiled & { ok: true }, snapshot: StateSnapshot, ctx: CommandContext, deps: StateCommandDeps): Promise<Plan> {
  const { result } = compiled;
  if (snapshot.cluster !== null && result.clusterName && snapshot.cluster !== result.clusterName) {
    throw herdFailure('state/wrong-cluster', `the state snapshot is of cluster ${snapshot.cluster}, the spec is cluster ${result.clusterName}`, 'use the snapshot the head of this cluster published');
  }
  const texts = await recordedTexts({ specFile: result.specFile, desired: result.artifacts, snapshot, compile: deps.compile, options: sourceDateEpochOf(ctx.io.env) });
  const plan = planChanges(result.artifacts, snapshot.manifest ?? undefined, withLiveTexts(liveStateOf(snapshot), texts));
  return withoutLiveDiffs(plan, new Set(texts.keys()));
}

export function makePlanCommand(deps: StateCommandDeps = defaultDeps): Command {
  return {
    name: 'plan',
    summary: 'show what apply would change on the target, with diffs, drift and impact',
    usage: '[spec] [--root DIR | --state SNAPSHOT] [--out FILE] [--detailed-exitcode] [--lock-timeout SECONDS] [--format text|json|markdown]',
    formats: ['text', 'json', 'markdown'],
    interrupted: 'nothing on the target changed; images already built stay in the build cache',
    help: [
      'spec: a cluster.yaml or the folder holding it (default: current folder).',
      '--root DIR             target root (default: .herd/<cluster>/root beside the spec; on a head node: /)',
      '--state SNAPSHOT       plan against a state snapshot the head published (herd state export), reading no target: for pull-request jobs',
      '--out FILE             save the plan (hashes only, no content) for `herd apply FILE`; bound to what would be written and the state planned against',
      '--detailed-exitcode    exit 0 for no changes, 2 for changes, drift or pending artifacts (not built this run), 1 for an invalid spec, 3 when plan could not run',
      '--lock-timeout SECONDS wait this long for another herd holding the target lock (default: fail at once)',
      '--format markdown      a pull-request comment; --format json: the shape in docs/plan-json.md',
    ].join('\n'),
    options: { root: { type: 'string' }, state: { type: 'string' }, out: { type: 'string' }, 'detailed-exitcode': { type: 'boolean' }, 'lock-timeout': { type: 'string' } },
    async run(args, ctx) {
      if (ctx.format === 'github') return reportFailure(ctx, 'plan', herdFailure('cli/usage', 'herd plan supports --format text, json or markdown', 'use --format markdown for a pull-request comment'), EXIT.couldNotRun);
      const specArg = args.positionals[0] ?? '.';
      let session: TargetSession | undefined;
      try {
        const timeout = lockTimeoutMs(args.values);
        const stateArg = typeof args.values.state === 'string' ? args.values.state : undefined;
        if (stateArg !== undefined && typeof args.values.root === 'string') {
          throw herdFailure('cli/usage', '--state and --root both name what to plan against; give one', 'on the head: --root /; in a pull-request job: --state SNAPSHOT');
        }
        // A --root, --state or --out that can never work fails now, not after the images are built.
        checkRootEarly(typeof args.values.root === 'string' ? args.values.root : undefined, ctx.io.cwd, false);
        checkSavedPlanPathEarly(typeof args.values.out === 'string' ? args.values.out : undefined, ctx.io.cwd);
        const snapshot = stateArg !== undefined ? readSnapshotFile(resolve(ctx.io.cwd, stateArg), stateArg) : undefined;
        const compiled = await compileDesired(specArg, ctx, deps);
        if (!compiled.ok) {
          if (ctx.format === 'json') ctx.io.stdout.write(renderPlanJson(null, null, { exitCode: compiled.exitCode, diagnostics: compiled.diagnostics }));
          return compiled.exitCode;
        }
        const { result } = compiled;
        const herdVersion = await herdVersionOf(deps);
        let plan: Plan;
        let meta: PlanMeta;
        // What a saved plan binds to; the target's snapshot id hashes every live file's state (half a second for 40,000 files), so it
        // is taken only when the plan is saved (--out).
        let basis: () => { root: string; snapshotId: string; manifestHash: string | null };
        if (snapshot) {
          plan = await planAgainstSnapshot(compiled, snapshot, ctx, deps);
          meta = { herdVersion, cluster: result.clusterName ?? null, root: `${snapshot.root} (as in the state snapshot ${snapshot.snapshotId.slice(0, 12)})`, specHash: result.specHash, manifestHash: snapshot.manifestHash, snapshotId: snapshot.snapshotId, ...awaitingMeta(snapshot.reboots) };
          basis = () => ({ root: snapshot.root, snapshotId: snapshot.snapshotId, manifestHash: snapshot.manifestHash });
        } else {
          const root = targetRootFor(args.values, result, ctx.io.cwd);
          session = await openTarget(root, result.artifacts, {
            ...rootConfinement(root, result),
            purpose: 'plan',
            command: `herd plan ${specArg}`,
            lockTimeoutMs: timeout,
            ...(deps.now ? { now: deps.now } : {}),
            onLockWait: onLockWait(ctx),
          });
          tellLockEvents(ctx, session);
          plan = session.plan;
          meta = planMetaOf(result, session, herdVersion, ctx.io.cwd);
          const opened = session;
          basis = () => ({ root, snapshotId: snapshotOfSession(opened, herdVersion, result.clusterName ?? null).snapshotId, manifestHash: opened.stored.manifestHash });
        }
        const summary = summarizePlan(plan);
        const exitCode = args.values['detailed-exitcode'] && summary.changesPresent ? EXIT.changes : EXIT.ok;

        const out = args.values.out;
        if (typeof out === 'string') {
          const saved = buildSavedPlan(plan, {
            herdVersion,
            cluster: result.clusterName ?? null,
            specFile: result.specFile,
            specPath: specPathOf(result.specFile, ctx.io.cwd),
            specHash: result.specHash,
            basis: snapshot ? 'snapshot' : 'target',
            ...basis(),
            artifacts: result.artifacts,
            hash: sha256Hex,
          });
          await writeOutputFile(resolve(ctx.io.cwd, out), out, serializeSavedPlan(saved), SAVED_PLAN_FILE);
          if (ctx.format !== 'json') ctx.io.stderr.write(`herd: saved the plan to ${out}; apply exactly this plan with: herd apply ${out}${snapshot ? ' (on the head)' : ''}\n`);
        }
        if (ctx.format === 'json') ctx.io.stdout.write(renderPlanJson(plan, meta, { exitCode, diagnostics: result.diagnostics }));
        else if (ctx.format === 'markdown') ctx.io.stdout.write(renderPlanMarkdown(plan, meta));
        else ctx.io.stdout.write(renderPlanText(plan, meta, { color: ctx.color }));
        return exitCode;
      } catch (e) {
        if (isHerdFailure(e)) return reportFailure(ctx, 'plan', e, EXIT.couldNotRun);
        throw e;
      } finally {
        session?.release();
      }
    },
  };
}

export const command: Command = makePlanCommand();
