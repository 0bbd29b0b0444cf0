import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { connect, initTelemetry, type Telemetry } from '@elixirchain/runtime';
import { buildUi } from '@elixirchain/console';
import { startConsoleMesh, type ConsoleMesh } from './support/console-mesh.js';

// Debian's chromium (console/scripts/install-browser.sh, run by .ci/run); Playwright's own browser download cannot work here.
const CHROMIUM = process.env.ELIXIRCHAIN_CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const UI_TIMEOUT = 30_000;
/** Where the console says Jaeger is: turns and runs link to <JAEGER>/trace/<trace id>. */
const JAEGER = 'http://jaeger.test:16686';

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('console in a browser (Playwright + Debian chromium) against the real mesh', function () {
  this.timeout(180_000);
  let mesh: ConsoleMesh;
  let browser: Browser;
  let page: Page;
  let uiDir: string;
  // Tracing on, as in the compose stack: the links must name the trace the spans were exported in.
  const spans = new InMemorySpanExporter();
  let telemetry: Telemetry | undefined;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.warn(`    skipping the console browser tests: no chromium at ${CHROMIUM} (bash console/scripts/install-browser.sh installs Debian's, or set ELIXIRCHAIN_CHROMIUM_PATH)`);
      this.skip();
    }
    // This run's screenshots only.
    rmSync(ARTIFACTS, { recursive: true, force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    // A fresh build of the UI as it is now, not whatever console/ui/dist holds (~2 s).
    uiDir = mkdtempSync(join(tmpdir(), 'console-ui-build-'));
    await buildUi({ outDir: uiDir });
    telemetry = initTelemetry('console-browser-test', { exporter: spans });
    mesh = await startConsoleMesh({ uiDir, gateway: { jaegerUrl: JAEGER } });
    await mesh.registerTool('add', 'export default async function (input) { return { sum: input.a + input.b }; }', {
      description: 'Adds two numbers',
      inputSchema: { type: 'object', properties: { a: { type: 'number', description: 'first addend' }, b: { type: 'number', description: 'second addend' } }, required: ['a', 'b'] },
    });
    await mesh.registerTool('wipe', 'export default async function (input) { return { wiped: input.path }; }', {
      description: 'Deletes a path (destructive)',
      inputSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
      annotations: { destructive: true, readOnly: false, idempotent: false, openWorld: false },
    });
    await mesh.registerTool(
      'count-slowly',
      `export default { async execute(input, ctx) {
        for (let i = 1; i <= input.to; i++) { ctx.progress(i / input.to, 'counted ' + i); await new Promise((r) => setTimeout(r, 150)); }
        return { counted: input.to, label: input.label ?? null };
      } };`,
      {
        description: 'Counts to a number, reporting progress',
        inputSchema: { type: 'object', properties: { to: { type: 'integer', minimum: 1, description: 'how far to count' }, label: { type: 'string' }, loud: { type: 'boolean' } }, required: ['to'] },
      },
    );
    const chain = await post(`${mesh.url}/api/chains`, {
      chain: {
        id: 'sum-then-double',
        displayName: 'Sum, then double',
        root: {
          id: 'main',
          sequential: {
            steps: [
              { id: 'sum', tool: { tool: 'add', input: '{"a": run.x, "b": run.y}' } },
              { id: 'count', tool: { tool: 'count-slowly', input: '{"to": 3}' } },
              { id: 'both', parallel: { branches: [{ id: 'double', transform: { expression: 'steps.sum.sum * 2.0' } }, { id: 'square', transform: { expression: 'steps.sum.sum * steps.sum.sum' } }] } },
            ],
          },
        },
      },
    });
    assert.equal(chain.status, 200, await chain.text());
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.setDefaultTimeout(UI_TIMEOUT);
  });

  after(async () => {
    await browser?.close();
    await mesh?.stop();
    if (uiDir) rmSync(uiDir, { recursive: true, force: true });
    await telemetry?.shutdown();
    // Leave the global API as other suites expect it: no-op.
    metrics.disable();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  /** The trace id in a "trace" link, checked against the spans exported under that name. */
  async function tracedLinkId(link: ReturnType<Page['locator']>, spanName: string | RegExp): Promise<string> {
    const target = await link.getAttribute('href');
    const id = new RegExp(`^${JAEGER}/trace/([0-9a-f]{32})$`).exec(target ?? '')?.[1];
    assert.ok(id, `a link to Jaeger, got ${target}`);
    assert.equal(await link.getAttribute('target'), '_blank');
    const exported = () => spans.getFinishedSpans().some((s) => (typeof spanName === 'string' ? s.name === spanName : spanName.test(s.name)) && s.spanContext().traceId === id);
    // A span is exported when it ends, which can be just after the last event the page shows.
    for (let i = 0; i < 100 && !exported(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(exported(), `a ${spanName} span exported in trace ${id}`);
    return id;
  }

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  it('shows every service SERVING on the mesh health page', async () => {
    await page.goto(`${mesh.url}/#/health`);
    await page.locator('[data-service="chain-executor"] .badge', { hasText: 'SERVING' }).waitFor();
    assert.equal(await page.locator('.card .badge', { hasText: 'SERVING' }).count(), 4);
    await shot('01-health');
  });

  it('shows every replica of every service live: agents, mailboxes, the sandbox pool, runs, caches', async () => {
    await page.goto(`${mesh.url}/#/health`);
    const agentHost = page.getByRole('table', { name: 'Replicas of agent-host' });
    await agentHost.locator('tr[data-state="up"]').waitFor();
    for (const service of ['memory', 'tool-sandbox', 'agent-host', 'chain-executor']) {
      assert.equal(await page.getByRole('table', { name: `Replicas of ${service}` }).locator('tbody tr[data-state="up"]').count(), 1, service);
    }
    assert.match(await agentHost.locator('[data-gauge="Mailboxes (total / deepest)"]').innerText(), /^0 \/ 0$/);
    assert.match(await page.getByRole('table', { name: 'Replicas of tool-sandbox' }).locator('[data-gauge="Workers (busy / ready / alive)"]').innerText(), /^0 \/ [1-9]\d* \/ [1-9]\d*$/);
    assert.match(await page.getByRole('table', { name: 'Replicas of memory' }).locator('[data-gauge="Store"]').innerText(), /sqlite/);
    // Live: the next snapshot arrives by itself (every 2 s).
    const status = page.getByRole('status').filter({ hasText: 'Live: read' });
    const first = await status.innerText();
    await page.waitForFunction((before) => [...document.querySelectorAll('[role="status"]')].some((el) => el.textContent?.startsWith('Live: read') && el.textContent !== before), first);
    await shot('01b-health-replicas');
  });

  it('creates an agent from the form, with a validation error shown first', async () => {
    await page.goto(`${mesh.url}/#/agents/new`);
    await page.getByLabel('Id', { exact: true }).fill('Bad Id');
    await page.getByRole('button', { name: 'Create agent' }).click();
    await page.locator('#agent-id-error').waitFor();
    await page.getByLabel('Id', { exact: true }).fill('adder');
    await page.getByLabel('Display name').fill('Adder');
    await page.getByLabel('Instructions').fill('Add numbers with the add tool.');
    await page.getByLabel('Model provider').selectOption('scripted');
    await page.getByLabel('Tools', { exact: true }).fill('add');
    await page.getByLabel('Scripted model responses (JSON)').fill(JSON.stringify([
      { events: [{ text: 'Let me add those. ' }, { toolCall: { name: 'add', arguments: { a: 2, b: 3 } } }] },
      { events: [{ text: 'The sum is 5.', chunkSize: 2 }] },
    ]));
    await page.getByRole('button', { name: 'Create agent' }).click();
    await page.getByRole('heading', { name: 'Adder' }).waitFor();
    await page.getByRole('link', { name: 'Adder' }).waitFor();
    await shot('02-agents');
    // Edit makes version 2; version 1 stays readable.
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByLabel('Instructions').fill('Add numbers with the add tool. Be brief.');
    await page.getByRole('button', { name: 'Save new version' }).click();
    await page.locator('#agent-version').locator('option', { hasText: 'v2 (current)' }).waitFor({ state: 'attached' });
    await page.locator('.summary dd', { hasText: 'Be brief.' }).waitFor();
    await page.locator('#agent-version').selectOption('1');
    await page.locator('.summary dd', { hasText: /^Add numbers with the add tool\.$/ }).waitFor();
  });

  it('chats with the agent: streamed tokens and a tool call with its result', async () => {
    await page.goto(`${mesh.url}/#/chat/adder`);
    await page.getByLabel('Message').fill('What is 2 + 3?');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('[data-testid="assistant-text"]', { hasText: 'The sum is 5.' }).waitFor();
    await page.locator('.tool-call[data-tool="add"][data-done="yes"]').waitFor();
    // In the order it happened: the first words, the tool call, then the answer.
    const order = await page.locator('.turn > .bubble.assistant, .turn > .tool-call').evaluateAll((els) => els.map((el) => (el.classList.contains('tool-call') ? 'tool' : el.textContent?.replace(/^Agent/, '').trim())));
    assert.deepEqual(order, ['Let me add those.', 'tool', 'The sum is 5.']);
    assert.match(await page.locator('.tool-call[data-tool="add"]').innerText(), /"sum": 5/);
    await page.locator('.turn[data-status="TURN_STATUS_COMPLETED"]').waitFor();
    assert.match(await page.locator('.bubble.user').innerText(), /What is 2 \+ 3\?/);
    assert.match(page.url(), /#\/chat\/adder\/[^/]+$/, 'the thread is in the URL');
    // Tracing is on and the console knows Jaeger: the turn links to its trace.
    await tracedLinkId(page.locator('.turn').last().getByRole('link', { name: /Trace of this turn/ }), 'invoke_agent');
    await shot('03-chat-tool-call');
  });

  it('shows a tool call\'s progress live in the chat', async () => {
    await post(`${mesh.url}/api/agents`, {
      agent: { id: 'counter', tools: [{ name: 'count-slowly' }], model: { provider: 'scripted', script: [{ events: [{ toolCall: { name: 'count-slowly', arguments: { to: 10 } } }] }, { events: [{ text: 'Counted to 10.' }] }] } },
    });
    await page.goto(`${mesh.url}/#/chat/counter`);
    await page.getByLabel('Message').fill('count to ten');
    await page.getByRole('button', { name: 'Send' }).click();
    const call = page.locator('.tool-call[data-tool="count-slowly"]');
    await call.getByLabel('Tool progress').waitFor();
    await call.getByText(/counted \d+/).waitFor();
    await shot('03b-chat-tool-progress');
    await page.locator('[data-testid="assistant-text"]', { hasText: 'Counted to 10.' }).waitFor();
    assert.match(await call.innerText(), /"counted": 10/);
  });

  it('approves a destructive tool call inline', async () => {
    const created = await post(`${mesh.url}/api/agents`, {
      agent: {
        id: 'cleaner',
        tools: [{ name: 'wipe' }],
        model: { provider: 'scripted', script: [{ events: [{ toolCall: { name: 'wipe', arguments: { path: '/tmp/old-logs' } } }] }, { events: [{ text: 'Wiped /tmp/old-logs.' }] }] },
      },
    });
    assert.equal(created.status, 200);
    await page.goto(`${mesh.url}/#/chat/cleaner`);
    await page.getByLabel('Message').fill('clean up the old logs');
    await page.getByRole('button', { name: 'Send' }).click();
    const approval = page.getByRole('group', { name: 'Approval for wipe' });
    await approval.getByRole('button', { name: 'Approve' }).waitFor();
    await shot('04-approval-pending');
    await approval.getByRole('button', { name: 'Approve' }).click();
    await approval.getByText('Approved').waitFor();
    await page.locator('[data-testid="assistant-text"]', { hasText: 'Wiped /tmp/old-logs.' }).waitFor();
    assert.match(await page.locator('.tool-call[data-tool="wipe"]').innerText(), /"wiped": "\/tmp\/old-logs"/);
    await shot('05-approval-approved');
  });

  it('re-attaches after a reload mid-stream and shows the rest of the turn', async () => {
    const words = Array.from({ length: 24 }, (_, i) => `word${i + 1} `);
    await post(`${mesh.url}/api/agents`, {
      agent: { id: 'storyteller', model: { provider: 'scripted', script: [{ events: words.map((w) => ({ text: w, delay: { seconds: 0, nanos: 250_000_000 } })) }] } },
    });
    await page.goto(`${mesh.url}/#/chat/storyteller`);
    await page.getByLabel('Message').fill('tell me a long story');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('[data-testid="assistant-text"]', { hasText: 'word3 ' }).waitFor();
    await page.waitForURL(/#\/chat\/storyteller\/.+/);
    await page.reload();
    const text = page.locator('[data-testid="assistant-text"]');
    await text.waitFor();
    const seenAfterReload = await text.innerText();
    assert.ok(!seenAfterReload.includes('word24'), `the reload happened mid-stream (saw "${seenAfterReload}")`);
    await page.locator('.turn[data-status="TURN_STATUS_COMPLETED"]').waitFor();
    assert.equal((await text.innerText()).replace(/^Agent\s*/, '').trim(), words.join('').trim(), 'every word once, in order');
    assert.match(await page.locator('.bubble.user').innerText(), /tell me a long story/, 'the user message is restored from the thread');
    await shot('06-chat-reattached');
  });

  it('cancels a running turn from the chat', async () => {
    await post(`${mesh.url}/api/agents`, {
      agent: { id: 'rambler', model: { provider: 'scripted', script: [{ events: Array.from({ length: 60 }, (_, i) => ({ text: `r${i} `, delay: { seconds: 0, nanos: 150_000_000 } })) }] } },
    });
    await page.goto(`${mesh.url}/#/chat/rambler`);
    await page.getByLabel('Message').fill('ramble on');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('[data-testid="assistant-text"]', { hasText: 'r2 ' }).waitFor();
    await page.getByRole('button', { name: 'Cancel turn' }).click();
    await page.locator('.turn[data-status="TURN_STATUS_CANCELLED"]').waitFor();
    assert.ok(!(await page.locator('[data-testid="assistant-text"]').innerText()).includes('r59'), 'the turn stopped early');
    await shot('07-chat-cancelled');
  });

  it('runs a chain from its graph and watches the run timeline complete', async () => {
    await page.goto(`${mesh.url}/#/chains/sum-then-double`);
    await page.locator('.step[data-step="square"]').waitFor();
    await shot('08-chain-graph');
    await page.getByLabel('Run input (JSON)').fill('{"x": 4, "y": 5}');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/#\/runs\/run-/);
    await page.locator('[data-testid="run-status"]', { hasText: 'succeeded' }).waitFor();
    await page.locator('tr[data-step="count"][data-status="STEP_STATUS_SUCCEEDED"]').waitFor();
    assert.equal(await page.locator('tr[data-step][data-status="STEP_STATUS_SUCCEEDED"]').count(), await page.locator('tr[data-step]').count());
    assert.match(await page.getByLabel('Run output').innerText(), /18/);
    await tracedLinkId(page.getByRole('link', { name: /Trace of this run/ }), 'elixirchain.sandbox.v1.ToolSandboxService/InvokeTool');
    await shot('09-run-timeline');
    await page.getByLabel('Status').selectOption('RUN_STATUS_FAILED');
    await page.getByText('No runs match.').waitFor();
  });

  it('creates a chain from the form, with the service’s validation error next to the definition, then edits it', async () => {
    await page.goto(`${mesh.url}/#/chains/new`);
    await page.getByLabel('Id', { exact: true }).fill('halver');
    await page.getByLabel('Display name').fill('Halver');
    const definition = page.getByLabel('Definition: the root step (JSON)');
    await definition.fill('{"id": "half", "transform": {"expression": "run.x / "}}');
    await page.getByRole('button', { name: 'Create chain' }).click();
    // CEL is the chain executor's to judge: its field violation lands under the definition, with the path in it.
    const problem = page.locator('#chain-definition-error');
    await problem.waitFor();
    assert.match(await problem.innerText(), /transform\.expression: invalid CEL/);
    assert.equal(await definition.getAttribute('aria-invalid'), 'true');
    await shot('08b-chain-invalid');
    await definition.fill('{"id": "half", "transform": {"expression": "run.x / 2.0"}}');
    await page.getByRole('button', { name: 'Create chain' }).click();
    await page.waitForURL(/#\/chains\/halver$/);
    await page.locator('.step[data-step="half"]').waitFor();
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByLabel('Display name').fill('Halver, renamed');
    await definition.fill('{"id": "main", "sequential": {"steps": [{"id": "half", "transform": {"expression": "run.x / 2.0"}}, {"id": "more", "transform": {"expression": "steps.half + 1.0"}}]}}');
    await page.getByRole('button', { name: 'Save new version' }).click();
    await page.getByRole('heading', { name: /Halver, renamed v2/ }).waitFor();
    await page.locator('.step[data-step="more"]').waitFor();
    await shot('08c-chain-edited');
  });

  it('invokes a tool from the form generated from its input schema, with live progress', async () => {
    await page.goto(`${mesh.url}/#/tools/count-slowly`);
    await page.getByRole('table', { name: 'Input' }).waitFor();
    await page.getByRole('button', { name: 'Invoke' }).click();
    await page.getByText('to is required').waitFor();
    await page.getByLabel('to *').fill('4');
    await page.getByLabel('label').fill('from the console');
    await page.getByRole('button', { name: 'Invoke' }).click();
    await page.getByLabel('Invocation progress').waitFor();
    await page.locator('[data-testid="invoke-result"]').waitFor();
    assert.match(await page.getByLabel('Tool output').innerText(), /"counted": 4[\s\S]*"label": "from the console"/);
    assert.ok((await page.getByLabel('Invocation events').locator('li', { hasText: 'progress' }).count()) >= 4);
    await shot('10-tool-invoke');
  });

  it('shows permissions asked vs granted and grants what a tool is missing', async () => {
    await mesh.registerTool('weather', 'export default async function () { return { sunny: true }; }', {
      description: 'Looks up the weather',
      permissions: { networkHosts: ['api.weather.example'], secrets: ['WEATHER_KEY'] },
    }, { grant: false });
    await page.goto(`${mesh.url}/#/tools/weather`);
    const permissions = page.getByRole('table', { name: 'Permissions asked and granted' });
    await permissions.waitFor();
    assert.match(await permissions.innerText(), /network hosts\s+api\.weather\.example\s+—\s+api\.weather\.example/);
    await page.getByRole('button', { name: 'Grant what is missing' }).click();
    await permissions.locator('tr', { hasText: /^secrets\s*WEATHER_KEY\s*WEATHER_KEY\s*—$/ }).waitFor();
    await permissions.locator('tr', { hasText: /^network hosts\s*api\.weather\.example\s*api\.weather\.example\s*—$/ }).waitFor();
    await page.getByRole('table', { name: 'Tools' }).locator('tr', { hasText: 'weather' }).getByText('active').waitFor();
    await shot('10b-tool-granted');
  });

  it('pages through thread history and stays usable at a phone width, by keyboard', async () => {
    await page.goto(`${mesh.url}/#/threads/adder`);
    await page.locator('table[aria-label="Threads"] tbody a').first().click();
    await page.getByRole('list', { name: 'Messages' }).locator('li').first().waitFor();
    await shot('11-threads');
    await page.goto(`${mesh.url}/#/health`);
    await page.getByRole('table', { name: 'Agent activity' }).getByRole('link', { name: 'adder' }).waitFor();
    await shot('12-health-activity');
    // A few memories straight through the memory service, then searched in the console.
    const health = (await (await fetch(`${mesh.url}/api/health`)).json()) as { services: { service: string; address: string }[] };
    const memory = connect(MemoryServiceDefinition, health.services.find((x) => x.service === 'memory')!.address);
    try {
      await memory.upsertMemories({
        namespace: 'support-notes',
        memories: [
          { text: 'The customer asked about a refund for a double billing charge', metadata: { topic: 'billing' } },
          { text: 'Invoice emails go out on the first of each month', metadata: { topic: 'billing' } },
          { text: 'The office plants need water on Fridays', metadata: { topic: 'office' } },
        ],
      });
    } finally {
      memory.close();
    }
    await page.goto(`${mesh.url}/#/memory`);
    await page.getByRole('table', { name: 'Namespaces' }).getByText('support-notes').waitFor();
    await page.getByLabel('Query').fill('refund for a billing charge');
    await page.getByLabel('Metadata filter (JSON)').fill('{"all":[{"field":"topic","eq":"billing"}]}');
    await page.getByRole('button', { name: 'Search' }).click();
    const results = page.getByRole('table', { name: 'Search results' });
    await results.locator('tbody tr').first().waitFor();
    const rows = await results.locator('tbody tr').allInnerTexts();
    assert.ok(rows.length >= 1 && rows.length <= 2, `only billing memories (${rows.length})`);
    assert.match(rows[0]!, /refund/, 'the closest memory first');
    assert.ok(rows.every((r) => !/plants/.test(r)), 'the filter keeps office notes out');
    assert.match(rows[0]!, /\d\.\d{3}/, 'with its score');
    await shot('13-memory-search');

    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${mesh.url}/#/chat/adder`);
    // A fresh load: focus starts at the top of the document.
    await page.reload();
    await page.getByLabel('Message').waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content', 'the skip link comes first');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main', 'the skip link moves focus to the content');
    await page.getByLabel('Message').focus();
    await page.keyboard.type('2 + 3 again');
    await page.keyboard.press('Control+Enter');
    await page.locator('.turn[data-status="TURN_STATUS_COMPLETED"]').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `no horizontal scrolling at 390 px (overflow ${overflow}px)`);
    await shot('14-chat-narrow');
    // The replicas' load tables too.
    await page.goto(`${mesh.url}/#/health`);
    await page.getByRole('table', { name: 'Replicas of tool-sandbox' }).locator('tr[data-state="up"]').waitFor();
    await page.getByRole('table', { name: 'Agent activity' }).getByRole('link', { name: 'adder' }).waitFor();
    const healthOverflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(healthOverflow <= 1, `no horizontal scrolling of the mesh health page at 390 px (overflow ${healthOverflow}px)`);
    await shot('15-health-narrow');
  });
});
