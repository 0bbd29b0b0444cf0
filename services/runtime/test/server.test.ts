import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { asElixirError, connect, defineService, ElixirError, errors, GrpcCode, startServer } from '../src/index.js';
import type { RunningServer } from '../src/index.js';
import { checkHealth, listServicesByReflection, sendRawBytes } from './fixtures/probe.js';

describe('runtime server', () => {
  const servers: RunningServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.drain(1000);
  });

  async function serve(handlers: Parameters<typeof defineService<typeof MemoryServiceDefinition>>[1]) {
    const server = await startServer({ name: 'test', address: '127.0.0.1:0', services: [defineService(MemoryServiceDefinition, handlers)] });
    servers.push(server);
    return { server, client: connect(MemoryServiceDefinition, server.address) };
  }

  it('answers health SERVING and lists its service through reflection', async () => {
    const { server } = await serve({});
    assert.equal(await checkHealth(server.address), 'SERVING');
    assert.equal(await checkHealth(server.address, 'elixirchain.memory.v1.MemoryService'), 'SERVING');
    const services = await listServicesByReflection(server.address);
    assert.ok(services.includes('elixirchain.memory.v1.MemoryService'), services.join(','));
  });

  it('turns a thrown ElixirError into its status with ErrorInfo, BadRequest and RetryInfo details', async () => {
    const { client } = await serve({
      getState: async () => {
        throw errors.invalidArgument('key', 'must not be empty');
      },
      putState: async () => {
        throw errors.resourceExhausted('QUEUE_FULL', 'too busy', 1500);
      },
    });
    await assert.rejects(client.getState({ key: '' }), (e: ElixirError) => {
      assert.equal(e.code, GrpcCode.INVALID_ARGUMENT);
      assert.equal(e.reason, 'INVALID_ARGUMENT');
      assert.deepEqual(e.fieldViolations, [{ field: 'key', description: 'must not be empty' }]);
      return true;
    });
    await assert.rejects(client.putState({ key: 'k' }), (e: ElixirError) => {
      assert.equal(e.code, GrpcCode.RESOURCE_EXHAUSTED);
      assert.equal(e.reason, 'QUEUE_FULL');
      assert.equal(e.retryAfterMs, 1500);
      return true;
    });
  });

  it('turns an unexpected throw into INTERNAL with ErrorInfo, never UNKNOWN, and hides its text', async () => {
    const { client } = await serve({
      getState: async () => {
        throw new Error('secret internal detail');
      },
      listState: () => {
        throw new TypeError('sync throw');
      },
    });
    for (const call of [client.getState({ key: 'a' }), client.listState({})]) {
      await assert.rejects(call, (e: ElixirError) => {
        assert.equal(e.code, GrpcCode.INTERNAL);
        assert.equal(e.reason, 'INTERNAL');
        assert.doesNotMatch(e.message, /secret internal detail/);
        return true;
      });
    }
  });

  it('answers undecodable request bytes with INVALID_ARGUMENT, not INTERNAL', async () => {
    const { server } = await serve({ getState: async (req) => ({ entry: { key: req.key } }) });
    const error = await sendRawBytes(server.address, '/elixirchain.memory.v1.MemoryService/GetState', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    assert.ok(error);
    assert.equal(error.code, GrpcCode.INVALID_ARGUMENT);
  });

  it('answers a method without a handler with UNIMPLEMENTED', async () => {
    const { client } = await serve({});
    await assert.rejects(client.deleteThread({ threadId: 't' }), (e: ElixirError) => e.code === GrpcCode.UNIMPLEMENTED);
  });

  it('passes what is left of a deadline to a downstream call', async () => {
    let downstreamDeadline: Date | undefined;
    const downstream = await serve({
      getState: async (_req, call) => {
        downstreamDeadline = call.deadline;
        return {};
      },
    });
    const upstream = await serve({
      getState: async () => {
        await downstream.client.getState({ key: 'x' }, { timeoutMs: 60_000 });
        return {};
      },
    });
    const clientDeadline = new Date(Date.now() + 3_000);
    await upstream.client.getState({ key: 'x' }, { deadline: clientDeadline });
    assert.ok(downstreamDeadline, 'the downstream call had no deadline');
    // grpc-timeout travels as a relative time, so each hop may add its own latency; what matters is
    // that the 60 s the upstream asked for was cut to what was left of the client's 3 s.
    assert.ok(downstreamDeadline.getTime() <= clientDeadline.getTime() + 1000, `${downstreamDeadline.toISOString()} > ${clientDeadline.toISOString()}`);
  });

  it('fails a call whose deadline passes with DEADLINE_EXCEEDED and aborts the handler signal', async () => {
    let aborted = false;
    const { client } = await serve({
      getState: async (_req, call) => {
        await new Promise((resolve) => call.signal.addEventListener('abort', resolve, { once: true }));
        aborted = true;
        return {};
      },
    });
    await assert.rejects(client.getState({ key: 'x' }, { timeoutMs: 200 }), (e: ElixirError) => e.code === GrpcCode.DEADLINE_EXCEEDED);
    for (let i = 0; i < 50 && !aborted; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(aborted);
  });

  it('drain ends an open stream with UNAVAILABLE and lets an in-flight unary call finish', async () => {
    let releaseUnary!: () => void;
    const unaryStarted = new Promise<void>((started) => {
      const bindings = [
        defineService(MemoryServiceDefinition, {
          getState: async (req) => {
            started();
            await new Promise<void>((resolve) => (releaseUnary = resolve));
            return { entry: { key: req.key, version: 7 } };
          },
        }),
        defineService(ToolSandboxServiceDefinition, {
          invokeTool: async (_req, stream) => {
            await stream.write({ sequence: 1, event: { $case: 'progress', progress: { fraction: 0.5, message: 'half' } } });
            await new Promise((resolve) => stream.signal.addEventListener('abort', resolve, { once: true }));
          },
        }),
      ];
      void startServer({ name: 'drain', address: '127.0.0.1:0', services: bindings }).then((s) => {
        servers.push(s);
        server = s;
      });
    });
    let server!: RunningServer;
    while (!server) await new Promise((r) => setTimeout(r, 10));
    const memory = connect(MemoryServiceDefinition, server.address);
    const sandbox = connect(ToolSandboxServiceDefinition, server.address);

    const stream = sandbox.invokeTool({ name: 'x' });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.value.sequence, 1);
    const unary = memory.getState({ key: 'in-flight' });
    await unaryStarted;

    const drained = server.drain(5000);
    await assert.rejects(iterator.next(), (e: ElixirError) => {
      assert.equal(e.code, GrpcCode.UNAVAILABLE);
      assert.equal(e.reason, 'DRAINING');
      return true;
    });
    releaseUnary();
    const response = await unary;
    assert.equal(response.entry?.version, 7);
    await drained;
    assert.equal(server.state, 'stopped');
    memory.close();
    sandbox.close();
  });

  it('waits for the client to drain before a stream write resolves', async () => {
    let written = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const server = await startServer({
      name: 'flow',
      address: '127.0.0.1:0',
      services: [
        defineService(ToolSandboxServiceDefinition, {
          invokeTool: async (_req, stream) => {
            const big = 'x'.repeat(64 * 1024);
            try {
              for (let i = 0; i < 2000; i++) {
                await stream.write({ sequence: i + 1, event: { $case: 'log', log: { level: 'info', message: big } } });
                written += 1;
              }
            } finally {
              done();
            }
          },
        }),
      ],
    });
    servers.push(server);
    const client = connect(ToolSandboxServiceDefinition, server.address);
    const stream = client.invokeTool({ name: 'x' });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    await new Promise((r) => setTimeout(r, 500));
    // 2000 × 64 KiB would be 128 MiB; a producer that waits stops after a few windows.
    assert.ok(written < 200, `producer wrote ${written} messages while the client read one`);
    stream.cancel();
    await finished;
    client.close();
  });
});

