// Build every node's __SYSTEM__ and __RUNTIME__ overlay (I/O shell around pure parts): read the head's inputs and
// Warewulf install once, render each overlay per node (built-ins as typed functions of the model, wwinit/wwclient from the
// install, site folders with their templates), compose each stage, and turn it into artifacts keyed by what it reads.
//
// The cache holds only hashes and sizes, keyed by a hash of everything a stage's archive is made of (each entry's path,
// mode, owner, mtime and content hash): an unchanged cluster rebuilds nothing, and a change touches exactly the nodes whose
// inputs changed. The archive bytes are never stored: they are made again, byte for byte, when apply asks for them.
// A rebuilt image changes its passwd/group, hence the owners and users of the overlays that read them, hence their keys:
// the seed's "rebuild the image, then the overlays" trap cannot happen.
import { closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfinedDir } from '../fs/confined-dir.ts';
import { diagnosticAt, type Diagnostic, type SourceRef } from '../diagnostics/diagnostic.ts';
import { treeSha256, type Artifact, type PendingArtifacts } from '../artifacts/artifact.ts';
import type { ClusterModel, NodeModel, OverlayModel } from '../spec/model.ts';
import { compressHostlist } from '../spec/hostlist.ts';
import type { AccountLookup, AccountTexts, BuiltinResult, HeadInputs, OverlayFile, OverlayProblem } from './types.ts';
import { readHeadInputs, type IpmiPasswords } from './head-inputs.ts';
import { composeStage, stageKey, type ComposedEntry, type OverlayPart } from './compose.ts';
import { cpioChunks, gzipReusing, measureCpio, measureStage, stageContents, type PackedStage } from './pack.ts';
import { overlayArtifacts, overlayPaths } from '../compile/overlay-artifacts.ts';
import { accountLabels, accountLookup, builtinOverlay, BUILTIN_HEAD_NEEDS, mergeAccounts } from './builtins/index.ts';
import { readInstallOverlay, renderInstallOverlay, type InstallOverlay } from './warewulf-install.ts';
import { compileSiteOverlay, loadTemplateEngine, renderSiteOverlay, type CompiledSiteOverlay } from './site-overlay.ts';
import { nodeRecord } from './node-record.ts';
import { TWIN_VERSION, twinKey, warewulfTwins, type TwinRefusal, type TwinResult, type TwinStage } from './warewulf-twin.ts';

/** Bump when the archive bytes herd makes for the same entries change, so cached hashes are not reused across it. */
export const OVERLAY_BUILDER_VERSION = 'herd-overlay-1';

export interface OverlayBuildOptions {
  readonly specDir: string;
  /** The build cache (confinedCacheDir checked it). */
  readonly cacheDir: string;
  /** Where head files are read: `/` on the head. */
  readonly headRoot: string;
  /** Spec inputs the loader read (absolute path -> bytes), with their modes, and the site overlays' symlinks. */
  readonly inputs: ReadonlyMap<string, Uint8Array>;
  readonly inputModes: ReadonlyMap<string, number>;
  readonly symlinks: ReadonlyMap<string, string>;
  /** Each built image's accounts after pins (an image missing here is pending or failed). */
  readonly imageAccounts: ReadonlyMap<string, AccountTexts>;
  /** herd's compiled configuration files by path (warewulf.conf, slurm.conf...). */
  readonly config: ReadonlyMap<string, string>;
  /** The BMC passwords read on the head (the pipeline reads them once, for nodes.conf too); absent: none in the spec. */
  readonly ipmiPasswords?: IpmiPasswords;
}

export interface ClusterOverlays {
  readonly artifacts: Artifact[];
  readonly pending: PendingArtifacts[];
  readonly diagnostics: Diagnostic[];
  readonly summary: string[];
}

/** Overlays whose output is the same for every node (given the image, for the account-dependent ones): rendered once. */
const SHARED: Readonly<Record<string, (n: NodeModel) => string>> = {
  hosts: () => '',
  fstab: () => '',
  'ssh.host_keys': () => '',
  'ssh.authorized_keys': () => '',
  syncuser: (n) => n.image,
  'herd-slurm': (n) => (n.partitions.length > 0 ? 'slurm' : ''),
  'herd-boot': (n) => `${n.image}\0${n.partitions.length > 0 ? 'slurm' : ''}`,
  // Without disks (herd's nodes.conf has none) Warewulf's ignition templates render the same files for every node.
  ignition: () => '',
};

