// `herd import --from ROOT [--out DIR/cluster.yaml]` (I/O shell): read an existing Warewulf 4.6 + Slurm site under ROOT through
// a ConfinedDir, turn it into a spec (src/import, pure), and write the spec, its inventory and the site overlays it uses, all at
// once at the end: every fallible step runs before the first write, and an existing output is replaced only when told.
import { basename, dirname, join, posix, resolve } from 'node:path';
import { redactSecrets } from '../../artifacts/secret-lines.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { ConfinedDir, isPathBlocked } from '../../fs/confined-dir.ts';
import { diagnosticAt, herdFailure, hasErrors, sortDiagnostics, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { renderDiagnostics, summarize } from '../../diagnostics/render-text.ts';
import { renderEnvelope } from '../../diagnostics/render-json.ts';
import { importSite, type SiteInput, type TextFile } from '../../import/import-site.ts';
import { slurmIncludes } from '../../import/slurm-conf.ts';
import type { WarewulfVersion } from '../../spec/model.ts';
import { MAX_INPUT_BYTES } from '../../spec/input-problems.ts';

const VERSIONS: readonly WarewulfVersion[] = ['4.6.0', '4.6.1', '4.6.2', '4.6.3', '4.6.4', '4.6.5'];
const OVERLAY_DIRS = ['var/lib/warewulf/overlays', 'srv/warewulf/overlays'];
const MAX_OVERLAY_FILES = 10_000;
/** Files herd writes whole that the site may have too: compared, not imported. */
const OTHER_FILES = ['etc/slurm/cgroup.conf', 'etc/dhcp/dhcpd.conf', 'etc/dnsmasq.d/ww4-hosts.conf', 'etc/dnsmasq.d/ww4-listen.conf', 'etc/firewalld/zones/trusted.xml'];

/** Read the site's files under `root`; `display` prefixes the names shown in diagnostics. Throws a HerdFailure for what cannot be read. */
interface OverlayFile {
  readonly bytes: Buffer;
  /** 0755 when the site's file is executable, else 0644 (what herd gives overlay files; see overlays.<name>.modes). */
  readonly mode: number;
}

function readSite(root: ConfinedDir, display: string): { input: SiteInput; overlayFiles: Map<string, Map<string, OverlayFile>>; skipped: Diagnostic[] } {
  const show = (rel: string): string => posix.join(display, rel);
  const read = (rel: string): TextFile | undefined => {
    let bytes: Buffer | undefined;
    try {
      if (root.lstat(rel) !== null && !root.lstat(rel)!.isFile()) throw herdFailure('import/missing-file', `${show(rel)} is not a regular file`, 'herd import reads regular files only');
      bytes = root.readFile(rel, MAX_INPUT_BYTES);
    } catch (e) {
      if (isPathBlocked(e)) throw herdFailure('import/missing-file', `${show(rel)}: ${e.message}`, 'herd import reads only files inside --from');
      if (e instanceof RangeError) throw herdFailure('import/missing-file', `${show(rel)} is larger than ${MAX_INPUT_BYTES} bytes`, 'this is not a configuration file herd can import');
      if ((e as { kind?: string }).kind === 'herd-failure') throw e;
      throw herdFailure('import/missing-file', `${show(rel)} cannot be read: ${(e as Error).message}`, 'run herd import as a user who can read the site files');
    }
    return bytes === undefined ? undefined : { file: show(rel), bytes };
  };
  const nodesConf = read('etc/warewulf/nodes.conf');
  if (!nodesConf) throw herdFailure('import/missing-file', `${show('etc/warewulf/nodes.conf')} does not exist`, '--from names the site root: the folder holding etc/warewulf/nodes.conf (/ on the head itself)');
  const slurmMain = read('etc/slurm/slurm.conf');
  const includes = new Map<string, TextFile>();
  if (slurmMain) {
    const queue = [slurmMain];
    while (queue.length > 0 && includes.size < 100) {
      const f = queue.shift()!;
      for (const inc of slurmIncludes(new TextDecoder().decode(f.bytes))) {
        if (includes.has(inc.path)) continue;
        const rel = inc.path.startsWith('/') ? posix.normalize(inc.path).slice(1) : posix.normalize(posix.join('etc/slurm', inc.path));
        if (rel.startsWith('..')) continue;
        const t = read(rel);
        if (t) {
          includes.set(inc.path, t);
          queue.push(t);
        }
      }
    }
  }
  const overlayFiles = new Map<string, Map<string, OverlayFile>>();
  const skipped: Diagnostic[] = [];
  for (const dir of OVERLAY_DIRS) {
    for (const e of root.readdir(dir) ?? []) {
      if (!e.isDirectory() || overlayFiles.has(e.name)) continue;
      const top = root.isDirectory(`${dir}/${e.name}/rootfs`) ? `${dir}/${e.name}/rootfs` : `${dir}/${e.name}`;
      const files = new Map<string, OverlayFile>();
      const walk = (rel: string): void => {
        for (const x of [...(root.readdir(`${top}${rel ? `/${rel}` : ''}`) ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1))) {
          const r = rel ? `${rel}/${x.name}` : x.name;
          if (x.isDirectory()) walk(r);
          else if (x.isFile() && files.size < MAX_OVERLAY_FILES) {
            const st = root.lstat(`${top}/${r}`);
            const b = root.readFile(`${top}/${r}`, MAX_INPUT_BYTES);
            if (b) files.set(r, { bytes: b, mode: st && (Number(st.mode) & 0o111) !== 0 ? 0o755 : 0o644 });
          } else {
            skipped.push(diagnosticAt({ file: show(`${top}/${r}`), path: [] }, 'import/changed-value', 'warning', `${x.isSymbolicLink() ? 'symlink' : 'special file'} ${r} of site overlay ${e.name} is not copied`, 'recreate it in overlays/' + e.name + '/ beside the spec if the nodes need it'));
          }
        }
      };
      walk('');
      overlayFiles.set(e.name, files);
    }
  }
  const files = new Map<string, TextFile>();
  for (const rel of ['etc/warewulf/warewulf.conf', 'etc/slurm/gres.conf', 'etc/exports', 'etc/hosts', 'etc/firewalld/zones/trusted.xml']) {
    const f = read(rel);
    if (f) files.set(rel, f);
  }
  const opt = <K extends keyof SiteInput>(key: K, rel: string): Partial<SiteInput> => (files.has(rel) ? ({ [key]: files.get(rel)! } as Partial<SiteInput>) : {});
  const input: SiteInput = {
    nodesConf,
    ...opt('warewulfConf', 'etc/warewulf/warewulf.conf'),
    ...(slurmMain ? { slurm: { main: slurmMain, includes } } : {}),
    ...opt('gresConf', 'etc/slurm/gres.conf'),
    ...opt('exports', 'etc/exports'),
    ...opt('hosts', 'etc/hosts'),
    ...opt('trustedZone', 'etc/firewalld/zones/trusted.xml'),
    others: new Map(OTHER_FILES.flatMap((p) => { const f = files.get(p) ?? read(p); return f ? [[p, f] as const] : []; })),
    siteOverlays: new Map([...overlayFiles].map(([n, f]) => [n, [...f.keys()].sort()])),
  };
  return { input, overlayFiles, skipped };
}


export const command: Command = {
  name: 'import',
  summary: 'turn an existing Warewulf 4.6 + Slurm site into a cluster spec, reporting every value it changes',
  usage: '--from ROOT [--out DIR/cluster.yaml] [--warewulf-version 4.6.x] [--overwrite] [--format text|json]',
  interrupted: 'nothing was written: the spec, inventory and overlays are put in place only at the end',
  help: [
    '--from ROOT            the site root: the folder holding etc/warewulf/nodes.conf, etc/warewulf/warewulf.conf, etc/slurm/slurm.conf',
    '                       (with its Include parts and gres.conf), etc/exports and etc/hosts; / on the head itself',
    '--out FILE             where to write the spec (default ./cluster.yaml); inventory.csv and overlays/<name>/ go beside it',
    '--warewulf-version V   the Warewulf release of the site (4.6.0 to 4.6.5), when the files do not tell it',
    '--overwrite            replace an existing spec, inventory or overlay folder at --out (refused otherwise)',
    'Findings about the site (duplicate MAC or address, nodes missing from slurm.conf, ...) and every value the spec drops or',
    'changes are reported with the file:line they come from. Nothing is written when there is an error.',
  ].join('\n'),
  options: { from: { type: 'string' }, out: { type: 'string', short: 'o' }, 'warewulf-version': { type: 'string' }, overwrite: { type: 'boolean' } },
  async run(args, ctx) {
    const from = args.values.from as string | undefined;
    if (!from) throw herdFailure('cli/usage', 'herd import needs --from ROOT', 'e.g. herd import --from / --out clusters/site/cluster.yaml (on the head), or --from a copy of its /etc tree');
    if (args.positionals.length > 0) throw herdFailure('cli/usage', `herd import takes no positional argument (got ${args.positionals[0]})`, 'give the site root with --from ROOT');
    const version = args.values['warewulf-version'] as string | undefined;
    if (version !== undefined && !VERSIONS.includes(version as WarewulfVersion)) throw herdFailure('cli/usage', `--warewulf-version ${version} is not a release herd knows`, `use one of ${VERSIONS.join(', ')}`);
    const out = resolve(ctx.io.cwd, (args.values.out as string | undefined) ?? 'cluster.yaml');
    const outName = basename(out);
    let root: ConfinedDir;
    try {
      root = ConfinedDir.open(resolve(ctx.io.cwd, from), { what: 'site root' });
    } catch (e) {
      if (isPathBlocked(e)) throw herdFailure('import/missing-file', e.message, '--from names the folder holding the site\'s etc/');
      throw herdFailure('import/missing-file', `--from ${from} cannot be opened: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, '--from names the folder holding the site\'s etc/');
    }
    let site: ReturnType<typeof readSite>;
    try {
      site = readSite(root, from.replace(/\/+$/, '') || '/');
    } finally {
      root.close();
    }
    const imported = importSite(site.input, { ...(version ? { warewulfVersion: version as WarewulfVersion } : {}), specName: outName });
    // What was left out of the site overlays the spec uses (symlinks, FIFOs) is reported like any other dropped value.
    const used = new Set(imported.overlays);
    const skipped = site.skipped.filter((d) => used.has(/site overlay (\S+) is not copied/.exec(d.message)?.[1] ?? ''));
    const result = { ...imported, diagnostics: sortDiagnostics([...imported.diagnostics, ...skipped]) };
    const sources = new Map<string, string>();
    for (const f of [site.input.nodesConf, site.input.warewulfConf, site.input.slurm?.main, ...(site.input.slurm?.includes.values() ?? []), site.input.gresConf, site.input.exports, site.input.hosts]) {
      // Code frames quote the site's lines: an IPMI password in nodes.conf is shown by its hash only.
      if (f) sources.set(f.file, redactSecrets(f.file, new TextDecoder().decode(f.bytes)));
    }
    if (result.draftText) sources.set(outName, result.draftText);
    const failed = hasErrors(result.diagnostics) || !result.specText;
    const report = (code: number, written: string[]): number => {
      if (ctx.format === 'json') {
        ctx.io.stdout.write(renderEnvelope('import', code, result.diagnostics, { written, nodes: result.nodes, warewulfVersion: result.version, files: result.files }));
        return code;
      }
      if (result.diagnostics.length > 0) ctx.io.stderr.write(renderDiagnostics(result.diagnostics, sources, ctx.color) + '\n');
      if (code !== EXIT.ok) {
        ctx.io.stderr.write(`herd import: nothing written (${summarize(result.diagnostics)})\n`);
        return code;
      }
      const lines = [`herd import: ${result.nodes} nodes from ${from}; wrote ${written.join(', ')} (${summarize(result.diagnostics)})`];
      const verdict: Record<string, string> = { identical: 'identical', 'bytes-only': 'differs in bytes only (comments, order, header)', changed: 'changes in meaning: see the warnings above', new: 'new (the site has none)' };
      for (const f of result.files) lines.push(`  ${f.path}: ${verdict[f.verdict]}`);
      ctx.io.stdout.write(lines.join('\n') + '\n');
      return code;
    };
    if (failed) return report(EXIT.findings, []);

    // Everything is computed; now the writes, each file exclusive under a temporary name, renamed into place at the end.
    const outDir = dirname(out);
    const targets: { rel: string; bytes?: Uint8Array; overlay?: Map<string, OverlayFile> }[] = [{ rel: outName, bytes: new TextEncoder().encode(result.specText!) }];
    if (result.inventoryText) targets.push({ rel: 'inventory.csv', bytes: new TextEncoder().encode(result.inventoryText) });
    for (const o of result.overlays) targets.push({ rel: `overlays/${o}`, overlay: site.overlayFiles.get(o) ?? new Map() });
    let dir: ConfinedDir;
    try {
      dir = ConfinedDir.open(outDir, { what: 'output folder', create: true });
    } catch (e) {
      throw herdFailure('import/output-exists', `the output folder ${outDir} cannot be used: ${(e as Error).message}`, 'choose another --out');
    }
    const overwrite = Boolean(args.values.overwrite);
    const shown = (rel: string): string => join(dirname((args.values.out as string | undefined) ?? 'cluster.yaml'), rel);
    const written: string[] = [];
    const temps: string[] = [];
    try {
      for (const t of targets) if (dir.lstat(t.rel) !== null && !overwrite) throw herdFailure('import/output-exists', `${shown(t.rel)} already exists`, 'choose another --out, or pass --overwrite to replace it');
      if (result.overlays.length > 0) dir.mkdirs('overlays');
      const tmp = dir.mkdtemp('', `.herd-import-${process.pid}-`);
      temps.push(tmp);
      for (const t of targets) {
        if (t.bytes) dir.writeNew(`${tmp}/${t.rel.replace(/\//g, '_')}`, t.bytes, 0o644, { fsync: true });
        else {
          dir.mkdirs(`${tmp}/${t.rel}`);
          for (const [rel, f] of [...t.overlay!].sort(([a], [b]) => (a < b ? -1 : 1))) dir.writeNew(`${tmp}/${t.rel}/${rel}`, f.bytes, f.mode, { fsync: true });
        }
      }
      for (const t of targets) {
        const staged = t.bytes ? `${tmp}/${t.rel.replace(/\//g, '_')}` : `${tmp}/${t.rel}`;
        if (dir.lstat(t.rel) !== null) {
          if (t.bytes) dir.unlink(t.rel);
          else dir.removeTree(t.rel);
        }
        dir.rename(staged, t.rel);
        written.push(shown(t.rel) + (t.overlay ? '/' : ''));
      }
      dir.fsyncDir('');
    } finally {
      for (const t of temps) dir.removeTree(t);
      dir.close();
    }
    return report(EXIT.ok, written);
  },
};

