import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSpecFromDisk } from '../../../src/spec/load-from-disk.ts';
import type { ClusterModel } from '../../../src/spec/model.ts';
import { routeRequest } from '../../../src/serve/parse-request.ts';
import { decideProvision, type ProvisionAnswer, type RootView } from '../../../src/serve/provision.ts';
import { serveModelOf, type ServeModel } from '../../../src/serve/serve-model.ts';
import { fakeRoot } from './fake-root.ts';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const C1 = '52:54:00:aa:00:01';
const STATE = 'srv/warewulf';
const KERNEL = `${STATE}/chroots/rockylinux-10/rootfs/lib/modules/6.12.0-55.9.1.el10_0.x86_64/vmlinuz`;
const IMG = `${STATE}/provision/images/rockylinux-10.img`;
const SYS = `${STATE}/provision/overlays/c1/__SYSTEM__.img`;
const RT = `${STATE}/provision/overlays/c1/__RUNTIME__.img`;
const APPLIED = [KERNEL, IMG, `${IMG}.gz`, SYS, `${SYS}.gz`, RT, `${RT}.gz`];

let lab: ClusterModel;
let model: ServeModel;
beforeAll(() => {
  const spec = loadSpecFromDisk('clusters/lab', REPO);
  if (!spec.model) throw new Error('the lab spec does not resolve');
  lab = spec.model;
  model = serveModelOf(lab, { port: 9873, secure: false });
});

function ask(target: string, opts: { view?: RootView; port?: number; model?: ServeModel } = {}): ProvisionAnswer {
  const routed = routeRequest(target, { address: '10.0.0.2', port: opts.port ?? 40000 });
  if (routed.kind !== 'provision') throw new Error(`not a provision request: ${JSON.stringify(routed)}`);
  return decideProvision(routed.request, opts.model ?? model, opts.view ?? fakeRoot(APPLIED), '/ROOT');
}
const text = (a: ProvisionAnswer): string => (a.body.kind === 'text' ? a.body.text : '');

describe("the lab's c1 iPXE script, as Warewulf 4.6.5's default.ipxe renders it", () => {
  it('is sent as text for every URL form of c1\'s MAC', () => {
    for (const t of [`/provision/${C1}`, '/ipxe/52-54-00-AA-00-01', `/provision/52-54-00-aa-00-01?stage=ipxe`]) {
      const a = ask(t);
      expect(a.status, t).toBe(200);
      expect(a.node).toBe('c1');
      expect(text(a)).toMatch(/^#!ipxe\necho \necho Warewulf v4 \(iPXE\)\n/);
    }
  });

  it('fetches from warewulfd\'s URLs with the initrd names wwinit expects and boots with wwid and the image\'s kernel args', () => {
    const s = text(ask(`/ipxe/${C1}`));
    expect(s).toContain(`:start\n\nset baseuri http://10.0.0.1:9873/provision/${C1}\nset uri \${baseuri}?assetkey=\${asset}&uuid=\${uuid}\n`);
    expect(s).toContain('kernel --name kernel ${uri}&stage=kernel || goto reboot\n# https://github.com/warewulf/warewulf/issues/222\niseq ${platform} efi && set method imgextract || set method initrd\n\n:menu\n');
    expect(s).toContain('initrd --name image ${uri}&stage=image&compress=gz || goto error_reboot\n');
    expect(s).toContain('initrd --name system ${uri}&stage=system&compress=gz || goto error_reboot\n');
    expect(s).toContain('initrd --name runtime ${uri}&stage=runtime&compress=gz && set runtime_initrd initrd=runtime || echo Unable to download runtime overlay. (ignored)\n');
    // No console= of its own: the template passes the node's kernel args through, and the lab's have none.
    expect(s).toContain(`boot kernel initrd=image initrd=system \${runtime_initrd} wwid=${C1} quiet crashkernel=no net.ifnames=1 || goto error_reboot\n`);
    expect(s).toContain(`set dracut_net rd.neednet=1  ifname=enp1s0:${C1} ip=enp1s0:dhcp \n`);
    expect(s).toContain('set dracut_wwinit root=wwinit:initramfs wwinit.uri=${baseuri} init=/warewulf/run-init\n');
    expect(s).toContain('echo * Ipaddr: 10.0.0.1\necho * Port: 9873\necho * Authority: 10.0.0.1:9873\necho\necho This node:\necho * Fqdn: c1\n');
    // The version Warewulf parses out of the kernel's path (util.ParseVersion), when the spec names none.
    expect(s).toContain('echo * ImageName: rockylinux-10\necho * KernelVersion: 6.12.0-55.9.1\necho * KernelArgs: quiet crashkernel=no net.ifnames=1\ngoto ${next}\n');
    expect(s.endsWith('goto ${next}\n')).toBe(true);
  });

  it('says "(image default)" when no kernel is found, and names the advertised server when told to', () => {
    const s = text(ask(`/ipxe/${C1}`, { view: fakeRoot([]), model: serveModelOf(lab, { port: 8000, secure: false, authority: '10.0.2.2:8000' }) }));
    expect(s).toContain('echo * KernelVersion: (image default)\n');
    expect(s).toContain(`set baseuri http://10.0.2.2:8000/provision/${C1}\n`);
    expect(s).toContain('echo * Port: 8000\n');
  });

  it('refuses compress on a template, as warewulfd does', () => {
    expect(ask(`/provision/${C1}?stage=ipxe&compress=gz`).status).toBe(404);
  });
});

describe('the file stages', () => {
  it.each([
    ['kernel', `/kernel/${C1}`, KERNEL],
    ['image', `/provision/${C1}?stage=image`, IMG],
    ['image gz', `/provision/${C1}?stage=image&compress=gz`, `${IMG}.gz`],
    ['system', `/overlay-system/${C1}`, SYS],
    ['system gz', `/overlay-system/${C1}?compress=gz`, `${SYS}.gz`],
    ['runtime', `/overlay-runtime/${C1}`, RT],
    ['runtime gz', `/provision/${C1}?stage=runtime&compress=gz`, `${RT}.gz`],
  ])('%s is served from the root', (_l, target, rel) => {
    const a = ask(target);
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ kind: 'file', rel, node: 'c1' });
    expect(a.log.at(-1)).toEqual({ level: 'INFO', message: `send /ROOT/${rel} -> c1` });
  });

  it('wants the uncompressed .img to exist before it serves the .gz (404 otherwise), like warewulfd', () => {
    const a = ask(`/provision/${C1}?stage=image&compress=gz`, { view: fakeRoot([`${IMG}.gz`]) });
    expect(a.status).toBe(404);
    expect(a.log.at(-1)).toEqual({ level: 'ERROR', message: `Not found: /ROOT/${IMG}` });
    const b = ask(`/provision/${C1}?stage=image&compress=gz`, { view: fakeRoot([IMG]) });
    expect(b.status).toBe(404);
    expect(b.log.at(-1)).toEqual({ level: 'ERROR', message: `unprepared for compressed version of file /ROOT/${IMG}.gz` });
  });

  it('answers 404 for a missing overlay instead of building it (herd serves only what apply wrote)', () => {
    expect(ask(`/overlay-system/${C1}`, { view: fakeRoot([IMG]) }).status).toBe(404);
  });

  it('answers 400 "No resource selected" without a kernel, and for stages herd does not serve', () => {
    expect(ask(`/kernel/${C1}`, { view: fakeRoot([IMG]) })).toMatchObject({ status: 400 });
    for (const s of ['initramfs', 'efiboot', 'bogus']) expect(ask(`/provision/${C1}?stage=${s}`).status, s).toBe(400);
  });

  it('refuses a served file the root view blocked (a symlink planted in the root) with 404 and a DENIED line', () => {
    const a = ask(`/provision/${C1}?stage=image`, { view: fakeRoot(APPLIED, [IMG]) });
    expect(a.status).toBe(404);
    expect(a.log.at(-1)).toMatchObject({ level: 'DENIED' });
  });

  it('serves an ad-hoc overlay set only under a name Warewulf accepts, so `overlay=` never becomes a path', () => {
    const set = `${STATE}/provision/overlays/c1/wwinit-hosts.img`;
    expect(ask(`/provision/${C1}?stage=system&overlay=wwinit,hosts`, { view: fakeRoot([set]) }).body).toEqual({ kind: 'file', rel: set, node: 'c1' });
    for (const bad of ['..', '../../../etc/passwd', 'a/b', '.']) expect(ask(`/provision/${C1}?stage=system&overlay=${encodeURIComponent(bad)}`).status, bad).toBe(400);
  });
});

