import { errors } from '@elixirchain/runtime';
import type { StoredGrant, StoredToolVersion, ToolStore } from './tool-store.js';

/** Keeps the registry in this process: for tests and embedded use. */
export class InMemoryToolStore implements ToolStore {
  readonly shared = false;
  private readonly versions = new Map<string, StoredToolVersion>();
  private readonly grants = new Map<string, StoredGrant>();
  private readonly tenants = new Map<string, InMemoryToolStore>();

  forTenant(tenant: string): InMemoryToolStore {
    let store = this.tenants.get(tenant);
    if (!store) this.tenants.set(tenant, (store = new InMemoryToolStore()));
    return store;
  }

  async loadAll() {
    return { versions: [...this.versions.values()], grants: [...this.grants.values()] };
  }

  async listVersionIds(): Promise<string[]> {
    return [...this.versions.keys()];
  }

  async getVersion(name: string, version: string): Promise<StoredToolVersion | undefined> {
    return this.versions.get(`${name}@${version}`);
  }

  async loadGrants(): Promise<StoredGrant[]> {
    return [...this.grants.values()];
  }

  async putVersion(version: StoredToolVersion): Promise<void> {
    const key = `${version.manifest.name}@${version.manifest.version}`;
    if (this.versions.has(key)) throw errors.alreadyExists('tool version', key);
    this.versions.set(key, version);
  }

  async deleteVersion(name: string, version: string): Promise<void> {
    this.versions.delete(`${name}@${version}`);
  }

  async putGrant(grant: StoredGrant): Promise<void> {
    this.grants.set(grant.toolName, grant);
  }

  async deleteGrant(toolName: string): Promise<void> {
    this.grants.delete(toolName);
  }
}
