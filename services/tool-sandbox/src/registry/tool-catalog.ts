import semver from 'semver';
import { errors } from '@elixirchain/runtime';
import { ToolState, type Tool, type ToolManifest } from '@elixirchain/proto/sandbox';
import type { OperatorLimits } from '../config/operator-limits.js';
import { compileSchemas, resolveManifest, sha256Hex, validToolName, type CompiledSchemas, type ResolvedManifest } from '../manifest/tool-manifest.js';
import type { SchemaCompiler } from '../manifest/schema-compiler.js';
import {
  EMPTY_PERMISSIONS,
  hostPatternProblem,
  isEmpty,
  missingPermissions,
  normalizePermissions,
  secretNameProblem,
  subtractPermissions,
  unionPermissions,
  type PermissionSet,
} from '../permissions/permission-set.js';
import type { StoredGrant, ToolStore } from './tool-store.js';

/** A registered version as the engine uses it. */
export class ToolVersionRecord {
  private compiled: CompiledSchemas | undefined;

  constructor(
    readonly resolved: ResolvedManifest,
    readonly bundle: Uint8Array,
    readonly source: string,
    readonly createTime: Date,
  ) {}

  get name(): string {
    return this.resolved.manifest.name;
  }

  get version(): string {
    return this.resolved.manifest.version;
  }

  /** `name@version#sha256`: what workers cache isolates and code by. */
  get key(): string {
    return `${this.name}@${this.version}#${this.resolved.manifest.bundleSha256}`;
  }

  schemas(compiler: SchemaCompiler): CompiledSchemas {
    this.compiled ??= compileSchemas(this.resolved.manifest, compiler);
    return this.compiled;
  }
}

/** Checks a bundle by loading it once in a worker; throws INVALID_ARGUMENT when it cannot run. */
export type BundlePreparer = (record: ToolVersionRecord) => Promise<void>;

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A list page token: the key the next page starts after, opaque to clients. */
export function encodePageToken(key: string): string {
  return Buffer.from(JSON.stringify({ after: key })).toString('base64url');
}

/** The key a page token starts after; INVALID_ARGUMENT for a token this service did not issue. */
export function decodePageToken(token: string): string | undefined {
  if (!token) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string') return parsed.after;
  } catch {
    /* fall through */
  }
  throw errors.invalidArgument('page_token', 'is not a token this service issued');
}

function pageSize(requested: number): number {
  if (requested < 0) throw errors.invalidArgument('page_size', 'must not be negative');
  return Math.min(requested || 50, 500);
}

/**
 * The registry: versions of every tool, grants, and which versions are
 * ACTIVE. Reads are served from memory; writes go through the ToolStore
 * first. A version's state is derived from the grant on every read, so a
 * grant or revoke takes effect at once for every version.
 */
export class ToolCatalog {
  private readonly tools = new Map<string, Map<string, ToolVersionRecord>>();
  private readonly grants = new Map<string, StoredGrant>();
  private readonly registering = new Map<string, Promise<Tool>>();
  /** Bumped by every local grant write, so a refresh that raced one does not undo it. */
  private grantWrites = 0;

  constructor(
    readonly store: ToolStore,
    private readonly operator: OperatorLimits,
    private readonly compiler: SchemaCompiler,
    private readonly prepare: BundlePreparer,
    private readonly onEvict: (keys: string[]) => void = () => undefined,
    /** This catalog holds the operator's shared tools (visible to every tenant). */
    readonly shared = false,
  ) {}

  async load(): Promise<{ skipped: string[] }> {
    const { versions, grants } = await this.store.loadAll();
    for (const grant of grants) this.grants.set(grant.toolName, grant);
    const skipped: string[] = [];
    for (const stored of versions) {
      try {
        const resolved = resolveManifest(stored.manifest, stored.bundle, this.operator, this.compiler);
        this.index(new ToolVersionRecord(resolved, stored.bundle, utf8.decode(stored.bundle), stored.createTime));
      } catch {
        // e.g. the operator lowered a maximum since: the version stays stored but is not served.
        skipped.push(`${stored.manifest.name}@${stored.manifest.version}`);
      }
    }
    return { skipped };
  }

