import assert from 'node:assert/strict';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { startAgentHostServer, type AgentHostServer } from '@elixirchain/agent-host';
import { consoleSettingsFromEnv, jaegerUrlFromEnv, startConsoleGateway, type ConsoleGateway, type ReplicaStatus } from '@elixirchain/console';
import { initTelemetry, type Telemetry } from '@elixirchain/runtime';
import { startConsoleMesh, type ConsoleMesh } from './support/console-mesh.js';
import { collectServerSentEvents, readServerSentEvents } from './support/sse-reader.js';

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
/** A proto3 JSON Duration as ts-proto writes it ({ seconds, nanos }, zeros left out), in ms. */
const durationMs = (d: { seconds?: number; nanos?: number }) => (d.seconds ?? 0) * 1000 + (d.nanos ?? 0) / 1e6;
const getJson = async <T>(url: string): Promise<T> => (await (await fetch(url)).json()) as T;

describe('console gateway: mesh status of every replica, trace ids and settings', function () {
  this.timeout(120_000);
  let mesh: ConsoleMesh;

  before(async () => {
    mesh = await startConsoleMesh({ gateway: { jaegerUrl: 'http://jaeger.test:16686' } });
    await mesh.registerTool('add', 'export default async function (input) { return { sum: input.a + input.b }; }');
  });
  after(async () => {
    await mesh?.stop();
  });

  it('answers each service’s NodeStatus: who, since when, and its gauges', async () => {
    const { replicas } = await getJson<{ replicas: ReplicaStatus[] }>(`${mesh.url}/api/mesh/status`);
    assert.deepEqual(replicas.map((r) => r.service), ['memory', 'tool-sandbox', 'agent-host', 'chain-executor']);
    for (const r of replicas) {
      assert.equal(r.error, undefined, `${r.service}: ${JSON.stringify(r.error)}`);
      const status = r.status as { service: string; instanceId: string; address: string; startTime: string; uptime: { seconds?: number; nanos?: number } };
      assert.equal(status.service, r.service);
      assert.equal(status.address, r.address, 'the service knows its own address');
      assert.match(status.instanceId, /-\d+-[0-9a-f]{6}$/);
      assert.ok(Date.parse(status.startTime) <= Date.now());
      assert.ok(durationMs(status.uptime) > 0, JSON.stringify(status.uptime));
    }
    const [memory, sandbox, agentHost, chains] = replicas.map((r) => r.status as Record<string, any>);
    assert.equal(memory!.memory.store, 'sqlite');
    assert.ok(memory!.memory.cache.maxBytes > 0, 'the read cache with its budget');
    assert.ok(sandbox!.toolSandbox.workers >= 1 && sandbox!.toolSandbox.slots >= 1, JSON.stringify(sandbox));
    // proto3 JSON leaves zeros out: an idle agent-host and chain-executor say so with an empty object.
    assert.deepEqual(Object.keys(agentHost!), ['service', 'instanceId', 'address', 'startTime', 'uptime', 'agentHost']);
    assert.ok(chains!.chainExecutor);
  });

  it('shows the load while it happens: a running turn and a message waiting in the mailbox', async () => {
    await fetch(`${mesh.url}/api/agents`, json({
      agent: { id: 'slow', model: { provider: 'scripted', script: [{ events: [{ text: 'a b c d e f', chunkSize: 2, delay: { seconds: 0, nanos: 100_000_000 } }] }] } },
    }));
    const first = new AbortController();
    const response = await fetch(`${mesh.url}/api/agents/slow/messages`, { ...json({ content: 'one' }), signal: first.signal });
    const events = readServerSentEvents(response);
    const started = (await events.next()).value!;
    const threadId = started.data.threadId as string;
    const queued = await fetch(`${mesh.url}/api/agents/slow/messages`, json({ content: 'two', threadId, onBusy: 'ON_BUSY_QUEUE' }));
    const queuedEvents = readServerSentEvents(queued);
    assert.ok((await queuedEvents.next()).value!.data.turnQueued, 'the second message waits in the mailbox');

    const { replicas } = await getJson<{ replicas: ReplicaStatus[] }>(`${mesh.url}/api/mesh/status`);
    const agentHost = (replicas.find((r) => r.service === 'agent-host')!.status as { agentHost: Record<string, number> }).agentHost;
    assert.equal(agentHost.runningTurns, 1);
    assert.equal(agentHost.activeAgents, 1);
    assert.equal(agentHost.mailboxDepthTotal, 1);
    assert.equal(agentHost.mailboxDepthMax, 1);
    assert.ok(agentHost.residentAgents! >= 1);
    first.abort();
    for await (const e of queuedEvents) if (e.data.turnCompleted) break;
  });

  it('streams a snapshot per interval while the browser listens, and refuses a silly interval', async () => {
    const abort = new AbortController();
    const response = await fetch(`${mesh.url}/api/mesh/status/events?intervalMs=500`, { signal: abort.signal });
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const seen: { id?: string; replicas: ReplicaStatus[] }[] = [];
    for await (const e of readServerSentEvents(response)) {
      seen.push({ id: e.id, replicas: e.data.replicas });
      if (seen.length === 2) break;
    }
    abort.abort();
    assert.deepEqual(seen.map((s) => s.id), ['1', '2']);
    assert.ok(seen.every((s) => s.replicas.length === 4));
    const uptime = (s: (typeof seen)[number]) => durationMs((s.replicas[0]!.status as { uptime: { seconds?: number; nanos?: number } }).uptime);
    assert.ok(uptime(seen[1]!) > uptime(seen[0]!), 'a fresh reading each time');

    const silly = await fetch(`${mesh.url}/api/mesh/status/events?intervalMs=5`);
    assert.equal(silly.status, 400);
    assert.deepEqual(((await silly.json()) as { error: { fieldViolations: { field: string }[] } }).error.fieldViolations.map((v) => v.field), ['intervalMs']);
  });

  describe('with replicas', () => {
    let second: AgentHostServer;
    let gateway: ConsoleGateway;
    before(async () => {
      second = await startAgentHostServer({ address: '127.0.0.1:0', memoryAddress: mesh.addresses.memory, toolSandboxAddress: mesh.addresses.toolSandbox, resume: false });
      gateway = await startConsoleGateway({
        address: '127.0.0.1:0',
        services: mesh.addresses,
        // 127.0.0.1:1: a replica that is down.
        replicas: { agentHost: [mesh.addresses.agentHost, second.address], chainExecutor: [mesh.addresses.chainExecutor, '127.0.0.1:1'] },
      });
    });
    after(async () => {
      await gateway?.stop();
      await second?.stop();
    });

    it('shows each replica as a row, a replica that is down with its error', async () => {
      const { replicas } = await getJson<{ replicas: ReplicaStatus[] }>(`${gateway.url}/api/mesh/status`);
      const agentHosts = replicas.filter((r) => r.service === 'agent-host');
      assert.deepEqual(agentHosts.map((r) => r.address), [mesh.addresses.agentHost, second.address]);
      const ids = agentHosts.map((r) => (r.status as { instanceId: string }).instanceId);
      assert.equal(new Set(ids).size, 2, 'two processes, two instance ids');
      const [up, down] = replicas.filter((r) => r.service === 'chain-executor');
      assert.ok(up!.status && !up!.error);
      assert.equal(down!.address, '127.0.0.1:1');
      assert.equal(down!.error?.codeName, 'UNAVAILABLE');
      assert.equal(down!.status, undefined);
    });
  });

  it('tells the browser where Jaeger is, and reads its settings from the environment', async () => {
    assert.deepEqual(await getJson(`${mesh.url}/api/config`), { jaegerUrl: 'http://jaeger.test:16686' });
    assert.equal(jaegerUrlFromEnv({ ELIXIRCHAIN_CONSOLE_JAEGER_URL: 'http://localhost:16686/' }), 'http://localhost:16686');
    assert.equal(jaegerUrlFromEnv({ ELIXIRCHAIN_CONSOLE_JAEGER_URL: ' ' }), undefined);
    assert.throws(() => jaegerUrlFromEnv({ ELIXIRCHAIN_CONSOLE_JAEGER_URL: 'jaeger:16686' }), /ELIXIRCHAIN_CONSOLE_JAEGER_URL: must be an http\(s\) URL/);
    assert.deepEqual(
      consoleSettingsFromEnv({ ELIXIRCHAIN_AGENT_HOST_REPLICAS: '10.0.0.5:50051, 10.0.0.6:50051', ELIXIRCHAIN_CHAIN_EXECUTOR_REPLICAS: '' }),
      { jaegerUrl: undefined, replicas: { agentHost: ['10.0.0.5:50051', '10.0.0.6:50051'] } },
    );
  });

  describe('with tracing on', () => {
    let telemetry: Telemetry;
    const spans = new InMemorySpanExporter();
    before(() => {
      telemetry = initTelemetry('console-test', { exporter: spans });
    });
    after(async () => {
      await telemetry?.shutdown();
      // Leave the global API as other suites expect it: no-op.
      metrics.disable();
      trace.disable();
      context.disable();
      propagation.disable();
    });

    it('a turn’s TurnStarted carries the trace id its exported spans have', async () => {
      await fetch(`${mesh.url}/api/agents`, json({
        agent: { id: 'traced', tools: [{ name: 'add' }], model: { provider: 'scripted', script: [{ events: [{ toolCall: { name: 'add', arguments: { a: 1, b: 2 } } }] }, { events: [{ text: 'three' }] }] } },
      }));
      const turn = (await collectServerSentEvents(await fetch(`${mesh.url}/api/agents/traced/messages`, json({ content: 'add' })))).filter((e) => e.event === 'message');
      const turnTraceId = turn.find((e) => e.data.turnStarted)!.data.turnStarted.traceId as string;
      assert.match(turnTraceId, /^[0-9a-f]{32}$/);
      // The turn's span ends just after its last event.
      for (let i = 0; i < 100 && !spans.getFinishedSpans().some((s) => s.name === 'invoke_agent'); i++) await new Promise((r) => setTimeout(r, 20));
      const finished = spans.getFinishedSpans();
      const invokeAgent = finished.filter((s) => s.name === 'invoke_agent');
      assert.equal(invokeAgent.length, 1);
      assert.equal(invokeAgent[0]!.spanContext().traceId, turnTraceId, 'the turn span is in the trace the event names');
      assert.ok(finished.some((s) => s.name === 'execute_tool add' && s.spanContext().traceId === turnTraceId), 'and so is its tool call');
      // Durable: the thread's stored events (what a reloaded page re-reads) name the trace too.
      const threadId = turn[0]!.data.threadId as string;
      const replayed = (await collectServerSentEvents(await fetch(`${mesh.url}/api/threads/${threadId}/events`))).filter((e) => e.event === 'message');
      assert.equal(replayed.find((e) => e.data.turnStarted)?.data.turnStarted.traceId, turnTraceId);
    });

    it('a run’s RunStarted carries the trace id of its spans', async () => {
      spans.reset();
      const created = await fetch(`${mesh.url}/api/chains`, json({ chain: { id: 'traced-sum', root: { id: 'sum', tool: { tool: 'add', input: '{"a": run.x, "b": 1}' } } } }));
      assert.equal(created.status, 200, await created.clone().text());
      const run = (await collectServerSentEvents(await fetch(`${mesh.url}/api/chains/traced-sum/runs`, json({ input: { x: 2 } })))).filter((e) => e.event === 'message');
      assert.equal(run.at(-1)!.data.runCompleted?.output?.sum, 3, JSON.stringify(run.at(-1)));
      const runTraceId = run.find((e) => e.data.runStarted)!.data.runStarted.traceId as string;
      assert.match(runTraceId, /^[0-9a-f]{32}$/);
      const finished = spans.getFinishedSpans();
      const runChain = finished.find((s) => s.name === 'elixirchain.chain.v1.ChainService/RunChain')!;
      assert.equal(runChain.spanContext().traceId, runTraceId, 'the RunChain call’s span is in the trace the event names');
      const invoke = finished.filter((s) => s.name === 'elixirchain.sandbox.v1.ToolSandboxService/InvokeTool' && s.kind === 1);
      assert.ok(invoke.length > 0 && invoke.every((s) => s.spanContext().traceId === runTraceId), 'and so is its tool step, served by tool-sandbox');
      const runId = run[0]!.data.runId as string;
      const replayed = (await collectServerSentEvents(await fetch(`${mesh.url}/api/runs/${runId}/events`))).filter((e) => e.event === 'message');
      assert.equal(replayed.find((e) => e.data.runStarted)?.data.runStarted.traceId, runTraceId, 'the run’s stored events name it too');
    });
  });
});