describe('leaving a server stream early', () => {
  const servers: RunningServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.drain(1000);
  });

  async function serveStream(invokeTool: Parameters<typeof defineService<typeof ToolSandboxServiceDefinition>>[1]['invokeTool']) {
    const server = await startServer({ name: 'leave', address: '127.0.0.1:0', services: [defineService(ToolSandboxServiceDefinition, { invokeTool })] });
    servers.push(server);
    return connect(ToolSandboxServiceDefinition, server.address);
  }

  it('at the last message lets the call end OK instead of resetting it', async () => {
    const client = await serveStream(async (_req, stream) => {
      await stream.write({ sequence: 1, event: { $case: 'started', started: { toolVersion: '1' } } });
      await stream.write({ sequence: 2, event: { $case: 'result', result: { toolVersion: '1' } } });
    });
    const statuses: number[] = [];
    const original = grpc.Client.prototype.makeServerStreamRequest;
    grpc.Client.prototype.makeServerStreamRequest = function (this: grpc.Client, ...args: Parameters<typeof original>) {
      const call = original.apply(this, args);
      call.on('status', (status) => statuses.push(status.code));
      return call;
    } as typeof original;
    try {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          for await (const response of client.invokeTool({ name: 'x' })) if (response.event?.$case === 'result') return;
          assert.fail('no result');
        }),
      );
      const deadline = Date.now() + 5000;
      while (statuses.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    } finally {
      grpc.Client.prototype.makeServerStreamRequest = original;
    }
    assert.deepEqual(statuses, Array(20).fill(grpc.status.OK));
    client.close();
  });

  it('while the server goes on sending cancels the call on the server', async () => {
    let aborted!: () => void;
    const serverSawAbort = new Promise<void>((r) => (aborted = r));
    const client = await serveStream(async (_req, stream) => {
      stream.signal.addEventListener('abort', () => aborted());
      for (let i = 1; !stream.closed; i++) {
        await stream.write({ sequence: i, event: { $case: 'log', log: { level: 'info', message: `line ${i}` } } });
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    for await (const response of client.invokeTool({ name: 'x' })) if (response.sequence === 2) break;
    await serverSawAbort;
    client.close();
  });
});

describe('errors from another copy of the runtime', () => {
  it('keep their code and details instead of failing the error path', async () => {
    // What a second module instance's ElixirError looks like to this one: same shape, other class.
    const foreign = Object.assign(new Error('thread is at 8'), {
      name: 'ElixirError',
      code: GrpcCode.ABORTED,
      reason: 'VERSION_CONFLICT',
      metadata: { currentVersion: '8' },
      fieldViolations: [],
      retryAfterMs: undefined,
    });
    const e = asElixirError(foreign);
    assert.ok(e instanceof ElixirError);
    assert.equal(e.code, GrpcCode.ABORTED);
    assert.equal(e.reason, 'VERSION_CONFLICT');
    assert.deepEqual(e.metadata, { currentVersion: '8' });
  });
});
