/** The four roles of the access model; see rpc-roles.ts for who may call what. */
export const ROLES = ['admin', 'developer', 'user', 'service'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Who a call is from, as established by authentication. */
export interface Principal {
  /** API key id, JWT subject, or service name. */
  subject: string;
  tenant: string;
  role: Role;
  /** How the caller proved it. */
  via: 'api-key' | 'jwt' | 'mtls' | 'service-token' | 'local';
  /** A service acting for a caller: whose data the call touches. */
  onBehalfOf?: Actor;
}

/** The identity a service forwards when it calls another on a caller's behalf. */
export interface Actor {
  subject: string;
  tenant: string;
  role: Role;
}

/** With no authentication configured (local developer mode) every caller is this. */
export const LOCAL_DEVELOPER: Principal = Object.freeze({ subject: 'local-developer', tenant: 'default', role: 'admin', via: 'local' as const });

/** The tenant whose resources a call may touch. */
export function effectiveTenant(principal: Principal): string {
  return principal.onBehalfOf?.tenant ?? principal.tenant;
}

/** The actor a call is made for: the forwarded caller, or the principal itself. */
export function effectiveActor(principal: Principal): Actor {
  return principal.onBehalfOf ?? { subject: principal.subject, tenant: principal.tenant, role: principal.role };
}

/** The tenant that holds tools an operator shared with every tenant. */
export const SHARED_TENANT = '_shared';
