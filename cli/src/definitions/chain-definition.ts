import { Chain } from '@elixirchain/proto/chain';
import { checkKnownKeys, normaliseDurations } from './definition-file.js';

const CHAIN_FIELDS = Object.keys(Chain.fromPartial({}));

/** A chain from its YAML/JSON form: steps as the proto's JSON mapping (`tool:`, `sequential: {steps: […]}`, …). */
export function chainFromDefinition(source: string, value: Record<string, unknown>): Chain {
  checkKnownKeys(source, value, CHAIN_FIELDS);
  return Chain.fromJSON(normaliseDurations(value));
}
