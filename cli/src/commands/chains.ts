import { randomUUID } from 'node:crypto';
import { RunStatus, runStatusFromJSON, runStatusToJSON, stepStatusToJSON, type Chain, type Run, type RunEvent } from '@elixirchain/proto/chain';
import { ElixirError, GrpcCode, fromRpcStatus, type ResponseStream } from '@elixirchain/runtime';
import { chainFromDefinition } from '../definitions/chain-definition.js';
import { DefinitionError, parseJsonArgument, readDefinitionFile } from '../definitions/definition-file.js';
import type { ChainClient } from '../mesh/mesh-clients.js';
import type { Output } from '../output/output.js';
import { withClients } from './agents.js';

export async function chainsCreate(out: Output, opts: { file: string; id?: string; update?: boolean }): Promise<void> {
  const chain = chainFromDefinition(opts.file, readDefinitionFile(opts.file));
  if (opts.id) chain.id = opts.id;
  await withClients(async (c) => {
    const chains = c.chains();
    let res: { chain?: Chain; warnings: string[] };
    let verb = 'created';
    try {
      res = await chains.createChain({ chain, requestId: randomUUID() });
    } catch (err) {
      // --update: a chain that exists gets the file as its next version.
      if (!opts.update || !chain.id || !ElixirError.is(err, GrpcCode.ALREADY_EXISTS)) throw err;
      res = await chains.updateChain({ chain, updateMask: [], requestId: randomUUID() });
      verb = 'updated';
    }
    out.result(res, () => {
      out.line(`${verb} chain ${res.chain!.id} (version ${res.chain!.version})`);
      for (const w of res.warnings) out.note(`warning: ${w}`);
    });
  });
}

export async function chainsList(out: Output): Promise<void> {
  await withClients(async (c) => {
    const chains: Chain[] = [];
    let pageToken = '';
    do {
      const res = await c.chains().listChains({ pageSize: 100, pageToken });
      chains.push(...res.chains);
      pageToken = res.nextPageToken;
    } while (pageToken);
    out.result({ chains }, () =>
      out.table(
        chains.map((ch) => ({ id: ch.id, name: ch.displayName, version: ch.version, root: ch.root?.kind?.$case, description: ch.description, updated: ch.updateTime })),
        ['id', 'name', 'version', 'root', 'description', 'updated'],
      ),
    );
  });
}

/** `chains run`: starts a run and shows each step as it goes; exit 0 only when it succeeds. */
export async function chainsRun(out: Output, chainId: string, opts: { input?: string; detach?: boolean }): Promise<number> {
  const input = parseJsonArgument('--input', opts.input, null);
  return withClients(async (c) => {
    const chains = c.chains();
    const requestId = randomUUID();
    if (opts.detach) {
      const res = await chains.startRun({ chainId, input, requestId });
      out.result(res.run, () => out.line(`started run ${res.run!.id} (watch with: elixirchain chains watch ${res.run!.id})`));
      return 0;
    }
    return followRun(out, chains, () => chains.runChain({ chainId, input, requestId }));
  });
}

export async function chainsWatch(out: Output, runId: string, opts: { after?: number }): Promise<number> {
  return withClients((c) => followRun(out, c.chains(), undefined, runId, opts.after ?? 0));
}

/**
 * Follows a run's events, re-attaching with WatchRun after the last sequence
 * when the stream breaks (chain-executor restarting or draining).
 */
