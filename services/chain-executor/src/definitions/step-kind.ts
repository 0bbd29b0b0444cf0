import type { Step } from '@elixirchain/proto/chain';

/** The oneof case names of Step.kind as they appear in JSON/YAML (proto field names). */
export const STEP_KIND_FIELDS = {
  tool: 'tool',
  agent: 'agent',
  transform: 'transform',
  sequential: 'sequential',
  parallel: 'parallel',
  conditional: 'conditional',
  pipeline: 'pipeline',
  mapReduce: 'map_reduce',
} as const;

export type StepKind = keyof typeof STEP_KIND_FIELDS;

/** "map_reduce" for a mapReduce step: the name used in events, paths and docs. */
export function stepKindName(step: Step): string {
  const kase = step.kind?.$case;
  return kase ? STEP_KIND_FIELDS[kase] : 'unspecified';
}

/** Leaf steps do work; combinators only arrange other steps. */
export function isLeafStep(step: Step): boolean {
  const kase = step.kind?.$case;
  return kase === 'tool' || kase === 'agent' || kase === 'transform';
}
