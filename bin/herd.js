#!/usr/bin/env node
// Thin process wrapper: everything testable lives in main(argv, io); this file only maps it to the process.
import { main } from '../dist/cli/main.js';

const code = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
