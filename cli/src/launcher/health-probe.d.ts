export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN' | 'SERVICE_UNKNOWN' | 'UNREACHABLE';
export interface HealthReport {
    status: ServingStatus;
    /** Why it is not SERVING, e.g. the transport error. */
    detail?: string;
}
/** One grpc.health.v1 Check against an address (insecure, as the local mesh runs). */
export declare function checkHealth(address: string, service?: string, timeoutMs?: number): Promise<HealthReport>;
/** Polls until SERVING; rejects with the last report when the deadline passes or `abandon` fires. */
export declare function waitForServing(address: string, options: {
    timeoutMs: number;
    service?: string;
    signal?: AbortSignal;
    intervalMs?: number;
}): Promise<void>;
