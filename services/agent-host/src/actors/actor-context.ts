import type { Agent } from '@elixirchain/proto/agent';
import type { Logger } from '@elixirchain/runtime';
import type { AgentRegistry } from '../agents/agent-registry.js';
import type { ModelProvider } from '../model/model-provider.js';
import type { MemoryPort } from '../ports/memory-port.js';
import type { ToolRunner } from '../ports/tool-runner.js';
import type { ThreadEventHub } from '../threads/thread-event-hub.js';
import type { ThreadStore } from '../threads/thread-store.js';
import type { ToolCatalog } from '../turns/tool-catalog.js';
import type { AgentHostMetrics } from '../metrics/agent-host-metrics.js';

export interface ActorOptions {
  /** An actor with nothing to do for this long hibernates (0: never). */
  idleHibernateMs: number;
  /**
   * Threads with nothing to do that an actor keeps resident (their record and
   * history, so the next turn does not load them); past this the least
   * recently used are dropped, so a busy agent with many threads stays bounded.
   */
  maxIdleThreads: number;
  /**
   * Threads idle for the first time on this actor, kept in a short FIFO of their own: a thread enters
   * the maxIdleThreads LRU only once it is used again, so one-shot threads never flush conversations.
   */
  maxIdleNewThreads: number;
  flushEveryEvents: number;
  flushEveryBytes: number;
  /** Sequence numbers skipped when a turn resumes in a new process, past events a client may have seen unpersisted. */
  resumeSequenceGap: number;
  /** How long a checkpoint retries while memory is unreachable before the turn fails (default 60 s). */
  memoryOutageBudgetMs?: number;
}

/** What every actor of one host shares. */
export interface ActorContext {
  memory: MemoryPort;
  tools: ToolRunner;
  store: ThreadStore;
  hub: ThreadEventHub;
  catalog: ToolCatalog;
  registry: AgentRegistry;
  providerFor(agent: Agent): ModelProvider;
  log: Logger;
  metrics: AgentHostMetrics;
  options: ActorOptions;
}
