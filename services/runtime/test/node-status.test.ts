import assert from 'node:assert/strict';
import { NodeStatusServiceDefinition } from '@elixirchain/proto/admin/node-status';
import { connect, ElixirError, GrpcCode, nodeStatusService, startServer } from '../src/index.js';
import type { RunningServer } from '../src/index.js';

describe('NodeStatusService (nodeStatusService)', () => {
  const servers: RunningServer[] = [];
  after(async () => {
    for (const s of servers) await s.drain(1000);
  });

  async function serve(status: ReturnType<typeof nodeStatusService>) {
    const server = await startServer({ name: 'status-test', address: '127.0.0.1:0', services: [status.binding] });
    servers.push(server);
    status.setAddress(server.address);
    return connect(NodeStatusServiceDefinition, server.address, { maxAttempts: 1 });
  }

  it('answers who the process is, since when, and the details read at each call', async () => {
    let calls = 0;
    const status = nodeStatusService({ service: 'chain-executor', details: () => ({ $case: 'chainExecutor', chainExecutor: { activeRuns: ++calls, queuedRuns: 0 } }) });
    const other = nodeStatusService({ service: 'chain-executor' });
    assert.notEqual(status.instanceId, other.instanceId, 'two servers in one process stay apart');
    const client = await serve(status);
    try {
      const first = (await client.getNodeStatus({})).status!;
      await new Promise((r) => setTimeout(r, 20));
      const second = (await client.getNodeStatus({})).status!;
      assert.equal(first.service, 'chain-executor');
      assert.equal(first.instanceId, status.instanceId);
      assert.equal(first.address, servers[0]!.address);
      assert.deepEqual(first.startTime, second.startTime);
      const ms = (d: { seconds: number; nanos: number }) => d.seconds * 1000 + d.nanos / 1e6;
      assert.ok(ms(second.uptime!) > ms(first.uptime!), 'uptime grows');
      assert.deepEqual([first.details, second.details], [
        { $case: 'chainExecutor', chainExecutor: { activeRuns: 1, queuedRuns: 0 } },
        { $case: 'chainExecutor', chainExecutor: { activeRuns: 2, queuedRuns: 0 } },
      ]);
    } finally {
      client.close();
    }
  });

  it('a status without details answers without them; details that fail are INTERNAL, not UNKNOWN', async () => {
    const plain = await serve(nodeStatusService({ service: 'memory', instanceId: 'replica-7' }));
    const failing = await serve(
      nodeStatusService({
        service: 'agent-host',
        details: () => {
          throw new Error('gauges broke');
        },
      }),
    );
    try {
      const answer = (await plain.getNodeStatus({})).status!;
      assert.equal(answer.instanceId, 'replica-7');
      assert.equal(answer.details, undefined);
      await assert.rejects(failing.getNodeStatus({}), (e: unknown) => e instanceof ElixirError && e.code === GrpcCode.INTERNAL);
    } finally {
      plain.close();
      failing.close();
    }
  });
});
