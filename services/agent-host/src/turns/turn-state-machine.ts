import { createHash } from 'node:crypto';
import { TurnStatus, type Agent } from '@elixirchain/proto/agent';
import { Role, type Message } from '@elixirchain/proto/memory';
import type { Status } from '@elixirchain/proto/google/rpc/status';
import { ElixirError, GrpcCode, errors, toRpcStatus, type DeepPartial, type Logger } from '@elixirchain/runtime';
import type { ModelProvider, ModelToolSpec } from '../model/model-provider.js';
import { ModelError } from '../model/model-provider.js';
import type { ToolInfo, ToolRunner } from '../ports/tool-runner.js';
import type { MemoryPort } from '../ports/memory-port.js';
import { effectiveLimits, memoryNamespace, type EffectiveLimits } from '../agents/agent-limits.js';
import type { ThreadSession } from '../threads/thread-session.js';
import type { PendingCall, StreamedText, TurnCheckpoint } from '../threads/thread-record.js';
import { approvalReason } from '../approvals/approval-policy.js';
import { FencedError, TurnStop } from './turn-stop.js';
import { inSpan, SpanKind } from './turn-tracing.js';
import { invokeThroughSandboxRestarts } from './tool-call-retry.js';
import type { AgentHostMetrics } from '../metrics/agent-host-metrics.js';

export interface TurnDependencies {
  provider: () => ModelProvider;
  tools: ToolRunner;
  memory: MemoryPort;
  /** Manifests of the agent's tools that tool-sandbox knows. */
  loadToolInfos: () => Promise<Map<string, ToolInfo>>;
  log: Logger;
  metrics: AgentHostMetrics;
  /** Events per checkpoint-free stretch before the log is flushed anyway. */
  flushEveryEvents: number;
  flushEveryBytes: number;
}

const statusNames: Record<string, TurnStatus> = {
  cancel: TurnStatus.TURN_STATUS_CANCELLED,
  interrupt: TurnStatus.TURN_STATUS_INTERRUPTED,
  timeout: TurnStatus.TURN_STATUS_FAILED,
};

/** The memory service refuses a message over 1 MiB; stop the model before its answer gets there. */
export const MAX_ASSISTANT_BYTES = 1_000_000;

const ms = (value: number) => ({ seconds: Math.floor(value / 1000), nanos: Math.round((value % 1000) * 1e6) });

/**
 * One turn as a durable state machine: model call (streamed) → tool calls
 * (in parallel, each recorded with its result) → model again … → assistant
 * message. Every step is one checkpoint; run() can start from any of them,
 * which is how a turn resumes after a crash.
 */
export class TurnStateMachine {
  readonly controller = new AbortController();
  private readonly limits: EffectiveLimits;
  private partialText = '';
  private recalled: string | undefined;
  private readonly approvalWaiters = new Map<string, () => void>();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly userText: string;
  readonly turnId: string;
  private provider!: ModelProvider;
  private toolInfos = new Map<string, ToolInfo>();
  /** The model call being streamed, and while a resumed call replays its persisted prefix, that prefix. */
  private probeCall = 0;
  private replayingFrom: StreamedText | undefined;

  constructor(
    readonly agent: Agent,
    readonly session: ThreadSession,
    private readonly deps: TurnDependencies,
  ) {
    this.limits = effectiveLimits(agent);
    this.userText = session.record.activeTurn?.userText ?? '';
    this.turnId = session.record.activeTurn?.turnId ?? '';
  }


  private get checkpoint(): TurnCheckpoint {
    const cp = this.session.record.activeTurn;
    if (!cp) throw new Error(`thread ${this.session.threadId} has no active turn`);
    return cp;
  }

  private get signal(): AbortSignal {
    return this.controller.signal;
  }

  stop(reason: TurnStop): void {
    if (!this.signal.aborted) this.controller.abort(reason);
    for (const wake of this.approvalWaiters.values()) wake();
  }

  /** Wakes a call waiting for this approval (its new state is already in the record). */
  approvalResolved(approvalId: string): void {
    this.approvalWaiters.get(approvalId)?.();
  }

