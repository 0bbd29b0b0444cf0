// Shared measurement code for every suite in bench/.
export type { Row, SuiteOptions, SuiteResult, SuiteModule } from './suite.js';
export { percentile, summarizeLatencies, type LatencySummary } from './percentiles.js';
export { runLoad, warmUp, type LoadOptions, type LoadResult } from './load.js';
export { cpuTimeMs, rssBytes, CpuMeter, RssSampler } from './process-stats.js';
export { runChildTask, serveChildTask, describeError, ChildTaskError, type ChildTaskOptions } from './child-task.js';
export { progress } from './progress.js';
export { machineInfo, packageVersion, type MachineInfo } from './machine.js';
export { formatCell, renderTable } from './results-file.js';
export { runBench, SUITES, BENCH_DIR, type BenchOptions, type BenchOutcome } from './bench-run.js';
export { freePort, spawnServiceProcess, waitForGrpc, type ServiceProcess, type SpawnServiceOptions } from './service-process.js';
