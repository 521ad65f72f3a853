// Reading an existing slurm.conf (and its Include parts) and gres.conf the way slurmctld does (pure): keys case-insensitive,
// `#` comments, `\` continuations, NodeName=DEFAULT / PartitionName=DEFAULT applying to the lines after them; every value keeps its file:line.
import { diagnosticAt, type Diagnostic, type SourceRef } from '../diagnostics/diagnostic.ts';
import { canonicalKey, SLURM_GLOBAL_KEYS, SLURM_NODE_KEYS, SLURM_PARTITION_KEYS } from '../spec/slurm-keys.ts';
import { expandHostlist } from '../spec/hostlist.ts';

/** A key=value with the place it was written. Keys carry Slurm's canonical spelling when Slurm knows them. */
export interface SlurmPair {
  readonly key: string;
  readonly value: string;
  readonly at: SourceRef;
}

export interface SlurmNodeDef {
  readonly name: string;
  /** Node keys after NodeName=DEFAULT lines were applied, canonical spelling. */
  readonly fields: ReadonlyMap<string, SlurmPair>;
  /** This node's NodeAddr, already paired with its name (hostlist order). */
  readonly addr?: SlurmPair;
  readonly at: SourceRef;
}

export interface SlurmPartitionDef {
  readonly name: string;
  readonly fields: ReadonlyMap<string, SlurmPair>;
  readonly at: SourceRef;
}

export interface SlurmSite {
  /** Global keys in file order (the last of a repeated key wins in slurmctld; all are kept here). */
  readonly globals: readonly SlurmPair[];
  readonly nodes: readonly SlurmNodeDef[];
  readonly partitions: readonly SlurmPartitionDef[];
  /** Lines of other kinds slurmctld reads (NodeSet, DownNodes, FrontendName...), kept only to be reported. */
  readonly others: readonly SlurmPair[];
  readonly diagnostics: readonly Diagnostic[];
}

/** One logical line: continuations joined, comments cut, with the line it started on. */
interface LogicalLine {
  readonly text: string;
  readonly line: number;
}

