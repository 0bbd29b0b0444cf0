import { isIP } from 'node:net';

/** Network hosts and secret names, normalised: lowercase hosts, sorted, unique. */
export interface PermissionSet {
  networkHosts: string[];
  secrets: string[];
}

export const EMPTY_PERMISSIONS: PermissionSet = { networkHosts: [], secrets: [] };

const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Why a host pattern is unacceptable, or undefined when it is fine. */
export function hostPatternProblem(pattern: string): string | undefined {
  if (pattern === '*') return undefined;
  const host = pattern.startsWith('*.') ? pattern.slice(2) : pattern;
  if (isIP(host) || isIP(host.replace(/^\[|\]$/g, ''))) return 'IP addresses cannot be granted, only host names';
  if (host.length === 0 || host.length > 253) return 'not a host name';
  const labels = host.split('.');
  if (labels.length < 2 && !pattern.startsWith('*.') && host !== 'localhost') return 'must be a fully qualified host name';
  if (!labels.every((label) => HOST_LABEL.test(label))) return 'not a valid host name (letters, digits, "-", and "*." only as a prefix)';
  return undefined;
}

export function secretNameProblem(name: string): string | undefined {
  return SECRET_NAME.test(name) ? undefined : 'secret names are letters, digits and "_", starting with a letter or "_"';
}

export function normalizePermissions(value: { networkHosts?: string[]; secrets?: string[] } | undefined): PermissionSet {
  const hosts = new Set((value?.networkHosts ?? []).map((h) => h.trim().toLowerCase().replace(/\.$/, '')));
  const secrets = new Set((value?.secrets ?? []).map((s) => s.trim()));
  return { networkHosts: [...hosts].filter(Boolean).sort(), secrets: [...secrets].filter(Boolean).sort() };
}

/** Does `pattern` (exact host, "*.domain" or "*") allow `host`? */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1);
    return host.endsWith(suffix) && host.length > suffix.length;
  }
  return pattern === host;
}

/** Is every host that `asked` allows also allowed by `granted`? */
function hostCovered(asked: string, granted: string[]): boolean {
  return granted.some((g) => {
    if (g === '*') return true;
    if (asked === '*') return false;
    if (asked.startsWith('*.')) return g.startsWith('*.') && (asked === g || asked.slice(1).endsWith(g.slice(1)));
    return hostMatches(g, asked);
  });
}

/** What `asked` wants that `granted` does not cover. */
export function missingPermissions(asked: PermissionSet, granted: PermissionSet): PermissionSet {
  return {
    networkHosts: asked.networkHosts.filter((h) => !hostCovered(h, granted.networkHosts)),
    secrets: asked.secrets.filter((s) => !granted.secrets.includes(s)),
  };
}

export function isEmpty(p: PermissionSet): boolean {
  return p.networkHosts.length === 0 && p.secrets.length === 0;
}

export function unionPermissions(a: PermissionSet, b: PermissionSet): PermissionSet {
  return normalizePermissions({ networkHosts: [...a.networkHosts, ...b.networkHosts], secrets: [...a.secrets, ...b.secrets] });
}

export function subtractPermissions(a: PermissionSet, b: PermissionSet): PermissionSet {
  return { networkHosts: a.networkHosts.filter((h) => !b.networkHosts.includes(h)), secrets: a.secrets.filter((s) => !b.secrets.includes(s)) };
}

/** What one call may use: a host must pass every list; secrets are already intersected. */
export interface EffectiveGrant {
  hostLists: string[][];
  secrets: string[];
}

/**
 * What one call may use: what the manifest asks, limited by the tool's grant,
 * and further by the caller's narrowing when it sends one.
 */
export function effectiveGrant(asked: PermissionSet, granted: PermissionSet, narrowing?: PermissionSet): EffectiveGrant {
  const hostLists = [asked.networkHosts, granted.networkHosts];
  if (narrowing) hostLists.push(narrowing.networkHosts);
  const secrets = asked.secrets.filter((s) => granted.secrets.includes(s) && (!narrowing || narrowing.secrets.includes(s)));
  return { hostLists, secrets };
}

export function hostAllowed(grant: EffectiveGrant, host: string): boolean {
  return grant.hostLists.every((list) => list.some((pattern) => hostMatches(pattern, host)));
}
