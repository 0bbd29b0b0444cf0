import net from 'node:net';

/** Distinct free loopback ports (bound then released; the OS does not hand them out again soon). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export async function meshEnv(): Promise<Record<string, string>> {
  const [agent, memory, sandbox, chain] = await freePorts(4);
  return {
    ELIXIRCHAIN_AGENT_HOST_ADDR: `127.0.0.1:${agent}`,
    ELIXIRCHAIN_MEMORY_ADDR: `127.0.0.1:${memory}`,
    ELIXIRCHAIN_TOOL_SANDBOX_ADDR: `127.0.0.1:${sandbox}`,
    ELIXIRCHAIN_CHAIN_EXECUTOR_ADDR: `127.0.0.1:${chain}`,
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
