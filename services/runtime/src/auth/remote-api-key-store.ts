import { AdminServiceDefinition } from '@elixirchain/proto/admin';
import { connect } from '../client/connect.js';
import type { ServiceClient } from '../client/connect.js';
import { ElixirError, GrpcCode } from '../errors/elixir-error.js';
import type { ApiKeyRecord, ApiKeyStore } from './api-keys.js';
import { isRole } from './principal.js';

/**
 * API key records fetched from the memory service (AdminService/GetApiKey,
 * as this service). Concurrent lookups of one id share a call; the
 * Authenticator caches verified keys for a few seconds, which bounds how long
 * a revoked key keeps working here.
 */
export class RemoteApiKeyStore implements ApiKeyStore {
  private client: ServiceClient<typeof AdminServiceDefinition> | undefined;
  private readonly inflight = new Map<string, Promise<ApiKeyRecord | undefined>>();

  constructor(private readonly memoryAddress: string) {}

  get(id: string): Promise<ApiKeyRecord | undefined> {
    let pending = this.inflight.get(id);
    if (!pending) {
      pending = this.fetch(id).finally(() => this.inflight.delete(id));
      this.inflight.set(id, pending);
    }
    return pending;
  }

  private async fetch(id: string): Promise<ApiKeyRecord | undefined> {
    this.client ??= connect(AdminServiceDefinition, this.memoryAddress, { defaultTimeoutMs: 5_000 });
    try {
      const { key } = await this.client.getApiKey({ id });
      if (!key || !isRole(key.role) || !key.secretSha256) return undefined;
      return {
        id: key.id,
        tenant: key.tenant,
        role: key.role,
        secretHash: key.secretSha256,
        description: key.description,
        createdAt: key.createTime ?? new Date(0),
        expiresAt: key.expireTime,
        revokedAt: key.revokeTime,
      };
    } catch (error) {
      if (error instanceof ElixirError && error.code === GrpcCode.NOT_FOUND) return undefined;
      throw error;
    }
  }

  close(): void {
    this.client?.close();
  }
}
