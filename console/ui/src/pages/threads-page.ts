import { useEffect, useState } from 'preact/hooks';
import { api, query, type ApiErrorBody } from '../api/gateway-api.js';
import { ErrorNotice, errorOf } from '../components/error-notice.js';
import { JsonView, shortEnum } from '../components/json-view.js';
import { html } from '../html.js';
import { href, navigate } from '../router.js';

const PAGE = 20;

/** Threads of an agent, and one thread's history (messages with their tool calls), a page at a time. */
export function ThreadsPage({ agentId, threadId }: { agentId?: string; threadId?: string }) {
  const [agents, setAgents] = useState<any[]>([]);
  const [threads, setThreads] = useState<any[]>([]);
  const [error, setError] = useState<ApiErrorBody | undefined>();
  useEffect(() => {
    api.get('/api/agents?pageSize=200').then((r) => setAgents(r.agents ?? []), (e) => setError(errorOf(e)));
  }, []);
  useEffect(() => {
    if (!agentId) return setThreads([]);
    api.get(`/api/threads${query({ agentId, pageSize: 100 })}`).then((r) => setThreads(r.threads ?? []), (e) => setError(errorOf(e)));
  }, [agentId]);
  return html`<section aria-labelledby="threads-title">
    <div class="toolbar">
      <h1 id="threads-title">Threads</h1>
      <label>Agent
        <select value=${agentId ?? ''} onChange=${(e: Event) => navigate('threads', (e.target as HTMLSelectElement).value)}>
          <option value="">Choose an agent…</option>
          ${agents.map((a) => html`<option value=${a.id}>${a.id}</option>`)}
        </select>
      </label>
    </div>
    <${ErrorNotice} error=${error} />
    <div class="split">
      <table class="list" aria-label="Threads">
        <thead><tr><th scope="col">Thread</th><th scope="col">Messages</th><th scope="col">Now</th></tr></thead>
        <tbody>
          ${threads.map((t) => html`<tr class=${t.threadId === threadId ? 'selected' : ''}>
            <td><a href=${href('threads', agentId!, t.threadId)}>${t.threadId}</a><div class="muted">${t.updateTime ? new Date(t.updateTime).toLocaleString() : ''}</div></td>
            <td>${t.messageCount ?? 0}</td>
            <td>${t.currentTurnId ? shortEnum(t.currentTurnStatus, 'TURN_STATUS_') : 'idle'}${t.pendingApprovals?.length ? ` · ${t.pendingApprovals.length} approval(s)` : ''}</td>
          </tr>`)}
          ${agentId && threads.length === 0 ? html`<tr><td colspan="3" class="muted">No threads.</td></tr>` : null}
        </tbody>
      </table>
      <div class="detail">${threadId ? html`<${ThreadHistory} key=${threadId} agentId=${agentId!} threadId=${threadId} />` : null}</div>
    </div>
  </section>`;
}

function ThreadHistory({ agentId, threadId }: { agentId: string; threadId: string }) {
  const [pages, setPages] = useState<string[]>(['']);
  const [data, setData] = useState<{ messages: any[]; nextPageToken?: string }>({ messages: [] });
  const [error, setError] = useState<ApiErrorBody | undefined>();
  const token = pages.at(-1)!;
  useEffect(() => {
    api.get(`/api/threads/${encodeURIComponent(threadId)}/messages${query({ pageSize: PAGE, pageToken: token })}`).then(
      (r) => setData({ messages: r.messages ?? [], nextPageToken: r.nextPageToken }),
      (e) => setError(errorOf(e)),
    );
  }, [threadId, token]);
  return html`<div>
    <div class="toolbar">
      <h2>${threadId}</h2>
      <a class="button" href=${href('chat', agentId, threadId)}>Open in chat</a>
    </div>
    <${ErrorNotice} error=${error} />
    <ol class="messages" aria-label="Messages">
      ${data.messages.map((m) => html`<li class=${`message ${String(m.role).toLowerCase()}`}>
        <div class="muted">#${m.sequence} · ${shortEnum(m.role, 'ROLE_')}${m.name ? ` · ${m.name}` : ''}${m.createTime ? ` · ${new Date(m.createTime).toLocaleString()}` : ''}</div>
        ${m.content && m.toolResult === undefined ? html`<div>${m.content}</div>` : null}
        ${m.toolCalls?.length ? html`<div class="muted">asked for tools:</div><${JsonView} value=${m.toolCalls} label="Tool calls" />` : null}
        ${m.toolResult !== undefined ? html`<div class=${m.isError ? 'error' : ''}>${m.isError ? 'failed:' : 'result:'}</div><${JsonView} value=${m.toolResult} label="Tool result" />` : null}
      </li>`)}
    </ol>
    <nav class="actions" aria-label="Pages">
      <button type="button" disabled=${pages.length === 1} onClick=${() => setPages(pages.slice(0, -1))}>Previous</button>
      <span class="muted">page ${pages.length}</span>
      <button type="button" disabled=${!data.nextPageToken} onClick=${() => setPages([...pages, data.nextPageToken!])}>Next</button>
    </nav>
  </div>`;
}
