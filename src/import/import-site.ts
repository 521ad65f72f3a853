// `herd import` as one pure function: the site's file texts in; the spec text, its inventory, the site overlays to copy, every
// finding about the source and every change of meaning out. The spec is validated and compiled here, and the files herd
// would build from it are compared with the site's own, so nothing is claimed that was not checked.
import { diagnosticAt, hasErrors, sortDiagnostics, type Diagnostic } from '../diagnostics/diagnostic.ts';
import { checkSpec } from '../spec/check-spec.ts';
import type { ClusterModel, WarewulfVersion } from '../spec/model.ts';
import type { SpecCheck } from '../spec/check-spec.ts';
import { defaultDhcpRange } from '../spec/resolve.ts';
import { parseCidr, parseIPv4 } from '../spec/ipv4.ts';
import { expandHostlist } from '../spec/hostlist.ts';
import { configSources, generatedHeader } from '../compile/compile-cluster.ts';
import { canonicalKey, HERD_DEFAULT_GLOBAL, HERD_OWNED_GLOBAL, SLURM_DEFAULTS } from '../spec/slurm-keys.ts';
import { modelNodeViews, primaryNetdev, readNodesConf, sitePasswordsByFile } from './nodes-conf.ts';
import { parseGresConf, parseSlurmConf, type SlurmSite, type SlurmSources } from './slurm-conf.ts';
import { confString, parseExports, parseHosts, readWarewulfConf, zoneMeaning } from './head-files.ts';
import { mapSite, type ParsedSite, type SpecDraft } from './map-spec.ts';
import { emitSpec } from './emit-spec.ts';
import { compareExports, compareGresConf, compareNodesConf, compareSlurmConf, compareWarewulfConf, type FileVerdict } from './compare.ts';

export interface TextFile {
  readonly file: string;
  readonly bytes: Uint8Array;
}

export interface SiteInput {
  readonly nodesConf: TextFile;
  readonly warewulfConf?: TextFile;
  /** slurm.conf and its Include parts (by the name written in the Include line). */
  readonly slurm?: { readonly main: TextFile; readonly includes: ReadonlyMap<string, TextFile> };
  readonly gresConf?: TextFile;
  readonly exports?: TextFile;
  readonly hosts?: TextFile;
  readonly trustedZone?: TextFile;
  /** Other files herd writes whole (cgroup.conf, dhcpd.conf, dnsmasq, firewalld's trusted zone) as the site has them, by path. */
  readonly others?: ReadonlyMap<string, TextFile>;
  /** Site overlay folders found under the site's Warewulf overlay directory: name -> files inside, relative. */
  readonly siteOverlays: ReadonlyMap<string, readonly string[]>;
}

export interface ImportOptions {
  readonly warewulfVersion?: WarewulfVersion;
  readonly inventoryThreshold?: number;
  /** The spec's file name (herd names it in every generated file's header). */
  readonly specName?: string;
}

export interface ImportResult {
  /** Present when the import succeeded (no error diagnostic). */
  readonly specText?: string;
  readonly inventoryText?: string;
  /** Site overlays the spec defines: copy their folders beside the spec (empty when the site has none). */
  readonly overlays: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
  /** For each site file herd would write: unchanged, different in bytes only, changed in meaning, or new. */
  readonly files: readonly FileVerdict[];
  readonly nodes: number;
  readonly version?: WarewulfVersion;
  /** The generated spec text even when it did not validate, for code frames. */
  readonly draftText?: string;
}

/** Text of a site file, or a located diagnostic when it is not text (invalid UTF-8, NUL bytes). */
export function siteText(f: TextFile): { text?: string; diagnostic?: Diagnostic } {
  const nul = f.bytes.indexOf(0);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(f.bytes);
  } catch {
    return { diagnostic: diagnosticAt({ file: f.file, path: [], line: 1, column: 1 }, 'yaml/encoding', 'error', `${f.file} is not UTF-8 text`, 'import the site\'s real configuration file') };
  }
  if (nul >= 0) {
    const line = text.slice(0, nul).split('\n').length;
    return { diagnostic: diagnosticAt({ file: f.file, path: [], line, column: 1 }, 'yaml/encoding', 'error', `${f.file} has a NUL byte: it is binary, not a configuration file`, 'import the site\'s real configuration file') };
  }
  return { text };
}

