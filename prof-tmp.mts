import { main } from './src/cli/main.ts';
const t = Date.now();
const code = await main(process.argv.slice(2), { stdin: process.stdin, stdout: { write: () => true } as any, stderr: process.stderr, env: process.env as any, cwd: process.cwd() });
console.error('code', code, Date.now() - t, 'ms');
