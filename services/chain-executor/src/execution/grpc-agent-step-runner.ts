import { randomUUID } from 'node:crypto';
import { AgentServiceDefinition, TurnStatus } from '@elixirchain/proto/agent';
import { actingForTenant, connect, ElixirError, fromRpcStatus, GrpcCode, runDetached } from '@elixirchain/runtime';
import type { ServiceClient } from '@elixirchain/runtime';
import type { AgentInvocation, AgentStepRunner } from './step-runners.js';

/**
 * Agent steps through agent-host's SendMessage stream. The reply's text is
 * the step's output; text deltas pass through as step progress. Aborting
 * the step calls CancelTurn for the turn (so the agent stops working, not
 * just streaming to us) and then drops the stream.
 */
export class GrpcAgentStepRunner implements AgentStepRunner {
  readonly client: ServiceClient<typeof AgentServiceDefinition>;

  /** Set for a tenant's runner: agent-host runs the turn in that tenant. */
  private readonly metadata: Record<string, string> | undefined;
  private readonly owner: boolean;

  constructor(address: string | ServiceClient<typeof AgentServiceDefinition>, tenant?: string) {
    this.owner = typeof address === 'string';
    this.client = typeof address === 'string' ? connect(AgentServiceDefinition, address) : address;
    this.metadata = tenant ? actingForTenant('chain-executor', tenant) : undefined;
  }

  forTenant(tenant: string): GrpcAgentStepRunner {
    return new GrpcAgentStepRunner(this.client, tenant);
  }

  async send(call: AgentInvocation): Promise<string> {
    const streamAbort = new AbortController();
    let turnId = '';
    let threadId = call.threadId;
    const onAbort = () => {
      // Cancel the turn first, then the stream; CancelTurn must not inherit a dying call's deadline.
      void runDetached(() =>
        this.client
          .cancelTurn({ threadId, turnId, reason: 'chain step cancelled', requestId: randomUUID() }, { timeoutMs: 10_000, metadata: this.metadata })
          .catch(() => undefined)
          .finally(() => streamAbort.abort(call.signal.reason)),
      );
    };
    if (call.signal.aborted) throw call.signal.reason;
    call.signal.addEventListener('abort', onAbort, { once: true });
    let text = '';
    let finalText: string | undefined;
    try {
      const stream = this.client.sendMessage(
        { agentId: call.agentId, threadId: call.threadId, content: call.message, requestId: call.requestId },
        { signal: streamAbort.signal, metadata: this.metadata },
      );
      for await (const message of stream) {
        const event = message.event;
        if (!event?.event) continue;
        if (event.threadId) threadId = event.threadId;
        if (event.turnId && !turnId) turnId = event.turnId;
        const e = event.event;
        switch (e.$case) {
          case 'turnStarted':
            turnId = e.turnStarted.turnId;
            break;
          case 'textDelta':
            text += e.textDelta.text;
            call.onTextDelta(e.textDelta.text);
            break;
          case 'messageCompleted':
            if (e.messageCompleted.message?.role === 3) finalText = e.messageCompleted.message.content;
            break;
          case 'approvalRequired':
            call.onAwaitingApproval?.(true, `agent ${call.agentId} waits for approval of ${e.approvalRequired.toolName}: ${e.approvalRequired.reason}`);
            break;
          case 'approvalResolved':
            call.onAwaitingApproval?.(false, '');
            break;
          case 'error':
            throw e.error.status ? fromRpcStatus(e.error.status) : new ElixirError(GrpcCode.INTERNAL, 'TURN_FAILED', 'the agent turn failed');
          case 'turnCompleted': {
            const status = e.turnCompleted.status;
            if (status === TurnStatus.TURN_STATUS_COMPLETED) return finalText ?? text;
            if (status === TurnStatus.TURN_STATUS_CANCELLED || status === TurnStatus.TURN_STATUS_INTERRUPTED) {
              throw call.signal.aborted ? call.signal.reason : new ElixirError(GrpcCode.CANCELLED, 'TURN_CANCELLED', `the agent turn was ${TurnStatus[status]}`);
            }
            throw new ElixirError(GrpcCode.ABORTED, 'TURN_FAILED', `the agent turn ended ${TurnStatus[status]}`);
          }
          default:
            break;
        }
      }
      if (call.signal.aborted) throw call.signal.reason;
      // Some hosts end the stream after the final message without turn_completed.
      if (finalText !== undefined) return finalText;
      throw new ElixirError(GrpcCode.UNAVAILABLE, 'TURN_STREAM_ENDED', `agent ${call.agentId}: the stream ended before the turn completed`);
    } catch (error) {
      if (call.signal.aborted) throw call.signal.reason;
      throw error;
    } finally {
      call.signal.removeEventListener('abort', onAbort);
    }
  }

  async exists(agentId: string): Promise<boolean | undefined> {
    try {
      await this.client.getAgent({ id: agentId, version: 0 }, { metadata: this.metadata });
      return true;
    } catch (error) {
      if (error instanceof ElixirError && error.code === GrpcCode.NOT_FOUND) return false;
      return undefined;
    }
  }

  close(): void {
    if (this.owner) this.client.close();
  }
}
