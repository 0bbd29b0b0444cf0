import ivm from 'isolated-vm';
import { ISOLATE_BOOTSTRAP_SOURCE } from './isolate-bootstrap.js';
import { ToolRealm } from './tool-realm.js';
import type { ContextReuseRequest, ToolVersionSource } from './worker-protocol.js';

/** An isolate kept warm for one tool version; used by one call at a time. */
export class WarmIsolate {
  calls = 0;
  /** A realm made while the isolate was idle, for the next call. */
  spare: Promise<ToolRealm | undefined> | undefined;
  constructor(
    readonly isolate: ivm.Isolate,
    readonly bootstrap: ivm.Script,
    readonly version: ToolVersion,
  ) {}
}

/** A realm kept after a successful call, for the next call with the same reuse key. */
export interface KeptRealm {
  key: string;
  warm: WarmIsolate;
  realm: ToolRealm;
  /** Calls it has served. */
  calls: number;
  idle?: NodeJS.Timeout;
}

/** How long a tool's top-level code may run while a spare realm is made. */
const SPARE_TIMEOUT_MS = 2000;

/** compileModule's result carries the code-cache fields the typings leave out. */
type CompiledModule = ivm.Module & { cachedData?: ivm.ExternalCopy<ArrayBuffer>; cachedDataRejected?: boolean };

interface ToolVersion {
  key: string;
  source: string;
  memoryMb: number;
  /** V8 code cache from the first compile, shared by every isolate of the version. */
  cachedData?: ivm.ExternalCopy<ArrayBuffer>;
  idle: WarmIsolate[];
}

export interface IsolatePoolOptions {
  maxIdlePerVersion: number;
  maxIdleTotal: number;
  /** Recycle an isolate after this many calls, so slow leaks cannot accumulate. */
  maxCallsPerIsolate: number;
  /** V8 is in a state it cannot recover from: the process must die. */
  onCatastrophicError: (message: string) => void;
}

/**
 * Warm isolates per tool version inside one worker process. A call takes an
 * isolate exclusively, so a watchdog that disposes it harms no other call;
 * each call still gets a fresh context.
 */
export class IsolatePool {
  private readonly versions = new Map<string, ToolVersion>();
  /** Idle isolates in least-recently-used order. */
  private readonly idleOrder = new Set<WarmIsolate>();
  /**
   * Contexts kept for reuse (manifests that opt in), by reuse key, each in an
   * isolate of its own that serves nothing else while it holds it.
   */
  private readonly kept = new Map<string, KeptRealm[]>();
  private keptCount = 0;

  constructor(private readonly options: IsolatePoolOptions) {}

  has(key: string): boolean {
    return this.versions.has(key);
  }

  define(version: ToolVersionSource): void {
    if (this.versions.has(version.key)) return;
    this.versions.set(version.key, { key: version.key, source: version.source, memoryMb: version.memoryMb, idle: [] });
  }

  async acquire(key: string): Promise<WarmIsolate> {
    const version = this.versions.get(key);
    if (!version) throw new Error(`tool version ${key} is not loaded in this worker`);
    for (;;) {
      const warm = version.idle.pop();
      if (!warm) break;
      this.idleOrder.delete(warm);
      if (!warm.isolate.isDisposed) return warm;
      this.dispose(warm);
    }
    const isolate = new ivm.Isolate({
      memoryLimit: Math.max(8, version.memoryMb),
      onCatastrophicError: this.options.onCatastrophicError,
    });
    try {
      const bootstrap = await isolate.compileScript(ISOLATE_BOOTSTRAP_SOURCE, { filename: 'elixirchain:bootstrap' });
      return new WarmIsolate(isolate, bootstrap, version);
    } catch (error) {
      if (!isolate.isDisposed) isolate.dispose();
      throw error;
    }
  }

  /** The realm prepared while idle, if any and still usable. */
  async takeSpare(warm: WarmIsolate): Promise<ToolRealm | undefined> {
    const spare = warm.spare;
    warm.spare = undefined;
    const realm = spare ? await spare : undefined;
    if (realm && warm.isolate.isDisposed) {
      realm.release();
      return undefined;
    }
    return realm;
  }

  /**
   * Starts making the next call's fresh context now, off that call's critical
   * path: once the isolate is idle in the pool and the call that used it has
   * answered (ToolRealm.create runs its first steps synchronously, so the
   * isolate must not be running anything).
   */
  private prepareSpare(warm: WarmIsolate): void {
    if (warm.spare || warm.isolate.isDisposed || !this.idleOrder.has(warm)) return;
    warm.spare = ToolRealm.create(warm, this, SPARE_TIMEOUT_MS).catch(() => undefined);
  }

  /**
   * Compiles the version's module in this isolate, with the shared code cache.
   * With the cache it is cheap (V8 checks and deserialises it), so it runs
   * synchronously; the first compile of a version, a full parse, does not.
   */
  async compileModule(warm: WarmIsolate): Promise<ivm.Module> {
    const version = warm.version;
    const filename = `tool:${version.key.split('#')[0]}`;
    if (version.cachedData) {
      const module = warm.isolate.compileModuleSync(version.source, { filename, cachedData: version.cachedData }) as CompiledModule;
      if (!module.cachedDataRejected) return module;
      module.release();
    }
    const module = (await warm.isolate.compileModule(version.source, { filename, produceCachedData: true })) as CompiledModule;
    if (module.cachedData) version.cachedData = module.cachedData;
    return module;
  }

