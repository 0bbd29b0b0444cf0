import { TurnStatus, type ApprovalRequired } from '@elixirchain/proto/agent';
import { LineReader } from '../chat/line-reader.js';
import { ThreadEventView } from '../chat/thread-event-view.js';
import { runTurn, type ApprovalDecision, type TurnOutcome } from '../chat/turn-stream.js';
import { describeError } from '../output/error-report.js';
import type { Output } from '../output/output.js';
import { withClients } from './agents.js';

export interface ChatOptions {
  message?: string;
  thread?: string;
  /** Decide approvals without asking: 'approve' or 'deny'. */
  approvals?: 'ask' | 'approve' | 'deny';
}

/** `elixirchain chat <agent>`: one-shot with --message, else a conversation on one thread. */
export async function runChat(out: Output, agentId: string, options: ChatOptions): Promise<number> {
  return withClients(async (clients) => {
    const agents = clients.agents();
    const view = new ThreadEventView(out, agentId);
    const interactive = options.message === undefined;
    // One-shot turns ask for approvals only on a terminal; a conversation reads lines from any stdin.
    const rl = interactive || ((options.approvals ?? 'ask') === 'ask' && process.stdin.isTTY) ? new LineReader() : undefined;
    let threadId = options.thread;
    try {
      const approve = (request: ApprovalRequired) => decideApproval(out, rl, request, options.approvals ?? 'ask');
      const turn = async (content: string): Promise<TurnOutcome | undefined> => {
        const abort = new AbortController();
        const onSigint = () => abort.abort(new Error('interrupted'));
        process.once('SIGINT', onSigint);
        try {
          const outcome = await runTurn(agents, { agentId, threadId, content }, {
            onEvent: (e) => view.show(e),
            approve,
            onReconnect: (err, attempt) => {
              view.endLine();
              if (attempt === 1) out.note(`(connection to agent-host lost: ${describeError(err).line}; re-attaching…)`);
            },
          }, abort.signal);
          threadId = outcome.threadId;
          return outcome;
        } catch (err) {
          view.endLine();
          if (!abort.signal.aborted) throw err;
          // Ctrl-C during a turn cancels that turn, not the chat.
          if (threadId) await agents.cancelTurn({ threadId, reason: 'cancelled from the CLI' }).catch(() => {});
          out.note('(turn cancelled)');
          return undefined;
        } finally {
          process.removeListener('SIGINT', onSigint);
        }
      };

      if (!interactive) {
        const outcome = await turn(options.message!);
        if (out.json) out.event({ result: outcome });
        else if (outcome?.threadId) out.note(`thread: ${outcome.threadId}`);
        return outcome?.status === TurnStatus.TURN_STATUS_COMPLETED ? 0 : 1;
      }

      out.note(`Chatting with ${agentId}${threadId ? ` on thread ${threadId}` : ''}. Empty line or Ctrl-D to leave; Ctrl-C cancels a running turn.`);
      for (;;) {
        const line = await rl!.ask('you › ');
        if (line === undefined || line.trim() === '' || line.trim() === '/exit') break;
        await turn(line);
      }
      if (threadId) out.note(`thread: ${threadId} (continue with --thread ${threadId})`);
      return 0;
    } finally {
      rl?.close();
    }
  });
}

async function decideApproval(out: Output, rl: LineReader | undefined, request: ApprovalRequired, mode: 'ask' | 'approve' | 'deny'): Promise<ApprovalDecision> {
  const what = `${request.toolName} ${JSON.stringify(request.arguments ?? {})}`;
  if (mode !== 'ask') {
    out.note(`  approval for ${what}: ${mode === 'approve' ? 'approved' : 'denied'} (--${mode})`);
    return { approve: mode === 'approve', reason: `--${mode} on the command line` };
  }
  if (!rl || !process.stdin.isTTY) {
    out.note(`  approval needed for ${what}; denied: no terminal to ask (use --approve or --deny)`);
    return { approve: false, reason: 'no one to ask: the CLI ran without a terminal' };
  }
  const answer = (await rl.ask(`  ${request.toolName} needs approval${request.reason ? ` (${request.reason})` : ''}: ${what}\n  approve? [y/N] `)) ?? '';
  const approve = /^y(es)?$/i.test(answer.trim());
  return { approve, reason: approve ? 'approved in the CLI' : 'denied in the CLI' };
}
