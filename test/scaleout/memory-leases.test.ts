import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMemoryServer, type MemoryServer } from '@elixirchain/memory';
import { AgentServiceDefinition, TurnStatus } from '@elixirchain/proto/agent';
import { connect, connectLeaseStateClient, LeaseManager, MemoryStateLeaseStore } from '@elixirchain/runtime';
import { startAgentHostServer } from '@elixirchain/agent-host';
import { startToolSandboxServer } from '@elixirchain/tool-sandbox';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Without Redis, leases live in the memory service's state (ttl + compare-and-set); same contract as RedisLeaseStore.
describe('leases on the memory service (MemoryStateLeaseStore, no Redis)', function () {
  this.timeout(30_000);
  let dataDir: string;
  let memory: MemoryServer;
  let client: ReturnType<typeof connectLeaseStateClient>;
  const managers: LeaseManager[] = [];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'memory-leases-'));
    memory = await startMemoryServer({ address: '127.0.0.1:0', dataDir });
    client = connectLeaseStateClient(memory.address);
  });
  after(async () => {
    await Promise.all(managers.map((m) => m.stop()));
    client.close();
    await memory.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const manager = (holder: string, ttlMs: number) => {
    const m = new LeaseManager({ store: new MemoryStateLeaseStore(client), holder, ttlMs, data: { address: `${holder}:1` } });
    managers.push(m);
    return m;
  };

  it('one holder at a time; the others learn who holds it', async () => {
    const results = await Promise.all([manager('a', 5000).acquire('agent/one'), manager('b', 5000).acquire('agent/one')]);
    const winners = results.filter((r) => r.acquired);
    assert.equal(winners.length, 1);
    const loser = results.find((r) => !r.acquired)!;
    assert.ok(!loser.acquired && winners[0].acquired);
    assert.equal(loser.owner?.holder, winners[0].lease.holder);
    assert.equal(loser.owner?.data.address, `${winners[0].lease.holder}:1`);
  });

  it('renews in the background, hands an expired lease over with a larger token, and never lets the old holder renew it', async () => {
    const a = manager('c', 600);
    const first = await a.acquire('agent/two');
    assert.ok(first.acquired);
    await sleep(1000);
    assert.ok(a.valid('agent/two'), 'kept alive by renewals');
    // A holder that stops renewing (here: writes the lease once, directly) loses it after its ttl.
    const store = new MemoryStateLeaseStore(client);
    const dead = await store.acquire('agent/three', 'dead', 300, {});
    assert.ok(dead.acquired);
    const b = manager('d', 5000);
    assert.equal((await b.acquire('agent/three')).acquired, false);
    await sleep(600);
    const taken = await b.acquire('agent/three');
    assert.ok(taken.acquired);
    assert.ok(taken.lease.token > dead.lease.token, `${taken.lease.token} > ${dead.lease.token}`);
    assert.equal(await store.renew(dead.lease, 300), undefined, 'the old holder cannot renew');
    assert.equal(await store.release(dead.lease), false, 'nor release it');
    const [holder] = await store.holders(['agent/three']);
    assert.equal(holder?.holder, 'd');
  });

  it('two agent-hosts share agents through memory leases: the non-owner forwards to the owner', async () => {
    const sandbox = await startToolSandboxServer({ address: '127.0.0.1:0', memoryAddress: memory.address });
    const replica = (replicaId: string) =>
      startAgentHostServer({ address: '127.0.0.1:0', memoryAddress: memory.address, toolSandboxAddress: sandbox.address, replicas: { leases: new MemoryStateLeaseStore(client), replicaId, leaseTtlMs: 3000 } });
    const a = await replica('mem-a');
    const b = await replica('mem-b');
    const ca = connect(AgentServiceDefinition, a.address);
    const cb = connect(AgentServiceDefinition, b.address);
    try {
      await ca.createAgent({ agent: { id: 'mem-agent', model: { provider: 'scripted', script: [{ events: [{ chunkSize: 0, event: { $case: 'text', text: 'ok' } }] }] } } });
      const statuses: TurnStatus[] = [];
      for (const [i, c] of [ca, cb, ca, cb].entries()) {
        for await (const res of c.sendMessage({ agentId: 'mem-agent', threadId: 'mem-thread', content: `m${i}` })) {
          if (res.event?.event?.$case === 'turnCompleted') statuses.push(res.event.event.turnCompleted.status);
        }
      }
      assert.deepEqual(statuses, Array(4).fill(TurnStatus.TURN_STATUS_COMPLETED));
      assert.ok(a.host.supervisor.resident('mem-agent'), 'the first replica touched owns it');
      assert.equal(b.host.supervisor.resident('mem-agent'), undefined, 'the other one forwarded');
      const { messages } = await cb.listMessages({ threadId: 'mem-thread', pageSize: 100 });
      assert.deepEqual(messages.map((m) => m.content), ['m0', 'ok', 'm1', 'ok', 'm2', 'ok', 'm3', 'ok']);
    } finally {
      ca.close();
      cb.close();
      await a.stop();
      await b.stop();
      await sandbox.stop();
    }
  });
});
