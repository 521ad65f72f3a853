// How herd rollout reports (pure): the batches, what came back, and where and why it stopped, as text or as the JSON envelope's result.
import { compressHostlist, compressOrdered } from '../spec/hostlist.ts';
import { rebootArgs, type RolloutEvent, type RolloutResult } from './rollout.ts';

/** One line per rollout event, written to stderr while the rollout runs. */
export function eventLine(e: RolloutEvent): string {
  if (e.kind === 'requested') return `herd rollout: batch ${e.batch + 1}/${e.of}: asked Slurm to reboot ${compressOrdered(e.nodes)} (ASAP: each drains and finishes its jobs first)\n`;
  if (e.kind === 'back') return `herd rollout: ${e.node} is back\n`;
  return `herd rollout: batch ${e.batch + 1} is back\n`;
}

/** --dry-run: the batches and the exact command each would run, in order. */
export function renderDryRunText(batches: readonly (readonly string[])[], generation: number): string {
  if (batches.length === 0) return 'No node is awaiting a reboot.\n';
  const out = [`herd rollout --dry-run: ${batches.flat().length} node(s) awaiting a reboot, in ${batches.length} batch(es); each batch starts once the one before is back:`];
  batches.forEach((b, i) => out.push(`  ${i + 1}. scontrol ${rebootArgs(b, generation).map((a) => (/\s/.test(a) ? a.replace(/=(.*)$/, '="$1"') : a)).join(' ')}`));
  return out.join('\n') + '\n';
}

export function renderRolloutText(r: RolloutResult, generation: number): string {
  if (r.batches.length === 0) return 'No node is awaiting a reboot.\n';
  if (r.status === 'done') return `Rollout done: ${compressHostlist(r.back)} rebooted and back (generation ${generation}), in ${r.batches.length} batch(es).\n`;
  const out: string[] = [];
  if (r.status === 'failed') {
    out.push(`Rollout stopped at batch ${r.stoppedAt! + 1}/${r.batches.length}:`);
    for (const f of r.failed) out.push(`  ${f.node}: ${f.why}; Slurm state ${f.state}${f.reason ? `, reason "${f.reason}"` : ''}`);
  } else {
    out.push(`Rollout stopped: ${r.slurmError}`);
  }
  if (r.back.length > 0) out.push(`Back and recorded: ${compressHostlist(r.back)}.`);
  const waiting = r.stoppedAt !== null && r.stoppedAt >= 0 ? r.batches[r.stoppedAt]!.filter((n) => !r.back.includes(n)) : [];
  if (waiting.length > 0) out.push(`Asked to reboot, not confirmed: ${compressHostlist(waiting)} (still awaiting a reboot in herd's state).`);
  if (r.untouched.length > 0) out.push(`Not asked to reboot: ${compressHostlist(r.untouched)} (still awaiting a reboot).`);
  out.push('Fix the node(s) named above (scontrol show node, slurmd log), then run herd rollout again: it continues with what is still awaiting.');
  return out.join('\n') + '\n';
}

/** The JSON envelope's `result` for herd rollout. */
export function rolloutJson(r: RolloutResult | null, extra: { generation: number; dryRun: boolean; batches: readonly (readonly string[])[] }) {
  return {
    dryRun: extra.dryRun,
    generation: extra.generation,
    status: r?.status ?? (extra.dryRun ? 'dry-run' : 'done'),
    batches: extra.batches.map((b) => ({ nodes: compressOrdered(b), command: ['scontrol', ...rebootArgs(b, extra.generation)] })),
    back: r ? [...r.back] : [],
    stoppedAtBatch: r?.stoppedAt ?? null,
    failed: r ? r.failed.map((f) => ({ ...f })) : [],
    untouched: r ? [...r.untouched] : [],
    slurmError: r?.slurmError ?? null,
  };
}
