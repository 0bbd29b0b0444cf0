// The same workloads as LangGraph.js StateGraphs: a line of nodes that each
// add one, and a fan-out with Send that doubles each item then counts them.
import { Annotation, END, MemorySaver, Send, START, StateGraph } from '@langchain/langgraph';
import { cpuTimeMs } from '../harness/index.js';
import { settleHeap } from './settle-heap.js';
import { MAP_ITEMS, SEQUENTIAL_STEPS } from './workload.js';

const LineState = Annotation.Root({ n: Annotation<number>() });

export function sequentialGraph(checkpointed: boolean) {
  // Built node by node: the builder's types track node names, which a loop cannot express.
  const graph = new StateGraph(LineState) as unknown as {
    addNode(name: string, fn: (s: { n: number }) => { n: number }): void;
    addEdge(from: string, to: string): void;
    compile(opts?: object): { invoke(input: object, config?: object): Promise<{ n: number }> };
  };
  for (let i = 0; i < SEQUENTIAL_STEPS; i++) graph.addNode(`s${i}`, (s) => ({ n: s.n + 1 }));
  graph.addEdge(START, 's0');
  for (let i = 1; i < SEQUENTIAL_STEPS; i++) graph.addEdge(`s${i - 1}`, `s${i}`);
  graph.addEdge(`s${SEQUENTIAL_STEPS - 1}`, END);
  return graph.compile(checkpointed ? { checkpointer: new MemorySaver() } : {});
}

const FanState = Annotation.Root({
  items: Annotation<number[]>(),
  results: Annotation<number[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  total: Annotation<number>(),
});

export function mapReduceGraph() {
  return new StateGraph(FanState)
    .addNode('double', (s: { item?: number }) => ({ results: [(s.item ?? 0) * 2] }))
    .addNode('reduce', (s) => ({ total: s.results.length }))
    .addConditionalEdges(START, (s) => s.items.map((item) => new Send('double', { item })))
    .addEdge('double', 'reduce')
    .addEdge('reduce', END)
    .compile();
}

export async function measureGraph(
  invoke: (i: number) => Promise<unknown>,
  stepsPerRun: number,
  durationMs: number,
  concurrentRuns: number,
): Promise<{ steps: number; runs: number; seconds: number; stepsPerSecond: number; cpuMs: number }> {
  let runs = 0;
  let counter = 0;
  settleHeap();
  const cpuBefore = cpuTimeMs();
  const started = performance.now();
  const deadline = started + durationMs;
  const lane = async () => {
    while (performance.now() < deadline) {
      await invoke(counter++);
      runs++;
    }
  };
  await Promise.all(Array.from({ length: concurrentRuns }, lane));
  const seconds = (performance.now() - started) / 1000;
  return { steps: runs * stepsPerRun, runs, seconds, stepsPerSecond: (runs * stepsPerRun) / seconds, cpuMs: cpuTimeMs() - cpuBefore };
}

export const MAP_GRAPH_STEPS = MAP_ITEMS + 1;
