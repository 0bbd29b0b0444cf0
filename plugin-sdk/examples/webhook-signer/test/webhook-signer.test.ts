import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { testTool, type ToolUnderTest } from '@elixirchain/plugin-sdk/testing';
import type webhookSigner from '../src/index.ts';

const KEY = 'whsec_test_4f1c9a7e2b';

describe('webhook-signer', () => {
  let tool: ToolUnderTest<typeof webhookSigner>;
  before(async () => {
    tool = await testTool<typeof webhookSigner>({ secrets: { WEBHOOK_SIGNING_KEY: KEY } });
  });
  after(() => tool.close());

  it('signs like node:crypto does, without returning the key', async () => {
    const payload = JSON.stringify({ event: 'order.paid', id: 'ord_42', note: 'déjà vu ✓' });
    const { output, events } = await tool.invoke({ payload, timestamp: 1_700_000_000 });
    const expected = createHmac('sha256', KEY).update(`1700000000.${payload}`).digest('hex');
    assert.equal(output.signature, expected);
    assert.equal(output.header, `t=1700000000,v1=${expected}`);
    assert.ok(!JSON.stringify(events).includes(KEY));
  });

  it('is refused the secret when the calling agent lacks it', async () => {
    await assert.rejects(tool.invoke({ payload: '{}', timestamp: 1 }, { grants: { secrets: [] } }), { code: 'PERMISSION_DENIED' });
  });

  it('does not run until an operator grants what it asks for', async () => {
    const ungranted = await testTool<typeof webhookSigner>({ secrets: { WEBHOOK_SIGNING_KEY: KEY }, grant: {} });
    try {
      await assert.rejects(ungranted.invoke({ payload: '{}', timestamp: 1 }), { code: 'FAILED_PRECONDITION', reason: 'TOOL_PENDING_GRANT' });
    } finally {
      await ungranted.close();
    }
  });
});
