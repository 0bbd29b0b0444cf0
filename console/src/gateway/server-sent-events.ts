import type { ServerResponse } from 'node:http';
import { errorBody } from './http-error.js';

export interface SseEvent {
  /** Becomes the SSE id, so EventSource sends it back as Last-Event-ID on reconnect. */
  id?: number | string;
  event?: string;
  data: unknown;
}

/**
 * Writes a gRPC server stream to the browser as Server-Sent Events and ends
 * with `event: end` (the client then closes, or EventSource would reconnect).
 * A gRPC error mid-stream arrives as `event: error` with the same JSON body
 * as a failed unary call. The browser going away cancels the gRPC call.
 */
export async function pipeServerSentEvents(
  res: ServerResponse,
  abort: AbortController,
  open: (signal: AbortSignal) => AsyncIterable<SseEvent>,
): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  // A comment now and then keeps idle streams alive through proxies.
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  try {
    for await (const event of open(abort.signal)) {
      if (res.destroyed) break;
      const ok = res.write(formatEvent(event));
      // Backpressure: wait for the browser before pulling the next gRPC message.
      if (!ok) await new Promise<void>((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
    }
    if (!res.destroyed) res.write(formatEvent({ event: 'end', data: {} }));
  } catch (error) {
    if (!abort.signal.aborted && !res.destroyed) res.write(formatEvent({ event: 'error', data: errorBody(error).body }));
  } finally {
    clearInterval(heartbeat);
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
