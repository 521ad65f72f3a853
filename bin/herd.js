#!/usr/bin/env node
// Thin process wrapper: everything testable lives in main(argv, io); this file only maps it to the process.
import { loadCached } from './code-cache.js';

const module = process.getBuiltinModule('node:module');
const { homedir } = process.getBuiltinModule('node:os');
const { join } = process.getBuiltinModule('node:path');

// Start-up (issue 17): most of a short run is V8 compiling herd's code, so compiled code is kept between runs in the
// user's own cache folder, never beside the spec. Node >= 22.1 does that itself (module.enableCompileCache); before,
// code-cache.js does it for the bundle. No usable folder only means no cache.
let cli;
if (typeof module.enableCompileCache === 'function') {
  const base = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : undefined);
  try {
    if (base && process.env.HERD_CODE_CACHE !== '0') module.enableCompileCache(join(base, 'herd', 'compile-cache'));
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
const { main } = cli ?? (await import('../dist/cli/main.js'));
const code = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
