// A caller known only by its mTLS certificate (a service such as chain-executor, no token) reaching the
// agent-host replica that does not own the agent: the replica forwards the call to the owner as itself
// (CN agent-host) acting for the caller's actor, and the owner serves it for that actor's tenant only.
// Real processes: memory on PostgreSQL, tool-sandbox, two agent-hosts with leases in Redis, all over mTLS
// with certificates made by openssl.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminServiceDefinition } from '@elixirchain/proto/admin';
import { AgentServiceDefinition, TurnStatus } from '@elixirchain/proto/agent';
import { Role } from '@elixirchain/proto/memory';
import { connect, encodeActor, GrpcCode, ON_BEHALF_OF_KEY } from '@elixirchain/runtime';
import type { ServiceClient, SpawnedService } from '@elixirchain/runtime';
import { completedTurn, ScaleOutMesh } from '../scaleout/scaleout-mesh.js';
import { statusCodeOf } from '../support/status-code.js';
import { until } from '../support/until.js';
import { makeTestCertificates } from '../support/certificates.js';

type AgentClient = ServiceClient<typeof AgentServiceDefinition>;

const text = (t: string, delayMs = 0) => ({ chunkSize: 0, event: { $case: 'text' as const, text: t }, delay: { seconds: Math.floor(delayMs / 1000), nanos: (delayMs % 1000) * 1e6 } });

