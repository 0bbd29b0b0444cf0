import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { NodeStatusServiceDefinition, type NodeStatus } from '@elixirchain/proto/admin/node-status';
import { defineService, type ServiceBinding } from '../server/define-service.js';
import type { DeepPartial } from '../server/service-definition.js';

/** The service-specific part of a node's status (the `details` oneof), read at each call. */
export type NodeStatusDetails = NonNullable<DeepPartial<NodeStatus>['details']>;

export interface NodeStatusOptions {
  /** "memory", "tool-sandbox", "agent-host" or "chain-executor". */
  service: string;
  /** Default: host, pid and a random suffix (two servers in one process stay apart). */
  instanceId?: string;
  /** Reads the service's load; the same sources its OpenTelemetry gauges read. */
  details?: () => NodeStatusDetails | undefined | Promise<NodeStatusDetails | undefined>;
}

export interface NodeStatusBinding {
  /** Put it in the server's `services`. */
  readonly binding: ServiceBinding;
  readonly instanceId: string;
  /** The address the server bound (or advertises), once it is known. */
  setAddress(address: string): void;
}

/**
 * elixirchain.admin.v1.NodeStatusService for one server: who it is (service,
 * instance, address), since when, and what its gauges read now. Admin only
 * (RPC_ROLES); it reveals load, never tenants' data.
 */
export function nodeStatusService(options: NodeStatusOptions): NodeStatusBinding {
  const startTime = new Date();
  const instanceId = options.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  let address = '';
  const binding = defineService(NodeStatusServiceDefinition, {
    getNodeStatus: async () => {
      const details = await options.details?.();
      const uptimeMs = Date.now() - startTime.getTime();
      return {
        status: {
          service: options.service,
          instanceId,
          address,
          startTime,
          uptime: { seconds: Math.floor(uptimeMs / 1000), nanos: (uptimeMs % 1000) * 1e6 },
          ...(details ? { details } : {}),
        },
      };
    },
  });
  return {
    binding,
    instanceId,
    setAddress(value) {
      address = value;
    },
  };
}
