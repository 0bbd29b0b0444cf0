import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { hostAllowed, type EffectiveGrant } from '../permissions/permission-set.js';
import { AddressPolicy } from './address-policy.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Name resolution; injectable so tests never depend on (or send to) real DNS. */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: HostResolver = async (hostname) => {
  const found = await dnsLookup(hostname, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

export interface FetchGuardOptions {
  resolver?: HostResolver;
  /** Tests only: private addresses that may be contacted (e.g. a local test server). */
  allowedPrivate?: string[];
  maxResponseBytes: number;
  maxRedirects: number;
  maxRequestBodyBytes?: number;
}

export interface GuardedRequest {
  url: string;
  method: string;
  headers: Array<[string, string]>;
  body: string | null;
}

export interface GuardedResponse {
  url: string;
  status: number;
  statusText: string;
  redirected: boolean;
  headers: Array<[string, string]>;
  body: string;
}

/** A refusal or failure to report to the tool; `code` is a gRPC code name. */
export class FetchRefused extends Error {
  constructor(
    readonly code: 'PERMISSION_DENIED' | 'INVALID_ARGUMENT' | 'UNAVAILABLE' | 'RESOURCE_EXHAUSTED' | 'DEADLINE_EXCEEDED' | 'CANCELLED',
    message: string,
  ) {
    super(message);
    this.name = 'FetchRefused';
  }
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Headers a tool may not set: they would let it steer the connection itself. */
const FORBIDDEN_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'upgrade', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'expect']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Runs a tool's HTTP request under its grant: only http(s), no userinfo, no
 * IP literals, a granted host name, every resolved address outside the
 * blocked ranges, the connection pinned to the checked address, every
 * redirect checked again, response size and time capped.
 */
export class FetchGuard {
  private readonly resolver: HostResolver;
  private readonly policy: AddressPolicy;

  constructor(private readonly options: FetchGuardOptions) {
    this.resolver = options.resolver ?? systemResolver;
    this.policy = new AddressPolicy({ allowedPrivate: options.allowedPrivate });
  }

  async fetch(request: GuardedRequest, grant: EffectiveGrant, signal: AbortSignal): Promise<GuardedResponse> {
    let method = request.method.toUpperCase();
    if (!METHODS.has(method)) throw new FetchRefused('INVALID_ARGUMENT', `unsupported method ${JSON.stringify(request.method.slice(0, 20))}`);
    let body = request.body;
    if (body !== null && (method === 'GET' || method === 'HEAD')) throw new FetchRefused('INVALID_ARGUMENT', `a ${method} request cannot have a body`);
    if (body !== null && this.options.maxRequestBodyBytes !== undefined && Buffer.byteLength(body) > this.options.maxRequestBodyBytes) {
      throw new FetchRefused('RESOURCE_EXHAUSTED', `the request body is larger than ${this.options.maxRequestBodyBytes} bytes`);
    }
    const headers: Array<[string, string]> = [];
    for (const [name, value] of request.headers) {
      const lower = name.toLowerCase();
      if (FORBIDDEN_HEADERS.has(lower)) continue;
      if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower) || /[\r\n\0]/.test(value)) {
        throw new FetchRefused('INVALID_ARGUMENT', 'invalid request header');
      }
      headers.push([lower, value]);
    }
    let url = this.checkUrl(request.url, grant);
    for (let redirects = 0; ; redirects++) {
      const pinned = await this.resolveAllowed(url.hostname, signal);
      const response = await this.send(url, pinned, method, headers, body, signal);
      const location = response.headers.find(([k]) => k === 'location')?.[1];
      if (!REDIRECTS.has(response.status) || location === undefined) {
        return { ...response, redirected: redirects > 0 };
      }
      if (redirects >= this.options.maxRedirects) throw new FetchRefused('UNAVAILABLE', `more than ${this.options.maxRedirects} redirects`);
      let next: string;
      try {
        next = new URL(location, url).href;
      } catch {
        throw new FetchRefused('UNAVAILABLE', 'the server redirected to an invalid URL');
      }
      url = this.checkUrl(next, grant);
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = null;
      }
    }
  }

  /** Parses and checks a URL against scheme, userinfo, IP-literal and grant rules. */
  checkUrl(raw: string, grant: EffectiveGrant): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new FetchRefused('INVALID_ARGUMENT', 'not a valid absolute URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new FetchRefused('PERMISSION_DENIED', `the ${url.protocol.replace(/:$/, '').slice(0, 20)} scheme is not allowed, only http and https`);
    }
    if (url.username !== '' || url.password !== '' || /^[a-z]+:\/\/[^/?#]*@/i.test(raw.trim())) {
      throw new FetchRefused('PERMISSION_DENIED', 'URLs with user information are not allowed');
    }
    const host = url.hostname.replace(/\.$/, '').toLowerCase();
    // The WHATWG parser has already turned decimal, octal, hex and short IPv4 forms into dotted quads.
    if (isIP(host) !== 0 || host.startsWith('[') || isIP(host.replace(/^\[|\]$/g, '')) !== 0) {
      throw new FetchRefused('PERMISSION_DENIED', 'IP address literals are not allowed; use a granted host name');
    }
    if (!hostAllowed(grant, host)) {
      throw new FetchRefused('PERMISSION_DENIED', `the host ${JSON.stringify(host.slice(0, 253))} is not granted to this tool`);
    }
    return url;
  }

  private async resolveAllowed(hostname: string, signal: AbortSignal): Promise<ResolvedAddress> {
    const host = hostname.replace(/\.$/, '');
    let addresses: ResolvedAddress[];
    try {
      addresses = await this.resolver(host);
    } catch {
      throw new FetchRefused('UNAVAILABLE', `the host ${JSON.stringify(host)} could not be resolved`);
    }
    if (signal.aborted) throw new FetchRefused('CANCELLED', 'the call was aborted');
    if (addresses.length === 0) throw new FetchRefused('UNAVAILABLE', `the host ${JSON.stringify(host)} has no address`);
    // One bad address refuses the name: DNS may hand out the other one next time.
    for (const a of addresses) {
      const why = this.policy.refusal(a.address);
      if (why) throw new FetchRefused('PERMISSION_DENIED', `the host ${JSON.stringify(host)} resolves to ${why}`);
    }
    return addresses[0]!;
  }

  private send(
    url: URL,
    pinned: ResolvedAddress,
    method: string,
    headers: Array<[string, string]>,
    body: string | null,
    signal: AbortSignal,
  ): Promise<Omit<GuardedResponse, 'redirected'>> {
    const max = this.options.maxResponseBytes;
    return new Promise((resolve, reject) => {
      const transport = url.protocol === 'https:' ? https : http;
      const outgoing: Record<string, string> = {};
      for (const [k, v] of headers) outgoing[k] = v;
      outgoing['accept-encoding'] = 'identity';
      if (body !== null) outgoing['content-length'] = String(Buffer.byteLength(body));
      const req = transport.request(
        {
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port || undefined,
          path: `${url.pathname}${url.search}`,
          method,
          headers: outgoing,
          agent: false,
          ...(url.protocol === 'https:' ? { servername: url.hostname } : {}),
          signal,
          // Pin: connect to the address we checked, whatever DNS says a moment later.
          lookup: ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
            if (options?.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
            else callback(null, pinned.address, pinned.family);
          }) as unknown as LookupFunction,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > max) {
              req.destroy();
              reject(new FetchRefused('RESOURCE_EXHAUSTED', `the response is larger than ${max} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            const pairs: Array<[string, string]> = [];
            for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!]);
            resolve({
              url: url.href,
              status: res.statusCode ?? 0,
              statusText: res.statusMessage ?? '',
              headers: pairs,
              body: Buffer.concat(chunks).toString('utf8'),
            });
          });
          res.on('error', () => reject(new FetchRefused('UNAVAILABLE', 'the response was interrupted')));
        },
      );
      req.on('error', () => {
        if (signal.aborted) reject(new FetchRefused('CANCELLED', 'the call was aborted'));
        else reject(new FetchRefused('UNAVAILABLE', `could not reach ${url.host}`));
      });
      if (body !== null) req.write(body);
      req.end();
    });
  }
}
