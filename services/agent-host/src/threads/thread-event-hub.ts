import { ThreadEventLog } from './thread-event-log.js';

/** The event logs of the threads this process is serving, created on demand and dropped when idle. */
export class ThreadEventHub {
  private readonly logs = new Map<string, ThreadEventLog>();

  get(threadId: string): ThreadEventLog | undefined {
    return this.logs.get(threadId);
  }

  getOrCreate(threadId: string, lastSequence: number): ThreadEventLog {
    let log = this.logs.get(threadId);
    if (!log) {
      log = new ThreadEventLog(threadId, lastSequence);
      this.logs.set(threadId, log);
    }
    return log;
  }

  /** Drops a log that has nothing left to persist and nobody listening. */
  dropIfIdle(threadId: string): void {
    const log = this.logs.get(threadId);
    if (log && log.subscribers.size === 0 && log.unpersistedCount === 0) this.logs.delete(threadId);
  }

  delete(threadId: string): void {
    this.logs.delete(threadId);
  }

  get size(): number {
    return this.logs.size;
  }
}
