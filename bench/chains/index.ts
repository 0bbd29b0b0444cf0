// The chains suite: trivial steps per second through the chain executor —
// sequential and map_reduce, with checkpoints kept in process (non-durable)
// and written through a real memory service (durable, SQLite in its own
// process) — against the same workloads as LangGraph.js StateGraphs, all in
// the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeError, progress, type Row, type SuiteOptions, type SuiteResult } from '../harness/index.js';
import { freePort, spawnServiceProcess, type ServiceProcess } from '../harness/service-process.js';
import { runChildTask } from '../harness/child-task.js';
import type { Throughput } from './elixirchain-rows.js';
import type { ChainsTask } from './elixirchain-task.js';
import { MAP_GRAPH_STEPS, mapReduceGraph, measureGraph, sequentialGraph } from './langgraph-rows.js';
import { MAP_CONCURRENCY, MAP_ITEMS, mapInput, SEQUENTIAL_STEPS } from './workload.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TASK = fileURLToPath(new URL('./elixirchain-task.ts', import.meta.url));
const TARGET_STEPS_PER_SECOND = 10_000;
const CONCURRENT_RUNS = 32;

export async function run(opts: SuiteOptions): Promise<SuiteResult> {
  const measureMs = opts.quick ? 400 : 4_000;
  const warmMs = opts.quick ? 100 : 1_000;
  const rows: Row[] = [];
  const notes: string[] = [];
  const results = new Map<string, Throughput>();

  const row = (id: string, system: string, workload: string, durability: string, t: Throughput, extra: Row = {}) => {
    results.set(id, t);
    rows.push({
      row: id,
      system,
      workload,
      checkpoints: durability,
      'steps/s': Math.round(t.stepsPerSecond),
      runs: t.runs,
      steps: t.steps,
      'checkpoint calls/step': t.checkpointCalls !== undefined ? (t.checkpointCalls / Math.max(1, t.steps)).toFixed(3) : '—',
      'writes/call': t.checkpointWrites !== undefined && t.checkpointCalls ? (t.checkpointWrites / t.checkpointCalls).toFixed(1) : '—',
      'ms/call': t.checkpointMs !== undefined && t.checkpointCalls ? (t.checkpointMs / t.checkpointCalls).toFixed(1) : '—',
      'executor CPU µs/step': t.cpuMs !== undefined ? ((t.cpuMs * 1000) / Math.max(1, t.steps)).toFixed(1) : '—',
      'memory CPU µs/step': t.memoryCpuMs !== undefined ? ((t.memoryCpuMs * 1000) / Math.max(1, t.steps)).toFixed(1) : '—',
      ...extra,
    });
  };

  // Each ElixirChain configuration runs in a fresh process of its own (elixirchain-task.ts).
  const budget = (measurements: number) => 90_000 + measurements * (measureMs + warmMs) * 2;
  const inChild = (task: Omit<ChainsTask, 'measureMs' | 'warmMs'>) =>
    runChildTask<Throughput[]>(TASK, { ...task, measureMs, warmMs } satisfies ChainsTask, { timeoutMs: budget(task.measurements.length), nodeFlags: ['--expose-gc'] });
  const seqLabel = `sequential ×${SEQUENTIAL_STEPS}`;
  const mrLabel = `map_reduce ${MAP_ITEMS} items, concurrency ${MAP_CONCURRENCY}`;
  const wideLabel = `sequential ×${SEQUENTIAL_STEPS}, ${CONCURRENT_RUNS * 4} runs in flight`;

  // ElixirChain, non-durable.
  progress('chains: ElixirChain non-durable');
  const [seqPlain, mrPlain] = await inChild({
    mode: 'in-process',
    measurements: [
      { workload: 'sequential', concurrentRuns: CONCURRENT_RUNS, warm: true },
      { workload: 'map_reduce', concurrentRuns: CONCURRENT_RUNS, warm: true },
    ],
  });
  row('elixirchain-seq', 'ElixirChain executor', seqLabel, 'in process', seqPlain!);
  row('elixirchain-mr', 'ElixirChain executor', mrLabel, 'in process', mrPlain!);

  // Non-durable at the wide row's in-flight count, so that row's ratio compares like with like.
  const [widePlain] = await inChild({ mode: 'in-process', measurements: [{ workload: 'sequential', concurrentRuns: CONCURRENT_RUNS * 4, warm: true }] });
  row('elixirchain-seq-wide', 'ElixirChain executor', wideLabel, 'in process', widePlain!);

  // The durable code path into a store in this process: the executor's own checkpoint cost, without memory.
  progress('chains: ElixirChain durable path, in-process store');
  const [local] = await inChild({ mode: 'checkpoint-path', measurements: [{ workload: 'sequential', concurrentRuns: CONCURRENT_RUNS, warm: true }] });
  row('elixirchain-seq-checkpoint-path', 'ElixirChain executor', seqLabel, 'durable code path, in-process store', local!, {
    'vs non-durable': (local!.stepsPerSecond / seqPlain!.stepsPerSecond).toFixed(2),
  });

  // ElixirChain, durable: checkpoints through memory (gRPC, SQLite) by the output-commit rule.
  let memory: ServiceProcess | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-chains-'));
  try {
    progress('chains: starting memory for the durable rows');
    const address = `127.0.0.1:${await freePort()}`;
    memory = await spawnServiceProcess({
      name: 'memory',
      entry: join(REPO, 'services/memory/src/main.ts'),
      address,
      env: { ELIXIRCHAIN_MEMORY_ADDR: address, ELIXIRCHAIN_DATA_DIR: dataDir, ELIXIRCHAIN_LOG_LEVEL: 'warn' },
      // tsx compiles the service on first start; on a busy 2-core machine that can take a while.
      readyTimeoutMs: 90_000,
    });
    progress('chains: ElixirChain durable');
    const [d, wide, m] = await inChild({
      mode: 'durable',
      memoryAddress: address,
      memoryPid: memory.pid,
      measurements: [
        { workload: 'sequential', concurrentRuns: CONCURRENT_RUNS, warm: true },
        // The same with 4× the runs in flight: group commit fills each BatchWrite with more runs' steps.
        { workload: 'sequential', concurrentRuns: CONCURRENT_RUNS * 4, warm: false },
        { workload: 'map_reduce', concurrentRuns: CONCURRENT_RUNS, warm: true },
      ],
    });
    row('elixirchain-seq-durable', 'ElixirChain executor', seqLabel, 'memory (gRPC, SQLite)', d!, { 'vs non-durable': (d!.stepsPerSecond / seqPlain!.stepsPerSecond).toFixed(2) });
    row('elixirchain-seq-durable-wide', 'ElixirChain executor', wideLabel, 'memory (gRPC, SQLite)', wide!, { 'vs non-durable': (wide!.stepsPerSecond / widePlain!.stepsPerSecond).toFixed(2) });
    row('elixirchain-mr-durable', 'ElixirChain executor', mrLabel, 'memory (gRPC, SQLite)', m!, { 'vs non-durable': (m!.stepsPerSecond / mrPlain!.stepsPerSecond).toFixed(2) });
  } catch (error) {
    notes.push(`durable rows not measured: ${describeError(error)}`);
  } finally {
    await memory?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }

  // LangGraph.js, same workloads.
  progress('chains: LangGraph.js');
  const plain = sequentialGraph(false);
  // LangGraph counts each node as a super-step against recursionLimit (default 25).
  const limit = { recursionLimit: SEQUENTIAL_STEPS + 10 };
  const invokePlain = () => plain.invoke({ n: 0 }, limit);
  await measureGraph(invokePlain, SEQUENTIAL_STEPS, warmMs, CONCURRENT_RUNS);
  row('langgraph-seq', 'LangGraph.js StateGraph', `sequential ×${SEQUENTIAL_STEPS}`, 'none', await measureGraph(invokePlain, SEQUENTIAL_STEPS, measureMs, CONCURRENT_RUNS));
  const saved = sequentialGraph(true);
  const invokeSaved = (i: number) => saved.invoke({ n: 0 }, { ...limit, configurable: { thread_id: `t${i}` } });
  await measureGraph(invokeSaved, SEQUENTIAL_STEPS, warmMs, CONCURRENT_RUNS);
  row('langgraph-seq-memorysaver', 'LangGraph.js StateGraph', `sequential ×${SEQUENTIAL_STEPS}`, 'MemorySaver (in process)', await measureGraph(invokeSaved, SEQUENTIAL_STEPS, measureMs, CONCURRENT_RUNS));
  const fan = mapReduceGraph();
  const invokeFan = () => fan.invoke({ items: mapInput().items });
  await measureGraph(invokeFan, MAP_GRAPH_STEPS - 1, warmMs, CONCURRENT_RUNS);
  row('langgraph-mr', 'LangGraph.js StateGraph', `Send fan-out ${MAP_ITEMS} items + reduce`, 'none', await measureGraph(invokeFan, MAP_GRAPH_STEPS - 1, measureMs, CONCURRENT_RUNS));

  const rate = (id: string) => results.get(id)?.stepsPerSecond;
  for (const [id, label] of [['elixirchain-seq', 'sequential'], ['elixirchain-mr', 'map_reduce']] as const) {
    const r = rate(id);
    if (r !== undefined) notes.push(`target ≥ ${TARGET_STEPS_PER_SECOND} trivial steps/s, ${label} non-durable: ${Math.round(r)} (${r >= TARGET_STEPS_PER_SECOND ? 'met' : 'NOT met'})`);
    const d = rate(`${id}-durable`);
    if (r !== undefined && d !== undefined) notes.push(`target durable within 2× of non-durable, ${label}: ${(r / d).toFixed(2)}× (${r / d <= 2 ? 'met' : 'NOT met'}); durable ${Math.round(d)} steps/s (${d >= TARGET_STEPS_PER_SECOND ? 'meets' : 'below'} ${TARGET_STEPS_PER_SECOND})`);
    const lg = rate(id === 'elixirchain-seq' ? 'langgraph-seq' : 'langgraph-mr');
    if (r !== undefined && lg !== undefined) notes.push(`ElixirChain ${label} / LangGraph.js: ${(r / lg).toFixed(2)}× non-durable${d !== undefined ? `, ${(d / lg).toFixed(2)}× durable` : ''}`);
  }
  notes.push('Each ElixirChain configuration (non-durable; non-durable at 128 in flight; the durable code path in process; durable through memory) runs in a fresh process of its own, so no row inherits the heap and JIT state of the rows before it; measured in one process after the others, the durable rows ran 15-20 % slower than alone.');
  notes.push(`${CONCURRENT_RUNS} runs in flight (closed loop) unless a row says otherwise (the -wide rows: ${CONCURRENT_RUNS * 4}, both modes); a step is one CEL transform (ElixirChain) or one node (LangGraph); combinator steps are not counted.`);
  notes.push('Durable: every step\'s start and result are written to memory (its own process) by the output-commit rule: transforms run on while their checkpoint is in flight, a run\'s events of one group-commit window go in one row, tool/agent steps would wait for everything before them to be durable, and a run is reported finished (its watcher ends) only once its final checkpoint is durable. Group-committed BatchWrites across runs, two in flight.');
  notes.push('CPU µs/step: CPU time of the process (this one runs the executor and the load; memory its own) over the measurement, per step; the judge of cost on a shared machine.');
  return { suite: 'chains', rows, notes };
}
