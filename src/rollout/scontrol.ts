// The one place herd runs Slurm's scontrol (I/O): the real program on PATH (it reads SLURM_CONF like any Slurm client), or the one
// --scontrol / HERD_SCONTROL names (the integration test's wrapper that runs the real scontrol inside its namespace cluster).
import { execFile } from 'node:child_process';
import type { Scontrol } from './rollout.ts';

/** An scontrol that never takes longer than `timeoutMs` (a hung slurmctld must not hang the rollout's loop silently). */
export function scontrolAt(program: string, env: NodeJS.ProcessEnv, timeoutMs = 120_000): Scontrol {
  return (args) =>
    new Promise((resolve) => {
      execFile(program, [...args], { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr });
        const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
        if (e.code === 'ENOENT') return resolve({ code: 127, stdout: '', stderr: `${program} not found (install Slurm's client tools, or pass --scontrol PATH)` });
        if (e.killed) return resolve({ code: 124, stdout, stderr: `${program} did not answer within ${timeoutMs / 1000} s` });
        resolve({ code: typeof e.code === 'number' ? e.code : 1, stdout, stderr: stderr || e.message });
      });
    });
}
