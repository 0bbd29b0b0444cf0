// The turns suite: the cost of one agent turn in ElixirChain against peer
// agent libraries and the bare transport, every row measured in the same run,
// each in its own process.
import { availableParallelism } from 'node:os';
import { describeError, progress, runChildTask, type Row, type SuiteOptions, type SuiteResult } from '../harness/index.js';
import { ROWS, type RowDefinition } from './contender.js';
import { IN_FLIGHT, type RowMeasurement } from './measure-row.js';
import { TEXT_CHUNK_COUNT } from './workload.js';

const DEFAULT_BUDGET_MS = 360_000;
/** Allowed past a row's budget (start-up, resident agents, teardown) before it is killed. */
const ROW_GRACE_MS = 30_000;
const GIB = 2 ** 30;
/** RSS grows in steps the heap already has room for: below this many agents the growth is noise. */
const MIN_AGENTS_FOR_RSS = 2_000;

function residentCounts(resident: NonNullable<RowMeasurement['resident']>): boolean {
  return Number.isFinite(resident.bytesPerAgent) && (resident.method.startsWith('heap') || resident.agents >= MIN_AGENTS_FOR_RSS);
}

/** The 10k-agents target, from the gRPC row when it made enough agents, else from the in-process engine's heap. */
function residentTarget(outcomes: RowOutcome[]): string[] {
  const lines: string[] = [];
  const verdict = (bytesPerAgent: number): string => {
    const total = bytesPerAgent * 10_000;
    return `${(total / 2 ** 20).toFixed(0)} MiB — ${total < GIB ? 'met' : 'not met'}`;
  };
  const grpc = outcomes.find((o) => o.row.id === 'elixirchain-grpc')?.measurement?.resident;
  const engine = outcomes.find((o) => o.row.id === 'elixirchain-in-process')?.measurement?.resident;
  if (grpc && residentCounts(grpc)) {
    lines.push(`Target 10k resident agents < 1 GiB: ${verdict(grpc.bytesPerAgent)} (agent-host RSS growth over ${grpc.agents} agents, scaled to 10k).`);
    return lines;
  }
  if (grpc) {
    lines.push(
      `The gRPC row made ${grpc.agents} resident agents in its time, fewer than ${MIN_AGENTS_FOR_RSS.toLocaleString('en-US')}: too few for agent-host's RSS growth to mean anything, so its bytes/resident agent is not shown.`,
    );
  }
  if (engine && residentCounts(engine)) {
    lines.push(
      `Target 10k resident agents < 1 GiB: ${verdict(engine.bytesPerAgent)} by the in-process engine's heap after GC (agent-host's actors, registry and thread history for ${engine.agents} agents, scaled to 10k).`,
    );
  }
  return lines;
}

type RowOutcome = { row: RowDefinition; measurement?: RowMeasurement; problem?: string };

export async function run(opts: SuiteOptions): Promise<SuiteResult> {
  const rows = opts.rows?.length ? ROWS.filter((r) => opts.rows!.includes(r.id)) : ROWS;
  if (rows.length === 0) throw new Error(`no turns rows match ${opts.rows!.join(', ')}; rows are ${ROWS.map((r) => r.id).join(', ')}`);
  const suiteDeadline = Date.now() + (opts.budgetMs ?? DEFAULT_BUDGET_MS);

  const outcomes: RowOutcome[] = [];
  for (const [index, row] of rows.entries()) {
    // Split what is left over the rows still to run by weight. A row's budget
    // covers its start-up and every phase; the grace past it (for teardown and
    // overshoot) is reserved up front, so the suite ends before its own deadline.
    const weightLeft = rows.slice(index).reduce((sum, r) => sum + r.weight, 0);
    const usable = suiteDeadline - Date.now() - (opts.quick ? 0 : ROW_GRACE_MS);
    const budgetMs = Math.max(5_000, (usable * row.weight) / weightLeft);
    const timeoutMs = Math.max(budgetMs + 5_000, Math.min(budgetMs + ROW_GRACE_MS, suiteDeadline - Date.now()));
    progress(`turns: ${row.id} (${row.label}), budget ${(budgetMs / 1000).toFixed(0)} s`);
    try {
      const measurement = await runChildTask<RowMeasurement>(
        new URL('./row-child.ts', import.meta.url).pathname,
        { rowId: row.id, quick: opts.quick, budgetMs },
        { timeoutMs, nodeFlags: ['--expose-gc'] },
      );
      outcomes.push({ row, measurement });
      progress(
        `turns: ${row.id}: ${measurement.sequential.turnsPerSecond.toFixed(0)} turns/s sequential, ${measurement.concurrent.turnsPerSecond.toFixed(0)} turns/s at ${IN_FLIGHT} in flight`,
      );
    } catch (error) {
      const problem = describeError(error);
      outcomes.push({ row, problem });
      progress(`turns: ${row.id}: ${problem}`);
    }
  }
  return { suite: 'turns', rows: tableRows(outcomes), notes: notes(outcomes, opts.quick) };
}

