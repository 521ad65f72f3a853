// Benchmark: herd import of a 10,000-node site (issue #16: under 2 s). The site is what herd builds from bench/validate.ts's
// 10,000-node spec, with herd's generated comments taken out of nodes.conf and slurm.conf so that, as for any site herd did
// not write, the files differ in bytes and the import compares them node by node. Printed: the import in process as a ratio
// to the floor of merely parsing nodes.conf with the yaml package, and `herd import` as a whole process (the bundle in dist/,
// start-up included) against the 2 s budget, each the median of several runs, measured alternately (the machine is shared).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { checkSpec } from '../src/spec/check-spec.ts';
import { compileConfig } from '../src/compile/compile-cluster.ts';
import { importSite, type SiteInput, type TextFile } from '../src/import/import-site.ts';
import { generateRangedSpec } from './validate.ts';

const BUDGET_MS = 2000;
const RUNS = 5;
/** CPU seconds of this process's finished children (Linux /proc, clock ticks of 10 ms): a busy machine stretches wall time, much less this. */
function childCpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (fn: () => void): number => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};

/** The site's files by path under the root: herd's build of the spec, generated comment lines removed from two of them. */
export function benchSite(nodes: number): Map<string, Uint8Array> {
  const g = generateRangedSpec(nodes);
  const model = checkSpec('big.yaml', g.spec, () => ({ overlayFiles: {}, inventory: { file: 'inventory.csv', text: g.inventory } })).model;
  if (!model) throw new Error('generated spec did not validate');
  const files = new Map<string, Uint8Array>();
  for (const a of compileConfig(model, { specDisplayPath: 'cluster.yaml' })) if (a.bytes) files.set(a.path, a.bytes);
  for (const p of ['etc/warewulf/nodes.conf', 'etc/slurm/slurm.conf']) {
    const text = new TextDecoder().decode(files.get(p));
    files.set(p, new TextEncoder().encode(text.split('\n').filter((l) => !l.startsWith('#')).join('\n')));
  }
  return files;
}

export function benchImport(nodes = 10_000): void {
  const files = benchSite(nodes);
  const f = (p: string): TextFile => ({ file: p, bytes: files.get(p)! });
  const input: SiteInput = {
    nodesConf: f('etc/warewulf/nodes.conf'),
    warewulfConf: f('etc/warewulf/warewulf.conf'),
    slurm: { main: f('etc/slurm/slurm.conf'), includes: new Map() },
    ...(files.has('etc/slurm/gres.conf') ? { gresConf: f('etc/slurm/gres.conf') } : {}),
    siteOverlays: new Map<string, string[]>(),
  };
  const nodesText = new TextDecoder().decode(files.get('etc/warewulf/nodes.conf'));
  const repo = fileURLToPath(new URL('..', import.meta.url));
  const scratch = mkdtempSync(join(tmpdir(), 'herd-bench-import-'));
  try {
    for (const [p, bytes] of files) {
      mkdirSync(dirname(join(scratch, 'site', p)), { recursive: true });
      writeFileSync(join(scratch, 'site', p), bytes);
    }
    let run = 0;
    const cpu: number[] = [];
    const cli = (): number => {
      const out = join(scratch, `out${run++}`, 'cluster.yaml');
      let status: number | null = null;
      const c = childCpuMs();
      const t = ms(() => {
        status = spawnSync(process.execPath, [join(repo, 'bin/herd.js'), 'import', '--from', join(scratch, 'site'), '--out', out], { stdio: 'ignore', env: { ...process.env, XDG_CACHE_HOME: join(scratch, 'cache') } }).status;
      });
      if (status !== 0) throw new Error(`herd import exited ${status}`);
      cpu.push(childCpuMs() - c);
      return t;
    };
    cli(); // warms the file cache and herd's code cache
    cpu.length = 0;
    const times = { parse: [] as number[], inProcess: [] as number[], process: [] as number[], floor: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      times.parse.push(ms(() => parseDocument(nodesText, { uniqueKeys: false })));
      times.inProcess.push(ms(() => {
        const r = importSite(input);
        if (r.specText === undefined) throw new Error('the import failed');
      }));
      times.process.push(cli());
      times.floor.push(ms(() => spawnSync(process.execPath, ['-e', '0'], { stdio: 'ignore' })));
    }
    const [parse, inProcess, whole, floor] = [median(times.parse), median(times.inProcess), median(times.process), median(times.floor)];
    console.log(`herd import: ${nodes.toLocaleString('en')} nodes (nodes.conf ${(nodesText.length / 1e6).toFixed(1)} MB), median of ${RUNS}`);
    console.log(`  yaml parse of nodes.conf only ${parse.toFixed(0).padStart(6)} ms`);
    console.log(`  importSite (parse, map, validate, compile, compare) ${inProcess.toFixed(0).padStart(6)} ms   ${(inProcess / parse).toFixed(2)}x the parse`);
    const cpuMs = median(cpu);
    console.log(`  herd import as a process ${whole.toFixed(0).padStart(6)} ms   ${(whole / floor).toFixed(1)}x node -e 0 (${floor.toFixed(0)} ms)   ${(whole / BUDGET_MS).toFixed(2)}x the budget of ${BUDGET_MS} ms: ${whole < BUDGET_MS ? 'OK' : 'OVER'}`);
    console.log(`  its CPU time (user + system) ${cpuMs.toFixed(0).padStart(6)} ms   ${(cpuMs / BUDGET_MS).toFixed(2)}x the budget: ${cpuMs < BUDGET_MS ? 'OK' : 'OVER'}   (load average ${loadavg()[0]!.toFixed(1)} on this machine)`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) benchImport();
