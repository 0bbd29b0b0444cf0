// Safe defaults on the real service processes: local developer mode says so
// at start-up, and refuses any non-loopback address without authentication.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeArgsFor, spawnService, superviseProcess } from '@elixirchain/runtime';

const entry = (service: string) => join(process.cwd(), 'services', service, 'src', 'main.ts');

describe('safe defaults of the real services', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'safe-defaults-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('memory refuses to bind 0.0.0.0 without authentication, naming what to set', async () => {
    const env: Record<string, string> = { ...process.env, ELIXIRCHAIN_MEMORY_ADDR: '0.0.0.0:0', ELIXIRCHAIN_DATA_DIR: dir } as Record<string, string>;
    delete env.ELIXIRCHAIN_AUTH;
    delete env.ELIXIRCHAIN_ALLOW_UNAUTHENTICATED_BIND;
    const child = superviseProcess(process.execPath, nodeArgsFor(entry('memory')), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.process.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.process.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exit = await child.exited;
    assert.equal(exit.code, 2, output);
    assert.match(output, /refusing to listen on 0\.0\.0\.0/);
    assert.match(output, /ELIXIRCHAIN_AUTH=required/);
    assert.doesNotMatch(output, /"msg":"listening"/);
  });

  it('on loopback without authentication it starts, and says loudly that it is the local developer mode', async () => {
    const memory = await spawnService({ entry: entry('memory'), env: { ELIXIRCHAIN_MEMORY_ADDR: '127.0.0.1:0', ELIXIRCHAIN_DATA_DIR: dir, ELIXIRCHAIN_AUTH: 'local' } });
    try {
      assert.match(memory.output(), /LOCAL DEVELOPER MODE/);
    } finally {
      await memory.stop();
    }
  });
});
