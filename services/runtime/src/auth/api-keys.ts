import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role } from './principal.js';

// API keys look like `ek_<id>_<secret>`: the id finds the record, the secret
// is shown once at creation and only its sha256 is stored (it has 256 bits of
// entropy, so a slow hash buys nothing).

export interface ApiKeyRecord {
  id: string;
  tenant: string;
  role: Role;
  /** Hex sha256 of the secret part. */
  secretHash: string;
  description?: string;
  createdAt: Date;
  expiresAt?: Date;
  revokedAt?: Date;
}

/** Where key records live (the memory service's state in the mesh; a file or map in tests). */
export interface ApiKeyStore {
  get(id: string): Promise<ApiKeyRecord | undefined>;
}

const KEY_PATTERN = /^ek_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A new key: the token to show once, and the record to store. */
export function generateApiKey(init: { tenant: string; role: Role; description?: string; expiresAt?: Date }): { token: string; record: ApiKeyRecord } {
  const id = randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 12).padEnd(12, '0');
  const secret = randomBytes(32).toString('base64url');
  return {
    token: `ek_${id}_${secret}`,
    record: { id, tenant: init.tenant, role: init.role, secretHash: hashSecret(secret), description: init.description, createdAt: new Date(), expiresAt: init.expiresAt },
  };
}

export function looksLikeApiKey(token: string): boolean {
  return KEY_PATTERN.test(token);
}

/** The record a token proves, or undefined for any kind of bad token (no hint which). */
export async function verifyApiKey(token: string, store: ApiKeyStore, now = new Date()): Promise<ApiKeyRecord | undefined> {
  const match = KEY_PATTERN.exec(token);
  if (!match) return undefined;
  const record = await store.get(match[1]!);
  if (!record) return undefined;
  const given = Buffer.from(hashSecret(match[2]!), 'hex');
  const stored = Buffer.from(record.secretHash, 'hex');
  if (given.length !== stored.length || !timingSafeEqual(given, stored)) return undefined;
  if (record.revokedAt && record.revokedAt <= now) return undefined;
  if (record.expiresAt && record.expiresAt <= now) return undefined;
  return record;
}
