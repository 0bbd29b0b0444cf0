// A fresh deployment has no keys, so nobody could create one. With
// ELIXIRCHAIN_BOOTSTRAP_ADMIN_KEY_FILE set, memory creates one admin key (tenant
// "default") when its key store is empty and writes the token to that file
// (mode 0600, never to a log). Delete the file once the key is safely stored.
import { writeFileSync } from 'node:fs';
import type { Logger } from '@elixirchain/runtime';
import type { StoredApiKeys } from './stored-api-keys.js';

export async function bootstrapAdminKey(keys: StoredApiKeys, file: string, log: Logger): Promise<string | undefined> {
  if (!(await keys.isEmpty())) return undefined;
  const { token, record } = await keys.create({ tenant: 'default', role: 'admin', description: 'bootstrap admin key', createdBy: 'bootstrap' });
  try {
    // 'wx': never overwrite a file someone else put there.
    writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    await keys.revoke(record.id);
    throw new Error(`cannot write the bootstrap admin key to ${file}: ${(error as Error).message}`, { cause: error });
  }
  log.warn({ keyId: record.id, file }, 'created the bootstrap admin key; its token is in the file (read it, then delete the file)');
  return record.id;
}
