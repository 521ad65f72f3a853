// Loads the CLI bundle with V8's compiled code kept between runs, on Node versions without module.enableCompileCache
// (before 22.1): most of a short herd run is V8 compiling the code it is about to run once. dist/cli/herd.cjs is the
// whole CLI as one CommonJS file and herd-<command>.cjs one command's part of it (scripts/bundle.mjs); after a run, the
// code V8 compiled for it is saved per command in the user's own cache folder and handed back to V8 on the next run of
// that command. V8 refuses a cache from another V8 version or set of flags; the file name carries the bundle's hash,
// because V8 only compares the source's length.
// The cache is code that will run, so it is used only from a folder and a file that belong to this user and that no
// one else can write, and opened without following symlinks. Anything unusual means no cache, never a failure.
// CommonJS (bin/package.json), as bin/herd.js: an ES module entry costs Node its ES module loader at every start.
const { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } = process.getBuiltinModule('node:fs');
const { createRequire } = process.getBuiltinModule('node:module');
const { homedir } = process.getBuiltinModule('node:os');
const { dirname, join } = process.getBuiltinModule('node:path');
const { pathToFileURL } = process.getBuiltinModule('node:url');
const { Script } = process.getBuiltinModule('node:vm');

const DIST = join(__dirname, '../dist/cli/');
const ZOD = join(__dirname, '../dist/zod.cjs');

/** Whether `st` belongs to this user and is not writable by anyone else. */
const ours = (st) => typeof process.getuid !== 'function' || (st.uid === process.getuid() && (st.mode & 0o022) === 0);

function cacheFolder(env) {
  const base = env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : undefined);
  if (!base) return undefined;
  const dir = join(base, 'herd', 'code-cache');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  return st.isDirectory() && ours(st) ? dir : undefined;
}

function readCache(file) {
  let fd;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    return st.isFile() && ours(st) ? readFileSync(fd) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes the cache for one command and drops that command's caches of earlier builds or Node versions. */
function writeCache(dir, name, file, data) {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
    for (const old of readdirSync(dir)) if (old.startsWith(`${name}-`) && old.endsWith('.v8') && join(dir, old) !== file) rmSync(join(dir, old), { force: true });
  } catch {
    rmSync(tmp, { force: true });
  }
}

/**
 * The CLI's exports (main, VERSION...) from dist/cli/herd-<command>.cjs (or herd.cjs) with its code cache for `command`,
 * or undefined when there is no usable cache folder (the caller then imports the ESM bundle, which starts faster without a cache).
 */
function loadCached(command, env) {
  if (env.HERD_CODE_CACHE === '0') return undefined;
  let dir;
  try {
    dir = cacheFolder(env);
  } catch {
    return undefined;
  }
  if (!dir) return undefined;
  const name = /^[a-z]{1,20}$/.test(command ?? '') ? command : 'other';
  // The command's own bundle (herd-plan.cjs: main with only plan) when the build made one, else the whole CLI.
  // The bundle is ASCII (scripts/bundle.mjs checks), so read as latin1: the same string, made faster than from UTF-8.
  let source;
  let bundle = join(DIST, `herd-${name}.cjs`);
  try {
    source = readFileSync(bundle, 'latin1');
  } catch {
    bundle = join(DIST, 'herd.cjs');
    source = readFileSync(bundle, 'latin1');
  }
  // zod (dist/zod.cjs, loaded by the bundle's deferred zod on first use: a state file, a spec of the wrong shape) gets
  // its own cache too; compiling it costs more than the rest of a plan's start. scripts/deferred-zod.mjs calls this hook.
  globalThis[Symbol.for('herd.loadZod')] = () => {
    try {
      return runCached(dir, '_zod', ZOD, readFileSync(ZOD, 'latin1'));
    } catch {
      return undefined;
    }
  };
  return runCached(dir, name, bundle, source);
}

/** module.exports of the CommonJS file `path` (`source`, first line `// herd-build <hash>`) run with the code cache `name` in `dir`. */
function runCached(dir, name, path, source) {
  const id = /^\/\/ herd-build ([0-9a-f]{16,})/.exec(source)?.[1];
  if (!id) return undefined;
  const file = join(dir, `${name}-${id}-${process.version}-${process.arch}.v8`);
  const cachedData = readCache(file);
  const script = new Script(`(function (exports, require, module, __filename, __dirname, __herdImportMetaUrl) {${source}\n})`, { filename: path, cachedData });
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, createRequire(path), mod, path, dirname(path), pathToFileURL(path).href);
  // Saved at exit, so the cache also holds the functions V8 compiled while the command ran; only after a run that got
  // through (exit 0, 1 findings, 2 changes), as a usage error would leave a cache of little more than the argument parser.
  if (cachedData === undefined || script.cachedDataRejected) process.once('exit', (code) => code <= 2 && writeCache(dir, name, file, script.createCachedData()));
  return mod.exports;
}

module.exports = { loadCached };
