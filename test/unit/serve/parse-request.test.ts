import { describe, expect, it } from 'vitest';
import { routeRequest, type Routed } from '../../../src/serve/parse-request.ts';

const peer = { address: '127.0.0.1', port: 40000 };
const route = (target: string, remote = peer): Routed => routeRequest(target, remote);
const request = (target: string) => {
  const r = route(target);
  if (r.kind !== 'provision') throw new Error(`expected a provision request, got ${JSON.stringify(r)}`);
  return r.request;
};

describe('routing a provisioning request the way warewulfd does', () => {
  it.each([
    ['/provision/52:54:00:AA:00:01', 'ipxe'],
    ['/ipxe/52-54-00-aa-00-01', 'ipxe'],
    ['/kernel/52-54-00-AA-00-01', 'kernel'],
    ['/overlay-system/52:54:00:aa:00:01', 'system'],
    ['/overlay-runtime/52-54-00-aa-00-01', 'runtime'],
    ['/provision/52-54-00-aa-00-01?stage=image', 'image'],
    ['/container/52:54:00:aa:00:01?stage=image&compress=gz', 'image'],
  ])('%s is stage %s for 52:54:00:aa:00:01 whatever the separators and case', (target, stage) => {
    const r = request(target);
    expect(r.hwaddr).toBe('52:54:00:aa:00:01');
    expect(r.stage).toBe(stage);
  });

  it('reads compress, overlay, assetkey and uuid from the query, the first value winning', () => {
    expect(request('/provision/aa?stage=system&compress=gz&compress=xz&overlay=a,b&assetkey=k&uuid=u')).toMatchObject({ compress: 'gz', overlay: 'a,b', assetkey: 'k', uuid: 'u' });
  });

  it('keeps the peer as Go prints RemoteAddr, unwrapping IPv4-mapped IPv6', () => {
    expect(request('/ipxe/aa').remoteAddr).toBe('127.0.0.1:40000');
    expect(routeRequest('/ipxe/aa', { address: '::ffff:10.0.0.5', port: 987 })).toMatchObject({ request: { ipaddr: '10.0.0.5', remotePort: 987, remoteAddr: '10.0.0.5:987' } });
    expect(routeRequest('/ipxe/aa', { address: 'fe80::1', port: 1000 })).toMatchObject({ request: { remoteAddr: '[fe80::1]:1000' } });
  });

  it('answers 404 for routes warewulfd never registered, /image/ among them', () => {
    expect(route('/image/52:54:00:aa:00:01').kind).toBe('not-found');
    expect(route('/etc/passwd').kind).toBe('not-found');
    expect(route('/overlay-file/wwinit/init').kind).toBe('not-found');
  });

  it('answers 400 for a request without a stage or a MAC (warewulfd would try the ARP cache; herd has none)', () => {
    expect(route('/container/52:54:00:aa:00:01')).toMatchObject({ kind: 'bad-request', reason: 'no stage encoded in GET' });
    expect(route('/provision/')).toMatchObject({ kind: 'bad-request', reason: 'no hwaddr encoded in GET' });
    expect(route('/provision/%zz')).toMatchObject({ kind: 'bad-request' });
    expect(route('*')).toMatchObject({ kind: 'bad-request' });
  });

  it('redirects a path with `..`, `.` or `//`, plain or percent-encoded, to its clean form, as Go\'s ServeMux does', () => {
    expect(route('/provision/../etc/passwd')).toEqual({ kind: 'redirect', location: '/etc/passwd' });
    expect(route('/provision/%2e%2e/%2E%2E/etc/passwd')).toEqual({ kind: 'redirect', location: '/etc/passwd' });
    expect(route('/provision/aa/../../x?stage=kernel')).toEqual({ kind: 'redirect', location: '/x?stage=kernel' });
    expect(route('/provision/./aa')).toEqual({ kind: 'redirect', location: '/provision/aa' });
    expect(route('/provision')).toEqual({ kind: 'redirect', location: '/provision/' });
    // slashFix folds `//` first, so an "absolute path" after the prefix is just another path.
    expect(request('/provision//etc/passwd').hwaddr).toBe('etc');
  });

  it('takes only the first segment after the prefix as the MAC: an encoded slash cannot make it a path', () => {
    expect(request('/provision/aa%2Fbb%2Fcc?stage=image').hwaddr).toBe('aa');
    expect(route('/provision/..%2F..%2Fetc%2Fpasswd?stage=image')).toEqual({ kind: 'redirect', location: '/etc/passwd?stage=image' });
  });
});
