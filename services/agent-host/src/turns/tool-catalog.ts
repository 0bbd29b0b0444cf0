import type { Agent } from '@elixirchain/proto/agent';
import { ElixirError, GrpcCode } from '@elixirchain/runtime';
import type { ToolInfo, ToolRunner } from '../ports/tool-runner.js';

const TTL_MS = 30_000;

/** Tool manifests by name and range, cached briefly so a turn does not ask tool-sandbox every time. */
export class ToolCatalog {
  private readonly cache = new Map<string, { at: number; info: ToolInfo | undefined }>();
  constructor(private readonly runner: ToolRunner) {}

  async lookup(name: string, versionRange: string): Promise<ToolInfo | undefined> {
    const key = `${name}@${versionRange}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.info;
    let info: ToolInfo | undefined;
    try {
      info = await this.runner.getTool(name, versionRange);
    } catch (error) {
      // An unknown tool is left out of what the model is offered; other failures are real.
      if (!ElixirError.is(error, GrpcCode.NOT_FOUND)) throw error;
    }
    this.cache.set(key, { at: Date.now(), info });
    return info;
  }

  async toolsFor(agent: Agent): Promise<Map<string, ToolInfo>> {
    const out = new Map<string, ToolInfo>();
    const infos = await Promise.all(agent.tools.map((ref) => this.lookup(ref.name, ref.versionRange)));
    agent.tools.forEach((ref, i) => {
      const info = infos[i];
      if (info) out.set(ref.name, info);
    });
    return out;
  }

  invalidate(): void {
    this.cache.clear();
  }
}