const encoder = new TextEncoder();
/** One byte buffer per file of a shared result, so every node's archive points at the same bytes (hashed and compressed once). */
function freeze(r: BuiltinResult): BuiltinResult {
  if (!('files' in r)) return r;
  return { files: r.files.map((f): OverlayFile => (typeof f.content === 'string' ? { ...f, content: encoder.encode(f.content) } : f)) };
}

interface CacheIndex {
  readonly builder: string;
  readonly entries: Record<string, PackedStage>;
}

/** The cache index, read through the cache's ConfinedDir (confinedCacheDir checked the folder; no symlink is followed below it). */
function readCacheIndex(cacheDir: string): Record<string, PackedStage> {
  let dir: ConfinedDir | undefined;
  try {
    dir = ConfinedDir.open(cacheDir, { what: 'build cache' });
    const text = dir.readFile(CACHE_INDEX, 256 << 20);
    if (text === undefined) return {};
    const j = JSON.parse(text.toString('utf8')) as CacheIndex;
    return j.builder === OVERLAY_BUILDER_VERSION && j.entries && typeof j.entries === 'object' ? j.entries : {};
  } catch {
    return {}; // a missing, unreadable or damaged index only means nothing is reused
  } finally {
    dir?.close();
  }
}

const MAX_REPORTED = 20;
/** The overlay cache's one file, relative to the build cache. */
const CACHE_INDEX = 'overlays/index.json';

