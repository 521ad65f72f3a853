// Run herd from the TypeScript sources without building (development only): node --import tsx scripts/herd-dev.ts <command> ...
import { main } from '../src/cli/main.ts';
const code = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
process.exitCode = code;
