import { randomBytes } from 'node:crypto';
import { Chain } from '@elixirchain/proto/chain';
import type { StateStore, StateWrite } from '../storage/state-store.js';
import { listAll, VersionConflictError } from '../storage/state-store.js';
import { decodeListToken, encodeListToken } from '../storage/page-token.js';

const chainKey = (id: string) => `chains/${id}`;
const DECODED_CACHE_SIZE = 1_000;
const versionKey = (id: string, version: number) => `chains/${id}/versions/${version}`;
const requestKey = (requestId: string) => `chain-requests/${requestId}`;

export class ChainNotFoundError extends Error {
  constructor(readonly chainId: string, readonly version = 0) {
    super(version ? `chain "${chainId}" has no version ${version}` : `chain "${chainId}" not found`);
    this.name = 'ChainNotFoundError';
  }
}

export class ChainExistsError extends Error {
  constructor(readonly chainId: string) {
    super(`chain "${chainId}" already exists`);
    this.name = 'ChainExistsError';
  }
}

export class ChainVersionMismatchError extends Error {
  constructor(readonly chainId: string, readonly currentVersion: number, readonly expectedVersion: number) {
    super(`chain "${chainId}" is at version ${currentVersion}, not ${expectedVersion}`);
    this.name = 'ChainVersionMismatchError';
  }
}

/**
 * Chain definitions in memory's state: the current one at `chains/<id>` and
 * every version at `chains/<id>/versions/<n>` (runs pin a version). Create and
 * update write both in one atomic batch, compare-and-set on the current key.
 */
export class ChainRepository {
  /**
   * Decoded definitions by key and state version: every StartRun reads the
   * current definition, and decoding it is most of that read's cost. The read
   * still happens (a definition updated elsewhere is seen at once); only an
   * unchanged one is not decoded again. Callers must not mutate what they get.
   */
  private readonly decoded = new Map<string, { version: number; chain: Chain }>();
  /**
   * With `ownsDefinitions`: the current definition of each chain, kept after
   * the first read and replaced by this repository's own writes, so StartRun
   * does not read memory. `generation` counts this repository's writes per
   * chain: a read that a write overtook does not put its older value back.
   */
  private readonly current = new Map<string, Chain>();
  private readonly generation = new Map<string, number>();

  /**
   * ownsDefinitions: this process is the only writer of these definitions
   * (one chain-executor per memory and tenant, no replicas), so what it last
   * wrote or read is the current definition. With replicas another process
   * may update a chain at any time: every current-version read goes to memory.
   */
  constructor(
    private readonly store: StateStore,
    private readonly ownsDefinitions = false,
  ) {}

  private wrote(id: string, chain: Chain | undefined): void {
    if (!this.ownsDefinitions) return;
    this.generation.set(id, (this.generation.get(id) ?? 0) + 1);
    if (chain) this.current.set(id, chain);
    else this.current.delete(id);
  }

  async create(input: Chain, requestId: string): Promise<Chain> {
    if (requestId !== '') {
      const earlier = await this.store.get(requestKey(requestId));
      if (earlier) return this.get((earlier.value as { chainId: string }).chainId, (earlier.value as { version: number }).version);
    }
    const now = new Date();
    const chain: Chain = { ...input, id: input.id || `chain-${randomBytes(6).toString('hex')}`, version: 1, createTime: now, updateTime: now };
    const json = Chain.toJSON(chain);
    const writes: StateWrite[] = [
      { op: 'put', key: chainKey(chain.id), value: json, expectedVersion: 0 },
      { op: 'put', key: versionKey(chain.id, 1), value: json },
    ];
    if (requestId !== '') writes.push({ op: 'put', key: requestKey(requestId), value: { chainId: chain.id, version: 1 } });
    try {
      await this.store.batch(writes);
    } catch (error) {
      if (error instanceof VersionConflictError) throw new ChainExistsError(chain.id);
      throw error;
    }
    this.wrote(chain.id, chain);
    return chain;
  }