describe('an unknown MAC', () => {
  it('gets warewulfd\'s unconfigured script for the ipxe stage, and 400 for the others, with its log lines', () => {
    const a = ask('/ipxe/52-54-00-FF-FF-01');
    expect(a.status).toBe(200);
    expect(text(a)).toContain('echo          configuration for this node with HW address: 52:54:00:ff:ff:01\n');
    expect(text(a).endsWith('sleep 60\nreboot')).toBe(true);
    expect(a.log.slice(0, 3)).toEqual([
      { level: 'INFO', message: 'request from hwaddr:52:54:00:ff:ff:01 ipaddr:10.0.0.2:40000 | stage:ipxe' },
      { level: 'WARN', message: 'node not configured: 52:54:00:ff:ff:01' },
      { level: 'ERROR', message: '52:54:00:ff:ff:01 (unknown/unconfigured node)' },
    ]);
    for (const t of ['/kernel/52:54:00:ff:ff:01', '/provision/52:54:00:ff:ff:01?stage=image&compress=gz', '/overlay-system/52:54:00:ff:ff:01']) {
      const b = ask(t);
      expect(b.status, t).toBe(400);
      expect(b.log.at(-1)).toEqual({ level: 'ERROR', message: 'No resource selected' });
    }
  });
});

describe('secure: the runtime overlay only to a privileged source port', () => {
  const secure = () => serveModelOf(lab, { port: 9873, secure: true });

  it('refuses runtime (and ad-hoc overlay sets) from port 1024 and up with 401 when secure', () => {
    const a = ask(`/overlay-runtime/${C1}`, { model: secure(), port: 1024 });
    expect(a.status).toBe(401);
    expect(a.log).toEqual([
      { level: 'INFO', message: `request from hwaddr:${C1} ipaddr:10.0.0.2:1024 | stage:runtime` },
      { level: 'DENIED', message: 'Non-privileged port: 10.0.0.2:1024' },
    ]);
    expect(ask(`/provision/${C1}?stage=system&overlay=wwinit`, { model: secure(), port: 40000 }).status).toBe(401);
    // Checked before the node lookup, as warewulfd does: an unknown MAC gets the same 401.
    expect(ask('/overlay-runtime/52:54:00:ff:ff:01', { model: secure(), port: 40000 }).status).toBe(401);
  });

  it('serves runtime to port 1023 and below when secure, and to any port when not', () => {
    expect(ask(`/overlay-runtime/${C1}`, { model: secure(), port: 987 }).status).toBe(200);
    expect(ask(`/overlay-runtime/${C1}`, { port: 40000 }).status).toBe(200);
    // The other stages never look at the port.
    expect(ask(`/overlay-system/${C1}`, { model: secure(), port: 40000 }).status).toBe(200);
  });
});
