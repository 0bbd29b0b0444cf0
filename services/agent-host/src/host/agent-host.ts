import {
  OnBusy,
  TurnStatus,
  type Agent,
  type CancelTurnRequest,
  type ListMessagesRequest,
  type ResolveApprovalRequest,
  type SendMessageRequest,
  type ThreadEvent,
  type ThreadInfo,
  type WatchThreadRequest,
} from '@elixirchain/proto/agent';
import { ElixirError, GrpcCode, errors, rootLogger, type Logger, type RestartIntensity } from '@elixirchain/runtime';
import { AgentRegistry } from '../agents/agent-registry.js';
import { AgentSupervisor } from '../actors/agent-supervisor.js';
import { AgentActor, newId } from '../actors/agent-actor.js';
import type { ActorContext, ActorOptions } from '../actors/actor-context.js';
import { ModelProviderFactory, type ModelProviderSettings } from '../model/model-provider-factory.js';
import type { ModelProvider } from '../model/model-provider.js';
import type { MemoryPort } from '../ports/memory-port.js';
import type { ToolRunner } from '../ports/tool-runner.js';
import { EventSubscriber } from '../threads/event-subscriber.js';
import { ThreadEventHub } from '../threads/thread-event-hub.js';
import { ThreadStore } from '../threads/thread-store.js';
import { activeTurnPrefix, agentThreadPrefix, resumeSequenceBase, THREAD_ID_PATTERN, type ThreadRecord } from '../threads/thread-record.js';
import { agentsWithUnfinishedTurns } from '../threads/unfinished-turns.js';
import type { ThreadSession } from '../threads/thread-session.js';
import { ToolCatalog } from '../turns/tool-catalog.js';
import { notOwner, type AgentOwnership } from '../ownership/agent-ownership.js';
import { AgentHostMetrics } from '../metrics/agent-host-metrics.js';

export interface AgentHostOptions {
  memory: MemoryPort;
  tools: ToolRunner;
  models?: ModelProviderSettings;
  /** Overrides provider choice (benchmarks, tests). */
  providerFor?: (agent: Agent) => ModelProvider;
  actor?: Partial<ActorOptions>;
  restartIntensity?: RestartIntensity;
  /** Buffered bytes per client stream before the turn waits for it. */
  streamHighWaterBytes?: number;
  log?: Logger;
  /** With several replicas: leases and fencing per agent (see src/ownership/). Without it this host owns every agent. */
  ownership?: AgentOwnership;
}

/** A stream of thread events for one client; close() detaches it (the turn goes on). */
export interface EventStream extends AsyncIterable<ThreadEvent> {
  readonly threadId: string;
  readonly turnId: string;
  readonly subscriber: EventSubscriber;
  /**
   * Everything queued so far, in order, in one array; undefined once the
   * stream is over (it is then closed). For readers that send or collect
   * events in bulk (the gRPC writer, the in-process host): one promise per
   * batch, where the per-event iteration costs one per event.
   */
  nextBatch(): Promise<ThreadEvent[] | undefined>;
  close(): void;
}

const MAX_CONTENT = 1 << 20;

/**
 * The agent host without the network: agent definitions, the actor
 * supervisor and the thread operations. server.ts puts gRPC in front of it;
 * benchmarks and tests can drive it directly.
 */
export class AgentHost {
  readonly registry: AgentRegistry;
  readonly supervisor: AgentSupervisor;
  readonly hub = new ThreadEventHub();
  readonly store: ThreadStore;
  private readonly ctx: ActorContext;
  private readonly highWater: number;

