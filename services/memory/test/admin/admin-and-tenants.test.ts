import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, encodeActor, type ElixirError, GrpcCode, ON_BEHALF_OF_KEY, statusCodeOf } from '@elixirchain/runtime';
import { AdminServiceDefinition } from '@elixirchain/proto/admin';
import { MemoryServiceDefinition, Role } from '@elixirchain/proto/memory';
import { startMemoryServer, type MemoryServer } from '../../src/index.js';
import { StoredApiKeys } from '../../src/admin/stored-api-keys.js';

describe('memory: API keys, tenants and the audit log', function () {
  this.timeout(60_000);
  const SANDBOX_TOKEN = 'svc-tool-sandbox-token-0123456789';
  let dir: string;
  let server: MemoryServer;
  let adminToken: string;
  const as = (token: string) => ({
    memory: connect(MemoryServiceDefinition, server.address, { metadata: { authorization: `Bearer ${token}` } }),
    admin: connect(AdminServiceDefinition, server.address, { metadata: { authorization: `Bearer ${token}` } }),
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'memory-admin-'));
    server = await startMemoryServer({
      address: '127.0.0.1:0',
      dataDir: dir,
      auth: { serviceTokens: new Map([[SANDBOX_TOKEN, 'tool-sandbox']]), keyCacheMs: 0 },
    });
    ({ token: adminToken } = (await new StoredApiKeys(server.store).create({ tenant: 'default', role: 'admin', createdBy: 'test' })) as { token: string });
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a key whose token is shown once, lists keys without secrets, and a revoked key stops working at once', async () => {
    const admin = as(adminToken).admin;
    const created = await admin.createApiKey({ tenant: 'acme', role: 'developer', description: 'ci' });
    assert.match(created.token, /^ek_[a-z0-9]{12}_/);
    assert.equal(created.key?.secretSha256, '');
    const dev = as(created.token);
    assert.equal(await statusCodeOf(dev.memory.listThreads({})), 'ok');

    const listed = await admin.listApiKeys({ tenant: 'acme' });
    assert.deepEqual(listed.keys.map((k) => k.id), [created.key!.id]);
    assert.ok(!JSON.stringify(listed).includes(created.token.slice(16)), 'no secret in listings');

    await admin.revokeApiKey({ id: created.key!.id });
    assert.equal(await statusCodeOf(dev.memory.listThreads({})), GrpcCode.UNAUTHENTICATED);
    assert.equal((await admin.listApiKeys({ tenant: 'acme' })).keys.length, 0);
    assert.equal((await admin.listApiKeys({ tenant: 'acme', includeRevoked: true })).keys[0]?.revokeTime instanceof Date, true);
    assert.equal(await statusCodeOf(admin.revokeApiKey({ id: 'nosuchkey000' })), GrpcCode.NOT_FOUND);
  });

  it('refuses bad key requests naming the field, and key management to anyone but an admin', async () => {
    const admin = as(adminToken).admin;
    await assert.rejects(admin.createApiKey({ tenant: 'Not A Tenant', role: 'developer' }), (e: ElixirError) => e.code === GrpcCode.INVALID_ARGUMENT && e.fieldViolations.some((f) => f.field === 'tenant'));
    await assert.rejects(admin.createApiKey({ tenant: 'acme', role: 'service' }), (e: ElixirError) => e.fieldViolations.some((f) => f.field === 'role'));
    const { token } = await admin.createApiKey({ tenant: 'acme', role: 'developer' });
    assert.equal(await statusCodeOf(as(token).admin.createApiKey({ tenant: 'acme', role: 'admin' })), GrpcCode.PERMISSION_DENIED);
    assert.equal(await statusCodeOf(as(token).admin.listAuditEvents({})), GrpcCode.PERMISSION_DENIED);
    // A service may verify keys, but not mint them.
    const sandbox = as(SANDBOX_TOKEN).admin;
    assert.equal(await statusCodeOf(sandbox.createApiKey({ tenant: 'acme', role: 'admin' })), GrpcCode.PERMISSION_DENIED);
    const id = token.split('_')[1]!;
    assert.match((await sandbox.getApiKey({ id })).key!.secretSha256, /^[0-9a-f]{64}$/);
  });

  it('lets an admin of a tenant manage only its own tenant’s keys and audit events; operators (tenant default) manage all', async () => {
    const root = as(adminToken).admin;
    const globexKey = await root.createApiKey({ tenant: 'globex', role: 'developer' });
    const acmeAdmin = as((await root.createApiKey({ tenant: 'acme', role: 'admin' })).token).admin;
    assert.equal((await acmeAdmin.createApiKey({ tenant: 'acme', role: 'user' })).key?.tenant, 'acme');
    assert.equal(await statusCodeOf(acmeAdmin.createApiKey({ tenant: 'globex', role: 'admin' })), GrpcCode.PERMISSION_DENIED);
    assert.ok((await acmeAdmin.listApiKeys({})).keys.every((k) => k.tenant === 'acme'));
    assert.deepEqual((await acmeAdmin.listApiKeys({ tenant: 'globex' })).keys, []);
    assert.equal(await statusCodeOf(acmeAdmin.revokeApiKey({ id: globexKey.key!.id })), GrpcCode.NOT_FOUND);
    assert.ok((await acmeAdmin.listAuditEvents({ pageSize: 1000 })).events.every((e) => e.tenant === 'acme'));
    assert.ok((await root.listAuditEvents({ pageSize: 1000 })).events.some((e) => e.tenant === 'globex'));
  });

  it('keeps each tenant inside its own threads, namespaces and state: a foreign id is NOT_FOUND', async () => {
    const admin = as(adminToken).admin;
    const acme = as((await admin.createApiKey({ tenant: 'acme', role: 'developer' })).token).memory;
    const globex = as((await admin.createApiKey({ tenant: 'globex', role: 'developer' })).token).memory;
    await acme.appendMessages({ threadId: 'shared-name', messages: [{ role: Role.ROLE_USER, content: 'acme secret plans' }] });
    await acme.upsertMemories({ namespace: 'notes', memories: [{ text: 'acme roadmap' }] });

    assert.equal(await statusCodeOf(globex.getThread({ threadId: 'shared-name' })), GrpcCode.NOT_FOUND);
    assert.equal(await statusCodeOf(globex.listMessages({ threadId: 'shared-name' })), GrpcCode.NOT_FOUND);
    assert.equal((await globex.listThreads({})).threads.length, 0);
    assert.equal((await globex.listNamespaces({})).namespaces.length, 0);
    assert.equal(await statusCodeOf(globex.searchMemories({ namespace: 'notes', queryText: 'roadmap' })), GrpcCode.NOT_FOUND);
    assert.equal(await statusCodeOf(globex.listMemories({ namespace: 'notes' })), GrpcCode.NOT_FOUND);
    assert.equal((await globex.deleteThread({ threadId: 'shared-name' })).deleted, false);
    assert.equal((await globex.deleteNamespace({ namespace: 'notes' })).deleted, false);

    // The same names in another tenant are another tenant's resources.
    await globex.appendMessages({ threadId: 'shared-name', messages: [{ role: Role.ROLE_USER, content: 'globex' }] });
    assert.equal((await acme.listMessages({ threadId: 'shared-name' })).messages.length, 1);
    assert.deepEqual((await acme.listThreads({})).threads.map((t) => t.id), ['shared-name']);
    assert.equal((await acme.searchMemories({ namespace: 'notes', queryText: 'roadmap' })).results[0]?.memory?.namespace, 'notes');

    // A service acting for a caller works in the caller's tenant.
    const sandbox = connect(MemoryServiceDefinition, server.address, { metadata: { authorization: `Bearer ${SANDBOX_TOKEN}` } });
    const forAcme = { metadata: { [ON_BEHALF_OF_KEY]: encodeActor({ subject: 'k', tenant: 'acme', role: 'developer' }) } };
    const forGlobex = { metadata: { [ON_BEHALF_OF_KEY]: encodeActor({ subject: 'k', tenant: 'globex', role: 'developer' }) } };
    await sandbox.putState({ key: 'tools/weather', value: { $case: 'structValue', structValue: { owner: 'acme' } } }, forAcme);
    assert.equal(await statusCodeOf(sandbox.getState({ key: 'tools/weather' }, forGlobex)), GrpcCode.NOT_FOUND);
    assert.equal((await sandbox.listState({ prefix: '' }, forGlobex)).entries.length, 0);
    assert.deepEqual((await sandbox.listState({ prefix: 'tools/' }, forAcme)).entries.map((e) => e.key), ['tools/weather']);
    // Nobody reaches the system records (keys, audit) through state.
    assert.ok((await sandbox.listState({ prefix: '' })).entries.every((e) => !e.key.includes('auth/')));
  });

  it('audits key creation, revocation and deletions with who, what, when and from where — never a token', async () => {
    const admin = as(adminToken).admin;
    const created = await admin.createApiKey({ tenant: 'initech', role: 'developer' });
    const dev = as(created.token).memory;
    await dev.appendMessages({ threadId: 't', messages: [{ role: Role.ROLE_USER, content: 'x' }] });
    await dev.deleteThread({ threadId: 't' });
    await admin.revokeApiKey({ id: created.key!.id });

    const { events } = await admin.listAuditEvents({ tenant: 'initech' });
    assert.deepEqual(events.map((e) => e.action), ['api_key.revoke', 'thread.delete', 'api_key.create']);
    const [revoke, deletion, creation] = events;
    assert.equal(creation!.resource, `api_key/${created.key!.id}`);
    assert.equal(creation!.actorRole, 'admin');
    assert.equal(deletion!.actorSubject, created.key!.id);
    assert.equal(deletion!.actorTenant, 'initech');
    assert.match(deletion!.peer, /127\.0\.0\.1/);
    assert.ok(revoke!.time! >= creation!.time!);
    const all = await admin.listAuditEvents({ pageSize: 1000 });
    assert.ok(!JSON.stringify(all).includes(created.token.slice(16)));
    assert.ok(!JSON.stringify(all).includes(adminToken.slice(16)));
    // Pages and filters.
    const first = await admin.listAuditEvents({ pageSize: 1, action: 'api_key.create' });
    const second = await admin.listAuditEvents({ pageSize: 1, action: 'api_key.create', pageToken: first.nextPageToken });
    assert.notEqual(first.events[0]!.id, second.events[0]!.id);
    assert.ok(second.events.every((e) => e.action === 'api_key.create'));
  });
});
