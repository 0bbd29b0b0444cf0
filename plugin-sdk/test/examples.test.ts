import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startToolSandboxServer, type ToolSandboxServer } from '@elixirchain/tool-sandbox';
import { createHmac } from 'node:crypto';
import { ToolSandboxClient } from '../src/client/tool-sandbox-client.js';
import type { ToolCallEvent } from '../src/client/tool-call-event.js';
import { EXAMPLE_NAMES, EXAMPLES_DIR } from '../examples/build-examples.js';
import { runCli } from './tool-project-fixture.js';

const SIGNING_KEY = 'whsec_examples_suite_91b2';

describe('plugin-sdk examples', function () {
  this.timeout(120_000);
  let server: ToolSandboxServer;
  let client: ToolSandboxClient;

  const copies: string[] = [];
  // A copy of an example with another version, outside the workspace (given the workspace's modules).
  const copyWithVersion = (name: string, version: string): string => {
    const copy = join(tmpdir(), `${name}-${version}-${process.pid}-${Date.now()}`);
    cpSync(join(EXAMPLES_DIR, name), copy, { recursive: true, filter: (source) => !source.endsWith('/dist') });
    const entry = join(copy, 'src', 'index.ts');
    writeFileSync(entry, readFileSync(entry, 'utf8').replace("version: '1.0.0'", `version: '${version}'`));
    symlinkSync(join(EXAMPLES_DIR, '..', '..', 'node_modules'), join(copy, 'node_modules'), 'dir');
    copies.push(copy);
    return copy;
  };

  before(async () => {
    server = await startToolSandboxServer({ address: '127.0.0.1:0', secrets: { WEBHOOK_SIGNING_KEY: SIGNING_KEY }, pool: { workers: 1 } });
    client = new ToolSandboxClient(server.address);
  });
  after(async () => {
    client?.close();
    await server?.stop();
    for (const copy of copies) rmSync(copy, { recursive: true, force: true });
  });

  it('every example passes its own tests against the sandbox engine (elixirchain-tool test)', async () => {
    // Two at a time: each run starts a test runner and its own engine worker.
    const results: Array<{ name: string; code: number; json: any; stderr: string }> = [];
    for (let i = 0; i < EXAMPLE_NAMES.length; i += 2) {
      const pair = EXAMPLE_NAMES.slice(i, i + 2);
      results.push(...(await Promise.all(pair.map(async (name) => ({ name, ...(await runCli(['test', '--project', join(EXAMPLES_DIR, name)])) })))));
    }
    for (const result of results) {
      assert.equal(result.code, 0, `${result.name}: ${JSON.stringify(result.json?.error?.message ?? result.json)}\n${result.stderr}`);
      assert.ok(result.json.tests.pass >= 2, `${result.name} ran ${result.json.tests.pass} tests`);
      assert.equal(result.json.tests.fail, 0);
    }
  });

  it('calculator: publishes, runs over gRPC, and a new version swaps in live', async () => {
    const published = await runCli(['publish', '--project', join(EXAMPLES_DIR, 'calculator'), '--target', server.address]);
    assert.equal(published.code, 0, JSON.stringify(published.json));
    assert.equal(published.json.state, 'active');
    assert.equal(published.json.grantCommand, undefined);

    const result = await client.invokeTool('calculator', { expression: '(2 + 3) * 4' });
    assert.deepEqual(result.output, { expression: '(2 + 3) * 4', value: 20 });
    assert.equal(result.toolVersion, 'calculator@1.0.0');

    // 1.1.0 of the same tool: new calls get it, callers pinned to 1.0.0 keep the old one.
    const next = await runCli(['publish', '--project', copyWithVersion('calculator', '1.1.0'), '--target', server.address]);
    assert.equal(next.code, 0, JSON.stringify(next.json));
    assert.equal((await client.invokeTool('calculator', { expression: '1 + 1' })).toolVersion, 'calculator@1.1.0');
    assert.equal((await client.invokeTool('calculator', { expression: '1 + 1' }, { version: '1.0.0' })).toolVersion, 'calculator@1.0.0');
    const listed = await runCli(['list', 'calculator', '--target', server.address]);
    assert.deepEqual(listed.json.tools.map((tool: { version: string; state: string }) => `${tool.version} ${tool.state}`).sort(), ['1.0.0 active', '1.1.0 active']);
  });

  it('webhook-signer: publish names the missing secret and the grant command; after the grant it signs', async () => {
    const published = await runCli(['publish', '--project', join(EXAMPLES_DIR, 'webhook-signer'), '--target', server.address]);
    assert.equal(published.code, 0, JSON.stringify(published.json));
    assert.equal(published.json.state, 'pending_grant');
    assert.deepEqual(published.json.missingPermissions, { network: [], secrets: ['WEBHOOK_SIGNING_KEY'] });
    assert.equal(published.json.grantCommand, `npx elixirchain-tool grant webhook-signer --secret WEBHOOK_SIGNING_KEY --target ${server.address}`);
    await assert.rejects(client.invokeTool('webhook-signer', { payload: '{}', timestamp: 1 }), { code: 'FAILED_PRECONDITION' });

    const granted = await runCli(['grant', 'webhook-signer', '--secret', 'WEBHOOK_SIGNING_KEY', '--target', server.address]);
    assert.equal(granted.code, 0, JSON.stringify(granted.json));
    assert.deepEqual(granted.json.activated, ['1.0.0']);

    const invoked = await runCli(['invoke', 'webhook-signer', '--input', '{"payload":"{\\"id\\":1}","timestamp":42}', '--target', server.address]);
    assert.equal(invoked.code, 0, JSON.stringify(invoked.json));
    assert.equal(invoked.json.output.signature, createHmac('sha256', SIGNING_KEY).update('42.{"id":1}').digest('hex'));
    assert.ok(!JSON.stringify(invoked.json).includes(SIGNING_KEY));
  });

  it('prime-counter: streams progress over gRPC, a cancelled call stops, and a running call finishes on its version while a new one swaps in', async () => {
    const published = await runCli(['publish', '--project', join(EXAMPLES_DIR, 'prime-counter'), '--target', server.address]);
    assert.equal(published.code, 0, JSON.stringify(published.json));
    const events: ToolCallEvent[] = [];
    const result = await client.invokeTool('prime-counter', { limit: 500_000, chunkSize: 50_000 }, { onEvent: (event) => events.push(event) });
    assert.deepEqual(result.output, { limit: 500_000, count: 41_538, largest: 499_979 });
    assert.equal(events.filter((event) => event.type === 'progress').length, 10);

    const controller = new AbortController();
    const cancelled = client.invokeTool('prime-counter', { limit: 20_000_000, chunkSize: 20_000 }, {
      signal: controller.signal,
      onEvent: (event) => event.type === 'progress' && controller.abort(),
    });
    await assert.rejects(cancelled, { code: 'CANCELLED' });

    // Live swap: a call running when 1.1.0 is published finishes on 1.0.0; the next call gets 1.1.0.
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const inFlight = client.invokeTool('prime-counter', { limit: 5_000_000, chunkSize: 50_000 }, { onEvent: (event) => event.type === 'progress' && started() });
    await running;
    const next = await runCli(['publish', '--project', copyWithVersion('prime-counter', '1.1.0'), '--target', server.address]);
    assert.equal(next.code, 0, JSON.stringify(next.json));
    assert.equal((await client.invokeTool('prime-counter', { limit: 10 })).toolVersion, 'prime-counter@1.1.0');
    const finished = await inFlight;
    assert.equal(finished.toolVersion, 'prime-counter@1.0.0');
    assert.deepEqual(finished.output, { limit: 5_000_000, count: 348_513, largest: 4_999_999 });
  });

  it('weather: publish asks for the network grant, and the grant activates it', async () => {
    const published = await runCli(['publish', '--project', join(EXAMPLES_DIR, 'weather'), '--target', server.address]);
    assert.equal(published.code, 0, JSON.stringify(published.json));
    assert.equal(published.json.state, 'pending_grant');
    assert.match(published.json.grantCommand, /grant weather --network api\.open-meteo\.com --target /);
    const granted = await runCli(['grant', 'weather', '--network', 'api.open-meteo.com', '--target', server.address]);
    assert.equal(granted.code, 0);
    assert.equal((await client.getTool('weather')).state, 'active');
  });
});