  constructor(private readonly options: AgentHostOptions) {
    this.registry = new AgentRegistry(options.memory);
    const ownership = options.ownership;
    this.store = new ThreadStore(options.memory, ownership ? (agentId) => ownership.requireFence(agentId) : undefined, options.actor?.memoryOutageBudgetMs);
    const factory = new ModelProviderFactory(options.models);
    this.highWater = options.streamHighWaterBytes ?? 1 << 20;
    this.ctx = {
      memory: options.memory,
      tools: options.tools,
      store: this.store,
      hub: this.hub,
      catalog: new ToolCatalog(options.tools),
      registry: this.registry,
      providerFor: options.providerFor ?? ((agent) => factory.providerFor(agent)),
      log: options.log ?? rootLogger.child({ service: 'agent-host' }),
      metrics: new AgentHostMetrics(() => this.supervisor.load()),
      options: { idleHibernateMs: 60_000, maxIdleThreads: 1_000, maxIdleNewThreads: 64, flushEveryEvents: 256, flushEveryBytes: 256 * 1024, resumeSequenceGap: 1000, ...options.actor },
    };
    this.supervisor = new AgentSupervisor(this.ctx, options.restartIntensity);
    if (ownership) {
      // A fresh claim may follow a dead owner: the first actor start resumes the agent's unfinished turns.
      ownership.onAcquired = (agentId) => this.supervisor.markNeedsResume([agentId]);
      ownership.onLost = (agentId) => this.supervisor.relinquish(agentId, `agent ${agentId} moved to another agent-host replica`);
      ownership.isResident = (agentId) => this.supervisor.resident(agentId) !== undefined;
      this.supervisor.onStopped = (agentId) => void ownership.release(agentId).catch(() => undefined);
    }
  }

  /** Throws NOT_OWNER (with the owner's address) unless this replica owns the agent, claiming it if nobody does. */
  private async ensureOwned(agentId: string): Promise<void> {
    const ownership = this.options.ownership;
    if (!ownership) return;
    const route = await ownership.route(agentId);
    if (!route.local) throw notOwner(agentId, route);
  }

  /** Throws NOT_OWNER when another replica holds the agent; free or ours is fine (nothing is claimed). */
  private async ensureNotElsewhere(agentId: string): Promise<void> {
    const route = await this.options.ownership?.peek(agentId);
    if (route && !route.local) throw notOwner(agentId, route);
  }

  /**
   * Finds the agents with turns a previous process left unfinished and marks
   * them, so whoever starts one of those actors first (resume() or a client's
   * message) resumes its turns. Call before serving.
   */
  async findUnfinished(): Promise<string[]> {
    const agents = await agentsWithUnfinishedTurns(this.options.memory);
    this.supervisor.markNeedsResume(agents);
    return [...agents];
  }

  /** Starts the actors of those agents, which picks their turns up from the last checkpoints. */
  async resume(agentIds: string[]): Promise<void> {
    for (const agentId of agentIds) {
      try {
        // With replicas only the owner resumes; an agent another replica holds is its business.
        if (this.options.ownership && !(await this.options.ownership.route(agentId)).local) continue;
        await this.supervisor.actorFor(agentId, true);
      } catch (err) {
        if (ElixirError.is(err, GrpcCode.NOT_FOUND)) {
          // The agent was deleted mid-turn: nothing can run those turns any more; drop them from the index.
          const page = await this.options.memory.listState({ prefix: activeTurnPrefix(agentId), keysOnly: true, pageSize: 1000 });
          for (const entry of page.entries) await this.options.memory.deleteState(entry.key);
          this.ctx.log.warn({ agentId, turns: page.entries.length }, 'dropped unfinished turns of a deleted agent');
        } else {
          this.ctx.log.error({ err, agentId }, 'could not resume the turns of an agent');
        }
      }
    }
  }

  /** With replicas: looks for this host's agents with unfinished turns and no owner every `everyMs`, and resumes them here. */
  startTakeover(everyMs: number): void {
    this.options.ownership?.startTakeover(everyMs, (agentIds) => this.resume(agentIds));
  }

  /** findUnfinished() then resume(). */
  async start(): Promise<{ resumedAgents: number }> {
    const agents = await this.findUnfinished();
    await this.resume(agents);
    return { resumedAgents: agents.length };
  }

  async stop(): Promise<void> {
    this.ctx.metrics.close();
    await this.supervisor.stop();
    // Leases go back at once, so another replica takes the checkpointed turns over without waiting for expiry.
    await this.options.ownership?.stop();
  }

