// The `elixirchain` CLI (bin shim: cli/bin/elixirchain.js).
import { buildProgram } from './program.js';

await buildProgram().parseAsync(process.argv);
