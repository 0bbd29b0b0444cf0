import type { ToolManifest } from '@elixirchain/proto/sandbox';
import type { PermissionSet } from '../permissions/permission-set.js';

/** One registered version: its manifest and bundle bytes. Immutable once stored. */
export interface StoredToolVersion {
  manifest: ToolManifest;
  bundle: Uint8Array;
  createTime: Date;
}

/** The operator's grant to a tool, shared by all its versions. */
export interface StoredGrant {
  toolName: string;
  permissions: PermissionSet;
  updateTime: Date;
}

/**
 * Where the registry keeps its durable state. Two implementations: in
 * process (tests, embedding) and through the memory service's state RPCs.
 */
export interface ToolStore {
  /** Everything, once at start-up; the catalog serves reads from memory afterwards. */
  loadAll(): Promise<{ versions: StoredToolVersion[]; grants: StoredGrant[] }>;
  /** Stores a new version; fails with ALREADY_EXISTS when the version is taken. */
  putVersion(version: StoredToolVersion): Promise<void>;
  deleteVersion(name: string, version: string): Promise<void>;
  putGrant(grant: StoredGrant): Promise<void>;
  deleteGrant(toolName: string): Promise<void>;
  /** `name@version` of every stored version (cheap: no bundles), to notice other replicas' writes. */
  listVersionIds(): Promise<string[]>;
  getVersion(name: string, version: string): Promise<StoredToolVersion | undefined>;
  loadGrants(): Promise<StoredGrant[]>;
  /** Whether other processes may write to this store (then the catalog refreshes from it). */
  readonly shared: boolean;
  /** The same kind of store holding one tenant's registry (tools are tenant-private). */
  forTenant?(tenant: string): ToolStore;
  close?(): void;
}
