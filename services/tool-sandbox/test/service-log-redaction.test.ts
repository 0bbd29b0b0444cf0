import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createSandbox, type ToolSandbox } from '../src/index.js';
import { toolFixture } from './fixtures/tool-fixture.js';

describe("the sandbox's own logs", function () {
  this.timeout(60_000);
  const lines: string[] = [];
  let sandbox: ToolSandbox;

  before(async () => {
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    sandbox = await createSandbox({ pool: { workers: 1 }, secrets: { DB_PASSWORD: 'hunter2-correct-horse' }, logger });
  });

  after(async () => {
    await sandbox?.stop();
  });

  it('never contain a secret value, whatever the tool puts in its errors', async () => {
    const { manifest, bundle } = toolFixture('blabber', 'export default (i, ctx) => { const p = ctx.secrets.get("DB_PASSWORD"); ctx.log("error", p); throw new Error("cannot connect with " + p); };', { secrets: ['DB_PASSWORD'] });
    await sandbox.register(manifest, bundle, { grantPermissions: true });
    await assert.rejects(sandbox.call({ name: 'blabber' }));
    const leak = toolFixture('leaky-output', 'export default (i, ctx) => ({ p: ctx.secrets.get("DB_PASSWORD") });', { secrets: ['DB_PASSWORD'] });
    await sandbox.register(leak.manifest, leak.bundle, { grantPermissions: true });
    await assert.rejects(sandbox.call({ name: 'leaky-output' }));
    const all = lines.join('\n');
    assert.match(all, /tool call attempt failed/);
    assert.match(all, /\[REDACTED:DB_PASSWORD\]/);
    assert.ok(!all.includes('hunter2-correct-horse'), 'a secret value reached the service log');
  });
});
