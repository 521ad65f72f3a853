// `herd rollout [spec]` (I/O shell): reboot the nodes herd's state says are awaiting a reboot, through Slurm, in batches; stop at the first that does not come back.
import { resolve } from 'node:path';
import { herdFailure, isHerdFailure, type Diagnostic, type HerdFailure } from '../../diagnostics/diagnostic.ts';
import { renderEnvelope } from '../../diagnostics/render-json.ts';
import { renderFailure } from '../../diagnostics/render-text.ts';
import type { ConfinedDir } from '../../fs/confined-dir.ts';
import { recordUpdater } from '../../rollout/on-target.ts';
import { eventLine, renderDryRunText, renderRolloutText, rolloutJson } from '../../rollout/render.ts';
import { batchesOf, DEFAULT_BATCH_SIZE, DEFAULT_TIMEOUT_SECONDS, runRollout, type RolloutResult } from '../../rollout/rollout.ts';
import { scontrolAt } from '../../rollout/scontrol.ts';
import { expandHostlist } from '../../spec/hostlist.ts';
import { openTargetDir } from '../../state/target.ts';
import type { Command, ParsedArgs } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import type { CommandContext } from '../io.ts';
import { compileDesired, defaultDeps, rootConfinement, targetRootFor, type StateCommandDeps } from './plan.ts';

/** What a rollout needs besides the target: also what `herd apply --reboot` passes after its apply. */
export interface RolloutSettings {
  readonly root: string;
  readonly confineTo?: string;
  readonly batchSize: number;
  readonly timeoutSeconds: number;
  readonly scontrol: string;
  readonly dryRun: boolean;
  /** Only these of the awaiting nodes (--nodes, or what an apply just made reboot-worthy); undefined: all. */
  readonly only?: readonly string[];
  readonly lockTimeoutMs: number;
  readonly command: string;
}

const positiveInt = (raw: unknown, flag: string, example: string): number | undefined => {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) throw herdFailure('cli/usage', `${flag} must be a positive whole number, not "${String(raw)}"`, `e.g. ${flag} ${example}`);
  return n;
};

/** --scontrol, else HERD_SCONTROL, else `scontrol` on PATH. */
export function scontrolProgram(values: ParsedArgs['values'], ctx: CommandContext): string {
  const flag = values.scontrol;
  if (typeof flag === 'string' && flag !== '') return resolve(ctx.io.cwd, flag);
  const env = ctx.io.env.HERD_SCONTROL;
  return env ? resolve(ctx.io.cwd, env) : 'scontrol';
}

/** --batch, else the spec's slurm.reboot_batch_size, else the default. */
export function rolloutBatchOf(values: ParsedArgs['values'], fromSpec: number | undefined): number {
  return positiveInt(values.batch, '--batch', '4') ?? fromSpec ?? DEFAULT_BATCH_SIZE;
}

export function timeoutSecondsOf(values: ParsedArgs['values']): number {
  return positiveInt(values.timeout, '--timeout', '1800') ?? DEFAULT_TIMEOUT_SECONDS;
}

/** Run a rollout on a target and report it; returns the exit code. */
export async function rolloutOnTarget(s: RolloutSettings, ctx: CommandContext, diagnostics: readonly Diagnostic[] = []): Promise<number> {
  let dir: ConfinedDir | undefined;
  try {
    dir = openTargetDir(s.root, false, s.confineTo);
    const updater = dir ? recordUpdater(dir, s.command, s.lockTimeoutMs) : undefined;
    const only = s.only ? new Set(s.only) : undefined;
    const nodes = (updater?.awaiting() ?? []).filter((a) => !only || only.has(a.node));
    const generation = nodes.reduce((m, n) => Math.max(m, n.since), 0);
    const batches = batchesOf(nodes.map((n) => n.node), s.batchSize);
    if (s.dryRun || nodes.length === 0) {
      if (ctx.format === 'json') ctx.io.stdout.write(renderEnvelope('rollout', EXIT.ok, diagnostics, rolloutJson(null, { generation, dryRun: s.dryRun, batches })));
      else ctx.io.stdout.write(renderDryRunText(s.dryRun ? batches : [], generation));
      return EXIT.ok;
    }
    const io = ctx.io;
    const result: RolloutResult = await runRollout({
      nodes: nodes.map((n) => ({ node: n.node, since: n.since })),
      batchSize: s.batchSize,
      timeoutSeconds: s.timeoutSeconds,
      scontrol: scontrolAt(s.scontrol, { ...process.env, ...io.env }),
      onRequested: (batch, at) => updater!.requested(batch, at),
      onBack: (node, since) => updater!.back(node, since),
      onEvent: (e) => {
        if (ctx.format !== 'json') io.stderr.write(eventLine(e));
      },
    });
    // A node that did not come back is a finding about the cluster (exit 1, as boot-test's failed node); Slurm unreachable or refusing: could not run.
    const exitCode = result.status === 'done' ? EXIT.ok : result.status === 'failed' ? EXIT.findings : EXIT.couldNotRun;
    if (ctx.format === 'json') io.stdout.write(renderEnvelope('rollout', exitCode, diagnostics, rolloutJson(result, { generation, dryRun: false, batches })));
    else io.stdout.write(renderRolloutText(result, generation));
    return exitCode;
  } catch (e) {
    if (!isHerdFailure(e)) throw e;
    return reportRolloutFailure(ctx, e, diagnostics);
  } finally {
    dir?.close();
  }
}

