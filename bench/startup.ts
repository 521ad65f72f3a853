// Whole-process start-up budget (issue 17): `herd validate` and `herd plan` of the lab, as processes, against `node -e 0`
// measured alternately in the same run; median of several runs, printed as a ratio with OK/OVER against the budget.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET = 1.7;
const RUNS = 11;
const repo = fileURLToPath(new URL('..', import.meta.url));
const bin = join(repo, 'bin/herd.js');

/** CPU time (user + system, in clock ticks) of this process's waited-for children so far, from /proc/self/stat. */
const childTicks = (): number => readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ').slice(13, 15).reduce((a, b) => a + Number(b), 0);
const cpuTicks: Record<string, number> = {};

function seconds(args: readonly string[], cwd: string, name?: string): number {
  const t = process.hrtime.bigint();
  const c = childTicks();
  // herd's code cache (bin/code-cache.js) in the scratch folder: the bench measures the steady state of this build.
  spawnSync(process.execPath, args, { cwd, stdio: 'ignore', env: { ...process.env, XDG_CACHE_HOME: join(cwd, 'cache') } });
  if (name !== undefined) cpuTicks[name] = (cpuTicks[name] ?? 0) + childTicks() - c;
  return Number(process.hrtime.bigint() - t) / 1e9;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const scratch = mkdtempSync(join(tmpdir(), 'herd-bench-startup-'));
try {
  cpSync(join(repo, 'clusters/lab'), join(scratch, 'lab'), { recursive: true, filter: (s) => !s.includes('/.herd') });
  const cases: Record<string, string[]> = { floor: ['-e', '0'], validate: [bin, 'validate', 'lab'], plan: [bin, 'plan', 'lab'] };
  const times: Record<string, number[]> = { floor: [], validate: [], plan: [] };
  // Warm the file cache and herd's code cache (bin/code-cache.js) once: a command's first run after a build compiles it.
  for (const name of ['validate', 'plan']) seconds([bin, name, 'lab'], scratch);
  for (let i = 0; i < RUNS; i++) for (const [name, args] of Object.entries(cases)) times[name]!.push(seconds(args, scratch, name));
  const floor = median(times.floor!);
  console.log(`start-up (whole process, median of ${RUNS}): node -e 0 ${floor.toFixed(3)} s`);
  for (const name of ['validate', 'plan']) {
    const ratio = median(times[name]!) / floor;
    // The spread of the per-run ratios (each run against the floor measured just before it): wide on a busy machine.
    const ratios = times[name]!.map((t, i) => t / times.floor![i]!).sort((a, b) => a - b);
    const spread = `runs ${ratios[0]!.toFixed(2)}-${ratios[ratios.length - 1]!.toFixed(2)}x`;
    console.log(`  herd ${name} lab  ${median(times[name]!).toFixed(3)} s  ${ratio.toFixed(2)}x floor (${spread})  budget ${BUDGET}x  ${ratio <= BUDGET ? 'OK' : 'OVER'}`);
    // CPU time summed over the runs hardly moves with the machine's load, unlike wall time: a second view, not the budget.
    console.log(`    cpu (user+system, all runs) ${(cpuTicks[name]! / cpuTicks.floor!).toFixed(2)}x floor's`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
