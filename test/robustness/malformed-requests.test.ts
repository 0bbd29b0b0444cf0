import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { startMeshProcesses } from '../support/mesh-processes.js';
import type { MeshProcesses } from '../support/mesh-processes.js';

// A hostile or broken client sends 1,000 malformed requests spread over every
// RPC of the four services: random bytes, wrong wire types, junk inside Struct
// fields, random field values, missing ids, invalid page tokens, oversize
// messages. Every answer must be a deliberate status (never UNKNOWN, never
// INTERNAL for the caller's mistake) and no process may crash.

const protoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto');
const TOTAL_REQUESTS = 1000;

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = ['', 'x', 'demo', '../../etc/passwd', '\u0000\u0001', '💥🔥', 'a'.repeat(70_000), ' ', 'UPPER CASE', '%00', '*'];
const NUMBERS = [0, -1, 1, 2 ** 31 - 1, -(2 ** 31), 1e15, 7];
const FLOATS = [0, -0, NaN, Infinity, -Infinity, 1e308, 0.5];

function randomScalar(type: string, next: () => number): unknown {
  const pick = <T>(xs: T[]) => xs[Math.floor(next() * xs.length)]!;
  switch (type) {
    case 'string': return next() < 0.2 ? randomBytes(12).toString('base64') : pick(STRINGS);
    case 'bool': return next() < 0.5;
    case 'bytes': return randomBytes(Math.floor(next() * 64));
    case 'double': case 'float': return pick(FLOATS);
    default: return pick(NUMBERS);
  }
}

function randomMessage(type: protobuf.Type, next: () => number, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (type.fullName === '.google.protobuf.Value') {
    const kinds = ['nullValue', 'numberValue', 'stringValue', 'boolValue', ...(depth < 3 ? ['structValue', 'listValue'] : [])];
    const kind = kinds[Math.floor(next() * kinds.length)]!;
    if (kind === 'structValue') out.structValue = randomMessage(type.lookupType('google.protobuf.Struct'), next, depth + 1);
    else if (kind === 'listValue') out.listValue = { values: [randomMessage(type, next, depth + 1)] };
    else out[kind] = kind === 'nullValue' ? 0 : randomScalar(kind === 'numberValue' ? 'double' : kind === 'stringValue' ? 'string' : 'bool', next);
    return out;
  }
  for (const field of type.fieldsArray) {
    if (next() < 0.35) continue;
    field.resolve();
    const one = (): unknown => {
      if (field.resolvedType instanceof protobuf.Enum) {
        const values = Object.values(field.resolvedType.values);
        return next() < 0.2 ? 99 : values[Math.floor(next() * values.length)];
      }
      if (field.resolvedType instanceof protobuf.Type) return depth < 4 ? randomMessage(field.resolvedType, next, depth + 1) : {};
      return randomScalar(field.type, next);
    };
    if (field instanceof protobuf.MapField) out[field.name] = { [String(randomScalar('string', next)).slice(0, 20) || 'k']: one() };
    else if (field.repeated) out[field.name] = Array.from({ length: Math.floor(next() * 4) }, one);
    else out[field.name] = one();
  }
  return out;
}

/** A tag for `fieldNumber` with a wire type other than the field's own. */
function wrongWireType(type: protobuf.Type, next: () => number): Buffer {
  const fields = type.fieldsArray;
  if (fields.length === 0) return randomBytes(8);
  const field = fields[Math.floor(next() * fields.length)]!;
  const lengthDelimited = field.repeated || field.type === 'string' || field.type === 'bytes' || !!field.resolve().resolvedType;
  if (lengthDelimited) {
    const writer = protobuf.Writer.create();
    writer.uint32((field.id << 3) | 1).fixed64(0xdeadbeef); // fixed64 where a length-delimited field belongs
    return Buffer.from(writer.finish());
  }
  const writer = protobuf.Writer.create();
  writer.uint32((field.id << 3) | 2).bytes(randomBytes(16)); // bytes where a varint belongs
  return Buffer.from(writer.finish());
}

/** Random bytes inside the first Struct or Value field, if the message has one. */
function junkInsideStruct(type: protobuf.Type, next: () => number): Buffer | undefined {
  const field = type.fieldsArray.find((f) => /google\.protobuf\.(Struct|Value)$/.test(f.resolve().resolvedType?.fullName ?? ''));
  if (!field) return undefined;
  const writer = protobuf.Writer.create();
  writer.uint32((field.id << 3) | 2).bytes(randomBytes(4 + Math.floor(next() * 60)));
  return Buffer.from(writer.finish());
}

function invalidPageToken(type: protobuf.Type, next: () => number): Buffer | undefined {
  if (!type.fields.page_token) return undefined;
  const tokens = ['not-a-token', '!!!', Buffer.from('{"offset":-5}').toString('base64'), randomBytes(30).toString('base64url'), 'a'.repeat(5000)];
  const message = randomMessage(type, next);
  message.page_token = tokens[Math.floor(next() * tokens.length)];
  return Buffer.from(type.encode(type.fromObject(message)).finish());
}

interface Target {
  address: string;
  path: string;
  requestType: protobuf.Type;
  responseStream: boolean;
}

