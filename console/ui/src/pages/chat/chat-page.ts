import { useEffect, useReducer, useRef, useState } from 'preact/hooks';
import { api, postStream, watchStream, type ApiErrorBody } from '../../api/gateway-api.js';
import { ErrorNotice, errorOf } from '../../components/error-notice.js';
import { formatDuration, JsonView, shortEnum } from '../../components/json-view.js';
import { TraceLink } from '../../components/trace-link.js';
import { html } from '../../html.js';
import { navigate } from '../../router.js';
import { emptyThread, threadReducer, turnIsFinal, type ApprovalView, type ToolCallView, type TurnView } from './thread-state.js';

const ON_BUSY = [
  { value: 'ON_BUSY_QUEUE', label: 'Queue after the running turn' },
  { value: 'ON_BUSY_REJECT', label: 'Reject while busy' },
  { value: 'ON_BUSY_INTERRUPT', label: 'Interrupt the running turn' },
];

/**
 * Chat with an agent. Sending streams the turn (POST, SSE); a thread in the
 * URL is re-attached with WatchThread from sequence 0, so a reload mid-turn
 * replays what was shown and follows the rest.
 */
export function ChatPage({ agentId, threadId }: { agentId?: string; threadId?: string }) {
  const [agents, setAgents] = useState<{ id: string; displayName?: string }[]>([]);
  const [state, dispatch] = useReducer(threadReducer, emptyThread(threadId));
  const [draft, setDraft] = useState('');
  const [onBusy, setOnBusy] = useState('ON_BUSY_QUEUE');
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const [streaming, setStreaming] = useState(false);
  const [attached, setAttached] = useState<'live' | 'replaying' | 'idle'>('idle');
  const sentTexts = useRef<string[]>([]);
  const userTexts = useRef(new Map<string, string>());
  const transcriptEnd = useRef<HTMLDivElement>(null);
  const latest = useRef(state);
  latest.current = state;
  const followers = useRef<(() => void)[]>([]);
  useEffect(() => () => followers.current.forEach((close) => close()), []);

  useEffect(() => {
    api.get('/api/agents?pageSize=200').then((r) => setAgents(r.agents ?? []), (e) => setError(errorOf(e)));
  }, []);

  // A thread in the URL: load its user messages (events carry only their ids) and re-attach to its events.
  useEffect(() => {
    dispatch({ type: 'reset', threadId });
    if (!threadId) return;
    let closed = false;
    let close = () => {};
    const lookup = (_turn: string, messageId?: string) => (messageId ? userTexts.current.get(messageId) : undefined);
    api
      .get(`/api/threads/${encodeURIComponent(threadId)}/messages?pageSize=500`)
      .then((r) => {
        for (const m of r.messages ?? []) if (m.role === 'ROLE_USER') userTexts.current.set(m.id, m.content);
        dispatch({ type: 'userTexts', userText: lookup });
      })
      .catch(() => {});
    setAttached('replaying');
    close = watchStream(`/api/threads/${encodeURIComponent(threadId)}/events?afterSequence=0`, {
      onEvent: (event) => !closed && dispatch({ type: 'event', event, userText: lookup }),
      onEnd: () => setAttached('idle'),
      onError: (e) => {
        setAttached('idle');
        setError(e);
      },
    });
    return () => {
      closed = true;
      close();
    };
  }, [threadId]);

  useEffect(() => transcriptEnd.current?.scrollIntoView?.({ block: 'end' }), [state.lastSequence]);

  const running = state.turns.find((t) => !turnIsFinal(t));

  async function send(event: Event) {
    event.preventDefault();
    const content = draft.trim();
    if (!agentId || !content) return;
    setError(undefined);
    setDraft('');
    sentTexts.current.push(content);
    setStreaming(true);
    let firstThread: string | undefined;
    const claimText = () => sentTexts.current.shift();
    await postStream(
      `/api/agents/${encodeURIComponent(agentId)}/messages`,
      { content, threadId: state.threadId ?? '', onBusy },
      {
        onEvent: (e) => {
          if (!firstThread && e.threadId) {
            firstThread = e.threadId;
            // Put the thread in the URL so a reload re-attaches (replace: the back button stays useful).
            if (e.threadId !== threadId) history.replaceState(null, '', `#/chat/${encodeURIComponent(agentId)}/${encodeURIComponent(e.threadId)}`);
          }
          dispatch({ type: 'event', event: e, userText: claimText });
        },
        onError: (e) => setError(e),
      },
    ).catch((e) => setError(errorOf(e)));
    setStreaming(false);
    // The stream broke before the turn finished (network, a restarting agent-host): follow the rest with WatchThread.
    const now = latest.current;
    const thread = now.threadId ?? firstThread;
    if (thread && now.turns.some((t) => !turnIsFinal(t))) {
      followers.current.push(
        watchStream(`/api/threads/${encodeURIComponent(thread)}/events?afterSequence=${now.lastSequence}`, {
          onEvent: (e) => dispatch({ type: 'event', event: e }),
          onError: (e) => setError(e),
        }),
      );
    }
  }

  async function cancel() {
    if (!state.threadId) return;
    try {
      await api.post(`/api/threads/${encodeURIComponent(state.threadId)}/cancel`, { reason: 'cancelled from the console' });
    } catch (e) {
      setError(errorOf(e));
    }
  }

  async function resolve(approval: ApprovalView, approve: boolean) {
    try {
      await api.post(`/api/threads/${encodeURIComponent(state.threadId!)}/approvals/${encodeURIComponent(approval.approvalId)}`, {
        approve,
        reason: approve ? '' : 'denied from the console',
      });
    } catch (e) {
      setError(errorOf(e));
    }
  }

  return html`<section aria-labelledby="chat-title" class="chat">
    <div class="toolbar">
      <h1 id="chat-title">Chat</h1>
      <label>Agent
        <select value=${agentId ?? ''} onChange=${(e: Event) => navigate('chat', (e.target as HTMLSelectElement).value)}>
          <option value="">Choose an agent…</option>
          ${agents.map((a) => html`<option value=${a.id}>${a.displayName ? `${a.displayName} (${a.id})` : a.id}</option>`)}
        </select>
      </label>
      <label>When busy
        <select value=${onBusy} onChange=${(e: Event) => setOnBusy((e.target as HTMLSelectElement).value)}>
          ${ON_BUSY.map((o) => html`<option value=${o.value}>${o.label}</option>`)}
        </select>
      </label>
      ${agentId ? html`<button type="button" onClick=${() => {
        dispatch({ type: 'reset' });
        navigate('chat', agentId);
      }}>New thread</button>` : null}
    </div>
    <p class="muted" data-testid="thread-info">
      ${state.threadId ? html`Thread <code>${state.threadId}</code> · last event #${state.lastSequence}` : 'A new thread starts with your first message.'}
      ${attached === 'replaying' ? ' · re-attached, following' : ''}
    </p>
    <${ErrorNotice} error=${error} />
    <div class="transcript" role="log" aria-live="polite" aria-label="Conversation">
      ${state.turns.map((t) => html`<${TurnBlock} turn=${t} onResolve=${resolve} />`)}
      <div ref=${transcriptEnd}></div>
    </div>
    <form class="composer" onSubmit=${send}>
      <label for="chat-message">Message</label>
      <textarea
        id="chat-message"
        rows="3"
        value=${draft}
        placeholder=${agentId ? 'Write a message (Ctrl+Enter sends)' : 'Choose an agent first'}
        disabled=${!agentId}
        onInput=${(e: Event) => setDraft((e.target as HTMLTextAreaElement).value)}
        onKeyDown=${(e: KeyboardEvent) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void send(e);
        }}
      ></textarea>
      <div class="actions">
        <button type="submit" class="primary" disabled=${!agentId || !draft.trim()}>Send</button>
        <button type="button" onClick=${cancel} disabled=${!running}>Cancel turn</button>
        ${streaming ? html`<span class="muted" role="status">streaming…</span>` : null}
      </div>
    </form>
  </section>`;
}

function TurnBlock({ turn, onResolve }: { turn: TurnView; onResolve: (a: ApprovalView, approve: boolean) => void }) {
  return html`<article class="turn" data-turn=${turn.turnId} data-status=${turn.status}>
    ${turn.userText !== undefined ? html`<div class="bubble user"><span class="who">You</span>${turn.userText}</div>` : null}
    ${turn.parts.map((part) => {
      if (part.kind === 'text') return html`<div class="bubble assistant" data-testid="assistant-text"><span class="who">Agent</span>${part.text}</div>`;
      if (part.kind === 'tool') {
        const call = turn.tools.find((t) => t.callId === part.callId);
        return call ? html`<${ToolCallCard} call=${call} />` : null;
      }
      const approval = turn.approvals.find((a) => a.approvalId === part.approvalId);
      return approval ? html`<${ApprovalCard} approval=${approval} onResolve=${onResolve} />` : null;
    })}
    <div class="turn-status">
      <span class=${`badge ${shortEnum(turn.status, 'TURN_STATUS_').replace(/ /g, '_')}`}>${shortEnum(turn.status, 'TURN_STATUS_')}</span>
      ${turn.queuePosition ? html` · position ${turn.queuePosition} in queue` : null}
      ${turn.duration ? html` · ${formatDuration(turn.duration)}` : null}
      ${turn.usage?.totalTokens ? html` · ${turn.usage.totalTokens} tokens` : null}
      <${TraceLink} traceId=${turn.traceId} what="this turn" />
    </div>
    ${turn.error ? html`<div class="error" role="alert">${turn.error.message ?? 'turn failed'}</div>` : null}
  </article>`;
}

function ToolCallCard({ call }: { call: ToolCallView }) {
  return html`<details class="tool-call" open data-tool=${call.toolName} data-done=${call.done ? 'yes' : 'no'}>
    <summary>
      Tool <strong>${call.toolName}</strong>${call.toolVersion ? html` <span class="muted">@${call.toolVersion}</span>` : null}
      ${call.done ? (call.error ? html` <span class="badge failed">failed</span>` : html` <span class="badge completed">done</span>`) : html` <span class="badge running">running</span>`}
      ${call.duration ? html` <span class="muted">${formatDuration(call.duration)}</span>` : null}
    </summary>
    <div class="muted">Arguments</div>
    <${JsonView} value=${call.arguments ?? {}} label="Tool arguments" />
    ${call.progress && !call.done
      ? html`<progress max="1" value=${call.progress.fraction >= 0 ? call.progress.fraction : undefined} aria-label="Tool progress"></progress> <span>${call.progress.message}</span>`
      : null}
    ${call.done && !call.error ? html`<div class="muted">Result</div><${JsonView} value=${call.result ?? null} label="Tool result" />` : null}
    ${call.error ? html`<div class="error">${call.error.message}</div>` : null}
  </details>`;
}

function ApprovalCard({ approval, onResolve }: { approval: ApprovalView; onResolve: (a: ApprovalView, approve: boolean) => void }) {
  return html`<div class="approval" role="group" aria-label=${`Approval for ${approval.toolName}`}>
    <div><strong>Approval needed:</strong> run <code>${approval.toolName}</code>${approval.reason ? html` — ${approval.reason}` : null}</div>
    <${JsonView} value=${approval.arguments ?? {}} label="Arguments to approve" />
    ${approval.resolved
      ? html`<div class=${approval.resolved.approved ? 'ok' : 'error'}>${approval.resolved.approved ? 'Approved' : 'Denied'}</div>`
      : html`<div class="actions">
          <button type="button" class="primary" onClick=${() => onResolve(approval, true)}>Approve</button>
          <button type="button" onClick=${() => onResolve(approval, false)}>Deny</button>
        </div>`}
  </div>`;
}
