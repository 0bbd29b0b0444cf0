import { randomBytes } from 'node:crypto';
import { context, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { OnBusy, TurnStatus, type Agent } from '@elixirchain/proto/agent';
import { activeTraceId, ElixirError, GrpcCode, errors, type ExitReason, type Supervised } from '@elixirchain/runtime';
import { effectiveLimits } from '../agents/agent-limits.js';
import { ThreadSession } from '../threads/thread-session.js';
import type { LoadedThread } from '../threads/thread-store.js';
import { activeTurnPrefix, newThreadRecord, REQUESTS_REMEMBERED, resumeSequenceBase, type QueuedMessage, type TurnCheckpoint } from '../threads/thread-record.js';
import type { EventSubscriber } from '../threads/event-subscriber.js';
import { TurnStateMachine } from '../turns/turn-state-machine.js';
import { FencedError, TurnStop } from '../turns/turn-stop.js';
import type { ActorContext } from './actor-context.js';

export interface Submission {
  threadId: string;
  turnId: string;
  content: string;
  requestId: string;
  onBusy: OnBusy;
  metadata?: Record<string, unknown>;
}

export interface SubmitResult {
  turnId: string;
  /** Set when request_id matched an earlier turn: the stream re-attaches from here. */
  reattachAfterSequence?: number;
}

/** Messages accepted but not started, handed to the next incarnation when an actor crashes. */
export type Mailbox = Map<string, QueuedMessage[]>;

/** Random bytes taken 8 at a time from a pooled buffer: one system call per 512 ids. */
let idPool = Buffer.alloc(0);
let idPoolAt = 0;
export const newId = (prefix: string) => {
  if (idPoolAt + 8 > idPool.length) {
    idPool = randomBytes(4096);
    idPoolAt = 0;
  }
  idPoolAt += 8;
  return `${prefix}-${idPool.toString('hex', idPoolAt - 8, idPoolAt)}`;
};

/**
 * One agent while it is busy: its resident threads, a mailbox per thread
 * (bounded), one turn at a time per thread and at most max_concurrent_threads
 * turns at once. It never catches what it cannot handle: an unexpected error
 * ends it abnormally and its supervisor starts a new one from the checkpoints.
 */
export class AgentActor implements Supervised {
  readonly exited: Promise<ExitReason>;
  private resolveExit!: (reason: ExitReason) => void;
  private readonly sessions = new Map<string, ThreadSession>();
  private readonly loading = new Map<string, Promise<ThreadSession>>();
  private readonly turns = new Map<string, TurnStateMachine>();
  private readonly waiting = new Set<ThreadSession>();
  /**
   * Idle threads kept resident, in two segments (2Q): a thread's first idle spell on this actor puts it in
   * `newIdleThreads`, a short FIFO; a thread used again moves to `idleThreads`, the LRU of conversations.
   * So a stream of one-shot threads (a new thread per request, chains' agent steps) passes through the
   * short segment and is dropped young, instead of flushing threads people are talking in — and instead of
   * every one-shot thread's record and history outliving the young generation of the heap.
   */
  private readonly idleThreads = new Map<string, ThreadSession>();
  private readonly newIdleThreads = new Map<string, ThreadSession>();
  /** The trace context of the SendMessage that sent each waiting message (in this process only). */
  private readonly traceOrigins = new WeakMap<QueuedMessage, Context>();
  private running = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private ended = false;

  private constructor(
    public definition: Agent,
    private readonly ctx: ActorContext,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /** Starts the actor; with resume, picks up the agent's unfinished turns and inherited mailbox. */
  static async start(agentId: string, ctx: ActorContext, resume: boolean, inherited?: Mailbox): Promise<AgentActor> {
    const definition = await ctx.registry.get(agentId);
    const actor = new AgentActor(definition, ctx);
    if (resume) await actor.resumeUnfinished();
    for (const [threadId, queued] of inherited ?? []) {
      const session = await actor.session(threadId);
      for (const q of queued) if (!session.queue.some((m) => m.turnId === q.turnId) && session.record.activeTurn?.turnId !== q.turnId) session.queue.push(q);
      actor.schedule(session);
    }
    actor.armIdleTimer();
    return actor;
  }

  get id(): string {
    return this.definition.id;
  }

  get alive(): boolean {
    return !this.ended;
  }

  get residentThreads(): number {
    return this.sessions.size;
  }

  get runningTurns(): number {
    return this.running;
  }

  get queuedMessages(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.queue.length;
    return n;
  }

  private async resumeUnfinished(): Promise<void> {
    let pageToken = '';
    const threadIds: string[] = [];
    do {
      const page = await this.ctx.memory.listState({ prefix: activeTurnPrefix(this.id), keysOnly: true, pageSize: 500, pageToken });
      threadIds.push(...page.entries.map((e) => e.key.slice(activeTurnPrefix(this.id).length)));
      pageToken = page.nextPageToken;
    } while (pageToken);
    for (const threadId of threadIds) {
      const session = await this.session(threadId);
      if (session.record.activeTurn) {
        this.running += 1;
        void this.runTurn(session, session.record.activeTurn, true);
      } else {
        this.schedule(session);
      }
    }
  }

  /**
   * The resident session of a thread, loading it (or creating it) on first use.
   * `newThread`: the id was just generated here, so there is nothing to load
   * (its first checkpoint still insists, by compare-and-set, that it does not exist).
   */
  async session(threadId: string, newThread = false): Promise<ThreadSession> {
    const resident = this.sessions.get(threadId);
    if (resident) return resident;
    let loading = this.loading.get(threadId);
    if (!loading) {
      if (newThread) return this.residentFrom(threadId, undefined);
      loading = this.ctx.store
        .load(threadId)
        .then((loaded) => this.residentFrom(threadId, loaded))
        .finally(() => this.loading.delete(threadId));
      this.loading.set(threadId, loading);
    }
    return loading;
  }

  private residentFrom(threadId: string, loaded: LoadedThread | undefined): ThreadSession {
    if (loaded && loaded.record.agentId !== this.id) {
      throw errors.failedPrecondition('THREAD_OF_ANOTHER_AGENT', `thread ${threadId} belongs to agent ${loaded.record.agentId}`, { agentId: loaded.record.agentId });
    }
    const record = loaded?.record ?? newThreadRecord(threadId, this.id);
    record.queue ??= [];
    record.requests ??= [];
    // A turn interrupted in another process may have shown clients events that were never persisted: skip past them.
    const existing = this.ctx.hub.get(threadId);
    const last = existing ? existing.lastSequence : resumeSequenceBase(record, this.ctx.options.resumeSequenceGap);
    const log = existing ?? this.ctx.hub.getOrCreate(threadId, last);
    const session = new ThreadSession(threadId, record, loaded?.stateVersion ?? 0, !loaded, log, this.ctx.store);
    this.sessions.set(threadId, session);
    // A conversation loaded back from memory has been used before: when idle it goes straight to the LRU.
    session.reused = loaded !== undefined;
    return session;
  }

  residentSession(threadId: string): ThreadSession | undefined {
    return this.sessions.get(threadId);
  }

  async submit(message: Submission, subscriber?: EventSubscriber, options: { newThread?: boolean } = {}): Promise<SubmitResult> {
    this.assertAlive();
    const session = await this.session(message.threadId, options.newThread);
    this.assertAlive();
    this.idleThreads.delete(message.threadId);
    this.newIdleThreads.delete(message.threadId);
    if (subscriber) session.log.subscribe(subscriber);
    if (message.requestId) {
      const known =
        session.record.requests.find((r) => r.requestId === message.requestId) ??
        session.queue.find((q) => q.requestId === message.requestId) ??
        // Taken off the queue, its start not yet durable: a retry arriving now (e.g. forwarded by another replica) must not start a second turn.
        (session.startingRequest?.requestId === message.requestId ? session.startingRequest : undefined);
      if (known) return { turnId: known.turnId, reattachAfterSequence: 'firstSequence' in known ? known.firstSequence - 1 : session.log.persistedSequence };
    }
    const limits = effectiveLimits(this.definition);
    const busy = session.busy;
    const queued: QueuedMessage = { turnId: message.turnId, requestId: message.requestId, content: message.content, ...(message.metadata ? { metadata: message.metadata } : {}) };
    this.traceOrigins.set(queued, context.active());
    if (busy) {
      if (message.onBusy === OnBusy.ON_BUSY_REJECT) {
        throw errors.failedPrecondition('THREAD_BUSY', `thread ${message.threadId} is running turn ${session.runningTurnId ?? session.queue[0]?.turnId}`, { threadId: message.threadId });
      }
      if (message.onBusy === OnBusy.ON_BUSY_INTERRUPT) {
        session.queue.unshift(queued);
        await this.acceptDurably(session, queued, 0);
        const turn = session.runningTurnId ? this.turns.get(message.threadId) : undefined;
        turn?.stop(new TurnStop('interrupt', `interrupted by turn ${queued.turnId}`));
        return { turnId: queued.turnId };
      }
      if (session.queue.length >= limits.mailboxCapacity) {
        throw errors.resourceExhausted('MAILBOX_FULL', `thread ${message.threadId} already has ${session.queue.length} messages waiting (capacity ${limits.mailboxCapacity})`, 1000, { threadId: message.threadId });
      }
      session.queue.push(queued);
      await this.acceptDurably(session, queued, session.queue.length);
    } else {
      session.queue.push(queued);
    }
    this.schedule(session);
    return { turnId: queued.turnId };
  }

  /**
   * The client is told a message is queued only once the mailbox holding it is
   * durable: a kill -9 after turn_queued loses nothing. If the write fails the
   * message is not accepted (the client gets the error).
   */
  private async acceptDurably(session: ThreadSession, queued: QueuedMessage, position: number): Promise<void> {
    try {
      await session.commitMailbox([{ turnId: queued.turnId, body: { $case: 'turnQueued', turnQueued: { turnId: queued.turnId, position } } }]);
    } catch (error) {
      const index = session.queue.indexOf(queued);
      if (index >= 0) session.queue.splice(index, 1);
      if (error instanceof FencedError || ElixirError.is(error, GrpcCode.ABORTED)) this.onTurnError(session, error);
      throw error;
    }
  }

  /** Starts the thread's next message if the thread is free and the agent has a slot. */
  private schedule(session: ThreadSession): void {
    // A turn that is ending (turn_completed already released) still holds the thread: its runTurn schedules the next.
    if (this.ended || session.runningTurnId || session.endingTurnId || session.starting || session.queue.length === 0) return;
    if (this.running >= effectiveLimits(this.definition).maxConcurrentThreads) {
      this.waiting.add(session);
      return;
    }
    this.waiting.delete(session);
    this.running += 1;
    session.starting = true;
    clearTimeout(this.idleTimer);
    // The turn is traced under the SendMessage that sent its message, also when it waited in the mailbox and
    // starts from the end of the turn before it (or, resumed after a restart, in a trace of its own).
    void context.with(this.traceOrigins.get(session.queue[0]) ?? ROOT_CONTEXT, () => this.startTurn(session));
  }

  private async startTurn(session: ThreadSession): Promise<void> {
    const message = session.queue[0];
    const agent = this.definition;
    try {
      await session.ensureHistory();
      const now = Date.now();
      const firstSequence = session.log.nextSequence;
      const checkpoint: TurnCheckpoint = {
        turnId: message.turnId,
        requestId: message.requestId,
        agentVersion: agent.version,
        status: 'running',
        userMessageId: `msg_${message.turnId}_u`,
        userText: message.content,
        startedAt: now,
        deadlineAt: now + effectiveLimits(agent).turnTimeoutMs,
        firstSequence,
        modelCalls: 0,
        toolCalls: 0,
        inputTokens: 0,
        outputTokens: 0,
        pendingCalls: [],
      };
      session.queue.shift();
      session.runningTurnId = message.turnId;
      session.starting = false;
      session.startingRequest = message.requestId ? { requestId: message.requestId, turnId: message.turnId, firstSequence } : undefined;
      // traceId: the span active here is the parent of the turn's invoke_agent span (same async context), so it names the turn's trace.
      await session.commit({
        messages: [{ id: checkpoint.userMessageId, threadId: session.threadId, role: 2, content: message.content, turnId: message.turnId, ...(message.metadata ? { metadata: message.metadata } : {}) }],
        activeIndex: 'put',
        update: (r) => {
          r.activeTurn = checkpoint;
          if (message.requestId) r.requests = [...r.requests, { requestId: message.requestId, turnId: message.turnId, firstSequence }].slice(-REQUESTS_REMEMBERED);
        },
        stage: [{ turnId: message.turnId, body: { $case: 'turnStarted', turnStarted: { turnId: message.turnId, agentId: agent.id, agentVersion: agent.version, userMessageId: checkpoint.userMessageId, traceId: activeTraceId() } } }],
      });
    } catch (error) {
      session.startingRequest = undefined;
      // Not started after all: the message goes back to the front of the mailbox for the next incarnation.
      if (session.record.activeTurn?.turnId !== message.turnId && session.queue[0]?.turnId !== message.turnId) session.queue.unshift(message);
      session.runningTurnId = undefined;
      session.starting = false;
      this.running -= 1;
      this.onTurnError(session, error);
      return;
    }
    session.startingRequest = undefined;
    await this.runTurn(session, session.record.activeTurn!, false);
  }

  /** Runs (or resumes) a turn; a slot is already held for it. */
  private async runTurn(session: ThreadSession, checkpoint: TurnCheckpoint, resumed: boolean): Promise<void> {
    session.runningTurnId = checkpoint.turnId;
    let agent = this.definition;
    try {
      // A running turn keeps the definition it started with; a resumed one reloads that version.
      if (resumed && checkpoint.agentVersion !== agent.version) agent = await this.ctx.registry.get(this.id, checkpoint.agentVersion).catch(() => this.definition);
      // A drain let this turn continue without a sequence gap; once this process numbers events a kill -9 must leave one again.
      if (resumed && session.record.cleanStop) await session.commit({});
      const turn = new TurnStateMachine(agent, session, {
        provider: () => this.ctx.providerFor(agent),
        tools: this.ctx.tools,
        memory: this.ctx.memory,
        loadToolInfos: () => this.ctx.catalog.toolsFor(agent),
        log: this.ctx.log,
        metrics: this.ctx.metrics,
        flushEveryEvents: this.ctx.options.flushEveryEvents,
        flushEveryBytes: this.ctx.options.flushEveryBytes,
      });
      this.turns.set(session.threadId, turn);
      if (this.ended) return;
      await turn.run();
    } catch (error) {
      this.onTurnError(session, error);
      return;
    } finally {
      if (this.turns.get(session.threadId)?.turnId === checkpoint.turnId) this.turns.delete(session.threadId);
      if (session.runningTurnId === checkpoint.turnId) session.runningTurnId = undefined;
      if (session.endingTurnId === checkpoint.turnId) session.endingTurnId = undefined;
    }
    this.running -= 1;
    if (!session.busy) {
      session.log.compact();
      this.keepIdle(session);
    }
    this.schedule(session);
    for (const waiting of [...this.waiting]) this.schedule(waiting);
    this.armIdleTimer();
  }

  /**
   * Notes a thread that has nothing to do. Its first idle spell goes to the short FIFO of new threads
   * (maxIdleNewThreads), later ones to the LRU (maxIdleThreads); past either bound the oldest are dropped.
   */
  private keepIdle(session: ThreadSession): void {
    this.idleThreads.delete(session.threadId);
    this.newIdleThreads.delete(session.threadId);
    if (session.reused) {
      this.idleThreads.set(session.threadId, session);
      this.trimIdle(this.idleThreads, this.ctx.options.maxIdleThreads);
    } else {
      session.reused = true;
      this.newIdleThreads.set(session.threadId, session);
      this.trimIdle(this.newIdleThreads, this.ctx.options.maxIdleNewThreads);
    }
  }

  /** Drops the oldest idle threads of one segment past its bound: an eighth at a time, so walking them costs nothing per turn. */
  private trimIdle(segment: Map<string, ThreadSession>, max: number): void {
    if (segment.size <= max + Math.ceil(max / 8)) return;
    for (const [threadId, oldest] of segment) {
      if (segment.size <= max) break;
      segment.delete(threadId);
      // Busy again, watched, or replaced meanwhile: it stays (and is noted again when its next turn ends).
      if (oldest.busy || oldest.record.activeTurn || oldest.log.subscribers.size > 0 || this.sessions.get(threadId) !== oldest) continue;
      this.sessions.delete(threadId);
      this.ctx.hub.dropIfIdle(threadId);
    }
  }

  private onTurnError(session: ThreadSession, error: unknown): void {
    if (this.ended) return;
    if (error instanceof FencedError) {
      this.fence(session, error);
      return;
    }
    if (ElixirError.is(error, GrpcCode.ABORTED)) {
      this.fence(session, new FencedError(session.threadId, error));
      return;
    }
    this.crash(error);
  }

  /** Another owner wrote this agent's thread: tell the listeners, stop without touching storage. */
  private fence(session: ThreadSession, error: FencedError): void {
    const turnId = session.runningTurnId ?? '';
    session.log.discardStaged();
    session.log.append(turnId, { $case: 'error', error: { turnId, status: { code: 10, message: error.message, details: [] } } });
    session.log.append(turnId, { $case: 'turnCompleted', turnCompleted: { turnId, status: TurnStatus.TURN_STATUS_FAILED } });
    this.ctx.log.warn({ agentId: this.id, threadId: session.threadId }, 'lost ownership of a thread; stopping the actor');
    this.end({ normal: true }, new TurnStop('fenced', error.message));
    for (const s of this.sessions.values()) {
      for (const sub of s.log.subscribers) sub.close(errors.aborted('THREAD_OWNED_ELSEWHERE', error.message));
      this.ctx.hub.delete(s.threadId);
    }
  }

  /** The agent moved to another replica (lease lost): stop every turn without writing; listeners get ABORTED and re-attach elsewhere. */
  relinquish(message: string): void {
    if (this.ended) return;
    this.ctx.log.warn({ agentId: this.id }, 'lost ownership of the agent; stopping the actor');
    this.end({ normal: true }, new TurnStop('fenced', message));
    for (const s of this.sessions.values()) {
      for (const sub of s.log.subscribers) sub.close(errors.aborted('THREAD_OWNED_ELSEWHERE', message));
      this.ctx.hub.delete(s.threadId);
    }
  }

  /** Let it crash: stop every turn where it stands and exit abnormally; the supervisor restarts from checkpoints. */
  crash(error: unknown): void {
    if (this.ended) return;
    this.ctx.log.error({ err: error, agentId: this.id }, 'agent actor crashed');
    this.end({ normal: false, error }, new TurnStop('crash', 'the agent actor crashed'));
  }

  private end(reason: ExitReason, stop: TurnStop): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.idleTimer);
    for (const turn of this.turns.values()) turn.stop(stop);
    for (const session of this.sessions.values()) session.log.discardStaged();
    this.resolveExit(reason);
  }

  /** Accepted messages that never started, for the next incarnation. */
  takeMailbox(): Mailbox {
    const mailbox: Mailbox = new Map();
    for (const session of this.sessions.values()) if (session.queue.length > 0) mailbox.set(session.threadId, [...session.queue]);
    return mailbox;
  }

  /** Threads with an unfinished turn or waiting messages, for giving up on them. */
  busyThreads(): string[] {
    return [...this.sessions.values()].filter((s) => s.busy || s.record.activeTurn).map((s) => s.threadId);
  }

  setDefinition(agent: Agent): void {
    this.definition = agent;
    for (const waiting of [...this.waiting]) this.schedule(waiting);
  }

  async cancel(threadId: string, turnId: string, reason: string): Promise<{ cancelled: boolean; turnId: string }> {
    this.assertAlive();
    const session = await this.session(threadId);
    const queuedIndex = turnId ? session.queue.findIndex((q) => q.turnId === turnId) : -1;
    if (queuedIndex >= 0) {
      const [queued] = session.queue.splice(queuedIndex, 1);
      // 'delete' stays a put while the thread still has work (see ThreadSession.write).
      await session.commit({ activeIndex: 'delete', stage: [{ turnId: queued.turnId, body: { $case: 'turnCompleted', turnCompleted: { turnId: queued.turnId, status: TurnStatus.TURN_STATUS_CANCELLED } } }] });
      return { cancelled: true, turnId: queued.turnId };
    }
    const running = session.runningTurnId;
    if (!running || (turnId && turnId !== running)) return { cancelled: false, turnId: turnId || '' };
    const turn = this.turns.get(threadId);
    turn?.stop(new TurnStop('cancel', reason || 'cancelled by request'));
    return { cancelled: turn !== undefined, turnId: running };
  }

  async resolveApproval(threadId: string, approvalId: string, approve: boolean, note: string) {
    this.assertAlive();
    const session = await this.session(threadId);
    const cp = session.record.activeTurn;
    const call = cp?.pendingCalls.find((c) => c.approval?.approvalId === approvalId);
    if (!cp || !call?.approval) throw errors.notFound('approval', approvalId);
    if (call.approval.state !== 'pending') {
      throw errors.failedPrecondition('APPROVAL_ALREADY_RESOLVED', `approval ${approvalId} was already ${call.approval.state}`);
    }
    const resolution = { approvalId, approved: approve, reason: note };
    await session.commit({
      update: (r) => {
        const c = r.activeTurn!.pendingCalls.find((p) => p.approval?.approvalId === approvalId)!;
        c.approval = { ...c.approval!, state: approve ? 'approved' : 'denied', ...(note ? { note } : {}) };
        if (!r.activeTurn!.pendingCalls.some((p) => p.approval?.state === 'pending')) r.activeTurn!.status = 'running';
      },
      stage: [{ turnId: cp.turnId, body: { $case: 'approvalResolved', approvalResolved: resolution } }],
    });
    this.turns.get(threadId)?.approvalResolved(approvalId);
    return resolution;
  }

  private assertAlive(): void {
    if (this.ended) throw errors.unavailable('AGENT_RESTARTING', `agent ${this.id} is restarting; retry`, 100);
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    if (this.ended || this.ctx.options.idleHibernateMs <= 0) return;
    this.idleTimer = setTimeout(() => this.hibernateIfIdle(), this.ctx.options.idleHibernateMs);
    this.idleTimer.unref();
  }

  /** Idle: drop everything resident (it is all in the memory service) and exit normally. */
  hibernateIfIdle(): boolean {
    if (this.ended || this.running > 0 || this.loading.size > 0) return false;
    for (const s of this.sessions.values()) if (s.busy || s.record.activeTurn || s.log.subscribers.size > 0) return false;
    for (const s of this.sessions.values()) this.ctx.hub.dropIfIdle(s.threadId);
    this.sessions.clear();
    this.idleThreads.clear();
    this.newIdleThreads.clear();
    this.end({ normal: true }, new TurnStop('shutdown', 'hibernating'));
    return true;
  }

  /** Graceful stop (drain): running turns stay checkpointed and resume in the next process. */
  async stop(): Promise<void> {
    if (this.ended) return;
    this.end({ normal: true }, new TurnStop('shutdown', 'agent-host is shutting down'));
    // Persist what clients already saw, so re-attaching after the restart replays it; nothing is numbered after
    // this write (the turns are stopped), so the next process may continue the sequence without a gap.
    await Promise.all(
      [...this.sessions.values()]
        .filter((s) => s.log.unpersistedCount > 0 || s.record.activeTurn)
        .map((s) =>
          s
            .commit({
              update: (r) => {
                r.cleanStop = true;
              },
            })
            .catch((err) => this.ctx.log.warn({ err, threadId: s.threadId }, 'could not persist events while stopping')),
        ),
    );
  }
}
