/** A thread as the chat page shows it, rebuilt from the thread's events (the services' own record). */
export interface ToolCallView {
  callId: string;
  toolName: string;
  toolVersion?: string;
  arguments?: unknown;
  progress?: { fraction: number; message: string };
  result?: unknown;
  error?: { code?: number; message?: string };
  duration?: string;
  done: boolean;
}

export interface ApprovalView {
  approvalId: string;
  callId: string;
  toolName: string;
  arguments?: unknown;
  reason?: string;
  resolved?: { approved: boolean; reason?: string };
}

/** What the turn showed, in the order it happened: text runs between tool calls and approvals. */
export type TurnPart = { kind: 'text'; text: string } | { kind: 'tool'; callId: string } | { kind: 'approval'; approvalId: string };

export interface TurnView {
  turnId: string;
  /** Highest event sequence applied to this turn: a second stream of the same turn (re-attach, queued send) repeats nothing. */
  lastSequence: number;
  parts: TurnPart[];
  userMessageId?: string;
  /** The turn's trace (set when the mesh traces): the chat links to it in Jaeger. */
  traceId?: string;
  userText?: string;
  text: string;
  tools: ToolCallView[];
  approvals: ApprovalView[];
  status: string;
  queuePosition?: number;
  error?: { code?: number; message?: string };
  usage?: { totalTokens?: number; modelCalls?: number; toolCalls?: number };
  duration?: string;
}

export interface ThreadState {
  threadId?: string;
  lastSequence: number;
  turns: TurnView[];
}

export const emptyThread = (threadId?: string): ThreadState => ({ threadId, lastSequence: 0, turns: [] });

export type UserTextLookup = (turnId: string, userMessageId?: string) => string | undefined;

export type ThreadAction = { type: 'event'; event: any; userText?: UserTextLookup } | { type: 'reset'; threadId?: string } | { type: 'userTexts'; userText: UserTextLookup };

const FINAL = ['TURN_STATUS_COMPLETED', 'TURN_STATUS_FAILED', 'TURN_STATUS_CANCELLED', 'TURN_STATUS_INTERRUPTED'];
export const turnIsFinal = (t: TurnView) => FINAL.includes(t.status);

/**
 * Applies one ThreadEvent (proto3 JSON). Each turn's events arrive in order on
 * whichever stream carries them; one at or below the turn's last applied
 * sequence was already applied and is dropped. (Per turn, not per thread: a
 * queued message's stream may run ahead of the running turn's.)
 */
export function threadReducer(state: ThreadState, action: ThreadAction): ThreadState {
  if (action.type === 'reset') return emptyThread(action.threadId);
  if (action.type === 'userTexts') {
    return { ...state, turns: state.turns.map((t) => (t.userText ? t : { ...t, userText: action.userText(t.turnId, t.userMessageId) })) };
  }
  const e = action.event;
  const sequence = Number(e.sequence ?? 0);
  const turns = [...state.turns];
  const turnId: string = e.turnId || e.turnQueued?.turnId || e.turnStarted?.turnId || '';
  let index = turns.findIndex((t) => t.turnId === turnId);
  if (index < 0) {
    turns.push({ turnId, lastSequence: 0, parts: [], text: '', tools: [], approvals: [], status: 'TURN_STATUS_QUEUED', userText: action.userText?.(turnId, e.turnStarted?.userMessageId) });
    index = turns.length - 1;
  }
  if (sequence && sequence <= turns[index]!.lastSequence) return state;
  const turn: TurnView = { ...turns[index]!, lastSequence: Math.max(turns[index]!.lastSequence, sequence), parts: [...turns[index]!.parts], tools: [...turns[index]!.tools], approvals: [...turns[index]!.approvals] };
  const updateTool = (callId: string, patch: Partial<ToolCallView>) => {
    const i = turn.tools.findIndex((t) => t.callId === callId);
    if (i < 0) {
      turn.tools.push({ callId, toolName: patch.toolName ?? '', done: false, ...patch });
      turn.parts.push({ kind: 'tool', callId });
    }
    else turn.tools[i] = { ...turn.tools[i]!, ...patch };
  };
  if (e.turnQueued) {
    turn.queuePosition = e.turnQueued.position;
  } else if (e.turnStarted) {
    turn.status = 'TURN_STATUS_RUNNING';
    turn.userMessageId = e.turnStarted.userMessageId;
    if (e.turnStarted.traceId) turn.traceId = e.turnStarted.traceId;
    turn.userText ??= action.userText?.(turnId, e.turnStarted.userMessageId);
  } else if (e.textDelta) {
    const delta: string = e.textDelta.text ?? '';
    turn.text += delta;
    const last = turn.parts.at(-1);
    if (last?.kind === 'text') turn.parts[turn.parts.length - 1] = { kind: 'text', text: last.text + delta };
    else turn.parts.push({ kind: 'text', text: delta });
  } else if (e.toolCallStarted) {
    const s = e.toolCallStarted;
    updateTool(s.callId, { toolName: s.toolName, toolVersion: s.toolVersion, arguments: s.arguments });
  } else if (e.toolCallProgress) {
    updateTool(e.toolCallProgress.callId, { progress: { fraction: e.toolCallProgress.fraction ?? 0, message: e.toolCallProgress.message ?? '' } });
  } else if (e.toolCallCompleted) {
    const c = e.toolCallCompleted;
    updateTool(c.callId, { toolName: c.toolName, result: c.result, error: c.error, duration: c.duration, done: true });
  } else if (e.approvalRequired) {
    const a = e.approvalRequired;
    turn.status = 'TURN_STATUS_AWAITING_APPROVAL';
    turn.parts.push({ kind: 'approval', approvalId: a.approvalId });
    turn.approvals.push({ approvalId: a.approvalId, callId: a.callId, toolName: a.toolName, arguments: a.arguments, reason: a.reason });
  } else if (e.approvalResolved) {
    const r = e.approvalResolved;
    turn.status = 'TURN_STATUS_RUNNING';
    turn.approvals = turn.approvals.map((a) => (a.approvalId === r.approvalId ? { ...a, resolved: { approved: !!r.approved, reason: r.reason } } : a));
  } else if (e.turnCompleted) {
    turn.status = e.turnCompleted.status;
    turn.usage = e.turnCompleted.usage;
    turn.duration = e.turnCompleted.duration;
  } else if (e.error) {
    turn.status = 'TURN_STATUS_FAILED';
    turn.error = e.error.status;
  }
  turns[index] = turn;
  return { threadId: state.threadId ?? e.threadId, lastSequence: Math.max(state.lastSequence, sequence), turns };
}
