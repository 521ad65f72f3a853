// Manifest parsing and platform selection, on documents shaped like those Docker Hub and quay serve.
import { describe, expect, it } from 'vitest';
import { MEDIA, parseManifest, type ImageIndex } from '../../../src/image/registry/manifest.ts';
import { parsePlatform, platformMatches, selectManifest } from '../../../src/image/registry/platform.ts';

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const dg = (c: string) => `sha256:${c.repeat(64)}`;

const list: ImageIndex = {
  kind: 'index',
  mediaType: MEDIA.dockerList,
  manifests: [
    { mediaType: MEDIA.dockerManifest, digest: dg('1'), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
    { mediaType: MEDIA.dockerManifest, digest: dg('2'), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { mediaType: MEDIA.dockerManifest, digest: dg('3'), size: 1, platform: { os: 'linux', architecture: 'arm64' } },
    { mediaType: MEDIA.dockerManifest, digest: dg('4'), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { mediaType: MEDIA.dockerManifest, digest: dg('5'), size: 1, platform: { os: 'unknown', architecture: 'unknown' } },
    { mediaType: MEDIA.dockerManifest, digest: dg('6'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: MEDIA.dockerManifest, digest: dg('7'), size: 1, platform: { os: 'windows', architecture: 'amd64', osVersion: '10.0.17763.1' } },
  ],
};

describe('selectManifest', () => {
  it('picks by os, architecture and variant', () => {
    expect(selectManifest(list, parsePlatform('linux/amd64'), 'x').digest).toBe(dg('6'));
    expect(selectManifest(list, parsePlatform('linux/arm/v6'), 'x').digest).toBe(dg('1'));
    expect(selectManifest(list, parsePlatform('linux/arm'), 'x').digest).toBe(dg('2'));
    expect(selectManifest(list, parsePlatform('armv7l'), 'x').digest).toBe(dg('2'));
    expect(selectManifest(list, parsePlatform('windows/amd64'), 'x').digest).toBe(dg('7'));
  });
  it('prefers an entry that states the default variant over one that leaves it out', () => {
    expect(selectManifest(list, parsePlatform('linux/arm64'), 'x').digest).toBe(dg('4'));
    expect(selectManifest(list, parsePlatform('aarch64'), 'x').digest).toBe(dg('4'));
    const noVariant: ImageIndex = { ...list, manifests: list.manifests.filter((d) => d.digest !== dg('4')) };
    expect(selectManifest(noVariant, parsePlatform('linux/arm64/v8'), 'x').digest).toBe(dg('3'));
  });
  it('names the offered platforms when nothing matches', () => {
    expect(() => selectManifest(list, parsePlatform('linux/s390x'), 'quay.io/a:1')).toThrow(
      expect.objectContaining({ code: 'IMAGE.PLATFORM_NOT_FOUND', message: expect.stringContaining('linux/arm/v6, linux/arm/v7, linux/arm64, linux/arm64/v8, linux/amd64, windows/amd64') }),
    );
    expect(() => selectManifest(list, parsePlatform('linux/arm64/v9'), 'x')).toThrow(expect.objectContaining({ code: 'IMAGE.PLATFORM_NOT_FOUND' }));
  });
  it('parses and compares platforms', () => {
    expect(parsePlatform('x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('Linux/ARM64/V8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(() => parsePlatform('linux//amd64')).toThrow(expect.objectContaining({ code: 'IMAGE.REFERENCE_INVALID' }));
    expect(platformMatches({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'amd64', variant: 'v1' })).toBe(true);
    expect(platformMatches({ os: 'linux', architecture: 'amd64', variant: 'v3' }, { os: 'linux', architecture: 'amd64' })).toBe(false);
  });
});

describe('parseManifest', () => {
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: dg('a'), size: 10 };
  const config = { mediaType: MEDIA.ociConfig, digest: dg('b'), size: 2 };
  it('reads OCI and Docker schema2 image manifests', () => {
    expect(parseManifest(enc({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [layer] }), undefined, 'x')).toEqual({ kind: 'manifest', mediaType: MEDIA.ociManifest, config, layers: [layer] });
    const m = parseManifest(enc({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config, layers: [] }), MEDIA.dockerManifest, 'x');
    expect(m.kind === 'manifest' && m.mediaType).toBe(MEDIA.dockerManifest);
  });
  it('classifies a document without mediaType by header, then by shape', () => {
    expect(parseManifest(enc({ schemaVersion: 2, manifests: [] }), `${MEDIA.ociIndex}; charset=utf-8`, 'x').kind).toBe('index');
    expect(parseManifest(enc({ schemaVersion: 2, manifests: [] }), 'application/json', 'x').kind).toBe('index');
    expect(parseManifest(enc({ schemaVersion: 2, config, layers: [] }), undefined, 'x').kind).toBe('manifest');
  });
  it.each([
    [{ schemaVersion: 1, name: 'x', fsLayers: [] }, 'IMAGE.MANIFEST_UNSUPPORTED'],
    [{ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' }, 'IMAGE.MANIFEST_UNSUPPORTED'],
    [{ schemaVersion: 2, mediaType: 'application/vnd.cncf.helm.config.v1+json', config, layers: [] }, 'IMAGE.MANIFEST_UNSUPPORTED'],
    [{ schemaVersion: 3, config, layers: [] }, 'IMAGE.MANIFEST_INVALID'],
    [{ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { ...config, digest: 'sha256:zz' }, layers: [] }, 'IMAGE.MANIFEST_INVALID'],
    [{ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { ...config, size: -1 }, layers: [] }, 'IMAGE.MANIFEST_INVALID'],
    [{ schemaVersion: 2, mediaType: MEDIA.ociManifest, config }, 'IMAGE.MANIFEST_INVALID'],
    [[1, 2], 'IMAGE.MANIFEST_INVALID'],
  ])('rejects %j', (doc, code) => {
    expect(() => parseManifest(enc(doc), undefined, 'x')).toThrow(expect.objectContaining({ code }));
  });
  it('rejects bytes that are not UTF-8 JSON', () => {
    expect(() => parseManifest(new Uint8Array([0xff, 0xfe]), undefined, 'x')).toThrow(expect.objectContaining({ code: 'IMAGE.MANIFEST_INVALID' }));
  });
});
