import { createLogger } from '@elixirchain/runtime';
import type { Logger } from '@elixirchain/runtime';
import { ChainDefinitions } from './definitions/chain-definitions.js';
import { ChainRepository } from './definitions/chain-repository.js';
import { ConcurrencyLimit } from './execution/concurrency-limit.js';
import { StepInterpreter } from './execution/step-interpreter.js';
import type { AgentStepRunner, ToolStepRunner } from './execution/step-runners.js';
import { EphemeralRunCheckpointStore, StateRunCheckpointStore } from './runs/run-checkpoint-store.js';
import type { RunCheckpointStore } from './runs/run-checkpoint-store.js';
import { DEFAULT_RUN_LIMITS, RunManager } from './runs/run-manager.js';
import type { RunLimits } from './runs/run-manager.js';
import type { StateStore } from './storage/state-store.js';
import { LeasedRunCheckpointStore, RunOwnership } from './runs/run-ownership.js';
import type { LeaseManager } from '@elixirchain/runtime';

export interface ExecutorLimits extends RunLimits {
  /** Leaf steps in flight across all runs of this executor. */
  maxStepsInFlight: number;
}

export const DEFAULT_EXECUTOR_LIMITS: ExecutorLimits = { ...DEFAULT_RUN_LIMITS, maxStepsInFlight: 256 };

export interface ChainExecutorOptions {
  /** Where definitions (and, when durable, run checkpoints) live: memory's state in production. */
  state: StateStore;
  tools: ToolStepRunner;
  agents: AgentStepRunner;
  /** false keeps runs in this process only (no checkpoints; a restart loses them). Default true. */
  durable?: boolean;
  /** Overrides the checkpoint store (tests). */
  checkpoints?: RunCheckpointStore;
  limits?: Partial<ExecutorLimits>;
  logger?: Logger;
  /** With several replicas: each run executes on the replica holding its lease (see runs/run-ownership.ts). */
  leases?: LeaseManager;
  /** The tenant whose runs these are (default "default"): names their leases, `run/<tenant>/<id>`. */
  tenant?: string;
  /**
   * This process is the only writer of the definitions in `state` (a single
   * chain-executor, no replicas): StartRun takes the current definition from
   * what it last wrote or read instead of reading memory every time. Never
   * with replicas. Default false.
   */
  ownsDefinitions?: boolean;
}

/** The chain executor without its gRPC face: definitions, runs and their execution. */
export class ChainExecutor {
  readonly definitions: ChainDefinitions;
  readonly runs: RunManager;
  readonly checkpoints: RunCheckpointStore;
  readonly stepSlots: ConcurrencyLimit;
  readonly limits: ExecutorLimits;

  constructor(options: ChainExecutorOptions) {
    this.limits = { ...DEFAULT_EXECUTOR_LIMITS, ...options.limits };
    const logger = options.logger ?? createLogger('chain-executor');
    const ownership = options.leases ? new RunOwnership(options.leases, options.tenant) : undefined;
    const checkpoints = options.checkpoints ?? (options.durable === false ? new EphemeralRunCheckpointStore() : new StateRunCheckpointStore(options.state));
    this.checkpoints = ownership ? new LeasedRunCheckpointStore(checkpoints, ownership) : checkpoints;
    if (options.ownsDefinitions && options.leases) throw new Error('ownsDefinitions cannot be set with replicas (leases): another replica may update a chain');
    const repository = new ChainRepository(options.state, options.ownsDefinitions === true);
    this.definitions = new ChainDefinitions(repository, options.tools, options.agents);
    this.stepSlots = new ConcurrencyLimit(this.limits.maxStepsInFlight);
    const interpreter = new StepInterpreter({ tools: options.tools, agents: options.agents, slots: this.stepSlots });
    this.runs = new RunManager(this.checkpoints, repository, interpreter, this.limits, logger, ownership);
  }

  /** Resumes runs a previous process left unfinished; returns how many. */
  recover(): Promise<number> {
    return this.runs.recover();
  }

  stop(): Promise<void> {
    return this.runs.stop();
  }
}
