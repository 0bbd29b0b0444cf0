import { Aggregation } from '@elixirchain/proto/chain';
import type { MapReduceStep, ParallelStep, RunEvent, Step } from '@elixirchain/proto/chain';
import { asElixirError, ElixirError, errors, GrpcCode, toRpcStatus } from '@elixirchain/runtime';
import { CelExpression, ExpressionEvaluationError } from '../expressions/cel-expression.js';
import type { ExpressionScope } from '../expressions/cel-expression.js';
import { isLeafStep, stepKindName } from '../definitions/step-kind.js';
import type { ConcurrencyLimit } from './concurrency-limit.js';
import { backoffMs, durationMs, isRetryable, resolveRetryPolicy } from './retry-policy.js';
import { StepFailure, StepOutcomeUnknown } from './step-failure.js';
import type { AgentStepRunner, ToolStepRunner } from './step-runners.js';
import { recordStepDuration } from './step-metrics.js';

export type RunEventBody = NonNullable<RunEvent['event']>;

/** What the interpreter needs from the run it executes. */
export interface RunExecution {
  readonly runId: string;
  readonly runInput: unknown;
  /** Aborts when the run is cancelled (reason: an ElixirError). */
  readonly signal: AbortSignal;
  /** Outputs of steps that completed before a restart or resume: replayed, not re-run. */
  readonly completed: ReadonlyMap<string, unknown>;
  /** Steps started before a restart with no recorded outcome: their attempt. */
  readonly inDoubt: ReadonlyMap<string, number>;
  /** Attempts already made at steps that failed before a resume: numbering continues after them. */
  readonly priorAttempts: ReadonlyMap<string, number>;
  /** Set when the executor stops: no new step starts; the run resumes from its checkpoints on the next start. */
  readonly detached: boolean;
  /** Bounds this run's leaf steps in flight. */
  readonly slots: ConcurrencyLimit;
  /** Records an event; never waits (it is written with the run's next checkpoint). */
  emit(event: RunEventBody): void;
  /** Resolves once everything recorded so far is durable. */
  durable(): Promise<void>;
  /** Something to wait on when the run has recorded too much beyond what is durable (backpressure); else undefined. */
  backlog(): Promise<void> | undefined;
  /** An agent step's turn started or stopped waiting for an approval. */
  setAwaitingApproval(path: string, waiting: boolean, reason: string): void;
}

export interface StepInterpreterDeps {
  tools: ToolStepRunner;
  agents: AgentStepRunner;
  /** Bounds leaf steps in flight across every run of this executor. */
  slots: ConcurrencyLimit;
}

type Steps = Record<string, unknown>;

const toDuration = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: Math.round((ms % 1000) * 1e6) });

function abortReason(signal: AbortSignal): ElixirError {
  return asElixirError(signal.reason ?? errors.cancelled());
}

