// Reference parsing, endpoint choice and challenge parsing, against cases taken from the distribution reference grammar and docker's normalisation.
import { describe, expect, it } from 'vitest';
import { parseAuthChallenges, tokenUrl } from '../../../src/image/registry/auth.ts';
import { resolveEndpoints } from '../../../src/image/registry/endpoint.ts';
import { formatReference, isPinnedByDigest, parseReference } from '../../../src/image/registry/reference.ts';

const D = `sha256:${'ab'.repeat(32)}`;

describe('parseReference', () => {
  it.each([
    ['docker://quay.io/rockylinux/rockylinux:10', { registry: 'quay.io', repository: 'rockylinux/rockylinux', tag: '10' }],
    [`docker://quay.io/rockylinux/rockylinux:10@${D}`, { registry: 'quay.io', repository: 'rockylinux/rockylinux', tag: '10', digest: D }],
    [`quay.io/rockylinux/rockylinux@${D}`, { registry: 'quay.io', repository: 'rockylinux/rockylinux', digest: D }],
    ['alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
    ['docker://alpine:3.20', { registry: 'docker.io', repository: 'library/alpine', tag: '3.20' }],
    ['docker.io/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
    ['index.docker.io/library/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
    ['registry-1.docker.io/bitnami/redis:7', { registry: 'docker.io', repository: 'bitnami/redis', tag: '7' }],
    ['bitnami/redis', { registry: 'docker.io', repository: 'bitnami/redis', tag: 'latest' }],
    ['localhost/foo', { registry: 'localhost', repository: 'foo', tag: 'latest' }],
    ['localhost:5000/a/b/c:v1.0-rc_1', { registry: 'localhost:5000', repository: 'a/b/c', tag: 'v1.0-rc_1' }],
    ['127.0.0.1:5000/test/img:tag', { registry: '127.0.0.1:5000', repository: 'test/img', tag: 'tag' }],
    ['[::1]:5000/x', { registry: '[::1]:5000', repository: 'x', tag: 'latest' }],
    ['Registry/foo', { registry: 'Registry', repository: 'foo', tag: 'latest' }],
    ['a.b/x__y/z-----w/v.u_t', { registry: 'a.b', repository: 'x__y/z-----w/v.u_t', tag: 'latest' }],
  ])('%s', (input, expected) => {
    expect(parseReference(input)).toEqual(expected);
  });

  it.each([
    ['', 'IMAGE.REFERENCE_INVALID'],
    ['docker://', 'IMAGE.REFERENCE_INVALID'],
    ['oci://foo', 'IMAGE.REFERENCE_INVALID'],
    ['quay.io/Upper/case', 'IMAGE.REFERENCE_INVALID'],
    ['quay.io/a//b', 'IMAGE.REFERENCE_INVALID'],
    ['quay.io/a_/b', 'IMAGE.REFERENCE_INVALID'],
    ['quay.io/a___b', 'IMAGE.REFERENCE_INVALID'],
    ['quay.io/a:-tag', 'IMAGE.REFERENCE_INVALID'],
    [`quay.io/a:${'t'.repeat(129)}`, 'IMAGE.REFERENCE_INVALID'],
    ['quay.io/a@sha256:abc', 'IMAGE.REFERENCE_INVALID'],
    [`quay.io/a@sha256:${'AB'.repeat(32)}`, 'IMAGE.REFERENCE_INVALID'],
    [`quay.io/a@sha512:${'ab'.repeat(64)}`, 'IMAGE.DIGEST_UNSUPPORTED'],
    [`-bad.io/a`, 'IMAGE.REFERENCE_INVALID'],
    [`quay.io/${'a'.repeat(256)}`, 'IMAGE.REFERENCE_INVALID'],
  ])('rejects %j with %s', (input, code) => {
    expect(() => parseReference(input)).toThrow(expect.objectContaining({ code }));
  });

  it('round-trips through formatReference', () => {
    for (const s of ['quay.io/rockylinux/rockylinux:10', `docker.io/library/alpine@${D}`, `127.0.0.1:5000/a/b:t@${D}`]) {
      expect(formatReference(parseReference(s))).toBe(s);
    }
  });
});

describe('isPinnedByDigest', () => {
  it('is true only with a digest', () => {
    expect(isPinnedByDigest(`docker://quay.io/rockylinux/rockylinux:10@${D}`)).toBe(true);
    expect(isPinnedByDigest(`quay.io/r@${D}`)).toBe(true);
    expect(isPinnedByDigest('docker://quay.io/rockylinux/rockylinux:10')).toBe(false);
    expect(isPinnedByDigest('alpine')).toBe(false);
    expect(isPinnedByDigest('not a ref@@')).toBe(false);
    expect(isPinnedByDigest(parseReference(`a.io/b@${D}`))).toBe(true);
  });
});

describe('resolveEndpoints', () => {
  const r = (s: string) => parseReference(s);
  it('sends Docker Hub to registry-1.docker.io over https and loopback over http', () => {
    expect(resolveEndpoints(r('alpine'), {})).toEqual([{ base: 'https://registry-1.docker.io', isMirror: false }]);
    expect(resolveEndpoints(r('localhost:5000/a'), {})[0]?.base).toBe('http://localhost:5000');
    expect(resolveEndpoints(r('127.0.0.1:5000/a'), {})[0]?.base).toBe('http://127.0.0.1:5000');
    expect(resolveEndpoints(r('[::1]:5000/a'), {})[0]?.base).toBe('http://[::1]:5000');
    expect(resolveEndpoints(r('quay.io/a'), {})[0]?.base).toBe('https://quay.io');
    expect(resolveEndpoints(r('reg.lan:5000/a'), { insecure: ['reg.lan:5000'] })[0]?.base).toBe('http://reg.lan:5000');
    expect(resolveEndpoints(r('reg.lan:5000/a'), { insecure: true })[0]?.base).toBe('http://reg.lan:5000');
  });
  it('puts the mirror first, and the origin after it only with fallback', () => {
    expect(resolveEndpoints(r('alpine'), { mirror: 'http://127.0.0.1:5000/' })).toEqual([{ base: 'http://127.0.0.1:5000', isMirror: true }]);
    expect(resolveEndpoints(r('alpine'), { mirror: '127.0.0.1:5000', fallbackToOrigin: true }).map((e) => e.base)).toEqual(['http://127.0.0.1:5000', 'https://registry-1.docker.io']);
    expect(resolveEndpoints(r('quay.io/a'), { mirror: { 'docker.io': 'https://m.lan' } })[0]?.base).toBe('https://quay.io');
    expect(resolveEndpoints(r('alpine'), { mirror: { 'docker.io': 'https://m.lan' } })[0]?.base).toBe('https://m.lan');
    expect(() => resolveEndpoints(r('alpine'), { mirror: 'ftp://x' })).toThrow(expect.objectContaining({ code: 'IMAGE.REFERENCE_INVALID' }));
  });
});

describe('parseAuthChallenges', () => {
  it('reads the Docker Hub challenge', () => {
    const [c] = parseAuthChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"');
    expect(c).toEqual({ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } });
    expect(tokenUrl(c!, 'library/alpine').href).toBe('https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Falpine%3Apull');
  });
  it('splits several challenges, unquoted values and escapes', () => {
    expect(parseAuthChallenges('Basic realm="a\\"b", Bearer realm=https://x/t, error="insufficient_scope"')).toEqual([
      { scheme: 'basic', params: { realm: 'a"b' } },
      { scheme: 'bearer', params: { realm: 'https://x/t', error: 'insufficient_scope' } },
    ]);
  });
  it('defaults the scope to pull on the repository', () => {
    expect(tokenUrl({ scheme: 'bearer', params: { realm: 'http://127.0.0.1:1/token' } }, 'a/b').searchParams.get('scope')).toBe('repository:a/b:pull');
    expect(() => tokenUrl({ scheme: 'bearer', params: {} }, 'a')).toThrow(expect.objectContaining({ code: 'IMAGE.REGISTRY_AUTH' }));
  });
});
