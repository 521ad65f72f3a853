// `herd apply [spec | saved-plan]` (I/O shell): plan under the target lock, get consent, write atomically, then say what to restart or reboot.
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { sha256Hex } from '../../artifacts/artifact.ts';
import { herdFailure, isHerdFailure, type Diagnostic, type HerdFailure } from '../../diagnostics/diagnostic.ts';
import { renderFailure } from '../../diagnostics/render-text.ts';
import { applyBlocker } from '../../plan/apply-blocker.ts';
import { toPlanDocument, type ApplyResultJson, type PlanMeta } from '../../plan/plan-json.ts';
import { summarizePlan } from '../../plan/plan-types.ts';
import { renderApplyJson } from '../../plan/render-json.ts';
import { renderNextStepsText, renderPendingSummaryText, renderPlanText } from '../../plan/render-text.ts';
import { actionsDifference, artifactsDifference, parseSavedPlan, restrictToPlan, underSavedPending, type SavedPlan } from '../../plan/saved-plan.ts';
import { serializeSnapshot } from '../../plan/state-snapshot.ts';
import { checkOutputEarly, snapshotAfterApply, snapshotOfSession, STATE_SNAPSHOT_FILE, writeOutputFile } from '../../state/snapshot-io.ts';
import { applyPlan, type ApplyOp, type ApplyResult } from '../../state/apply.ts';
import { ownerResolverForThisMachine } from '../../state/owners.ts';
import { openTarget, type TargetSession } from '../../state/target.ts';
import { rebootNodesOf } from '../../rollout/reboot-record.ts';
import { rolloutBatchOf, rolloutOnTarget, scontrolProgram, timeoutSecondsOf } from './rollout.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import type { CommandContext } from '../io.ts';
import { checkRootEarly } from '../check-paths-early.ts';
import {
  compileDesired,
  defaultDeps,
  displayPath,
  herdVersionOf,
  lockTimeoutMs,
  onLockWait,
  planMetaOf,
  reportFailure,
  rootConfinement,
  targetRootFor,
  tellLockEvents,
  type StateCommandDeps,
} from './plan.ts';

