// The memory service over gRPC on PostgreSQL: a backend terminated in the
// middle of a write reaches the caller as UNAVAILABLE (reason
// STORE_UNAVAILABLE), and a retry with the same request_id, by hand or by the
// runtime client's own retry policy, appends exactly once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect, ElixirError, until, type ServiceClient } from '@elixirchain/runtime';
import { MemoryServiceDefinition, Role } from '@elixirchain/proto/memory';
import { startMemoryServer, type MemoryServer } from '../src/index.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';

const PG_URL = process.env.ELIXIRCHAIN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

type Client = ServiceClient<typeof MemoryServiceDefinition>;

const user = (content: string) => ({ role: Role.ROLE_USER, content });

describe('MemoryService on PostgreSQL over gRPC', function () {
  this.timeout(60_000);
  const schema = `memtest_svc_${process.pid}_${randomBytes(4).toString('hex')}`;
  const applicationName = `memtest-svc-${process.pid}`;
  let server: MemoryServer;
  let admin: pg.Client;
  let once: Client;
  let retrying: Client;

  before(async () => {
    const store = await PostgresStore.open({ connectionString: PG_URL, schema, applicationName, poolSize: 4, sweepIntervalMs: 0 });
    server = await startMemoryServer({ address: '127.0.0.1:0', store, embedders: { openai: false } });
    once = connect(MemoryServiceDefinition, server.address, { maxAttempts: 1 });
    retrying = connect(MemoryServiceDefinition, server.address);
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
  });

  after(async () => {
    once?.close();
    retrying?.close();
    await server?.stop();
    await admin?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin?.end();
  });

  /** Another session holds the thread's row lock, so an append blocks inside its transaction. */
  async function holdThreadLock(threadId: string): Promise<pg.Client> {
    const blocker = new pg.Client({ connectionString: PG_URL });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query(`SELECT 1 FROM "${schema}".threads WHERE id = $1 FOR UPDATE`, [threadId]);
    return blocker;
  }

  async function terminateBlockedBackend(): Promise<void> {
    const pid = await until('the append to block on the row lock', async () => {
      const { rows } = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [applicationName],
      );
      return rows[0]?.pid;
    }, 20_000);
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  }

  it('answers UNAVAILABLE with STORE_UNAVAILABLE, and the same request_id then appends once', async () => {
    await once.appendMessages({ threadId: 'svc-pg', messages: [user('first')] });
    const blocker = await holdThreadLock('svc-pg');
    let failure: unknown;
    try {
      const call = once
        .appendMessages({ threadId: 'svc-pg', messages: [user('second')], expectedVersion: 1, requestId: 'svc-r1' })
        .catch((e: unknown) => {
          failure = e;
        });
      await terminateBlockedBackend();
      await call;
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    assert.ok(failure instanceof ElixirError, `expected an ElixirError, got ${String(failure)}`);
    assert.equal(failure.codeName, 'UNAVAILABLE');
    assert.equal(failure.reason, 'STORE_UNAVAILABLE');
    const retry = await once.appendMessages({ threadId: 'svc-pg', messages: [user('second')], expectedVersion: 1, requestId: 'svc-r1' });
    assert.equal(retry.replayed, false);
    assert.equal(retry.thread?.version, 2);
    const again = await once.appendMessages({ threadId: 'svc-pg', messages: [user('second')], expectedVersion: 1, requestId: 'svc-r1' });
    assert.equal(again.replayed, true);
    const listed = await once.listMessages({ threadId: 'svc-pg', pageSize: 10 });
    assert.deepEqual(listed.messages.map((m) => m.content), ['first', 'second']);
  });

  it("rides out the outage with the runtime client's retry of a write that carries a request_id", async () => {
    await once.appendMessages({ threadId: 'svc-pg2', messages: [user('first')] });
    const blocker = await holdThreadLock('svc-pg2');
    const call = retrying.appendMessages({ threadId: 'svc-pg2', messages: [user('second')], expectedVersion: 1, requestId: 'svc-r2' });
    try {
      await terminateBlockedBackend();
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    const res = await call;
    assert.equal(res.thread?.version, 2);
    const listed = await once.listMessages({ threadId: 'svc-pg2', pageSize: 10 });
    assert.deepEqual(listed.messages.map((m) => m.content), ['first', 'second']);
  });
});
