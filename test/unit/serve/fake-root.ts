// Test helper (pure): an in-memory RootView for the provision decision, from a list of file paths relative to the root.
import type { RootView } from '../../../src/serve/provision.ts';

export function fakeRoot(files: readonly string[], blocked: readonly string[] = []): RootView {
  const set = new Set(files);
  const dirs = new Map<string, Set<string>>();
  for (const f of files) {
    const parts = f.split('/');
    for (let i = 0; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirs.has(dir)) dirs.set(dir, new Set());
      dirs.get(dir)!.add(parts[i]!);
    }
  }
  const fileState = (rel: string) => (blocked.includes(rel) ? ('blocked' as const) : set.has(rel) ? ('file' as const) : ('missing' as const));
  return {
    fileState,
    rootfs: (base) => ({
      list: (rel) => {
        const d = dirs.get(rel === '' ? base : `${base}/${rel}`);
        return d ? [...d] : undefined;
      },
      isFile: (rel) => fileState(rel === '' ? base : `${base}/${rel}`) === 'file',
    }),
  };
}
