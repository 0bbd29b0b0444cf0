import type { Message } from '@elixirchain/proto/memory';
import type { DeepPartial } from '@elixirchain/runtime';
import type { ThreadEventBody, ThreadEventLog } from './thread-event-log.js';
import type { ThreadStore } from './thread-store.js';
import { copyThreadRecord, type QueuedMessage, type StreamedText, type ThreadRecord } from './thread-record.js';

export interface CommitStep {
  messages?: DeepPartial<Message>[];
  activeIndex?: 'put' | 'delete';
  /** Applied to a copy of the record; the copy becomes the record once the write is durable. */
  update?: (record: ThreadRecord) => void;
  /** Events that describe this step: numbered now, delivered once the write is durable. */
  stage?: Array<{ turnId: string; body: ThreadEventBody }>;
  /**
   * The turn this step ends (its final checkpoint, staging turn_completed): once the write is durable the
   * thread stops running it before the events are released, so a message a client sends on turn_completed
   * finds the thread idle (with on_busy=REJECT it is accepted, not refused as busy).
   */
  endsTurn?: string;
}

/**
 * A resident thread of an agent actor: its record, its history (held while
 * resident so a turn does not reload it), its event log and its mailbox.
 * Checkpoints go through here one at a time, so parallel tool results of a
 * turn never race each other's compare-and-set.
 */
export class ThreadSession {
  history: Message[] | undefined;
  queue: QueuedMessage[] = [];
  runningTurnId: string | undefined;
  /**
   * A turn whose final checkpoint is durable and turn_completed released, still finishing its tail
   * (memory write-back) in the actor: the thread is idle for submissions, but its next turn starts
   * only once this one has finished.
   */
  endingTurnId: string | undefined;
  starting = false;
  /** Idle before on its actor, or loaded back from memory: a conversation, kept in the actor's LRU of idle threads rather than its FIFO of new ones. */
  reused = false;
  /** The request of a turn between leaving the queue and its start being durable (not in `queue` nor in `record.requests`). */
  startingRequest: { requestId: string; turnId: string; firstSequence: number } | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  /** Set by the running turn: how much of the current model answer the events being written hold. */
  streamProbe: { turnId: string; streamed: () => StreamedText | undefined } | undefined;
  /** A write of mailbox changes not yet started: later acceptances join it (group commit). */
  private openAcceptance: { step: CommitStep; done: Promise<Message[]> } | undefined;

  constructor(
    readonly threadId: string,
    public record: ThreadRecord,
    public stateVersion: number,
    public isNew: boolean,
    readonly log: ThreadEventLog,
    private readonly store: ThreadStore,
  ) {
    this.queue = [...record.queue];
  }

  async ensureHistory(): Promise<Message[]> {
    if (!this.history) this.history = this.isNew ? [] : await this.store.loadHistory(this.threadId);
    return this.history;
  }

  get busy(): boolean {
    return this.runningTurnId !== undefined || this.starting || this.queue.length > 0;
  }

  commit(step: CommitStep): Promise<Message[]> {
    const run = this.tail.then(() => this.write(step));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Makes the mailbox as it stands durable, with its event, before the caller
   * answers the client. Messages accepted while an earlier such write waits
   * its turn join it, so a burst of queued messages costs one write.
   */
  commitMailbox(stage: NonNullable<CommitStep['stage']>): Promise<Message[]> {
    if (this.openAcceptance) {
      this.openAcceptance.step.stage!.push(...stage);
      return this.openAcceptance.done;
    }
    const opened = { step: {} as CommitStep, done: Promise.resolve([] as Message[]) };
    opened.step = {
      stage: [...stage],
      activeIndex: 'put',
      // write() reads the stage right after this: from here on a later acceptance needs a write of its own.
      update: () => {
        if (this.openAcceptance === opened) this.openAcceptance = undefined;
      },
    };
    this.openAcceptance = opened;
    opened.done = this.commit(opened.step);
    opened.done.catch(() => {
      if (this.openAcceptance === opened) this.openAcceptance = undefined;
    });
    return opened.done;
  }

  private async write(step: CommitStep): Promise<Message[]> {
    const draft: ThreadRecord = copyThreadRecord(this.record);
    delete draft.cleanStop;
    step.update?.(draft);
    // Until its turn streams, a resumed checkpoint keeps the mark it was stored with.
    if (draft.activeTurn && this.streamProbe?.turnId === draft.activeTurn.turnId) {
      const streamed = this.streamProbe.streamed();
      if (streamed) draft.activeTurn.streamed = streamed;
      else delete draft.activeTurn.streamed;
    }
    draft.queue = this.queue.map((q) => ({ ...q }));
    // Accepted messages keep the thread in the index of unfinished work, so a restart runs them.
    const activeIndex = step.activeIndex === 'delete' && (draft.queue.length > 0 || draft.activeTurn) ? 'put' : step.activeIndex;
    const staged = (step.stage ?? []).map((s) => this.log.append(s.turnId, s.body, 'staged'));
    const events = this.log.takeUnpersisted();
    let result;
    try {
      result = await this.store.checkpoint({
        record: draft,
        stateVersion: this.isNew ? 0 : this.stateVersion,
        messages: step.messages,
        events,
        activeIndex,
        indexThread: this.isNew,
      });
    } catch (error) {
      const stagedSequences = new Set(staged.map((e) => e.sequence));
      this.log.restoreUnpersisted(events.filter((e) => !stagedSequences.has(e.sequence)));
      this.log.discardStaged();
      throw error;
    }
    this.stateVersion = result.stateVersion;
    this.record = draft;
    this.isNew = false;
    if (this.history) this.history.push(...result.messages);
    if (events.length > 0) this.log.markPersisted(events[events.length - 1].sequence);
    if (step.endsTurn && this.runningTurnId === step.endsTurn) {
      this.runningTurnId = undefined;
      this.endingTurnId = step.endsTurn;
    }
    if (staged.length > 0) this.log.release(staged[staged.length - 1].sequence);
    return result.messages;
  }
}