  /**
   * Picks up what other replicas wrote to a shared store: new and deleted
   * versions (bundles fetched only for new ones) and the current grants, so a
   * revoke anywhere takes effect everywhere within one refresh.
   */
  async refresh(): Promise<void> {
    const writesBefore = this.grantWrites;
    const [ids, grants] = await Promise.all([this.store.listVersionIds(), this.store.loadGrants()]);
    const present = new Set(ids);
    const evicted: string[] = [];
    for (const [name, versions] of this.tools) {
      for (const [version, record] of versions) {
        if (!present.has(`${name}@${version}`) && !this.registering.has(`${name}@${version}`)) {
          versions.delete(version);
          evicted.push(record.key);
        }
      }
      if (versions.size === 0) this.tools.delete(name);
    }
    for (const id of present) {
      const at = id.lastIndexOf('@');
      const name = id.slice(0, at);
      const version = id.slice(at + 1);
      if (this.tools.get(name)?.has(version)) continue;
      const stored = await this.store.getVersion(name, version);
      if (!stored) continue;
      try {
        const resolved = resolveManifest(stored.manifest, stored.bundle, this.operator, this.compiler);
        this.index(new ToolVersionRecord(resolved, stored.bundle, utf8.decode(stored.bundle), stored.createTime));
      } catch {
        /* not servable under this replica's limits */
      }
    }
    if (this.grantWrites === writesBefore) {
      this.grants.clear();
      for (const grant of grants) this.grants.set(grant.toolName, grant);
    }
    if (evicted.length > 0) this.onEvict(evicted);
  }

  grantOf(name: string): PermissionSet {
    return this.grants.get(name)?.permissions ?? EMPTY_PERMISSIONS;
  }

  missingFor(record: ToolVersionRecord): PermissionSet {
    return missingPermissions(record.resolved.permissions, this.grantOf(record.name));
  }

  stateOf(record: ToolVersionRecord): ToolState {
    return isEmpty(this.missingFor(record)) ? ToolState.TOOL_STATE_ACTIVE : ToolState.TOOL_STATE_PENDING_GRANT;
  }

  toTool(record: ToolVersionRecord): Tool {
    return {
      manifest: record.resolved.manifest,
      state: this.stateOf(record),
      missingPermissions: this.missingFor(record),
      bundleSize: record.bundle.length,
      createTime: record.createTime,
      shared: this.shared,
    };
  }

  async register(manifest: ToolManifest | undefined, bundle: Uint8Array, options: { grantPermissions: boolean }): Promise<Tool> {
    const resolved = resolveManifest(manifest, bundle, this.operator, this.compiler);
    const { name, version } = resolved.manifest;
    const id = `${name}@${version}`;
    const inFlight = this.registering.get(id);
    if (inFlight) {
      await inFlight.catch(() => undefined);
    }
    const existing = this.tools.get(name)?.get(version);
    if (existing) {
      // A retried registration of the same bytes is answered, not refused.
      if (existing.resolved.manifest.bundleSha256 === resolved.manifest.bundleSha256) {
        if (options.grantPermissions) await this.grant(name, resolved.permissions);
        return this.toTool(existing);
      }
      throw errors.alreadyExists('tool version', id);
    }
    const work = this.registerNew(resolved, bundle, options);
    this.registering.set(id, work);
    try {
      return await work;
    } finally {
      this.registering.delete(id);
    }
  }

  private async registerNew(resolved: ResolvedManifest, bundle: Uint8Array, options: { grantPermissions: boolean }): Promise<Tool> {
    let source: string;
    try {
      source = utf8.decode(bundle);
    } catch {
      throw errors.invalidArgument('bundle', 'must be UTF-8 text (one ES module)', 'INVALID_BUNDLE');
    }
    const record = new ToolVersionRecord(resolved, Uint8Array.from(bundle), source, new Date());
    record.schemas(this.compiler);
    await this.prepare(record);
    if (options.grantPermissions && !isEmpty(resolved.permissions)) await this.grant(record.name, resolved.permissions);
    await this.store.putVersion({ manifest: resolved.manifest, bundle: record.bundle, createTime: record.createTime });
    this.index(record);
    return this.toTool(record);
  }

  /** Newest version matching `range` (exact version, semver range or empty), whatever its state. */
  find(name: string, range: string): ToolVersionRecord | undefined {
    return this.matching(name, range)[0];
  }

  /** The version an InvokeTool gets: newest ACTIVE one matching the range. */
  resolveActive(name: string, range: string): ToolVersionRecord {
    if (!validToolName(name)) throw errors.invalidArgument('name', 'is not a valid tool name');
    const candidates = this.matching(name, range);
    const active = candidates.find((r) => this.stateOf(r) === ToolState.TOOL_STATE_ACTIVE);
    if (active) return active;
    if (candidates.length > 0) {
      const pending = candidates[0]!;
      throw errors.failedPrecondition('TOOL_PENDING_GRANT', `${pending.name}@${pending.version} waits for a grant of its permissions (GrantTool)`, {
        tool: pending.name,
        version: pending.version,
      });
    }
    throw errors.notFound('tool', range ? `${name}@${range}` : name);
  }

