// ElixirChain rows: the executor in this process (what a step costs the
// engine), with checkpoints either kept in process (non-durable) or written
// through a real memory service in its own process (durable).
import { ChainExecutor, InProcessStateStore, MemoryStateStore } from '@elixirchain/chain-executor';
import { cpuTimeMs } from '../harness/index.js';
import { settleHeap } from './settle-heap.js';
import type { AgentStepRunner, ToolStepRunner } from '@elixirchain/chain-executor';
import type { Chain, RunEvent } from '@elixirchain/proto/chain';

const noTools: ToolStepRunner = {
  invoke: () => Promise.reject(new Error('no tools in this benchmark')),
  describe: async () => undefined,
};
const noAgents: AgentStepRunner = {
  send: () => Promise.reject(new Error('no agents in this benchmark')),
  exists: async () => undefined,
};

export interface Throughput {
  steps: number;
  runs: number;
  seconds: number;
  stepsPerSecond: number;
  /** CPU time of this process (the executor) over the measurement, ms. */
  cpuMs: number;
  /** CPU time of the memory service process over the measurement, ms (durable through memory only). */
  memoryCpuMs?: number;
  /** BatchWrite calls to memory, the writes they carried and the time spent waiting for them (durable only). */
  checkpointCalls?: number;
  checkpointWrites?: number;
  checkpointMs?: number;
}

export interface ElixirChainBench {
  measure(chain: Chain, input: () => unknown, stepsPerRun: number, durationMs: number, concurrentRuns: number): Promise<Throughput>;
  close(): Promise<void>;
}

/**
 * memoryAddress: definitions and checkpoints through that memory service (memoryPid: its
 * process, whose CPU time is reported too). inProcessCheckpoints: the durable
 * code path (group commit, JSON rows) into a store in this process — what the
 * executor's own bookkeeping costs without the trip to memory.
 */
export async function elixirChainBench(options: { memoryAddress?: string; memoryPid?: number; inProcessCheckpoints?: boolean } = {}): Promise<ElixirChainBench> {
  const memory = options.memoryAddress ? new MemoryStateStore(options.memoryAddress) : undefined;
  // Dropped by close(): the caller's frame keeps this object alive (an async function holds its
  // locals until it returns), and with it every run a non-durable store kept (~500 MB after the
  // in-process rows), which every later row's scavenges and mark-compacts would then have to walk.
  let executor: ChainExecutor | undefined = new ChainExecutor({
    state: memory ?? new InProcessStateStore(),
    tools: noTools,
    agents: noAgents,
    durable: memory !== undefined || options.inProcessCheckpoints === true,
    // One executor process, no replicas: as main.ts runs it, it owns the definitions it wrote.
    ownsDefinitions: true,
    limits: { maxActiveRuns: 256, maxQueuedRuns: 10_000, maxStepsInFlight: 1024, maxStepsInFlightPerRun: 64, finishedRetentionMs: 0 },
  });
  const created = new Set<string>();
  return {
    async measure(chain, input, stepsPerRun, durationMs, concurrentRuns) {
      if (!executor) throw new Error('measure after close');
      const running = executor;
      if (!created.has(chain.id)) {
        await running.definitions.create(chain, `bench-${chain.id}`).catch((error: { code?: number }) => {
          if (error.code !== 6) throw error; // ALREADY_EXISTS from an earlier measurement in the same store
        });
        created.add(chain.id);
      }
      const checkpoints = running.checkpoints as { writer?: { batchesSent: number; writesSent: number; batchMs: number } };
      const batchesBefore = checkpoints.writer?.batchesSent ?? 0;
      const writesBefore = checkpoints.writer?.writesSent ?? 0;
      const batchMsBefore = checkpoints.writer?.batchMs ?? 0;
      let runs = 0;
      settleHeap();
      const cpuBefore = cpuTimeMs();
      const memoryCpuBefore = options.memoryPid ? cpuTimeMs(options.memoryPid) : 0;
      const started = performance.now();
      const deadline = started + durationMs;
      // Closed loop: each lane starts its next run when the previous one ended.
      const lane = async () => {
        while (performance.now() < deadline) {
          const record = await running.runs.start(chain.id, 0, input(), '');
          let last: RunEvent | undefined;
          // A watcher drains the events, as a real client would.
          for await (const event of running.runs.watch(record.id, 0, new AbortController().signal)) last = event;
          if (last?.event?.$case !== 'runCompleted') throw new Error(`run ${record.id} did not succeed: ${JSON.stringify(last?.event)}`);
          runs++;
        }
      };
      await Promise.all(Array.from({ length: concurrentRuns }, lane));
      const seconds = (performance.now() - started) / 1000;
      const cpuMs = cpuTimeMs() - cpuBefore;
      const memoryCpuMs = options.memoryPid ? cpuTimeMs(options.memoryPid) - memoryCpuBefore : undefined;
      return {
        cpuMs,
        memoryCpuMs,
        steps: runs * stepsPerRun,
        runs,
        seconds,
        stepsPerSecond: (runs * stepsPerRun) / seconds,
        checkpointCalls: checkpoints.writer ? checkpoints.writer.batchesSent - batchesBefore : undefined,
        checkpointWrites: checkpoints.writer ? checkpoints.writer.writesSent - writesBefore : undefined,
        checkpointMs: checkpoints.writer ? checkpoints.writer.batchMs - batchMsBefore : undefined,
      };
    },
    async close() {
      await executor?.stop();
      executor = undefined;
      memory?.close();
    },
  };
}
