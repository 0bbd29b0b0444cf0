import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdminServiceDefinition } from '@elixirchain/proto/admin';
import { NodeStatusServiceDefinition } from '@elixirchain/proto/admin/node-status';
import { AgentServiceDefinition } from '@elixirchain/proto/agent';
import { ChainServiceDefinition } from '@elixirchain/proto/chain';
import { MemoryServiceDefinition } from '@elixirchain/proto/memory';
import { ToolSandboxServiceDefinition } from '@elixirchain/proto/sandbox';
import { RPC_ROLES, roleTableMarkdown } from '@elixirchain/runtime';

describe('the role table', () => {
  it('is what the runtime README shows', () => {
    const readme = readFileSync(join(process.cwd(), 'services/runtime/README.md'), 'utf8');
    const shown = /<!-- role-table:start -->\n([\s\S]*?)\n<!-- role-table:end -->/.exec(readme)?.[1];
    assert.equal(shown, roleTableMarkdown(), 'regenerate the README table from roleTableMarkdown()');
  });

  it('names every RPC of every service, and nothing else', () => {
    const rpcs = [AdminServiceDefinition, NodeStatusServiceDefinition, MemoryServiceDefinition, ToolSandboxServiceDefinition, AgentServiceDefinition, ChainServiceDefinition].flatMap((d) =>
      Object.values(d.methods).map((m) => `${d.fullName}/${m.name}`),
    );
    assert.deepEqual([...rpcs].sort(), Object.keys(RPC_ROLES).sort());
  });
});
