// One row of the turns suite: something that can run the workload's turn.
import type { TurnOutcome } from './workload.js';

export interface Contender {
  /** Runs one turn on a new thread of the benchmark agent, streaming the reply to the caller. */
  turn(): Promise<TurnOutcome>;
  /**
   * Keeps `count` agents resident (each defined and having run one turn on its
   * own thread) and returns the bytes they cost, per agent. Absent where it has
   * no meaning (bare transport).
   */
  residentAgents?(count: number, timeBudgetMs: number): Promise<ResidentMeasurement>;
  /** Processes doing the row's work besides this one, for CPU accounting (name → pid). */
  processes?(): Record<string, number>;
  close(): Promise<void>;
}

export interface ResidentMeasurement {
  bytesPerAgent: number;
  /** How the bytes were measured (heap after GC, or RSS of a service). */
  method: string;
  /** Agents actually made resident (may be fewer than asked when time ran out). */
  agents: number;
}

export interface RowDefinition {
  id: string;
  label: string;
  /** Peer libraries count for "best peer"; ElixirChain and baselines do not. */
  kind: 'elixirchain' | 'peer' | 'baseline';
  /** Module under bench/turns/rows/ exporting createContender(). */
  module: string;
  /** Share of the suite's time relative to other rows (multi-process rows start services and run slower). */
  weight: number;
}

export const ROWS: readonly RowDefinition[] = [
  { id: 'elixirchain-grpc', label: 'ElixirChain, gRPC across 4 processes', kind: 'elixirchain', module: 'elixirchain-grpc.ts', weight: 3 },
  { id: 'elixirchain-in-process', label: 'ElixirChain agent-host turn engine, in-process', kind: 'elixirchain', module: 'elixirchain-in-process.ts', weight: 1 },
  { id: 'langgraph', label: 'LangGraph.js (fake chat model)', kind: 'peer', module: 'langgraph.ts', weight: 1 },
  { id: 'mastra', label: 'Mastra (mock model)', kind: 'peer', module: 'mastra.ts', weight: 1 },
  { id: 'openai-agents', label: 'OpenAI Agents SDK (custom model)', kind: 'peer', module: 'openai-agents.ts', weight: 1 },
  { id: 'plain-loop', label: 'plain TypeScript loop, no framework', kind: 'baseline', module: 'plain-loop.ts', weight: 1 },
  { id: 'bare-grpc', label: 'bare grpc-js, same hops and messages, no work', kind: 'baseline', module: 'bare-grpc.ts', weight: 1.5 },
];