function logicalLines(text: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  const raw = text.split(/\r?\n/);
  let buf = '';
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    let l = raw[i]!;
    // `#` starts a comment unless escaped as `\#`.
    const hash = l.search(/(?<!\\)#/);
    if (hash >= 0) l = l.slice(0, hash);
    l = l.replace(/\\#/g, '#');
    if (buf === '') start = i + 1;
    if (/\\\s*$/.test(l)) {
      buf += l.replace(/\\\s*$/, ' ');
      continue;
    }
    buf += l;
    if (buf.trim() !== '') out.push({ text: buf, line: start });
    buf = '';
  }
  if (buf.trim() !== '') out.push({ text: buf, line: start });
  return out;
}

/** Split `a=b c="d e"` into pairs with 1-based columns. Undefined on a token without `=`. */
function splitPairs(text: string): { key: string; value: string; col: number }[] | { bad: string; col: number } {
  const out: { key: string; value: string; col: number }[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    const col = i + 1;
    const eq = text.indexOf('=', i);
    const ws = text.slice(i).search(/\s/);
    const tokenEnd = ws < 0 ? text.length : i + ws;
    if (eq < 0 || eq > tokenEnd) return { bad: text.slice(i, tokenEnd), col };
    const key = text.slice(i, eq);
    i = eq + 1;
    let value = '';
    if (text[i] === '"') {
      const close = text.indexOf('"', i + 1);
      const end = close < 0 ? text.length : close;
      value = text.slice(i + 1, end);
      i = end + 1;
    } else {
      const rest = text.slice(i).search(/\s/);
      const end = rest < 0 ? text.length : i + rest;
      value = text.slice(i, end);
      i = end;
    }
    out.push({ key, value, col });
  }
  return out;
}

/** The files named by `Include` lines of one slurm.conf part, in order, as written (relative to slurm.conf's folder when not absolute). */
export function slurmIncludes(text: string): { path: string; line: number }[] {
  return logicalLines(text).flatMap((l) => {
    const m = /^\s*include\s+(\S+)\s*$/i.exec(l.text);
    return m ? [{ path: m[1]!, line: l.line }] : [];
  });
}

/** Source texts by file name; `Include` names are looked up as written after the caller resolved them (see slurmIncludes). */
export interface SlurmSources {
  readonly main: { readonly file: string; readonly text: string };
  /** Included parts by the name written in the Include line. Missing ones are reported. */
  readonly includes: ReadonlyMap<string, { readonly file: string; readonly text: string }>;
}

const KNOWN_OTHER = ['NodeSet', 'DownNodes', 'FrontendName', 'SlurmctldHost'];

/** Parse slurm.conf with its includes into globals, nodes and partitions. Never throws. */
export function parseSlurmConf(src: SlurmSources): SlurmSite {
  const diagnostics: Diagnostic[] = [];
  const globals: SlurmPair[] = [];
  const others: SlurmPair[] = [];
  const nodes: SlurmNodeDef[] = [];
  const partitions: SlurmPartitionDef[] = [];
  let nodeDefaults = new Map<string, SlurmPair>();
  let partDefaults = new Map<string, SlurmPair>();
  const seenNodes = new Map<string, SourceRef>();
  const seenParts = new Map<string, SourceRef>();
  const visiting = new Set<string>();

  const readPart = (file: string, text: string): void => {
    if (visiting.has(file)) return;
    visiting.add(file);
    for (const l of logicalLines(text)) {
      const at = (col: number, path: (string | number)[] = []): SourceRef => ({ file, path, line: l.line, column: col });
      const inc = /^\s*include\s+(\S+)\s*$/i.exec(l.text);
      if (inc) {
        const part = src.includes.get(inc[1]!);
        if (part) readPart(part.file, part.text);
        else diagnostics.push(diagnosticAt(at(1), 'import/missing-file', 'error', `Include ${inc[1]} names a file that is not under the site root`, 'copy the included file into the site tree at the path slurmctld reads it from'));
        continue;
      }
      // slurmctld accepts spaces around `=` (measured: `SelectType = select/cons_tres` is read).
      const pairs = splitPairs(l.text.replace(/\s*=\s*/g, '='));
      if (!Array.isArray(pairs)) {
        diagnostics.push(diagnosticAt(at(pairs.col), 'import/slurm-syntax', 'error', `"${pairs.bad}" is not a key=value pair`, 'slurmctld refuses this line; fix it in the site before importing'));
        continue;
      }
      if (pairs.length === 0) continue;
      const first = pairs[0]!;
      const kind = first.key.toLowerCase();
      if (kind === 'nodename' || kind === 'partitionname') {
        const known = kind === 'nodename' ? SLURM_NODE_KEYS : SLURM_PARTITION_KEYS;
        const fields = new Map<string, SlurmPair>();
        let bad = false;
        for (const p of pairs.slice(1)) {
          const key = canonicalKey(p.key, known);
          if (!key) {
            diagnostics.push(diagnosticAt(at(p.col), 'slurm/unknown-key', 'error', `${p.key} is not a ${kind === 'nodename' ? 'NodeName' : 'PartitionName'} key Slurm knows`, 'slurmctld refuses this line; fix it in the site before importing'));
            bad = true;
            continue;
          }
          fields.set(key, { key, value: p.value, at: at(p.col) });
        }
        if (bad) continue;
        if (first.value.toUpperCase() === 'DEFAULT') {
          const target = kind === 'nodename' ? nodeDefaults : partDefaults;
          const merged = new Map(target);
          for (const [k, v] of fields) merged.set(k, v);
          if (kind === 'nodename') nodeDefaults = merged;
          else partDefaults = merged;
          continue;
        }
        if (kind === 'partitionname') {
          const prev = seenParts.get(first.value);
          if (prev) {
            diagnostics.push(diagnosticAt(at(first.col), 'import/slurm-syntax', 'error', `partition ${first.value} is defined twice (first at line ${prev.line})`, 'slurmctld refuses a partition defined twice'));
            continue;
          }
          seenParts.set(first.value, at(first.col));
          partitions.push({ name: first.value, fields: new Map([...partDefaults, ...fields]), at: at(first.col) });
          continue;
        }
        const ex = expandHostlist(first.value);
        if (!ex.ok) {
          diagnostics.push(diagnosticAt(at(first.col), 'node/hostlist-syntax', 'error', `NodeName=${first.value}: ${ex.error.message}`, 'slurmctld refuses this line; fix it in the site before importing'));
          continue;
        }
        const all = new Map([...nodeDefaults, ...fields]);
        const addrPair = all.get('NodeAddr');
        let addrs: string[] | undefined;
        if (addrPair) {
          const ax = expandHostlist(addrPair.value);
          addrs = ax.ok ? ax.names : addrPair.value.split(',');
          if (addrs.length !== ex.names.length && addrs.length !== 1) {
            diagnostics.push(diagnosticAt(addrPair.at, 'node/list-size-mismatch', 'error', `NodeName=${first.value} names ${ex.names.length} nodes but NodeAddr gives ${addrs.length} addresses`, 'give one address per node, in the order the names expand'));
          }
        }
        ex.names.forEach((name, i) => {
          const prev = seenNodes.get(name);
          if (prev) {
            diagnostics.push(diagnosticAt(at(first.col), 'node/duplicate-name', 'error', `node ${name} is defined twice in slurm.conf (first at ${prev.file}:${prev.line})`, 'slurmctld refuses a node defined twice'));
            return;
          }
          seenNodes.set(name, at(first.col));
          const a = addrs ? (addrs.length === 1 ? addrs[0] : addrs[i]) : undefined;
          const def: { -readonly [K in keyof SlurmNodeDef]: SlurmNodeDef[K] } = { name, fields: all, at: at(first.col) };
          if (a !== undefined && addrPair) def.addr = { key: 'NodeAddr', value: a, at: addrPair.at };
          nodes.push(def);
        });
        continue;
      }
      // Outside NodeName/PartitionName lines slurmctld reads one key=value per line (measured: a second pair is a parse error).
      const single = /^(nodeset|downnodes|frontendname)$/i.test(first.key) ? pairs : pairs.slice(0, 1);
      if (single.length < pairs.length) {
        diagnostics.push(diagnosticAt(at(pairs[1]!.col), 'import/slurm-syntax', 'error', `a second key=value (${pairs[1]!.key}) on a ${first.key} line: slurmctld reads one per line here`, 'put each key on its own line'));
        continue;
      }
      for (const p of single) {
        const key = canonicalKey(p.key, [...SLURM_GLOBAL_KEYS, ...KNOWN_OTHER]);
        if (!key) {
          diagnostics.push(diagnosticAt(at(p.col), 'slurm/unknown-key', 'error', `${p.key} is not a slurm.conf key Slurm knows`, 'slurmctld refuses this line; fix it in the site before importing'));
          continue;
        }
        const pair = { key, value: p.value, at: at(p.col) };
        if (key === 'NodeSet' || key === 'DownNodes' || key === 'FrontendName') others.push(pair);
        else globals.push(pair);
        // NodeSet/DownNodes lines carry their own keys after the first: they are reported whole, not read as globals.
        if (key === 'NodeSet' || key === 'DownNodes' || key === 'FrontendName') break;
      }
    }
    visiting.delete(file);
  };
  readPart(src.main.file, src.main.text);
  return { globals, nodes, partitions, others, diagnostics };
}

/** The last value of a global key (slurmctld keeps the last), case-insensitive. */
export function globalValue(site: SlurmSite, key: string): SlurmPair | undefined {
  const k = key.toLowerCase();
  for (let i = site.globals.length - 1; i >= 0; i--) if (site.globals[i]!.key.toLowerCase() === k) return site.globals[i];
  return undefined;
}

export interface GresLine {
  readonly nodes: readonly string[];
  readonly name: string;
  readonly type?: string;
  readonly file?: string;
  readonly other: readonly SlurmPair[];
  readonly at: SourceRef;
}

/** gres.conf lines (`NodeName=... Name=gpu Type=... File=...`); a line without NodeName applies to every node (undefined nodes). */
export function parseGresConf(file: string, text: string): { lines: GresLine[]; unscoped: SlurmPair[]; diagnostics: Diagnostic[] } {
  const lines: GresLine[] = [];
  const unscoped: SlurmPair[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const l of logicalLines(text)) {
    const at = (col: number): SourceRef => ({ file, path: [], line: l.line, column: col });
    const pairs = splitPairs(l.text);
    if (!Array.isArray(pairs)) {
      diagnostics.push(diagnosticAt(at(pairs.col), 'import/slurm-syntax', 'error', `"${pairs.bad}" is not a key=value pair`, 'slurmctld refuses this line; fix it in the site before importing'));
      continue;
    }
    const get = (k: string): { key: string; value: string; col: number } | undefined => pairs.find((p) => p.key.toLowerCase() === k.toLowerCase());
    const nodeName = get('NodeName');
    const name = get('Name');
    if (!nodeName || !name) {
      for (const p of pairs) unscoped.push({ key: p.key, value: p.value, at: at(p.col) });
      continue;
    }
    const ex = expandHostlist(nodeName.value);
    if (!ex.ok) {
      diagnostics.push(diagnosticAt(at(nodeName.col), 'node/hostlist-syntax', 'error', `NodeName=${nodeName.value}: ${ex.error.message}`, 'fix the hostlist in gres.conf'));
      continue;
    }
    const type = get('Type');
    const f = get('File');
    const other = pairs.filter((p) => !['nodename', 'name', 'type', 'file'].includes(p.key.toLowerCase())).map((p) => ({ key: p.key, value: p.value, at: at(p.col) }));
    lines.push({ nodes: ex.names, name: name.value, ...(type ? { type: type.value } : {}), ...(f ? { file: f.value } : {}), other, at: at(nodeName.col) });
  }
  return { lines, unscoped, diagnostics };
}

/**
 * A node's CPU topology as slurmctld fills it in (measured with Slurm 22.05): CoresPerSocket and ThreadsPerCore default to 1,
 * Sockets to CPUs / (CoresPerSocket x ThreadsPerCore), and CPUs to the product. Undefined values stay undefined when nothing is given.
 */
export function slurmTopology(fields: ReadonlyMap<string, { readonly value: string }>): { cpus?: number; sockets?: number; cores?: number; threads?: number } {
  const num = (k: string): number | undefined => {
    const v = fields.get(k)?.value;
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  const cpus = num('CPUs') ?? num('Procs');
  const cores = num('CoresPerSocket');
  const threads = num('ThreadsPerCore');
  let sockets = num('Sockets');
  if (cpus === undefined && sockets === undefined && cores === undefined && threads === undefined) return {};
  const c = cores ?? 1;
  const t = threads ?? 1;
  if (sockets === undefined) sockets = cpus !== undefined ? Math.max(1, Math.floor(cpus / (c * t))) : 1;
  return { cpus: cpus ?? sockets * c * t, sockets, cores: c, threads: t };
}
