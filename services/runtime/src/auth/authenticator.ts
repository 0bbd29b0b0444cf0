import { readFileSync } from 'node:fs';
import type { Metadata } from '@grpc/grpc-js';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose';
import type { JWTVerifyGetKey } from 'jose';
import { ElixirError, errors } from '../errors/elixir-error.js';
import { verifyApiKey } from './api-keys.js';
import type { ApiKeyRecord, ApiKeyStore } from './api-keys.js';
import { isRole, LOCAL_DEVELOPER } from './principal.js';
import type { Actor, Principal } from './principal.js';
import { TokenBucketLimiter } from './rate-limiter.js';
import { mayCall } from './rpc-roles.js';

/** Metadata a service sets when it calls another on a caller's behalf. */
export const ON_BEHALF_OF_KEY = 'x-elixirchain-on-behalf-of';

export interface JwtOptions {
  /** JWKS (`{"keys":[…]}`) from a file, or fetched (and cached) from a URL. */
  jwksFile?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  clockToleranceSec?: number;
  tenantClaim?: string;
  roleClaim?: string;
}

export interface RateLimit {
  ratePerSecond: number;
  burst: number;
}

export interface AuthOptions {
  apiKeys?: ApiKeyStore;
  jwt?: JwtOptions;
  /** Shared bearer tokens that identify a service (when mTLS is not configured), by token. */
  serviceTokens?: Map<string, string>;
  /** Trust the common name of a verified client certificate as the calling service's name. */
  mtlsServiceIdentity?: boolean;
  perKey?: RateLimit;
  perTenant?: RateLimit;
  /** Failed authentications per peer address. */
  failedAuthPerPeer?: RateLimit;
  /** How long a verified API key is trusted before it is looked up again (revocation delay). */
  keyCacheMs?: number;
}

export interface CallIdentity {
  path: string;
  metadata: Metadata;
  peer: string;
  /** Common name of the verified client certificate, if the call came over mTLS. */
  certificateCommonName?: string;
}

const unauthenticated = () => errors.unauthenticated();

/**
 * Establishes who a call is from (API key, JWT, service token or service
 * certificate), applies rate limits, and checks the role table. Every failure
 * to authenticate looks the same to the caller.
 */
export class Authenticator {
  private readonly jwks: JWTVerifyGetKey | undefined;
  private readonly keyCache = new Map<string, { record: ApiKeyRecord; until: number }>();
  private readonly perKey: TokenBucketLimiter;
  private readonly perTenant: TokenBucketLimiter;
  private readonly failedAuth: TokenBucketLimiter;

  constructor(private readonly options: AuthOptions) {
    const jwt = options.jwt;
    if (jwt?.jwksFile) this.jwks = createLocalJWKSet(JSON.parse(readFileSync(jwt.jwksFile, 'utf8')));
    else if (jwt?.jwksUrl) this.jwks = createRemoteJWKSet(new URL(jwt.jwksUrl));
    const limiter = (limit: RateLimit | undefined, fallback: RateLimit) => new TokenBucketLimiter((limit ?? fallback).ratePerSecond, (limit ?? fallback).burst);
    this.perKey = limiter(options.perKey, { ratePerSecond: 200, burst: 400 });
    this.perTenant = limiter(options.perTenant, { ratePerSecond: 1000, burst: 2000 });
    this.failedAuth = limiter(options.failedAuthPerPeer, { ratePerSecond: 5, burst: 20 });
  }

  async authenticate(call: CallIdentity): Promise<Principal> {
    const peerKey = call.peer.replace(/:\d+$/, '');
    let principal: Principal | undefined;
    try {
      principal = await this.identify(call);
    } catch (error) {
      if (!(error instanceof ElixirError)) throw error;
    }
    if (!principal) {
      const wait = this.failedAuth.take(peerKey);
      if (wait > 0) throw errors.resourceExhausted('AUTH_RATE_LIMITED', 'too many failed authentication attempts', wait);
      throw unauthenticated();
    }
    principal = this.withForwardedActor(principal, call.metadata);
    this.limit(principal);
    if (!mayCall(principal.role, principal.subject, call.path)) {
      throw errors.permissionDenied('ROLE_NOT_ALLOWED', `role ${principal.role} may not call ${call.path}`);
    }
    return principal;
  }

