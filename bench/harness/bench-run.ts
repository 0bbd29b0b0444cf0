// The harness behind `npm run bench`: runs suites one after another, each in
// its own process under a time budget, and records what came out of each —
// including why a suite produced nothing.
import { existsSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeError, runChildTask } from './child-task.js';
import { machineInfo } from './machine.js';
import { progress } from './progress.js';
import { readSuiteRecords, renderResultsMarkdown, renderTable, writeSuiteRecord, type SuiteRecord } from './results-file.js';
import type { SuiteResult } from './suite.js';

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Every suite, in the order they run and appear in RESULTS.md. */
export const SUITES = ['turns', 'memory', 'sandbox', 'agents', 'chains', 'scaleout'] as const;

/** Seconds each suite may take in a full run; the sum stays under the 15-minute bound. */
const FULL_BUDGET_S: Record<string, number> = { turns: 420, memory: 75, sandbox: 75, agents: 75, chains: 75, scaleout: 120 };
const QUICK_BUDGET_S = 90;
/** Past its budget a suite gets this long to finish before it is killed. */
const GRACE_S = 20;
const WHOLE_RUN_S = 14.5 * 60;

export interface BenchOptions {
  suites?: string[];
  quick?: boolean;
  /** Only these rows, for suites that support choosing (turns does). */
  rows?: string[];
  /** Where RESULTS.md and results/ go; defaults to bench/. */
  outDir?: string;
  /** Where suite folders are looked up; defaults to bench/ (tests point it elsewhere). */
  suitesDir?: string;
  /** Print each suite's table on stdout as it finishes (the CLI does). */
  printTables?: boolean;
}

export interface BenchOutcome {
  records: SuiteRecord[];
  resultsMarkdown: string;
}

export async function runBench(options: BenchOptions = {}): Promise<BenchOutcome> {
  const quick = options.quick ?? false;
  const outDir = options.outDir ?? BENCH_DIR;
  const resultsDir = join(outDir, 'results');
  const suites = options.suites?.length ? options.suites : [...SUITES];
  const unknown = suites.filter((s) => !(SUITES as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`unknown suite ${unknown.join(', ')}; suites are ${SUITES.join(', ')}`);

  const machine = machineInfo();
  const runStarted = Date.now();
  const records: SuiteRecord[] = [];
  progress(`${quick ? 'quick' : 'full'} run of ${suites.join(', ')} on ${machine.cpuModel} (${machine.cores} cores), Node ${machine.node}`);

  for (const suite of suites) {
    const remainingS = WHOLE_RUN_S - (Date.now() - runStarted) / 1000;
    const budgetS = Math.max(5, Math.min(quick ? QUICK_BUDGET_S : (FULL_BUDGET_S[suite] ?? 80), remainingS - GRACE_S));
    const record = await runOneSuite(suite, { quick, rows: options.rows, budgetS, machine, suitesDir: options.suitesDir ?? BENCH_DIR });
    const file = writeSuiteRecord(resultsDir, record);
    progress(`${suite}: ${record.status} in ${(record.durationMs / 1000).toFixed(1)} s → ${relative(process.cwd(), file)}`);
    if (options.printTables) process.stdout.write(`\n## ${suite}\n\n${renderTable(record.rows)}${record.notes.map((n) => `- ${n}\n`).join('')}\n`);
    records.push(record);
  }

  const resultsMarkdown = join(outDir, 'RESULTS.md');
  writeFileSync(resultsMarkdown, renderResultsMarkdown(readSuiteRecords(resultsDir, SUITES)));
  progress(`wrote ${relative(process.cwd(), resultsMarkdown)} in ${((Date.now() - runStarted) / 1000).toFixed(0)} s`);
  return { records, resultsMarkdown };
}

interface SuiteRunOptions {
  quick: boolean;
  rows?: string[];
  budgetS: number;
  machine: SuiteRecord['machine'];
  suitesDir: string;
}

async function runOneSuite(suite: string, { quick, rows, budgetS, machine, suitesDir }: SuiteRunOptions): Promise<SuiteRecord> {
  const started = Date.now();
  const modulePath = join(suitesDir, suite, 'index.ts');
  const base = { suite, quick, machine };
  if (!existsSync(modulePath)) {
    const reason = `bench/${suite}/index.ts does not exist yet`;
    progress(`${suite}: skipped, ${reason}`);
    return { ...base, status: 'missing', durationMs: 0, rows: [{ suite, result: 'not available', reason }], notes: [] };
  }
  progress(`${suite}: starting (budget ${budgetS.toFixed(0)} s)`);
  try {
    const result = await runChildTask<SuiteResult>(
      join(BENCH_DIR, 'harness', 'suite-child.ts'),
      { modulePath, options: { quick, budgetMs: budgetS * 1000, rows } },
      { timeoutMs: (budgetS + GRACE_S) * 1000 },
    );
    if (!result || !Array.isArray(result.rows)) throw new Error('run() did not return { suite, rows, notes }');
    return { ...base, status: 'ok', durationMs: Date.now() - started, rows: result.rows, notes: Array.isArray(result.notes) ? result.notes : [] };
  } catch (error) {
    const reason = describeError(error);
    progress(`${suite}: failed: ${reason}`);
    return { ...base, status: 'failed', durationMs: Date.now() - started, rows: [{ suite, result: 'failed', reason }], notes: [] };
  }
}
