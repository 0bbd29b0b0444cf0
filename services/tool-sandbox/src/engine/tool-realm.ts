import ivm from 'isolated-vm';
import type { IsolatePool, WarmIsolate } from './isolate-pool.js';

/** Receives the bridge calls of the realm's call, once a call owns the realm. */
export interface BridgeTarget {
  onBridge(op: unknown, requestId: unknown, json: unknown): string;
}

/** Bridge limits that are the same for every call. */
export const REALM_LIMITS = {
  maxBridgeArgChars: 64 * 1024,
  maxFetchRequestChars: 1024 * 1024 + 64 * 1024,
  maxTimers: 64,
};

/**
 * A fresh context with the bootstrap run and the tool's module evaluated,
 * used by exactly one call. Realms are made ahead of time for idle warm
 * isolates, so a call does not wait for context creation and module linking.
 */
export class ToolRealm {
  target: BridgeTarget | undefined;
  private released = false;

  private constructor(
    readonly context: ivm.Context,
    readonly control: ivm.Reference<(...args: unknown[]) => unknown>,
    readonly module: ivm.Module,
    readonly namespace: ivm.Reference<unknown>,
  ) {}

  /**
   * Builds a realm; throws with `phase` set to 'load' when the tool's own
   * top-level code fails (a tool error), anything else is the sandbox's.
   *
   * The isolate must be idle (held by the caller, or idle in the pool): the
   * sandbox's own steps (context, bootstrap, cached compile, link) run
   * synchronously, since each asynchronous isolated-vm call costs a hop to
   * the isolate's thread and back (~25–55 µs of CPU, more than the step
   * itself). Only the tool's top-level code, whose duration the tool
   * decides, runs asynchronously, so it never blocks the worker's thread.
   */
  static async create(warm: WarmIsolate, pool: IsolatePool, timeoutMs: number): Promise<ToolRealm> {
    const { isolate } = warm;
    const holder: { realm?: ToolRealm } = {};
    const context = isolate.createContextSync();
    const refs: Array<{ release(): void }> = [context];
    try {
      const bootstrap = warm.bootstrap.runSync(context, { reference: true, timeout: timeoutMs });
      let control: ivm.Reference<(...args: unknown[]) => unknown>;
      try {
        // The only host function the realm ever gets; it never throws (a host Error carries host stack frames).
        const send = new ivm.Callback(
          (op: unknown, requestId: unknown, json: unknown): string => {
            try {
              return holder.realm?.target?.onBridge(op, requestId, json) ?? 'ended';
            } catch {
              return 'refused';
            }
          },
          { async: true },
        );
        control = bootstrap.applySync(undefined, [send, JSON.stringify(REALM_LIMITS)], { result: { reference: true }, timeout: timeoutMs }) as typeof control;
        refs.push(control);
      } finally {
        bootstrap.release();
      }
      const module = await pool.compileModule(warm);
      refs.push(module);
      module.instantiateSync(context, () => {
        throw new Error('a tool bundle cannot import anything');
      });
      try {
        await module.evaluate({ timeout: timeoutMs });
      } catch (error) {
        throw Object.assign(error instanceof Error ? error : new Error(String(error)), { phase: 'load' });
      }
      const realm = new ToolRealm(context, control, module, module.namespace);
      holder.realm = realm;
      return realm;
    } catch (error) {
      for (const ref of refs) {
        try {
          ref.release();
        } catch {
          /* gone with its isolate */
        }
      }
      throw error;
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.target = undefined;
    for (const ref of [this.control, this.namespace, this.module, this.context]) {
      try {
        ref.release();
      } catch {
        /* gone with a disposed isolate */
      }
    }
  }
}
