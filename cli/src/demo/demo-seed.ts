import type { MeshInfo } from '../launcher/launcher.js';

/** Seeds the demo agent and its tools (wired once @elixirchain/runtime's clients land). */
export async function seedDemo(_mesh: MeshInfo, _print: (line: string) => void): Promise<void> {
  throw new Error('the demo seed is not wired yet; start with --no-demo');
}