  // Agent definitions

  createAgent(agent: Agent | undefined, requestId: string) {
    return this.registry.create(agent, requestId);
  }

  getAgent(id: string, version: number) {
    return this.registry.get(id, version);
  }

  listAgents(pageSize: number, pageToken: string) {
    return this.registry.list(pageSize, pageToken);
  }

  async updateAgent(agent: Agent | undefined, mask: string[] | undefined, expectedVersion: number | undefined, requestId: string) {
    // The owner's actor must see the new definition: let the owner apply it.
    if (agent?.id) await this.ensureNotElsewhere(agent.id);
    const updated = await this.registry.update(agent, mask, expectedVersion, requestId);
    this.supervisor.definitionChanged(updated.id, updated);
    return updated;
  }

  async deleteAgent(id: string) {
    if (id) await this.ensureNotElsewhere(id);
    const deleted = await this.registry.delete(id);
    await this.supervisor.remove(id);
    return deleted;
  }

  // Threads

  private validateThreadId(threadId: string, field = 'thread_id'): void {
    if (!THREAD_ID_PATTERN.test(threadId)) throw errors.invalidArgument(field, 'must be 1-128 letters, digits, "_", ".", ":" or "-", starting with a letter or digit');
  }

  async sendMessage(request: SendMessageRequest): Promise<EventStream> {
    const violations = [];
    if (!request.agentId) violations.push({ field: 'agent_id', description: 'is required' });
    if (!request.content.trim()) violations.push({ field: 'content', description: 'is required' });
    if (request.content.length > MAX_CONTENT) violations.push({ field: 'content', description: `at most ${MAX_CONTENT} characters` });
    if (request.threadId && !THREAD_ID_PATTERN.test(request.threadId)) violations.push({ field: 'thread_id', description: 'must be 1-128 letters, digits, "_", ".", ":" or "-"' });
    if (!Object.values(OnBusy).includes(request.onBusy) || (request.onBusy as number) < 0) violations.push({ field: 'on_busy', description: 'unknown value' });
    if (request.requestId.length > 200) violations.push({ field: 'request_id', description: 'at most 200 characters' });
    if (violations.length > 0) throw errors.invalidArguments(violations);
    const threadId = request.threadId || newId('thread');
    await this.ensureOwned(request.agentId);
    const actor = await this.supervisor.actorFor(request.agentId).catch(async (error: unknown) => {
      // No such agent (in this tenant): the lease just taken for it goes back rather than being renewed for nothing.
      if (ElixirError.is(error, GrpcCode.NOT_FOUND) && !this.supervisor.resident(request.agentId)) await this.options.ownership?.release(request.agentId);
      throw error;
    });
    const turnId = newId('turn');
    const subscriber = new EventSubscriber({ turnId, highWaterBytes: this.highWater });
    let result;
    try {
      result = await actor.submit(
        { threadId, turnId, content: request.content, requestId: request.requestId, onBusy: request.onBusy, ...(request.metadata ? { metadata: request.metadata } : {}) },
        subscriber,
        { newThread: !request.threadId },
      );
    } catch (error) {
      subscriber.close();
      throw error;
    }
    if (result.turnId !== turnId) {
      subscriber.turnId = result.turnId;
      subscriber.prepend(await this.replay(threadId, result.reattachAfterSequence ?? 0));
    }
    return new SubscriberStream(threadId, result.turnId, subscriber);
  }

  /** Events after afterSequence that this process remembers or the memory service holds. */
  private async replay(threadId: string, afterSequence: number): Promise<ThreadEvent[]> {
    const log = this.hub.get(threadId);
    const remembered = log?.replayFromMemory(afterSequence);
    if (remembered) return remembered;
    const stored = await this.store.loadEvents(threadId, afterSequence);
    const recent = log?.replayFromMemory(stored[stored.length - 1]?.sequence ?? afterSequence) ?? [];
    const bySequence = new Map<number, ThreadEvent>();
    for (const e of [...stored, ...recent]) bySequence.set(e.sequence, e);
    return [...bySequence.values()].sort((a, b) => a.sequence - b.sequence);
  }

