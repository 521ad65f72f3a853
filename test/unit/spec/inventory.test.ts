// Inventory CSV parsing: cells and their columns (plain and quoted lines), skipped lines, duplicates and the row limit.
import { describe, expect, it } from 'vitest';
import { parseInventory, rowIndex } from '../../../src/spec/inventory.ts';

const CSV = ['name, mac ,rack,serial', '', '  # a comment', 'c1,52:54:00:aa:00:01, r1 ,', '"c2","52:54:00:aa:00:02","r""2",S2', '\u00a0', 'c3,,r3,S3', 'c1,52:54:00:aa:00:09,r1,x'].join('\r\n');

describe('parseInventory', () => {
  it('reads plain and quoted rows with the column each cell starts at; other columns become tags', () => {
    const { rows, diagnostics } = parseInventory('inv.csv', CSV);
    expect(rows.map((r) => [r.name, r.mac, r.extra, r.at.line, r.at.column, r.macAt?.column])).toEqual([
      ['c1', '52:54:00:aa:00:01', { rack: 'r1' }, 4, 1, 4],
      ['c2', '52:54:00:aa:00:02', { rack: 'r"2', serial: 'S2' }, 5, 1, 6],
      ['c3', undefined, { rack: 'r3', serial: 'S3' }, 7, 1, undefined],
    ]);
    expect(diagnostics.map((d) => [d.rule, d.line, d.column, d.related?.[0]?.line])).toEqual([['inventory/duplicate-row', 8, 1, 4]]);
    expect([...rowIndex(rows)]).toEqual([['c1', 0], ['c2', 1], ['c3', 2]]);
  });

  it('reports short rows and bad quotes on their line', () => {
    const { rows, diagnostics } = parseInventory('inv.csv', 'name,mac\nc1\n"c2,52:54:00:aa:00:02\nc3,52:54:00:aa:00:03\n');
    expect(rows.map((r) => r.name)).toEqual(['c3']);
    expect(diagnostics.map((d) => [d.rule, d.line])).toEqual([['inventory/csv-syntax', 2], ['inventory/csv-syntax', 3]]);
  });

  it('stops at the row limit with one located error instead of holding every row', () => {
    const text = ['name,mac', ...Array.from({ length: 6 }, (_, i) => `n${i + 1},52:54:00:aa:00:0${i + 1}`)].join('\n');
    const { rows, diagnostics } = parseInventory('inv.csv', text, 4);
    expect(rows.map((r) => r.name)).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(diagnostics.map((d) => [d.rule, d.severity, d.line, d.column])).toEqual([['node/too-many-nodes', 'error', 6, 1]]);
  });

  it('indexes rows it did not parse too', () => {
    const rows = parseInventory('inv.csv', 'name\na\nb\n').rows.map((r) => ({ ...r }));
    expect(rowIndex(rows).get('b')).toBe(1);
  });
});
