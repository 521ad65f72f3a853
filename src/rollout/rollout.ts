// The rollout (I/O through one seam): ask Slurm to reboot the awaiting nodes batch by batch, and wait for each batch to come back before the next.
//
// Slurm does the rebooting: `scontrol reboot ASAP nextstate=RESUME reason="herd generation G" <batch>` drains each node, lets its running jobs
// finish, runs RebootProgram and resumes it once slurmd registers after the boot. herd only chooses the batches and watches
// `scontrol show node -o`, so a boot storm is bounded by the batch size and the first node that does not come back stops everything after it.
import { compressHostlist } from '../spec/hostlist.ts';
import { parseShowNodes, progressOf, type NodeStatus } from './node-status.ts';

/** Runs scontrol with these arguments: the only way the rollout reaches Slurm (the CLI runs the real one; tests point it at a wrapper). */
export type Scontrol = (args: readonly string[]) => Promise<{ readonly code: number; readonly stdout: string; readonly stderr: string }>;

export const DEFAULT_BATCH_SIZE = 8;
/** Per node, counted from when Slurm issued its reboot (time spent draining for running jobs does not count). */
export const DEFAULT_TIMEOUT_SECONDS = 900;

/** Split `nodes` (already in hostname order) into batches of at most `size`. */
export function batchesOf(nodes: readonly string[], size: number): string[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be a positive integer, not ${size}`);
  const out: string[][] = [];
  for (let i = 0; i < nodes.length; i += size) out.push(nodes.slice(i, i + size));
  return out;
}

/** The exact scontrol arguments that reboot one batch. */
export function rebootArgs(batch: readonly string[], generation: number): string[] {
  return ['reboot', 'ASAP', 'nextstate=RESUME', `reason=herd generation ${generation}`, compressHostlist(batch)];
}

export interface FailedNode {
  readonly node: string;
  readonly state: string;
  readonly reason: string | null;
  readonly why: string;
}

export type RolloutEvent =
  | { readonly kind: 'requested'; readonly batch: number; readonly of: number; readonly nodes: readonly string[] }
  | { readonly kind: 'back'; readonly node: string }
  | { readonly kind: 'batch-done'; readonly batch: number };

export interface RolloutInput {
  /** Nodes to reboot, in order, each with the generation since which it awaits a reboot. */
  readonly nodes: readonly { readonly node: string; readonly since: number }[];
  readonly batchSize: number;
  readonly timeoutSeconds: number;
  readonly scontrol: Scontrol;
  readonly pollMs?: number;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called after Slurm accepted a batch's reboot request: the caller records the request time (the nodes stay awaiting). */
  readonly onRequested?: (nodes: readonly string[], at: Date) => Promise<void>;
  /** Called as soon as a node is seen back: the caller records it done, so an interrupted rollout keeps what it confirmed. */
  readonly onBack?: (node: string, since: number) => Promise<void>;
  readonly onEvent?: (e: RolloutEvent) => void;
}

export interface RolloutResult {
  readonly status: 'done' | 'failed' | 'slurm-error';
  readonly batches: readonly (readonly string[])[];
  /** Nodes seen back, in the order they were confirmed. */
  readonly back: readonly string[];
  /** The batch the rollout stopped at (index), when it stopped. */
  readonly stoppedAt: number | null;
  readonly failed: readonly FailedNode[];
  /** Nodes of later batches Slurm was never asked to reboot. */
  readonly untouched: readonly string[];
  /** scontrol's own words when it refused or could not run. */
  readonly slurmError: string | null;
}

const generationOf = (nodes: RolloutInput['nodes']) => nodes.reduce((m, n) => Math.max(m, n.since), 0);

export async function runRollout(input: RolloutInput): Promise<RolloutResult> {
  const now = input.now ?? (() => new Date());
  const sleep = input.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const pollMs = input.pollMs ?? 3000;
  const since = new Map(input.nodes.map((n) => [n.node, n.since]));
  const batches = batchesOf(input.nodes.map((n) => n.node), input.batchSize);
  const generation = generationOf(input.nodes);
  const back: string[] = [];
  const stop = (i: number, status: 'failed' | 'slurm-error', failed: FailedNode[], slurmError: string | null): RolloutResult => ({
    status, batches, back, stoppedAt: i, failed, untouched: batches.slice(i + 1).flat(), slurmError,
  });

  for (const [i, batch] of batches.entries()) {
    // BootTime has whole seconds: the request counts from the start of its second.
    const at = now();
    const requestedAt = Math.floor(at.getTime() / 1000);
    const r = await input.scontrol(rebootArgs(batch, generation));
    if (r.code !== 0) return stop(i - 1, 'slurm-error', [], `scontrol ${rebootArgs(batch, generation).join(' ')} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
    await input.onRequested?.(batch, at);
    input.onEvent?.({ kind: 'requested', batch: i, of: batches.length, nodes: batch });

    const waiting = new Set(batch);
    const issuedAt = new Map<string, number>();
    while (waiting.size > 0) {
      const show = await input.scontrol(['show', 'node', '-o', compressHostlist([...waiting])]);
      if (show.code !== 0) return stop(i, 'slurm-error', [], `scontrol show node failed (exit ${show.code}): ${(show.stderr || show.stdout).trim()}`);
      const status = parseShowNodes(show.stdout);
      const failed: FailedNode[] = [];
      const t = now().getTime();
      for (const node of batch.filter((n) => waiting.has(n))) {
        const n: NodeStatus | undefined = status.get(node);
        const p = progressOf(n, requestedAt);
        if (p.kind === 'back') {
          waiting.delete(node);
          back.push(node);
          await input.onBack?.(node, since.get(node)!);
          input.onEvent?.({ kind: 'back', node });
        } else if (p.kind === 'failed') {
          failed.push({ node, state: n?.state ?? 'unknown', reason: n?.reason ?? null, why: p.why });
        } else if (p.kind === 'rebooting') {
          if (!issuedAt.has(node)) issuedAt.set(node, t);
          if (t - issuedAt.get(node)! > input.timeoutSeconds * 1000) {
            failed.push({ node, state: n!.state, reason: n!.reason, why: `not back ${input.timeoutSeconds} s after its reboot was issued` });
          }
        }
      }
      // The batch's other nodes keep rebooting under Slurm (they were asked already); herd stops watching and asks no further batch.
      if (failed.length > 0) return stop(i, 'failed', failed, null);
      if (waiting.size > 0) await sleep(pollMs);
    }
    input.onEvent?.({ kind: 'batch-done', batch: i });
  }
  return { status: 'done', batches, back, stoppedAt: null, failed: [], untouched: [], slurmError: null };
}
