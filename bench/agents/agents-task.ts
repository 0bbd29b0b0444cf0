// The agents suite's measurements, in a fresh process (clean heap and RSS):
// resident agents (defined, hibernated, then woken), or turn throughput at
// several concurrencies, on agent-host's engine with in-process memory and tools.
import { createInProcessAgentHost } from '@elixirchain/agent-host';
import { serveChildTask } from '../harness/child-task.js';
import { summarizeLatencies, type LatencySummary } from '../harness/percentiles.js';

export type AgentsTask = { kind: 'resident'; sizes: number[]; budgetMs: number } | { kind: 'throughput'; concurrencies: number[]; turns: number; warmupTurns: number; budgetMsPerRow: number };

export interface ResidentPoint {
  /** Agents resident at this point (fewer than asked when the time budget ran out). */
  agents: number;
  asked: number;
  partial: boolean;
  /** RSS and heap with every agent defined but none resident (hibernated: state only in memory). */
  hibernatedRss: number;
  hibernatedHeap: number;
  /** After waking each with one turn: every agent is a resident actor with its thread. */
  wokenRss: number;
  wokenHeap: number;
  resident: number;
  wakeTurnsPerSecond: number;
}

export interface ResidentResult {
  points: ResidentPoint[];
  baselineRss: number;
  baselineHeap: number;
  stoppedEarly?: string;
}

export interface ThroughputRow {
  concurrency: number;
  /** Turns run (and discarded) at this concurrency before measuring. */
  warmupTurns: number;
  completed: number;
  elapsedMs: number;
  turnsPerSecond: number;
  latency: LatencySummary;
  cpuMsPerTurn: number;
  memoryCallsPerTurn: number;
  truncated: boolean;
}

const TEXT_CHUNKS = Array.from({ length: 50 }, (_, i) => `w${String(i).padStart(2, '0')} `).join('');

/** The turns workload: a tool call add(2, 3), then a reply in 50 text deltas. */
function toolAgent(id: string, maxConcurrentThreads: number) {
  return {
    id,
    instructions: 'You add numbers with the add tool and explain the result.',
    tools: [{ name: 'add' }],
    limits: { maxConcurrentThreads },
    model: {
      provider: 'scripted',
      script: [
        { events: [{ chunkSize: 0, event: { $case: 'toolCall' as const, toolCall: { id: 'call_1', name: 'add', arguments: { a: 2, b: 3 } } } }] },
        { events: [{ chunkSize: 4, event: { $case: 'text' as const, text: TEXT_CHUNKS } }] },
      ],
    },
  };
}

/** A resident agent's definition: instructions and a short scripted reply. */
function chatAgent(id: string) {
  return { id, instructions: 'You greet people briefly.', model: { provider: 'scripted', script: [{ events: [{ chunkSize: 6, event: { $case: 'text' as const, text: 'Hello, nice to meet you.' } }] }] } };
}

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const settledHeap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

function engine() {
  return createInProcessAgentHost({
    tools: [{ name: 'add', inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] }, run: (i) => Number(i.a) + Number(i.b) }],
    actor: { idleHibernateMs: 0 },
  });
}

async function inParallel(from: number, to: number, width: number, deadline: number, work: (i: number) => Promise<void>): Promise<number> {
  let next = from;
  let done = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < to && performance.now() < deadline) {
        const i = next++;
        await work(i);
        done += 1;
      }
    }),
  );
  return done;
}

async function resident(task: Extract<AgentsTask, { kind: 'resident' }>): Promise<ResidentResult> {
  const e = engine();
  const deadline = performance.now() + task.budgetMs;
  const result: ResidentResult = { points: [], baselineHeap: settledHeap(), baselineRss: process.memoryUsage.rss() };
  let have = 0;
  for (const size of task.sizes) {
    // Grow the population: define the new agents (hibernated: nothing resident yet)…
    const defined = await inParallel(have, size, 64, deadline, async (i) => {
      await e.createAgent(chatAgent(`a${i}`));
    });
    if (have + defined < size) {
      result.stoppedEarly = `time budget ran out defining agents for ${size}`;
      break;
    }
    const hibernatedHeap = settledHeap();
    const hibernatedRss = process.memoryUsage.rss();
    // …then wake every agent of the population with a turn on its thread.
    const t0 = performance.now();
    const woken = await inParallel(0, size, 64, deadline, async (i) => {
      await e.runTurn({ agentId: `a${i}`, content: 'Hi!', threadId: `t${i}` });
    });
    const wakeTurnsPerSecond = (woken * 1000) / (performance.now() - t0);
    const partial = woken < size;
    if (partial) result.stoppedEarly = `time budget ran out waking ${size} agents (${woken} woken)`;
    result.points.push({ agents: woken, asked: size, partial, hibernatedRss, hibernatedHeap, wokenHeap: settledHeap(), wokenRss: process.memoryUsage.rss(), resident: e.host.stats().residentAgents, wakeTurnsPerSecond });
    if (partial) break;
    // Back to hibernation before the next, larger population.
    e.host.hibernateIdle();
    have = size;
  }
  await e.stop();
  return result;
}

async function throughput(task: Extract<AgentsTask, { kind: 'throughput' }>): Promise<ThroughputRow[]> {
  const e = engine();
  await e.createAgent(toolAgent('bench', 100_000));
  let thread = 0;
  const turn = async () => {
    const r = await e.runTurn({ agentId: 'bench', content: 'What is 2 + 3?', threadId: `t${thread++}` });
    if (r.events.at(-1)?.event?.$case !== 'turnCompleted' || !r.text.endsWith('w49 ')) throw new Error('a turn did not complete as scripted');
    // The fake stands in for the memory service (its own process and disk): a finished thread, never used again, leaves agent-host's heap.
    e.memory.forgetThread(r.threadId, 'bench');
  };
  for (let i = 0; i < 200; i++) await turn();
  const rows: ThroughputRow[] = [];
  for (const concurrency of task.concurrencies) {
    const turns = Math.max(task.turns, concurrency * 3);
    // A discarded warm-up at the row's own concurrency first: V8 tiers up the code paths that only many turns
    // in flight take (group commit of many threads, merged deltas) and sizes its young generation for them; the
    // row then measures the engine in its steady state, not that transient. Capped at 40 % of the row's budget.
    const warmupStart = performance.now();
    const warmupTurns = await inParallel(0, task.warmupTurns, concurrency, warmupStart + task.budgetMsPerRow * 0.4, turn);
    const callsBefore = Object.values(e.memory.calls).reduce((a, b) => a + b, 0);
    const latencies: number[] = [];
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    const completed = await inParallel(0, turns, concurrency, started + task.budgetMsPerRow * 0.6, async () => {
      const t = performance.now();
      await turn();
      latencies.push(performance.now() - t);
    });
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    const calls = Object.values(e.memory.calls).reduce((a, b) => a + b, 0) - callsBefore;
    rows.push({
      concurrency,
      warmupTurns,
      completed,
      elapsedMs,
      turnsPerSecond: (completed * 1000) / elapsedMs,
      latency: summarizeLatencies(latencies),
      cpuMsPerTurn: (cpu.user + cpu.system) / 1000 / completed,
      memoryCallsPerTurn: calls / completed,
      truncated: completed < turns,
    });
  }
  await e.stop();
  return rows;
}

serveChildTask<AgentsTask, ResidentResult | ThroughputRow[]>(async (task) => (task.kind === 'resident' ? resident(task) : throughput(task)));