function best(outcomes: RowOutcome[], pick: (m: RowMeasurement) => number): RowOutcome | undefined {
  return outcomes
    .filter((o) => o.row.kind === 'peer' && o.measurement)
    .sort((a, b) => pick(b.measurement!) - pick(a.measurement!))[0];
}

function ratio(value: number | undefined, to: number | undefined): string | number {
  return value !== undefined && to ? Math.round((value / to) * 100) / 100 : '—';
}

function tableRows(outcomes: RowOutcome[]): Row[] {
  const bestSequential = best(outcomes, (m) => m.sequential.turnsPerSecond)?.measurement?.sequential.turnsPerSecond;
  const bestConcurrent = best(outcomes, (m) => m.concurrent.turnsPerSecond)?.measurement?.concurrent.turnsPerSecond;
  const bare = outcomes.find((o) => o.row.id === 'bare-grpc')?.measurement?.concurrent.turnsPerSecond;
  return outcomes.map(({ row, measurement: m, problem }) => {
    if (!m) {
      return {
        row: row.label,
        'turns/s sequential': '—',
        'p50 ms': '—',
        'p99 ms': '—',
        [`turns/s, ${IN_FLIGHT} in flight`]: '—',
        [`CPU ms/turn, ${IN_FLIGHT} in flight`]: '—',
        'bytes/resident agent': '—',
        'deltas/turn': '—',
        'sequential ÷ best peer': '—',
        [`${IN_FLIGHT} in flight ÷ best peer`]: '—',
        [`${IN_FLIGHT} in flight ÷ bare grpc-js`]: '—',
        status: problem ?? 'no result',
      };
    }
    const truncated = m.sequential.truncated || m.concurrent.truncated;
    const statuses = [truncated ? `time budget cut it at ${m.sequential.completed} + ${m.concurrent.completed} turns` : ''];
    if (m.failedTurns) statuses.push(`${m.failedTurns} turns failed, first: ${m.firstFailure}`);
    const status = statuses.filter(Boolean).join('; ');
    return {
      row: row.label,
      'turns/s sequential': m.sequential.turnsPerSecond,
      'p50 ms': m.sequential.p50Ms,
      'p99 ms': m.sequential.p99Ms,
      [`turns/s, ${IN_FLIGHT} in flight`]: m.concurrent.turnsPerSecond,
      [`CPU ms/turn, ${IN_FLIGHT} in flight`]: m.concurrent.cpuMsPerTurn,
      'bytes/resident agent': m.resident && residentCounts(m.resident) ? m.resident.bytesPerAgent : '—',
      'deltas/turn': m.textEventsPerTurn,
      'sequential ÷ best peer': ratio(m.sequential.turnsPerSecond, bestSequential),
      [`${IN_FLIGHT} in flight ÷ best peer`]: ratio(m.concurrent.turnsPerSecond, bestConcurrent),
      [`${IN_FLIGHT} in flight ÷ bare grpc-js`]: ratio(m.concurrent.turnsPerSecond, bare),
      status: status ? `ok (${status})` : 'ok',
    };
  });
}

