// Hardware inventory CSV beside the spec (pure): rows joined to nodes by name, never by position.
import { diagnosticAt, type Diagnostic, type SourceRef } from '../diagnostics/diagnostic.ts';
import { MAX_NODES } from './hostlist.ts';

export interface InventoryRow {
  readonly name: string;
  readonly mac?: string;
  readonly address?: string;
  /** Other columns (serial, bmc_mac, rack...) become node tags. */
  readonly extra: Readonly<Record<string, string>>;
  readonly at: SourceRef;
  readonly macAt?: SourceRef;
  readonly addressAt?: SourceRef;
}

/** Split one CSV line (RFC 4180 quotes supported), returning cells with their 1-based start columns. */
function splitCsvLine(line: string): { cells: { text: string; col: number }[]; error?: number } {
  const cells: { text: string; col: number }[] = [];
  let i = 0;
  while (i <= line.length) {
    const col = i + 1;
    let text = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return { cells, error: col };
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            text += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += line[i++];
      }
      if (i < line.length && line[i] !== ',') return { cells, error: i + 1 };
    } else {
      const next = line.indexOf(',', i);
      const end = next < 0 ? line.length : next;
      text = line.slice(i, end).trim();
      i = end;
    }
    cells.push({ text, col });
    i++;
  }
  return { cells };
}

/** Rows share one frozen empty spec path: a CSV cell has no place in the YAML, and 100,000 rows would otherwise make 300,000 arrays. */
const NO_PATH: readonly (string | number)[] = Object.freeze([]);

/** Cells of a line without quotes: split at commas and trimmed, the common case, without one object per cell. */
function splitPlain(line: string, texts: string[], cols: number[]): void {
  texts.length = 0;
  cols.length = 0;
  let i = 0;
  for (;;) {
    const next = line.indexOf(',', i);
    const end = next < 0 ? line.length : next;
    texts.push(line.slice(i, end).trim());
    cols.push(i + 1);
    if (next < 0) return;
    i = next + 1;
  }
}

/** Is the line blank or a comment (first non-blank character `#`)? Without trimming a copy of every line. */
function skippable(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 32 || c === 9 || c === 13 || c === 11 || c === 12 || c === 0xa0 || c === 0xfeff) continue;
    if (c > 127 && line[i]!.trim() === '') continue;
    return c === 35;
  }
  return true;
}

/**
 * Rows by name, in file order, with their line and column; duplicates, bad quoting and short rows are diagnostics.
 * Linear in the file (issue #17); rows past `maxRows` (MAX_NODES) are refused with one diagnostic, not read.
 */
export function parseInventory(file: string, text: string, maxRows = MAX_NODES): { rows: InventoryRow[]; diagnostics: Diagnostic[] } {
  const rows: InventoryRow[] = [];
  const diagnostics: Diagnostic[] = [];
  const lines = text.split(/\r?\n/);
  let header: string[] | undefined;
  let nameCol = -1;
  let macCol = -1;
  let addressCol = -1;
  /** Columns that become tags: [header name, index]. */
  let extraCols: [string, number][] = [];
  /** Row number by name: kept for resolveNodes (rowIndex), which would otherwise build the same map again. */
  const seen = new Map<string, number>();
  const texts: string[] = [];
  const cols: number[] = [];
  for (let li = 0; li < lines.length; li++) {
    const raw = lines[li]!;
    const lineNo = li + 1;
    if (skippable(raw)) continue;
    if (raw.includes('"')) {
      const { cells, error } = splitCsvLine(raw);
      if (error !== undefined) {
        diagnostics.push(diagnosticAt({ file, path: [], line: lineNo, column: error }, 'inventory/csv-syntax', 'error', 'unterminated or misplaced quote', 'close the quoted cell with " and separate cells with commas'));
        continue;
      }
      texts.length = 0;
      cols.length = 0;
      for (const c of cells) {
        texts.push(c.text);
        cols.push(c.col);
      }
    } else splitPlain(raw, texts, cols);
    if (!header) {
      header = texts.map((t) => t.toLowerCase());
      nameCol = header.indexOf('name');
      macCol = header.indexOf('mac');
      addressCol = header.indexOf('address');
      extraCols = header.flatMap((h, i): [string, number][] => (h === 'name' || h === 'mac' || h === 'address' ? [] : [[h, i]]));
      if (nameCol < 0) {
        diagnostics.push(diagnosticAt({ file, path: [], line: lineNo, column: 1 }, 'inventory/csv-syntax', 'error', `the header row has no "name" column (found: ${header.join(', ')})`, 'start the file with a header row such as: name,mac,address'));
      }
      continue;
    }
    if (texts.length !== header.length) {
      diagnostics.push(diagnosticAt({ file, path: [], line: lineNo, column: 1 }, 'inventory/csv-syntax', 'error', `row has ${texts.length} cells but the header has ${header.length}`, 'give every row one cell per header column'));
      continue;
    }
    const name = nameCol < 0 ? '' : texts[nameCol]!;
    if (name === '') continue;
    const at: SourceRef = { file, path: NO_PATH, line: lineNo, column: cols[nameCol]! };
    const prevRow = seen.get(name);
    if (prevRow !== undefined) {
      const prev = rows[prevRow]!.at;
      diagnostics.push(diagnosticAt(at, 'inventory/duplicate-row', 'error', `node ${name} has two inventory rows`, 'keep one row per node', [{ message: 'first row', file, line: prev.line, column: prev.column }]));
      continue;
    }
    if (rows.length === maxRows) {
      // Rows cost memory whether or not a node uses them: stop here, as the spec's own node count stops at the same number.
      diagnostics.push(diagnosticAt(at, 'node/too-many-nodes', 'error', `the inventory lists more than ${maxRows} nodes, more than herd validates in one spec; this row is the first past it`, 'split the cluster into several specs, each with its own inventory'));
      break;
    }
    seen.set(name, rows.length);
    const extra: Record<string, string> = {};
    for (const [h, i] of extraCols) if (texts[i] !== '') extra[h] = texts[i]!;
    const row: { -readonly [K in keyof InventoryRow]: InventoryRow[K] } = { name, extra, at };
    const mac = macCol < 0 ? '' : texts[macCol]!;
    if (mac !== '') {
      row.mac = mac;
      row.macAt = { file, path: NO_PATH, line: lineNo, column: cols[macCol]! };
    }
    const address = addressCol < 0 ? '' : texts[addressCol]!;
    if (address !== '') {
      row.address = address;
      row.addressAt = { file, path: NO_PATH, line: lineNo, column: cols[addressCol]! };
    }
    rows.push(row);
  }
  indexes.set(rows, seen);
  return { rows, diagnostics };
}

const indexes = new WeakMap<readonly InventoryRow[], ReadonlyMap<string, number>>();

/** Position of each row by node name (names are distinct): the map parseInventory built for `rows`, or a new one for rows from elsewhere. */
export function rowIndex(rows: readonly InventoryRow[]): ReadonlyMap<string, number> {
  let index = indexes.get(rows);
  if (!index) {
    const built = new Map<string, number>();
    rows.forEach((r, i) => {
      if (!built.has(r.name)) built.set(r.name, i);
    });
    indexes.set(rows, (index = built));
  }
  return index;
}
