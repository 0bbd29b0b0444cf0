// API key records kept in the memory store as system state (outside every
// tenant): `\x1dauth/keys/<id>` holds the record with the secret's sha256,
// never the secret. This is the ApiKeyStore memory authenticates with and
// that the other services reach through AdminService/GetApiKey.
import { errors, generateApiKey, isRole, type ApiKeyRecord, type ApiKeyStore, type Role } from '@elixirchain/runtime';
import type { JsonObject, Store } from '../store/store.js';
import { SYSTEM_PREFIX } from '../tenancy/tenant-scoped-store.js';

const KEYS = `${SYSTEM_PREFIX}auth/keys/`;
const REQUESTS = `${SYSTEM_PREFIX}auth/key-requests/`;

export interface StoredApiKey extends ApiKeyRecord {
  createdBy: string;
}

function encode(r: StoredApiKey): JsonObject {
  return {
    id: r.id,
    tenant: r.tenant,
    role: r.role,
    secretHash: r.secretHash,
    description: r.description ?? '',
    createdAt: r.createdAt.toISOString(),
    createdBy: r.createdBy,
    ...(r.expiresAt ? { expiresAt: r.expiresAt.toISOString() } : {}),
    ...(r.revokedAt ? { revokedAt: r.revokedAt.toISOString() } : {}),
  };
}

function decode(raw: JsonObject): StoredApiKey | undefined {
  const s = (k: string) => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
  if (!s('id') || !s('tenant') || !isRole(raw.role) || !s('secretHash')) return undefined;
  const date = (k: string) => (s(k) ? new Date(s(k)!) : undefined);
  return {
    id: s('id')!,
    tenant: s('tenant')!,
    role: raw.role,
    secretHash: s('secretHash')!,
    description: s('description'),
    createdAt: date('createdAt') ?? new Date(0),
    createdBy: s('createdBy') ?? '',
    expiresAt: date('expiresAt'),
    revokedAt: date('revokedAt'),
  };
}

const isNotFound = (error: unknown) => (error as { code?: number }).code === 5;

export class StoredApiKeys implements ApiKeyStore {
  constructor(private readonly store: Store) {}

  async get(id: string): Promise<StoredApiKey | undefined> {
    try {
      const entry = await this.store.getState(KEYS + id);
      return entry.value?.$case === 'structValue' ? decode(entry.value.structValue ?? {}) : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** A new key: the token (to show once) and its stored record. A repeated requestId returns the first record, without a token. */
  async create(init: { tenant: string; role: Role; description?: string; expiresAt?: Date; createdBy: string; requestId?: string }): Promise<{ token?: string; record: StoredApiKey }> {
    const requestKey = init.requestId ? REQUESTS + init.requestId : undefined;
    if (requestKey) {
      const earlier = await this.store.getState(requestKey).catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)));
      const id = earlier?.value?.$case === 'structValue' ? earlier.value.structValue?.id : undefined;
      const record = typeof id === 'string' ? await this.get(id) : undefined;
      if (record) return { record };
    }
    const { token, record } = generateApiKey(init);
    const stored: StoredApiKey = { ...record, createdBy: init.createdBy };
    const put = (key: string, value: JsonObject) => ({ $case: 'putState' as const, putState: { key, expectedVersion: 0, value: { $case: 'structValue' as const, structValue: value } } });
    await this.store.batchWrite({
      atomic: true,
      operations: [put(KEYS + record.id, encode(stored)), ...(requestKey ? [put(requestKey, { id: record.id })] : [])],
    });
    return { token, record: stored };
  }

  async list(query: { tenant?: string; includeRevoked: boolean; limit: number; afterId?: string }): Promise<{ keys: StoredApiKey[]; nextCursor?: string }> {
    const keys: StoredApiKey[] = [];
    let afterKey = query.afterId === undefined ? undefined : KEYS + query.afterId;
    for (;;) {
      const page = await this.store.listState({ prefix: KEYS, limit: 200, afterKey });
      for (const entry of page.entries) {
        afterKey = entry.key;
        const record = entry.value?.$case === 'structValue' ? decode(entry.value.structValue ?? {}) : undefined;
        if (!record) continue;
        if (query.tenant && record.tenant !== query.tenant) continue;
        if (!query.includeRevoked && record.revokedAt) continue;
        keys.push(record);
        if (keys.length === query.limit) return { keys, nextCursor: record.id };
      }
      if (page.nextCursor === undefined) return { keys };
    }
  }

  /** Marks the key revoked (idempotent: a revoked key keeps its first revocation time). */
  async revoke(id: string): Promise<StoredApiKey> {
    for (;;) {
      const entry = await this.store.getState(KEYS + id).catch((error: unknown) => {
        throw isNotFound(error) ? errors.notFound('api_key', id) : error;
      });
      const record = entry.value?.$case === 'structValue' ? decode(entry.value.structValue ?? {}) : undefined;
      if (!record) throw errors.notFound('api_key', id);
      if (record.revokedAt) return record;
      const revoked = { ...record, revokedAt: new Date() };
      try {
        await this.store.putState({ key: KEYS + id, expectedVersion: entry.version, value: { $case: 'structValue', structValue: encode(revoked) } });
        return revoked;
      } catch (error) {
        if ((error as { code?: number }).code !== 10) throw error; // ABORTED: raced another write, read again
      }
    }
  }

  async isEmpty(): Promise<boolean> {
    const page = await this.store.listState({ prefix: KEYS, limit: 1, keysOnly: true });
    return page.entries.length === 0;
  }
}
