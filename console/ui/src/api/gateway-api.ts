/** What the gateway answers for a failed call: the service's gRPC status as JSON. */
export interface ApiErrorBody {
  code: number;
  codeName: string;
  reason: string;
  message: string;
  fieldViolations: { field: string; description: string }[];
  retryAfterMs?: number;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly body: ApiErrorBody) {
    super(`${body.codeName}: ${body.message}`);
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: { ...authHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(response.status, unknownError(text.slice(0, 200) || response.statusText));
  }
  if (!response.ok) throw new ApiError(response.status, parsed.error ?? unknownError(text || response.statusText));
  return parsed as T;
}

export const api = {
  get: <T = any>(path: string) => request<T>('GET', path),
  post: <T = any>(path: string, body: unknown = {}) => request<T>('POST', path, body),
  patch: <T = any>(path: string, body: unknown) => request<T>('PATCH', path, body),
  delete: <T = any>(path: string) => request<T>('DELETE', path),
};

export function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export interface StreamHandlers {
  onEvent(data: any): void;
  onError?(error: ApiErrorBody): void;
  onEnd?(): void;
}

interface ParsedEvent {
  id?: string;
  event: string;
  data: any;
}

const unknownError = (message: string): ApiErrorBody => ({ code: 2, codeName: 'UNKNOWN', reason: '', message, fieldViolations: [] });

async function errorFromResponse(response: Response): Promise<ApiErrorBody> {
  const parsed = await response.json().catch(() => ({}));
  return parsed.error ?? unknownError(`${response.status} ${response.statusText}`);
}

/** Splits a text/event-stream body into events. */
async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ParsedEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let boundary: number;
      while ((boundary = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        let event = 'message';
        let id: string | undefined;
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('id:')) id = line.slice(3).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length) yield { id, event, data: JSON.parse(data.join('\n')) };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** POST that answers with Server-Sent Events (SendMessage, RunChain, InvokeTool). */
export async function postStream(path: string, body: unknown, handlers: StreamHandlers, signal?: AbortSignal): Promise<void> {
  const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders() }, body: JSON.stringify(body), signal });
  if (!response.ok || !response.body) {
    handlers.onError?.(await errorFromResponse(response));
    return;
  }
  for await (const e of readEvents(response.body)) {
    if (e.event === 'error') handlers.onError?.(e.data.error);
    else if (e.event === 'end') handlers.onEnd?.();
    else handlers.onEvent(e.data);
  }
}

/**
 * Follows a GET event stream (WatchThread, WatchRun). A connection that drops
 * before `end` is re-opened with Last-Event-ID (as EventSource would, but with
 * the API key header EventSource cannot send), and the gateway resumes after
 * that sequence. Returns a function that stops it.
 */
export function watchStream(path: string, handlers: StreamHandlers): () => void {
  const abort = new AbortController();
  let lastEventId: string | undefined;
  void (async () => {
    for (let attempt = 0; !abort.signal.aborted; attempt++) {
      try {
        const response = await fetch(path, { headers: { ...authHeaders(), ...(lastEventId ? { 'last-event-id': lastEventId } : {}) }, signal: abort.signal });
        if (!response.ok || !response.body) {
          // 503 (a service restarting) is worth another try; anything else is the answer.
          if (response.status !== 503) return handlers.onError?.(await errorFromResponse(response));
        } else {
          attempt = 0;
          for await (const e of readEvents(response.body)) {
            if (e.id) lastEventId = e.id;
            if (e.event === 'end') return handlers.onEnd?.();
            if (e.event === 'error') return handlers.onError?.(e.data.error);
            handlers.onEvent(e.data);
          }
        }
      } catch {
        if (abort.signal.aborted) return;
      }
      await new Promise((r) => setTimeout(r, Math.min(5000, 500 * (attempt + 1))));
    }
  })();
  return () => abort.abort();
}

const API_KEY_STORAGE = 'elixirchain.apiKey';

/** The API key the console sends as a bearer token (a mesh with ELIXIRCHAIN_AUTH=required checks it; the services scope by its tenant). */
export function apiKey(): string {
  try {
    return sessionStorage.getItem(API_KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

export function setApiKey(key: string): void {
  if (key) sessionStorage.setItem(API_KEY_STORAGE, key);
  else sessionStorage.removeItem(API_KEY_STORAGE);
}

function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}
