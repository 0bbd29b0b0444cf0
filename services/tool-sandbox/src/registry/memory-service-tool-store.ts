import { actingForTenant, connect, ElixirError, errors, GrpcCode, type CallOptions, type ServiceClient } from '@elixirchain/runtime';
import { MemoryServiceDefinition, type StateEntry } from '@elixirchain/proto/memory';
import { ToolManifest } from '@elixirchain/proto/sandbox';
import { normalizePermissions } from '../permissions/permission-set.js';
import type { StoredGrant, StoredToolVersion, ToolStore } from './tool-store.js';

const TOOLS = 'sandbox/tools/';
const BUNDLES = 'sandbox/bundles/';
const GRANTS = 'sandbox/grants/';

const bundleKey = (name: string, version: string, sha256: string) => `${BUNDLES}${name}/${version}/${sha256}`;

/**
 * Keeps the registry in the memory service's key/value state:
 *   sandbox/tools/<name>/<version>    struct: { manifest, createTime }
 *   sandbox/bundles/<name>/<version>/<sha256>  bytes: the bundle (content-addressed,
 *       so a racing registration of other bytes can never overwrite a stored version's code)
 *   sandbox/grants/<name>             struct: { networkHosts, secrets, updateTime }
 * The bundle is written before its manifest, so a listed version always has its bytes.
 */
export class MemoryServiceToolStore implements ToolStore {
  private readonly client: ServiceClient<typeof MemoryServiceDefinition>;
  /** Every call names its tenant, so background refreshes read the right tenant's registry. */
  private readonly options: CallOptions;
  private readonly owner: boolean;

  constructor(address: string | ServiceClient<typeof MemoryServiceDefinition>, readonly tenant = 'default') {
    this.owner = typeof address === 'string';
    this.client = typeof address === 'string' ? connect(MemoryServiceDefinition, address) : address;
    this.options = { metadata: actingForTenant('tool-sandbox', tenant) };
  }

  readonly shared = true;

  forTenant(tenant: string): MemoryServiceToolStore {
    return new MemoryServiceToolStore(this.client, tenant);
  }

  async loadAll() {
    const versions: StoredToolVersion[] = [];
    for (const entry of await this.listAll(TOOLS, false)) {
      const version = await this.fromToolEntry(entry);
      if (version) versions.push(version);
    }
    return { versions, grants: await this.loadGrants() };
  }

  async listVersionIds(): Promise<string[]> {
    return (await this.listAll(TOOLS, true)).map((e) => {
      const [name, version] = e.key.slice(TOOLS.length).split('/');
      return `${name}@${version}`;
    });
  }

  async getVersion(name: string, version: string): Promise<StoredToolVersion | undefined> {
    try {
      const { entry } = await this.client.getState({ key: `${TOOLS}${name}/${version}` }, this.options);
      return entry ? await this.fromToolEntry(entry) : undefined;
    } catch (error) {
      if (ElixirError.is(error, GrpcCode.NOT_FOUND)) return undefined;
      throw error;
    }
  }

  async loadGrants(): Promise<StoredGrant[]> {
    const grants: StoredGrant[] = [];
    for (const entry of await this.listAll(GRANTS, false)) {
      if (entry.value?.$case !== 'structValue' || !entry.value.structValue) continue;
      const g = entry.value.structValue as { networkHosts?: string[]; secrets?: string[]; updateTime?: string };
      grants.push({
        toolName: entry.key.slice(GRANTS.length),
        permissions: normalizePermissions({ networkHosts: g.networkHosts ?? [], secrets: g.secrets ?? [] }),
        updateTime: g.updateTime ? new Date(g.updateTime) : (entry.updateTime ?? new Date()),
      });
    }
    return grants;
  }

  private async fromToolEntry(entry: StateEntry): Promise<StoredToolVersion | undefined> {
    if (entry.value?.$case !== 'structValue' || !entry.value.structValue) return undefined;
    const { manifest, createTime } = entry.value.structValue as { manifest: unknown; createTime?: string };
    const parsed = ToolManifest.fromJSON(manifest);
    const bundleEntry = await this.client.getState({ key: bundleKey(parsed.name, parsed.version, parsed.bundleSha256) }, this.options).catch(() => undefined);
    const bytes = bundleEntry?.entry?.value?.$case === 'bytesValue' ? bundleEntry.entry.value.bytesValue : undefined;
    if (!bytes) return undefined;
    return { manifest: parsed, bundle: new Uint8Array(bytes), createTime: createTime ? new Date(createTime) : (entry.createTime ?? new Date()) };
  }

  async putVersion(version: StoredToolVersion): Promise<void> {
    const { name, version: v } = version.manifest;
    await this.client.putState({ key: bundleKey(name, v, version.manifest.bundleSha256), value: { $case: 'bytesValue', bytesValue: Buffer.from(version.bundle) } }, this.options);
    try {
      await this.client.putState({
        key: `${TOOLS}${name}/${v}`,
        expectedVersion: 0,
        value: { $case: 'structValue', structValue: { manifest: ToolManifest.toJSON(version.manifest), createTime: version.createTime.toISOString() } },
      }, this.options);
    } catch (error) {
      if (ElixirError.is(error, GrpcCode.ABORTED) || ElixirError.is(error, GrpcCode.ALREADY_EXISTS)) throw errors.alreadyExists('tool version', `${name}@${v}`);
      throw error;
    }
  }

  async deleteVersion(name: string, version: string): Promise<void> {
    await this.client.deleteState({ key: `${TOOLS}${name}/${version}` }, this.options);
    for (const entry of await this.listAll(`${BUNDLES}${name}/${version}/`, true)) await this.client.deleteState({ key: entry.key }, this.options);
  }

  async putGrant(grant: StoredGrant): Promise<void> {
    await this.client.putState({
      key: `${GRANTS}${grant.toolName}`,
      value: { $case: 'structValue', structValue: { ...grant.permissions, updateTime: grant.updateTime.toISOString() } },
    }, this.options);
  }

  async deleteGrant(toolName: string): Promise<void> {
    await this.client.deleteState({ key: `${GRANTS}${toolName}` }, this.options);
  }

  close(): void {
    if (this.owner) this.client.close();
  }

  private async listAll(prefix: string, keysOnly: boolean): Promise<StateEntry[]> {
    const out: StateEntry[] = [];
    let pageToken = '';
    do {
      const page = await this.client.listState({ prefix, pageSize: 200, pageToken, keysOnly }, this.options);
      out.push(...page.entries);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return out;
  }
}
