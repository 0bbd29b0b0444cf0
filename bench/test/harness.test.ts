import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench } from '../harness/index.js';
import type { SuiteRecord } from '../harness/results-file.js';

// Tiny iteration counts: proves the harness and two turns rows still run end to
// end and write their results. No timing is asserted: numbers here mean nothing.
describe('bench harness', function () {
  this.timeout(120_000);
  let outDir: string;
  let suitesDir: string;
  const quiet = process.env.ELIXIRCHAIN_BENCH_QUIET;

  before(() => {
    outDir = mkdtempSync(join(tmpdir(), 'bench-out-'));
    suitesDir = mkdtempSync(join(tmpdir(), 'bench-suites-'));
    process.env.ELIXIRCHAIN_BENCH_QUIET = '1';
  });

  after(() => {
    rmSync(outDir, { recursive: true, force: true });
    rmSync(suitesDir, { recursive: true, force: true });
    if (quiet === undefined) delete process.env.ELIXIRCHAIN_BENCH_QUIET;
    else process.env.ELIXIRCHAIN_BENCH_QUIET = quiet;
  });

  it('runs the plain-loop and bare grpc-js turns rows and writes RESULTS.md and turns.json', async () => {
    const { records, resultsMarkdown } = await runBench({ suites: ['turns'], quick: true, rows: ['plain-loop', 'bare-grpc'], outDir });

    assert.equal(records.length, 1);
    const [turns] = records;
    assert.equal(turns!.status, 'ok', JSON.stringify(turns!.rows));
    assert.deepEqual(turns!.rows.map((r) => r.row), ['plain TypeScript loop, no framework', 'bare grpc-js, same hops and messages, no work']);
    for (const row of turns!.rows) {
      assert.equal(row.status, 'ok', `${row.row}: ${row.status}`);
      assert.ok((row['turns/s sequential'] as number) > 0, `${row.row} reports sequential throughput`);
      assert.ok((row['turns/s, 100 in flight'] as number) > 0, `${row.row} reports throughput with 100 in flight`);
    }
    assert.equal(turns!.rows[1]!['100 in flight ÷ bare grpc-js'], 1, 'bare grpc-js is its own baseline');
    assert.equal(typeof turns!.rows[0]!['bytes/resident agent'], 'number', 'the plain loop measures resident agents');

    const json = JSON.parse(readFileSync(join(outDir, 'results', 'turns.json'), 'utf8')) as SuiteRecord;
    assert.equal(json.suite, 'turns');
    assert.equal(json.quick, true);
    assert.equal(json.rows.length, 2);
    assert.ok(json.machine.cores > 0 && json.machine.node.startsWith('v'));

    const markdown = readFileSync(resultsMarkdown, 'utf8');
    assert.match(markdown, /## Machine \(latest run\)/);
    assert.match(markdown, /- Node: v\d+/);
    assert.match(markdown, /## turns/);
    assert.match(markdown, /\| plain TypeScript loop, no framework \| [\d,.]+ \|/);
    assert.match(markdown, /\| bare grpc-js, same hops and messages, no work \| [\d,.]+ \|/);
  });

  it('records a suite without a module, and a suite that throws, as rows saying why', async () => {
    mkdirSync(join(suitesDir, 'memory'));
    writeFileSync(join(suitesDir, 'memory', 'index.ts'), "export async function run() { throw new Error('store unreachable'); }\n");

    const { records, resultsMarkdown } = await runBench({ suites: ['memory', 'chains'], quick: true, outDir, suitesDir });

    const [memory, chains] = records;
    assert.equal(memory!.status, 'failed');
    assert.match(String(memory!.rows[0]!.reason), /store unreachable/);
    assert.equal(chains!.status, 'missing');
    assert.match(String(chains!.rows[0]!.reason), /chains\/index\.ts does not exist/);

    // RESULTS.md is rendered from every suite's JSON, so the earlier turns run is still there.
    const markdown = readFileSync(resultsMarkdown, 'utf8');
    assert.match(markdown, /## turns[\s\S]*## memory[\s\S]*store unreachable[\s\S]*## chains/);
  });
});