function notes(outcomes: RowOutcome[], quick: boolean): string[] {
  const lines = [
    `Workload of every row: one agent, one tool add(a, b), a fake model answering instantly: a tool call add(2, 3), then ${TEXT_CHUNK_COUNT} streamed text chunks. Each turn runs on a new thread and is checked (the whole reply text received, tool result 5).`,
    'Peers run in-process with their defaults (no checkpointer or storage); ElixirChain records every step in its memory service.',
    `deltas/turn: text delta events the client received per turn; all ${TEXT_CHUNK_COUNT} chunks' text always arrives, fewer events means the runtime coalesced deltas.`,
    'bytes/resident agent: heap + external growth per agent after GC for in-process rows (agent object plus one finished thread); RSS growth of agent-host for the gRPC row.',
  ];
  if (quick) lines.push('Quick run: a handful of turns per row, so the numbers are not measurements.');
  const peer = best(outcomes, (m) => m.concurrent.turnsPerSecond);
  if (peer) lines.push(`Best peer at ${IN_FLIGHT} in flight: ${peer.row.label}, ${peer.measurement!.concurrent.turnsPerSecond.toFixed(0)} turns/s.`);
  const grpc = outcomes.find((o) => o.row.id === 'elixirchain-grpc');
  const bare = outcomes.find((o) => o.row.id === 'bare-grpc');
  if (grpc?.measurement) {
    const mine = grpc.measurement.concurrent.turnsPerSecond;
    if (peer) {
      const r = mine / peer.measurement!.concurrent.turnsPerSecond;
      lines.push(`Target ElixirChain over gRPC ≥ 1.0× the fastest peer at ${IN_FLIGHT} in flight: ${r.toFixed(2)}× — ${r >= 1 ? 'met' : 'not met'}.`);
    }
    if (bare?.measurement) {
      const r = mine / bare.measurement.concurrent.turnsPerSecond;
      lines.push(`Target ElixirChain over gRPC ≥ 50 % of bare grpc-js: ${(r * 100).toFixed(0)} % — ${r >= 0.5 ? 'met' : 'not met'}.`);
    }
  }
  lines.push(...residentTarget(outcomes));
  // CPU per turn is what contention disturbs least: compare it too.
  const cpuPeer = outcomes
    .filter((o) => o.row.kind === 'peer' && o.measurement)
    .sort((a, b) => a.measurement!.concurrent.cpuMsPerTurn - b.measurement!.concurrent.cpuMsPerTurn)[0];
  for (const o of outcomes.filter((x) => x.row.kind === 'elixirchain' && x.measurement)) {
    const mine = o.measurement!.concurrent.cpuMsPerTurn;
    const parts = [];
    if (cpuPeer) parts.push(`${(mine / cpuPeer.measurement!.concurrent.cpuMsPerTurn).toFixed(1)}× the leanest peer (${cpuPeer.row.label}, ${cpuPeer.measurement!.concurrent.cpuMsPerTurn.toFixed(2)} ms)`);
    if (bare?.measurement) parts.push(`${(mine / bare.measurement.concurrent.cpuMsPerTurn).toFixed(1)}× bare grpc-js (${bare.measurement.concurrent.cpuMsPerTurn.toFixed(2)} ms)`);
    if (parts.length) lines.push(`CPU per turn at ${IN_FLIGHT} in flight, ${o.row.label}: ${mine.toFixed(2)} ms, ${parts.join(', ')}.`);
  }
  const loads = outcomes.filter((o) => o.measurement).map((o) => `${o.row.id} ${o.measurement!.loadAverage.toFixed(1)}`);
  if (loads.length) {
    lines.push(
      `1-minute load average after each row's 100-in-flight phase (the machine has ${availableParallelism()} cores; above that, other work competed for CPU and CPU ms/turn is the steadier figure): ${loads.join(', ')}.`,
    );
  }
  for (const o of outcomes) {
    const byProcess = o.measurement?.concurrent.cpuMsPerTurnByProcess ?? {};
    const inChildren = o.measurement?.concurrent.cpuMsPerTurnInChildProcesses ?? {};
    if (Object.keys(byProcess).length > 1) {
      const parts = Object.entries(byProcess).map(([name, ms]) => {
        const children = inChildren[name] ?? 0;
        return children >= 0.005 ? `${name} ${ms.toFixed(2)} (its child processes ${children.toFixed(2)})` : `${name} ${ms.toFixed(2)}`;
      });
      lines.push(`CPU ms/turn by process, ${o.row.label}: ${parts.join(', ')}.`);
    }
  }
  return lines;
}
