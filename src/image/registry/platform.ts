// Platform parsing and manifest-list selection (pure): picks the one image of a multi-arch index that a node boots.
import { registryError } from './errors.ts';
import type { Descriptor, ImageIndex, Platform } from './manifest.ts';

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

// uname spellings people write in specs, mapped to the GOARCH names registries use.
const ARCH_ALIASES: Readonly<Record<string, string>> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i686: '386', i386: '386' };
// A variant left out means the architecture's baseline, as containerd normalises it (arm64 -> v8, arm -> v7, amd64 -> v1).
const DEFAULT_VARIANT: Readonly<Record<string, string>> = { arm64: 'v8', arm: 'v7', amd64: 'v1' };

/** Parse `os/arch[/variant]` (or just `arch`, meaning linux); throws IMAGE.REFERENCE_INVALID on malformed text. */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().toLowerCase().split('/');
  if (parts.some((p) => p === '') || parts.length > 3) {
    throw registryError('IMAGE.REFERENCE_INVALID', `invalid platform "${text}"`, 'write os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8');
  }
  const [a, b, c] = parts;
  if (b === undefined) return normalizePlatform({ os: 'linux', architecture: a ?? '' });
  return normalizePlatform(c === undefined ? { os: a ?? '', architecture: b } : { os: a ?? '', architecture: b, variant: c });
}

/** Map architecture aliases to GOARCH and `arm/armv7` style variants to `v7`; the default variant stays implicit. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  if (architecture === 'armv7l' || architecture === 'armv7') [architecture, variant] = ['arm', variant ?? 'v7'];
  if (architecture === 'armv6l' || architecture === 'armv6') [architecture, variant] = ['arm', variant ?? 'v6'];
  if (architecture === 'arm64' && variant === '8') variant = 'v8';
  architecture = ARCH_ALIASES[architecture] ?? architecture;
  const out: { -readonly [K in keyof Platform]: Platform[K] } = { os, architecture };
  if (variant !== undefined && variant !== '') out.variant = variant;
  if (p.osVersion !== undefined) out.osVersion = p.osVersion;
  return out;
}

/** `linux/arm64/v8` form, variant only when present. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant !== undefined ? `/${p.variant}` : ''}`;
}

/**
 * Whether an image's platform satisfies a wanted one: os and architecture equal, and variants equal once the
 * architecture's default variant fills in an absent one (so wanted linux/arm64 matches an entry marked v8 or unmarked).
 */
export function platformMatches(wanted: Platform, have: Platform): boolean {
  const w = normalizePlatform(wanted);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  const dv = DEFAULT_VARIANT[w.architecture];
  return (w.variant ?? dv) === (h.variant ?? dv);
}

/**
 * Pick the manifest for `wanted` from an index. An entry whose variant is stated exactly beats one that only matches
 * through the default; otherwise the first match in index order wins, as docker pull does.
 * Throws IMAGE.PLATFORM_NOT_FOUND naming the platforms the index offers.
 */
export function selectManifest(index: ImageIndex, wanted: Platform, where: string): Descriptor {
  const candidates = index.manifests.filter((d) => d.platform !== undefined && platformMatches(wanted, d.platform));
  const w = normalizePlatform(wanted);
  const exact = candidates.find((d) => d.platform !== undefined && normalizePlatform(d.platform).variant === (w.variant ?? DEFAULT_VARIANT[w.architecture]));
  const chosen = exact ?? candidates[0];
  if (chosen !== undefined) return chosen;
  const offered = index.manifests.flatMap((d) => (d.platform ? [formatPlatform(d.platform)] : [])).filter((p) => p !== 'unknown/unknown');
  throw registryError(
    'IMAGE.PLATFORM_NOT_FOUND',
    `${where} has no image for ${formatPlatform(w)}; it offers ${offered.length > 0 ? offered.join(', ') : 'no platforms'}`,
    'choose one of the offered platforms, or another image',
  );
}
