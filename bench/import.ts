// Benchmark: herd import of a 10,000-node site (issue #16: under 2 s), printed as a ratio to the floor of merely parsing the
// site's nodes.conf with the yaml package. The site is what herd builds from bench/validate.ts's 10,000-node spec.
import { parseDocument } from 'yaml';
import { checkSpec } from '../src/spec/check-spec.ts';
import { compileConfig } from '../src/compile/compile-cluster.ts';
import { importSite, type TextFile } from '../src/import/import-site.ts';
import { generateRangedSpec, time } from './validate.ts';

export function benchImport(nodes = 10_000): void {
  const g = generateRangedSpec(nodes);
  const model = checkSpec('big.yaml', g.spec, () => ({ overlayFiles: {}, inventory: { file: 'inventory.csv', text: g.inventory } })).model;
  if (!model) throw new Error('generated spec did not validate');
  const files = new Map<string, Uint8Array>();
  for (const a of compileConfig(model, { specDisplayPath: 'cluster.yaml' })) if (a.bytes) files.set(a.path, a.bytes);
  const f = (p: string): TextFile => ({ file: p, bytes: files.get(p)! });
  const input = {
    nodesConf: f('etc/warewulf/nodes.conf'),
    warewulfConf: f('etc/warewulf/warewulf.conf'),
    slurm: { main: f('etc/slurm/slurm.conf'), includes: new Map() },
    ...(files.has('etc/slurm/gres.conf') ? { gresConf: f('etc/slurm/gres.conf') } : {}),
    siteOverlays: new Map<string, string[]>(),
  };
  const nodesText = new TextDecoder().decode(files.get('etc/warewulf/nodes.conf'));
  const parseMs = time(() => parseDocument(nodesText, { uniqueKeys: false }), 3);
  let ok = false;
  const importMs = time(() => {
    ok = importSite(input).specText !== undefined;
  }, 3);
  if (!ok) throw new Error('the import failed');
  console.log(`herd import: ${nodes.toLocaleString('en')} nodes (nodes.conf ${(nodesText.length / 1e6).toFixed(1)} MB), median of 3`);
  console.log(`  yaml parse of nodes.conf only ${parseMs.toFixed(0).padStart(6)} ms`);
  console.log(`  herd import (parse, map, validate, compile, compare) ${importMs.toFixed(0).padStart(6)} ms   ${(importMs / parseMs).toFixed(1)}x the parse   budget < 2000 ms: ${importMs < 2000 ? 'OK' : 'OVER'}`);
}

if (import.meta.url === `file://${process.argv[1]}`) benchImport();
