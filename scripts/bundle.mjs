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
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const src = (p) => new URL(`../src/${p}`, import.meta.url).pathname;
const root = new URL('..', import.meta.url).pathname;
const final = new URL('../dist', import.meta.url).pathname;
// Built aside and swapped in whole at the end: a herd started while this runs (a test, another shell) finds the old dist/
// or the new one, never a half-written one.
const dist = new URL(`../node_modules/.cache/herd-dist-${process.pid}/`, import.meta.url).pathname;
const common = { bundle: true, platform: 'node', target: 'node20', minify: true, legalComments: 'none', logLevel: 'warning', charset: 'ascii' };
// bin/code-cache.js reads the CommonJS files as latin1, which is faster than UTF-8 and the same string for ASCII text only.
const ascii = (text, file) => {
  if (/[^\x00-\x7f]/.test(text)) throw new Error(`scripts/bundle.mjs: ${file} is not ASCII`);
  return text;
};

rmSync(dist, { recursive: true, force: true });

// The real zod as one CommonJS file: the stand-in require()s it, which is synchronous, as parsing is.
// Its first line names its hash, as herd.cjs's does: bin/code-cache.js keeps V8's compiled code of it too.
const zodCjs = (await build({ ...common, stdin: { contents: "export { z } from 'zod';", resolveDir: root, loader: 'js' }, outfile: `${dist}zod.cjs`, format: 'cjs', write: false })).outputFiles[0].text;
mkdirSync(dist, { recursive: true });
writeFileSync(`${dist}zod.cjs`, `// herd-build ${createHash('sha256').update(zodCjs).digest('hex').slice(0, 32)}\n${ascii(zodCjs, 'zod.cjs')}`);

// Node's built-ins that are not part of its start-up snapshot cost a start to load (fs/promises with readline, zlib,
// worker_threads, child_process...), yet most runs never call them: `herd plan` of a cluster whose images are not built
// packs nothing. Each is bundled as a stand-in whose exports are getters that load the real module on first use, so
// `zlib.gzipSync`, `new Worker()` and `spawn()` reach the very same functions and classes, only later (issue 17).
const LAZY_BUILTINS = /^node:(zlib|worker_threads|fs\/promises|stream\/promises|child_process|http|net|readline)$/;
const nodeRequire = createRequire(import.meta.url);
// The getters sit on the stand-in's prototype: the bundle's interop helper copies a CommonJS module's own properties into
// a new object for every module importing it, and zlib alone has over a hundred. `load` is the expression giving the real one.
const standIn = (real, load) => [
  'let real;',
  `const load = () => (real ??= ${load});`,
  'const exported = {};',
  `for (const name of ${JSON.stringify(Object.getOwnPropertyNames(real).filter((n) => n !== 'default' && n !== '__esModule'))}) Object.defineProperty(exported, name, { enumerable: true, get: () => load()[name] });`,
  'module.exports = Object.create(exported);',
].join('\n');
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: LAZY_BUILTINS }, (args) => ({ path: args.path, namespace: 'lazy-builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({ contents: standIn(nodeRequire(args.path), `process.getBuiltinModule(${JSON.stringify(args.path)})`), loader: 'js' }));
  },
};

// The yaml package, likewise, evaluated on first use only: herd reads specs with its own subset reader
// (src/spec/simple-yaml.ts) and writes warewulf.conf with its own emitter, so most runs never call it. Same stand-in
// scheme as the built-ins above; the stand-in requires the package by its resolved path, which this plugin leaves alone.
const LAZY_PACKAGES = /^yaml$/;
const lazyPackages = {
  name: 'lazy-packages',
  setup(b) {
    b.onResolve({ filter: LAZY_PACKAGES }, (args) => ({ path: args.path, namespace: 'lazy-package' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-package' }, (args) => {
      const real = nodeRequire.resolve(args.path);
      return { contents: standIn(nodeRequire(real), `require(${JSON.stringify(real)})`), loader: 'js', resolveDir: root };
    });
  },
};

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
  plugins: [deferredZod, lazyBuiltins, lazyPackages],
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
    console.log(`${file.replace(/^.*herd-dist-\d+\//, 'dist/')} ${(out.bytes / 1024).toFixed(0)}K imports ${out.imports.filter((i) => !i.external).map((i) => i.path.replace(/^.*\/chunks\//, '')).join(' ') || '-'}\n    ${top.join(', ')}`);
  }
}

// One CommonJS file for bin/code-cache.js, in dist/cli/ so that the deferred zod's '../zod.cjs' is dist/zod.cjs here too:
// herd.cjs holds every command, and herd-<command>.cjs only that command (main's other commands are stubs), because V8
// reads, hashes and deserialises the whole file and its cache on every run: plan's own file is a third smaller.
const otherCommand = (only) => ({
  name: 'other-command',
  setup(b) {
    b.onResolve({ filter: /^\.\/commands\/[a-z-]+\.ts$/ }, (args) => {
      const name = /([a-z-]+)\.ts$/.exec(args.path)[1];
      return args.importer === src('cli/main.ts') && name !== only ? { path: name, namespace: 'other-command' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'other-command' }, (args) => ({
      contents: `throw new Error('herd: the ${only} bundle cannot run ${args.path}');`,
      loader: 'js',
    }));
  },
});
const commandNames = readdirSync(src('cli/commands')).filter((f) => /^[a-z]{1,20}\.ts$/.test(f)).map((f) => f.slice(0, -3));
mkdirSync(`${dist}cli`, { recursive: true });
await Promise.all(
  [undefined, ...commandNames].map(async (only) => {
    const cjs = await build({
      ...common,
      entryPoints: [src('cli/main.ts')],
      format: 'cjs',
      write: false,
      outfile: `${dist}cli/herd.cjs`,
      // bin/code-cache.js passes the file's URL in, as CommonJS has no import.meta.
      define: { 'import.meta.url': '__herdImportMetaUrl' },
      plugins: only ? [deferredZod, lazyBuiltins, lazyPackages, otherCommand(only)] : [deferredZod, lazyBuiltins, lazyPackages],
    });
    const code = ascii(cjs.outputFiles[0].text, only ? `herd-${only}.cjs` : 'herd.cjs');
    writeFileSync(`${dist}cli/${only ? `herd-${only}` : 'herd'}.cjs`, `// herd-build ${createHash('sha256').update(code).digest('hex').slice(0, 32)}\n${code}`);
  }),
);

// Two renames: the old dist/ aside, the new one in (again, if another build put its own there in between).
const aside = `${dist.slice(0, -1)}-old`;
for (let tries = 0; ; tries++) {
  try {
    renameSync(final, aside);
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  try {
    renameSync(dist, final);
    break;
  } catch (e) {
    if ((e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') || tries >= 5) throw e;
  } finally {
    rmSync(aside, { recursive: true, force: true });
  }
}