export async function buildClusterOverlays(model: ClusterModel, opts: OverlayBuildOptions): Promise<ClusterOverlays> {
  const out: ClusterOverlays = { artifacts: [], pending: [], diagnostics: [], summary: [] };
  const used = new Set<string>();
  for (const n of model.nodes) for (const o of [...n.systemOverlays, ...n.runtimeOverlays]) used.add(o);

  // Head inputs and the Warewulf install, once.
  const head = readHeadInputs(model, opts.headRoot, opts.specDir);
  out.diagnostics.push(...head.diagnostics);
  const install = new Map<string, InstallOverlay | { missing: string }>();
  const installDirs = new Map<string, string>();
  if (used.has('wwinit') || used.has('wwclient')) {
    let root: ConfinedDir | undefined;
    let spec: ConfinedDir | undefined;
    const dist = model.head.files.warewulfOverlays;
    try {
      root = ConfinedDir.open(opts.headRoot, { what: 'head root' });
      // A stand-in head's install in the spec folder's .herd/ is read through the spec folder.
      if (dist.inSpec) spec = ConfinedDir.open(opts.specDir, { what: 'spec folder' });
      for (const name of ['wwinit', 'wwclient'] as const) {
        if (!used.has(name)) continue;
        // As Warewulf's overlay lookup does: a site copy (what `wwctl overlay edit` makes) shadows the distribution one.
        // Its templates must still be the release's own: an edited one is refused by the hash pins, not rendered.
        const siteDir = `/${model.warewulf.stateDir}/overlays`;
        const shadowed = root.isDirectory(`${model.warewulf.stateDir}/overlays/${name}`);
        const dir = shadowed ? siteDir : dist.path;
        installDirs.set(name, dir);
        install.set(name, readInstallOverlay(!shadowed && spec ? spec : root, dir, name));
      }
    } catch (e) {
      for (const name of ['wwinit', 'wwclient'] as const) install.set(name, { missing: `the head root ${opts.headRoot} cannot be opened (${(e as Error).message})` });
    } finally {
      root?.close();
      spec?.close();
    }
  }

  // Site overlays: compiled once (a template error is reported once, not per node).
  const sites = new Map<string, CompiledSiteOverlay | undefined>();
  if (Object.values(model.overlays).some((o) => !o.builtin && used.has(o.name) && o.files.some((f) => f.endsWith('.hbs')))) await loadTemplateEngine();
  for (const o of Object.values(model.overlays)) {
    if (o.builtin || !used.has(o.name) || o.source === undefined) continue;
    const files = new Map<string, { bytes: Uint8Array; mode: number }>();
    const symlinks = new Map<string, string>();
    const base = join(opts.specDir, o.source);
    for (const rel of o.files) {
      const abs = join(base, rel);
      const link = opts.symlinks.get(abs);
      if (link !== undefined) symlinks.set(rel, link);
      else {
        const bytes = opts.inputs.get(abs);
        // git keeps only the executable bit: other bits depend on the checkout's umask, so they are not taken from disk.
        if (bytes !== undefined) files.set(rel, { bytes, mode: (opts.inputModes.get(abs) ?? 0o644) & 0o111 ? 0o755 : 0o644 });
      }
    }
    const c = compileSiteOverlay(o, { files, symlinks });
    if ('problems' in c) {
      for (const p of c.problems) out.diagnostics.push(problemDiagnostic(p, o.at));
      sites.set(o.name, undefined);
    } else sites.set(o.name, c);
  }

  // Accounts per image: the image's own (after pins) plus the site's users; clashes are errors.
  const accounts = new Map<string, { lookup: AccountLookup; texts: AccountTexts } | { problems: readonly OverlayProblem[] }>();
  for (const [image, texts] of opts.imageAccounts) {
    const merged = mergeAccounts(texts, head.inputs.siteAccounts, model.head.files.minId, accountLabels(model, image));
    if ('problems' in merged) {
      accounts.set(image, { problems: merged.problems });
      for (const p of merged.problems) out.diagnostics.push(problemDiagnostic(p, model.head.files.passwd.at));
    } else accounts.set(image, { lookup: accountLookup(merged), texts: merged });
  }

  const cached = readCacheIndex(opts.cacheDir);
  const fresh: Record<string, PackedStage> = {};
  let built = 0;
  let reused = 0;
  const pendingStages: { node: string; stage: string; reason: string }[] = [];
  const reported = new Map<string, number>();
  const seen = new Set<string>();
  const report = (p: OverlayProblem, at: SourceRef | undefined): void => {
    // The same problem met on every node (a changed Warewulf template) is reported once.
    if (seen.has(`${p.code}\0${p.message}`)) return;
    seen.add(`${p.code}\0${p.message}`);
    const n = (reported.get(p.code) ?? 0) + 1;
    reported.set(p.code, n);
    if (n <= MAX_REPORTED) out.diagnostics.push(problemDiagnostic(p, at));
  };
  const shared = new Map<string, BuiltinResult>();
  const twinStages: TwinStage[] = [];
  const warewulfConf = opts.config.get('etc/warewulf/warewulf.conf') ?? '';

  for (const node of model.nodes) {
    const acc = accounts.get(node.image);
    const lookup = acc && 'lookup' in acc ? acc.lookup : undefined;
    let record: ReturnType<typeof nodeRecord> | undefined;
    for (const stage of ['system', 'runtime'] as const) {
      const list = stage === 'system' ? node.systemOverlays : node.runtimeOverlays;
      const paths = overlayPaths(model, node.name, stage);
      const reasons: string[] = [];
      let failed = false;
      const parts: OverlayPart[] = [];
      for (const name of list) {
        const def: OverlayModel | undefined = model.overlays[name];
        if (!def) continue;
        let r: BuiltinResult | undefined;
        if (!def.builtin) {
          const c = sites.get(name);
          if (c === undefined) {
            failed = true;
            continue;
          }
          record ??= nodeRecord(model, node);
          r = withModes(renderSiteOverlay(c, record, lookup), def);
          if ('problems' in r && r.problems.every((p) => p.code === 'overlay/accounts-unknown')) {
            reasons.push(`overlay ${name} sets owners, and image ${node.image} is not built yet`);
            continue;
          }
        } else if (name === 'wwinit' || name === 'wwclient') {
          const inst = install.get(name);
          if (inst === undefined || 'missing' in inst) {
            reasons.push(`${name}: ${inst?.missing ?? 'not read'}`);
            continue;
          }
          // wwinit's config carries the BMC password (ipmi write sets it): read on the head, or the overlay waits.
          const pwFile = name === 'wwinit' ? node.ipmi?.passwordFile : undefined;
          const password = pwFile !== undefined ? opts.ipmiPasswords?.passwords.get(pwFile) : undefined;
          if (pwFile !== undefined && password === undefined) {
            reasons.push(opts.ipmiPasswords?.missing ?? `the BMC password ${pwFile} was not read`);
            continue;
          }
          const key = name === 'wwclient' ? 'wwclient' : undefined;
          const render = (): BuiltinResult =>
            renderInstallOverlay(inst, model.warewulf.version, { imageName: node.image, id: node.name, root: 'initramfs', init: '/sbin/init', ...(node.ipmi ? { ipmi: node.ipmi } : {}), ...(password !== undefined ? { ipmiPassword: password } : {}), warewulfConf }, installDirs.get(name) ?? model.head.files.warewulfOverlays.path);
          r = key ? memo(shared, key, () => freeze(render())) : render();
        } else {
          // herd-boot needs the munge key only where munge runs: Slurm nodes, or an image with a munge user.
          const mungeless = name === 'herd-boot' && node.partitions.length === 0 && lookup !== undefined && lookup.uid('munge') === undefined;
          const needs = mungeless ? [] : (BUILTIN_HEAD_NEEDS[name] ?? []);
          const absent = needs.map((k) => head.missing.get(k as keyof HeadInputs)).filter((x): x is string => x !== undefined);
          if (absent.length > 0) {
            reasons.push(...absent);
            continue;
          }
          if (!lookup) {
            reasons.push(acc && 'problems' in acc ? `the accounts of image ${node.image} clash with the site's users` : `image ${node.image} is not built, so its users and groups are unknown`);
            if (acc && 'problems' in acc) failed = true;
            continue;
          }
          const imageAccounts = opts.imageAccounts.get(node.image);
          const input = { model, node, accounts: lookup, head: head.inputs, config: opts.config, ...(imageAccounts ? { imageAccounts } : {}) };
          const sharedKey = SHARED[name];
          r = sharedKey ? memo(shared, `${name}\0${sharedKey(node)}`, () => freeze(builtinOverlay(name, input) ?? { files: [] })) : builtinOverlay(name, input);
        }
        if (r === undefined) continue;
        if ('problems' in r) {
          failed = true;
          for (const p of r.problems) report(p, def.at);
          continue;
        }
        parts.push({ name, builtin: def.builtin, files: r.files, at: def.at });
      }
      if (failed) {
        out.pending.push({ prefix: paths.img, reason: `node ${node.name}'s ${stage} overlay has errors` });
        continue;
      }
      if (reasons.length > 0) {
        const reason = [...new Set(reasons)].join('; ');
        pendingStages.push({ node: node.name, stage, reason });
        out.pending.push({ prefix: paths.img, reason });
        continue;
      }
      const composed = composeStage(node.name, stage, parts);
      if (composed.problems.length > 0) {
        for (const p of composed.problems) report(p, p.at);
        out.pending.push({ prefix: paths.img, reason: `node ${node.name}'s ${stage} overlay has errors` });
        continue;
      }
      const entries = composed.entries;
      const key = stageKey(OVERLAY_BUILDER_VERSION, entries);
      let packed = fresh[key] ?? cached[key];
      if (packed === undefined) {
        packed = await measureStage(entries);
        built++;
      } else reused++;
      fresh[key] = packed;
      twinStages.push({ node: node.name, stage, parts, entries });
      out.artifacts.push(...overlayArtifacts(model, node, stage, list, packed, stageContents(entries), producers(entries)));
    }
  }
  for (const [code, n] of reported) if (n > MAX_REPORTED) out.diagnostics.push(diagnosticAt(model.warewulf.at, code, 'error', `and ${n - MAX_REPORTED} more ${code} problems on other nodes`));
  for (const { stage, reason, nodes } of byStageAndReason(pendingStages)) {
    out.diagnostics.push(diagnosticAt(pendingRef(model, reason), 'overlay/pending', 'warning', `the ${stage} overlays of ${compressHostlist(nodes)} are pending: ${reason}`, 'nothing is written for them; they are built where these inputs exist (on the head, as root)'));
  }
  await addTwins(model, twinStages, out, opts.cacheDir);
  const total = model.nodes.length * 2;
  out.summary.push(`overlays: ${built} built, ${reused} unchanged (build cache), ${total - built - reused} pending or failed, for ${model.nodes.length} nodes`);
  // A build that packed nothing and used only what the index holds would write the same entries again (2.6 MB for 10,000
  // nodes, whose rename over the old index alone took a fifth of a second): the index is left as it is.
  const usedOnly = built === 0 && Object.keys(fresh).length === Object.keys(cached).length;
  if (Object.keys(fresh).length > 0 && !usedOnly) writeCacheIndex(opts.cacheDir, fresh, cached);
  return out;
}

