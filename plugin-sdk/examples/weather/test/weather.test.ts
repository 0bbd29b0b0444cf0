import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { testTool, type ToolUnderTest } from '@elixirchain/plugin-sdk/testing';
import type weather from '../src/index.ts';

// A stand-in for api.open-meteo.com on 127.0.0.1. The sandbox refuses
// loopback addresses; `hosts` lets this test (and only it) map the declared
// host to the local server.
describe('weather', () => {
  let server: Server;
  let origin: string;
  const requests: string[] = [];
  before(async () => {
    server = createServer((request, response) => {
      requests.push(request.url ?? '');
      if (request.url?.includes('latitude=89.5')) {
        response.writeHead(503).end('overloaded');
        return;
      }
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ current: { time: '2026-11-26T09:00', temperature_2m: 7.5, wind_speed_10m: 12.1, weather_code: 3 } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it('reads the current weather from the API it is granted', async () => {
    const tool: ToolUnderTest<typeof weather> = await testTool<typeof weather>({ hosts: { 'api.open-meteo.com': origin } });
    try {
      const { output } = await tool.invoke({ latitude: 48.85, longitude: 2.35 });
      assert.deepEqual(output, { time: '2026-11-26T09:00', temperatureC: 7.5, windKmh: 12.1, conditions: 'overcast' });
      assert.match(requests.at(-1)!, /^\/v1\/forecast\?latitude=48.85&longitude=2.35&current=/);
    } finally {
      await tool.close();
    }
  });

  it('retries a failing attempt (the tool is idempotent), then fails with the tool error', async () => {
    const tool = await testTool<typeof weather>({ hosts: { 'api.open-meteo.com': origin } });
    try {
      const before = requests.length;
      await assert.rejects(tool.invoke({ latitude: 89.5, longitude: 0 }), { code: 'INTERNAL', reason: 'TOOL_ERROR', message: /Open-Meteo answered 503/ });
      assert.equal(requests.length - before, 3);
    } finally {
      await tool.close();
    }
  });

  it('refuses a test host the tool does not declare, so a test cannot pass where production would refuse', async () => {
    await assert.rejects(testTool({ hosts: { 'api.example.com': origin } }), /api\.example\.com is not in the tool's permissions\.network \(api\.open-meteo\.com\)/);
  });
});
