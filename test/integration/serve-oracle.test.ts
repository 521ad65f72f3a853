// Integration: herd serve and the real warewulfd (Warewulf 4.6.5's own `wwctl server`, from the oracle build) serve the same
// applied root side by side; every stage for c1, the URL forms and an unknown MAC get the same status and the same bytes.
// The iPXE script may differ only in the server's port, which is normalised.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfinedDir } from '../../src/fs/confined-dir.ts';
import { compileSpecAt } from '../../src/pipeline.ts';
import { startServe, type RunningServer } from '../../src/serve/http-server.ts';
import { serveModelOf } from '../../src/serve/serve-model.ts';
import { applyTinyCluster, TINY_MACS, type AppliedRoot } from '../fixtures/applied-root.ts';
import { freePort, get, waitUntilUp, type Reply } from '../fixtures/local-http.ts';

const CACHE = fileURLToPath(new URL('../.cache', import.meta.url));
const ORACLE_WORK = process.env.WW_ORACLE_WORK ?? '/tmp/ww-oracle';
const ORACLE_BIN = join(ORACLE_WORK, 'bin', 'wworacle');
const haveOracle = existsSync(ORACLE_BIN);
if (!haveOracle && process.env.CI_REQUIRE_ORACLE === '1') throw new Error(`CI_REQUIRE_ORACLE=1 but the Warewulf oracle ${ORACLE_BIN} is missing (run ../shared/oracles/warewulf/build.sh)`);

let applied: AppliedRoot;
let herd: RunningServer;
let herdLog = '';
let oracle: ChildProcess | undefined;
let oracleLog = '';
let oraclePort = 0;
const scratch: string[] = [];

/**
 * Start warewulfd as run.sh's `server` does, but with the chroot dir pointing into the applied root: run.sh pins
 * WW_ORACLE_PATH_WWCHROOTDIR to the oracle's own tree, where no kernel of this image is. Everything else is the same:
 * nodes.conf and warewulf.conf staged as <sysconfdir>/warewulf/ (port patched) beside the stock iPXE templates.
 */
