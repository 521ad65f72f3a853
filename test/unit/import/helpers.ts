// Test helpers for the import: compile a spec in memory, turn its artifacts into a site input, import and compile again.
import { readFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkSpec } from '../../../src/spec/check-spec.ts';
import { compileConfig } from '../../../src/compile/compile-cluster.ts';
import type { ClusterModel } from '../../../src/spec/model.ts';
import { importSite, type ImportResult, type SiteInput, type TextFile } from '../../../src/import/import-site.ts';
import { slurmIncludes } from '../../../src/import/slurm-conf.ts';
import { readNodesConf, sitePasswordsByFile } from '../../../src/import/nodes-conf.ts';

export const ROUND_TRIP_FILES = ['etc/warewulf/nodes.conf', 'etc/warewulf/warewulf.conf', 'etc/slurm/slurm.conf', 'etc/slurm/gres.conf', 'etc/hosts', 'etc/exports'];

/** Validate and compile spec text (with its inventory and overlay listings); throws with the errors when it does not validate. */
export function compileText(specText: string, inventory: string | undefined, overlays: Readonly<Record<string, readonly string[]>> = {}, name = 'cluster.yaml', ipmiPasswords?: ReadonlyMap<string, string>): { model: ClusterModel; files: Map<string, string> } {
  const check = checkSpec(name, specText, (paths) => ({
    ...(paths.inventory !== undefined ? { inventory: { file: paths.inventory, text: inventory } } : {}),
    overlayFiles: Object.fromEntries(Object.keys(paths.overlays).map((o) => [o, overlays[o] ?? []])),
  }));
  if (!check.model) throw new Error(`spec does not validate:\n${check.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.rule} ${d.line}:${d.column} ${d.message}`).join('\n')}`);
  const files = new Map<string, string>();
  for (const a of compileConfig(check.model, { specDisplayPath: name, ...(ipmiPasswords ? { ipmiPasswords } : {}) })) if (a.bytes) files.set(a.path, new TextDecoder().decode(a.bytes));
  return { model: check.model, files };
}

const tf = (file: string, text: string): TextFile => ({ file, bytes: new TextEncoder().encode(text) });

/** A site input from a map of path -> text (as herd builds them, or as a fixture holds them). */
export function siteFromFiles(files: ReadonlyMap<string, string>, overlays: ReadonlyMap<string, readonly string[]> = new Map()): SiteInput {
  const get = (p: string): TextFile | undefined => (files.has(p) ? tf(p, files.get(p)!) : undefined);
  const slurm = get('etc/slurm/slurm.conf');
  const includes = new Map<string, TextFile>();
  if (slurm) {
    for (const inc of slurmIncludes(files.get('etc/slurm/slurm.conf')!)) {
      const rel = inc.path.startsWith('/') ? inc.path.slice(1) : `etc/slurm/${inc.path}`;
      if (files.has(rel)) includes.set(inc.path, tf(rel, files.get(rel)!));
    }
  }
  const opt = (k: keyof SiteInput, p: string): Partial<SiteInput> => (files.has(p) ? ({ [k]: get(p)! } as Partial<SiteInput>) : {});
  return {
    nodesConf: get('etc/warewulf/nodes.conf')!,
    ...opt('warewulfConf', 'etc/warewulf/warewulf.conf'),
    ...(slurm ? { slurm: { main: slurm, includes } } : {}),
    ...opt('gresConf', 'etc/slurm/gres.conf'),
    ...opt('exports', 'etc/exports'),
    ...opt('hosts', 'etc/hosts'),
    ...opt('trustedZone', 'etc/firewalld/zones/trusted.xml'),
    others: new Map(['etc/slurm/cgroup.conf', 'etc/dhcp/dhcpd.conf', 'etc/dnsmasq.d/ww4-hosts.conf', 'etc/dnsmasq.d/ww4-listen.conf', 'etc/firewalld/zones/trusted.xml'].flatMap((p) => (files.has(p) ? [[p, get(p)!] as const] : []))),
    siteOverlays: overlays,
  };
}

/** Every file under a fixture site's root, by relative path. */
export function readTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(join(root, r)).isDirectory()) walk(r);
      else out.set(r, readFileSync(join(root, r), 'utf8'));
    }
  };
  if (existsSync(root)) walk('');
  return out;
}

/**
 * Import a site, then compile the imported spec; throws when the import failed. The site's BMC passwords are in the files
 * the import named for them, as the admin puts them on the head.
 */
export function importAndBuild(site: SiteInput, options: Parameters<typeof importSite>[1] = {}): { result: ImportResult; files: Map<string, string>; model: ClusterModel } {
  const result = importSite(site, options);
  if (!result.specText) throw new Error(`import failed:\n${result.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.rule} ${d.file}:${d.line}:${d.column} ${d.message}`).join('\n')}\n${result.draftText ?? ''}`);
  const overlays = Object.fromEntries(result.overlays.map((o) => [o, [...(site.siteOverlays.get(o) ?? [])]]));
  const nodes = readNodesConf(site.nodesConf.file, new TextDecoder().decode(site.nodesConf.bytes), options.warewulfVersion).nodes;
  const passwords = sitePasswordsByFile(nodes);
  const built = compileText(result.specText, result.inventoryText, overlays, 'cluster.yaml', passwords.size > 0 ? passwords : undefined);
  return { result, ...built };
}
