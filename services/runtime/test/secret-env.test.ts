import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { authFromEnv, ConfigError, meshClientDefaults, meshKeyStore, RemoteApiKeyStore, secretFromEnv } from '../src/index.js';

// Compose `secrets:` and mounted Kubernetes Secrets are files: NAME_FILE names one.
describe('secrets from NAME or NAME_FILE', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'secret-env-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };

  it('reads the variable, or the file trimmed, and refuses both, a missing file and an empty one by name', () => {
    assert.equal(secretFromEnv('X', { X: ' v ' }), 'v');
    assert.equal(secretFromEnv('X', { X_FILE: file('x', 'from-file\n') }), 'from-file');
    assert.equal(secretFromEnv('X', {}), undefined);
    assert.throws(() => secretFromEnv('X', { X: 'v', X_FILE: file('x2', 'w') }), (e: unknown) => e instanceof ConfigError && e.variable === 'X');
    assert.throws(() => secretFromEnv('X', { X_FILE: join(dir, 'missing') }), (e: unknown) => e instanceof ConfigError && e.variable === 'X_FILE' && /ENOENT/.test(e.message));
    assert.throws(() => secretFromEnv('X', { X_FILE: file('empty', '\n') }), (e: unknown) => e instanceof ConfigError && /empty/.test(e.message));
  });

  it('a service token file is sent as the bearer and makes the service verify keys at memory', () => {
    const env = { ELIXIRCHAIN_SERVICE_TOKEN_FILE: file('own', 'svc-agent-host-0123456789abcdef\n') };
    assert.deepEqual(meshClientDefaults(env).metadata, { authorization: 'Bearer svc-agent-host-0123456789abcdef' });
    assert.ok(meshKeyStore(env) instanceof RemoteApiKeyStore);
  });

  it('a service tokens file holds one service=token a line; a bad line is refused', async () => {
    const tokens = file('tokens', 'agent-host=svc-agent-host-0123456789abcdef\nchain-executor=svc-chain-executor-0123456789\n');
    const auth = authFromEnv({ ELIXIRCHAIN_AUTH: 'required', ELIXIRCHAIN_SERVICE_TOKENS_FILE: tokens }, { apiKeys: { get: async () => undefined } });
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer svc-chain-executor-0123456789');
    const principal = await auth.authenticator!.authenticate({ path: '/elixirchain.memory.v1.MemoryService/GetState', metadata, peer: '127.0.0.1:1' });
    assert.equal(principal.role, 'service');
    assert.equal(principal.subject, 'chain-executor');
    assert.throws(() => authFromEnv({ ELIXIRCHAIN_AUTH: 'required', ELIXIRCHAIN_SERVICE_TOKENS_FILE: file('bad', 'agent-host=short\n') }, { apiKeys: { get: async () => undefined } }), ConfigError);
  });
});
