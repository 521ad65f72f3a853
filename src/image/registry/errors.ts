// Registry pull failures as coded errors (pure): thrown inside the registry client, turned into diagnostics at the CLI boundary.

export type RegistryErrorCode =
  | 'IMAGE.REFERENCE_INVALID'
  | 'IMAGE.DIGEST_UNSUPPORTED'
  | 'IMAGE.DIGEST_MISMATCH'
  | 'IMAGE.SIZE_MISMATCH'
  | 'IMAGE.MANIFEST_NOT_FOUND'
  | 'IMAGE.MANIFEST_INVALID'
  | 'IMAGE.MANIFEST_UNSUPPORTED'
  | 'IMAGE.BLOB_NOT_FOUND'
  | 'IMAGE.PLATFORM_NOT_FOUND'
  | 'IMAGE.PLATFORM_MISMATCH'
  | 'IMAGE.REGISTRY_AUTH'
  | 'IMAGE.REGISTRY_HTTP'
  | 'IMAGE.REGISTRY_UNREACHABLE'
  | 'IMAGE.NOT_CACHED';

export interface RegistryError extends Error {
  readonly code: RegistryErrorCode;
  readonly hint?: string;
}

/** Build a coded error; callers recognise it by `code`, never by instanceof. */
export function registryError(code: RegistryErrorCode, message: string, hint?: string, cause?: unknown): RegistryError {
  const e = new Error(message, cause === undefined ? undefined : { cause }) as Error & { code: RegistryErrorCode; hint?: string };
  e.name = 'RegistryError';
  e.code = code;
  if (hint !== undefined) e.hint = hint;
  return e;
}

export function isRegistryError(e: unknown): e is RegistryError {
  return e instanceof Object && typeof (e as { code?: unknown }).code === 'string' && String((e as { code: string }).code).startsWith('IMAGE.');
}
