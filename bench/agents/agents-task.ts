// One measurement of the agents suite in a fresh process (clean heap and RSS):
// either resident agents (hibernated, then woken) or turn throughput at a
// concurrency, on agent-host's engine with in-process memory and tools.
import { createInProcessAgentHost } from '@elixirchain/agent-host';
import { serveChildTask } from '../harness/child-task.js';
import { summarizeLatencies, type LatencySummary } from '../harness/percentiles.js';

export type AgentsTask =
  | { kind: 'resident'; agents: number; budgetMs: number }
  | { kind: 'throughput'; concurrency: number; turns: number; budgetMs: number };

export interface ResidentResult {
  asked: number;
  made: number;
  baselineRss: number;
  residentRss: number;
  hibernatedRss: number;
  wokenRss: number;
  residentHeap: number;
  hibernatedHeap: number;
  wokenHeap: number;
  residentAfterWake: number;
  wakeMs: number;
}

export interface ThroughputResult {
  concurrency: number;
  completed: number;
  elapsedMs: number;
  turnsPerSecond: number;
  latency: LatencySummary;
  cpuMsPerTurn: number;
  memoryCallsPerTurn: number;
}

const TEXT_CHUNKS = Array.from({ length: 50 }, (_, i) => `w${String(i).padStart(2, '0')} `).join('');

function agentDefinition(id: string, maxConcurrentThreads = 64) {
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

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

function engine(idleHibernateMs = 0) {
  return createInProcessAgentHost({
    tools: [{ name: 'add', inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] }, run: (i) => Number(i.a) + Number(i.b) }],
    actor: { idleHibernateMs },
  });
}

async function inParallel(count: number, width: number, deadline: number, work: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count && performance.now() < deadline) {
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
  const baselineRss = process.memoryUsage.rss();
  // Each agent is defined and runs one turn on its own thread: it is then resident with that thread.
  const made = await inParallel(task.agents, 64, deadline, async (i) => {
    await e.createAgent(agentDefinition(`a${i}`));
    await e.runTurn({ agentId: `a${i}`, content: 'What is 2 + 3?', threadId: `t${i}` });
  });
  const residentHeap = heap();
  const residentRss = process.memoryUsage.rss();
  e.host.hibernateIdle();
  await new Promise((r) => setTimeout(r, 50));
  const hibernatedHeap = heap();
  const hibernatedRss = process.memoryUsage.rss();
  // Wake every agent with a second turn on its thread: definition and history come back from memory.
  const t0 = performance.now();
  await inParallel(made, 64, Number.POSITIVE_INFINITY, async (i) => {
    await e.runTurn({ agentId: `a${i}`, content: 'And 3 + 4?', threadId: `t${i}` });
  });
  const wakeMs = performance.now() - t0;
  const wokenHeap = heap();
  const wokenRss = process.memoryUsage.rss();
  const residentAfterWake = e.host.stats().residentAgents;
  await e.stop();
  return { asked: task.agents, made, baselineRss, residentRss, hibernatedRss, wokenRss, residentHeap, hibernatedHeap, wokenHeap, residentAfterWake, wakeMs };
}

async function throughput(task: Extract<AgentsTask, { kind: 'throughput' }>): Promise<ThroughputResult> {
  const e = engine();
  await e.createAgent(agentDefinition('bench', 100_000));
  const turn = async (i: number) => {
    const r = await e.runTurn({ agentId: 'bench', content: 'What is 2 + 3?', threadId: `warm-${i}` });
    if (r.events.at(-1)?.event?.$case !== 'turnCompleted' || !r.text.endsWith('w49 ')) throw new Error('a turn did not complete as scripted');
  };
  for (let i = 0; i < 200; i++) await turn(i);
  const callsBefore = Object.values(e.memory.calls).reduce((a, b) => a + b, 0);
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const completed = await inParallel(task.turns, task.concurrency, started + task.budgetMs, async (i) => {
    const t = performance.now();
    await turn(1_000_000 + i);
    latencies.push(performance.now() - t);
  });
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  const calls = Object.values(e.memory.calls).reduce((a, b) => a + b, 0) - callsBefore;
  await e.stop();
  return {
    concurrency: task.concurrency,
    completed,
    elapsedMs,
    turnsPerSecond: (completed * 1000) / elapsedMs,
    latency: summarizeLatencies(latencies),
    cpuMsPerTurn: (cpu.user + cpu.system) / 1000 / completed,
    memoryCallsPerTurn: calls / completed,
  };
}

serveChildTask<AgentsTask, ResidentResult | ThroughputResult>(async (task) => (task.kind === 'resident' ? resident(task) : throughput(task)));