function malformedPayload(target: Target, index: number, next: () => number): { kind: string; bytes: Buffer } {
  const { requestType } = target;
  const kinds = ['random-bytes', 'random-fields', 'wrong-wire-type', 'struct-junk', 'empty', 'truncated', 'page-token'];
  for (let attempt = 0; ; attempt++) {
    const kind = kinds[(index + attempt) % kinds.length]!;
    switch (kind) {
      case 'random-bytes': return { kind, bytes: randomBytes(1 + Math.floor(next() * 200)) };
      case 'random-fields': return { kind, bytes: Buffer.from(requestType.encode(requestType.fromObject(randomMessage(requestType, next))).finish()) };
      case 'wrong-wire-type': return { kind, bytes: wrongWireType(requestType, next) };
      case 'struct-junk': {
        const bytes = junkInsideStruct(requestType, next);
        if (bytes) return { kind, bytes };
        break;
      }
      case 'empty': return { kind, bytes: Buffer.alloc(0) };
      case 'truncated': {
        const full = Buffer.from(requestType.encode(requestType.fromObject(randomMessage(requestType, next))).finish());
        if (full.length > 2) return { kind, bytes: full.subarray(0, Math.max(1, Math.floor(full.length * next()))) };
        break;
      }
      case 'page-token': {
        const bytes = invalidPageToken(requestType, next);
        if (bytes) return { kind, bytes };
        break;
      }
    }
  }
}

function send(client: grpc.Client, target: Target, bytes: Buffer): Promise<number> {
  const identity = (b: Buffer) => b;
  const deadline = Date.now() + 8_000;
  if (!target.responseStream) {
    return new Promise((resolve) => {
      client.makeUnaryRequest(target.path, identity, identity, bytes, new grpc.Metadata(), { deadline }, (error) => resolve(error ? error.code : 0));
    });
  }
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(target.path, identity, identity, bytes, new grpc.Metadata(), { deadline });
    let received = 0;
    call.on('data', () => {
      // A well-formed stream may run on (e.g. a watch with follow): a few events prove it is alive.
      if (++received >= 3) call.cancel();
    });
    call.on('error', (error: grpc.ServiceError) => resolve(error.code === grpc.status.CANCELLED && received >= 3 ? 0 : error.code));
    call.on('end', () => resolve(0));
  });
}

describe('malformed requests across every RPC', function () {
  this.timeout(300_000);
  let mesh: MeshProcesses;

  before(async () => {
    mesh = await startMeshProcesses();
  });
  after(async () => {
    await mesh?.stop();
  });

  it(`answers ${TOTAL_REQUESTS} malformed requests with deliberate statuses and no process crashes`, async () => {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => join(protoRoot, target);
    root.loadSync(['memory', 'sandbox', 'agent', 'chain'].map((p) => `elixirchain/${p}/v1/${p}.proto`), { keepCase: true });
    root.resolveAll();
    const services: Array<[string, string]> = [
      ['elixirchain.memory.v1.MemoryService', mesh.memory.address],
      ['elixirchain.sandbox.v1.ToolSandboxService', mesh.toolSandbox.address],
      ['elixirchain.agent.v1.AgentService', mesh.agentHost.address],
      ['elixirchain.chain.v1.ChainService', mesh.chainExecutor.address],
    ];
    const targets: Target[] = services.flatMap(([name, address]) =>
      Object.values(root.lookupService(name).methods).map((m) => ({
        address,
        path: `/${name}/${m.name}`,
        requestType: m.resolvedRequestType!,
        responseStream: !!m.responseStream,
      })),
    );
    const clients = new Map(services.map(([, address]) => [address, new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20 })]));
    const next = rng(20261126);
    const byCode = new Map<number, number>();
    const bad: string[] = [];

    const jobs = Array.from({ length: TOTAL_REQUESTS }, (_, index) => index);
    const worker = async () => {
      for (let index = jobs.shift(); index !== undefined; index = jobs.shift()) {
        const target = targets[index % targets.length]!;
        // Two requests far over the 16 MiB limit; the rest malformed in content.
        const payload = index === 7 || index === 501 ? { kind: 'oversize', bytes: randomBytes(20 << 20) } : malformedPayload(target, Math.floor(index / targets.length), next);
        const code = await send(clients.get(target.address)!, target, payload.bytes);
        byCode.set(code, (byCode.get(code) ?? 0) + 1);
        if (code === grpc.status.UNKNOWN || code === grpc.status.INTERNAL) bad.push(`${target.path} (${payload.kind}) → ${grpc.status[code]}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    for (const client of clients.values()) client.close();

    const summary = [...byCode].sort((a, b) => a[0] - b[0]).map(([code, n]) => `${grpc.status[code]}: ${n}`).join(', ');
    const logsOf = (address: string) => mesh.all().find((s) => s.address === address)?.output().split('\n').filter((l) => /"level":(50|60)/.test(l)).slice(-5).join('\n');
    const culprits = [...new Set(bad.map((b) => targets.find((t) => b.startsWith(t.path))!.address))];
    assert.deepEqual(bad, [], `statuses: ${summary}\n${culprits.map((a) => `errors logged by ${a}:\n${logsOf(a)}`).join('\n')}`);
    for (const service of mesh.all()) {
      assert.equal(service.process.exitCode, null, `a service exited:\n${service.output().slice(-3000)}`);
      assert.equal(service.process.signalCode, null);
    }
  });
});
