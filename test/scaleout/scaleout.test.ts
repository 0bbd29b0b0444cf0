import assert from 'node:assert/strict';
import { AgentServiceDefinition, TurnStatus } from '@elixirchain/proto/agent';
import { ChainServiceDefinition, RunStatus } from '@elixirchain/proto/chain';
import { Role } from '@elixirchain/proto/memory';
import type { Message } from '@elixirchain/proto/memory';
import { connect } from '@elixirchain/runtime';
import type { ServiceClient, SpawnedService } from '@elixirchain/runtime';
import { ScaleOutMesh } from './scaleout-mesh.js';
import { until } from '../support/until.js';

// The must-show of the scale-out work: two agent-hosts, two chain-executors, one memory on PostgreSQL,
// one tool-sandbox, leases in Redis, all real processes. Agents talk over both agent-hosts; one is
// killed -9 mid-turns and its agents move to the survivor; a replica paused (SIGSTOP) past its lease is
// fenced off when it resumes. `npm run test:scaleout` runs it with 200 agents; in `npm test` it runs with 40
// (ELIXIRCHAIN_SCALEOUT_AGENTS sets the population).
const AGENTS = Number(process.env.ELIXIRCHAIN_SCALEOUT_AGENTS ?? 40);
const LEASE_TTL_MS = 2500;
const REPLY = 'hello there';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type AgentClient = ServiceClient<typeof AgentServiceDefinition>;


