import { OnBusy, TurnStatus, type ApprovalRequired, type ThreadEvent } from '@elixirchain/proto/agent';
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
    error?: {
        code: number;
        message: string;
    };
    lastSequence: number;
}
/**
 * Sends one message and follows its turn to the end. When the stream breaks
 * it re-attaches: SendMessage again with the same request_id until the first
 * event arrives (the service dedupes it), then WatchThread after the last
 * sequence seen, so no event is shown twice and none is missed.
 */
export declare function runTurn(agents: AgentClient, request: TurnRequest, handlers: TurnHandlers, signal?: AbortSignal): Promise<TurnOutcome>;
