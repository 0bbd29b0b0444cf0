/** Why a running turn was told to stop; the abort signal carries it as its reason. */
export class TurnStop extends Error {
  constructor(
    readonly kind: 'cancel' | 'interrupt' | 'timeout' | 'shutdown' | 'crash' | 'fenced',
    message: string,
  ) {
    super(message);
    this.name = 'TurnStop';
  }

  /** Shutdown, crash and fencing leave the checkpoint as it is, to be resumed (or abandoned) elsewhere. */
  get finalizes(): boolean {
    return this.kind === 'cancel' || this.kind === 'interrupt' || this.kind === 'timeout';
  }
}

/** A write lost its compare-and-set: another process owns this thread now. */
export class FencedError extends Error {
  constructor(readonly threadId: string, cause: unknown) {
    super(`thread ${threadId} was written by another owner; this actor stops`, { cause });
    this.name = 'FencedError';
  }
}