  /** version 0 reads the current definition. */
  async get(id: string, version = 0): Promise<Chain> {
    const owned = this.ownsDefinitions && version === 0 ? this.current.get(id) : undefined;
    if (owned) return owned;
    const generation = this.generation.get(id) ?? 0;
    const key = version > 0 ? versionKey(id, version) : chainKey(id);
    const entry = await this.store.get(key);
    if (!entry) {
      this.decoded.delete(key);
      throw new ChainNotFoundError(id, version);
    }
    const cached = this.decoded.get(key);
    if (cached?.version === entry.version) return cached.chain;
    const chain = Chain.fromJSON(entry.value);
    if (this.decoded.size >= DECODED_CACHE_SIZE) this.decoded.delete(this.decoded.keys().next().value!);
    this.decoded.set(key, { version: entry.version, chain });
    if (this.ownsDefinitions && version === 0 && (this.generation.get(id) ?? 0) === generation) this.keep(id, chain);
    return chain;
  }

  private keep(id: string, chain: Chain): void {
    if (this.current.size >= DECODED_CACHE_SIZE) this.current.delete(this.current.keys().next().value!);
    this.current.set(id, chain);
  }

  async list(pageSize: number, pageToken: string): Promise<{ chains: Chain[]; nextPageToken: string }> {
    const chains: Chain[] = [];
    // Version snapshots share the prefix, so a page of ours is not a page of
    // memory's: our token is memory's token for the page we stopped in plus
    // how many of its entries we already consumed.
    let { token, skip } = decodeListToken(pageToken);
    for (;;) {
      const page = await this.store.list('chains/', LIST_PAGE, token);
      for (let i = skip; i < page.entries.length; i++) {
        const entry = page.entries[i]!;
        if (entry.key.includes('/versions/')) continue;
        chains.push(Chain.fromJSON(entry.value));
        if (chains.length === pageSize) {
          const more = i + 1 < page.entries.length || page.nextPageToken !== '';
          return { chains, nextPageToken: more ? encodeListToken(token, i + 1) : '' };
        }
      }
      if (page.nextPageToken === '') return { chains, nextPageToken: '' };
      token = page.nextPageToken;
      skip = 0;
    }
  }

  /** Replaces the fields in `fields` (or all when empty) and adds a version. */
  async update(id: string, changes: Chain, fields: string[], expectedVersion: number | undefined): Promise<Chain> {
    const entry = await this.store.get(chainKey(id));
    if (!entry) throw new ChainNotFoundError(id);
    const current = Chain.fromJSON(entry.value);
    if (expectedVersion !== undefined && expectedVersion !== current.version) throw new ChainVersionMismatchError(id, current.version, expectedVersion);
    const next: Chain = { ...current };
    const replaceAll = fields.length === 0;
    if (replaceAll || fields.includes('display_name')) next.displayName = changes.displayName;
    if (replaceAll || fields.includes('description')) next.description = changes.description;
    if (replaceAll || fields.includes('root')) next.root = changes.root;
    if (replaceAll || fields.includes('metadata')) next.metadata = changes.metadata;
    next.version = current.version + 1;
    next.updateTime = new Date();
    const json = Chain.toJSON(next);
    try {
      await this.store.batch([
        { op: 'put', key: chainKey(id), value: json, expectedVersion: entry.version },
        { op: 'put', key: versionKey(id, next.version), value: json },
      ]);
    } catch (error) {
      if (error instanceof VersionConflictError) throw new ChainVersionMismatchError(id, current.version + 1, current.version);
      throw error;
    }
    this.wrote(id, next);
    return next;
  }

  /** Removes the definition and its versions. Runs already started keep their snapshot. */
  async delete(id: string): Promise<boolean> {
    const entry = await this.store.get(chainKey(id));
    if (!entry) return false;
    const keys: string[] = [];
    for await (const v of listAll(this.store, `${chainKey(id)}/versions/`, true)) keys.push(v.key);
    this.wrote(id, undefined);
    await this.store.batch([{ op: 'delete', key: chainKey(id) }, ...keys.map((key) => ({ op: 'delete' as const, key }))]);
    this.wrote(id, undefined);
    return true;
  }
}

export const UPDATABLE_CHAIN_FIELDS = ['display_name', 'description', 'root', 'metadata'];

const LIST_PAGE = 200;
