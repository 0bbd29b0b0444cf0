// The one workload every row of the turns suite runs, so rows differ only in
// the machinery around it: one agent with one tool add(a, b), and a fake model
// that answers instantly — first a tool call add(2, 3), then, once it sees the
// tool's result, a reply streamed as 50 text chunks.

export const AGENT_INSTRUCTIONS = 'You add numbers with the add tool and explain the result.';
export const USER_MESSAGE = 'What is 2 + 3?';
export const TOOL_NAME = 'add';
export const TOOL_DESCRIPTION = 'Adds two numbers.';
export const TOOL_ARGUMENTS = { a: 2, b: 3 } as const;
export const EXPECTED_TOOL_RESULT = 5;
export const TEXT_CHUNK_COUNT = 50;
/** Characters per chunk: equal lengths let a scripted model cut the reply into exactly 50 deltas. */
export const TEXT_CHUNK_SIZE = 4;
/** The reply, chunk by chunk: "w00 w01 … w49 ". */
export const TEXT_CHUNKS: readonly string[] = Array.from({ length: TEXT_CHUNK_COUNT }, (_, i) => `w${String(i).padStart(2, '0')} `);
export const REPLY_TEXT = TEXT_CHUNKS.join('');

/** JSON Schema of the tool's input, for rows that take one. */
export const TOOL_INPUT_SCHEMA = {
  type: 'object',
  properties: { a: { type: 'number' }, b: { type: 'number' } },
  required: ['a', 'b'],
  additionalProperties: false,
} as const;

export function add({ a, b }: { a: number; b: number }): number {
  return a + b;
}

/** What a row observed during one turn; checked after every turn so no row can skip work. */
export interface TurnOutcome {
  /** The reply text as the caller received it, delta by delta. */
  text: string;
  /** Text delta events the caller received (fewer than 50 where the runtime coalesces deltas). */
  textEvents: number;
  /** The tool result the turn saw (the sum). */
  toolResult: number;
  /** What went wrong, when the runtime said so (e.g. the tool call failed). */
  problem?: string;
}

export function emptyOutcome(): TurnOutcome {
  return { text: '', textEvents: 0, toolResult: Number.NaN };
}

/** Adds one streamed text delta to the outcome. */
export function receiveText(outcome: TurnOutcome, delta: string): void {
  outcome.text += delta;
  outcome.textEvents++;
}

export function checkTurnOutcome(outcome: TurnOutcome): void {
  if (outcome.text !== REPLY_TEXT || outcome.toolResult !== EXPECTED_TOOL_RESULT) {
    throw new Error(
      `turn did not do the workload${outcome.problem ? ` (${outcome.problem})` : ''}: received ${outcome.text.length} of ${REPLY_TEXT.length} reply characters in ${outcome.textEvents} deltas, tool result ${outcome.toolResult} (want ${EXPECTED_TOOL_RESULT})`,
    );
  }
}
