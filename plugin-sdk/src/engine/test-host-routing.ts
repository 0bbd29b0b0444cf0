import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

interface Route {
  protocol: 'http:' | 'https:';
  address: string;
  port: string;
}

type HostResolver = (hostname: string) => Promise<Array<{ address: string; family: 4 | 6 }>>;

interface GuardLike {
  fetch(request: { url: string }, ...rest: unknown[]): Promise<{ url: string }>;
}

/**
 * Points hosts a tool declares at local test servers, for one engine only.
 * Everything else about ctx.fetch stays production's: the grant check on the
 * host name, address checks (with only the test servers' addresses let
 * through), redirects, size and time limits. A request for
 * https://api.example.com/v1/x goes to http://127.0.0.1:<port>/v1/x with the
 * host name kept, so the grant is checked against the real name.
 */
export class TestHostRouting {
  private readonly routes = new Map<string, Route>();

  constructor(hosts: Record<string, string>) {
    for (const [host, origin] of Object.entries(hosts)) {
      const url = new URL(origin);
      const hostname = url.hostname.replace(/^\[|\]$/g, '');
      const address = hostname === 'localhost' ? '127.0.0.1' : hostname;
      if (!isIP(address)) throw new Error(`test host ${host} must map to an IP address origin such as http://127.0.0.1:4100, got ${origin}`);
      this.routes.set(host.toLowerCase(), {
        protocol: url.protocol as Route['protocol'],
        address,
        port: url.port || (url.protocol === 'https:' ? '443' : '80'),
      });
    }
  }

  sandboxOptions(): { resolver?: HostResolver; allowedPrivateAddresses?: string[] } {
    if (this.routes.size === 0) return {};
    const routes = this.routes;
    const resolver: HostResolver = async (hostname) => {
      const route = routes.get(hostname.toLowerCase());
      if (route) return [{ address: route.address, family: isIP(route.address) === 6 ? 6 : 4 }];
      const found = await lookup(hostname, { all: true, verbatim: true });
      return found.map((entry) => ({ address: entry.address, family: entry.family === 6 ? 6 : 4 }));
    };
    return { resolver, allowedPrivateAddresses: [...new Set([...routes.values()].map((route) => route.address))] };
  }

  /** Rewrites scheme and port of requests to a test host before the sandbox's own fetch guard sees them. */
  install(sandbox: object): void {
    if (this.routes.size === 0) return;
    const holder = sandbox as unknown as { fetchGuard?: GuardLike };
    const guard = holder.fetchGuard;
    if (!guard || typeof guard.fetch !== 'function') {
      throw new Error('this version of the sandbox engine cannot route test hosts (no fetch guard to wrap)');
    }
    const routes = this.routes;
    const wrapped: GuardLike = {
      async fetch(request, ...rest) {
        const url = new URL(request.url);
        const route = routes.get(url.hostname.toLowerCase());
        if (!route) return guard.fetch(request, ...rest);
        const original = url.href;
        url.protocol = route.protocol;
        url.port = route.port;
        const response = await guard.fetch({ ...request, url: url.href }, ...rest);
        // The tool sees the URL it asked for, as it would in production.
        return response.url === url.href ? { ...response, url: original } : response;
      },
    };
    Object.defineProperty(holder, 'fetchGuard', { value: wrapped, configurable: true, writable: true });
  }
}
