import { main } from './main.js';

// The process entry the bin script starts (with --no-node-snapshot).
process.exitCode = await main(process.argv.slice(2));
