// A child process for the fault-injection and concurrency tests (I/O): `herd apply --yes` of synthetic version A or B through main().
// Usage: node --import tsx test/unit/state/apply-child.ts <A|B> <root> [extra herd flags...]; test hooks come from HERD_TEST_* env vars.
import { dirname } from 'node:path';
import { sha256Hex } from '../../../src/artifacts/artifact.ts';
import { makeApplyCommand } from '../../../src/cli/commands/apply.ts';
import { main, registerCommand } from '../../../src/cli/main.ts';
import { fakeCompile, versionSet, type Version } from './synthetic-artifacts.ts';

const [version, root, ...extra] = process.argv.slice(2) as [Version, string, ...string[]];
const specDir = dirname(root);
registerCommand('apply', 'apply', async () => makeApplyCommand({ compile: fakeCompile(versionSet(version), specDir, sha256Hex(`spec-${version}`)), herdVersion: 'test' }));
process.exitCode = await main(['apply', specDir, '--root', root, '--yes', ...extra], {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: specDir,
});
