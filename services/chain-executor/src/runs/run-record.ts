import { RunStatus, StepStatus } from '@elixirchain/proto/chain';
import type { Chain, Run, RunEvent, StepState } from '@elixirchain/proto/chain';
import type { Status } from '@elixirchain/proto/google/rpc/status';

/**
 * What `runs/<id>` holds: the run's identity, status and result, and the
 * chain definition it runs (a snapshot, so updating or deleting the chain
 * never changes a run in flight). Per-step state lives in the event log.
 */
export interface RunRecord {
  id: string;
  chainId: string;
  chainVersion: number;
  chain: Chain;
  status: RunStatus;
  input: unknown;
  output?: unknown;
  error?: Status;
  failedPath?: string;
  /** Why a PAUSED run waits: an agent turn's approval (resumes by itself) or a step whose outcome is unknown (needs ResumeRun). */
  pausedFor?: 'approval' | 'outcome_unknown';
  requestId: string;
  lastSequence: number;
  createTime: Date;
  startTime?: Date;
  endTime?: Date;
}

export const TERMINAL_RUN_STATUSES = new Set([RunStatus.RUN_STATUS_SUCCEEDED, RunStatus.RUN_STATUS_FAILED, RunStatus.RUN_STATUS_CANCELLED]);
export const UNFINISHED_RUN_STATUSES = new Set([RunStatus.RUN_STATUS_PENDING, RunStatus.RUN_STATUS_RUNNING]);

/** The run as the API shows it; steps come from folding the event log. */
export function toRunMessage(record: RunRecord, steps: Iterable<StepState> = []): Run {
  return {
    id: record.id,
    chainId: record.chainId,
    chainVersion: record.chainVersion,
    status: record.status,
    input: record.input,
    output: record.output,
    error: record.error,
    steps: [...steps],
    lastSequence: record.lastSequence,
    createTime: record.createTime,
    startTime: record.startTime,
    endTime: record.endTime,
  };
}

/**
 * What the event log says about each step, and what a resumed run needs:
 * outputs of completed steps (replayed, not re-run) and steps that started
 * but have no recorded outcome (in doubt).
 */
export class StepLedger {
  readonly states = new Map<string, StepState>();
  /** Completed steps' outputs by path. */
  readonly completed = new Map<string, unknown>();
  /** Attempts started with no outcome recorded yet, by path. */
  private readonly open = new Map<string, number>();

  apply(event: RunEvent): void {
    const e = event.event;
    if (!e) return;
    switch (e.$case) {
      case 'stepStarted': {
        const s = e.stepStarted;
        const prior = this.states.get(s.path);
        this.states.set(s.path, {
          path: s.path,
          stepId: s.stepId,
          status: StepStatus.STEP_STATUS_RUNNING,
          output: undefined,
          error: undefined,
          attempts: s.attempt,
          startTime: prior && s.attempt > 1 ? prior.startTime : event.time,
          endTime: undefined,
        });
        this.completed.delete(s.path);
        this.open.set(s.path, s.attempt);
        break;
      }
      case 'stepCompleted': {
        const s = e.stepCompleted;
        const state = this.states.get(s.path);
        if (state) {
          state.status = StepStatus.STEP_STATUS_SUCCEEDED;
          state.output = s.output;
          state.error = undefined;
          state.endTime = event.time;
        }
        this.completed.set(s.path, s.output ?? null);
        this.open.delete(s.path);
        break;
      }
      case 'stepFailed': {
        const s = e.stepFailed;
        this.open.delete(s.path);
        const state = this.states.get(s.path);
        if (state) {
          state.error = s.error;
          if (!s.willRetry) {
            state.status = s.error?.code === 1 ? StepStatus.STEP_STATUS_CANCELLED : StepStatus.STEP_STATUS_FAILED;
            state.endTime = event.time;
          }
        }
        break;
      }
      default:
        break;
    }
  }

  /** Steps that started and have neither output nor final failure: their attempt, by path. */
  inDoubt(): Map<string, number> {
    return new Map(this.open);
  }
}