  /** Runs to the end of the turn. Throws only what the actor must handle: crashes and fencing. */
  async run(): Promise<void> {
    const remaining = this.checkpoint.deadlineAt - Date.now();
    this.deadlineTimer = setTimeout(() => this.stop(new TurnStop('timeout', `turn exceeded its timeout of ${this.limits.turnTimeoutMs} ms`)), Math.max(0, remaining));
    try {
      await inSpan('invoke_agent', { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': this.agent.id, 'elixirchain.thread.id': this.session.threadId, 'elixirchain.turn.id': this.turnId }, async () => {
        try {
          await this.loop();
        } catch (error) {
          await this.handleFailure(error);
        }
      });
    } finally {
      clearTimeout(this.deadlineTimer);
    }
  }

  private async handleFailure(error: unknown): Promise<void> {
    const reason = this.signal.aborted ? this.signal.reason : undefined;
    if (reason instanceof TurnStop) {
      if (!reason.finalizes) return;
      const status = statusNames[reason.kind];
      const failure = reason.kind === 'timeout' ? toRpcStatus(errors.deadlineExceeded(reason.message, 'TURN_TIMEOUT')) : undefined;
      await this.finalize(status, failure, reason.message);
      return;
    }
    if (error instanceof ElixirError && error.code === GrpcCode.ABORTED) throw new FencedError(this.session.threadId, error);
    if (error instanceof ModelError) {
      const code = error.httpStatus === 429 ? errors.resourceExhausted('MODEL_RATE_LIMITED', error.message, error.retryAfterMs ?? 1000) : errors.unavailable('MODEL_FAILED', error.message);
      await this.finalize(TurnStatus.TURN_STATUS_FAILED, toRpcStatus(code), error.message);
      return;
    }
    if (error instanceof ElixirError) {
      await this.finalize(TurnStatus.TURN_STATUS_FAILED, toRpcStatus(error), error.message);
      return;
    }
    // Anything else is a bug: let it crash; the supervisor restarts the actor from the last checkpoint.
    throw error;
  }

