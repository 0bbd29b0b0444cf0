import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TurnStatus, type ThreadEvent } from '@elixirchain/proto/agent';
import { Role } from '@elixirchain/proto/memory';
import { connectRedis, RedisLeaseStore, until, type RedisConnection } from '@elixirchain/runtime';
import { ownerKey, startAgentHostServer, type AgentHostServer } from '../src/index.js';
import { agentClient, collectEvents, startMesh, type Mesh } from './mesh-fixture.js';

const REDIS_URL = process.env.ELIXIRCHAIN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const text = (t: string, chunkSize = 0, delayMs = 0) => ({ chunkSize, event: { $case: 'text' as const, text: t }, ...(delayMs ? { delay: { seconds: Math.floor(delayMs / 1000), nanos: (delayMs % 1000) * 1e6 } } : {}) });
const statusOf = (events: ThreadEvent[]) => {
  const last = events.at(-1);
  return last?.event?.$case === 'turnCompleted' ? last.event.turnCompleted.status : undefined;
};

describe('agent-host replicas: one owner per agent through leases, forwarding, fencing', function () {
  this.timeout(90_000);
  let mesh: Mesh;
  let redis: RedisConnection;
  let prefix: string;
  let a: AgentHostServer;
  let b: AgentHostServer;

  const replica = (replicaId: string) =>
    startAgentHostServer({
      address: '127.0.0.1:0',
      memoryAddress: mesh.memory.address,
      toolSandboxAddress: mesh.sandbox.address,
      replicas: { leases: new RedisLeaseStore(redis, prefix), replicaId, leaseTtlMs: 1500, takeoverScanMs: 200 },
    });
  const ownerOf = async (agentId: string) => {
    const entry = await mesh.memory.store.getState(ownerKey(agentId)).catch(() => undefined);
    return entry?.value?.$case === 'structValue' ? String((entry.value.structValue as any).replica) : undefined;
  };

  before(async () => {
    mesh = await startMesh();
    redis = await connectRedis(REDIS_URL);
    prefix = `test-agent-host-${randomBytes(4).toString('hex')}:`;
    a = await replica('replica-a');
    b = await replica('replica-b');
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(keys);
    await redis.close();
    await mesh?.stop();
  });

  it('serves an agent on the replica that owns it: the other one forwards SendMessage and WatchThread', async () => {
    const ca = agentClient(a.address);
    const cb = agentClient(b.address);
    try {
      await ca.createAgent({ agent: { id: 'shared', model: { provider: 'scripted', script: [{ events: [text('hello from the owner')] }] } } });
      // First touched through b: b owns it.
      assert.equal(statusOf(await collectEvents(cb.sendMessage({ agentId: 'shared', content: 'one', threadId: 'shared-t' }))), TurnStatus.TURN_STATUS_COMPLETED);
      assert.equal(await ownerOf('shared'), 'replica-b');
      // Through a: forwarded to b, same stream.
      const events = await collectEvents(ca.sendMessage({ agentId: 'shared', content: 'two', threadId: 'shared-t' }));
      assert.equal(statusOf(events), TurnStatus.TURN_STATUS_COMPLETED);
      assert.equal(a.host.supervisor.resident('shared'), undefined, 'a never started an actor for it');
      assert.ok(b.host.supervisor.resident('shared'));
      const watched = await collectEvents(ca.watchThread({ threadId: 'shared-t', afterSequence: 0 }));
      assert.ok(watched.some((e) => e.event?.$case === 'turnCompleted'), 'the watch through a replays the owner’s events');
      assert.ok(watched.some((e) => e.event?.$case === 'textDelta'), 'including the text streamed on b');
      const { messages } = await ca.listMessages({ threadId: 'shared-t', pageSize: 100 });
      assert.deepEqual(messages.map((m) => m.content), ['one', 'hello from the owner', 'two', 'hello from the owner']);
    } finally {
      ca.close();
      cb.close();
    }
  });

  it('a replica whose lease was taken over cannot write any more, stops its actor, and the new owner finishes the turn', async () => {
    const ca = agentClient(a.address);
    const cb = agentClient(b.address);
    try {
      const slow = [text('x', 1, 150), text('y', 1, 150), text('z', 1, 150), text('w', 1, 150), text('v', 1, 150)];
      await ca.createAgent({ agent: { id: 'moving', model: { provider: 'scripted', script: [{ events: slow }] } } });
      const first = collectEvents(cb.sendMessage({ agentId: 'moving', content: 'start', threadId: 'moving-t', requestId: 'moving-1' })).catch((e) => e);
      await until('b owns the agent', () => b.host.supervisor.resident('moving') !== undefined, 30_000);
      // As if b were partitioned past its ttl: its lease disappears and a takes the agent (claiming the ownership record).
      await redis.del(`${prefix}lease:agent/moving`);
      await a.host.getThread('moving-t').catch(() => undefined);
      const route = await (a.host as any).options.ownership.route('moving');
      assert.equal(route.local, true);
      assert.equal(await ownerOf('moving'), 'replica-a');
      // b's next checkpoint (or lease renewal) fails: its actor stops and its stream ends with ABORTED.
      const outcome = await first;
      assert.ok(outcome instanceof Error && /ABORTED|owned|moved/i.test(`${(outcome as any).codeName} ${outcome.message}`) || statusOf(outcome) === TurnStatus.TURN_STATUS_FAILED, `b's stream ended: ${String(outcome)}`);
      await until('b gave up its actor', () => b.host.supervisor.resident('moving') === undefined, 30_000);
      // a resumed the turn from b's last checkpoint and finished it once.
      await until('a finished the turn', async () => (await a.host.getThread('moving-t')).currentTurnId === '', 30_000);
      const { messages } = await ca.listMessages({ threadId: 'moving-t', pageSize: 100 });
      assert.deepEqual(messages.map((m) => [m.role, m.content]), [[Role.ROLE_USER, 'start'], [Role.ROLE_ASSISTANT, 'xyzwv']], 'one user message, one answer');
      // Later messages through b are forwarded to a.
      const again = await collectEvents(cb.sendMessage({ agentId: 'moving', content: 'after', threadId: 'moving-t' }));
      assert.equal(statusOf(again), TurnStatus.TURN_STATUS_COMPLETED);
      assert.equal(b.host.supervisor.resident('moving'), undefined);
    } finally {
      ca.close();
      cb.close();
    }
  });
});
