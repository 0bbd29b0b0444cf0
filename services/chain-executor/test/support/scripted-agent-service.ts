import { AgentServiceDefinition, TurnStatus } from '@elixirchain/proto/agent';
import { defineService, errors, startServer } from '@elixirchain/runtime';
import type { RunningServer } from '@elixirchain/runtime';

interface Turn {
  id: string;
  threadId: string;
  cancel: AbortController;
}

/**
 * A small AgentService built with the runtime (real gRPC) for when
 * agent-host is not available: each agent replies by a script, streaming
 * its text in words with a delay, and honours CancelTurn. It records every
 * turn it started (by request id) and every turn cancelled.
 */
export class ScriptedAgentService {
  readonly turnsByRequest = new Map<string, number>();
  readonly cancelledTurns: string[] = [];
  readonly running = new Map<string, Turn>();
  private server!: RunningServer;

  get address(): string {
    return this.server.address;
  }

  static async start(agents: Record<string, { reply: (message: string) => string; wordDelayMs?: number }>): Promise<ScriptedAgentService> {
    const self = new ScriptedAgentService();
    let turnCount = 0;
    const binding = defineService(AgentServiceDefinition, {
      getAgent: (req) => {
        if (!agents[req.id]) throw errors.notFound('agent', req.id);
        return { agent: { id: req.id, version: 1 } };
      },
      sendMessage: async (req, stream) => {
        const agent = agents[req.agentId];
        if (!agent) throw errors.notFound('agent', req.agentId);
        self.turnsByRequest.set(req.requestId, (self.turnsByRequest.get(req.requestId) ?? 0) + 1);
        const turn: Turn = { id: `turn-${++turnCount}`, threadId: req.threadId || `thread-${turnCount}`, cancel: new AbortController() };
        self.running.set(turn.threadId, turn);
        let sequence = 0;
        const send = (event: object) => stream.write({ event: { sequence: ++sequence, threadId: turn.threadId, turnId: turn.id, event: event as never } });
        try {
          await send({ $case: 'turnStarted', turnStarted: { turnId: turn.id, agentId: req.agentId, agentVersion: 1 } });
          const text = agent.reply(req.content);
          for (const word of text.split(/(?<= )/)) {
            await new Promise((resolve) => setTimeout(resolve, agent.wordDelayMs ?? 5));
            if (turn.cancel.signal.aborted || stream.signal.aborted) {
              await send({ $case: 'turnCompleted', turnCompleted: { turnId: turn.id, status: TurnStatus.TURN_STATUS_CANCELLED } }).catch(() => {});
              return;
            }
            await send({ $case: 'textDelta', textDelta: { text: word } });
          }
          await send({ $case: 'messageCompleted', messageCompleted: { message: { role: 3, content: text, threadId: turn.threadId } } });
          await send({ $case: 'turnCompleted', turnCompleted: { turnId: turn.id, status: TurnStatus.TURN_STATUS_COMPLETED } });
        } finally {
          self.running.delete(turn.threadId);
        }
      },
      cancelTurn: (req) => {
        const turn = self.running.get(req.threadId);
        if (!turn || (req.turnId && req.turnId !== turn.id)) return { cancelled: false, turnId: req.turnId };
        self.cancelledTurns.push(turn.id);
        turn.cancel.abort();
        return { cancelled: true, turnId: turn.id };
      },
    });
    self.server = await startServer({ name: 'scripted-agents', address: '127.0.0.1:0', services: [binding] });
    return self;
  }

  async stop(): Promise<void> {
    await this.server.drain(1000);
  }
}
