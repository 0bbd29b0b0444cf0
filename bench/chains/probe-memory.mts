import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnServiceProcess } from '../harness/service-process.js';
import { MemoryStateStore } from '@elixirchain/chain-executor';
const address = `127.0.0.1:${await freePort()}`;
const memory = await spawnServiceProcess({ name: 'memory', entry: 'services/memory/src/main.ts', address, env: { ELIXIRCHAIN_MEMORY_ADDR: address, ELIXIRCHAIN_DATA_DIR: mkdtempSync(join(tmpdir(), 'p-')), ELIXIRCHAIN_LOG_LEVEL: 'warn' } });
const s = new MemoryStateStore(address);
for (const n of [1, 32, 256]) {
  const lat: number[] = [];
  for (let i = 0; i < 60; i++) {
    const t = performance.now();
    await s.batch(Array.from({ length: n }, (_, j) => ({ op: 'put' as const, key: `k/${i}/${j}`, value: { events: [{ a: 1, b: 'x'.repeat(100) }] } })));
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  console.log(`batch of ${n}: p50 ${lat[30]!.toFixed(2)} ms, p90 ${lat[54]!.toFixed(2)} ms`);
}
const lat: number[] = [];
for (let i = 0; i < 60; i++) { const t = performance.now(); await s.get('k/1/1'); lat.push(performance.now() - t); }
lat.sort((a, b) => a - b); console.log(`get p50 ${lat[30]!.toFixed(2)}`);
s.close(); await memory.stop();
