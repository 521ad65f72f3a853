// Whole-process `herd validate` of generated 10,000 / 100,000 / 1,000,000-node specs (ranges plus an inventory CSV), with peak RSS (issue #17).
// Run: node --import tsx bench/validate-scale.ts [--runs N] [--dir /tmp/herd-bench-validate] [--skip-million]
// Budgets: 100,000 nodes under 3 s and under 400 MB; time per node about the same at 10k and 100k (linear);
// 1,000,000 nodes either validated or refused with a diagnostic, with memory proportional to the input, never a crash.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const GEN_VERSION = 'v1';
/** Slurm refuses more names than this in one bracket range, so the generator writes ranges of at most this many. */
const CHUNK = 50_000;
const repo = fileURLToPath(new URL('..', import.meta.url));
const bin = join(repo, 'bin/herd.js');

const ipOf = (ip: number): string => [(ip >>> 24) & 255, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
const macOf = (i: number): string => `02:00:${[(i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;

/** A valid spec of `nodes` nodes in three hardware classes (80/10/10 %), written as ranges; MACs and racks from inventory.csv. */
export function generateScaleSpec(nodes: number): { spec: string; inventory: string } {
  const width = String(nodes).length;
  const name = (i: number): string => `n${String(i + 1).padStart(width, '0')}`;
  const range = (lo: number, hi: number): string => `n[${String(lo + 1).padStart(width, '0')}-${String(hi + 1).padStart(width, '0')}]`;
  const classes: [string, number, number][] = [['cpu', 0, Math.floor(nodes * 0.8)], ['big', Math.floor(nodes * 0.8), Math.floor(nodes * 0.9)], ['gpu', Math.floor(nodes * 0.9), nodes]];
  const lines = [
    'apiVersion: herd.dev/v1alpha1', 'kind: Cluster', 'name: big', 'head: { name: head, address: 10.0.0.1 }',
    'network: { cidr: 10.0.0.0/8, gateway: 10.0.0.1, interface: eth0 }', 'nfs: { /home: {} }',
    'images:', '  cpu: { source: "oci:images/cpu", requires: [slurmd, munged, mount.nfs], size: 2GiB }', '  gpu: { source: "oci:images/gpu", requires: [slurmd, munged, mount.nfs], size: 6GiB }',
    'profiles:', '  cpu: { image: cpu, memory: 256GiB, cpus: 64, sockets: 2, cores_per_socket: 32 }', '  big: { image: cpu, memory: 1TiB, cpus: 128, sockets: 2, cores_per_socket: 64 }',
    '  gpu: { image: gpu, memory: 512GiB, cpus: 48, sockets: 2, cores_per_socket: 24, gpus: { type: a100, count: 4 } }',
    'inventory: inventory.csv', 'nodes:',
  ];
  const all: string[] = [];
  for (const [prof, from, to] of classes) {
    for (let lo = from; lo < to; lo += CHUNK) {
      const hi = Math.min(to, lo + CHUNK) - 1;
      lines.push(`  "${range(lo, hi)}": { profiles: [${prof}], address: ${ipOf(0x0a000000 + 256 + lo)} }`);
      all.push(range(lo, hi));
    }
  }
  lines.push('slurm:', '  partitions:', `    all: { nodes: [${all.map((r) => `"${r}"`).join(', ')}], default: true, max_time: "1-00:00:00" }`);
  const rows = ['name,mac,rack'];
  for (let i = 0; i < nodes; i++) rows.push(`${name(i)},${macOf(i)},r${Math.floor(i / 40) + 1}`);
  return { spec: lines.join('\n') + '\n', inventory: rows.join('\n') + '\n' };
}

interface Run {
  readonly seconds: number;
  /** User + system CPU seconds: on a shared machine the wall time also counts waiting for a core. */
  readonly cpu: number;
  readonly rssMiB: number;
  readonly status: number | null;
  readonly signal: string | null;
  readonly summary: string;
}

/** One whole `node bin/herd.js validate DIR`, timed here, its peak RSS from GNU time (the child's own, not this process's). */
function validate(dir: string, timeoutS: number): Run {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'HERD_BENCH_RSS_KB=%M CPU=%U+%S', process.execPath, bin, 'validate', dir, '--max-diagnostics', '5'], { encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 << 20 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const rss = /HERD_BENCH_RSS_KB=(\d+) CPU=([\d.]+)\+([\d.]+)/.exec(r.stderr ?? '');
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('HERD_BENCH_RSS_KB='));
  const crash = out.find((l) => /^\s+at .+:\d+:\d+\)?$|FATAL ERROR|heap out of memory|Maximum call stack|internal error/.test(l));
  const summary = crash ?? out.filter((l) => !l.startsWith('Command exited with')).pop() ?? '';
  return { seconds, cpu: rss ? Number(rss[2]) + Number(rss[3]) : NaN, rssMiB: rss ? Number(rss[1]) / 1024 : NaN, status: r.status, signal: r.signal ?? (crash ? 'crash' : null), summary };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function prepare(base: string, nodes: number): string {
  const dir = join(base, String(nodes));
  const stamp = join(dir, 'stamp');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === GEN_VERSION) return dir;
  mkdirSync(dir, { recursive: true });
  const { spec, inventory } = generateScaleSpec(nodes);
  writeFileSync(join(dir, 'cluster.yaml'), spec);
  writeFileSync(join(dir, 'inventory.csv'), inventory);
  writeFileSync(stamp, GEN_VERSION);
  return dir;
}

function main(): void {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, dir: { type: 'string', default: '/tmp/herd-bench-validate' }, 'skip-million': { type: 'boolean', default: false } } });
  const runs = Number(values.runs);
  const lab = join(repo, 'clusters/lab');
  const sizes = [10_000, 100_000];
  const dirs = new Map(sizes.map((n) => [n, prepare(values.dir, n)]));
  // Warm the page cache and herd's code cache once.
  validate(lab, 60);
  for (const d of dirs.values()) validate(d, 120);
  const all = new Map<number, Run[]>([[0, []], ...sizes.map((n) => [n, []] as [number, Run[]])]);
  for (let i = 0; i < runs; i++) {
    all.get(0)!.push(validate(lab, 60));
    for (const n of sizes) all.get(n)!.push(validate(dirs.get(n)!, 120));
  }
  const wall = (n: number): number => median(all.get(n)!.map((r) => r.seconds));
  const cpu = (n: number): number => median(all.get(n)!.map((r) => r.cpu));
  console.log(`validate at scale: whole process \`herd validate DIR\`, ranges + inventory CSV, median of ${runs}; the lab (fixed cost) ${wall(0).toFixed(2)} s wall, ${cpu(0).toFixed(2)} s CPU`);
  for (const n of sizes) {
    const rss = Math.max(...all.get(n)!.map((r) => r.rssMiB));
    const bad = all.get(n)!.find((r) => r.status !== 0 || r.signal !== null);
    const budget = n === 100_000 ? `  budget < 3 s and < 400 MiB: ${wall(n) < 3 && rss < 400 ? 'OK' : 'OVER'}` : '';
    console.log(`  ${String(n).padStart(9)} nodes  ${wall(n).toFixed(2).padStart(6)} s wall  ${cpu(n).toFixed(2).padStart(6)} s CPU (user+sys)  peak RSS ${rss.toFixed(0).padStart(5)} MiB${budget}`);
    if (bad) console.log(`      exit ${bad.status}${bad.signal ? ` (${bad.signal})` : ''}: ${bad.summary}`);
  }
  // Linearity: time per node beyond the lab's fixed cost, 100k against 10k (1.0 is linear). CPU time too: the machine is shared.
  const lin = (f: (n: number) => number): number => (f(100_000) - f(0)) / 100_000 / ((f(10_000) - f(0)) / 10_000);
  console.log(`  time per node 100k / 10k: ${lin(wall).toFixed(2)} wall, ${lin(cpu).toFixed(2)} CPU (linear is 1.0; budget ≤ 1.5): ${lin(wall) <= 1.5 ? 'OK' : 'OVER'}`);
  if (values['skip-million']) return;
  const big = validate(prepare(values.dir, 1_000_000), 600);
  const ok = big.signal === null && (big.status === 0 || big.status === 1);
  const proportional = big.rssMiB / Math.max(...all.get(100_000)!.map((r) => r.rssMiB));
  console.log(`  1,000,000 nodes  ${big.seconds.toFixed(2)} s wall  ${big.cpu.toFixed(2)} s CPU  peak RSS ${big.rssMiB.toFixed(0)} MiB (${proportional.toFixed(1)}x the 100k run's)  exit ${big.status}${big.signal ? ` (${big.signal})` : ''}: ${big.summary}`);
  console.log(`  1,000,000 nodes validated or refused with a diagnostic, no crash, RSS ≤ 12x the 100k run's: ${ok && proportional <= 12 ? 'OK' : 'OVER'}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