/**
 * The overlays herd renders itself (all but wwinit and wwclient, which come from the head's Warewulf install and are
 * Warewulf's own), as Warewulf site overlays (warewulf-twin.ts): `wwctl overlay build` then makes what herd made. A twin is
 * written only when every node listing its overlay has that stage built; otherwise it is pending (what was applied stays,
 * as with those nodes' own overlay images).
 */
async function addTwins(model: ClusterModel, stages: readonly TwinStage[], out: ClusterOverlays, cacheDir: string): Promise<void> {
  // A built stage rendered every overlay of its list: an overlay is built for all its nodes when each stage listing it is.
  const builtStages = new Set(stages.map((st) => `${st.node}\0${st.stage}`));
  const twinned = new Set<string>();
  const missing: string[] = [];
  for (const n of model.nodes) {
    let lacking = false;
    for (const [stage, list] of [['system', n.systemOverlays], ['runtime', n.runtimeOverlays]] as const) {
      let twinnedHere = false;
      for (const o of list) {
        if (o === 'wwinit' || o === 'wwclient' || !model.overlays[o]) continue;
        twinned.add(o);
        twinnedHere = true;
      }
      if (twinnedHere && !builtStages.has(`${n.name}\0${stage}`)) lacking = true;
    }
    if (lacking) missing.push(n.name);
  }
  if (twinned.size === 0) return;
  // All or none: the twins are one picture of what herd built (a node's overlays that are not built keep every twin as applied).
  if (missing.length > 0) {
    out.pending.push({ prefix: `${model.warewulf.stateDir}/overlays/`, reason: `the Warewulf templates of herd's overlays (for wwctl overlay build) wait until the overlays of ${compressHostlist(missing)} are built` });
    return;
  }
  const opts = { overlayDir: `${model.warewulf.stateDir}/overlays`, includeBase: 'etc/warewulf' };
  // The twins of an unchanged cluster are not made again: their hashes and refusals come from the cache, keyed by every
  // input (twinKey); their bytes are made when apply asks for them, and must hash as cached (apply checks every stream).
  const key = twinKey(twinned, stages, opts);
  let made: TwinResult | undefined;
  const make = (): TwinResult => (made ??= warewulfTwins(twinned, stages, opts));
  let cached = readTwinCache(cacheDir, key);
  if (cached === undefined) {
    const r = make();
    const trees: TwinCache['trees'] = {};
    for (const [name, entries] of r.trees) trees[name] = { archive: await measureCpio(entries), secret: entries.some((e) => e.hidden === 'secret') };
    cached = { builder: TWIN_VERSION, key, trees, refusals: [...r.refusals] };
    writeTwinCache(cacheDir, cached);
  }
  for (const { stage, reason, nodes } of byStageAndReason(cached.refusals)) {
    out.diagnostics.push(
      diagnosticAt(model.warewulf.at, 'overlay/warewulf-rebuild', 'warning', `wwctl overlay build cannot make the ${stage} overlay of ${compressHostlist(nodes)} as herd built it: ${reason}`, "herd's twin makes Warewulf's build of these nodes fail with this reason, so it never replaces herd's images with other files; herd apply builds them"),
    );
  }
  for (const [name, t] of Object.entries(cached.trees)) {
    out.artifacts.push({
      path: `${model.warewulf.stateDir}/overlays/${name}`,
      kind: 'tree',
      mode: 0o755,
      owner: 'root',
      group: 'root',
      nodes: [],
      impact: { class: 'none', reason: 'read only by wwctl overlay build, which then makes the overlay images herd made' },
      produce: () => cpioChunks(make().trees.get(name) ?? []),
      sha256: treeSha256(t.archive, []),
      size: t.archive.size,
      tree: { archive: t.archive, extras: [] },
      ...(t.secret ? { secret: true } : {}),
      description: `overlay ${name} as Warewulf templates (what wwctl overlay build reads)`,
    });
  }
}

