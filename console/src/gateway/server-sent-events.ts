import type { ServerResponse } from 'node:http';
import { errorBody } from './http-error.js';

export interface SseEvent {
  /** Becomes the SSE id, so EventSource sends it back as Last-Event-ID on reconnect. */
  id?: number | string;
  event?: string;
  data: unknown;
}

/** How long the first event may take before the 200 goes out anyway (an idle followed stream sends nothing for a while). */
const FIRST_EVENT_WAIT_MS = 750;

/**
 * Writes a gRPC server stream to the browser as Server-Sent Events and ends
 * with `event: end` (the client then closes, or EventSource would reconnect).
 * A call that fails at once (NOT_FOUND, THREAD_BUSY…) gets its HTTP status and
 * JSON body like a unary call; a failure later arrives as `event: error` with
 * the same body. The browser going away cancels the gRPC call.
 */
export async function pipeServerSentEvents(
  res: ServerResponse,
  abort: AbortController,
  open: (signal: AbortSignal) => AsyncIterable<SseEvent>,
): Promise<void> {
  const iterator = open(abort.signal)[Symbol.asyncIterator]();
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    // A comment now and then keeps idle streams alive through proxies.
    heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  };
  try {
    let next = iterator.next();
    const timer = setTimeout(start, FIRST_EVENT_WAIT_MS);
    try {
      await next;
    } catch (error) {
      if (!started) {
        const { status, body } = errorBody(error);
        if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
        res.end(JSON.stringify(body));
        return;
      }
    } finally {
      clearTimeout(timer);
    }
    start();
    for (;;) {
      const item = await next;
      if (item.done || res.destroyed) break;
      const ok = res.write(formatEvent(item.value));
      // Backpressure: wait for the browser before pulling the next gRPC message.
      if (!ok) await new Promise<void>((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
      next = iterator.next();
    }
    if (!res.destroyed) res.write(formatEvent({ event: 'end', data: {} }));
  } catch (error) {
    if (!abort.signal.aborted && !res.destroyed) res.write(formatEvent({ event: 'error', data: errorBody(error).body }));
  } finally {
    clearInterval(heartbeat);
    if (res.destroyed || abort.signal.aborted) await iterator.return?.().catch(() => {});
    res.end();
  }
}

export function formatEvent(event: SseEvent): string {
  let out = '';
  if (event.id !== undefined) out += `id: ${event.id}\n`;
  if (event.event) out += `event: ${event.event}\n`;
  out += `data: ${JSON.stringify(event.data)}\n\n`;
  return out;
}
