// `npm run bench [-- <suite>...] [--quick] [--rows a,b] [--out dir]`
import { parseArgs } from 'node:util';
import { runBench, SUITES } from './harness/bench-run.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    rows: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    `usage: npm run bench [-- <suite>...] [--quick] [--rows id,id] [--out dir]\nsuites: ${SUITES.join(', ')}\n`,
  );
} else {
  try {
    await runBench({
      suites: positionals,
      quick: values.quick,
      rows: values.rows?.split(',').map((r) => r.trim()).filter(Boolean),
      outDir: values.out,
      printTables: true,
    });
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