describe('scale-out: replicated mesh on PostgreSQL + Redis (real processes)', function () {
  this.timeout(240_000);
  const mesh = new ScaleOutMesh({ agentHosts: 2, chainExecutors: 2, leaseTtlMs: LEASE_TTL_MS, takeoverScanMs: 300 });
  const clients = new Map<SpawnedService, AgentClient>();
  /** Replicas a client may pick for a new attempt (the killed one is removed). */
  let live: SpawnedService[] = [];
  const agentIds = Array.from({ length: AGENTS }, (_, i) => `talker-${String(i).padStart(3, '0')}`);
  const progress = new Map<string, { turn: number; streaming: boolean; attempts: number }>();

  const clientOf = (replica: SpawnedService) => {
    let c = clients.get(replica);
    if (!c) {
      c = connect(AgentServiceDefinition, replica.address);
      clients.set(replica, c);
    }
    return c;
  };
  /** Who holds each agent's lease, by replica address. */
  const owners = async () => {
    const values = await mesh.redis.mGet(agentIds.map((id) => `${mesh.redisPrefix}lease:agent/${id}`));
    return values.map((v) => (typeof v === 'string' ? (JSON.parse(v.split('\n').slice(2).join('\n')) as { address: string }).address : undefined));
  };

  /**
   * One turn as a client would run it: SendMessage with a request id through some replica; if the stream
   * breaks (replica killed, paused then fenced, ownership moving) try again with the same request id, which
   * re-attaches to the same turn wherever it now runs.
   */
  async function turn(agentIndex: number, n: number): Promise<void> {
    const agentId = agentIds[agentIndex];
    const state = progress.get(agentId)!;
    state.turn = n;
    for (let attempt = 0; attempt < 60; attempt++) {
      state.attempts += 1;
      const replica = live[(agentIndex + n + attempt) % live.length];
      try {
        let status: TurnStatus | undefined;
        for await (const res of clientOf(replica).sendMessage({ agentId, threadId: `${agentId}-thread`, content: `turn-${n}`, requestId: `${agentId}-turn-${n}` })) {
          if (res.event?.event?.$case === 'textDelta') state.streaming = true;
          if (res.event?.event?.$case === 'turnCompleted') status = res.event.event.turnCompleted.status;
        }
        state.streaming = false;
        if (status === TurnStatus.TURN_STATUS_COMPLETED) return;
      } catch {
        state.streaming = false;
      }
      await sleep(200 + Math.random() * 300);
    }
    throw new Error(`turn ${n} of ${agentId} never completed`);
  }
  const round = (n: number) => Promise.all(agentIds.map((_, i) => turn(i, n)));

  async function history(agentId: string): Promise<Message[]> {
    const out: Message[] = [];
    let pageToken = '';
    do {
      const page = await clientOf(live[0]).listMessages({ threadId: `${agentId}-thread`, pageSize: 100, pageToken });
      out.push(...page.messages);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return out;
  }
  /** Every thread holds exactly `turns` user messages in order, each answered once: no duplicates, no gaps. */
  async function assertHistories(turns: number): Promise<void> {
    for (const agentId of agentIds) {
      const messages = await history(agentId);
      const expected = Array.from({ length: turns }, (_, i) => [[Role.ROLE_USER, `turn-${i + 1}`], [Role.ROLE_ASSISTANT, REPLY]]).flat();
      assert.deepEqual(messages.map((m) => [m.role, m.content]), expected, `${agentId}: ${messages.map((m) => m.content).join(' | ')}`);
      assert.deepEqual(messages.map((m) => m.sequence), messages.map((_, i) => i + 1), `${agentId}: sequences`);
      assert.equal(new Set(messages.map((m) => m.id)).size, messages.length, `${agentId}: ids`);
    }
  }

  before(async () => {
    await mesh.start();
    live = [...mesh.agentHosts];
    const admin = clientOf(mesh.agentHosts[0]);
    // Each answer streams in chunks with pauses, so a kill lands mid-turn.
    // A reply streamed over a few hundred ms (2 characters every 10 ms after 60 ms), so turns are reliably in
    // flight when a replica is killed: the scripted model sends the events between two delays as one batch.
    const pieces = REPLY.match(/.{1,2}/gsu)!;
    const script = [{ events: pieces.map((text, i) => ({ chunkSize: 2, event: { $case: 'text' as const, text }, delay: { seconds: 0, nanos: (i === 0 ? 60 : 10) * 1e6 } })) }];
    for (let i = 0; i < agentIds.length; i += 20) {
      await Promise.all(agentIds.slice(i, i + 20).map((id) => admin.createAgent({ agent: { id, model: { provider: 'scripted', script } }, requestId: `create-${id}` })));
    }
    for (const id of agentIds) progress.set(id, { turn: 0, streaming: false, attempts: 0 });
  });
  after(async () => {
    for (const c of clients.values()) c.close();
    await mesh.stop();
  });

  it('spreads the agents over both agent-hosts and runs chains on both chain-executors', async () => {
    await round(1);
    const held = await owners();
    for (const host of mesh.agentHosts) {
      const count = held.filter((a) => a === host.address).length;
      assert.ok(count >= AGENTS * 0.2, `${host.address} owns ${count} of ${AGENTS} agents`);
    }
    // A chain with an agent step on each executor; each executor's agent-host forwards to the owner when needed.
    for (const [i, executor] of mesh.chainExecutors.entries()) {
      const chains = connect(ChainServiceDefinition, executor.address);
      try {
        const id = `ask-${i}`;
        await chains.createChain({ chain: { id, root: { id: 'ask', kind: { $case: 'agent', agent: { agentId: agentIds[i], message: '"from a chain"', threadId: '' } } } }, requestId: `chain-${id}` });
        const run = (await chains.startRun({ chainId: id, input: {}, requestId: `run-${id}` })).run!;
        const done = await until(`run ${run.id}`, async () => {
          const r = (await chains.getRun({ runId: run.id })).run!;
          return r.status === RunStatus.RUN_STATUS_SUCCEEDED || r.status === RunStatus.RUN_STATUS_FAILED ? r : undefined;
        }, 60_000);
        assert.equal(done.status, RunStatus.RUN_STATUS_SUCCEEDED, JSON.stringify(done.error));
        assert.equal(done.output, REPLY);
      } finally {
        chains.close();
      }
    }
  });

  it('kill -9 of an agent-host mid-turns: its agents move to the survivor and every turn completes once', async () => {
    const [victim, survivor] = mesh.agentHosts;
    const heldBefore = await owners();
    const victimAgents = agentIds.filter((_, i) => heldBefore[i] === victim.address);
    const turns = round(2);
    await until('turns streaming on the victim', () => victimAgents.filter((id) => progress.get(id)!.streaming).length >= Math.min(10, victimAgents.length) || undefined, 60_000);
    await victim.kill();
    live = [survivor];
    await turns;
    const heldAfter = await owners();
    assert.ok(victimAgents.every((id) => heldAfter[agentIds.indexOf(id)] === survivor.address || heldAfter[agentIds.indexOf(id)] === undefined), 'no agent is held by the dead replica');
    assert.ok(victimAgents.some((id) => heldAfter[agentIds.indexOf(id)] === survivor.address), 'the survivor took the dead replica’s agents');
    await assertHistories(2);
  });

  it('a replica paused past its lease (SIGSTOP) is fenced off when it resumes and gives up its actors', async () => {
    const paused = mesh.agentHosts[1];
    const fresh = await mesh.startAgentHost();
    live = [paused];
    const turns = round(3);
    await until('turns streaming on the replica about to pause', () => agentIds.filter((id) => progress.get(id)!.streaming).length >= Math.min(10, AGENTS) || undefined, 60_000);
    process.kill(paused.process.pid!, 'SIGSTOP');
    live = [fresh, paused];
    try {
      // Past the lease, the fresh replica takes over the agents with unfinished turns.
      await until('the fresh replica to take agents over', async () => (await owners()).filter((a) => a === fresh.address).length > 0 || undefined, 60_000);
      await sleep(LEASE_TTL_MS);
    } finally {
      process.kill(paused.process.pid!, 'SIGCONT');
    }
    await turns;
    await until('the resumed replica to give its actors up', () => /lease lost|lost ownership/.test(paused.output()) || undefined, 30_000);
    await assertHistories(3);
    // What it still holds are leases it took again after resuming (requests it forwarded or claimed), never a stale one.
    const held = await owners();
    assert.ok(held.filter((a) => a === fresh.address).length > 0);
  });
});
