// `docker save` archives (I/O through an ArchiveIndex): manifest.json with Config and Layers member paths.
//
// Both generations are read through manifest.json: the classic one (`<id>/layer.tar`, `<hex>.json`; skopeo writes
// `<hex>.tar`) and Docker >= 25's, which is an OCI layout whose manifest.json points into blobs/sha256/. Layers are
// checked against the config's diff_ids; members named by a digest are also checked against that digest.
import { memberWhere, openMember, type ArchiveIndex } from './archive-index.ts';
import { digestTap, readAll } from './blob-stream.ts';
import { ImageError } from './image-error.ts';
import { parseImageConfig, parseJson } from './image-json.ts';
import type { ImageConfig, LayerInfo, Platform } from './image-source.ts';
import { checkPlatform } from './oci-layout.ts';

interface DockerManifestEntry {
  readonly Config: string;
  readonly RepoTags: readonly string[];
  readonly Layers: readonly string[];
}

export interface DockerArchiveImage {
  readonly config: ImageConfig;
  readonly configDigest: string;
  readonly layers: readonly LayerInfo[];
}

function parseEntries(json: unknown, where: string): DockerManifestEntry[] {
  const bad = (what: string): ImageError => new ImageError('bad-layout', `${where}: ${what}`, { file: where });
  if (!Array.isArray(json)) throw bad('expected a list of images');
  return json.map((e: unknown, i) => {
    if (typeof e !== 'object' || e === null) throw bad(`entry ${i} is not an object`);
    const o = e as Record<string, unknown>;
    if (typeof o.Config !== 'string') throw bad(`entry ${i} has no Config`);
    if (!Array.isArray(o.Layers) || !o.Layers.every((l) => typeof l === 'string')) throw bad(`entry ${i} has no Layers list`);
    const tags = Array.isArray(o.RepoTags) ? o.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    return { Config: o.Config, RepoTags: tags, Layers: o.Layers as string[] };
  });
}

/** Docker's short forms: `busybox` = `docker.io/library/busybox:latest`. */
export function canonicalDockerRef(ref: string): string {
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at) : '';
  let rest = at >= 0 ? ref.slice(0, at) : ref;
  let tag = '';
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  let domain = 'docker.io';
  let path = rest;
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    domain = first;
    path = rest.slice(slash + 1);
  }
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  if (tag === '' && digest === '') tag = ':latest';
  return `${domain}/${path}${tag}${digest}`;
}

function pick(entries: readonly DockerManifestEntry[], reference: string | undefined, sourceIndex: number | undefined, where: string): DockerManifestEntry {
  const listed = entries.flatMap((e) => e.RepoTags).join(', ') || 'no tags';
  if (sourceIndex !== undefined) {
    const e = entries[sourceIndex];
    if (e === undefined) throw new ImageError('no-matching-manifest', `${where}: no image @${sourceIndex} (the archive holds ${entries.length})`, { file: where });
    return e;
  }
  if (reference === undefined) {
    if (entries.length === 1) return entries[0] as DockerManifestEntry;
    throw new ImageError('no-matching-manifest', `${where}: the archive holds ${entries.length} images; name one as docker-archive:FILE:REPO:TAG (${listed})`, { file: where });
  }
  const want = canonicalDockerRef(reference);
  const found = entries.find((e) => e.RepoTags.some((t) => t === reference || canonicalDockerRef(t) === want));
  if (found === undefined) throw new ImageError('no-matching-manifest', `${where}: no image tagged ${reference} (${listed})`, { file: where });
  return found;
}

function digestFromMember(name: string): string | undefined {
  const blob = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(name);
  if (blob !== null) return `${blob[1]}:${blob[2]}`;
  const flat = /^([a-f0-9]{64})\.(json|tar)$/.exec(name);
  return flat === null ? undefined : `sha256:${flat[1]}`;
}

function member(index: ArchiveIndex, raw: string, what: string): { name: string; m: NonNullable<ReturnType<ArchiveIndex['members']['get']>> } {
  const name = raw.replace(/^(\.\/)+/, '').replace(/^\/+/, '');
  const m = index.members.get(name);
  if (m === undefined) {
    throw new ImageError('bad-layout', `${index.archive}: manifest.json names ${what} ${raw}, which is not in the archive`, { file: index.archive, hint: 'The archive is truncated or was not written by docker save / skopeo.' });
  }
  return { name, m };
}

export async function readDockerArchive(index: ArchiveIndex, reference: string | undefined, sourceIndex: number | undefined, platform: Platform): Promise<DockerArchiveImage> {
  const manifestWhere = memberWhere(index, 'manifest.json');
  const manifestMember = index.members.get('manifest.json');
  if (manifestMember === undefined) {
    throw new ImageError('bad-layout', `${index.archive} is not a docker save archive (no manifest.json)`, {
      file: index.archive,
      hint: 'Archives from docker < 1.10 (no manifest.json) are not supported; re-save the image with a current docker or skopeo.',
    });
  }
  const entry = pick(parseEntries(parseJson(await readAll(openMember(index, manifestMember), manifestWhere), manifestWhere), manifestWhere), reference, sourceIndex, manifestWhere);
  const cfg = member(index, entry.Config, 'config');
  const cfgWhere = memberWhere(index, cfg.name);
  const tap = digestTap(openMember(index, cfg.m), 'sha256');
  const configBytes = await readAll(tap.stream, cfgWhere);
  const configDigest = tap.result().digest;
  const expectedCfg = digestFromMember(cfg.name);
  if (expectedCfg !== undefined && expectedCfg.startsWith('sha256:') && expectedCfg !== configDigest) {
    throw new ImageError('digest-mismatch', `${cfgWhere}: content is ${configDigest}, but its name says ${expectedCfg}`, { file: cfgWhere, hint: 'The archive is corrupt; save the image again.' });
  }
  const config = parseImageConfig(parseJson(configBytes, cfgWhere), cfgWhere);
  checkPlatform(config, platform, cfgWhere);
  if (config.diffIds.length !== entry.Layers.length) {
    throw new ImageError('bad-layout', `${manifestWhere}: ${entry.Layers.length} layers, but the config lists ${config.diffIds.length} diff_ids`, { file: manifestWhere });
  }
  const layers = entry.Layers.map((raw, i): LayerInfo => {
    const { name, m } = member(index, raw, 'layer');
    const digest = /^blobs\//.test(name) ? digestFromMember(name) : undefined;
    return {
      where: memberWhere(index, name),
      size: m.size,
      diffId: config.diffIds[i] as string,
      ...(digest === undefined ? {} : { digest }),
      open: () => openMember(index, m),
    };
  });
  return { config, configDigest, layers };
}
