// Hardware inventory CSV beside the spec (pure): rows joined to nodes by name, never by position.
import { diagnosticAt, type Diagnostic, type SourceRef } from '../diagnostics/diagnostic.ts';

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

export function parseInventory(file: string, text: string): { rows: InventoryRow[]; diagnostics: Diagnostic[] } {
  const rows: InventoryRow[] = [];
  const diagnostics: Diagnostic[] = [];
  const lines = text.split(/\r?\n/);
  let header: string[] | undefined;
  const seen = new Map<string, SourceRef>();
  lines.forEach((raw, li) => {
    const lineNo = li + 1;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) return;
    const { cells, error } = splitCsvLine(raw);
    if (error !== undefined) {
      diagnostics.push(diagnosticAt({ file, path: [], line: lineNo, column: error }, 'inventory/csv-syntax', 'error', 'unterminated or misplaced quote', 'close the quoted cell with " and separate cells with commas'));
      return;
    }
    if (!header) {
      header = cells.map((c) => c.text.toLowerCase());
      if (!header.includes('name')) {
        diagnostics.push(diagnosticAt({ file, path: [], line: lineNo, column: 1 }, 'inventory/csv-syntax', 'error', `the header row has no "name" column (found: ${header.join(', ')})`, 'start the file with a header row such as: name,mac,address'));
      }
      return;
    }
    if (cells.length !== header.length) {
      diagnostics.push(diagnosticAt({ file, path: [], line: lineNo, column: 1 }, 'inventory/csv-syntax', 'error', `row has ${cells.length} cells but the header has ${header.length}`, 'give every row one cell per header column'));
      return;
    }
    const get = (col: string): { text: string; col: number } | undefined => {
      const i = header!.indexOf(col);
      return i >= 0 && cells[i]!.text !== '' ? cells[i] : undefined;
    };
    const name = get('name');
    if (!name) return;
    const at: SourceRef = { file, path: [], line: lineNo, column: name.col };
    const prev = seen.get(name.text);
    if (prev) {
      diagnostics.push(diagnosticAt(at, 'inventory/duplicate-row', 'error', `node ${name.text} has two inventory rows`, 'keep one row per node', [{ message: 'first row', file, line: prev.line, column: prev.column }]));
      return;
    }
    seen.set(name.text, at);
    const extra: Record<string, string> = {};
    header.forEach((h, i) => {
      if (!['name', 'mac', 'address'].includes(h) && cells[i]!.text !== '') extra[h] = cells[i]!.text;
    });
    const mac = get('mac');
    const address = get('address');
    rows.push({
      name: name.text,
      ...(mac ? { mac: mac.text, macAt: { file, path: [], line: lineNo, column: mac.col } } : {}),
      ...(address ? { address: address.text, addressAt: { file, path: [], line: lineNo, column: address.col } } : {}),
      extra,
      at,
    });
  });
  return { rows, diagnostics };
}
