// Until @elixirchain/runtime lands, the core raises these; server.ts maps them
// onto the runtime's ElixirError in one place.
export type AgentHostErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'CANCELLED'
  | 'INTERNAL';

export interface FieldViolation {
  field: string;
  description: string;
}

export class AgentHostError extends Error {
  readonly code: AgentHostErrorCode;
  readonly reason: string;
  readonly violations: FieldViolation[];
  readonly retryAfterMs: number | undefined;

  constructor(
    code: AgentHostErrorCode,
    reason: string,
    message: string,
    extra: { violations?: FieldViolation[]; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'AgentHostError';
    this.code = code;
    this.reason = reason;
    this.violations = extra.violations ?? [];
    this.retryAfterMs = extra.retryAfterMs;
  }
}

export const agentErrors = {
  invalidArgument: (violations: FieldViolation[]) =>
    new AgentHostError(
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      violations.map((v) => `${v.field}: ${v.description}`).join('; '),
      { violations },
    ),
  notFound: (what: string, id: string) => new AgentHostError('NOT_FOUND', `${what.toUpperCase()}_NOT_FOUND`, `${what} ${JSON.stringify(id)} not found`),
  alreadyExists: (what: string, id: string) =>
    new AgentHostError('ALREADY_EXISTS', `${what.toUpperCase()}_ALREADY_EXISTS`, `${what} ${JSON.stringify(id)} already exists`),
  failedPrecondition: (reason: string, message: string) => new AgentHostError('FAILED_PRECONDITION', reason, message),
  aborted: (reason: string, message: string) => new AgentHostError('ABORTED', reason, message),
  resourceExhausted: (reason: string, message: string, retryAfterMs: number) =>
    new AgentHostError('RESOURCE_EXHAUSTED', reason, message, { retryAfterMs }),
  cancelled: (message: string) => new AgentHostError('CANCELLED', 'CANCELLED', message),
  deadlineExceeded: (reason: string, message: string) => new AgentHostError('DEADLINE_EXCEEDED', reason, message),
  unavailable: (reason: string, message: string) => new AgentHostError('UNAVAILABLE', reason, message),
};

/** gRPC numeric codes, for google.rpc.Status values carried inside events. */
export const grpcCodeNumbers: Record<AgentHostErrorCode, number> = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
};
