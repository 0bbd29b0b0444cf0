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
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : {};
  if (!response.ok) throw new ApiError(response.status, parsed.error ?? { code: 2, codeName: 'UNKNOWN', reason: '', message: text || response.statusText, fieldViolations: [] });
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

/** POST that answers with Server-Sent Events (SendMessage, RunChain, InvokeTool): read with fetch, since EventSource only GETs. */
export async function postStream(path: string, body: unknown, handlers: StreamHandlers, signal?: AbortSignal): Promise<void> {
  const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  if (!response.ok || !response.body) {
    const parsed = await response.json().catch(() => ({}));
    const error = parsed.error ?? { code: 2, codeName: 'UNKNOWN', reason: '', message: response.statusText, fieldViolations: [] };
    handlers.onError?.(error);
    return;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let boundary: number;
    while ((boundary = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length === 0) continue;
      const payload = JSON.parse(data.join('\n'));
      if (event === 'error') handlers.onError?.(payload.error);
      else if (event === 'end') handlers.onEnd?.();
      else handlers.onEvent(payload);
    }
  }
}

/**
 * GET event stream (WatchThread, WatchRun) through EventSource: after a dropped
 * connection it reconnects by itself, sending Last-Event-ID, and the gateway
 * resumes after that sequence. Returns a function that closes it.
 */
export function watchStream(path: string, handlers: StreamHandlers): () => void {
  const source = new EventSource(path);
  source.onmessage = (e) => handlers.onEvent(JSON.parse(e.data));
  source.addEventListener('end', () => {
    source.close();
    handlers.onEnd?.();
  });
  source.addEventListener('error', (e) => {
    const data = (e as MessageEvent).data;
    if (typeof data === 'string' && data) {
      // A gRPC error the gateway sent as `event: error`: final.
      source.close();
      handlers.onError?.(JSON.parse(data).error);
    }
    // Otherwise a transport error: EventSource retries on its own.
  });
  return () => source.close();
}
