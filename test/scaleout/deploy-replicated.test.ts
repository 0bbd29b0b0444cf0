import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, type Tags } from 'yaml';

// The replicated layout in deploy/ is validated offline like the base files (no Docker or cluster on CI):
// full Kubernetes resources against the API schemas, patches and the compose override by what they must say.
const DEPLOY = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'deploy');
const OVERLAY = path.join(DEPLOY, 'k8s', 'replicated');
const MESH = ['memory', 'tool-sandbox', 'agent-host', 'chain-executor'];

// Compose's merge tags (!reset, !override on lists and maps), kept as plain values for inspection.
const composeTags = ['!reset', '!override'].flatMap((tag) => [
  { tag, collection: 'seq', resolve: (value: unknown) => value },
  { tag, collection: 'map', resolve: (value: unknown) => value },
]) as unknown as Tags;

describe('deploy/: the replicated layout (PostgreSQL, Redis, replicas ≥ 2)', () => {
  const kustomization = parse(fs.readFileSync(path.join(OVERLAY, 'kustomization.yaml'), 'utf8')) as {
    resources: string[];
    patches: Array<{ path?: string; target?: { kind: string; name: string }; patch?: string }>;
  };
  const docs = (file: string) => parseAllDocuments(fs.readFileSync(path.join(OVERLAY, file), 'utf8')).map((d) => d.toJS() as any);

  it('adds PostgreSQL, Redis and disruption budgets that validate against the Kubernetes API schemas', async () => {
    const own = kustomization.resources.filter((r) => r !== '../');
    assert.ok(kustomization.resources.includes('../'), 'layered over the base manifests');
    const all = own.flatMap(docs);
    for (const doc of all) {
      const [group, version] = doc.apiVersion.includes('/') ? doc.apiVersion.split('/') : ['', doc.apiVersion];
      const module = (await import(`kubernetes-models/${group ? `${group}/` : ''}${version}/${doc.kind}`)) as Record<string, new (data: unknown) => { validate(): void }>;
      const Model = module[doc.kind] ?? module.default;
      assert.doesNotThrow(() => new Model!(doc).validate(), `${doc.kind} ${doc.metadata?.name}`);
    }
    const names = all.map((d) => `${d.kind}/${d.metadata.name}`);
    for (const expected of ['StatefulSet/postgres', 'Service/postgres', 'StatefulSet/redis', 'Service/redis', ...MESH.map((s) => `PodDisruptionBudget/${s}`)]) assert.ok(names.includes(expected), expected);
    for (const set of all.filter((d) => d.kind === 'StatefulSet')) assert.ok(set.spec.template.spec.containers[0].readinessProbe, `${set.metadata.name} has a readiness probe`);
  });

  it('runs every service with at least two replicas, memory on PostgreSQL, leases in Redis, and a reachable address per pod', () => {
    const replicas = new Map<string, number>();
    for (const p of kustomization.patches) {
      if (p.path) {
        for (const doc of docs(p.path)) if (doc.kind === 'Deployment') replicas.set(doc.metadata.name, doc.spec.replicas);
      } else if (p.target?.kind === 'Deployment') {
        const ops = parse(p.patch!) as Array<{ op: string; path: string; value: number }>;
        replicas.set(p.target.name, ops.find((o) => o.path === '/spec/replicas')!.value);
      }
    }
    for (const service of MESH) assert.ok((replicas.get(service) ?? 0) >= 2, `${service}: ${replicas.get(service)} replicas`);
    const memory = docs('memory-postgres.yaml')[0].spec.template.spec.containers[0].env;
    assert.equal(memory.find((e: any) => e.name === 'ELIXIRCHAIN_STORE').valueFrom.secretKeyRef.name, 'elixirchain-postgres');
    assert.equal(memory.find((e: any) => e.name === 'ELIXIRCHAIN_MEMORY_CACHE_BYTES').value, '0');
    const config = docs('replicated-config.yaml')[0];
    assert.match(config.data.ELIXIRCHAIN_REDIS_URL, /^redis:\/\/redis\./);
    for (const [service, port] of [['agent-host', 50051], ['chain-executor', 50054]] as const) {
      const env = docs(`${service}-replicas.yaml`)[0].spec.template.spec.containers[0].env;
      assert.equal(env.find((e: any) => e.name === 'ELIXIRCHAIN_ADVERTISE_ADDR').value, `$(POD_IP):${port}`);
      assert.equal(env.find((e: any) => e.name === 'POD_IP').valueFrom.fieldRef.fieldPath, 'status.podIP');
    }
  });

  it('the compose override adds PostgreSQL and Redis with health checks and two replicas of every service', () => {
    const compose = parse(fs.readFileSync(path.join(DEPLOY, 'docker-compose.replicated.yml'), 'utf8'), { customTags: composeTags, merge: true }) as { services: Record<string, any> };
    for (const service of MESH) assert.ok(compose.services[service].deploy.replicas >= 2, service);
    assert.match(compose.services.memory.environment.ELIXIRCHAIN_STORE, /^postgres:\/\//);
    for (const service of ['agent-host', 'chain-executor']) assert.equal(compose.services[service].environment.ELIXIRCHAIN_REDIS_URL, 'redis://redis:6379');
    for (const store of ['postgres', 'redis']) assert.ok(compose.services[store].healthcheck.test.length > 0, `${store} health check`);
    assert.equal(compose.services.memory.depends_on.postgres.condition, 'service_healthy');
  });
});
