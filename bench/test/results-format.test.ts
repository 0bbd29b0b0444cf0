import assert from 'node:assert/strict';
import { percentile, summarizeLatencies } from '../harness/percentiles.js';
import { formatCell, renderTable } from '../harness/results-file.js';

describe('bench measurement and formatting', () => {
  it('takes nearest-rank percentiles', () => {
    const ascending = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(ascending, 50), 50);
    assert.equal(percentile(ascending, 99), 99);
    assert.equal(percentile(ascending, 100), 100);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('summarises unsorted samples', () => {
    const summary = summarizeLatencies([5, 1, 4, 2, 3]);
    assert.deepEqual({ ...summary }, { count: 5, mean: 3, p50: 3, p90: 5, p99: 5, max: 5 });
  });

  it('formats numbers by magnitude and keeps pipes out of cells', () => {
    assert.equal(formatCell(12345.6), '12,346');
    assert.equal(formatCell(123.4), '123');
    assert.equal(formatCell(12.34), '12.3');
    assert.equal(formatCell(1.234), '1.23');
    assert.equal(formatCell(Number.NaN), '—');
    assert.equal(formatCell('a | b'), 'a \\| b');
  });

  it('renders a table with the union of columns, right-aligning numeric ones', () => {
    const table = renderTable([{ row: 'a', 'ops/s': 10 }, { row: 'b', status: 'failed' }]);
    assert.equal(table, '| row | ops/s | status |\n|---|---:|---|\n| a | 10.0 |  |\n| b |  | failed |\n');
  });
});
