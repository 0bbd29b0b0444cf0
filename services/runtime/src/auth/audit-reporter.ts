import { AdminServiceDefinition } from '@elixirchain/proto/admin';
import { connect } from '../client/connect.js';
import type { ServiceClient } from '../client/connect.js';
import type { Logger } from '../logging/logger.js';
import { currentCall } from '../server/call-context.js';

/**
 * Records what a caller did in the audit log kept by memory
 * (AdminService/RecordAuditEvent). Call it while serving the caller's call:
 * the caller is forwarded, so memory records who, and this records from
 * where. A failure to record is logged, never thrown: the action happened.
 */
export class AuditReporter {
  private client: ServiceClient<typeof AdminServiceDefinition> | undefined;

  constructor(
    private readonly memoryAddress: string,
    private readonly logger?: Logger,
  ) {}

  async record(action: string, resource: string, details: Record<string, unknown> = {}): Promise<void> {
    this.client ??= connect(AdminServiceDefinition, this.memoryAddress, { defaultTimeoutMs: 5_000 });
    try {
      await this.client.recordAuditEvent({ action, resource, details, peer: currentCall()?.peer ?? '' });
    } catch (error) {
      this.logger?.warn({ err: (error as Error).message, action, resource }, 'could not record an audit event');
    }
  }

  close(): void {
    this.client?.close();
  }
}