/** Node stages with the same stage and reason together (one diagnostic names them all), in first-seen order. */
function byStageAndReason(items: Iterable<{ readonly node: string; readonly stage: string; readonly reason: string }>): { stage: string; reason: string; nodes: string[] }[] {
  const groups = new Map<string, { stage: string; reason: string; nodes: string[] }>();
  for (const x of items) {
    const k = `${x.stage}\0${x.reason}`;
    const g = groups.get(k);
    if (g) g.nodes.push(x.node);
    else groups.set(k, { stage: x.stage, reason: x.reason, nodes: [x.node] });
  }
  return [...groups.values()];
}

/** The last twins made: their key, each tree's archive hash and size, and the stages Warewulf would not reproduce. */
interface TwinCache {
  readonly builder: string;
  readonly key: string;
  readonly trees: Record<string, { readonly archive: { readonly sha256: string; readonly size: number }; readonly secret: boolean }>;
  readonly refusals: readonly TwinRefusal[];
}

const TWIN_CACHE = 'overlays/twins.json';

function readTwinCache(cacheDir: string, key: string): TwinCache | undefined {
  let dir: ConfinedDir | undefined;
  try {
    dir = ConfinedDir.open(cacheDir, { what: 'build cache' });
    const text = dir.readFile(TWIN_CACHE, 64 << 20);
    if (text === undefined) return undefined;
    const j = JSON.parse(text.toString('utf8')) as TwinCache;
    return j.builder === TWIN_VERSION && j.key === key && j.trees && typeof j.trees === 'object' && Array.isArray(j.refusals) ? j : undefined;
  } catch {
    return undefined; // missing or damaged: the twins are made again
  } finally {
    dir?.close();
  }
}

