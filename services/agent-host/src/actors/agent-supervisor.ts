import { TurnStatus } from '@elixirchain/proto/agent';
import { Role } from '@elixirchain/proto/memory';
import { ElixirError, GrpcCode, Supervisor, errors, toRpcStatus, type ExitReason, type RestartIntensity } from '@elixirchain/runtime';
import { AgentActor, type Mailbox } from './agent-actor.js';
import type { ActorContext } from './actor-context.js';
import type { AgentHostLoad } from '../metrics/agent-host-metrics.js';
import { activeTurnPrefix, resumeSequenceBase } from '../threads/thread-record.js';
import { ThreadSession } from '../threads/thread-session.js';

/** How often, and for how long, an agent stopped by an outage of memory is started again. */
const OUTAGE_RETRY_MS = 2_000;
const OUTAGE_RECOVERY_MS = 15 * 60_000;

/**
 * The DynamicSupervisor of agent actors, on the runtime's one-for-one
 * Supervisor: starts an actor on demand, restarts one that crashed from its
 * checkpoints (handing over its mailbox), and past the restart intensity
 * gives up: the agent's turns fail with an error event and new messages get
 * FAILED_PRECONDITION until its definition is updated.
 */
export class AgentSupervisor {
  private readonly supervisor: Supervisor;
  private readonly starting = new Map<string, Promise<AgentActor>>();
  private readonly failed = new Map<string, { at: Date; message: string }>();
  private readonly mailboxes = new Map<string, Mailbox>();
  private readonly lastIncarnation = new Map<string, AgentActor>();
  restarts = 0;
  /** Called when an agent's actor ended for good (hibernated, removed, relinquished): its lease can go. */
  onStopped: (agentId: string) => void = () => {};
  /** Agents with turns a previous process left unfinished: their first start resumes them. */
  private readonly needsResume = new Set<string>();
  /** Agents stopped by an outage of memory, with the timer of their next start. */
  private readonly recovering = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly ctx: ActorContext,
    intensity: RestartIntensity = { maxRestarts: 3, periodMs: 10_000 },
  ) {
    this.supervisor = new Supervisor({ name: 'agents', intensity, restartDelayMs: (n) => 20 * n });
    this.supervisor.on('exit', (id, reason) => this.onExit(id, reason));
    this.supervisor.on('restarted', () => (this.restarts += 1));
    this.supervisor.on('gaveUp', (id, reason) => {
      if (ElixirError.is(reason.error, GrpcCode.UNAVAILABLE)) this.waitOutOutage(id, reason);
      else void this.giveUp(id, reason).catch((err) => this.ctx.log.error({ err, agentId: id }, 'failed to fail the turns of a stopped agent'));
    });
  }

  private onExit(agentId: string, reason: ExitReason): void {
    const actor = this.lastIncarnation.get(agentId);
    if (!reason.normal && actor) {
      const mailbox = actor.takeMailbox();
      if (mailbox.size > 0) this.mailboxes.set(agentId, mailbox);
    } else {
      this.lastIncarnation.delete(agentId);
      if (reason.normal) this.onStopped(agentId);
    }
  }

  /** The agent now belongs to another replica: stop its actor without writing, forget what would restart it. */
  relinquish(agentId: string, message: string): void {
    this.needsResume.delete(agentId);
    this.mailboxes.delete(agentId);
    this.supervisor.child<AgentActor>(agentId)?.relinquish(message);
  }

  /** The agent's running actor, started (or rehydrated) if needed. */
  async actorFor(agentId: string, resume = false): Promise<AgentActor> {
    const failure = this.failed.get(agentId);
    if (failure) {
      throw errors.failedPrecondition('AGENT_FAILED', `agent ${agentId} stopped after repeated crashes (${failure.message}); update the agent to restart it`, { agentId });
    }
    for (let attempt = 0; attempt < 50; attempt++) {
      const actor = this.supervisor.child<AgentActor>(agentId);
      const status = this.supervisor.info(agentId)?.status;
      if (actor?.alive && status === 'running') return actor;
      if (status === 'failed') {
        // Given up on earlier and since updated: forget the old incarnation and start afresh.
        await this.supervisor.terminateChild(agentId);
        continue;
      }
      if (status === 'restarting' || (actor && !actor.alive)) {
        // Between incarnations: wait for the restart (or the supervisor's bookkeeping) to finish.
        await new Promise((r) => setTimeout(r, 10));
        if (this.failed.has(agentId)) return this.actorFor(agentId);
        continue;
      }
      let start = this.starting.get(agentId);
      if (!start) {
        let launches = 0;
        start = this.supervisor
          .startChild({
            id: agentId,
            restart: 'transient',
            start: async () => {
              launches += 1;
              const inherited = this.mailboxes.get(agentId);
              this.mailboxes.delete(agentId);
              const resuming = this.needsResume.delete(agentId);
              try {
                const next = await AgentActor.start(agentId, this.ctx, resume || resuming || launches > 1, inherited);
                this.lastIncarnation.set(agentId, next);
                return next;
              } catch (error) {
                // Not started (memory unreachable): the next start still owes the resume and the mailbox.
                if (resuming) this.needsResume.add(agentId);
                if (inherited && !this.mailboxes.has(agentId)) this.mailboxes.set(agentId, inherited);
                throw error;
              }
            },
          })
          .finally(() => this.starting.delete(agentId));
        this.starting.set(agentId, start);
      }
      return start;
    }
    throw errors.unavailable('AGENT_RESTARTING', `agent ${agentId} is restarting; retry`, 200);
  }

  /** Resident actors, busy ones, running turns and waiting messages, for the metrics gauges. */
  load(): AgentHostLoad {
    const load = { residentAgents: 0, activeAgents: 0, runningTurns: 0, mailboxDepth: 0, mailboxMaxDepth: 0 };
    for (const info of this.supervisor.which()) {
      const actor = this.supervisor.child<AgentActor>(info.id);
      if (!actor?.alive) continue;
      load.residentAgents += 1;
      const running = actor.runningTurns;
      if (running > 0) load.activeAgents += 1;
      load.runningTurns += running;
      load.mailboxDepth += actor.queuedMessages;
      load.mailboxMaxDepth = Math.max(load.mailboxMaxDepth, actor.queuedMessages);
    }
    return load;
  }

  markNeedsResume(agentIds: Iterable<string>): void {
    for (const id of agentIds) this.needsResume.add(id);
  }

  resident(agentId: string): AgentActor | undefined {
    const actor = this.supervisor.child<AgentActor>(agentId);
    return actor?.alive ? actor : undefined;
  }

  get residentCount(): number {
    return this.supervisor.which().filter((c) => c.status === 'running').length;
  }

  /** Hibernates every idle actor now (what the idle timer does one by one); returns how many. */
  hibernateIdle(): number {
    let count = 0;
    for (const info of this.supervisor.which()) {
      if (this.supervisor.child<AgentActor>(info.id)?.hibernateIfIdle()) count += 1;
    }
    return count;
  }

  isFailed(agentId: string): boolean {
    return this.failed.has(agentId);
  }

  /** A new definition: clears a give-up and reaches the running actor for its next turns. */
  definitionChanged(agentId: string, agent: Parameters<AgentActor['setDefinition']>[0]): void {
    this.failed.delete(agentId);
    this.resident(agentId)?.setDefinition(agent);
  }

  async remove(agentId: string): Promise<void> {
    this.failed.delete(agentId);
    await this.supervisor.terminateChild(agentId);
  }

  /**
   * Past the restart intensity because memory is unreachable: not the
   * agent's fault, and failing its turns would need memory too. Its turns and
   * mailbox are kept; it is started again (resuming them) every few seconds
   * until memory answers, and a new message starts it as well.
   */
  private waitOutOutage(agentId: string, reason: ExitReason): void {
    if (this.recovering.has(agentId) || this.stopped) return;
    this.ctx.log.warn({ agentId, err: reason.error }, 'agent actor stopped while memory is unreachable; it resumes its turns once memory is back');
    const mailbox = this.lastIncarnation.get(agentId)?.takeMailbox();
    if (mailbox && mailbox.size > 0) this.mailboxes.set(agentId, mailbox);
    this.needsResume.add(agentId);
    const deadline = Date.now() + OUTAGE_RECOVERY_MS;
    const attempt = () => {
      this.recovering.set(
        agentId,
        setTimeout(() => {
          void this.actorFor(agentId, true).then(
            () => this.recovering.delete(agentId),
            (error: unknown) => {
              this.recovering.delete(agentId);
              if (this.stopped || this.resident(agentId)) return;
              if (ElixirError.is(error, GrpcCode.UNAVAILABLE) && Date.now() < deadline) attempt();
              else this.ctx.log.error({ err: error, agentId }, 'agent could not be started again after an outage of memory; its next message starts it');
            },
          );
        }, OUTAGE_RETRY_MS),
      );
    };
    attempt();
  }

  /** Past the restart intensity: fail every unfinished turn and waiting message of the agent. */
  private async giveUp(agentId: string, reason: ExitReason): Promise<void> {
    const message = (reason.error as Error)?.message ?? 'crashed';
    this.failed.set(agentId, { at: new Date(), message });
    this.ctx.log.error({ agentId, err: reason.error }, 'agent actor exceeded its restart intensity; stopped');
    const mailbox = this.mailboxes.get(agentId) ?? this.lastIncarnation.get(agentId)?.takeMailbox() ?? (new Map() as Mailbox);
    this.mailboxes.delete(agentId);
    this.lastIncarnation.delete(agentId);
    const page = await this.ctx.memory.listState({ prefix: activeTurnPrefix(agentId), keysOnly: true, pageSize: 1000 });
    const threadIds = new Set([...page.entries.map((e) => e.key.slice(activeTurnPrefix(agentId).length)), ...mailbox.keys()]);
    const status = toRpcStatus(errors.failedPrecondition('AGENT_FAILED', `agent ${agentId} stopped after repeated crashes: ${message}`, { agentId }));
    for (const threadId of threadIds) {
      const loaded = await this.ctx.store.load(threadId);
      if (!loaded) continue;
      const existing = this.ctx.hub.get(threadId);
      const log = existing ?? this.ctx.hub.getOrCreate(threadId, resumeSequenceBase(loaded.record, this.ctx.options.resumeSequenceGap));
      const session = new ThreadSession(threadId, loaded.record, loaded.stateVersion, false, log, this.ctx.store);
      const turnIds = [...(loaded.record.activeTurn ? [loaded.record.activeTurn.turnId] : []), ...session.queue.map((q) => q.turnId), ...(mailbox.get(threadId) ?? []).map((q) => q.turnId)];
      session.queue = [];
      // Calls the model asked for get an answer, so the history stays one a model accepts.
      const cp = loaded.record.activeTurn;
      const answers = (cp?.pendingCalls ?? []).map((call) => ({
        id: `msg_${cp!.turnId}_t_${call.callId}`,
        threadId,
        role: Role.ROLE_TOOL,
        toolCallId: call.callId,
        name: call.name,
        toolResult: { error: { message: 'not run: the agent stopped after repeated crashes' } },
        content: 'error: not run: the agent stopped after repeated crashes',
        isError: true,
        turnId: cp!.turnId,
      }));
      await session.commit({
        messages: answers,
        activeIndex: 'delete',
        update: (r) => {
          if (r.activeTurn) r.lastTurn = { turnId: r.activeTurn.turnId, status: 'failed' };
          r.activeTurn = undefined;
        },
        stage: [...new Set(turnIds)].flatMap((turnId) => [
          { turnId, body: { $case: 'error' as const, error: { turnId, status } } },
          { turnId, body: { $case: 'turnCompleted' as const, turnCompleted: { turnId, status: TurnStatus.TURN_STATUS_FAILED } } },
        ]),
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.recovering.values()) clearTimeout(timer);
    this.recovering.clear();
    await this.supervisor.stop();
  }
}
