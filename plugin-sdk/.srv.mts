import { startToolSandboxServer } from '@elixirchain/tool-sandbox';
const s = await startToolSandboxServer({ address: '127.0.0.1:50999', pool: { workers: 1 } });
console.log('listening', s.address);
setTimeout(() => s.stop().then(() => process.exit(0)), 120_000);