async function followRun(out: Output, chains: ChainClient, start: (() => ResponseStream<{ event?: RunEvent }>) | undefined, runId = '', after = 0): Promise<number> {
  const view = new RunEventView(out);
  let last = after;
  let brokenSince = 0;
  for (let attempt = 0; ; attempt++) {
    const stream = runId ? chains.watchRun({ runId, afterSequence: last }) : start!();
    try {
      for await (const res of stream) {
        const e = res.event;
        if (!e || e.sequence <= last) continue;
        last = e.sequence;
        runId ||= e.runId;
        brokenSince = 0;
        view.show(e);
        const kind = e.event?.$case;
        if (kind === 'runCompleted' || kind === 'runFailed' || kind === 'runCancelled' || kind === 'runPaused') {
          stream.cancel();
          return kind === 'runCompleted' ? 0 : 1;
        }
      }
      if (!runId) throw new ElixirError(GrpcCode.UNAVAILABLE, 'STREAM_ENDED', 'the run stream ended before the run started');
      // Ended without a final event: the run may have ended while we were away.
      const run = (await chains.getRun({ runId })).run;
      if (run && isFinal(run.status)) {
        if (out.json) out.event({ run });
        else view.summary(run);
        return run.status === RunStatus.RUN_STATUS_SUCCEEDED ? 0 : 1;
      }
      throw new ElixirError(GrpcCode.UNAVAILABLE, 'STREAM_ENDED', 'the run stream ended before the run did');
    } catch (err) {
      if (!ElixirError.is(err, GrpcCode.UNAVAILABLE)) throw err;
      const firstBreak = brokenSince === 0;
      brokenSince ||= Date.now();
      if (Date.now() - brokenSince > 60_000) throw err;
      if (firstBreak) out.note(`(connection to chain-executor lost; re-attaching${runId ? ` to run ${runId}` : ''}…)`);
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** Math.min(attempt, 5))));
    }
  }
}

function isFinal(status: RunStatus): boolean {
  return [RunStatus.RUN_STATUS_SUCCEEDED, RunStatus.RUN_STATUS_FAILED, RunStatus.RUN_STATUS_CANCELLED, RunStatus.RUN_STATUS_PAUSED].includes(status);
}

/** Per-step progress lines: the path, indented by depth, with timing and outputs. */
class RunEventView {
  private textPath: string | undefined;

  constructor(private readonly out: Output) {}

  show(e: RunEvent): void {
    if (this.out.json) {
      this.out.event(e);
      return;
    }
    const body = e.event;
    if (!body) return;
    if (body.$case !== 'stepProgress' || !body.stepProgress.textDelta) this.endText();
    switch (body.$case) {
      case 'runStarted':
        this.out.line(`run ${e.runId} of ${body.runStarted.chainId} v${body.runStarted.chainVersion} started`);
        break;
      case 'stepStarted': {
        const s = body.stepStarted;
        this.out.line(`${indent(s.path)}▶ ${s.path} (${s.kind})${s.attempt > 1 ? ` attempt ${s.attempt}` : ''}`);
        break;
      }
      case 'stepProgress': {
        const p = body.stepProgress;
        if (p.textDelta) {
          if (this.textPath !== p.path) this.out.write(`${indent(p.path)}  `);
          this.textPath = p.path;
          this.out.write(p.textDelta.replace(/\n/g, `\n${indent(p.path)}  `));
        } else {
          this.out.line(`${indent(p.path)}  ${p.fraction >= 0 ? `${Math.round(p.fraction * 100)}% ` : ''}${p.message}`);
        }
        break;
      }
      case 'stepCompleted': {
        const s = body.stepCompleted;
        this.out.line(`${indent(s.path)}✓ ${s.path} → ${compact(s.output)}${s.duration ? ` (${ms(s.duration)} ms)` : ''}`);
        break;
      }
      case 'stepFailed': {
        const s = body.stepFailed;
        this.out.line(`${indent(s.path)}✗ ${s.path}: ${s.error?.message ?? 'failed'}${s.willRetry ? ' (will retry)' : ''}`);
        break;
      }
      case 'runCompleted':
        this.out.line(`run ${e.runId} succeeded${body.runCompleted.duration ? ` in ${ms(body.runCompleted.duration)} ms` : ''}:`);
        this.out.line(JSON.stringify(body.runCompleted.output, null, 2));
        break;
      case 'runFailed': {
        const err = body.runFailed.error ? fromRpcStatus(body.runFailed.error) : undefined;
        this.out.line(`run ${e.runId} failed at ${body.runFailed.failedPath || '?'}: ${err ? `${err.codeName}${err.reason ? ` (${err.reason})` : ''}: ${err.message}` : 'unknown error'}`);
        this.out.line(`(resume with: elixirchain runs resume ${e.runId})`);
        break;
      }
      case 'runCancelled':
        this.out.line(`run ${e.runId} cancelled${body.runCancelled.reason ? `: ${body.runCancelled.reason}` : ''}`);
        break;
      case 'runPaused':
        this.out.line(`run ${e.runId} paused${body.runPaused.reason ? `: ${body.runPaused.reason}` : ''} (resume with: elixirchain runs resume ${e.runId})`);
        break;
    }
  }