  private async identify(call: CallIdentity): Promise<Principal | undefined> {
    const header = String(call.metadata.get('authorization')[0] ?? '');
    // A bearer token names the caller even over an mTLS connection (an operator's CLI
    // behind a client certificate); without one, the verified certificate names the service.
    if (!header && call.certificateCommonName && this.options.mtlsServiceIdentity) {
      return { subject: call.certificateCommonName, tenant: '*', role: 'service', via: 'mtls' };
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return undefined;
    const token = match[1]!;
    const service = this.options.serviceTokens?.get(token);
    if (service) return { subject: service, tenant: '*', role: 'service', via: 'service-token' };
    if (token.startsWith('ek_') && this.options.apiKeys) {
      const record = await this.lookupKey(token);
      return record && { subject: record.id, tenant: record.tenant, role: record.role, via: 'api-key' };
    }
    if (token.split('.').length === 3 && this.jwks) return this.verifyJwt(token);
    return undefined;
  }

  private async lookupKey(token: string): Promise<ApiKeyRecord | undefined> {
    const cached = this.keyCache.get(token);
    const now = Date.now();
    if (cached && cached.until > now && !(cached.record.expiresAt && cached.record.expiresAt.getTime() <= now)) return cached.record;
    const record = await verifyApiKey(token, this.options.apiKeys!);
    if (record) this.keyCache.set(token, { record, until: now + (this.options.keyCacheMs ?? 5_000) });
    else this.keyCache.delete(token);
    return record;
  }

  private async verifyJwt(token: string): Promise<Principal | undefined> {
    const jwt = this.options.jwt!;
    try {
      const { payload } = await jwtVerify(token, this.jwks!, {
        issuer: jwt.issuer,
        audience: jwt.audience,
        clockTolerance: jwt.clockToleranceSec ?? 60,
      });
      const tenant = payload[jwt.tenantClaim ?? 'tenant'];
      const role = payload[jwt.roleClaim ?? 'role'];
      if (typeof tenant !== 'string' || !TENANT_NAME.test(tenant) || !isRole(role) || role === 'service' || !payload.sub) return undefined;
      return { subject: payload.sub, tenant, role, via: 'jwt' };
    } catch {
      return undefined;
    }
  }

  /** Only a service may act for someone else; anyone else's claim is ignored. */
  private withForwardedActor(principal: Principal, metadata: Metadata): Principal {
    if (principal.role !== 'service') return principal;
    const raw = metadata.get(ON_BEHALF_OF_KEY)[0];
    if (typeof raw !== 'string') return principal;
    try {
      const actor = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Actor;
      if (typeof actor.subject === 'string' && typeof actor.tenant === 'string' && isRole(actor.role)) return { ...principal, onBehalfOf: actor };
    } catch {
      // malformed: act as the service itself
    }
    return principal;
  }

  private limit(principal: Principal): void {
    if (principal.role === 'service') return; // services are limited at the edge, per caller
    const keyWait = this.perKey.take(`${principal.via}:${principal.subject}`);
    if (keyWait > 0) throw errors.resourceExhausted('RATE_LIMITED', `rate limit of ${principal.subject} exceeded`, keyWait);
    const tenantWait = this.perTenant.take(principal.tenant);
    if (tenantWait > 0) throw errors.resourceExhausted('TENANT_RATE_LIMITED', `rate limit of tenant ${principal.tenant} exceeded`, tenantWait);
  }
}

/** Tenant names a credential may carry; "_"-prefixed names are reserved for the mesh (e.g. "_shared"). */
const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export { SHARED_TENANT } from './principal.js';

/**
 * Call options metadata that pins a service's call to one tenant, for work
 * done outside any caller's call (start-up loads, refreshes, resumes).
 */
export function actingForTenant(service: string, tenant: string): Record<string, string> {
  return { [ON_BEHALF_OF_KEY]: encodeActor({ subject: service, tenant, role: 'service' }) };
}

/** The caller as a forwardable header value. */
export function encodeActor(actor: Actor): string {
  return Buffer.from(JSON.stringify(actor)).toString('base64url');
}

/** In local developer mode there is nothing to check. */
export const localDeveloperAuth = { authenticate: async (): Promise<Principal> => LOCAL_DEVELOPER };
