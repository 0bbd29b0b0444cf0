/**
 * Source of the script that runs first in every fresh context, before the
 * tool's module. It captures the intrinsics it needs (so tool code that
 * tampers with JSON, Promise or String later cannot change what crosses the
 * bridge), removes what a tool must not have, builds `ctx`, and evaluates to
 * a function `(send, initJson) => control`.
 *
 * `send(op, id, json)` is the only host function the realm ever sees, and it
 * is held in this closure, never in a global. Everything crossing is a
 * string, size-checked here and again on the host. Errors raised at the tool
 * are created inside the isolate, so no host stack can leak in.
 *
 * `control(op, a, b, c)` is how the host drives the call:
 *   control('run', namespace, inputJson, callJson) -> Promise<string>  ('R' + output JSON | 'E' + error JSON)
 *   control('reply', requestId, replyJson)                   resolves a pending host request
 *   control('abort', reason)                                  aborts ctx.signal
 *   control('shape', namespace)                               'function' | 'execute' | 'invalid'
 */
export const ISOLATE_BOOTSTRAP_SOURCE = String.raw`(function bootstrap(send, initJson) {
  'use strict';
  const G = globalThis;
  const JSONstringify = JSON.stringify;
  const JSONparse = JSON.parse;
  const ReflectApply = Reflect.apply;
  const ObjectFreeze = Object.freeze;
  const ObjectCreate = Object.create;
  const ObjectKeys = Object.keys;
  const hasOwn = Object.prototype.hasOwnProperty;
  const PromiseCtor = Promise;
  const promiseThen = Promise.prototype.then;
  const StringCtor = String;
  const strSlice = String.prototype.slice;
  const strToLower = String.prototype.toLowerCase;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const NumberCtor = Number;
  const NumberIsFinite = Number.isFinite;
  const ArrayIsArray = Array.isArray;

  const init = JSONparse(initJson);
  const MAX_ARG = init.maxBridgeArgChars;
  const MAX_FETCH = init.maxFetchRequestChars;
  let MAX_OUTPUT = 0;
  const MAX_TIMERS = init.maxTimers;
  const MAX_MESSAGE = 8192;

  // Not part of a tool's world: unmetered memory, shared memory, host consoles.
  delete G.WebAssembly;
  delete G.SharedArrayBuffer;
  delete G.Atomics;
  delete G.console;

  const slice = (s, n) => (s.length > n ? ReflectApply(strSlice, s, [0, n]) + '…' : s);
  const own = (o, k) => ReflectApply(hasOwn, o, [k]);
  const then = (p, ok, bad) => ReflectApply(promiseThen, p, [ok, bad]);

  function toolError(code, message, name) {
    const e = new ErrorCtor(message);
    e.code = code;
    if (name) e.name = name;
    return e;
  }

  function encode(value, max, what) {
    let json;
    try {
      json = JSONstringify(value);
    } catch (e) {
      throw toolError('INVALID_ARGUMENT', what + ' is not JSON-serialisable');
    }
    if (json === undefined) json = 'null';
    if (json.length > max) throw toolError('RESOURCE_EXHAUSTED', what + ' is larger than ' + max + ' characters');
    return json;
  }

  // Outstanding acknowledgements of events: the result waits for them so the
  // host always sees events before the result.
  let unacked = 0;
  let drained = null;
  function ack() {
    unacked--;
    if (unacked === 0 && drained) { const d = drained; drained = null; d(); }
  }
  function emit(kind, value) {
    if (ended) throw toolError('FAILED_PRECONDITION', 'the call has ended');
    const json = encode(value, MAX_ARG, kind);
    unacked++;
    then(send(kind, 0, json), ack, ack);
  }

  let ended = false;
  let nextRequest = 0;
  const pending = ObjectCreate(null);
  function request(op, json) {
    if (ended) return PromiseCtor.reject(toolError('FAILED_PRECONDITION', 'the call has ended'));
    const id = ++nextRequest;
    return new PromiseCtor((resolve, reject) => {
      pending[id] = { resolve, reject };
      then(send(op, id, json), undefined, () => {
        delete pending[id];
        reject(toolError('UNAVAILABLE', 'the host did not accept the request'));
      });
    });
  }

  // --- ctx.signal: one per call (a context may serve several calls, see run) --
  let abortListeners = [];
  let signal = null;
  const newSignal = () => { const listeners = []; abortListeners = listeners; const s = {
    aborted: false,
    reason: undefined,
    onabort: null,
    addEventListener(type, fn) {
      if (type === 'abort' && typeof fn === 'function') listeners[listeners.length] = fn;
    },
    removeEventListener(type, fn) {
      for (let i = 0; i < listeners.length; i++) if (listeners[i] === fn) listeners[i] = null;
    },
    throwIfAborted() {
      if (s.aborted) throw toolError('CANCELLED', StringCtor(s.reason || 'aborted'), 'AbortError');
    },
  }; return s; };
  function abort(reason) {
    if (!signal || signal.aborted) return;
    signal.aborted = true;
    signal.reason = reason;
    const fns = [];
    for (let i = 0; i < abortListeners.length; i++) if (abortListeners[i]) fns[fns.length] = abortListeners[i];
    if (typeof signal.onabort === 'function') fns[fns.length] = signal.onabort;
    for (let i = 0; i < fns.length; i++) {
      try { ReflectApply(fns[i], signal, [{ type: 'abort', target: signal }]); } catch (_) { /* a listener's error is its own */ }
    }
  }

  // --- ctx.log / progress / partial, console --------------------------------
  const LEVELS = { debug: 1, info: 1, warn: 1, error: 1 };
  function text(value) {
    if (typeof value === 'string') return value;
    try {
      const json = JSONstringify(value);
      if (typeof json === 'string') return json;
    } catch (_) { /* fall through */ }
    try { return StringCtor(value); } catch (_) { return '[unprintable]'; }
  }
  function log(level, message) {
    const l = typeof level === 'string' && own(LEVELS, level) ? level : 'info';
    emit('log', { level: l, message: slice(text(message), MAX_MESSAGE) });
  }
  function progress(fraction, message) {
    const f = NumberCtor(fraction);
    emit('progress', { fraction: NumberIsFinite(f) ? f : -1, message: message === undefined ? '' : slice(text(message), MAX_MESSAGE) });
  }
  function partial(data) {
    emit('partial', { data: data === undefined ? null : data });
  }
  function consoleMethod(level) {
    return function (...args) {
      let line = '';
      for (let i = 0; i < args.length && line.length <= MAX_MESSAGE; i++) line += (i ? ' ' : '') + text(args[i]);
      log(level, line);
    };
  }
  G.console = ObjectFreeze({
    log: consoleMethod('info'), info: consoleMethod('info'), warn: consoleMethod('warn'),
    error: consoleMethod('error'), debug: consoleMethod('debug'),
  });

  // --- timers: host-scheduled, bounded, gone when the call ends -------------
  let nextTimer = 0;
  let liveTimers = 0;
  const timers = ObjectCreate(null);
  function setTimeout(fn, ms, ...args) {
    if (typeof fn !== 'function') throw new TypeErrorCtor('setTimeout needs a function');
    if (liveTimers >= MAX_TIMERS) throw toolError('RESOURCE_EXHAUSTED', 'more than ' + MAX_TIMERS + ' pending timers');
    const id = ++nextTimer;
    timers[id] = true;
    liveTimers++;
    const delay = NumberCtor(ms);
    then(request('timer', JSONstringify({ timer: id, ms: NumberIsFinite(delay) && delay > 0 ? delay : 0 })), () => {
      if (!timers[id]) return;
      delete timers[id];
      liveTimers--;
      try { ReflectApply(fn, undefined, args); } catch (e) { try { log('error', 'uncaught error in timer: ' + describe(e).message); } catch (_) { /* call ended */ } }
    }, () => {
      if (timers[id]) { delete timers[id]; liveTimers--; }
    });
    return id;
  }
  function clearTimeout(id) {
    if (typeof id !== 'number' || !timers[id]) return;
    delete timers[id];
    liveTimers--;
    if (!ended) then(send('clearTimer', 0, JSONstringify({ timer: id })), undefined, undefined);
  }
  G.setTimeout = setTimeout;
  G.clearTimeout = clearTimeout;

  // --- ctx.secrets ------------------------------------------------------------
  // Filled by control('run'): a realm is made ahead of its call, so call data arrives last.
  let secretValues = ObjectCreate(null);
  const secrets = ObjectFreeze({
    get(name) {
      const n = StringCtor(name);
      if (own(secretValues, n)) return secretValues[n];
      throw toolError('PERMISSION_DENIED', 'secret "' + slice(n, 100) + '" is not granted to this tool', 'PermissionDenied');
    },
  });

  // --- ctx.fetch ----------------------------------------------------------------
  function headerPairs(h) {
    const out = [];
    if (h === undefined || h === null) return out;
    if (ArrayIsArray(h)) {
      for (let i = 0; i < h.length; i++) out[out.length] = [StringCtor(h[i][0]), StringCtor(h[i][1])];
      return out;
    }
    if (typeof h.entries === 'function' && typeof h.get === 'function') {
      for (const pair of h.entries()) out[out.length] = [StringCtor(pair[0]), StringCtor(pair[1])];
      return out;
    }
    const keys = ObjectKeys(h);
    for (let i = 0; i < keys.length; i++) out[out.length] = [keys[i], StringCtor(h[keys[i]])];
    return out;
  }
  function makeResponse(r) {
    const headers = r.headers;
    const body = r.body;
    const lower = (s) => ReflectApply(strToLower, StringCtor(s), []);
    return ObjectFreeze({
      ok: r.status >= 200 && r.status < 300,
      status: r.status,
      statusText: r.statusText,
      url: r.url,
      redirected: r.redirected,
      headers: ObjectFreeze({
        get(name) { const n = lower(name); for (let i = 0; i < headers.length; i++) if (headers[i][0] === n) return headers[i][1]; return null; },
        has(name) { const n = lower(name); for (let i = 0; i < headers.length; i++) if (headers[i][0] === n) return true; return false; },
        entries() { return headers.map((p) => [p[0], p[1]])[Symbol.iterator](); },
      }),
      text: async () => body,
      json: async () => JSONparse(body),
    });
  }
  async function fetch(url, options) {
    const o = options || {};
    const req = {
      url: typeof url === 'string' ? url : StringCtor(url && url.url !== undefined ? url.url : url),
      method: o.method === undefined ? 'GET' : StringCtor(o.method),
      headers: headerPairs(o.headers),
      body: o.body === undefined || o.body === null ? null : StringCtor(o.body),
    };
    if (signal.aborted) throw toolError('CANCELLED', 'the call was aborted', 'AbortError');
    const reply = await request('fetch', encode(req, MAX_FETCH, 'fetch request'));
    return makeResponse(reply);
  }


  function describe(e) {
    let name = 'Error';
    let message = '';
    let code;
    try {
      if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
        const n = e.name;
        if (typeof n === 'string') name = n;
        const m = e.message;
        message = typeof m === 'string' ? m : m === undefined ? StringCtor(e) : StringCtor(m);
        const c = e.code;
        if (typeof c === 'string') code = c;
      } else {
        message = StringCtor(e);
      }
    } catch (_) {
      message = 'the tool threw an error that could not be read';
    }
    return { name: slice(StringCtor(name), 100), message: slice(StringCtor(message), 4000), code: code === undefined ? undefined : slice(code, 64) };
  }

  // A context kept for reuse serves several calls, one at a time: each run
  // gets its own signal and ctx, and a ctx a tool kept from an earlier call
  // (in a global) refuses to act once its call is over.
  let generation = 0;
  async function run(ns, inputJson, callJson) {
    const call = JSONparse(callJson);
    const gen = ++generation;
    ended = false;
    unacked = 0;
    drained = null;
    signal = newSignal();
    MAX_OUTPUT = call.maxOutputChars;
    secretValues = call.secrets;
    const over = () => toolError('FAILED_PRECONDITION', 'the call has ended');
    const ctx = ObjectFreeze({
      callId: call.callId,
      deadline: call.deadline,
      attempt: call.attempt,
      signal,
      fetch: (url, options) => (gen === generation ? fetch(url, options) : PromiseCtor.reject(over())),
      secrets,
      progress: (fraction, message) => { if (gen !== generation) throw over(); progress(fraction, message); },
      log: (level, message) => { if (gen !== generation) throw over(); log(level, message); },
      partial: (data) => { if (gen !== generation) throw over(); partial(data); },
    });
    try {
      const exported = ns.default;
      let call;
      if (typeof exported === 'function') call = (input) => exported(input, ctx);
      else if (exported !== null && typeof exported === 'object' && typeof exported.execute === 'function') call = (input) => exported.execute(input, ctx);
      else return 'E' + JSONstringify({ code: 'INVALID_TOOL', message: 'the default export must be a function or an object with execute(input, ctx)' });
      const output = await call(JSONparse(inputJson));
      let json;
      try {
        json = JSONstringify(output === undefined ? null : output);
      } catch (e) {
        return 'E' + JSONstringify({ code: 'INVALID_OUTPUT', message: 'the output is not JSON-serialisable: ' + describe(e).message });
      }
      if (json === undefined) json = 'null';
      if (json.length > MAX_OUTPUT) return 'E' + JSONstringify({ code: 'OUTPUT_TOO_LARGE', message: 'the output is larger than ' + MAX_OUTPUT + ' bytes' });
      if (unacked > 0) await new PromiseCtor((resolve) => { drained = resolve; });
      return 'R' + json;
    } catch (e) {
      if (unacked > 0) await new PromiseCtor((resolve) => { drained = resolve; });
      return 'E' + JSONstringify(describe(e));
    } finally {
      ended = true;
    }
  }

  return function control(op, a, b, c) {
    if (op === 'run') return run(a, b, c);
    if (op === 'reply') {
      const p = pending[a];
      if (!p) return;
      delete pending[a];
      const reply = JSONparse(b);
      if (reply.error) p.reject(toolError(StringCtor(reply.error.code), StringCtor(reply.error.message), reply.error.name));
      else p.resolve(reply.value);
      return;
    }
    if (op === 'abort') { abort(a); return; }
    if (op === 'shape') {
      const d = a.default;
      if (typeof d === 'function') return 'function';
      return d !== null && typeof d === 'object' && typeof d.execute === 'function' ? 'execute' : 'invalid';
    }
  };
})`;