  list(options: { pageSize: number; pageToken: string; name: string; allVersions: boolean }): Page<ToolVersionRecord> {
    const size = pageSize(options.pageSize);
    const after = decodePageToken(options.pageToken);
    const names = options.name ? [options.name] : [...this.tools.keys()].sort();
    const rows: Array<{ key: string; record: ToolVersionRecord }> = [];
    for (const name of names) {
      const versions = this.sorted(name);
      const chosen = options.allVersions ? versions : versions.slice(0, 1);
      // Keys sort by name, then newest version first.
      chosen.forEach((record, i) => rows.push({ key: `${name}\u0000${String(i).padStart(6, '0')}\u0000${record.version}`, record }));
    }
    const start = after === undefined ? 0 : rows.findIndex((r) => r.key > after);
    const slice = start < 0 ? [] : rows.slice(start, start + size);
    const more = start >= 0 && start + size < rows.length;
    return { items: slice.map((r) => r.record), nextPageToken: more ? encodePageToken(slice[slice.length - 1]!.key) : '' };
  }

  async delete(name: string, version: string): Promise<number> {
    if (!validToolName(name)) throw errors.invalidArgument('name', 'is not a valid tool name');
    const versions = this.tools.get(name);
    if (!versions || (version && !versions.has(version))) throw errors.notFound('tool', version ? `${name}@${version}` : name);
    const doomed = version ? [versions.get(version)!] : [...versions.values()];
    for (const record of doomed) {
      await this.store.deleteVersion(name, record.version);
      versions.delete(record.version);
    }
    if (versions.size === 0) this.tools.delete(name);
    this.onEvict(doomed.map((r) => r.key));
    return doomed.length;
  }

  async grant(toolName: string, permissions: PermissionSet): Promise<{ grant: StoredGrant; activated: ToolVersionRecord[] }> {
    this.checkGrantInput(toolName, permissions);
    const before = new Set(this.sorted(toolName).filter((r) => this.stateOf(r) === ToolState.TOOL_STATE_ACTIVE));
    const grant: StoredGrant = { toolName, permissions: unionPermissions(this.grantOf(toolName), normalizePermissions(permissions)), updateTime: new Date() };
    this.grantWrites++;
    await this.store.putGrant(grant);
    this.grants.set(toolName, grant);
    const activated = this.sorted(toolName).filter((r) => !before.has(r) && this.stateOf(r) === ToolState.TOOL_STATE_ACTIVE);
    return { grant, activated };
  }

  async revoke(toolName: string, permissions: PermissionSet | undefined): Promise<StoredGrant> {
    if (!validToolName(toolName)) throw errors.invalidArgument('tool_name', 'is not a valid tool name');
    const remaining = permissions && !isEmpty(permissions) ? subtractPermissions(this.grantOf(toolName), normalizePermissions(permissions)) : EMPTY_PERMISSIONS;
    const grant: StoredGrant = { toolName, permissions: remaining, updateTime: new Date() };
    this.grantWrites++;
    if (isEmpty(remaining)) {
      await this.store.deleteGrant(toolName);
      this.grants.delete(toolName);
    } else {
      await this.store.putGrant(grant);
      this.grants.set(toolName, grant);
    }
    return grant;
  }

  listGrants(options: { pageSize: number; pageToken: string }): Page<StoredGrant> {
    const size = pageSize(options.pageSize);
    const after = decodePageToken(options.pageToken);
    const all = [...this.grants.values()].sort((a, b) => (a.toolName < b.toolName ? -1 : 1));
    const rest = after === undefined ? all : all.filter((g) => g.toolName > after);
    const items = rest.slice(0, size);
    return { items, nextPageToken: rest.length > size ? encodePageToken(items[items.length - 1]!.toolName) : '' };
  }

  private checkGrantInput(toolName: string, permissions: PermissionSet): void {
    const v: Array<{ field: string; description: string }> = [];
    if (!validToolName(toolName)) v.push({ field: 'tool_name', description: 'is not a valid tool name' });
    permissions.networkHosts.forEach((h, i) => {
      const problem = hostPatternProblem(h.trim().toLowerCase().replace(/\.$/, ''));
      if (problem) v.push({ field: `permissions.network_hosts[${i}]`, description: problem });
    });
    permissions.secrets.forEach((s, i) => {
      const problem = secretNameProblem(s.trim());
      if (problem) v.push({ field: `permissions.secrets[${i}]`, description: problem });
    });
    if (v.length > 0) throw errors.invalidArguments(v);
  }

  private index(record: ToolVersionRecord): void {
    let versions = this.tools.get(record.name);
    if (!versions) this.tools.set(record.name, (versions = new Map()));
    versions.set(record.version, record);
  }

  private sorted(name: string): ToolVersionRecord[] {
    const versions = this.tools.get(name);
    if (!versions) return [];
    return [...versions.values()].sort((a, b) => semver.rcompare(a.version, b.version));
  }

  private matching(name: string, range: string): ToolVersionRecord[] {
    const all = this.sorted(name);
    if (!range) return all;
    if (semver.valid(range)) return all.filter((r) => r.version === range);
    if (!semver.validRange(range)) throw errors.invalidArgument('version', 'is neither a version nor a semver range');
    return all.filter((r) => semver.satisfies(r.version, range, { includePrerelease: false }));
  }
}

export { sha256Hex };
