// Builds dist/ for the CLI: one bundled ESM entry (dist/cli/main.js) plus a lazily loaded chunk per command, so a command
// loads only the code it runs, in a few files instead of hundreds of modules (issue 17: start-up near Node's own floor).
// Type checking is tsc's job (npm run typecheck); this only transpiles and links.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

const dist = new URL('../dist/', import.meta.url).pathname;
rmSync(dist, { recursive: true, force: true });
await build({
  entryPoints: { 'cli/main': new URL('../src/cli/main.ts', import.meta.url).pathname },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // Some bundled CommonJS dependencies call require() for Node built-ins; give the ESM output a require to call.
  banner: { js: "import { createRequire as __herdCreateRequire } from 'node:module'; const require = __herdCreateRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
});
