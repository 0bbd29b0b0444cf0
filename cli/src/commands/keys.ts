import { randomUUID } from 'node:crypto';
import type { ApiKey } from '@elixirchain/proto/admin';
import { DefinitionError } from '../definitions/definition-file.js';
import type { Output } from '../output/output.js';
import { withClients } from './agents.js';

export interface KeyCreateFlags {
  tenant: string;
  role: string;
  description?: string;
  /** Lifetime in seconds; none: the key does not expire. */
  expiresIn?: number;
}

/** Creates a key; the token is printed once (stdout), the record's details go to stderr. */
export async function keysCreate(out: Output, flags: KeyCreateFlags): Promise<void> {
  if (!['admin', 'developer', 'user'].includes(flags.role)) throw new DefinitionError(`--role must be admin, developer or user, not "${flags.role}"`);
  await withClients(async (c) => {
    const res = await c.admin().createApiKey({
      tenant: flags.tenant,
      role: flags.role,
      description: flags.description ?? '',
      expireTime: flags.expiresIn ? new Date(Date.now() + flags.expiresIn * 1000) : undefined,
      requestId: randomUUID(),
    });
    const key = res.key!;
    out.result({ key, token: res.token }, () => {
      out.note(`created ${key.role} key ${key.id} for tenant ${key.tenant}${key.expireTime ? ` (expires ${key.expireTime.toISOString()})` : ''}; the token below is shown only now:`);
      out.line(res.token);
    });
  });
}

export async function keysList(out: Output, opts: { tenant?: string; all?: boolean }): Promise<void> {
  await withClients(async (c) => {
    const keys: ApiKey[] = [];
    let pageToken = '';
    do {
      const res = await c.admin().listApiKeys({ tenant: opts.tenant ?? '', includeRevoked: opts.all ?? false, pageSize: 500, pageToken });
      keys.push(...res.keys);
      pageToken = res.nextPageToken;
    } while (pageToken);
    out.result({ keys }, () =>
      out.table(
        keys.map((k) => ({ id: k.id, tenant: k.tenant, role: k.role, description: k.description, created: k.createTime, expires: k.expireTime ?? '', revoked: k.revokeTime ?? '' })),
        ['id', 'tenant', 'role', 'description', 'created', 'expires', 'revoked'],
      ),
    );
  });
}

export async function keysRevoke(out: Output, id: string): Promise<void> {
  await withClients(async (c) => {
    const res = await c.admin().revokeApiKey({ id, requestId: randomUUID() });
    out.result(res.key, () => out.line(`revoked key ${id} (tenant ${res.key!.tenant}); services stop accepting it within seconds`));
  });
}
