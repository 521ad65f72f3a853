// Builds dist/ for the CLI: one bundled ESM entry (dist/cli/main.js) plus a lazily loaded chunk per command, so a command
// loads only the code it runs, in a few files instead of hundreds of modules (issue 17: start-up near Node's own floor).
// Type checking is tsc's job (npm run typecheck); this only transpiles and links.
//
// zod builds herd's schemas as modules load, yet most runs never parse with them, and compiling and evaluating zod costs
// more than the rest of `herd validate`. So in the bundle `zod` is scripts/deferred-zod.mjs, which records each schema and
// loads the real zod (dist/zod.cjs) the first time a schema is used: when a spec's shape is wrong, or a state file is read.
// `HERD_BUNDLE_ANALYZE=1 node scripts/bundle.mjs` prints what each chunk holds.
//
// dist/cli/herd.cjs is the same CLI as one CommonJS file, which bin/code-cache.js can hand to V8 with the compiled code
// of earlier runs (Node before 22.1 has no compile cache for ES modules). Its first line names its hash.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';

const src = (p) => new URL(`../src/${p}`, import.meta.url).pathname;
const root = new URL('..', import.meta.url).pathname;
const dist = new URL('../dist/', import.meta.url).pathname;
const common = { bundle: true, platform: 'node', target: 'node20', minify: true, legalComments: 'none', logLevel: 'warning' };

rmSync(dist, { recursive: true, force: true });

// The real zod as one CommonJS file: the stand-in require()s it, which is synchronous, as parsing is.
await build({ ...common, stdin: { contents: "export { z } from 'zod';", resolveDir: root, loader: 'js' }, outfile: `${dist}zod.cjs`, format: 'cjs' });

const deferredZod = {
  name: 'deferred-zod',
  setup(b) {
    b.onResolve({ filter: /^zod$/ }, () => ({ path: new URL('deferred-zod.mjs', import.meta.url).pathname }));
  },
};

const result = await build({
  ...common,
  entryPoints: { 'cli/main': src('cli/main.ts') },
  outdir: dist,
  splitting: true,
  format: 'esm',
  chunkNames: 'chunks/[name]-[hash]',
  // Some bundled CommonJS dependencies call require() for Node built-ins; give the ESM output a require to call.
  banner: { js: "import { createRequire as __herdCreateRequire } from 'node:module'; const require = __herdCreateRequire(import.meta.url);" },
  plugins: [deferredZod],
  metafile: Boolean(process.env.HERD_BUNDLE_ANALYZE),
});
if (result.metafile) {
  for (const [file, out] of Object.entries(result.metafile.outputs)) {
    const byPackage = {};
    for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
      const key = input.split('/').slice(0, 2).join('/');
      byPackage[key] = (byPackage[key] ?? 0) + bytesInOutput;
    }
    const top = Object.entries(byPackage).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => `${k} ${(n / 1024).toFixed(0)}K`);
    console.log(`${file} ${(out.bytes / 1024).toFixed(0)}K imports ${out.imports.filter((i) => !i.external).map((i) => i.path.replace('dist/chunks/', '')).join(' ') || '-'}\n    ${top.join(', ')}`);
  }
}

// One CommonJS file for bin/code-cache.js, in dist/cli/ so that the deferred zod's '../zod.cjs' is dist/zod.cjs here too.
const cjs = await build({
  ...common,
  entryPoints: [src('cli/main.ts')],
  format: 'cjs',
  write: false,
  outfile: `${dist}cli/herd.cjs`,
  // bin/code-cache.js passes the file's URL in, as CommonJS has no import.meta.
  define: { 'import.meta.url': '__herdImportMetaUrl' },
  plugins: [deferredZod],
});
const code = cjs.outputFiles[0].text;
mkdirSync(`${dist}cli`, { recursive: true });
writeFileSync(`${dist}cli/herd.cjs`, `// herd-build ${createHash('sha256').update(code).digest('hex').slice(0, 32)}\n${code}`);
