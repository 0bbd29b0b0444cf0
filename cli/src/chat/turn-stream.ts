import { randomUUID } from 'node:crypto';
import { OnBusy, TurnStatus, type ApprovalRequired, type ThreadEvent } from '@elixirchain/proto/agent';
import { ElixirError, GrpcCode } from '@elixirchain/runtime';
import type { AgentClient } from '../mesh/mesh-clients.js';

export interface TurnRequest {
  agentId: string;
  /** Empty starts a new thread; the first event names it. */
  threadId?: string;
  content: string;
  onBusy?: OnBusy;
}

export interface ApprovalDecision {
  approve: boolean;
  reason?: string;
}

export interface TurnHandlers {
  onEvent(event: ThreadEvent): void;
  approve(request: ApprovalRequired): Promise<ApprovalDecision>;
  /** The stream broke (agent-host restarting or draining); the turn is being re-attached. */
  onReconnect?(error: unknown, attempt: number): void;
}

export interface TurnOutcome {
  threadId: string;
  turnId: string;
  status: TurnStatus;
  /** The turn's error event, when it failed. */
  error?: { code: number; message: string };
  lastSequence: number;
}

/** How long a turn may stay unreachable (agent-host restarting) before the CLI gives up. */
const REATTACH_WINDOW_MS = 60_000;

/**
 * Sends one message and follows its turn to the end. When the stream breaks
 * it re-attaches: SendMessage again with the same request_id until the first
 * event arrives (the service dedupes it), then WatchThread after the last
 * sequence seen, so no event is shown twice and none is missed.
 */
export async function runTurn(agents: AgentClient, request: TurnRequest, handlers: TurnHandlers, signal?: AbortSignal): Promise<TurnOutcome> {
  const requestId = randomUUID();
  let threadId = request.threadId ?? '';
  let turnId = '';
  let lastSequence = 0;
  let error: TurnOutcome['error'];
  let attempt = 0;
  let brokenSince = 0;
  for (;;) {
    const stream =
      lastSequence > 0
        ? agents.watchThread({ threadId, afterSequence: lastSequence, follow: true }, { signal })
        : agents.sendMessage({ agentId: request.agentId, threadId, content: request.content, onBusy: request.onBusy ?? OnBusy.ON_BUSY_QUEUE, requestId }, { signal });
    try {
      for await (const response of stream) {
        const event = response.event;
        if (!event || event.sequence <= lastSequence) continue;
        lastSequence = event.sequence;
        brokenSince = 0;
        threadId ||= event.threadId;
        turnId ||= event.turnId;
        if (event.turnId && event.turnId !== turnId) continue;
        handlers.onEvent(event);
        const body = event.event;
        if (body?.$case === 'approvalRequired') {
          const decision = await handlers.approve(body.approvalRequired);
          await agents
            .resolveApproval({ threadId, approvalId: body.approvalRequired.approvalId, approve: decision.approve, reason: decision.reason ?? '', requestId: randomUUID() }, { signal })
            .catch((err: unknown) => {
              // Replayed after a re-attach: someone already resolved it.
              if (!ElixirError.is(err, GrpcCode.FAILED_PRECONDITION) && !ElixirError.is(err, GrpcCode.NOT_FOUND)) throw err;
            });
        }
        if (body?.$case === 'error') error = { code: body.error.status?.code ?? GrpcCode.UNKNOWN, message: body.error.status?.message ?? '' };
        if (body?.$case === 'turnCompleted') {
          stream.cancel();
          return { threadId, turnId, status: body.turnCompleted.status, error, lastSequence };
        }
      }
      // The stream ended before the turn did (a drain ends streams): re-attach.
      throw new ElixirError(GrpcCode.UNAVAILABLE, 'STREAM_ENDED', 'the event stream ended before the turn completed');
    } catch (err) {
      if (signal?.aborted || !isReattachable(err)) throw err;
      brokenSince ||= Date.now();
      if (Date.now() - brokenSince > REATTACH_WINDOW_MS) throw err;
      attempt += 1;
      handlers.onReconnect?.(err, attempt);
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** Math.min(attempt, 5))));
    }
  }
}

function isReattachable(err: unknown): boolean {
  if (!(err instanceof ElixirError)) return false;
  if (err.code === GrpcCode.UNAVAILABLE) return true;
  // A peer killed mid-stream can surface as an HTTP/2 reset rather than UNAVAILABLE.
  return err.code === GrpcCode.INTERNAL && /RST_STREAM|connection|socket/i.test(err.message);
}
