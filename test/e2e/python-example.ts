import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, type LaunchedMesh } from './support/launched-mesh.js';

const EXAMPLE_DIR = path.join(REPO_ROOT, 'examples', 'python');

interface PythonToolchain {
  python: string;
  /** Why the example cannot run here, when it cannot. */
  missing?: string;
}

/** A python that imports grpc and protobuf, and a way to generate code (grpcio-tools, or protoc + grpc_python_plugin). Nothing is installed. */
function findPythonToolchain(): PythonToolchain {
  const candidates = [...new Set([process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => Boolean(p)))];
  const imports = (python: string, modules: string) => spawnSync(python, ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0;
  const python = candidates.find((p) => imports(p, 'grpc, google.protobuf'));
  if (!python) return { python: '', missing: `no python among ${candidates.join(', ')} can import grpc and google.protobuf (pip install grpcio grpcio-tools)` };
  const onPath = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
  if (!imports(python, 'grpc_tools') && !(onPath('protoc') && onPath('grpc_python_plugin'))) {
    return { python, missing: `${python} has grpcio but no code generator: neither grpcio-tools nor protoc + grpc_python_plugin` };
  }
  return { python };
}

/** The Python example (examples/python) against the launched mesh; skipped, saying why, without Python gRPC. */
export function describePythonExample(mesh: () => LaunchedMesh): void {
  const toolchain = findPythonToolchain();
  describe('the Python client example', () => {
    const title = toolchain.missing ? `creates an agent, streams a reply with a tool call and runs a chain (SKIPPED: ${toolchain.missing})` : 'creates an agent, streams a reply with a tool call and runs a chain';
    it(title, async function () {
      if (toolchain.missing) {
        console.log(`      python example skipped: ${toolchain.missing}`);
        this.skip();
      }
      const gen = fs.mkdtempSync(path.join(os.tmpdir(), 'elixirchain-py-'));
      try {
        const generated = spawnSync(path.join(EXAMPLE_DIR, 'generate.sh'), [gen], { env: { ...process.env, PYTHON: toolchain.python }, encoding: 'utf8' });
        assert.equal(generated.status, 0, `generate.sh: ${generated.stderr}`);
        const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
          const child = spawn(toolchain.python, [path.join(EXAMPLE_DIR, 'elixirchain_example.py')], {
            env: { ...mesh().env, ELIXIRCHAIN_PY_GEN: gen },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.stderr.on('data', (d) => (out += d));
          child.once('exit', (code) => resolve({ code, out }));
        });
        assert.equal(result.code, 0, result.out);
        const summary = JSON.parse(result.out.trim().split('\n').pop()!) as { turn_status: string; tool_calls: number; chain_output: string };
        assert.equal(summary.turn_status, 'TURN_STATUS_COMPLETED');
        assert.ok(summary.tool_calls >= 1);
        assert.equal(summary.chain_output, 'result: 42');
        assert.match(result.out, /\[tool\] calculator \{"expression": "2 \+ 3"\}/);
      } finally {
        fs.rmSync(gen, { recursive: true, force: true });
      }
    });
  });
}
