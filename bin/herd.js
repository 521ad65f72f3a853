#!/usr/bin/env node
// Thin process wrapper: everything testable lives in main(argv, io); this file only maps it to the process.
// CommonJS (bin/package.json): an ES module entry would cost Node its ES module loader at every start (issue 17).
'use strict';
const { loadCached } = require('./code-cache.js');

const nodeModule = process.getBuiltinModule('node:module');
const { homedir } = process.getBuiltinModule('node:os');
const { join } = process.getBuiltinModule('node:path');

// Start-up (issue 17): most of a short run is V8 compiling herd's code, so compiled code is kept between runs in the
// user's own cache folder, never beside the spec. Node >= 22.1 does that itself (module.enableCompileCache); before,
// code-cache.js does it for the bundle. No usable folder only means no cache.
let cli;
if (typeof nodeModule.enableCompileCache === 'function') {
  const base = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : undefined);
  try {
    if (base && process.env.HERD_CODE_CACHE !== '0') nodeModule.enableCompileCache(join(base, 'herd', 'compile-cache'));
  } catch {
    // A cache is an optimisation: herd runs the same without one.
  }
} else {
  try {
    cli = loadCached(process.argv[2], process.env);
  } catch {
    // No cached load (an unreadable bundle or cache): the ESM bundle below runs the same.
  }
}
// process.stdin only when a command reads it (apply's prompt): making the stream costs a run that never reads it.
const io = {
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
};
(cli ? Promise.resolve(cli) : import('../dist/cli/main.js'))
  .then(({ main }) => main(process.argv.slice(2), io))
  .then((code) => {
    process.exitCode = code;
  });
