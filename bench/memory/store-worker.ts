// A SqliteStore in a worker thread, for the slices-vs-worker measurement:
// requests arrive as messages, answers go back the same way.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from '@elixirchain/memory';

const store = await SqliteStore.open({ dataDir: (workerData as { dataDir: string }).dataDir, sweepIntervalMs: 0, sliceRows: 1_000_000 });
parentPort?.on('message', async (msg: { id: number; op: 'upsert' | 'getState' | 'close'; args: unknown }) => {
  try {
    let result: unknown;
    if (msg.op === 'upsert') result = (await store.upsertMemories(msg.args as Parameters<SqliteStore['upsertMemories']>[0])).memories.length;
    else if (msg.op === 'getState') result = (await store.getState(msg.args as string)).version;
    else {
      await store.close();
      result = true;
    }
    parentPort?.postMessage({ id: msg.id, result });
  } catch (error) {
    parentPort?.postMessage({ id: msg.id, error: String(error) });
  }
});
parentPort?.postMessage({ ready: true });
