import assert from 'node:assert/strict';
import { LOCAL_DEVELOPER } from '@elixirchain/runtime';
import { AuditLog } from '../../src/audit/audit-log.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

describe('the audit log order', () => {
  it('lists events newest first even when many share a millisecond', async () => {
    const store = await SqliteStore.open({ path: ':memory:' });
    try {
      const audit = new AuditLog(store);
      const call = { principal: LOCAL_DEVELOPER, peer: 'ipv4:127.0.0.1:1' };
      // Back to back, most of these land in the same millisecond as a neighbour.
      for (let i = 0; i < 60; i++) await audit.record(call, { action: `step.${i}`, resource: `r/${i}`, tenant: 'default' });
      const { events } = await audit.list({ limit: 100 });
      assert.deepEqual(
        events.map((e) => e.action),
        Array.from({ length: 60 }, (_, i) => `step.${59 - i}`),
      );
    } finally {
      await store.close();
    }
  });
});
