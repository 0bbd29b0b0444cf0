// Container health check: grpc.health.v1 Check against this container's
// service on loopback. Plain JavaScript (no tsx) so a probe costs little.
// Exit 0 when SERVING, 1 otherwise.
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

const VARIABLES = {
  'memory': 'ELIXIRCHAIN_MEMORY_ADDR',
  'tool-sandbox': 'ELIXIRCHAIN_TOOL_SANDBOX_ADDR',
  'agent-host': 'ELIXIRCHAIN_AGENT_HOST_ADDR',
  'chain-executor': 'ELIXIRCHAIN_CHAIN_EXECUTOR_ADDR',
};
const DEFAULT_PORTS = { 'memory': 50052, 'tool-sandbox': 50053, 'agent-host': 50051, 'chain-executor': 50054 };

const service = process.env.ELIXIRCHAIN_SERVICE ?? process.argv[2];
if (!(service in VARIABLES)) {
  console.error(`grpc-health-probe: set ELIXIRCHAIN_SERVICE to one of ${Object.keys(VARIABLES).join(', ')}`);
  process.exit(2);
}
const bound = process.env[VARIABLES[service]] ?? '';
const port = /:(\d+)$/.exec(bound)?.[1] ?? DEFAULT_PORTS[service];
const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
client.Check({ service: '' }, { deadline: Date.now() + 4000 }, (err, res) => {
  client.close();
  if (err) {
    console.error(`${service}: ${err.details || err.message}`);
    process.exit(1);
  }
  const status = typeof res.status === 'number' ? ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'][res.status] : res.status;
  console.log(`${service}: ${status}`);
  process.exit(status === 'SERVING' ? 0 : 1);
});
