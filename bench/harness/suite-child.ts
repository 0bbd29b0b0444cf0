// Child-process entry that loads one suite module and runs it.
import { pathToFileURL } from 'node:url';
import { serveChildTask } from './child-task.js';
import type { SuiteModule, SuiteOptions, SuiteResult } from './suite.js';

interface SuiteTask {
  modulePath: string;
  options: SuiteOptions;
}

serveChildTask<SuiteTask, SuiteResult>(async ({ modulePath, options }) => {
  const suite = (await import(pathToFileURL(modulePath).href)) as Partial<SuiteModule>;
  if (typeof suite.run !== 'function') throw new Error(`${modulePath} does not export run(opts)`);
  return suite.run(options);
});
