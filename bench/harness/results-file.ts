// bench/results/<suite>.json (one per suite, overwritten by its latest run) and
// bench/RESULTS.md, rendered from every JSON file so running one suite keeps
// the others' last results.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo } from './machine.js';
import type { Row, SuiteResult } from './suite.js';

export interface SuiteRecord extends SuiteResult {
  status: 'ok' | 'missing' | 'failed';
  quick: boolean;
  durationMs: number;
  machine: MachineInfo;
}

export function writeSuiteRecord(resultsDir: string, record: SuiteRecord): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${record.suite}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}

export function readSuiteRecords(resultsDir: string, order: readonly string[]): SuiteRecord[] {
  let files: string[];
  try {
    files = readdirSync(resultsDir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const records = files.map((f) => JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as SuiteRecord);
  const rank = (suite: string): number => (order.includes(suite) ? order.indexOf(suite) : order.length);
  return records.sort((a, b) => rank(a.suite) - rank(b.suite) || a.suite.localeCompare(b.suite));
}

/** Numbers at a precision a reader can compare at a glance. */
export function formatCell(value: string | number | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replaceAll('|', '\\|').replaceAll('\n', ' ');
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function renderTable(rows: readonly Row[]): string {
  const columns: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  if (columns.length === 0) return '_no rows_\n';
  const lines = [
    `| ${columns.join(' | ')} |`,
    `|${columns.map((c) => (rows.some((r) => typeof r[c] === 'number') ? '---:' : '---')).join('|')}|`,
    ...rows.map((row) => `| ${columns.map((c) => formatCell(row[c])).join(' | ')} |`),
  ];
  return `${lines.join('\n')}\n`;
}

function renderMachine(machine: MachineInfo): string {
  const packages = Object.entries(machine.packages).map(([name, version]) => `${name} ${version}`).join(', ');
  return [
    `- Date: ${machine.date}`,
    `- CPU: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM`,
    `- OS: ${machine.os}`,
    `- Node: ${machine.node}`,
    `- ElixirChain commit: ${machine.commit}`,
    `- Packages: ${packages}`,
  ].join('\n');
}

export function renderResultsMarkdown(records: readonly SuiteRecord[]): string {
  const latest = [...records].sort((a, b) => b.machine.date.localeCompare(a.machine.date))[0];
  const parts = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (see bench/README.md); do not edit by hand. Compare rows',
    'within one suite and one run: absolute numbers on a shared machine are noise, ratios',
    'measured side by side are not.',
    '',
  ];
  if (latest) parts.push('## Machine (latest run)', '', renderMachine(latest.machine), '');
  for (const record of records) {
    parts.push(`## ${record.suite}`, '');
    const sameMachine = latest && record.machine.cpuModel === latest.machine.cpuModel && record.machine.node === latest.machine.node;
    const where = sameMachine ? '' : ` on ${record.machine.cpuModel} (${record.machine.cores} cores), Node ${record.machine.node}`;
    const mode = record.quick ? 'quick run (tiny iteration counts: not a measurement)' : 'full run';
    parts.push(`_${mode}, ${record.machine.date}${where}, commit ${record.machine.commit}, ${(record.durationMs / 1000).toFixed(0)} s_`, '');
    parts.push(renderTable(record.rows));
    if (record.notes.length) parts.push(...record.notes.map((n) => `- ${n}`), '');
  }
  return `${parts.join('\n').trimEnd()}\n`;
}