  private async loadRecord(threadId: string): Promise<{ record: ThreadRecord; session?: ThreadSession }> {
    const loaded = await this.store.load(threadId);
    if (!loaded) throw errors.notFound('thread', threadId);
    const session = this.supervisor.resident(loaded.record.agentId)?.residentSession(threadId);
    return { record: session?.record ?? loaded.record, session };
  }

  /** A turn is running or waiting on the thread, other than `except`. */
  private threadBusy(agentId: string, threadId: string, except?: string): boolean {
    const session = this.supervisor.resident(agentId)?.residentSession(threadId);
    if (!session) return false;
    if (session.queue.length > 0 || session.starting) return true;
    return session.runningTurnId !== undefined && session.runningTurnId !== except;
  }

  async watchThread(request: WatchThreadRequest): Promise<EventStream> {
    this.validateThreadId(request.threadId);
    if (request.afterSequence < 0) throw errors.invalidArgument('after_sequence', 'must not be negative');
    const { record } = await this.loadRecord(request.threadId);
    // Live events are only on the owner's replica: the watch goes there.
    await this.ensureNotElsewhere(record.agentId);
    const follow = request.follow;
    const subscriber = new EventSubscriber({
      filter: (e) => e.sequence > request.afterSequence,
      endAfter: (e) => !follow && e.event?.$case === 'turnCompleted' && !this.threadBusy(record.agentId, request.threadId, e.turnId),
      highWaterBytes: this.highWater,
    });
    // As the actor would: a turn left unfinished by another process continues past a gap.
    const log = this.hub.getOrCreate(request.threadId, resumeSequenceBase(record, this.ctx.options.resumeSequenceGap));
    log.subscribe(subscriber);
    const replayed = await this.replay(request.threadId, request.afterSequence);
    subscriber.prepend(replayed);
    const active = this.threadBusy(record.agentId, request.threadId) || (record.activeTurn !== undefined && !this.supervisor.isFailed(record.agentId));
    if (!follow && !active) subscriber.finishAfterQueued();
    return new SubscriberStream(request.threadId, '', subscriber, () => {
      if (!this.supervisor.resident(record.agentId)?.residentSession(request.threadId)) this.hub.dropIfIdle(request.threadId);
    });
  }

  async listMessages(request: ListMessagesRequest) {
    this.validateThreadId(request.threadId);
    if (request.pageSize < 0) throw errors.invalidArgument('page_size', 'must not be negative');
    await this.loadRecord(request.threadId);
    const page = await this.options.memory.listMessages({ threadId: request.threadId, pageSize: Math.min(request.pageSize || 100, 1000), pageToken: request.pageToken, newestFirst: request.newestFirst });
    return { messages: page.messages, nextPageToken: page.nextPageToken };
  }

  private threadInfo(threadId: string, record: ThreadRecord, session?: ThreadSession): ThreadInfo {
    const cp = record.activeTurn;
    const log = this.hub.get(threadId);
    return {
      threadId,
      agentId: record.agentId,
      lastSequence: log ? log.lastDeliveredSequence() : record.lastSequence,
      currentTurnId: cp?.turnId ?? '',
      currentTurnStatus: !cp ? TurnStatus.TURN_STATUS_UNSPECIFIED : cp.status === 'awaiting_approval' ? TurnStatus.TURN_STATUS_AWAITING_APPROVAL : TurnStatus.TURN_STATUS_RUNNING,
      queuedTurns: session ? session.queue.length : record.queue.length,
      pendingApprovals: (cp?.pendingCalls ?? [])
        .filter((c) => c.approval?.state === 'pending')
        .map((c) => ({ approvalId: c.approval!.approvalId, turnId: cp!.turnId, callId: c.callId, toolName: c.name, arguments: c.arguments, reason: c.approval!.reason })),
      messageCount: record.messageVersion,
      updateTime: new Date(record.updatedAt),
    };
  }