function reportRolloutFailure(ctx: CommandContext, failure: HerdFailure, diagnostics: readonly Diagnostic[] = []): number {
  if (ctx.format === 'json') ctx.io.stdout.write(renderEnvelope('rollout', EXIT.couldNotRun, diagnostics, { failure: { rule: failure.rule, message: failure.message, ...(failure.hint ? { hint: failure.hint } : {}) } }));
  else ctx.io.stderr.write(renderFailure(failure, ctx.color));
  return EXIT.couldNotRun;
}

export const ROLLOUT_INTERRUPTED = "nodes already seen back are recorded; nodes Slurm was asked to reboot keep rebooting under Slurm and stay awaiting a reboot in herd's state until a herd rollout sees them back";

export function makeRolloutCommand(deps: StateCommandDeps = defaultDeps): Command {
  return {
    name: 'rollout',
    summary: 'reboot the nodes awaiting a reboot (new image or system overlay) through Slurm, in batches, stopping at the first that does not come back',
    usage: '[spec] [--root DIR] [--batch N] [--timeout SECONDS] [--nodes HOSTLIST] [--dry-run] [--scontrol PATH] [--lock-timeout SECONDS] [--format text|json]',
    interrupted: ROLLOUT_INTERRUPTED,
    help: [
      'spec: a cluster.yaml or its folder (default: current folder); read for the target root and slurm.reboot_batch_size.',
      '--root DIR             target root whose state lists the nodes awaiting a reboot (default: .herd/<cluster>/root beside the spec; on a head node: /)',
      `--batch N              nodes rebooted at once (default: slurm.reboot_batch_size, else ${DEFAULT_BATCH_SIZE}); each batch starts once the one before is back`,
      `--timeout SECONDS      how long a node may take to come back once Slurm issued its reboot (default ${DEFAULT_TIMEOUT_SECONDS}); draining for running jobs (ASAP) does not count`,
      '--nodes HOSTLIST       only these of the awaiting nodes',
      '--dry-run              print the batches and the scontrol commands; ask Slurm nothing',
      '--scontrol PATH        the scontrol to run (default: HERD_SCONTROL, else scontrol on PATH; it reads SLURM_CONF as usual)',
      '--lock-timeout SECONDS wait this long for the target lock around each update of the reboot record (default 600)',
    ].join('\n'),
    options: {
      root: { type: 'string' },
      batch: { type: 'string' },
      timeout: { type: 'string' },
      nodes: { type: 'string' },
      'dry-run': { type: 'boolean' },
      scontrol: { type: 'string' },
      'lock-timeout': { type: 'string' },
    },
    async run(args, ctx) {
      try {
        positiveInt(args.values.batch, '--batch', '4');
        const timeoutSeconds = timeoutSecondsOf(args.values);
        const lockSeconds = args.values['lock-timeout'] === undefined ? 600 : positiveInt(args.values['lock-timeout'], '--lock-timeout', '60')!;
        let only: string[] | undefined;
        if (typeof args.values.nodes === 'string') {
          const r = expandHostlist(args.values.nodes);
          if (!r.ok) throw herdFailure('cli/usage', `--nodes ${args.values.nodes} is not a hostlist: ${r.error.message}`, 'e.g. --nodes c[1-4],gpu1');
          only = r.names;
        }
        const specArg = args.positionals[0] ?? '.';
        // Config only: the rollout needs the cluster's name (default root) and its batch size, never the images.
        const compiled = await compileDesired(specArg, ctx, deps, { images: false });
        if (!compiled.ok) {
          if (ctx.format === 'json') ctx.io.stdout.write(renderEnvelope('rollout', compiled.exitCode, compiled.diagnostics));
          return compiled.exitCode;
        }
        const { result } = compiled;
        const root = targetRootFor(args.values, result, ctx.io.cwd);
        return await rolloutOnTarget(
          {
            root,
            ...rootConfinement(root, result),
            batchSize: rolloutBatchOf(args.values, result.model?.slurm.rebootBatchSize),
            timeoutSeconds,
            scontrol: scontrolProgram(args.values, ctx),
            dryRun: Boolean(args.values['dry-run']),
            ...(only ? { only } : {}),
            lockTimeoutMs: lockSeconds * 1000,
            command: `herd rollout ${specArg}`,
          },
          ctx,
          result.diagnostics,
        );
      } catch (e) {
        if (!isHerdFailure(e)) throw e;
        return reportRolloutFailure(ctx, e);
      }
    },
  };
}

export const command: Command = makeRolloutCommand();
