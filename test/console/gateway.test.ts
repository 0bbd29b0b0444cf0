import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browserClientOptions, startConsoleGateway } from '@elixirchain/console';
import { startConsoleMesh, type ConsoleMesh } from './support/console-mesh.js';
import { collectServerSentEvents, readServerSentEvents, type ReadEvent } from './support/sse-reader.js';

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const kindOf = (data: Record<string, unknown>) => Object.keys(data).find((k) => !['sequence', 'threadId', 'turnId', 'time', 'runId'].includes(k));

describe('console gateway: browser JSON and Server-Sent Events over the real mesh', function () {
  this.timeout(120_000);
  let mesh: ConsoleMesh;
  let uiDir: string;

  before(async () => {
    uiDir = mkdtempSync(join(tmpdir(), 'console-ui-'));
    writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>ElixirChain console</title>');
    mesh = await startConsoleMesh({ uiDir });
    await mesh.registerTool('add', 'export default async function (input) { return { sum: input.a + input.b }; }', {
      inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
    });
    await mesh.registerTool(
      'count-slowly',
      `export default { async execute(input, ctx) {
        for (let i = 1; i <= input.to; i++) { ctx.progress(i / input.to, 'at ' + i); await new Promise((r) => setTimeout(r, 20)); }
        return { counted: input.to };
      } };`,
      { inputSchema: { type: 'object', properties: { to: { type: 'integer', minimum: 1 } }, required: ['to'] } },
    );
  });
  after(async () => {
    await mesh?.stop();
    rmSync(uiDir, { recursive: true, force: true });
  });

  it('creates and lists agents as proto3 JSON', async () => {
    const created = await fetch(`${mesh.url}/api/agents`, json({ agent: { id: 'lister', displayName: 'Lister', instructions: 'be brief' } }));
    assert.equal(created.status, 200);
    const body = (await created.json()) as { agent: { id: string; version: number; createTime: string } };
    assert.equal(body.agent.id, 'lister');
    assert.equal(body.agent.version, 1);
    assert.ok(!Number.isNaN(Date.parse(body.agent.createTime)), 'timestamps are RFC 3339 strings');
    const listed = (await (await fetch(`${mesh.url}/api/agents?pageSize=50`)).json()) as { agents: { id: string }[] };
    assert.ok(listed.agents.some((a) => a.id === 'lister'));
    const updated = await fetch(`${mesh.url}/api/agents/lister`, { ...json({ agent: { instructions: 'be very brief' }, updateMask: 'instructions' }), method: 'PATCH' });
    assert.equal(((await updated.json()) as { agent: { version: number } }).agent.version, 2);
    const v1 = (await (await fetch(`${mesh.url}/api/agents/lister?version=1`)).json()) as { agent: { instructions: string } };
    assert.equal(v1.agent.instructions, 'be brief');
  });

  it('maps gRPC errors to HTTP statuses with the code, reason and field violations', async () => {
    const bad = await fetch(`${mesh.url}/api/agents`, json({ agent: { id: 'Not Valid', limits: { mailboxCapacity: -1 } } }));
    assert.equal(bad.status, 400);
    const badBody = (await bad.json()) as { error: { code: number; codeName: string; fieldViolations: { field: string }[] } };
    assert.equal(badBody.error.codeName, 'INVALID_ARGUMENT');
    assert.equal(badBody.error.code, 3);
    assert.deepEqual(badBody.error.fieldViolations.map((v) => v.field).sort(), ['agent.id', 'agent.limits.mailbox_capacity']);

    const missing = await fetch(`${mesh.url}/api/agents/nobody-here`);
    assert.equal(missing.status, 404);
    const missingBody = (await missing.json()) as { error: { codeName: string; reason: string } };
    assert.equal(missingBody.error.codeName, 'NOT_FOUND');
    assert.equal(missingBody.error.reason, 'AGENT_NOT_FOUND');

    const duplicate = await fetch(`${mesh.url}/api/agents`, json({ agent: { id: 'lister' } }));
    assert.equal(duplicate.status, 409);

    const malformed = await fetch(`${mesh.url}/api/agents`, { method: 'POST', body: '{not json' });
    assert.equal(malformed.status, 400);
    assert.equal(((await malformed.json()) as { error: { fieldViolations: { field: string }[] } }).error.fieldViolations[0]!.field, 'body');

    const unknown = await fetch(`${mesh.url}/api/nothing-here`);
    assert.equal(unknown.status, 404);
    const wrongMethod = await fetch(`${mesh.url}/api/agents/lister`, { method: 'POST' });
    assert.equal(wrongMethod.status, 405);
  });

  it('streams a chat turn with a tool call as Server-Sent Events whose ids are the thread sequence', async () => {
    await fetch(`${mesh.url}/api/agents`, json({
      agent: {
        id: 'adder',
        tools: [{ name: 'add' }],
        model: { provider: 'scripted', script: [{ events: [{ text: 'Adding. ' }, { toolCall: { name: 'add', arguments: { a: 2, b: 3 } } }] }, { events: [{ text: 'The sum is 5.', chunkSize: 3 }] }] },
      },
    }));
    const response = await fetch(`${mesh.url}/api/agents/adder/messages`, json({ content: 'add 2 and 3' }));
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    const events = await collectServerSentEvents(response);
    assert.equal(events.at(-1)?.event, 'end');
    const thread = events.filter((e) => e.event === 'message');
    assert.deepEqual(thread.map((e) => Number(e.id)), thread.map((e) => e.data.sequence), 'SSE id = sequence');
    const kinds = thread.map((e) => kindOf(e.data));
    assert.equal(kinds[0], 'turnStarted');
    assert.ok(kinds.indexOf('toolCallStarted') < kinds.indexOf('toolCallCompleted'));
    assert.equal(kinds.at(-1), 'turnCompleted');
    const completed = thread.find((e) => e.data.toolCallCompleted)!.data.toolCallCompleted;
    assert.deepEqual(completed.result, { sum: 5 });
    const text = thread.filter((e) => e.data.textDelta).map((e) => e.data.textDelta.text).join('');
    assert.equal(text, 'Adding. The sum is 5.');
    assert.equal(thread.at(-1)!.data.turnCompleted.status, 'TURN_STATUS_COMPLETED');

    // The thread's history, a page at a time, as the threads page reads it.
    const threadId = thread[0]!.data.threadId as string;
    const first = (await (await fetch(`${mesh.url}/api/threads/${threadId}/messages?pageSize=3`)).json()) as { messages: { role: string }[]; nextPageToken: string };
    assert.equal(first.messages.length, 3);
    assert.ok(first.nextPageToken);
    const second = (await (await fetch(`${mesh.url}/api/threads/${threadId}/messages?pageSize=3&pageToken=${encodeURIComponent(first.nextPageToken)}`)).json()) as { messages: { role: string }[]; nextPageToken?: string };
    assert.deepEqual([...first.messages, ...second.messages].map((m) => m.role), ['ROLE_USER', 'ROLE_ASSISTANT', 'ROLE_TOOL', 'ROLE_ASSISTANT']);
    assert.ok(!second.nextPageToken);
    const listed = (await (await fetch(`${mesh.url}/api/threads?agentId=adder`)).json()) as { threads: { threadId: string; messageCount: number }[] };
    assert.deepEqual(listed.threads.map((t) => [t.threadId, t.messageCount]), [[threadId, 4]]);
  });

  it('re-attaches to a running turn with Last-Event-ID and gets exactly the rest', async () => {
    await fetch(`${mesh.url}/api/agents`, json({
      agent: { id: 'slow-talker', model: { provider: 'scripted', script: [{ events: [{ text: 'one two three four five six seven eight nine ten', chunkSize: 4, delay: { seconds: 0, nanos: 50_000_000 } }, { text: ' done', delay: { seconds: 1, nanos: 0 } }] }] } },
    }));
    const first = new AbortController();
    const response = await fetch(`${mesh.url}/api/agents/slow-talker/messages`, { ...json({ content: 'count' }), signal: first.signal });
    const seen: ReadEvent[] = [];
    for await (const event of readServerSentEvents(response)) {
      seen.push(event);
      if (event.data.textDelta) break;
    }
    first.abort();
    const threadId = seen[0]!.data.threadId as string;
    const lastId = seen.at(-1)!.id!;
    const again = await fetch(`${mesh.url}/api/threads/${threadId}/events`, { headers: { 'last-event-id': lastId } });
    const rest = (await collectServerSentEvents(again)).filter((e) => e.event === 'message');
    assert.ok(rest.length > 0);
    assert.ok(rest.every((e) => e.data.sequence > Number(lastId)), 'nothing before Last-Event-ID is replayed');
    const all = [...seen, ...rest].map((e) => e.data.sequence as number);
    assert.deepEqual(all, Array.from({ length: all.length }, (_, i) => i + 1), 'no gap, no duplicate');
    assert.equal(rest.at(-1)!.data.turnCompleted?.status, 'TURN_STATUS_COMPLETED');
    const text = [...seen, ...rest].filter((e) => e.data.textDelta).map((e) => e.data.textDelta.text).join('');
    assert.equal(text, 'one two three four five six seven eight nine ten done');
  });

  it('invokes a tool with a live progress stream, and reports a bad input as an error event', async () => {
    const ok = await collectServerSentEvents(await fetch(`${mesh.url}/api/tools/count-slowly/invoke`, json({ input: { to: 3 } })));
    const kinds = ok.filter((e) => e.event === 'message').map((e) => kindOf(e.data));
    assert.deepEqual(kinds, ['started', 'progress', 'progress', 'progress', 'result']);
    assert.deepEqual(ok.find((e) => e.data.result)!.data.result.output, { counted: 3 });
    const tool = (await (await fetch(`${mesh.url}/api/tools/count-slowly`)).json()) as { tool: { manifest: { inputSchema: { required: string[] } }; state: string } };
    assert.deepEqual(tool.tool.manifest.inputSchema.required, ['to']);
    assert.equal(tool.tool.state, 'TOOL_STATE_ACTIVE');

    const badResponse = await fetch(`${mesh.url}/api/tools/count-slowly/invoke`, json({ input: { to: 'many' } }));
    if (badResponse.status === 200) {
      // The sandbox reports it as the call's error event.
      const last = (await collectServerSentEvents(badResponse)).filter((e) => e.event !== 'end').at(-1)!;
      const code = last.event === 'error' ? last.data.error.code : last.data.error?.status?.code;
      assert.equal(code, 3, `got ${JSON.stringify(last)}`);
    } else {
      assert.equal(badResponse.status, 400);
      assert.equal(((await badResponse.json()) as { error: { codeName: string } }).error.codeName, 'INVALID_ARGUMENT');
    }
  });

  it('runs a chain as a stream of run events and lists the run with a status filter', async () => {
    const created = await fetch(`${mesh.url}/api/chains`, json({
      chain: {
        id: 'sum-then-double',
        root: { id: 'main', sequential: { steps: [{ id: 'sum', tool: { tool: 'add', input: '{"a": run.x, "b": run.y}' } }, { id: 'double', transform: { expression: 'steps.sum.sum * 2.0' } }] } },
      },
    }));
    assert.equal(created.status, 200, await created.clone().text());
    const events = await collectServerSentEvents(await fetch(`${mesh.url}/api/chains/sum-then-double/runs`, json({ input: { x: 4, y: 5 } })));
    const run = events.filter((e) => e.event === 'message');
    assert.equal(kindOf(run[0]!.data), 'runStarted');
    assert.equal(kindOf(run.at(-1)!.data), 'runCompleted', JSON.stringify(run.at(-1)));
    assert.equal(run.at(-1)!.data.runCompleted.output, 18);
    const runId = run[0]!.data.runId as string;
    const listed = (await (await fetch(`${mesh.url}/api/runs?chainId=sum-then-double&status=RUN_STATUS_SUCCEEDED`)).json()) as { runs: { id: string; steps: { stepId: string; status: string }[] }[] };
    assert.deepEqual(listed.runs.map((r) => r.id), [runId]);
    const replay = (await collectServerSentEvents(await fetch(`${mesh.url}/api/runs/${runId}/events`, { headers: { 'last-event-id': '1' } }))).filter((e) => e.event === 'message');
    assert.deepEqual(replay.map((e) => e.data.sequence), run.slice(1).map((e) => e.data.sequence));
    const none = (await (await fetch(`${mesh.url}/api/runs?status=RUN_STATUS_FAILED&chainId=sum-then-double`)).json()) as { runs?: unknown[] };
    assert.deepEqual(none.runs ?? [], []);
  });

  it('cancels a running turn, and answers a busy thread with ON_BUSY_REJECT as an HTTP error before any event', async () => {
    await fetch(`${mesh.url}/api/agents`, json({
      agent: { id: 'long-talker', model: { provider: 'scripted', script: [{ events: Array.from({ length: 40 }, (_, i) => ({ text: `w${i} `, delay: { seconds: 0, nanos: 100_000_000 } })) }] } },
    }));
    const response = await fetch(`${mesh.url}/api/agents/long-talker/messages`, json({ content: 'talk' }));
    const events: ReadEvent[] = [];
    let threadId = '';
    for await (const event of readServerSentEvents(response)) {
      events.push(event);
      if (event.event !== 'message') continue;
      threadId ||= event.data.threadId;
      if (event.data.textDelta && events.filter((e) => e.data.textDelta).length === 1) {
        const busy = await fetch(`${mesh.url}/api/agents/long-talker/messages`, json({ content: 'again', threadId, onBusy: 'ON_BUSY_REJECT' }));
        assert.equal(busy.status, 400);
        const body = (await busy.json()) as { error: { codeName: string; reason: string } };
        assert.deepEqual([body.error.codeName, body.error.reason], ['FAILED_PRECONDITION', 'THREAD_BUSY']);
        const cancelled = await fetch(`${mesh.url}/api/threads/${threadId}/cancel`, json({ reason: 'enough' }));
        assert.equal(((await cancelled.json()) as { cancelled: boolean }).cancelled, true);
      }
    }
    const last = events.filter((e) => e.event === 'message').at(-1)!;
    assert.equal(last.data.turnCompleted?.status, 'TURN_STATUS_CANCELLED');
    assert.ok(events.filter((e) => e.data.textDelta).length < 40, 'the turn stopped early');
  });

  it('shows a tool waiting for a grant, grants what it asks, and revokes it', async () => {
    await mesh.registerTool('fetch-weather', 'export default async function () { return { sunny: true }; }', { permissions: { networkHosts: ['api.weather.example'], secrets: ['WEATHER_KEY'] } }, { grant: false });
    const before = (await (await fetch(`${mesh.url}/api/tools/fetch-weather`)).json()) as { tool: { state: string; missingPermissions: { networkHosts: string[]; secrets: string[] } } };
    assert.equal(before.tool.state, 'TOOL_STATE_PENDING_GRANT');
    assert.deepEqual(before.tool.missingPermissions, { networkHosts: ['api.weather.example'], secrets: ['WEATHER_KEY'] });
    const granted = await fetch(`${mesh.url}/api/tools/fetch-weather/grant`, json({ permissions: before.tool.missingPermissions }));
    assert.equal(granted.status, 200);
    assert.deepEqual(((await granted.json()) as { activated: { state: string }[] }).activated.map((t) => t.state), ['TOOL_STATE_ACTIVE']);
    const grants = (await (await fetch(`${mesh.url}/api/grants`)).json()) as { grants: { toolName: string; permissions: { secrets: string[] } }[] };
    assert.deepEqual(grants.grants.find((g) => g.toolName === 'fetch-weather')?.permissions.secrets, ['WEATHER_KEY']);
    await fetch(`${mesh.url}/api/tools/fetch-weather/revoke`, json({}));
    const after = (await (await fetch(`${mesh.url}/api/tools/fetch-weather`)).json()) as { tool: { state: string } };
    assert.equal(after.tool.state, 'TOOL_STATE_PENDING_GRANT');
  });

  it('answers a stream that fails at once with its HTTP status, not an empty event stream', async () => {
    const missing = await fetch(`${mesh.url}/api/agents/nobody/messages`, json({ content: 'hi' }));
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { reason: string } }).error.reason, 'AGENT_NOT_FOUND');
    const noRun = await fetch(`${mesh.url}/api/runs/run-${'0'.repeat(24)}/events`);
    assert.equal(noRun.status, 404);
  });

  it('listens on loopback only unless the mesh authenticates, and never calls with the process\'s service credentials', async () => {
    const services = { memory: '127.0.0.1:1', toolSandbox: '127.0.0.1:1', agentHost: '127.0.0.1:1', chainExecutor: '127.0.0.1:1' };
    await assert.rejects(startConsoleGateway({ address: '0.0.0.0:0', services, env: {} }), /refusing to serve the console on 0\.0\.0\.0:0 without authentication/);
    const open = await startConsoleGateway({ address: '0.0.0.0:0', services, env: { ELIXIRCHAIN_AUTH: 'required' } });
    await open.stop();
    const options = browserClientOptions({ ELIXIRCHAIN_SERVICE_TOKEN: 'svc-secret', ELIXIRCHAIN_TLS_CA_FILE: '/ca.pem', ELIXIRCHAIN_TLS_CERT_FILE: '/svc.pem', ELIXIRCHAIN_TLS_KEY_FILE: '/svc.key' });
    assert.deepEqual(options, { tls: { caFile: '/ca.pem' }, metadata: { authorization: '' } });
  });

  it('starts a run, cancels it, and lists it as cancelled', async () => {
    const created = await fetch(`${mesh.url}/api/chains`, json({ chain: { id: 'long-count', root: { id: 'count', tool: { tool: 'count-slowly', input: '{"to": 200}' } } } }));
    assert.equal(created.status, 200);
    const started = (await (await fetch(`${mesh.url}/api/chains/long-count/start`, json({ input: {} }))).json()) as { run: { id: string } };
    const runId = started.run.id;
    const watch = fetch(`${mesh.url}/api/runs/${runId}/events`).then(collectServerSentEvents);
    const cancelled = (await (await fetch(`${mesh.url}/api/runs/${runId}/cancel`, json({ reason: 'not needed' }))).json()) as { run: { status: string } };
    assert.ok(['RUN_STATUS_CANCELLED', 'RUN_STATUS_RUNNING'].includes(cancelled.run.status));
    const events = (await watch).filter((e) => e.event === 'message');
    assert.match(events.at(-1)!.data.runCancelled?.reason ?? '', /not needed/);
    const listed = (await (await fetch(`${mesh.url}/api/runs?chainId=long-count&status=RUN_STATUS_CANCELLED`)).json()) as { runs: { id: string }[] };
    assert.deepEqual(listed.runs.map((r) => r.id), [runId]);
  });

  it('serves the UI build with client-side routes falling back to index.html, and nothing outside it', async () => {
    const index = await fetch(`${mesh.url}/chat/adder`);
    assert.equal(index.status, 200);
    assert.match(await index.text(), /ElixirChain console/);
    const escape = await fetch(`${mesh.url}/..%2f..%2fetc/passwd`);
    assert.doesNotMatch(await escape.text(), /root:/);
  });
});