const DERIVED_GLOBALS = new Set([...HERD_OWNED_GLOBAL, 'GresTypes', 'Include'].map((k) => k.toLowerCase()));

export function importSite(input: SiteInput, options: ImportOptions = {}): ImportResult {
  const specName = options.specName ?? 'cluster.yaml';
  const ds: Diagnostic[] = [];
  const text = (f: TextFile | undefined): string | undefined => {
    if (!f) return undefined;
    const t = siteText(f);
    if (t.diagnostic) ds.push(t.diagnostic);
    return t.text;
  };
  const nodesText = text(input.nodesConf);
  const nodesConf = readNodesConf(input.nodesConf.file, nodesText ?? '', options.warewulfVersion);
  if (nodesText !== undefined) ds.push(...nodesConf.diagnostics);
  const warewulfConf = input.warewulfConf && text(input.warewulfConf) !== undefined ? readWarewulfConf(input.warewulfConf.file, input.warewulfConf.bytes) : undefined;
  if (warewulfConf) ds.push(...warewulfConf.diagnostics);
  let slurm: SlurmSite | undefined;
  let slurmSources: SlurmSources | undefined;
  if (input.slurm) {
    const main = text(input.slurm.main);
    const includes = new Map<string, { file: string; text: string }>();
    for (const [name, f] of input.slurm.includes) {
      const t = text(f);
      if (t !== undefined) includes.set(name, { file: f.file, text: t });
    }
    if (main !== undefined) {
      slurmSources = { main: { file: input.slurm.main.file, text: main }, includes };
      slurm = parseSlurmConf(slurmSources);
      ds.push(...slurm.diagnostics);
    }
  }
  const gresText = text(input.gresConf);
  const gres = gresText !== undefined ? parseGresConf(input.gresConf!.file, gresText) : undefined;
  if (gres) ds.push(...gres.diagnostics);
  const exportsText = text(input.exports);
  const hostsText = text(input.hosts);
  const zoneText = text(input.trustedZone);
  const base = { overlays: [], files: [], nodes: nodesConf.nodes.length };
  if (hasErrors(ds)) return { ...base, diagnostics: sortDiagnostics(ds) };
  if (nodesConf.nodes.length === 0) {
    ds.push(diagnosticAt({ file: input.nodesConf.file, path: [], line: 1, column: 1 }, 'import/missing-file', 'error', 'nodes.conf defines no nodes', 'import a site whose nodes.conf lists its nodes'));
    return { ...base, diagnostics: sortDiagnostics(ds) };
  }
  const parsed: ParsedSite = {
    nodesConf,
    ...(warewulfConf ? { warewulfConf } : {}),
    ...(slurm ? { slurm } : {}),
    ...(gres ? { gres: gres.lines } : {}),
    ...(exportsText !== undefined ? { exports: parseExports(input.exports!.file, exportsText) } : {}),
    ...(hostsText !== undefined ? { hosts: parseHosts(input.hosts!.file, hostsText) } : {}),
    ...(zoneText !== undefined ? { trustedZone: zoneText } : {}),
    siteOverlayFolders: new Set(input.siteOverlays.keys()),
  };
  const mapOptions = { ...(options.warewulfVersion ? { warewulfVersion: options.warewulfVersion } : {}), ...(options.inventoryThreshold !== undefined ? { inventoryThreshold: options.inventoryThreshold } : {}) };

  const header = (version: string): string[] => [
    `Imported by herd import from a Warewulf ${version} + Slurm site; herd plan --root on the site shows what would change.`,
    'Comments starting "inferred" mark values the site files do not state; check each one.',
  ];
  const check = (draft: SpecDraft, specText: string) =>
    checkSpec(specName, specText, (paths) => ({
      ...(paths.inventory !== undefined ? { inventory: { file: paths.inventory, text: draft.inventory } } : {}),
      overlayFiles: Object.fromEntries(Object.keys(paths.overlays).map((o) => [o, [...(input.siteOverlays.get(o) ?? [])].sort()])),
    }));
  const draft1 = mapSite(parsed, mapOptions);
  ds.push(...draft1.diagnostics);
  if (hasErrors(draft1.diagnostics)) return { ...base, diagnostics: sortDiagnostics(ds), draftText: emitSpec(draft1.doc, draft1.comments, header(draft1.version)), version: draft1.version };

  // What herd would write for slurm.conf's general keys and the DHCP pool if the spec said nothing: a one-node copy of the
  // spec is enough (those keys do not depend on the nodes), and the pool is herd's own rule over every address.
  const slurmExtra: Record<string, string | null> = {};
  if (slurm) {
    const baseline = baselineGlobals(draft1, check);
    if (baseline) {
      const last = new Map(slurm.globals.map((g) => [g.key.toLowerCase(), g]));
      for (const [k, g] of [...last].sort(([a], [b]) => (a < b ? -1 : 1))) if (!DERIVED_GLOBALS.has(k) && baseline.get(k) !== g.value) slurmExtra[g.key] = g.value;
      // herd's defaults the site never set, where Slurm's own default differs (log and pid files, say): left out (null), so
      // slurm.conf keeps meaning what it meant. A key slurmctld defaults to herd's very value is written out harmlessly.
      for (const [k, v] of [...baseline].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const canon = canonicalKey(k, HERD_DEFAULT_GLOBAL);
        if (canon !== undefined && !last.has(k) && SLURM_DEFAULTS[k] !== v) slurmExtra[canon] = null;
      }
    }
  }
  const start = confString(warewulfConf, ['dhcp', 'range start']);
  const end = confString(warewulfConf, ['dhcp', 'range end']);
  const range = herdDhcpRange(draft1);
  const dhcpRange = start && end && (!range || start !== range.start || end !== range.end) ? { start, end } : undefined;
  const draft = Object.keys(slurmExtra).length > 0 || dhcpRange ? mapSite(parsed, { ...mapOptions, slurmExtra, ...(dhcpRange ? { dhcpRange } : {}) }) : draft1;
  const specText = emitSpec(draft.doc, draft.comments, header(draft.version));
  const checked = check(draft, specText);
  const second = { draft, specText, check: checked };
  if (!second.check.model) {
    ds.push(...second.check.diagnostics);
    return { ...base, diagnostics: sortDiagnostics(ds), draftText: second.specText, version: second.draft.version };
  }
  // net/missing-prefix6 was reported by mapSite at the site's own line; the check's copy would point into the written spec.
  ds.push(...second.check.diagnostics.filter((d) => d.severity !== 'error' && d.rule !== 'net/missing-prefix6'));
  const model = second.check.model;
  const built = compiledTexts(model, specName);
  const primaryOf = new Map(nodesConf.nodes.map((n) => [n.name, primaryNetdev(n.merged)] as const).filter((e): e is [string, string] => e[1] !== undefined));

  // What changes in meaning, file by file.
  const files: FileVerdict[] = [];
  // A file herd would write byte for byte as the site has it means the same by definition: it is not compared.
  const judge = (path: string, source: string | undefined, compare: () => Diagnostic[]): void => {
    const same = source !== undefined && built.same(path, source);
    const findings = same ? [] : compare();
    ds.push(...findings);
    if (source === undefined) {
      if (built.get(path) !== undefined) files.push({ path, verdict: 'new' });
      return;
    }
    // Only a changed value changes meaning; a key the program never read (import/unknown-key) is left out without effect.
    files.push({ path, verdict: same ? 'identical' : findings.some((f) => f.rule === 'import/changed-value') ? 'changed' : 'bytes-only' });
  };
  judge('etc/warewulf/nodes.conf', nodesText, () => compareNodesConf(nodesConf, { nodes: modelNodeViews(model, sitePasswordsByFile(nodesConf.nodes)) }, primaryOf, new Map(model.nodes.map((n) => [n.name, n.netname])), { address: model.head.address, name: model.head.name }));
  const wwText = input.warewulfConf ? new TextDecoder().decode(input.warewulfConf.bytes) : undefined;
  judge('etc/warewulf/warewulf.conf', wwText, () => (warewulfConf ? compareWarewulfConf(warewulfConf, built.get('etc/warewulf/warewulf.conf') ?? '', { tftproot: `/${model.warewulf.tftpDir}`, ...(parsed.exports ? { exports: parsed.exports } : {}) }) : []));
  const slurmText = slurmSources && slurmSources.includes.size === 0 ? slurmSources.main.text : slurmSources ? `${slurmSources.main.text}\u0000includes` : undefined;
  judge('etc/slurm/slurm.conf', slurmText, () => (slurm ? compareSlurmConf(slurm, built.get('etc/slurm/slurm.conf') ?? '') : []));
  judge('etc/slurm/gres.conf', gresText, () => (gresText !== undefined || built.has('etc/slurm/gres.conf') ? compareGresConf(gresText !== undefined ? { file: input.gresConf!.file, text: gresText } : undefined, built.get('etc/slurm/gres.conf')) : []));
  judge('etc/exports', exportsText, () => (parsed.exports ? compareExports(parsed.exports, input.exports!.file, built.get('etc/exports')) : []));
  // Files herd writes whole that the import does not read for meaning: compared line by line, comments and blank lines aside.
  // A MAC's case means nothing to dhcpd (`hardware ethernet`) or dnsmasq (`dhcp-host`), and herd writes MACs in lower case.
  const mac = /\b[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\b/g;
  const meaningful = (t: string): string => t.split('\n').map((l) => l.replace(/#.*$/, '').trim().replace(mac, (m) => m.toLowerCase())).filter((l) => l !== '' && !/^<!--.*-->$/.test(l)).join('\n');
  for (const [path, f] of [...(input.others ?? new Map<string, TextFile>())].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const rebuilt = built.get(path);
    const t = text(f);
    if (rebuilt === undefined || t === undefined) continue;
    // Compared only when the bytes differ (judge's first test): these files are the largest after nodes.conf.
    const same = (): boolean => {
      const zone = path.startsWith('etc/firewalld/zones/') ? zoneMeaning(t) : undefined;
      return zone !== undefined ? zoneMeaning(rebuilt) === zone : meaningful(rebuilt) === meaningful(t);
    };
    judge(path, t, () => (same() ? [] : [diagnosticAt({ file: f.file, path: [], line: 1, column: 1 }, 'import/changed-value', 'warning', `herd writes ${path} whole from the spec, and the site's differs`, 'herd plan --root on the site shows the diff; keep what you need through the spec')]));
  }
  const judged = new Set(files.map((f) => f.path));
  for (const path of built.paths((p) => !judged.has(p) && p !== 'etc/hosts').sort()) files.push({ path, verdict: 'new' });
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    specText: second.specText,
    ...(second.draft.inventory ? { inventoryText: second.draft.inventory } : {}),
    overlays: second.draft.siteOverlays,
    diagnostics: sortDiagnostics(ds),
    files,
    nodes: model.nodes.length,
    version: second.draft.version,
  };
}

interface CompiledTexts {
  /** The file's text as herd writes it (undefined: herd writes no such file for this spec). */
  get(path: string): string | undefined;
  has(path: string): boolean;
  /** Whether herd writes `path` byte for byte as `text`. */
  same(path: string, text: string): boolean;
  /** The files herd writes, of those `wanted` takes. */
  paths(wanted: (path: string) => boolean): string[];
}

/**
 * herd's configuration files for the model, each rendered on first use: the import renders only what it compares. herd's
 * nodes.conf begins with its generated header, so a site's nodes.conf that does not cannot be the same bytes, and is
 * compared by meaning without herd's text of it being rendered (1.8 MB of YAML for 10,000 nodes; issue 16).
 */
function compiledTexts(model: ClusterModel, specName: string): CompiledTexts {
  const sources = new Map(configSources(model, { specDisplayPath: specName }).map((c) => [c.path, c]));
  const header = generatedHeader(model.name, specName);
  const texts = new Map<string, string | undefined>();
  const get = (path: string): string | undefined => {
    if (!texts.has(path)) texts.set(path, sources.get(path)?.render());
    return texts.get(path);
  };
  return {
    get,
    has: (path) => get(path) !== undefined,
    same: (path, text) => (path === 'etc/warewulf/nodes.conf' && !text.startsWith(header) ? false : get(path) === text),
    paths: (wanted) => [...sources.keys()].filter((p) => wanted(p) && get(p) !== undefined),
  };
}

/** slurm.conf's general keys as herd writes them for this spec (lower-cased key -> value), from a one-node copy of it. */
function baselineGlobals(draft: SpecDraft, check: (d: SpecDraft, text: string) => SpecCheck): Map<string, string> | undefined {
  const nodes = draft.doc.nodes as Record<string, Record<string, unknown>>;
  const firstKey = Object.keys(nodes)[0];
  if (firstKey === undefined) return undefined;
  const ex = expandHostlist(firstKey);
  const name = ex.ok ? ex.names[0]! : firstKey;
  const entry = nodes[firstKey]!;
  const address = Array.isArray(entry.address) ? entry.address[0] : entry.address;
  const { mac: _mac, address: _address, ...rest } = entry;
  const slurm = draft.doc.slurm as Record<string, unknown>;
  const { inventory: _inventory, ...doc } = draft.doc;
  const mini = { ...doc, nodes: { [name]: { ...rest, mac: '02:00:00:00:00:01', ...(address !== undefined ? { address } : {}) } }, slurm: { ...slurm, partitions: { p: { nodes: name, default: true } } } };
  const miniDraft: SpecDraft = { ...draft, doc: mini };
  const c = check(miniDraft, emitSpec(mini, new Map(), []));
  if (!c.model) return undefined;
  const text = compiledTexts(c.model, 'cluster.yaml').get('etc/slurm/slurm.conf') ?? '';
  const herd = parseSlurmConf({ main: { file: '(baseline)', text }, includes: new Map() });
  return new Map(herd.globals.map((g) => [g.key.toLowerCase(), g.value]));
}

/** The DHCP pool herd picks for this spec when it names none (resolve's rule over the head, gateway and every node address). */
function herdDhcpRange(draft: SpecDraft): { start: string; end: string } | undefined {
  const net = draft.doc.network as { cidr: string; gateway?: string };
  const cidr = parseCidr(net.cidr);
  if (!cidr.ok) return undefined;
  const head = draft.doc.head as { address: string };
  const used: number[] = [];
  const push = (a: unknown): void => {
    const ip = typeof a === 'string' ? parseIPv4(a) : undefined;
    if (ip !== undefined) used.push(ip);
  };
  push(head.address);
  push(net.gateway);
  let count = 0;
  for (const [key, e] of Object.entries(draft.doc.nodes as Record<string, Record<string, unknown>>)) {
    const ex = expandHostlist(key);
    const names = ex.ok ? ex.names : [key];
    count += names.length;
    if (Array.isArray(e.address)) e.address.forEach(push);
    else if (typeof e.address === 'string') {
      const first = parseIPv4(e.address);
      if (first !== undefined) for (let i = 0; i < names.length; i++) used.push(first + i);
    }
  }
  return defaultDhcpRange(cidr.net, used, count);
}