function writeTwinCache(cacheDir: string, c: TwinCache): void {
  writeCacheFile(cacheDir, TWIN_CACHE, JSON.stringify(c));
}

/** The spec's `modes:` of a site overlay, by path on the node (a path naming no file of the overlay is an error). */
function withModes(r: BuiltinResult, o: OverlayModel): BuiltinResult {
  if (!o.modes || !('files' in r)) return r;
  const paths = new Set(r.files.map((f) => f.path));
  const problems: OverlayProblem[] = [];
  for (const [path, m] of Object.entries(o.modes)) {
    if (!paths.has(path)) problems.push({ code: 'overlay/owner-unmatched', message: `overlays.${o.name}.modes names ${path}, which overlay ${o.name} does not have`, hint: 'write the path as on the node, without a leading / or the .hbs suffix', at: m.at });
  }
  if (problems.length > 0) return { problems };
  return { files: r.files.map((f) => (o.modes![f.path] && f.type !== 'symlink' ? { ...f, mode: o.modes![f.path]!.mode } : f)) };
}

function memo(m: Map<string, BuiltinResult>, key: string, make: () => BuiltinResult): BuiltinResult {
  let r = m.get(key);
  if (r === undefined) {
    r = make();
    m.set(key, r);
  }
  return r;
}

function producers(entries: readonly ComposedEntry[]): { img: () => AsyncIterable<Uint8Array>; gz: () => AsyncIterable<Uint8Array> } {
  return { img: () => cpioChunks(entries), gz: () => gzipReusing(cpioChunks(entries)) };
}

/** The spec line a pending reason points at (the head file it names, else the head block). */
function pendingRef(model: ClusterModel, reason: string): SourceRef {
  const f = model.head.files;
  if (reason.includes('munge key')) return f.mungeKey.at;
  if (reason.includes('SSH host keys')) return f.sshHostKeys.at;
  if (reason.includes('authorized_keys')) return f.authorizedKeys.at;
  if (reason.includes('wwinit') || reason.includes('wwclient')) return f.warewulfOverlays.at;
  const image = Object.values(model.images).find((im) => reason.includes(`image ${im.name} `));
  return image ? image.at.source : model.head.at;
}

function problemDiagnostic(p: OverlayProblem, fallback: SourceRef | undefined): Diagnostic {
  return diagnosticAt(p.at ?? fallback, p.code, 'error', p.message, p.hint);
}

/** Hashes of this run's stages first, then older ones up to a cap (switching between two branches stays cheap). */
function writeCacheIndex(cacheDir: string, fresh: Record<string, PackedStage>, old: Record<string, PackedStage>): void {
  const entries: Record<string, PackedStage> = { ...fresh };
  let count = Object.keys(fresh).length;
  const cap = count * 4 + 1000;
  for (const [k, v] of Object.entries(old)) {
    if (count >= cap) break;
    if (!(k in entries)) {
      entries[k] = v;
      count++;
    }
  }
  writeCacheFile(cacheDir, CACHE_INDEX, JSON.stringify({ builder: OVERLAY_BUILDER_VERSION, entries } satisfies CacheIndex));
}

/** Write `rel` in the build cache beside itself and rename it over, through the cache's ConfinedDir: never through a planted symlink. */
function writeCacheFile(cacheDir: string, rel: string, text: string): void {
  const dir = ConfinedDir.open(cacheDir, { what: 'build cache' });
  const tmp = `${rel}.tmp-${process.pid}`;
  try {
    dir.unlink(tmp);
    const fd = dir.createExclusive(tmp, 0o600, true);
    try {
      writeFileSync(fd, text);
    } finally {
      closeSync(fd);
    }
    dir.rename(tmp, rel);
  } finally {
    dir.close();
  }
}