  private async loop(): Promise<void> {
    this.provider = this.deps.provider();
    this.toolInfos = await this.deps.loadToolInfos();
    await this.recall();
    for (;;) {
      this.signal.throwIfAborted();
      const cp = this.checkpoint;
      if (cp.pendingCalls.length > 0) {
        await Promise.all(
          cp.pendingCalls.map((call) => inSpan(`execute_tool ${call.name}`, { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': call.name, 'gen_ai.tool.call.id': call.callId }, () => this.runCall(call.callId))),
        );
        continue;
      }
      if (this.limits.maxTokensPerTurn > 0 && cp.inputTokens + cp.outputTokens >= this.limits.maxTokensPerTurn) {
        throw errors.resourceExhausted('TURN_TOKEN_LIMIT', `the turn used ${cp.inputTokens + cp.outputTokens} tokens, its limit is ${this.limits.maxTokensPerTurn}`, 0);
      }
      const budgetLeft = this.limits.maxToolCallsPerTurn - cp.toolCalls;
      const genAi = { 'gen_ai.operation.name': 'chat', 'gen_ai.system': this.provider.name, 'gen_ai.request.model': this.agent.model?.model ?? '' };
      const step = await inSpan(
        `chat ${this.agent.model?.model || this.provider.name}`,
        genAi,
        async (span) => {
          const started = performance.now();
          let errorType: string | undefined;
          try {
            const result = await this.modelStep(budgetLeft > 0);
            // GenAI semantic conventions: usage and finish reasons, never the prompt or the answer.
            span.setAttributes({
              'gen_ai.usage.input_tokens': result.usage.inputTokens,
              'gen_ai.usage.output_tokens': result.usage.outputTokens,
              'gen_ai.response.finish_reasons': result.finishReasons,
            });
            this.deps.metrics.modelTokens.record(result.usage.inputTokens, { ...genAi, 'gen_ai.token.type': 'input' });
            this.deps.metrics.modelTokens.record(result.usage.outputTokens, { ...genAi, 'gen_ai.token.type': 'output' });
            return result;
          } catch (error) {
            errorType = error instanceof ModelError ? String(error.httpStatus || 'model_error') : ((error as Error)?.name ?? 'error');
            throw error;
          } finally {
            this.deps.metrics.modelDuration.record((performance.now() - started) / 1000, errorType ? { ...genAi, 'error.type': errorType } : genAi);
          }
        },
        SpanKind.CLIENT,
      );
      if (step.calls.length === 0) {
        await this.complete(step.text, step.usage);
        return;
      }
      if (budgetLeft <= 0) {
        throw errors.resourceExhausted('TOOL_CALL_LIMIT', `the model kept calling tools after the limit of ${this.limits.maxToolCallsPerTurn} calls per turn`, 0);
      }
      await this.recordToolRequests(step.text, step.calls, step.usage);
    }
  }

  private async recall(): Promise<void> {
    const policy = this.agent.memoryPolicy;
    if (!policy?.recall || this.recalled !== undefined) return;
    const found = await this.deps.memory.searchMemories({
      namespace: memoryNamespace(this.agent),
      queryText: this.checkpoint.userText,
      topK: policy.recallTopK || 5,
      minScore: policy.recallMinScore,
    });
    this.recalled = found.results.map((r) => `- ${r.memory?.text ?? ''}`).join('\n');
  }

  private modelMessages(history: Message[]): Message[] {
    const limit = this.agent.memoryPolicy?.historyLimit ?? 0;
    let messages = limit > 0 ? history.slice(-limit) : history;
    // A window must not open on tool results whose request it cut off.
    while (messages.length > 0 && messages[0].role === Role.ROLE_TOOL) messages = messages.slice(1);
    if (this.recalled) {
      const note: Message = {
        id: '', threadId: this.session.threadId, sequence: 0, role: Role.ROLE_SYSTEM, content: `Relevant memories:\n${this.recalled}`,
        toolCalls: [], toolCallId: '', name: '', isError: false, turnId: this.turnId,
      };
      messages = [note, ...messages];
    }
    return messages;
  }

  private toolSpecs(): ModelToolSpec[] {
    return this.agent.tools
      .map((ref) => this.toolInfos.get(ref.name))
      .filter((info): info is ToolInfo => info !== undefined)
      .map((info) => ({ name: info.name, description: info.description, parameters: info.inputSchema }));
  }

  private async modelStep(offerTools: boolean) {
    const cp = this.checkpoint;
    const history = await this.session.ensureHistory();
    const model = this.agent.model;
    const calls: Array<{ id: string; name: string; arguments: Record<string, unknown> }> = [];
    const usage = { inputTokens: 0, outputTokens: 0 };
    const finishReasons: string[] = [];
    this.partialText = '';
    let bytes = 0;
    const log = this.session.log;
    const callIndex = cp.modelCalls;
    // Resuming a call whose answer was partly streamed (and persisted) before: replay its prefix silently.
    const resumeFrom = cp.streamed?.modelCall === callIndex ? cp.streamed : undefined;
    this.probeCall = callIndex;
    this.replayingFrom = resumeFrom;
    this.session.streamProbe = this;
    const stream = this.provider.stream(
      {
        model: model?.model ?? '',
        instructions: this.agent.instructions,
        messages: this.modelMessages(history),
        tools: offerTools ? this.toolSpecs() : [],
        temperature: model?.temperature,
        maxOutputTokens: model?.maxOutputTokens || undefined,
        parameters: model?.parameters,
        context: { agentId: this.agent.id, threadId: this.session.threadId, turnId: cp.turnId, callIndex: cp.modelCalls },
      },
      this.signal,
    );
    for await (const batch of stream) {
      for (const event of batch) {
        // Nothing is numbered once the turn is stopped: a drain has already persisted the log.
        this.signal.throwIfAborted();
        if (event.type === 'textDelta') {
          bytes += Buffer.byteLength(event.text);
          if (bytes > MAX_ASSISTANT_BYTES) throw errors.resourceExhausted('MODEL_OUTPUT_TOO_LARGE', `the model's answer exceeded ${MAX_ASSISTANT_BYTES} bytes`, 0);
          this.partialText += event.text;
          if (!this.replayingFrom) this.emitText(cp.turnId, event.text);
          else if (this.partialText.length >= this.replayingFrom.chars) this.endReplay(cp.turnId);
          else continue;
          if (log.unpersistedCount >= this.deps.flushEveryEvents || log.unpersistedSize >= this.deps.flushEveryBytes) await this.session.commit({});
          const room = log.waitForRoom();
          if (room) await room;
        } else if (event.type === 'toolCall') {
          calls.push({ id: event.id, name: event.name, arguments: event.arguments });
        } else if (event.type === 'usage') {
          usage.inputTokens += event.inputTokens;
          usage.outputTokens += event.outputTokens;
        } else if (event.type === 'finish') {
          finishReasons.push(event.reason);
        }
        this.signal.throwIfAborted();
      }
    }
    if (this.replayingFrom) this.endReplay(cp.turnId);
    return { text: this.partialText, calls, usage, finishReasons };
  }

  /**
   * How much of the current model answer the events being written hold (the thread session's stream
   * probe): while a resumed call replays its persisted prefix, that prefix; else what has streamed so far.
   */
  streamed(): StreamedText | undefined {
    if (this.replayingFrom) return this.replayingFrom;
    return this.partialText ? { modelCall: this.probeCall, chars: this.partialText.length, sha256: sha256(this.partialText) } : undefined;
  }

  private emitText(turnId: string, text: string): void {
    if (text) this.session.log.append(turnId, { $case: 'textDelta', textDelta: { text } });
  }

  /** Past the replayed prefix: send what follows it, or the whole answer if the model answered differently this time. */
  private endReplay(turnId: string): void {
    const resumeFrom = this.replayingFrom!;
    this.replayingFrom = undefined;
    const same = this.partialText.length >= resumeFrom.chars && sha256(this.partialText.slice(0, resumeFrom.chars)) === resumeFrom.sha256;
    if (!same) this.deps.log.warn({ threadId: this.session.threadId, turnId, modelCall: this.probeCall }, 'resumed model call answered differently; streaming its new answer in full');
    this.emitText(turnId, same ? this.partialText.slice(resumeFrom.chars) : this.partialText);
  }

  private messageId(suffix: string): string {
    return `msg_${this.turnId}_${suffix}`;
  }

  private usageOf(cp: TurnCheckpoint) {
    return {
      inputTokens: cp.inputTokens,
      outputTokens: cp.outputTokens,
      totalTokens: cp.inputTokens + cp.outputTokens,
      modelCalls: cp.modelCalls,
      toolCalls: cp.toolCalls,
    };
  }

  private async recordToolRequests(text: string, calls: Array<{ id: string; name: string; arguments: Record<string, unknown> }>, usage: { inputTokens: number; outputTokens: number }): Promise<void> {
    const cp = this.checkpoint;
    const budgetLeft = this.limits.maxToolCallsPerTurn - cp.toolCalls;
    const pending: PendingCall[] = calls.map((call, i) => {
      const ref = this.agent.tools.find((t) => t.name === call.name);
      const overBudget = i >= budgetLeft;
      const reason = ref && !overBudget ? approvalReason(this.agent, ref, this.toolInfos.get(call.name)) : undefined;
      return {
        callId: call.id,
        name: call.name,
        arguments: call.arguments,
        ...(overBudget ? { overBudget } : {}),
        ...(reason ? { approval: { approvalId: `appr_${this.turnId}_${cp.modelCalls}_${i}`, reason, state: 'pending' as const } } : {}),
      };
    });
    const message = this.assistantMessage(text, cp.modelCalls, calls);
    const stage = [
      ...pending.map((p) => ({
        turnId: this.turnId,
        body: { $case: 'toolCallStarted' as const, toolCallStarted: { callId: p.callId, toolName: p.name, toolVersion: this.toolInfos.get(p.name)?.version ?? '', arguments: p.arguments } },
      })),
      ...pending
        .filter((p) => p.approval)
        .map((p) => ({
          turnId: this.turnId,
          body: { $case: 'approvalRequired' as const, approvalRequired: { approvalId: p.approval!.approvalId, callId: p.callId, toolName: p.name, arguments: p.arguments, reason: p.approval!.reason } },
        })),
    ];
    this.partialText = '';
    await this.session.commit({
      messages: [message],
      update: (r) => {
        const t = r.activeTurn!;
        t.modelCalls += 1;
        t.inputTokens += usage.inputTokens;
        t.outputTokens += usage.outputTokens;
        t.pendingCalls = pending;
        if (pending.some((p) => p.approval?.state === 'pending')) t.status = 'awaiting_approval';
      },
      stage,
    });
  }

  private assistantMessage(text: string, index: number, calls: Array<{ id: string; name: string; arguments: Record<string, unknown> }> = [], metadata?: Record<string, unknown>): DeepPartial<Message> {
    return {
      id: this.messageId(`a${index}`),
      threadId: this.session.threadId,
      role: Role.ROLE_ASSISTANT,
      content: text,
      toolCalls: calls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })),
      turnId: this.turnId,
      ...(metadata ? { metadata } : {}),
    };
  }

