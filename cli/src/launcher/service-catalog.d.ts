export type ServiceName = 'memory' | 'tool-sandbox' | 'agent-host' | 'chain-executor';
export interface ServiceEntry {
    name: ServiceName;
    /** Environment variable every service reads to find this one. */
    addressVariable: string;
    defaultAddress: string;
}
/** Start order: memory first (the others keep their state through it), chain-executor last (it calls all). */
export declare const SERVICES: readonly ServiceEntry[];
export declare const SERVICE_NAMES: readonly ServiceName[];
export declare function serviceEntry(name: string): ServiceEntry;
/** Explicit argument > environment variable > default, as everywhere in ElixirChain. */
export declare function serviceAddress(name: ServiceName, env?: NodeJS.ProcessEnv): string;
export declare function serviceAddresses(env?: NodeJS.ProcessEnv): Record<ServiceName, string>;
export declare const REPO_ROOT: string;
export declare function serviceMainPath(name: ServiceName): string;