  /** An idle kept context for this reuse key and version, if any is still within its bounds. */
  takeKept(reuse: ContextReuseRequest, versionKey: string): KeptRealm | undefined {
    const list = this.kept.get(reuse.key);
    while (list && list.length > 0) {
      const kept = list.pop()!;
      this.keptCount--;
      clearTimeout(kept.idle);
      kept.idle = undefined;
      if (list.length === 0) this.kept.delete(reuse.key);
      const usable = !kept.warm.isolate.isDisposed && kept.warm.version.key === versionKey && this.versions.get(versionKey) === kept.warm.version && kept.calls < reuse.maxCalls;
      if (usable) return kept;
      this.discardKept(kept);
    }
    return undefined;
  }

  /**
   * Keeps a realm whose call succeeded for the next call with the same key,
   * within the manifest's bounds; false if it may not be kept (the caller
   * then discards it).
   */
  keep(reuse: ContextReuseRequest, kept: KeptRealm): boolean {
    const { warm } = kept;
    if (warm.isolate.isDisposed || kept.calls >= reuse.maxCalls || this.versions.get(warm.version.key) !== warm.version) return false;
    const list = this.kept.get(reuse.key) ?? [];
    if (list.length >= this.options.maxIdlePerVersion || this.heapIsHigh(warm)) return false;
    // Kept contexts and idle isolates share one bound on isolates held while no call runs.
    while (this.keptCount > 0 && this.keptCount + this.idleOrder.size >= this.options.maxIdleTotal) this.discardOldestKept();
    list.push(kept);
    this.kept.set(reuse.key, list);
    this.keptCount++;
    kept.idle = setTimeout(() => {
      const at = list.indexOf(kept);
      if (at < 0) return;
      list.splice(at, 1);
      this.keptCount--;
      if (list.length === 0 && this.kept.get(reuse.key) === list) this.kept.delete(reuse.key);
      this.discardKept(kept);
    }, reuse.maxIdleMs);
    kept.idle.unref();
    return true;
  }

  /** Ends a kept context and the isolate that held it (a fresh isolate replaces it on demand). */
  discardKept(kept: KeptRealm): void {
    clearTimeout(kept.idle);
    kept.realm.release();
    this.dispose(kept.warm);
  }

  private discardOldestKept(): void {
    for (const [key, list] of this.kept) {
      const oldest = list.shift();
      if (list.length === 0) this.kept.delete(key);
      if (oldest) {
        this.keptCount--;
        this.discardKept(oldest);
        return;
      }
    }
    this.keptCount = 0;
  }

  release(warm: WarmIsolate, reusable: boolean): void {
    const version = this.versions.get(warm.version.key);
    warm.calls++;
    if (
      !reusable ||
      warm.isolate.isDisposed ||
      version !== warm.version ||
      warm.calls >= this.options.maxCallsPerIsolate ||
      version.idle.length >= this.options.maxIdlePerVersion ||
      (warm.calls % 16 === 0 && this.heapIsHigh(warm))
    ) {
      this.dispose(warm);
      return;
    }
    version.idle.push(warm);
    this.idleOrder.add(warm);
    // After the caller has sent its answer (setImmediate), and only if no call took the isolate meanwhile.
    setImmediate(() => this.prepareSpare(warm));
    while (this.idleOrder.size > this.options.maxIdleTotal) {
      const oldest = this.idleOrder.values().next().value as WarmIsolate;
      this.idleOrder.delete(oldest);
      const list = oldest.version.idle;
      const at = list.indexOf(oldest);
      if (at >= 0) list.splice(at, 1);
      this.dispose(oldest);
    }
  }

  evict(keys: string[]): void {
    for (const key of keys) {
      const version = this.versions.get(key);
      if (!version) continue;
      this.versions.delete(key);
      for (const warm of version.idle) {
        this.idleOrder.delete(warm);
        this.dispose(warm);
      }
      version.idle.length = 0;
      version.cachedData?.release();
    }
    const evicted = new Set(keys);
    for (const [key, list] of this.kept) {
      for (const kept of list.filter((k) => evicted.has(k.warm.version.key))) {
        list.splice(list.indexOf(kept), 1);
        this.keptCount--;
        this.discardKept(kept);
      }
      if (list.length === 0) this.kept.delete(key);
    }
  }

  get idleCount(): number {
    return this.idleOrder.size;
  }

  private heapIsHigh(warm: WarmIsolate): boolean {
    try {
      const stats = warm.isolate.getHeapStatisticsSync();
      return stats.used_heap_size > (warm.version.memoryMb * 1024 * 1024) / 2;
    } catch {
      return true;
    }
  }

  private dispose(warm: WarmIsolate): void {
    const spare = warm.spare;
    warm.spare = undefined;
    spare?.then((realm) => realm?.release());
    try {
      warm.bootstrap.release();
    } catch {
      /* already gone with its isolate */
    }
    if (!warm.isolate.isDisposed) warm.isolate.dispose();
  }
}
