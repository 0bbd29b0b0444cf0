import assert from 'node:assert/strict';
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { connect, defineService, initTelemetry, startServer } from '../src/index.js';
import type { RunningServer, Telemetry } from '../src/index.js';

describe('tracing across services', () => {
  let telemetry: Telemetry;
  const exporter = new InMemorySpanExporter();
  const servers: RunningServer[] = [];

  before(() => {
    telemetry = initTelemetry('trace-test', { exporter });
  });
  after(async () => {
    for (const s of servers) await s.drain(1000);
    await telemetry.shutdown();
    // Leave the global API as the other suites expect it: no-op.
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('puts a call that crosses three services in one trace', async () => {
    const memory = await startServer({
      name: 'memory',
      address: '127.0.0.1:0',
      services: [defineService(MemoryServiceDefinition, { appendMessages: async () => ({ thread: { id: 't', version: 1 } }) })],
    });
    const sandbox = await startServer({
      name: 'sandbox',
      address: '127.0.0.1:0',
      services: [
        defineService(ToolSandboxServiceDefinition, {
          invokeTool: async (_req, stream) => {
            await stream.write({ sequence: 1, event: { $case: 'result', result: { output: 5 } } });
          },
        }),
      ],
    });
    servers.push(memory, sandbox);
    const memoryClient = connect(MemoryServiceDefinition, memory.address);
    const sandboxClient = connect(ToolSandboxServiceDefinition, sandbox.address);
    const agentHost = await startServer({
      name: 'agent-host',
      address: '127.0.0.1:0',
      services: [
        defineService(AgentServiceDefinition, {
          cancelTurn: async () => {
            await memoryClient.appendMessages({ threadId: 't' });
            for await (const _event of sandboxClient.invokeTool({ name: 'add' })) {
              // drain the stream
            }
            return { cancelled: true };
          },
        }),
      ],
    });
    servers.push(agentHost);
    const agent = connect(AgentServiceDefinition, agentHost.address);
    await agent.cancelTurn({ threadId: 't' });

    const spans = exporter.getFinishedSpans();
    const serverSpans = spans.filter((s) => s.kind === 1 /* SERVER */);
    const names = serverSpans.map((s) => s.name).sort();
    assert.deepEqual(names, [
      'elixirchain.agent.v1.AgentService/CancelTurn',
      'elixirchain.memory.v1.MemoryService/AppendMessages',
      'elixirchain.sandbox.v1.ToolSandboxService/InvokeTool',
    ]);
    const traceIds = new Set(serverSpans.map((s) => s.spanContext().traceId));
    assert.equal(traceIds.size, 1, 'the three server spans must share one trace');
    for (const c of [agent, memoryClient, sandboxClient]) c.close();
  });
});
