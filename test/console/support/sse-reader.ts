export interface ReadEvent {
  id?: string;
  event: string;
  data: any;
}

/**
 * Reads a text/event-stream response body event by event (what EventSource
 * does in a browser), so tests see exactly what the gateway sent.
 */
export async function* readServerSentEvents(response: Response): AsyncGenerator<ReadEvent> {
  if (!response.body) return;
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let boundary: number;
    while ((boundary = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      const event: Partial<ReadEvent> & { lines: string[] } = { lines: [] };
      for (const line of block.split('\n')) {
        if (line.startsWith(':') || line === '') continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') event.lines.push(value);
        else if (field === 'id') event.id = value;
        else if (field === 'event') event.event = value;
      }
      if (event.lines.length === 0) continue;
      yield { id: event.id, event: event.event ?? 'message', data: JSON.parse(event.lines.join('\n')) };
    }
  }
}

export async function collectServerSentEvents(response: Response): Promise<ReadEvent[]> {
  const out: ReadEvent[] = [];
  for await (const e of readServerSentEvents(response)) out.push(e);
  return out;
}
