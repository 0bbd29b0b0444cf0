// ElixirChain's chain rows, one executor configuration per fresh process: a
// row must not inherit the heap and JIT state of the rows before it (the
// non-durable rows keep every run they made until their executor goes, and
// the durable rows measured after them in one process ran ~15-20 % slower
// than the same rows alone).
import { serveChildTask } from '../harness/child-task.js';
import { elixirChainBench, type Throughput } from './elixirchain-rows.js';
import { MAP_ITEMS, mapInput, mapReduceChain, SEQUENTIAL_STEPS, sequentialChain } from './workload.js';

export interface ChainsTask {
  /** in-process: non-durable; checkpoint-path: the durable code path into a store in this process; durable: through memory. */
  mode: 'in-process' | 'checkpoint-path' | 'durable';
  /** What to measure, in order, each after a warm-up of its own. */
  measurements: Array<{ workload: 'sequential' | 'map_reduce'; concurrentRuns: number; warm: boolean }>;
  measureMs: number;
  warmMs: number;
  memoryAddress?: string;
  memoryPid?: number;
}

serveChildTask<ChainsTask, Throughput[]>(async (task) => {
  const bench = await elixirChainBench(
    task.mode === 'durable' ? { memoryAddress: task.memoryAddress, memoryPid: task.memoryPid } : task.mode === 'checkpoint-path' ? { inProcessCheckpoints: true } : {},
  );
  const seq = sequentialChain();
  const mr = mapReduceChain();
  const results: Throughput[] = [];
  try {
    for (const m of task.measurements) {
      const [chain, input, steps] = m.workload === 'sequential' ? [seq, () => ({ n: 0 }), SEQUENTIAL_STEPS] : [mr, mapInput, MAP_ITEMS];
      if (m.warm) await bench.measure(chain, input, steps, task.warmMs, m.concurrentRuns);
      results.push(await bench.measure(chain, input, steps, task.measureMs, m.concurrentRuns));
    }
  } finally {
    await bench.close();
  }
  return results;
});