  summary(run: Run): void {
    this.endText();
    printRun(this.out, run);
  }

  private endText(): void {
    if (this.textPath !== undefined) this.out.write('\n');
    this.textPath = undefined;
  }
}

export async function runsList(out: Output, opts: { chain?: string; status?: string }): Promise<void> {
  const status = opts.status ? runStatusFromJSON(`RUN_STATUS_${opts.status.toUpperCase()}`) : RunStatus.RUN_STATUS_UNSPECIFIED;
  if (status === RunStatus.UNRECOGNIZED) throw new DefinitionError(`--status must be one of pending, running, succeeded, failed, cancelled, paused`);
  await withClients(async (c) => {
    const runs: Run[] = [];
    let pageToken = '';
    do {
      const res = await c.chains().listRuns({ pageSize: 100, pageToken, chainId: opts.chain ?? '', status });
      runs.push(...res.runs);
      pageToken = res.nextPageToken;
    } while (pageToken && runs.length < 1000);
    out.result({ runs }, () =>
      out.table(
        runs.map((r) => ({ id: r.id, chain: `${r.chainId}@${r.chainVersion}`, status: describeRunStatus(r.status), steps: r.steps.length, created: r.createTime, ended: r.endTime })),
        ['id', 'chain', 'status', 'steps', 'created', 'ended'],
      ),
    );
  });
}

export async function runsGet(out: Output, runId: string): Promise<void> {
  await withClients(async (c) => {
    const run = (await c.chains().getRun({ runId })).run!;
    out.result(run, () => printRun(out, run));
  });
}

export async function runsCancel(out: Output, runId: string, opts: { reason?: string }): Promise<void> {
  await withClients(async (c) => {
    const run = (await c.chains().cancelRun({ runId, reason: opts.reason ?? 'cancelled from the CLI', requestId: randomUUID() })).run!;
    out.result(run, () => out.line(`run ${run.id}: ${describeRunStatus(run.status)}`));
  });
}

export async function runsResume(out: Output, runId: string, opts: { watch?: boolean }): Promise<number> {
  return withClients(async (c) => {
    const chains = c.chains();
    const run = (await chains.resumeRun({ runId, requestId: randomUUID() })).run!;
    if (!opts.watch) {
      out.result(run, () => out.line(`run ${run.id}: ${describeRunStatus(run.status)} (watch with: elixirchain chains watch ${run.id})`));
      return 0;
    }
    return followRun(out, chains, undefined, run.id, run.lastSequence);
  });
}

function printRun(out: Output, run: Run): void {
  out.line(`run ${run.id}  chain ${run.chainId}@${run.chainVersion}  ${describeRunStatus(run.status)}`);
  if (run.input !== undefined && run.input !== null) out.line(`input:  ${compact(run.input)}`);
  if (run.output !== undefined && run.output !== null) out.line(`output: ${compact(run.output)}`);
  if (run.error) out.line(`error:  ${run.error.message}`);
  out.table(
    run.steps.map((s) => ({
      path: s.path,
      status: stepStatusToJSON(s.status).replace(/^STEP_STATUS_/, '').toLowerCase(),
      attempts: s.attempts,
      output: s.error?.message ? `error: ${s.error.message}` : compact(s.output),
    })),
    ['path', 'status', 'attempts', 'output'],
  );
}

function describeRunStatus(status: RunStatus): string {
  return runStatusToJSON(status).replace(/^RUN_STATUS_/, '').toLowerCase();
}

function indent(path: string): string {
  return '  '.repeat(Math.max(0, path.split('/').length - 2));
}

function ms(d: { seconds: number; nanos: number }): number {
  return Math.round(d.seconds * 1000 + d.nanos / 1e6);
}

function compact(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}
