import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { buildToolProject } from '../src/project/tool-project.js';
import { ADDER_TOOL, runCli, ToolProjectFixture } from './tool-project-fixture.js';

describe('elixirchain-tool build and verify', function () {
  this.timeout(60_000);
  const fixtures: ToolProjectFixture[] = [];
  const project = (files: Record<string, string>) => {
    const fixture = new ToolProjectFixture(files);
    fixtures.push(fixture);
    return fixture;
  };
  after(() => fixtures.forEach((fixture) => fixture.remove()));

  it('writes one ES module and a manifest with schemas, permissions, limits, retry and the sha256', async () => {
    const fixture = project({ 'src/index.ts': ADDER_TOOL });
    const { code, json } = await runCli(['build', '--project', fixture.dir]);
    assert.equal(code, 0);
    const bundle = readFileSync(json.bundle);
    const manifest = JSON.parse(readFileSync(json.manifest, 'utf8'));
    assert.equal(manifest.bundleSha256, createHash('sha256').update(bundle).digest('hex'));
    assert.equal(manifest.name, 'adder');
    assert.deepEqual(manifest.inputSchema.required, ['a', 'b']);
    assert.deepEqual(manifest.permissions, { network: ['api.example.com'], secrets: ['ADDER_KEY'] });
    assert.equal(manifest.limits.memoryMb, 16);
    assert.equal(manifest.retry.maxAttempts, 2);
    assert.equal(manifest.annotations.idempotent, true);
    assert.doesNotMatch(bundle.toString(), /^\s*import\s/m, 'the bundle imports nothing');
  });

  it('refuses Node built-ins, naming the file and the module', async () => {
    const fixture = project({
      'src/index.ts': `import { defineTool } from '@elixirchain/plugin-sdk';\nimport { helper } from './helper.js';\nexport default defineTool({ name: 'n', version: '1.0.0', description: 'd', input: { type: 'object' }, output: {}, execute: () => helper() });\n`,
      'src/helper.ts': `import { readFileSync } from 'node:fs';\nexport const helper = () => readFileSync('/etc/hostname', 'utf8');\n`,
    });
    const { code, json } = await runCli(['build', '--project', fixture.dir]);
    assert.equal(code, 1);
    assert.match(json.error.message, /src\/helper\.ts imports the Node built-in "node:fs"; tools run in a V8 isolate without Node APIs/);
  });

  it('refuses dynamic imports, literal or computed', async () => {
    const literal = project({
      'src/index.ts': `import { defineTool } from '@elixirchain/plugin-sdk';\nexport default defineTool({ name: 'n', version: '1.0.0', description: 'd', input: { type: 'object' }, output: {}, execute: async () => (await import('./late.js')).value });\n`,
      'src/late.ts': 'export const value = 1;\n',
    });
    await assert.rejects(buildToolProject(literal.dir, { outDir: false }), /uses a dynamic import\("\.\/late\.js"\)/);
    const computed = project({
      'src/index.ts': `import { defineTool } from '@elixirchain/plugin-sdk';\nexport default defineTool({ name: 'n', version: '1.0.0', description: 'd', input: { type: 'object' }, output: {}, execute: async (input) => import(String(input.m)) });\n`,
    });
    await assert.rejects(buildToolProject(computed.dir, { outDir: false }), /dynamic import\(\) with a computed module name/);
  });

  it('explains a module whose default export is not a tool', async () => {
    const fixture = project({ 'src/index.ts': 'export const tool = 1;\n' });
    await assert.rejects(buildToolProject(fixture.dir, { outDir: false }), /no default export: end it with `export default defineTool/);
  });

  it('verify passes a built bundle and catches one changed after build', async () => {
    const fixture = project({ 'src/index.ts': ADDER_TOOL });
    const built = await runCli(['build', '--project', fixture.dir]);
    const ok = await runCli(['verify', built.json.bundle]);
    assert.equal(ok.code, 0, JSON.stringify(ok.json));
    assert.equal(ok.json.sha256, built.json.sha256);

    writeFileSync(built.json.bundle, readFileSync(built.json.bundle, 'utf8').replace('a + b', 'a - b'));
    const tampered = await runCli(['verify', built.json.bundle]);
    assert.equal(tampered.code, 1);
    assert.match(tampered.json.error.message, /the bundle was changed after build/);
  });

  it('pack writes manifest and bundle in one file that verify accepts', async () => {
    const fixture = project({ 'src/index.ts': ADDER_TOOL });
    const packed = await runCli(['pack', '--project', fixture.dir]);
    assert.equal(packed.code, 0, JSON.stringify(packed.json));
    assert.match(packed.json.file, /adder-1\.0\.0\.tool\.json$/);
    const verified = await runCli(['verify', packed.json.file]);
    assert.equal(verified.code, 0, JSON.stringify(verified.json));
    assert.equal(verified.json.sha256, packed.json.sha256);
  });

  it('init writes a ready project and will not overwrite a tool without --force', async () => {
    const fixture = project({});
    const dir = `${fixture.dir}/my-new-tool`;
    const created = await runCli(['init', dir]);
    assert.equal(created.code, 0, JSON.stringify(created.json));
    assert.equal(created.json.tool, 'my-new-tool');
    const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8'));
    assert.equal(pkg.dependencies['@elixirchain/plugin-sdk'], '^0.1.0');
    assert.equal(pkg.type, 'module');
    assert.match(readFileSync(`${dir}/src/index.ts`, 'utf8'), /name: 'my-new-tool'/);
    assert.match(readFileSync(`${dir}/test/my-new-tool.test.ts`, 'utf8'), /testTool/);
    const again = await runCli(['init', dir]);
    assert.equal(again.code, 1);
    assert.match(again.json.error.message, /already exist.*--force/);
  });

  it('exits non-zero with a one-line reason on a bad command line', async () => {
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.json.error.message, /unknown command "frobnicate"/);
    const badFlag = await runCli(['build', '--colour']);
    assert.equal(badFlag.code, 1);
    assert.match(badFlag.json.error.message, /Unknown option '--colour'/);
  });

  it('verify reports a bundle the sandbox cannot load, with the sandbox reason', async () => {
    const fixture = project({ 'src/index.ts': ADDER_TOOL });
    const built = await runCli(['build', '--project', fixture.dir]);
    // A bundle edited by hand (and re-hashed) to import a module: the sandbox's module resolution is closed.
    const code = `import fs from 'node:fs';\n${readFileSync(built.json.bundle, 'utf8')}`;
    writeFileSync(built.json.bundle, code);
    const manifest = JSON.parse(readFileSync(built.json.manifest, 'utf8'));
    manifest.bundleSha256 = createHash('sha256').update(code).digest('hex');
    writeFileSync(built.json.manifest, JSON.stringify(manifest));
    const result = await runCli(['verify', built.json.bundle]);
    assert.equal(result.code, 1);
    assert.equal(result.json.error.code, 'INVALID_ARGUMENT');
    assert.match(result.json.error.message, /node:fs/);
  });
});
