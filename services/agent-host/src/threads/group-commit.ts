import type { BatchWriteResponse, WriteOperation, WriteResult } from '@elixirchain/proto/memory';
import { ElixirError, GrpcCode, type DeepPartial } from '@elixirchain/runtime';

/** Sends one atomic batch (retrying through an outage of memory) and answers with its results. */
export type SendBatch = (operations: DeepPartial<WriteOperation>[], requestId: string) => Promise<BatchWriteResponse>;

export interface GroupCommitLimits {
  /** Batches of one lane in flight at once; checkpoints arriving meanwhile wait and go together. */
  maxInFlight: number;
  /** Operations per batch (memory accepts 500). */
  maxOperations: number;
  /** Rough bytes per batch, below what a gRPC message may carry. */
  maxBytes: number;
}

interface Member {
  operations: DeepPartial<WriteOperation>[];
  requestId: string;
  bytes: number;
  resolve(results: WriteResult[]): void;
  reject(error: unknown): void;
}

class Lane {
  private readonly queue: Member[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly send: SendBatch,
    private readonly limits: GroupCommitLimits,
    private readonly onIdle: () => void,
  ) {}

  submit(member: Member): void {
    this.queue.push(member);
    if (this.scheduled || this.inFlight >= this.limits.maxInFlight) return;
    // Checkpoints made in the same tick (many turns stepping at once) leave together.
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.limits.maxInFlight && this.queue.length > 0) {
      const group: Member[] = [];
      let operations = 0;
      let bytes = 0;
      while (this.queue.length > 0) {
        const next = this.queue[0];
        if (group.length > 0 && (operations + next.operations.length > this.limits.maxOperations || bytes + next.bytes > this.limits.maxBytes)) break;
        group.push(this.queue.shift()!);
        operations += next.operations.length;
        bytes += next.bytes;
      }
      this.inFlight += 1;
      void this.run(group).finally(() => {
        this.inFlight -= 1;
        this.pump();
        if (this.inFlight === 0 && this.queue.length === 0) this.onIdle();
      });
    }
  }

  private async run(group: Member[]): Promise<void> {
    if (group.length === 1) {
      const [only] = group;
      await this.send(only.operations, only.requestId).then((r) => only.resolve(r.results), only.reject);
      return;
    }
    let response: BatchWriteResponse;
    try {
      // Unique as long as its members' ids are, and the same on every retry of this very batch.
      response = await this.send(
        group.flatMap((m) => m.operations),
        `group/${group.length}/${group[0].requestId}`,
      );
    } catch (error) {
      // Atomic: nothing of the group was written. An outage outlasted its budget for every member alike;
      // anything else (a lost compare-and-set, a refused operation) belongs to one member: find out whose.
      if (ElixirError.is(error, GrpcCode.UNAVAILABLE)) {
        for (const m of group) m.reject(error);
        return;
      }
      await Promise.all(group.map((m) => this.send(m.operations, m.requestId).then((r) => m.resolve(r.results), m.reject)));
      return;
    }
    let at = 0;
    for (const m of group) {
      m.resolve(response.results.slice(at, at + m.operations.length));
      at += m.operations.length;
    }
  }
}

/**
 * Group commit of checkpoints: the checkpoints of many threads that are ready
 * while an earlier batch is in flight go to memory as one atomic BatchWrite
 * (one call, one transaction) instead of one call each. Writes that must stay
 * apart (one agent's writes under an ownership fence) get a lane of their
 * own. Each member keeps its own per-operation request ids, so a retried
 * group — or a member retried alone — replays exactly what committed. A
 * member is answered only once its batch is durable.
 */
export class GroupCommit {
  private readonly lanes = new Map<unknown, Lane>();

  constructor(private readonly limits: GroupCommitLimits) {}

  /** Writes the operations atomically, together with whatever else the lane has ready; resolves with their results in order. */
  write(lane: unknown, send: SendBatch, operations: DeepPartial<WriteOperation>[], requestId: string, bytes: number): Promise<WriteResult[]> {
    let l = this.lanes.get(lane);
    if (!l) {
      const created = new Lane(send, this.limits, () => {
        if (this.lanes.get(lane) === created) this.lanes.delete(lane);
      });
      this.lanes.set(lane, created);
      l = created;
    }
    return new Promise((resolve, reject) => l.submit({ operations, requestId, bytes, resolve, reject }));
  }
}