  async getThread(threadId: string): Promise<ThreadInfo> {
    this.validateThreadId(threadId);
    const { record, session } = await this.loadRecord(threadId);
    return this.threadInfo(threadId, record, session);
  }

  async listThreads(agentId: string, pageSize: number, pageToken: string): Promise<{ threads: ThreadInfo[]; nextPageToken: string }> {
    if (!agentId) throw errors.invalidArgument('agent_id', 'is required');
    if (pageSize < 0) throw errors.invalidArgument('page_size', 'must not be negative');
    const page = await this.options.memory.listState({ prefix: agentThreadPrefix(agentId), keysOnly: true, pageSize: Math.min(pageSize || 50, 500), pageToken });
    const threads: ThreadInfo[] = [];
    for (const entry of page.entries) {
      const threadId = entry.key.slice(agentThreadPrefix(agentId).length);
      const loaded = await this.store.load(threadId);
      if (!loaded) continue;
      const session = this.supervisor.resident(agentId)?.residentSession(threadId);
      threads.push(this.threadInfo(threadId, session?.record ?? loaded.record, session));
    }
    return { threads, nextPageToken: page.nextPageToken };
  }

  private async actorOfThread(threadId: string): Promise<AgentActor> {
    const { record } = await this.loadRecord(threadId);
    await this.ensureOwned(record.agentId);
    return this.supervisor.actorFor(record.agentId);
  }

  async resolveApproval(request: ResolveApprovalRequest) {
    this.validateThreadId(request.threadId);
    if (!request.approvalId) throw errors.invalidArgument('approval_id', 'is required');
    const actor = await this.actorOfThread(request.threadId);
    return actor.resolveApproval(request.threadId, request.approvalId, request.approve, request.reason);
  }

  async cancelTurn(request: CancelTurnRequest) {
    this.validateThreadId(request.threadId);
    const actor = await this.actorOfThread(request.threadId);
    return actor.cancel(request.threadId, request.turnId, request.reason);
  }

  /** Drops every idle actor now; their state stays in memory and the next message rehydrates them. */
  hibernateIdle(): number {
    return this.supervisor.hibernateIdle();
  }

  /** Counters for tests, metrics and benchmarks. */
  stats() {
    return { residentAgents: this.supervisor.residentCount, threadLogs: this.hub.size, restarts: this.supervisor.restarts };
  }
}

const STREAM_DONE = { value: undefined, done: true } as const;

/**
 * A subscriber as an EventStream (a class, not closures: one per SendMessage,
 * and every closure costs an allocation and a name under tsx). Closes the
 * subscriber when the stream ends or fails; closing the stream also runs
 * afterClose.
 */
class SubscriberStream implements EventStream {
  constructor(
    readonly threadId: string,
    readonly turnId: string,
    readonly subscriber: EventSubscriber,
    private readonly afterClose?: () => void,
  ) {}

  nextBatch(): Promise<ThreadEvent[] | undefined> {
    return this.subscriber.nextBatch().then(
      (events) => {
        if (!events) this.subscriber.close();
        return events;
      },
      (error: unknown) => this.fail(error),
    );
  }

  close(): void {
    this.subscriber.close();
    this.afterClose?.();
  }

  private fail(error: unknown): never {
    this.subscriber.close();
    throw error;
  }

  // A plain iterator, not an async generator: a queued event costs one resolved promise.
  [Symbol.asyncIterator](): AsyncIterator<ThreadEvent> {
    return {
      next: () => {
        const event = this.subscriber.take();
        if (event) return Promise.resolve({ value: event, done: false });
        return this.subscriber.next().then(
          (next): IteratorResult<ThreadEvent> => {
            if (next) return { value: next, done: false };
            this.subscriber.close();
            return STREAM_DONE;
          },
          (error: unknown) => this.fail(error),
        );
      },
      return: () => {
        this.subscriber.close();
        return Promise.resolve(STREAM_DONE);
      },
    };
  }
}