async function startOracle(root: string): Promise<void> {
  const etc = mkdtempSync(join(tmpdir(), 'herd-ww-etc-'));
  const site = mkdtempSync(join(tmpdir(), 'herd-ww-site-'));
  const state = mkdtempSync(join(tmpdir(), 'herd-ww-state-'));
  scratch.push(etc, site, state);
  mkdirSync(join(etc, 'warewulf'));
  cpSync(join(root, 'etc/warewulf/nodes.conf'), join(etc, 'warewulf/nodes.conf'));
  oraclePort = await freePort();
  const conf = readFileSync(join(root, 'etc/warewulf/warewulf.conf'), 'utf8');
  expect(conf).toMatch(/^ {2}port: 9873$/m);
  writeFileSync(join(etc, 'warewulf/warewulf.conf'), conf.replace(/^ {2}port: 9873$/m, `  port: ${oraclePort}`));
  cpSync(join(ORACLE_WORK, 'root/etc/warewulf/ipxe'), join(etc, 'warewulf/ipxe'), { recursive: true });
  const env = {
    ...process.env,
    WW_ORACLE_NODESCONF: join(etc, 'warewulf/nodes.conf'),
    WW_ORACLE_PATH_DATADIR: join(ORACLE_WORK, 'root/usr/share'),
    WW_ORACLE_PATH_WWCHROOTDIR: join(root, 'var/lib/warewulf/chroots'),
    WW_ORACLE_PATH_WWOVERLAYDIR: site,
    WW_ORACLE_PATH_WWPROVISIONDIR: join(root, 'var/lib/warewulf/provision'),
    WW_ORACLE_PATH_CACHEDIR: join(state, 'cache'),
    WW_ORACLE_PATH_LOCALSTATEDIR: join(state, 'var'),
  };
  oracle = spawn(ORACLE_BIN, ['--warewulfconf', join(etc, 'warewulf/warewulf.conf'), 'server'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  oracle.stdout!.on('data', (c) => (oracleLog += String(c)));
  oracle.stderr!.on('data', (c) => (oracleLog += String(c)));
  await waitUntilUp(oraclePort, oracle, () => oracleLog, 60_000);
}

beforeAll(async () => {
  if (!haveOracle) return;
  applied = await applyTinyCluster(CACHE);
  const compiled = await compileSpecAt(applied.specDir, applied.work, { images: false });
  if (!compiled.model) throw new Error('spec did not compile');
  const model = compiled.model;
  herd = await startServe({
    root: ConfinedDir.open(applied.root, { what: 'root' }),
    rootDisplay: applied.root,
    host: '127.0.0.1',
    port: 0,
    model: (port) => serveModelOf(model, { port, secure: false }),
    log: (l) => (herdLog += l),
  });
  await startOracle(applied.root);
}, 900_000);

afterAll(async () => {
  await herd?.close();
  oracle?.kill('SIGTERM');
  applied?.cleanup();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

const mac = TINY_MACS.c1;
const hyphenUpper = mac.replaceAll(':', '-').toUpperCase();
const unknown = '52:54:00:ff:ff:01';

/** Requests both servers must answer alike: [label, path, options]. */
const CASES: [string, string, { method?: string; headers?: Record<string, string> }?][] = [
  ['ipxe via /provision', `/provision/${mac}`],
  ['ipxe via /ipxe with an upper-case hyphen MAC', `/ipxe/${hyphenUpper}`],
  ['ipxe stage parameter', `/provision/${hyphenUpper}?stage=ipxe`],
  ['ipxe refuses compress', `/provision/${mac}?stage=ipxe&compress=gz`],
  ['kernel', `/provision/${mac}?stage=kernel`],
  ['kernel via /kernel', `/kernel/${hyphenUpper}`],
  ['image', `/provision/${mac}?stage=image`],
  ['image gz', `/provision/${mac}?stage=image&compress=gz`],
  ['system', `/provision/${mac}?stage=system`],
  ['system gz', `/provision/${mac}?stage=system&compress=gz`],
  ['runtime', `/provision/${mac}?stage=runtime`],
  ['runtime gz', `/provision/${mac}?stage=runtime&compress=gz`],
  ['/overlay-system', `/overlay-system/${hyphenUpper}`],
  ['/overlay-runtime', `/overlay-runtime/${mac}?compress=gz`],
  ['/container without a stage', `/container/${mac}`],
  ['/container with stage=image', `/container/${mac}?stage=image`],
  ['/image is not a route', `/image/${mac}`],
  ['an unknown stage', `/provision/${mac}?stage=bogus`],
  ['no MAC', '/provision/'],
  ['unknown MAC: ipxe', `/provision/${unknown}`],
  ['unknown MAC: kernel', `/provision/${unknown}?stage=kernel`],
  ['unknown MAC: image gz', `/provision/${unknown}?stage=image&compress=gz`],
  ['unknown MAC: runtime', `/overlay-runtime/${unknown}`],
  ['HEAD of the image', `/provision/${mac}?stage=image&compress=gz`, { method: 'HEAD' }],
  ['a range of the image', `/provision/${mac}?stage=image`, { headers: { Range: 'bytes=100-1099' } }],
  ['a suffix range', `/provision/${mac}?stage=system&compress=gz`, { headers: { Range: 'bytes=-10' } }],
  ['an open range', `/provision/${mac}?stage=kernel`, { headers: { Range: 'bytes=1000-' } }],
  ['a range past the end', `/provision/${mac}?stage=image`, { headers: { Range: 'bytes=999999999-' } }],
  ['a malformed range', `/provision/${mac}?stage=image`, { headers: { Range: 'lines=1-2' } }],
  ['a traversal in the path', `/provision/../etc/warewulf/nodes.conf`],
  ['an encoded traversal', `/provision/%2e%2e/%2e%2e/etc/passwd`],
];

/** Text bodies as text (port normalised), binary ones as size and sha256, so a mismatch prints something readable. */
function normalise(r: Reply, port: number): string {
  const text = r.body.toString('latin1');
  if (/^[\t\n\r\x20-\x7e]*$/.test(text)) return text.replaceAll(`:${port}`, ':PORT').replaceAll(`Port: ${port}\n`, 'Port: PORT\n');
  return `${r.body.length} bytes sha256:${createHash('sha256').update(r.body).digest('hex')}`;
}

describe.skipIf(!haveOracle)('herd serve answers like Warewulf 4.6.5 warewulfd over the same applied root', () => {
  it.each(CASES)('%s', async (_label, path, opts) => {
    const ours = await get(herd.port, path, opts);
    const theirs = await get(oraclePort, path, opts);
    const ctx = `herd log:\n${herdLog.split('\n').slice(-8).join('\n')}\nwarewulfd log:\n${oracleLog.split('\n').slice(-8).join('\n')}`;
    expect(ours.status, ctx).toBe(theirs.status);
    expect(normalise(ours, herd.port), ctx).toBe(normalise(theirs, oraclePort));
    for (const h of ['content-range', 'accept-ranges', 'content-length', 'location']) expect(ours.headers[h], `${h}\n${ctx}`).toEqual(theirs.headers[h]);
  });

  it('answers an unknown compression with 404 like warewulfd, but without the file warewulfd streams after that 404 (a known difference)', async () => {
    const path = `/provision/${mac}?stage=image&compress=xz`;
    const ours = await get(herd.port, path);
    const theirs = await get(oraclePort, path);
    expect([ours.status, theirs.status]).toEqual([404, 404]);
    expect(ours.body.length).toBe(0);
    // provision.go writes the 404 header, then still calls sendFile ("superfluous response.WriteHeader").
    expect(theirs.body.equals(readFileSync(join(applied.root, 'var/lib/warewulf/provision/images/tiny.img')))).toBe(true);
  });

  it('logs every request the way warewulfd does', () => {
    const shape = (log: string) =>
      log
        .split('\n')
        .filter((l) => l.includes('request from hwaddr:'))
        .map((l) => l.replace(/^\[[^\]]+\] /, '').replace(/ipaddr:127\.0\.0\.1:\d+/, 'ipaddr:127.0.0.1:PORT'));
    expect(shape(herdLog).length).toBeGreaterThan(20);
    expect(shape(herdLog)).toEqual(shape(oracleLog));
    expect(herdLog).toMatch(/^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}\] request from hwaddr:52:54:00:12:34:56 ipaddr:127\.0\.0\.1:\d+ \| stage:ipxe$/m);
    expect(oracleLog).toMatch(/^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \w+ \d{4}\] request from hwaddr:52:54:00:12:34:56 ipaddr:127\.0\.0\.1:\d+ \| stage:ipxe$/m);
    expect(herdLog).toMatch(/\] WARN {3}: node not configured: 52:54:00:ff:ff:01\n.*\] ERROR {2}: 52:54:00:ff:ff:01 \(unknown\/unconfigured node\)\n/);
    expect(oracleLog).toMatch(/\] WARN {3}: node not configured: 52:54:00:ff:ff:01\n.*\] ERROR {2}: 52:54:00:ff:ff:01 \(unknown\/unconfigured node\)\n/);
  });
  it('serves real bytes: c1\'s iPXE script fetches what the other stages return, and the kernel is the image\'s', async () => {
    const script = (await get(herd.port, `/provision/${mac}`)).body.toString('utf8');
    expect(script).toContain(`set baseuri http://10.9.0.1:${herd.port}/provision/${mac}`);
    expect(script).toContain(`boot kernel initrd=image initrd=system \${runtime_initrd} wwid=${mac} console=ttyS0 panic=1 || goto error_reboot`);
    const kernel = (await get(herd.port, `/provision/${mac}?stage=kernel`)).body;
    expect(kernel.equals(readFileSync(applied.kernel.vmlinuz))).toBe(true);
    const gz = (await get(herd.port, `/provision/${mac}?stage=image&compress=gz`)).body;
    expect(gz.equals(readFileSync(join(applied.root, 'var/lib/warewulf/provision/images/tiny.img.gz')))).toBe(true);
  });

});