/** A saved plan when `arg` is one; undefined for a spec path. */
function readSavedPlan(arg: string, cwd: string): SavedPlan | undefined {
  const abs = resolve(cwd, arg);
  let text: string;
  try {
    if (!statSync(abs).isFile()) return undefined;
    text = readFileSync(abs, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = parseSavedPlan(text, arg);
  if (parsed === undefined) return undefined;
  if (!parsed.ok) throw parsed.failure;
  return parsed.plan;
}

function specCommitOf(dir: string): string | null {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--verify', '--quiet', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim() || null;
  } catch {
    return null;
  }
}

async function confirm(ctx: CommandContext, question: string): Promise<boolean> {
  const rl = createInterface({ input: ctx.io.stdin, output: ctx.io.stderr, terminal: false });
  try {
    const answer = await new Promise<string>((res) => {
      rl.once('close', () => res(''));
      rl.question(question, res);
    });
    return answer.trim() === 'yes';
  } finally {
    rl.close();
  }
}

const quote = (s: string) => (/^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);

/**
 * Test-only hooks, read from the environment at the CLI edge: HERD_TEST_PAUSE_AFTER_OP=N stops (without exiting) after the Nth file operation
 * so a test can SIGKILL the process at a known point (tests synchronise on its "paused" line, never on time);
 * HERD_TEST_OP_LOG=FILE appends "pid n kind path" per operation so a test can check two applies never interleave.
 */
function testHook(ctx: CommandContext): ((op: ApplyOp) => Promise<void>) | undefined {
  const pauseAt = Number(ctx.io.env.HERD_TEST_PAUSE_AFTER_OP ?? NaN);
  const log = ctx.io.env.HERD_TEST_OP_LOG;
  // HERD_TEST_FILL_AFTER_OP=KIND#N:FILE fills FILE's file system to the last byte after the Nth operation of KIND (e.g. renamed#2):
  // a real ENOSPC at a known point.
  const fillSpec = /^([a-z-]+)#(\d+):(.+)$/.exec(ctx.io.env.HERD_TEST_FILL_AFTER_OP ?? '');
  let seen = 0;
  if (!Number.isInteger(pauseAt) && !log && !fillSpec) return undefined;
  return async (op) => {
    if (fillSpec && op.kind === fillSpec[1] && ++seen === Number(fillSpec[2])) fillDisk(fillSpec[3]!);
    if (log) appendFileSync(log, `${process.pid} ${op.n} ${op.kind} ${op.path ?? ''}\n`);
    if (op.n === pauseAt) {
      ctx.io.stderr.write(`herd-test: paused after op ${op.n} ${op.kind} ${op.path ?? ''}\n`);
      await new Promise(() => setInterval(() => {}, 1 << 30));
    }
  };
}

function fillDisk(file: string): void {
  for (const size of [1 << 20, 64 * 1024, 4096, 512, 1]) {
    const chunk = Buffer.alloc(size);
    try {
      for (;;) appendFileSync(file, chunk);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    }
  }
}

export function makeApplyCommand(deps: StateCommandDeps = defaultDeps): Command {
  return {
    name: 'apply',
    summary: 'apply the spec (or a saved plan) to the target: atomic, locked, drift-aware',
    usage: '[spec | plan-file] [--root DIR] [--spec PATH] [--with-pending] [--yes] [--overwrite-drift] [--publish-state FILE] [--lock-timeout SECONDS] [--reboot [--batch N] [--timeout SECONDS] [--scontrol PATH]] [--format text|json]',
    interrupted: 'files already replaced stay replaced, each whole (old or new); the journal lets the next herd apply finish the cleanup, and herd plan shows what is left',
    help: [
      'spec: a cluster.yaml or its folder (default: current folder); plan-file: a plan saved by `herd plan --out`, applied exactly or refused if stale.',
      '--root DIR             target root (default: .herd/<cluster>/root beside the spec; on a head node: /)',
      '--yes                  apply without asking (needed when not interactive)',
      '--overwrite-drift      replace files changed on the target outside herd',
      '--spec PATH            with a saved plan: the spec to recompile (default: where the plan was made, relative to this folder for a plan made against a snapshot)',
      '--with-pending         with a saved plan: also build and apply what it left pending (e.g. overlays needing the munge key, which only the head has),',
      '                       known only here, as Terraform applies values "known after apply"; everything else must still match the plan exactly',
      '--publish-state FILE   after a successful apply, write the state snapshot pull-request plans read (herd plan --state FILE)',
      '--lock-timeout SECONDS wait this long for another herd holding the target lock',
      '--reboot               after a successful apply, reboot the nodes it changed the image or system overlay of through Slurm, in batches (herd rollout;',
      '                       --batch, --timeout and --scontrol as there); text output only',
    ].join('\n'),
    options: {
      root: { type: 'string' },
      spec: { type: 'string' },
      yes: { type: 'boolean' },
      'overwrite-drift': { type: 'boolean' },
      'publish-state': { type: 'string' },
      'with-pending': { type: 'boolean' },
      'lock-timeout': { type: 'string' },
      reboot: { type: 'boolean' },
      batch: { type: 'string' },
      timeout: { type: 'string' },
      scontrol: { type: 'string' },
    },
    async run(args, ctx) {
      if (ctx.format !== 'text' && ctx.format !== 'json') return reportFailure(ctx, 'apply', herdFailure('cli/usage', 'herd apply supports --format text or json', 'use herd plan --format markdown for a review comment'), EXIT.couldNotRun);
      const arg = args.positionals[0] ?? '.';
      const overwriteDrift = Boolean(args.values['overwrite-drift']);
      let session: TargetSession | undefined;
      let meta: PlanMeta | undefined;
      let diagnostics: readonly Diagnostic[] = [];
      const json = (exitCode: number, failure?: HerdFailure, done?: ApplyResult): number => {
        if (ctx.format !== 'json') return exitCode;
        const result: ApplyResultJson | null =
          session && meta
            ? {
                plan: toPlanDocument(session.plan, meta),
                applied: done?.applied ?? false,
                counts: { created: done?.created ?? 0, updated: done?.updated ?? 0, deleted: done?.deleted ?? 0, recorded: done?.recorded ?? 0 },
                manifestHash: done?.manifestHash ?? session.stored.manifestHash,
              }
            : null;
        ctx.io.stdout.write(renderApplyJson(result, { exitCode, diagnostics, ...(failure ? { failure } : {}) }));
        return exitCode;
      };
      const refuse = (failure: HerdFailure, exitCode: number = EXIT.couldNotRun): number => {
        if (ctx.format === 'json') return json(exitCode, failure);
        ctx.io.stderr.write(renderFailure(failure, ctx.color));
        return exitCode;
      };
      try {
        const timeout = lockTimeoutMs(args.values);
        const saved = readSavedPlan(arg, ctx.io.cwd);
        const specOption = typeof args.values.spec === 'string' ? args.values.spec : undefined;
        if (args.values.reboot && ctx.format === 'json') return refuse(herdFailure('cli/usage', '--reboot writes text progress; it does not combine with --format json', 'run herd apply --format json, then herd rollout --format json'));
        if (!args.values.reboot && ['batch', 'timeout', 'scontrol'].some((k) => args.values[k] !== undefined)) return refuse(herdFailure('cli/usage', '--batch, --timeout and --scontrol go with --reboot', 'add --reboot, or use herd rollout'));
        if (args.values['with-pending'] && !saved) return refuse(herdFailure('cli/usage', '--with-pending goes with a saved plan: herd apply PLAN --with-pending', `herd apply ${quote(arg)} applies everything the spec compiles to already`));
        if (specOption !== undefined && !saved) return refuse(herdFailure('cli/usage', '--spec goes with a saved plan: herd apply PLAN --spec PATH', `give the spec as the argument: herd apply ${quote(specOption)}`));
        if (saved && typeof args.values.root === 'string' && resolve(ctx.io.cwd, args.values.root) !== saved.root) {
          return refuse(herdFailure('cli/usage', `the saved plan ${arg} is for the target ${saved.root}, not ${args.values.root}`, `drop --root, or run herd plan --root ${args.values.root} --out ${arg} again`));
        }
        // A --root that can never work fails now, not after the images are built.
        checkRootEarly(saved ? saved.root : typeof args.values.root === 'string' ? args.values.root : undefined, ctx.io.cwd, true);
        const publish = typeof args.values['publish-state'] === 'string' ? args.values['publish-state'] : undefined;
        if (publish !== undefined) checkOutputEarly(resolve(ctx.io.cwd, publish), publish, STATE_SNAPSHOT_FILE);
        // A plan made against a published snapshot was made in another checkout (a pull-request job): its spec is found relative to this folder.
        const specArg = saved ? (specOption ?? (saved.basis === 'snapshot' && saved.specPath !== null ? saved.specPath : saved.specFile)) : arg;
        const compiled = await compileDesired(specArg, ctx, deps);
        if (!compiled.ok) {
          if (ctx.format === 'json') ctx.io.stdout.write(renderApplyJson(null, { exitCode: compiled.exitCode, diagnostics: compiled.diagnostics }));
          return compiled.exitCode;
        }
        const { result } = compiled;
        diagnostics = result.diagnostics;
        const herdVersion = await herdVersionOf(deps);
        const root = saved ? saved.root : targetRootFor(args.values, result, ctx.io.cwd);
        const replan = saved
          ? saved.basis === 'snapshot'
            ? `make a new plan against the head's current state: herd state export --out state.json on the head (or download the snapshot it published), then herd plan ${quote(saved.specPath ?? displayPath(saved.specFile, ctx.io.cwd))} --state state.json --out ${quote(arg)}; review it, then herd apply ${quote(arg)}`
            : `run herd plan ${quote(displayPath(saved.specFile, ctx.io.cwd))}${saved.root === targetRootFor({}, result, ctx.io.cwd) ? '' : ` --root ${quote(displayPath(saved.root, ctx.io.cwd))}`} --out ${quote(arg)} again, review it, then herd apply ${quote(arg)}`
          : '';
        const stale = (why: string) => refuse(herdFailure('state/stale-plan', `the saved plan ${arg} is stale: ${why}; nothing was changed`, replan));
        if (saved && saved.herdVersion !== herdVersion) return stale(`it was made by herd ${saved.herdVersion}, this is herd ${herdVersion}`);
        // What the plan left pending stays pending here too; everything else must compile to exactly the artifacts it was made for.
        const restricted = saved ? restrictToPlan(result.artifacts, saved) : result.artifacts;
        const artifactsMoved = saved ? artifactsDifference(saved, restricted, sha256Hex) : undefined;
        // --with-pending: what the plan left pending is built here and applied too (drift there still blocks); the rest is bound as above.
        const withPending = saved !== undefined && Boolean(args.values['with-pending']);
        const desired = withPending ? result.artifacts : restricted;
        session = await openTarget(root, desired, {
          ...rootConfinement(root, result),
          purpose: 'apply',
          command: `herd apply ${arg}`,
          lockTimeoutMs: timeout,
          ...(deps.now ? { now: deps.now } : {}),
          onLockWait: onLockWait(ctx),
        });
        tellLockEvents(ctx, session);
        meta = planMetaOf(result, session, herdVersion, ctx.io.cwd);
        const plan = session.plan;
        if (saved) {
          // Drift is checked again here, under the lock: the target must still be in the state the plan was made against.
          const now = snapshotOfSession(session, herdVersion, result.clusterName ?? null);
          const against = saved.basis === 'snapshot' ? 'the state snapshot it was made against' : 'it was made';
          const reasons: string[] = [];
          if (now.manifestHash !== saved.manifestHash) reasons.push(`the target was applied to since ${against} (the state manifest changed)`);
          if (artifactsMoved) reasons.push(artifactsMoved);
          if (reasons.length === 0) {
            const moved = actionsDifference(saved, plan, sha256Hex, withPending ? (p) => underSavedPending(saved, p) : undefined);
            if (moved) reasons.push(moved.replace('since it was made', `since ${against}`));
            else if (now.snapshotId !== saved.snapshotId) reasons.push(`the files herd owns on the target changed since ${against} (content, mode, owner or an unfinished apply)`);
          }
          if (reasons.length > 0) return stale(reasons.join('; and '));
        }
        const summary = summarizePlan(plan);
        if (ctx.format === 'text') ctx.io.stdout.write(renderPlanText(plan, meta, { color: ctx.color }));
        const blocker = applyBlocker(plan, overwriteDrift);
        if (blocker) return refuse(blocker);
        if (summary.applyNeeded && !saved && !args.values.yes) {
          const exact = `herd apply ${quote(arg)}${typeof args.values.root === 'string' ? ` --root ${quote(args.values.root)}` : ''}${overwriteDrift ? ' --overwrite-drift' : ''} --yes`;
          if (!(ctx.interactive && ctx.format === 'text')) {
            return refuse(herdFailure('state/consent-required', `herd apply changes ${meta.root} and needs consent, but this run is not interactive`, `run: ${exact}   (or review first: herd plan --out plan.herd, then herd apply plan.herd)`));
          }
          if (!(await confirm(ctx, `\nApply these changes to ${meta.root}? Only 'yes' is accepted: `))) {
            ctx.io.stderr.write('Apply cancelled; nothing was changed.\n');
            return EXIT.couldNotRun;
          }
        }
        const hook = testHook(ctx);
        const done = await applyPlan({
          root,
          dir: session.dir!,
          lock: session.lock!,
          desired,
          stored: session.stored,
          live: session.live,
          plan,
          cluster: result.clusterName ?? 'cluster',
          overwriteDrift,
          generation: { specHash: result.specHash, specCommit: specCommitOf(result.specDir), herdVersion },
          now: deps.now ?? (() => new Date()),
          resolveOwner: ownerResolverForThisMachine(),
          ...(hook ? { onOp: hook } : {}),
        });
        if (publish !== undefined) {
          try {
            const snapshot = await snapshotAfterApply(root, session.dir!, desired, herdVersion, result.clusterName ?? null);
            await writeOutputFile(resolve(ctx.io.cwd, publish), publish, serializeSnapshot(snapshot), STATE_SNAPSHOT_FILE);
            if (ctx.format !== 'json') ctx.io.stderr.write(`herd: published the state snapshot ${snapshot.snapshotId.slice(0, 12)} to ${publish}\n`);
          } catch (e) {
            const why = isHerdFailure(e) ? e.message : (e as Error).message;
            throw herdFailure('state/publish-failed', `the apply is complete and recorded, but the state snapshot could not be written to ${publish}: ${why}`, `publish it with: herd state export ${quote(displayPath(result.specFile, ctx.io.cwd))} --root ${quote(displayPath(root, ctx.io.cwd))} --out FILE`);
          }
        }
        if (withPending && ctx.format !== 'json') {
          const beyond = plan.actions.filter((a) => a.action !== 'no-op' && underSavedPending(saved!, a.path)).map((a) => a.path);
          if (beyond.length > 0) ctx.io.stderr.write(`herd: --with-pending: also built here and applied ${beyond.length} file(s) the reviewed plan left pending: ${beyond.slice(0, 10).join(', ')}${beyond.length > 10 ? ` and ${beyond.length - 10} more` : ''}\n`);
        }
        if (ctx.format === 'json') return json(EXIT.ok, undefined, done);
        if (summary.applyNeeded) {
          ctx.io.stdout.write(`\nApplied to ${meta.root}: ${done.created} created, ${done.updated} updated, ${done.deleted} deleted.\n`);
          ctx.io.stdout.write(renderPendingSummaryText(plan));
          ctx.io.stdout.write(renderNextStepsText(plan));
        } else {
          if (done.recorded > 0) ctx.io.stdout.write(`Recorded ${done.recorded} already-matching file(s) in the state manifest.\n`);
          ctx.io.stdout.write(renderPendingSummaryText(plan));
        }
        if (args.values.reboot) {
          // The rollout takes the target lock only around its own record updates, so the apply's lock goes first.
          session.release();
          const only = rebootNodesOf(plan);
          if (only.length === 0) {
            ctx.io.stdout.write('--reboot: this apply changed nothing the nodes load at boot; no reboot needed.\n');
            return EXIT.ok;
          }
          ctx.io.stdout.write('\n');
          return await rolloutOnTarget(
            {
              root,
              ...rootConfinement(root, result),
              batchSize: rolloutBatchOf(args.values, result.model?.slurm.rebootBatchSize),
              timeoutSeconds: timeoutSecondsOf(args.values),
              scontrol: scontrolProgram(args.values, ctx),
              dryRun: false,
              only,
              lockTimeoutMs: 600_000,
              command: `herd apply --reboot ${arg}`,
            },
            ctx,
          );
        }
        return EXIT.ok;
      } catch (e) {
        if (!isHerdFailure(e)) throw e;
        return refuse(e, e.rule === 'state/apply-partial' ? EXIT.partial : e.rule === 'state/apply-failed' ? EXIT.applyFailed : EXIT.couldNotRun);
      } finally {
        session?.release();
      }
    },
  };
}

export const command: Command = makeApplyCommand();
