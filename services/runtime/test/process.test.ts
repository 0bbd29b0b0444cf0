import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { nodeArgsFor, spawnService, superviseProcess } from '../src/index.js';
import { checkHealth } from './fixtures/probe.js';

const fixture = fileURLToPath(new URL('./fixtures/config-checked-service.ts', import.meta.url));

describe('service processes', () => {
  it('a bad environment value fails start-up with a message naming the variable', async () => {
    const child = superviseProcess(process.execPath, nodeArgsFor(fixture), {
      env: { ...process.env, FIXTURE_PAGE_SIZE: 'lots' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.process.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exit = await child.exited;
    assert.equal(exit.code, 2);
    assert.match(stderr, /FIXTURE_PAGE_SIZE/);
    assert.match(stderr, /whole number/);
  });

  it('serves, then drains and exits 0 on SIGTERM', async () => {
    const service = await spawnService({ entry: fixture, env: { FIXTURE_ADDR: '127.0.0.1:0' } });
    assert.equal(await checkHealth(service.address), 'SERVING');
    await service.stop();
    const exit = await service.exited;
    assert.equal(exit.code, 0, service.output());
  });
});
