import { ChainServiceDefinition, RunStatus } from '@elixirchain/proto/chain';
import type { RunEvent } from '@elixirchain/proto/chain';
import { defineService, errors } from '@elixirchain/runtime';
import type { AuditReporter, CallContext, ServerStream, ServiceBinding } from '@elixirchain/runtime';
import { ChainExecutor } from '../chain-executor.js';
import type { TenantChainExecutors } from '../tenancy/tenant-chain-executors.js';
import { ChainNotFoundError } from '../definitions/chain-repository.js';
import { CHAIN_ID_PATTERN } from '../definitions/chain-validator.js';
import { InvalidPageTokenError } from '../storage/page-token.js';
import { toRunMessage } from '../runs/run-record.js';

const RUN_ID_PATTERN = /^run-[0-9a-f]{24}$/;

function requireChainId(field: string, value: string): void {
  if (value === '') throw errors.invalidArgument(field, 'is required');
  if (!CHAIN_ID_PATTERN.test(value)) throw errors.invalidArgument(field, 'is not a chain id (lowercase letters, digits, "_" or "-", at most 63)');
}

function requireRunId(value: string): void {
  if (value === '') throw errors.invalidArgument('run_id', 'is required');
  if (!RUN_ID_PATTERN.test(value)) throw errors.invalidArgument('run_id', 'is not a run id (run- and 24 hex digits, as StartRun returns)');
}

function pageSize(value: number): number {
  if (value < 0) throw errors.invalidArgument('page_size', 'must not be negative');
  return Math.min(value || 50, 500);
}

/** Starting a run of a chain that does not exist (in the caller's tenant) is NOT_FOUND, not INTERNAL. */
function missingChain(error: unknown): never {
  if (error instanceof ChainNotFoundError) throw errors.notFound('chain', error.version ? `${error.chainId}@${error.version}` : error.chainId);
  throw error;
}

function badToken(error: unknown): never {
  if (error instanceof InvalidPageTokenError) throw errors.invalidArgument('page_token', error.message);
  throw error;
}

async function streamEvents(executor: ChainExecutor, runId: string, after: number, stream: ServerStream<{ event: RunEvent }>, call: CallContext): Promise<void> {
  // A run executing on another replica: its live events are there, so the watch is forwarded (one hop).
  const owner = await executor.runs.remoteOwner(runId);
  if (owner) {
    for await (const message of executor.runs.ownership!.client(owner).watchRun({ runId, afterSequence: after }, { ...executor.runs.ownership!.forwardOptions(call), signal: stream.signal })) {
      if (message.event) await stream.write({ event: message.event });
    }
    return;
  }
  for await (const event of executor.runs.watch(runId, after, stream.signal)) {
    // Waits for the client to take it: a slow reader slows the stream, not our memory.
    await stream.write({ event });
  }
}

/** elixirchain.chain.v1.ChainService over a ChainExecutor, or one per tenant (the caller's serves each call). */
export function chainService(executors: ChainExecutor | TenantChainExecutors, options: { audit?: AuditReporter } = {}): ServiceBinding {
  const executorFor = (call: CallContext): Promise<ChainExecutor> => (executors instanceof ChainExecutor ? Promise.resolve(executors) : executors.forCall(call));
  return defineService(ChainServiceDefinition, {
    async createChain(req, call) {
      const executor = await executorFor(call);
      if (!req.chain) throw errors.invalidArgument('chain', 'is required');
      return executor.definitions.create(req.chain, req.requestId);
    },
    async getChain(req, call) {
      const executor = await executorFor(call);
      requireChainId('id', req.id);
      return { chain: await executor.definitions.get(req.id, req.version) };
    },
    async listChains(req, call) {
      const executor = await executorFor(call);
      return executor.definitions.list(pageSize(req.pageSize), req.pageToken);
    },
    async updateChain(req, call) {
      const executor = await executorFor(call);
      if (!req.chain) throw errors.invalidArgument('chain', 'is required');
      return executor.definitions.update(req.chain, req.updateMask ?? [], req.expectedVersion);
    },
    async deleteChain(req, call) {
      const executor = await executorFor(call);
      requireChainId('id', req.id);
      const deleted = await executor.definitions.delete(req.id);
      if (deleted) await options.audit?.record('chain.delete', `chain/${req.id}`);
      return { deleted };
    },
    async startRun(req, call) {
      const executor = await executorFor(call);
      requireChainId('chain_id', req.chainId);
      if (req.chainVersion < 0) throw errors.invalidArgument('chain_version', 'must not be negative');
      const record = await executor.runs.start(req.chainId, req.chainVersion, req.input ?? null, req.requestId).catch(missingChain);
      return { run: toRunMessage(record) };
    },
    async runChain(req, stream, call) {
      const executor = await executorFor(call);
      requireChainId('chain_id', req.chainId);
      if (req.chainVersion < 0) throw errors.invalidArgument('chain_version', 'must not be negative');
      const record = await executor.runs.start(req.chainId, req.chainVersion, req.input ?? null, req.requestId).catch(missingChain);
      await streamEvents(executor, record.id, 0, stream, call);
    },
    async watchRun(req, stream, call) {
      const executor = await executorFor(call);
      requireRunId(req.runId);
      if (req.afterSequence < 0) throw errors.invalidArgument('after_sequence', 'must not be negative');
      await streamEvents(executor, req.runId, req.afterSequence, stream, call);
    },
    async getRun(req, call) {
      const executor = await executorFor(call);
      requireRunId(req.runId);
      return { run: await executor.runs.get(req.runId) };
    },
    async listRuns(req, call) {
      const executor = await executorFor(call);
      if (req.status === RunStatus.UNRECOGNIZED || req.status < 0 || req.status > RunStatus.RUN_STATUS_PAUSED) throw errors.invalidArgument('status', 'unknown run status');
      if (req.chainId !== '') requireChainId('chain_id', req.chainId);
      const filter = { chainId: req.chainId || undefined, status: req.status || undefined };
      return executor.runs.list(filter, pageSize(req.pageSize), req.pageToken).catch(badToken);
    },
    async cancelRun(req, call) {
      const executor = await executorFor(call);
      requireRunId(req.runId);
      const owner = await executor.runs.remoteOwner(req.runId);
      if (owner) return executor.runs.ownership!.client(owner).cancelRun(req, executor.runs.ownership!.forwardOptions(call));
      return { run: await executor.runs.cancel(req.runId, req.reason) };
    },
    async resumeRun(req, call) {
      const executor = await executorFor(call);
      requireRunId(req.runId);
      return { run: await executor.runs.resume(req.runId) };
    },
  });
}
