// mTLS between services: certificates made for the test by openssl (a CA,
// then one certificate per service whose CN is the service's name). Memory
// requires client certificates and takes the CN as the calling service.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminServiceDefinition } from '@elixirchain/proto/admin';
import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { connect, GrpcCode, spawnService, type SpawnedService } from '@elixirchain/runtime';
import { statusCodeOf } from '../support/status-code.js';
import { makeTestCertificates } from '../support/certificates.js';

const entry = (service: string) => join(process.cwd(), 'services', service, 'src', 'main.ts');

describe('mTLS between services', function () {
  this.timeout(120_000);
  let dir: string;
  let memory: SpawnedService;
  let sandbox: SpawnedService | undefined;
  let adminToken: string;
  const tlsFor = (name: string) => ({ caFile: join(dir, 'ca.crt'), certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) });
  const serviceEnv = (name: string) => ({
    ELIXIRCHAIN_AUTH: 'required',
    ELIXIRCHAIN_TLS_CA_FILE: join(dir, 'ca.crt'),
    ELIXIRCHAIN_TLS_CERT_FILE: join(dir, `${name}.crt`),
    ELIXIRCHAIN_TLS_KEY_FILE: join(dir, `${name}.key`),
    ELIXIRCHAIN_TLS_REQUIRE_CLIENT_CERT: 'true',
    ELIXIRCHAIN_DATA_DIR: join(dir, 'data'),
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mtls-'));
    makeTestCertificates(dir, ['memory', 'tool-sandbox', 'operator']);
    memory = await spawnService({
      entry: entry('memory'),
      env: { ...serviceEnv('memory'), ELIXIRCHAIN_MEMORY_ADDR: '127.0.0.1:0', ELIXIRCHAIN_BOOTSTRAP_ADMIN_KEY_FILE: join(dir, 'admin.key') },
    });
    const keyFile = join(dir, 'admin.key');
    const until = Date.now() + 30_000;
    while (!existsSync(keyFile) || !readFileSync(keyFile, 'utf8').trim()) {
      if (Date.now() > until) throw new Error(`no bootstrap key:\n${memory.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    adminToken = readFileSync(keyFile, 'utf8').trim();
  });

  after(async () => {
    await sandbox?.stop();
    await memory?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a tool-sandbox certificate cannot call memory's admin RPCs, only what the sandbox needs", async () => {
    const admin = connect(AdminServiceDefinition, memory.address, { tls: tlsFor('tool-sandbox') });
    const state = connect(MemoryServiceDefinition, memory.address, { tls: tlsFor('tool-sandbox') });
    try {
      assert.equal(await statusCodeOf(admin.createApiKey({ tenant: 'acme', role: 'admin' })), GrpcCode.PERMISSION_DENIED);
      assert.equal(await statusCodeOf(admin.listApiKeys({})), GrpcCode.PERMISSION_DENIED);
      assert.equal(await statusCodeOf(admin.revokeApiKey({ id: adminToken.split('_')[1]! })), GrpcCode.PERMISSION_DENIED);
      assert.equal(await statusCodeOf(admin.listAuditEvents({})), GrpcCode.PERMISSION_DENIED);
      assert.equal(await statusCodeOf(state.appendMessages({ threadId: 't', messages: [{ role: 2, content: 'x' }] })), GrpcCode.PERMISSION_DENIED);
      // What its role allows still works: verifying keys and its registry state.
      assert.equal(await statusCodeOf(admin.getApiKey({ id: 'nosuchkey000' })), GrpcCode.NOT_FOUND);
      assert.equal(await statusCodeOf(state.putState({ key: 'sandbox/probe', value: { $case: 'structValue', structValue: { ok: true } } })), 'ok');
    } finally {
      admin.close();
      state.close();
    }
  });

  it('refuses a client without a certificate at the TLS handshake', async () => {
    const bare = connect(MemoryServiceDefinition, memory.address, { tls: { caFile: join(dir, 'ca.crt') }, maxAttempts: 1 });
    try {
      const code = await statusCodeOf(bare.getState({ key: 'x' }, { timeoutMs: 5_000 }));
      assert.ok(code === GrpcCode.UNAVAILABLE || code === GrpcCode.DEADLINE_EXCEEDED, `got ${code}`);
    } finally {
      bare.close();
    }
  });

  it('runs the sandbox over mTLS: it verifies a caller’s key through memory with its own certificate', async () => {
    sandbox = await spawnService({
      entry: entry('tool-sandbox'),
      env: { ...serviceEnv('tool-sandbox'), ELIXIRCHAIN_MEMORY_ADDR: memory.address, ELIXIRCHAIN_TOOL_SANDBOX_ADDR: '127.0.0.1:0' },
    });
    // An operator's client certificate gets it through TLS; the bearer key says who it is.
    const tools = connect(ToolSandboxServiceDefinition, sandbox.address, { tls: tlsFor('operator'), metadata: { authorization: `Bearer ${adminToken}` } });
    const anonymous = connect(ToolSandboxServiceDefinition, sandbox.address, { tls: tlsFor('operator') });
    try {
      assert.equal(await statusCodeOf(tools.listTools({})), 'ok');
      // The operator certificate alone is a service nobody granted anything.
      assert.equal(await statusCodeOf(anonymous.listTools({})), GrpcCode.PERMISSION_DENIED);
    } finally {
      tools.close();
      anonymous.close();
    }
    assert.ok(!sandbox.output().includes(adminToken.slice(16)));
  });
});
