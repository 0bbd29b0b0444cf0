import type { RedisClientType } from 'redis';
import type { AcquireResult, Lease, LeaseHolder, LeaseStore } from './lease-store.js';

// A lease is one Redis string `<prefix>lease:<resource>` = "<token>\n<holder>\n<data json>" with a PX expiry;
// the fencing token comes from INCR on `<prefix>fence:<resource>`, which never expires, so it only grows.
// Acquire is one script: SET-if-absent, INCR and the write happen atomically, or the current value is returned.
const ACQUIRE = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local holder = string.match(cur, '^%d+\\n([^\\n]*)\\n')
  if holder ~= ARGV[1] then return {0, cur} end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, cur}
end
local token = redis.call('INCR', KEYS[2])
local value = token .. '\\n' .. ARGV[1] .. '\\n' .. ARGV[3]
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return {1, value}
`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

function parse(value: string): LeaseHolder {
  const [token, holder, ...rest] = value.split('\n');
  let data: Record<string, string> = {};
  try {
    data = JSON.parse(rest.join('\n')) as Record<string, string>;
  } catch {
    // A value written by something else: the holder and token still say who owns it.
  }
  return { token: Number(token), holder: holder ?? '', data };
}

/** Leases in Redis. `keyPrefix` keeps deployments (and tests) apart on one server. */
export class RedisLeaseStore implements LeaseStore {
  readonly kind = 'redis';

  constructor(
    private readonly redis: RedisClientType<any, any, any, any, any>,
    private readonly keyPrefix = 'elixirchain:',
  ) {}

  private leaseKey(resource: string): string {
    return `${this.keyPrefix}lease:${resource}`;
  }

  async acquire(resource: string, holder: string, ttlMs: number, data: Record<string, string>): Promise<AcquireResult> {
    const startedAt = Date.now();
    const reply = (await this.redis.eval(ACQUIRE, {
      keys: [this.leaseKey(resource), `${this.keyPrefix}fence:${resource}`],
      arguments: [holder, String(ttlMs), JSON.stringify(data)],
    })) as [number, string];
    const current = parse(reply[1]);
    if (reply[0] !== 1) return { acquired: false, owner: current };
    return { acquired: true, lease: { ...current, resource, validUntil: startedAt + ttlMs, stamp: reply[1] } };
  }

  async renew(lease: Lease, ttlMs: number): Promise<Lease | undefined> {
    const startedAt = Date.now();
    const ok = await this.redis.eval(RENEW, { keys: [this.leaseKey(lease.resource)], arguments: [lease.stamp, String(ttlMs)] });
    return ok === 1 ? { ...lease, validUntil: startedAt + ttlMs } : undefined;
  }

  async release(lease: Lease): Promise<boolean> {
    return (await this.redis.eval(RELEASE, { keys: [this.leaseKey(lease.resource)], arguments: [lease.stamp] })) === 1;
  }

  async holders(resources: string[]): Promise<Array<LeaseHolder | undefined>> {
    if (resources.length === 0) return [];
    const values = await this.redis.mGet(resources.map((r) => this.leaseKey(r)));
    return values.map((v) => (typeof v === 'string' ? parse(v) : undefined));
  }

  async close(): Promise<void> {
    // The connection belongs to whoever passed it in.
  }
}
