// Parsing an image `source:` string of the spec (pure): transport prefix, path resolved against the spec's directory, tag.
//
// Same syntax as skopeo/containers-image transports: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
// `docker-archive:FILE[:REPO:TAG | :@N]`, plus herd's `dir:ROOTFS` and `tar:ROOTFS.tar[.gz]` (the rest of the string
// is the path) and `docker://…` (the registry client's). As in skopeo, the path ends at the first ':', so paths
// containing ':' cannot be named.
import { isAbsolute, resolve } from 'node:path';
import { ImageError } from './image-error.ts';

export type ImageRef =
  | { readonly transport: 'oci' | 'oci-archive'; readonly path: string; readonly tag?: string }
  | { readonly transport: 'docker-archive'; readonly path: string; readonly reference?: string; readonly sourceIndex?: number }
  | { readonly transport: 'dir' | 'tar'; readonly path: string }
  | { readonly transport: 'docker'; readonly reference: string };

const TRANSPORTS = ['oci', 'oci-archive', 'docker-archive', 'dir', 'tar'] as const;

function fail(ref: string, why: string): ImageError {
  return new ImageError('bad-source-ref', `image source "${ref}": ${why}`, {
    hint: 'Use docker://REGISTRY/REPO:TAG, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REPO:TAG], dir:ROOTFS or tar:ROOTFS.tar.',
  });
}

/** `baseDir` must be absolute: relative paths in the spec are relative to the spec file's directory. */
export function parseImageRef(ref: string, baseDir: string): ImageRef {
  if (!isAbsolute(baseDir)) throw new ImageError('bad-source-ref', `internal: base directory ${baseDir} is not absolute`);
  if (ref.startsWith('docker://')) {
    const reference = ref.slice('docker://'.length);
    if (reference === '') throw fail(ref, 'no image reference after docker://');
    return { transport: 'docker', reference };
  }
  const colon = ref.indexOf(':');
  const transport = colon < 0 ? '' : ref.slice(0, colon);
  if (!(TRANSPORTS as readonly string[]).includes(transport)) {
    throw fail(ref, colon < 0 ? 'no transport prefix' : `unknown transport "${transport}"`);
  }
  const rest = ref.slice(colon + 1);
  if (transport === 'dir' || transport === 'tar') {
    if (rest === '') throw fail(ref, 'no path');
    return { transport, path: resolve(baseDir, rest) };
  }
  const sep = rest.indexOf(':');
  const pathPart = sep < 0 ? rest : rest.slice(0, sep);
  const after = sep < 0 ? undefined : rest.slice(sep + 1);
  if (pathPart === '') throw fail(ref, 'no path');
  const path = resolve(baseDir, pathPart);
  if (after === '') throw fail(ref, 'empty tag after ":"');
  if (transport === 'docker-archive') {
    if (after === undefined) return { transport, path };
    if (after.startsWith('@')) {
      const n = Number(after.slice(1));
      if (!Number.isSafeInteger(n) || n < 0 || after.length < 2) throw fail(ref, `"${after}" is not @INDEX`);
      return { transport, path, sourceIndex: n };
    }
    return { transport, path, reference: after };
  }
  if (after !== undefined && !/^[A-Za-z0-9_.@:/+-]+$/.test(after)) throw fail(ref, `"${after}" is not a valid tag`);
  return after === undefined ? { transport: transport as 'oci' | 'oci-archive', path } : { transport: transport as 'oci' | 'oci-archive', path, tag: after };
}
