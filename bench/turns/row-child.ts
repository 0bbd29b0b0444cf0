// Child-process entry: measures one row of the turns suite in a clean process.
import { pathToFileURL } from 'node:url';
import { serveChildTask } from '../harness/index.js';
import { ROWS, type Contender } from './contender.js';
import { measureRow, rowPlan, type RowMeasurement } from './measure-row.js';

interface RowTask {
  rowId: string;
  quick: boolean;
  budgetMs: number;
}

serveChildTask<RowTask, RowMeasurement>(async ({ rowId, quick, budgetMs }) => {
  const deadline = Date.now() + budgetMs;
  const row = ROWS.find((r) => r.id === rowId);
  if (!row) throw new Error(`no row ${rowId}`);
  const module = (await import(pathToFileURL(new URL(`./rows/${row.module}`, import.meta.url).pathname).href)) as {
    createContender(): Promise<Contender>;
  };
  const contender = await module.createContender();
  try {
    return await measureRow(row, contender, rowPlan(quick, deadline));
  } finally {
    await contender.close();
  }
});
