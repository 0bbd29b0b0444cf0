// How every row is measured, identically: warm-up, sequential turns, turns
// with 100 in flight (with CPU per turn across the row's processes), then
// resident agents.
import { loadavg } from 'node:os';
import { CpuMeter, describeError, progress, runLoad } from '../harness/index.js';
import type { Contender, RowDefinition } from './contender.js';
import { checkTurnOutcome } from './workload.js';

export const IN_FLIGHT = 100;
/** The row is abandoned once more than this many turns, and this share of them, have failed. */
const MAX_FAILED_TURNS = 20;
const MAX_FAILED_SHARE = 0.05;

export interface RowPlan {
  warmUpTurns: number;
  sequentialTurns: number;
  concurrentTurns: number;
  residentAgents: number;
  /** When the row must be done (epoch ms), start-up included; each phase gets a share of what is left. */
  deadline: number;
}

export function rowPlan(quick: boolean, deadline: number): RowPlan {
  return quick
    ? { warmUpTurns: 2, sequentialTurns: 5, concurrentTurns: 20, residentAgents: 20, deadline }
    : { warmUpTurns: 300, sequentialTurns: 2000, concurrentTurns: 8000, residentAgents: 10_000, deadline };
}

export interface RowMeasurement {
  id: string;
  sequential: { turnsPerSecond: number; p50Ms: number; p99Ms: number; completed: number; truncated: boolean };
  concurrent: { turnsPerSecond: number; p50Ms: number; p99Ms: number; completed: number; truncated: boolean; cpuMsPerTurn: number; cpuMsPerTurnByProcess: Record<string, number>; cpuMsPerTurnInChildProcesses: Record<string, number> };
  resident?: { bytesPerAgent: number; agents: number; method: string };
  /** Turns that failed (error, or not the workload's result) and the first reason. */
  failedTurns: number;
  firstFailure: string;
  /** Text delta events a client received per turn (50 unless the runtime coalesces). */
  textEventsPerTurn: number;
  /** 1-minute load average right after the 100-in-flight phase: how busy the machine was besides us. */
  loadAverage: number;
}

export async function measureRow(row: RowDefinition, contender: Contender, plan: RowPlan): Promise<RowMeasurement> {
  let turns = 0;
  let textEvents = 0;
  let failures = 0;
  let firstFailure = '';
  // A failed turn is counted and reported, not fatal: a runtime that fails a few
  // turns under load should show its numbers and its failure rate.
  const turn = async (): Promise<void> => {
    try {
      const outcome = await contender.turn();
      checkTurnOutcome(outcome);
      textEvents += outcome.textEvents;
    } catch (error) {
      failures++;
      firstFailure ||= describeError(error);
      if (failures > MAX_FAILED_TURNS && failures > (turns + failures) * MAX_FAILED_SHARE) {
        throw new Error(`${failures} of ${turns + failures} turns failed; first: ${firstFailure}`, { cause: error });
      }
      return;
    }
    turns++;
  };
  // Each phase may use this share of the time left when it starts (at least a second).
  const share = (fraction: number): number => Math.max(1000, (plan.deadline - Date.now()) * fraction);

  progress(`  ${row.id}: warm-up`);
  await runLoad(turn, { iterations: plan.warmUpTurns, timeBudgetMs: share(0.05) });
  await runLoad(turn, { iterations: plan.warmUpTurns * 2, inFlight: IN_FLIGHT, timeBudgetMs: share(0.05) });

  progress(`  ${row.id}: ${plan.sequentialTurns} sequential turns`);
  let before = turns;
  const sequential = await runLoad(turn, { iterations: plan.sequentialTurns, timeBudgetMs: share(0.3) });
  const sequentialOk = turns - before;

  progress(`  ${row.id}: ${plan.concurrentTurns} turns, ${IN_FLIGHT} in flight`);
  const pids = { client: process.pid, ...contender.processes?.() };
  const cpu = new CpuMeter(pids);
  before = turns;
  const concurrent = await runLoad(turn, { iterations: plan.concurrentTurns, inFlight: IN_FLIGHT, timeBudgetMs: share(0.55) });
  const concurrentOk = turns - before;
  const cpuUsed = cpu.stop();
  const loadAverage = loadavg()[0]!;
  const cpuMsPerTurnByProcess = Object.fromEntries(Object.entries(cpuUsed).map(([name, ms]) => [name, ms / Math.max(1, concurrentOk)]));
  const cpuMsPerTurnInChildProcesses = Object.fromEntries(Object.entries(cpu.children()).map(([name, ms]) => [name, ms / Math.max(1, concurrentOk)]));

  let resident: RowMeasurement['resident'];
  if (contender.residentAgents) {
    progress(`  ${row.id}: ${plan.residentAgents} resident agents`);
    resident = await contender.residentAgents(plan.residentAgents, share(0.9));
  }

  return {
    id: row.id,
    sequential: {
      // Only turns that did the workload count towards throughput.
      turnsPerSecond: sequentialOk / (sequential.elapsedMs / 1000),
      p50Ms: sequential.latency.p50,
      p99Ms: sequential.latency.p99,
      completed: sequential.completed,
      truncated: sequential.truncated,
    },
    concurrent: {
      turnsPerSecond: concurrentOk / (concurrent.elapsedMs / 1000),
      p50Ms: concurrent.latency.p50,
      p99Ms: concurrent.latency.p99,
      completed: concurrent.completed,
      truncated: concurrent.truncated,
      cpuMsPerTurn: Object.values(cpuMsPerTurnByProcess).reduce((a, b) => a + b, 0),
      cpuMsPerTurnByProcess,
      cpuMsPerTurnInChildProcesses,
    },
    resident,
    failedTurns: failures,
    firstFailure,
    textEventsPerTurn: textEvents / turns,
    loadAverage,
  };
}
