// `herd state export [spec] [--root DIR] --out FILE` (I/O shell): publish a snapshot of what is deployed on a target (the state
// manifest and the live hashes of every file herd owns there; never content) for pull-request jobs to plan against with
// `herd plan --state FILE`, so they never run on or reach the head. `herd apply --publish-state FILE` writes the same after an apply.
import { resolve } from 'node:path';
import { herdFailure, isHerdFailure } from '../../diagnostics/diagnostic.ts';
import { renderFailure } from '../../diagnostics/render-text.ts';
import { serializeSnapshot } from '../../plan/state-snapshot.ts';
import { openTarget, type TargetSession } from '../../state/target.ts';
import { checkOutputEarly, snapshotOfSession, STATE_SNAPSHOT_FILE, writeOutputFile } from '../../state/snapshot-io.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { checkRootEarly } from '../check-paths-early.ts';
import { compileDesired, defaultDeps, herdVersionOf, lockTimeoutMs, onLockWait, rootConfinement, targetRootFor, tellLockEvents, type StateCommandDeps } from './plan.ts';

export function makeStateCommand(deps: StateCommandDeps = defaultDeps): Command {
  return {
    name: 'state',
    summary: 'export a snapshot of what is deployed on the target (hashes only) for pull-request plans: herd state export --out FILE',
    usage: 'export [spec] [--root DIR] --out FILE [--lock-timeout SECONDS]',
    formats: ['text'],
    help: [
      'export: write the state snapshot of the target: its state manifest and the live sha256, mode and owner of every file herd owns there, with an id',
      '        (the sha256 of that content). Never file content, so no secret. `herd plan --state FILE` plans against it without reading the target;',
      '        `herd apply PLAN` checks on the target that it still matches the snapshot the plan was made against.',
      'spec: a cluster.yaml or its folder (default: current folder); it says how herd-managed blocks inside site files are read.',
      '--root DIR             target root (default: .herd/<cluster>/root beside the spec; on a head node: /)',
      '--out FILE             where to write the snapshot ("-" for stdout); an existing file is replaced only when it is a snapshot herd wrote',
      '--lock-timeout SECONDS wait this long for an apply holding the target lock',
    ].join('\n'),
    options: { root: { type: 'string' }, out: { type: 'string' }, 'lock-timeout': { type: 'string' } },
    async run(args, ctx) {
      const fail = (rule: string, message: string, hint: string): number => {
        ctx.io.stderr.write(renderFailure(herdFailure(rule, message, hint), ctx.color));
        return EXIT.couldNotRun;
      };
      const [sub, specArg = '.', ...extra] = args.positionals;
      if (sub !== 'export') return fail('cli/usage', sub === undefined ? 'herd state needs a subcommand' : `unknown subcommand "herd state ${sub}"`, 'herd state export [spec] [--root DIR] --out FILE');
      if (extra.length > 0) return fail('cli/usage', `herd state export takes one spec, not also ${extra.join(' ')}`, 'herd state export [spec] [--root DIR] --out FILE');
      const out = typeof args.values.out === 'string' ? args.values.out : undefined;
      if (out === undefined || out === '') return fail('cli/usage', 'herd state export needs --out FILE (or --out - for stdout)', 'e.g. herd state export clusters/lab --root / --out state.json');
      let session: TargetSession | undefined;
      try {
        const timeout = lockTimeoutMs(args.values);
        checkRootEarly(typeof args.values.root === 'string' ? args.values.root : undefined, ctx.io.cwd, false);
        if (out !== '-') checkOutputEarly(resolve(ctx.io.cwd, out), out, STATE_SNAPSHOT_FILE);
        // Configs only: the spec says where herd-managed blocks sit in site files; images and overlays are scanned as the manifest records them, never built here.
        const compiled = await compileDesired(specArg, ctx, deps, { images: false });
        if (!compiled.ok) return compiled.exitCode;
        const { result } = compiled;
        const root = targetRootFor(args.values, result, ctx.io.cwd);
        session = await openTarget(root, result.artifacts, {
          ...rootConfinement(root, result),
          purpose: 'plan',
          command: `herd state export ${specArg}`,
          lockTimeoutMs: timeout,
          ...(deps.now ? { now: deps.now } : {}),
          onLockWait: onLockWait(ctx),
        });
        tellLockEvents(ctx, session);
        const snapshot = snapshotOfSession(session, await herdVersionOf(deps), result.clusterName ?? null);
        const text = serializeSnapshot(snapshot);
        if (out === '-') ctx.io.stdout.write(text);
        else {
          await writeOutputFile(resolve(ctx.io.cwd, out), out, text, STATE_SNAPSHOT_FILE);
          ctx.io.stderr.write(`herd: wrote the state snapshot ${snapshot.snapshotId.slice(0, 12)} of ${root} (${snapshot.files.length} file(s) herd owns) to ${out}\n`);
        }
        return EXIT.ok;
      } catch (e) {
        if (!isHerdFailure(e)) throw e;
        ctx.io.stderr.write(renderFailure(e, ctx.color));
        return EXIT.couldNotRun;
      } finally {
        session?.release();
      }
    },
  };
}

export const command: Command = makeStateCommand();