/** Rejects once the signal aborts, so a step whose callee ignores the signal still ends. */
function whenAborted(signal: AbortSignal): { promise: Promise<never>; dispose(): void } {
  let onAbort: () => void = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortReason(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => {});
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

function childSignal(parent: AbortSignal): AbortController {
  const controller = new AbortController();
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener('abort', () => controller.abort(parent.reason), { once: true });
  return controller;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function evaluate(source: string, scope: ExpressionScope, kind: 'step' | 'reduce' = 'step'): unknown {
  try {
    return CelExpression.compile(source, kind).evaluate(scope);
  } catch (error) {
    if (error instanceof ExpressionEvaluationError) {
      throw new ElixirError(GrpcCode.INVALID_ARGUMENT, 'EXPRESSION_FAILED', `CEL \`${source}\` failed: ${error.message}`);
    }
    throw error;
  }
}

/**
 * Executes a step tree: the five patterns over tool, agent and transform
 * steps, with per-step timeout and retry. Each step's start and result are
 * recorded as events; steps completed before a restart are replayed from
 * their recorded output.
 *
 * Durability follows the output-commit rule: transforms and combinators are
 * deterministic functions of their input and of recorded outputs, so they
 * run on without waiting for their events to be durable. A tool or agent
 * step — an effect outside the run — is dispatched only once everything the
 * run recorded before it, and its own start, is durable: a crash then leaves
 * either no trace of the call (it was never made) or its start (in doubt,
 * judged on restart). Whatever was recorded but not yet durable at a crash
 * was seen by nobody (watchers and GetRun see durable events only) and is
 * re-derived on restart by running the same pure steps again.
 */
export class StepInterpreter {
  constructor(private readonly deps: StepInterpreterDeps) {}

  async run(run: RunExecution, step: Step, path: string, input: unknown, steps: Steps, signal: AbortSignal): Promise<unknown> {
    if (run.completed.has(path)) {
      const output = run.completed.get(path);
      steps[step.id] = output;
      return output;
    }
    const policy = resolveRetryPolicy(step.retry);
    const timeoutMs = durationMs(step.timeout);
    const kind = stepKindName(step);
    const leaf = isLeafStep(step);
    const inDoubtAttempt = run.inDoubt.get(path) ?? 0;
    const resumingInDoubt = inDoubtAttempt > 0;
    // An in-doubt attempt is re-entered with its own number (an agent re-attaches by it); others count on.
    let attempt = resumingInDoubt ? inDoubtAttempt - 1 : (run.priorAttempts.get(path) ?? 0);
    for (;;) {
      attempt++;
      if (signal.aborted) throw new StepFailure(path, abortReason(signal));
      if (run.detached) throw new StepFailure(path, errors.unavailable('EXECUTOR_STOPPING', 'the chain executor is stopping'));
      const started = performance.now();
      if (resumingInDoubt && attempt === run.inDoubt.get(path) && step.kind?.$case === 'tool') {
        try {
          await this.checkToolMayRerun(step, path);
        } catch (unknown) {
          // Reported as this attempt's failure, so ResumeRun later starts a fresh attempt.
          const failure = unknown as StepOutcomeUnknown;
          run.emit({ $case: 'stepFailed', stepFailed: { path, error: toRpcStatus(failure.error), attempt, willRetry: false } });
          throw failure;
        }
      }
      run.emit({ $case: 'stepStarted', stepStarted: { path, stepId: step.id, kind, attempt } });
      // A call with effects outside the run starts only once everything before it and its
      // start are durable, so a crash leaves a trace of it (see "in doubt" on restart).
      if (step.kind?.$case === 'tool' || step.kind?.$case === 'agent') await run.durable();
      try {
        const output = leaf
          ? await this.runLeaf(run, step, path, input, steps, signal, timeoutMs, attempt)
          : await this.withTimeout(timeoutMs, signal, (s) => this.runCombinator(run, step, path, input, steps, s));
        run.emit({
          $case: 'stepCompleted',
          stepCompleted: { path, output, duration: toDuration(performance.now() - started), attempts: attempt },
        });
        recordStepDuration((performance.now() - started) / 1000, kind, 'completed');
        // Not waited for (pure work runs ahead of its checkpoints), unless too much is.
        const backlog = run.backlog();
        if (backlog) await backlog;
        steps[step.id] = output;
        return output;
      } catch (thrown) {
        if (thrown instanceof StepOutcomeUnknown) throw thrown;
        // Stopping: record nothing, so a call cut short stays "in doubt" for the next start to judge.
        if (run.detached) throw thrown instanceof StepFailure ? thrown : new StepFailure(path, asElixirError(thrown));
        const error = thrown instanceof StepFailure ? thrown.error : asElixirError(thrown);
        const willRetry = !signal.aborted && attempt < policy.maxAttempts && isRetryable(policy, error);
        run.emit({ $case: 'stepFailed', stepFailed: { path, error: toRpcStatus(error), attempt, willRetry } });
        recordStepDuration((performance.now() - started) / 1000, kind, 'failed', error.codeName);
        if (!willRetry) {
          throw thrown instanceof StepFailure ? thrown : new StepFailure(path, error);
        }
        await sleep(backoffMs(policy, attempt), signal).catch(() => {});
      }
    }
  }

  private async checkToolMayRerun(step: Step, path: string): Promise<void> {
    if (step.kind?.$case !== 'tool') return;
    const { tool, version } = step.kind.tool;
    const description = await this.deps.tools.describe(tool, version).catch(() => undefined);
    if (description && (description.idempotent || description.readOnly)) return;
    const why = description ? 'is not marked idempotent or read-only' : 'could not be looked up to check its annotations';
    throw new StepOutcomeUnknown(
      path,
      new ElixirError(GrpcCode.ABORTED, 'STEP_OUTCOME_UNKNOWN', `tool step ${path} (${tool}) was started before the executor restarted and its outcome was not recorded; the tool ${why}, so it was not re-run. Check whether it took effect, then ResumeRun to run it again (or CancelRun).`, { metadata: { path, tool } }),
    );
  }

  private async runLeaf(run: RunExecution, step: Step, path: string, input: unknown, steps: Steps, signal: AbortSignal, timeoutMs: number, attempt: number): Promise<unknown> {
    // Demand-driven: a leaf starts only when both this run and the executor have a free slot.
    const waitRun = run.slots.acquire(signal);
    if (waitRun) await waitRun;
    try {
      const waitExecutor = this.deps.slots.acquire(signal);
      if (waitExecutor) await waitExecutor;
      try {
        const kind = step.kind!;
        if (kind.$case === 'transform') {
          return evaluate(kind.transform.expression, { input, run: run.runInput, steps });
        }
        return await this.withTimeout(timeoutMs, signal, (s) => this.runCall(run, step, path, input, steps, s, timeoutMs, attempt));
      } finally {
        this.deps.slots.release();
      }
    } finally {
      run.slots.release();
    }
  }

  private async runCall(run: RunExecution, step: Step, path: string, input: unknown, steps: Steps, signal: AbortSignal, timeoutMs: number, attempt: number): Promise<unknown> {
    const kind = step.kind!;
    const scope = { input, run: run.runInput, steps };
    if (kind.$case === 'tool') {
      const toolInput = kind.tool.input ? evaluate(kind.tool.input, scope) : input;
      if (toolInput === null || typeof toolInput !== 'object' || Array.isArray(toolInput)) {
        throw new ElixirError(GrpcCode.INVALID_ARGUMENT, 'TOOL_INPUT_NOT_OBJECT', `tool step ${path}: a tool's input must be an object, got ${Array.isArray(toolInput) ? 'a list' : typeof toolInput}; set tool.input to a CEL expression building one, e.g. {"value": input}`);
      }
      return this.deps.tools.invoke({
        tool: kind.tool.tool,
        version: kind.tool.version,
        input: toolInput as Record<string, unknown>,
        callId: `${run.runId}:${path}:${attempt}`,
        timeoutMs: timeoutMs || undefined,
        signal,
        onProgress: (fraction, message) => run.emit({ $case: 'stepProgress', stepProgress: { path, textDelta: '', fraction, message } }),
      });
    }
    if (kind.$case === 'agent') {
      const value = kind.agent.message ? evaluate(kind.agent.message, scope) : input;
      const message = typeof value === 'string' ? value : JSON.stringify(value);
      return this.deps.agents
        .send({
        agentId: kind.agent.agentId,
        threadId: kind.agent.threadId || agentThreadId(run.runId, path),
        message,
        requestId: `${run.runId}:${path}:${attempt}`,
        signal,
        onTextDelta: (text) => run.emit({ $case: 'stepProgress', stepProgress: { path, textDelta: text, fraction: 0, message: '' } }),
        onAwaitingApproval: (waiting, reason) => run.setAwaitingApproval(path, waiting, reason),
      })
        .finally(() => run.setAwaitingApproval(path, false, ''));
    }
    throw new Error(`not a call step: ${kind.$case}`);
  }

  private async withTimeout<T>(timeoutMs: number, parent: AbortSignal, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (!timeoutMs) {
      const aborted = whenAborted(parent);
      try {
        return await Promise.race([body(parent), aborted.promise]);
      } finally {
        aborted.dispose();
      }
    }
    const controller = childSignal(parent);
    const timer = setTimeout(() => controller.abort(errors.deadlineExceeded(`step timed out after ${timeoutMs} ms`, 'STEP_TIMEOUT')), timeoutMs);
    const aborted = whenAborted(controller.signal);
    try {
      return await Promise.race([body(controller.signal), aborted.promise]);
    } finally {
      clearTimeout(timer);
      aborted.dispose();
    }
  }

  private async runCombinator(run: RunExecution, step: Step, path: string, input: unknown, steps: Steps, signal: AbortSignal): Promise<unknown> {
    const kind = step.kind!;
    const scope = () => ({ input, run: run.runInput, steps });
    switch (kind.$case) {
      case 'sequential': {
        let output: unknown = null;
        for (const child of kind.sequential.steps) output = await this.run(run, child, `${path}/${child.id}`, input, steps, signal);
        return output;
      }
      case 'parallel':
        return this.runParallel(run, kind.parallel, path, input, steps, signal);
      case 'conditional': {
        for (const [i, branch] of kind.conditional.branches.entries()) {
          const holds = evaluate(branch.when, scope());
          if (typeof holds !== 'boolean') {
            throw new ElixirError(GrpcCode.INVALID_ARGUMENT, 'PREDICATE_NOT_BOOL', `conditional ${path}: branches[${i}].when must give a bool, got ${JSON.stringify(holds)}`);
          }
          if (holds) return this.run(run, branch.step!, `${path}/${branch.step!.id}`, input, steps, signal);
        }
        const otherwise = kind.conditional.otherwise;
        // No branch and no otherwise: the value passes through unchanged.
        return otherwise ? this.run(run, otherwise, `${path}/${otherwise.id}`, input, steps, signal) : input;
      }
      case 'pipeline': {
        let value = input;
        for (const stage of kind.pipeline.stages) {
          if (stage.map) value = evaluate(stage.map, { input: value, run: run.runInput, steps });
          value = await this.run(run, stage.step!, `${path}/${stage.step!.id}`, value, steps, signal);
        }
        return value;
      }
      case 'mapReduce':
        return this.runMapReduce(run, kind.mapReduce, path, input, steps, signal);
      default:
        throw new Error(`not a combinator: ${kind.$case}`);
    }
  }

  private async runParallel(run: RunExecution, parallel: ParallelStep, path: string, input: unknown, steps: Steps, signal: AbortSignal): Promise<unknown> {
    const branches = parallel.branches;
    const all = parallel.aggregation === Aggregation.AGGREGATION_ALL || parallel.aggregation === Aggregation.AGGREGATION_UNSPECIFIED;
    const need = all ? branches.length : parallel.aggregation === Aggregation.AGGREGATION_FIRST ? 1 : parallel.quorum;
    const controllers = branches.map(() => childSignal(signal));
    const outputs: unknown[] = new Array(branches.length);
    const winners: unknown[] = [];
    let failures = 0;
    let firstFailure: unknown;
    let settled = false;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const stopOthers = (reason: ElixirError) => {
      controllers.forEach((c) => c.abort(reason));
    };
    const tasks = branches.map(async (branch, i) => {
      try {
        const output = await this.run(run, branch, `${path}/${branch.id}`, input, steps, controllers[i]!.signal);
        if (settled) return;
        outputs[i] = output;
        winners.push(output);
        if (winners.length >= need) {
          settled = true;
          if (!all) stopOthers(errors.cancelled(`parallel ${path}: another branch won`, 'LOST_RACE'));
          resolveDone();
        }
      } catch (error) {
        if (settled) return;
        failures++;
        firstFailure ??= error;
        // `all` fails on the first failure; first/quorum once too few branches are left to win.
        if (all || branches.length - failures < need) {
          settled = true;
          stopOthers(errors.cancelled(`parallel ${path}: a sibling branch failed`, 'SIBLING_FAILED'));
          resolveDone();
        }
      }
    });
    await done;
    // Losers were told to stop; wait for them so their cancellation is recorded before this step ends.
    await Promise.allSettled(tasks);
    if (winners.length < need) throw firstFailure instanceof StepFailure ? firstFailure : new StepFailure(path, asElixirError(firstFailure));
    if (all) return outputs;
    return parallel.aggregation === Aggregation.AGGREGATION_FIRST ? winners[0] : winners.slice(0, need);
  }

  private async runMapReduce(run: RunExecution, step: MapReduceStep, path: string, input: unknown, steps: Steps, signal: AbortSignal): Promise<unknown> {
    const items = step.items ? evaluate(step.items, { input, run: run.runInput, steps }) : input;
    if (!Array.isArray(items)) {
      throw new ElixirError(GrpcCode.INVALID_ARGUMENT, 'ITEMS_NOT_LIST', `map_reduce ${path}: items must be a list, got ${items === null ? 'null' : typeof items}`);
    }
    const mapStep = step.map!;
    const results: unknown[] = new Array(items.length);
    const controller = childSignal(signal);
    let next = 0;
    let failure: unknown;
    // A fixed pool of workers pulls the next item only when it is free: never more than `concurrency` map steps at once.
    const worker = async () => {
      while (next < items.length && failure === undefined) {
        const i = next++;
        try {
          results[i] = await this.run(run, mapStep, `${path}/map[${i}]`, items[i], { ...steps }, controller.signal);
        } catch (error) {
          if (failure === undefined) {
            failure = error;
            controller.abort(errors.cancelled(`map_reduce ${path}: item ${i} failed`, 'SIBLING_FAILED'));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(step.concurrency, items.length) }, worker));
    if (failure !== undefined) throw failure instanceof StepFailure ? failure : new StepFailure(path, asElixirError(failure));
    const reduce = step.reduce;
    if (reduce?.$case === 'reduceStep') return this.run(run, reduce.reduceStep, `${path}/${reduce.reduceStep.id}`, results, steps, signal);
    if (reduce?.$case === 'reduceExpression') return evaluate(reduce.reduceExpression, { input, run: run.runInput, steps, results }, 'reduce');
    return results;
  }
}

/** A thread per run and step, in the characters thread ids allow. */
export function agentThreadId(runId: string, path: string): string {
  return `${runId}-${path.replace(/[^A-Za-z0-9_-]+/g, '-')}`.slice(0, 120);
}