  private waitForApproval(call: PendingCall): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        this.approvalWaiters.delete(call.approval!.approvalId);
        resolve();
      };
      this.approvalWaiters.set(call.approval!.approvalId, wake);
    });
  }

  private currentCall(callId: string): PendingCall | undefined {
    return this.session.record.activeTurn?.pendingCalls.find((c) => c.callId === callId);
  }

  private async runCall(callId: string): Promise<void> {
    let call = this.currentCall(callId);
    while (call?.approval?.state === 'pending') {
      await this.waitForApproval(call);
      this.signal.throwIfAborted();
      call = this.currentCall(callId);
    }
    if (!call) return;
    this.signal.throwIfAborted();
    const started = Date.now();
    let result: unknown;
    let failure: Status | undefined;
    let invoked = false;
    const ref = this.agent.tools.find((t) => t.name === call.name);
    if (call.approval?.state === 'denied') {
      failure = toRpcStatus(errors.permissionDenied('APPROVAL_DENIED', `a human denied ${call.name}${call.approval.note ? `: ${call.approval.note}` : ''}`));
    } else if (!ref) {
      failure = toRpcStatus(errors.notFound('tool', call.name));
    } else if (call.overBudget || this.checkpoint.toolCalls >= this.limits.maxToolCallsPerTurn) {
      failure = toRpcStatus(errors.resourceExhausted('TOOL_CALL_LIMIT', `limit of ${this.limits.maxToolCallsPerTurn} tool calls per turn reached`, 0));
    } else {
      invoked = true;
      try {
        const info = this.toolInfos.get(call.name);
        const outcome = await invokeThroughSandboxRestarts(
          this.deps.tools,
          {
            name: call.name,
            version: ref.versionRange,
            input: call.arguments,
            callId: call.callId,
            // A human approved this call knowing what it asks for: let it use the tool's own grant.
            ...(call.approval?.state === 'approved' ? {} : { grants: this.agent.permissions ?? { networkHosts: [], secrets: [] } }),
          },
          info?.idempotent === true || info?.readOnly === true,
          this.signal,
          (fraction, message) => !this.signal.aborted && this.session.log.append(this.turnId, { $case: 'toolCallProgress', toolCallProgress: { callId: call.callId, fraction, message } }),
          (attempt, message) => this.deps.log.warn({ tool: call.name, callId: call.callId, attempt, reason: message }, 'tool-sandbox unreachable during an idempotent tool call; calling it again'),
        );
        if (outcome.ok) result = outcome.output;
        else failure = outcome.status;
      } catch (error) {
        if (this.signal.aborted) throw this.signal.reason;
        // tool-sandbox being unreachable is reported to the model like any tool failure.
        failure = toRpcStatus(error);
      }
    }
    this.signal.throwIfAborted();
    const duration = Date.now() - started;
    const toolAttributes = { 'gen_ai.tool.name': call.name, ...(failure ? { 'error.type': GrpcCode[failure.code] ?? String(failure.code) } : {}) };
    if (invoked) this.deps.metrics.toolDuration.record(duration / 1000, toolAttributes);
    if (failure) this.deps.metrics.toolErrors.add(1, toolAttributes);
    const toolMessage: DeepPartial<Message> = {
      id: this.messageId(`t_${call.callId}`),
      threadId: this.session.threadId,
      role: Role.ROLE_TOOL,
      toolCallId: call.callId,
      name: call.name,
      toolResult: failure ? { error: { code: failure.code, message: failure.message } } : (result ?? null),
      content: failure ? `error: ${failure.message}` : JSON.stringify(result ?? null),
      isError: failure !== undefined,
      turnId: this.turnId,
    };
    await this.session.commit({
      messages: [toolMessage],
      update: (r) => {
        const t = r.activeTurn!;
        t.pendingCalls = t.pendingCalls.filter((c) => c.callId !== call.callId);
        if (invoked) t.toolCalls += 1;
        if (!t.pendingCalls.some((c) => c.approval?.state === 'pending')) t.status = 'running';
      },
      stage: [
        {
          turnId: this.turnId,
          body: {
            $case: 'toolCallCompleted',
            toolCallCompleted: { callId: call.callId, toolName: call.name, ...(failure ? { error: failure } : { result: result ?? null }), duration: ms(duration) },
          },
        },
      ],
    });
  }

  private async complete(text: string, usage: { inputTokens: number; outputTokens: number }): Promise<void> {
    const cp = this.checkpoint;
    const message = this.assistantMessage(text, cp.modelCalls);
    const finalUsage = { ...cp, modelCalls: cp.modelCalls + 1, inputTokens: cp.inputTokens + usage.inputTokens, outputTokens: cp.outputTokens + usage.outputTokens };
    const sequence = this.session.record.messageVersion + 1;
    await this.session.commit({
      messages: [message],
      activeIndex: 'delete',
      endsTurn: cp.turnId,
      update: (r) => {
        r.activeTurn = undefined;
        r.lastTurn = { turnId: cp.turnId, status: 'completed' };
      },
      stage: [
        { turnId: cp.turnId, body: { $case: 'messageCompleted', messageCompleted: { message: { ...message, sequence, createTime: new Date() } as Message } } },
        { turnId: cp.turnId, body: { $case: 'turnCompleted', turnCompleted: { turnId: cp.turnId, status: TurnStatus.TURN_STATUS_COMPLETED, usage: this.usageOf(finalUsage), duration: ms(Date.now() - cp.startedAt) } } },
      ],
    });
    this.recordTurn('completed', finalUsage);
    await this.writeBack(text);
  }

  /** Ends the turn without a model answer: cancelled, interrupted, timed out or failed. */
  private async finalize(status: TurnStatus, failure: Status | undefined, why: string): Promise<void> {
    const cp = this.session.record.activeTurn;
    if (!cp) return;
    const messages: DeepPartial<Message>[] = cp.pendingCalls.map((call) => ({
      id: this.messageId(`t_${call.callId}`),
      threadId: this.session.threadId,
      role: Role.ROLE_TOOL,
      toolCallId: call.callId,
      name: call.name,
      toolResult: { error: { message: `not run: ${why}` } },
      content: `error: not run: ${why}`,
      isError: true,
      turnId: cp.turnId,
    }));
    // Text the client already saw stays in the history, marked as cut short.
    if (this.partialText) messages.push(this.assistantMessage(this.partialText, cp.modelCalls, [], { incomplete: true, reason: why }));
    const label = TurnStatus[status].replace('TURN_STATUS_', '').toLowerCase();
    await this.session.commit({
      messages,
      activeIndex: 'delete',
      endsTurn: cp.turnId,
      update: (r) => {
        r.activeTurn = undefined;
        r.lastTurn = { turnId: cp.turnId, status: label };
      },
      stage: [
        ...(failure ? [{ turnId: cp.turnId, body: { $case: 'error' as const, error: { turnId: cp.turnId, status: failure } } }] : []),
        { turnId: cp.turnId, body: { $case: 'turnCompleted', turnCompleted: { turnId: cp.turnId, status, usage: this.usageOf(cp), duration: ms(Date.now() - cp.startedAt) } } },
      ],
    });
    this.recordTurn(label, cp);
  }

  private recordTurn(status: string, usage: { startedAt: number; inputTokens: number; outputTokens: number }): void {
    const m = this.deps.metrics;
    m.turnDuration.record((Date.now() - usage.startedAt) / 1000, { 'elixirchain.turn.status': status });
    m.turnTokens.add(usage.inputTokens, { 'gen_ai.token.type': 'input' });
    m.turnTokens.add(usage.outputTokens, { 'gen_ai.token.type': 'output' });
  }

  private async writeBack(answer: string): Promise<void> {
    if (!this.agent.memoryPolicy?.writeBack) return;
    const cp = { turnId: this.turnId };
    if (!cp.turnId) return;
    try {
      await this.deps.memory.upsertMemories({
        namespace: memoryNamespace(this.agent),
        requestId: `writeback:${cp.turnId}`,
        memories: [{ text: `User: ${this.userText}\nAssistant: ${answer}`, metadata: { threadId: this.session.threadId, turnId: cp.turnId, agentId: this.agent.id } }],
      });
    } catch (error) {
      // The turn is complete and durable; a lost memory is logged, not a failed turn.
      this.deps.log.warn({ err: error, threadId: this.session.threadId }, 'memory write-back failed');
    }
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
