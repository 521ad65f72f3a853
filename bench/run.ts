// npm run bench: every benchmark, each printing its budget as ratios against a reference measured in the same run.
// validate/compile (issues #3/#4), no-op plan vs the hashing floor (#5), image packing vs find|cpio|gzip/pigz (#6).
// Whole-process start-up of validate and plan vs node -e 0, and no-change plan/build with an image (#17). herd import of 10,000 nodes vs the bare YAML parse (#16).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchValidate } from './validate.ts';

benchValidate();
let failed = false;
for (const script of ['startup.ts', 'validate-scale.ts', 'no-change.ts', 'plan.ts', 'import.ts', 'image-rebuild.ts', 'image-pack.ts']) {
  console.log('');
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(script, import.meta.url))], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exitCode = failed ? 1 : 0;
