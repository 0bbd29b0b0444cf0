import type { MemoryPort } from '../ports/memory-port.js';
import { activeTurnPrefix } from './thread-record.js';

/** Agents that have unfinished turns, read from the active-turn index (`turns/active/<agent>/<thread>`). */
export async function agentsWithUnfinishedTurns(memory: MemoryPort): Promise<Set<string>> {
  const prefix = activeTurnPrefix();
  const agents = new Set<string>();
  let pageToken = '';
  do {
    const page = await memory.listState({ prefix, keysOnly: true, pageSize: 1000, pageToken });
    for (const entry of page.entries) agents.add(entry.key.slice(prefix.length).split('/')[0]);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return agents;
}