describe('mTLS across agent-host replicas: a certificate-only caller is forwarded to the owner (real processes)', function () {
  this.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'mtls-replicas-'));
  makeTestCertificates(dir, ['memory', 'tool-sandbox', 'agent-host', 'chain-executor', 'operator']);
  const tlsFor = (name: string) => ({ caFile: join(dir, 'ca.crt'), certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) });
  const mesh = new ScaleOutMesh({
    agentHosts: 2,
    chainExecutors: 0,
    leaseTtlMs: 5_000,
    takeoverScanMs: 1_000,
    env: (service) => ({
      ELIXIRCHAIN_AUTH: 'required',
      ELIXIRCHAIN_TLS_CA_FILE: join(dir, 'ca.crt'),
      ELIXIRCHAIN_TLS_CERT_FILE: join(dir, `${service}.crt`),
      ELIXIRCHAIN_TLS_KEY_FILE: join(dir, `${service}.key`),
      ELIXIRCHAIN_TLS_REQUIRE_CLIENT_CERT: 'true',
      ...(service === 'memory' ? { ELIXIRCHAIN_BOOTSTRAP_ADMIN_KEY_FILE: join(dir, 'admin.key') } : {}),
    }),
  });
  const opened: Array<{ close(): void }> = [];
  let developerKey = '';
  /** acme's developer: an operator's certificate gets it through TLS, its API key says who it is. */
  const developer = (replica: SpawnedService): AgentClient => {
    const client = connect(AgentServiceDefinition, replica.address, { tls: tlsFor('operator'), metadata: { authorization: `Bearer ${developerKey}` } });
    opened.push(client);
    return client;
  };
  /** A service with no token at all: its certificate names it, and it acts for a tenant's user. */
  const serviceFor = (name: string, tenant: string, replica: SpawnedService): AgentClient => {
    const client = connect(AgentServiceDefinition, replica.address, {
      tls: tlsFor(name),
      maxAttempts: 1,
      metadata: { [ON_BEHALF_OF_KEY]: encodeActor({ subject: `${tenant}-user`, tenant, role: 'user' }) },
    });
    opened.push(client);
    return client;
  };

  before(async () => {
    await mesh.start();
    const adminKey = await until('the bootstrap admin key', () => (existsSync(join(dir, 'admin.key')) ? readFileSync(join(dir, 'admin.key'), 'utf8').trim() || undefined : undefined), 60_000);
    const admin = connect(AdminServiceDefinition, mesh.memory.address, { tls: tlsFor('operator'), metadata: { authorization: `Bearer ${adminKey}` } });
    try {
      developerKey = (await admin.createApiKey({ tenant: 'acme', role: 'developer' })).token;
    } finally {
      admin.close();
    }
    const [h0] = mesh.agentHosts;
    await developer(h0).createAgent({ agent: { id: 'helper', model: { provider: 'scripted', script: [{ events: [text('acme answers')] }] } } });
    // Twenty pieces 150 ms apart: long enough to watch and cancel it from the other replica.
    await developer(h0).createAgent({ agent: { id: 'slow', model: { provider: 'scripted', script: [{ events: Array.from({ length: 20 }, (_, i) => text(`s${i} `, 150)) }] } } });
    // The first turn makes h0 the owner.
    assert.equal(await completedTurn(developer(h0), 'helper', 'helper-t', 'one'), 'acme answers');
    assert.equal(await mesh.leaseHolder('agent/acme/helper'), h0.address);
  });
  after(async () => {
    for (const c of opened) c.close();
    await mesh.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SendMessage from chain-executor’s certificate to the replica that does not own the agent streams the owner’s turn to completion', async () => {
    const [h0, h1] = mesh.agentHosts;
    assert.equal(await completedTurn(serviceFor('chain-executor', 'acme', h1), 'helper', 'helper-t', 'two'), 'acme answers');
    assert.equal(await mesh.leaseHolder('agent/acme/helper'), h0.address, 'served by the owner, not taken over');
    const history = (await developer(h1).listMessages({ threadId: 'helper-t', pageSize: 100 })).messages.map((m) => [m.role, m.content]);
    assert.deepEqual(history, [[Role.ROLE_USER, 'one'], [Role.ROLE_ASSISTANT, 'acme answers'], [Role.ROLE_USER, 'two'], [Role.ROLE_ASSISTANT, 'acme answers']]);
  });

  it('the forwarded call acts for its actor’s tenant only', async () => {
    const [h0, h1] = mesh.agentHosts;
    for (const replica of [h0, h1]) {
      const globex = serviceFor('chain-executor', 'globex', replica);
      assert.equal(await statusCodeOf(completedTurn(globex, 'helper', `globex-probe-${replica.address}`, 'probe')), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(globex.cancelTurn({ threadId: 'helper-t', turnId: '' })), GrpcCode.NOT_FOUND);
      const watch = async () => {
        for await (const res of globex.watchThread({ threadId: 'helper-t', afterSequence: 0 })) void res;
      };
      assert.equal(await statusCodeOf(watch()), GrpcCode.NOT_FOUND);
    }
    assert.equal(await mesh.leaseHolder('agent/globex/helper'), undefined, 'nothing of globex was claimed');
    assert.equal(await mesh.leaseHolder('agent/acme/helper'), h0.address);
  });

  it('WatchThread and CancelTurn from chain-executor’s certificate are forwarded to the owner too', async () => {
    const [h0, h1] = mesh.agentHosts;
    let streaming = false;
    let status: TurnStatus | undefined;
    const running = (async () => {
      for await (const res of developer(h0).sendMessage({ agentId: 'slow', threadId: 'slow-t', content: 'go', requestId: 'slow-go' })) {
        if (res.event?.event?.$case === 'textDelta') streaming = true;
        if (res.event?.event?.$case === 'turnCompleted') status = res.event.event.turnCompleted.status;
      }
    })();
    await until('the slow turn streaming on h0', () => streaming || undefined, 30_000);
    assert.equal(await mesh.leaseHolder('agent/acme/slow'), h0.address);
    const executor = serviceFor('chain-executor', 'acme', h1);
    // Live events exist only on the owner: seeing a delta through h1 means the watch was forwarded.
    let watched = '';
    for await (const res of executor.watchThread({ threadId: 'slow-t', afterSequence: 0 })) {
      if (res.event?.event?.$case === 'textDelta') watched += res.event.event.textDelta.text;
      if (watched) break;
    }
    assert.match(watched, /^s0 /);
    const cancelled = await executor.cancelTurn({ threadId: 'slow-t', turnId: '', reason: 'enough' });
    assert.equal(cancelled.cancelled, true);
    await running;
    assert.equal(status, TurnStatus.TURN_STATUS_CANCELLED);
    assert.equal(await mesh.leaseHolder('agent/acme/slow'), h0.address);
  });

  it('what a forwarding replica may do stops there: an agent-host certificate cannot manage agents or resolve approvals', async () => {
    const [h0, h1] = mesh.agentHosts;
    for (const replica of [h0, h1]) {
      const host = serviceFor('agent-host', 'acme', replica);
      assert.equal(await statusCodeOf(host.createAgent({ agent: { id: 'x', model: { provider: 'scripted' } } })), GrpcCode.PERMISSION_DENIED);
      assert.equal(await statusCodeOf(host.updateAgent({ agent: { id: 'helper', instructions: 'x' }, updateMask: ['instructions'] })), GrpcCode.PERMISSION_DENIED);
      assert.equal(await statusCodeOf(host.deleteAgent({ id: 'helper' })), GrpcCode.PERMISSION_DENIED);
      assert.equal(await statusCodeOf(host.resolveApproval({ threadId: 'helper-t', approvalId: 'a', approve: true })), GrpcCode.PERMISSION_DENIED);
      assert.equal(await statusCodeOf(host.listThreads({ agentId: 'helper' })), GrpcCode.PERMISSION_DENIED);
    }
  });
});
