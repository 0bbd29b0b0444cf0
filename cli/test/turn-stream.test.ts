import assert from 'node:assert/strict';
import { AgentServiceDefinition, TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { connect, defineService, errors, startServer, type RunningServer } from '@elixirchain/runtime';
import { runTurn } from '../src/chat/turn-stream.js';

// The CLI's turn follower against a real gRPC AgentService (runtime server on
// an ephemeral port) whose stream breaks the way a restarting agent-host's does.
describe('chat: following a turn across a broken stream', function () {
  this.timeout(30_000);
  let server: RunningServer | undefined;

  afterEach(async () => {
    await server?.drain();
    server = undefined;
  });

  const event = (sequence: number, body: ThreadEvent['event']): ThreadEvent => ({ sequence, threadId: 't1', turnId: 'turn-1', time: new Date(), event: body });
  const TURN: ThreadEvent[] = [
    event(1, { $case: 'turnStarted', turnStarted: { turnId: 'turn-1', agentId: 'a', agentVersion: 1, userMessageId: 'm1', traceId: '' } }),
    event(2, { $case: 'textDelta', textDelta: { text: 'Hel' } }),
    event(3, { $case: 'textDelta', textDelta: { text: 'lo' } }),
    event(4, { $case: 'approvalRequired', approvalRequired: { approvalId: 'ap1', callId: 'c1', toolName: 'rm', arguments: {}, reason: 'destructive' } }),
    event(5, { $case: 'textDelta', textDelta: { text: '!' } }),
    event(6, { $case: 'turnCompleted', turnCompleted: { turnId: 'turn-1', status: TurnStatus.TURN_STATUS_COMPLETED, usage: undefined, duration: undefined } }),
  ];

  it('re-attaches with WatchThread after the last sequence: no event lost, none shown twice', async () => {
    const calls: string[] = [];
    const resolutions: { approvalId: string; approve: boolean }[] = [];
    server = await startServer({
      name: 'fake-agent-host',
      address: '127.0.0.1:0',
      services: [
        defineService(AgentServiceDefinition, {
          sendMessage: async (req, stream) => {
            calls.push(`send:${req.requestId}`);
            for (const e of TURN.slice(0, 3)) await stream.write({ event: e });
            // The service goes away mid-turn, as a drain does.
            throw errors.unavailable('DRAINING', 'agent-host is draining');
          },
          watchThread: async (req, stream) => {
            calls.push(`watch:${req.threadId}:${req.afterSequence}`);
            // Replays from the start of the thread: the client must skip what it saw.
            for (const e of TURN) await stream.write({ event: e });
          },
          resolveApproval: async (req) => {
            resolutions.push({ approvalId: req.approvalId, approve: req.approve });
            return { resolution: { approvalId: req.approvalId, approved: req.approve, reason: req.reason } };
          },
        }),
      ],
    });
    const agents = connect(AgentServiceDefinition, server.address);
    const seen: number[] = [];
    let reconnects = 0;
    try {
      const outcome = await runTurn(agents, { agentId: 'a', content: 'hi' }, {
        onEvent: (e) => seen.push(e.sequence),
        approve: async () => ({ approve: true }),
        onReconnect: () => reconnects++,
      });
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
      assert.equal(outcome.status, TurnStatus.TURN_STATUS_COMPLETED);
      assert.equal(outcome.threadId, 't1');
      assert.equal(reconnects, 1);
      assert.equal(calls.length, 2);
      assert.match(calls[0]!, /^send:[0-9a-f-]{36}$/, 'SendMessage carries a request_id');
      assert.equal(calls[1], 'watch:t1:3');
      assert.deepEqual(resolutions, [{ approvalId: 'ap1', approve: true }], 'the approval was answered once');
    } finally {
      agents.close();
    }
  });

  it('resends SendMessage with the same request_id when the stream broke before any event', async () => {
    const requestIds: string[] = [];
    server = await startServer({
      name: 'fake-agent-host',
      address: '127.0.0.1:0',
      services: [
        defineService(AgentServiceDefinition, {
          sendMessage: async (req, stream) => {
            requestIds.push(req.requestId);
            if (requestIds.length === 1) throw errors.unavailable('DRAINING', 'not yet');
            for (const e of TURN.filter((e) => e.event?.$case !== 'approvalRequired')) await stream.write({ event: e });
          },
        }),
      ],
    });
    const agents = connect(AgentServiceDefinition, server.address);
    try {
      const outcome = await runTurn(agents, { agentId: 'a', content: 'hi' }, { onEvent: () => {}, approve: async () => ({ approve: false }) });
      assert.equal(outcome.status, TurnStatus.TURN_STATUS_COMPLETED);
      assert.equal(requestIds.length, 2);
      assert.equal(requestIds[0], requestIds[1], 'the retry is recognisable as the same request');
    } finally {
      agents.close();
    }
  });

  it('does not retry a caller mistake: the status comes back as it is', async () => {
    server = await startServer({
      name: 'fake-agent-host',
      address: '127.0.0.1:0',
      services: [defineService(AgentServiceDefinition, { sendMessage: async () => { throw errors.notFound('agent', 'nope'); } })],
    });
    const agents = connect(AgentServiceDefinition, server.address);
    try {
      await assert.rejects(runTurn(agents, { agentId: 'nope', content: 'hi' }, { onEvent: () => {}, approve: async () => ({ approve: false }) }), (err: { codeName?: string; reason?: string }) => {
        assert.equal(err.codeName, 'NOT_FOUND');
        assert.equal(err.reason, 'AGENT_NOT_FOUND');
        return true;
      });
    } finally {
      agents.close();
    }
  });
});
