// The files `elixirchain-tool init` writes: a project that installs, tests,
// builds and publishes as it is.

export interface TemplateOptions {
  toolName: string;
  sdkVersion: string;
  zodRange: string;
}

export function templatePackageJson(options: TemplateOptions): Record<string, unknown> {
  return {
    name: options.toolName,
    version: '1.0.0',
    private: true,
    type: 'module',
    description: 'An ElixirChain tool',
    engines: { node: '>=24' },
    elixirchain: { entry: 'src/index.ts' },
    scripts: {
      test: 'elixirchain-tool test',
      build: 'elixirchain-tool build',
      typecheck: 'tsc',
      'publish-tool': 'elixirchain-tool publish',
    },
    dependencies: {
      '@elixirchain/plugin-sdk': `^${options.sdkVersion}`,
      zod: options.zodRange,
    },
    // Only for editors and `npm run typecheck`: Node 24 runs the TypeScript as it is.
    devDependencies: {
      '@types/node': '^24.0.0',
      typescript: '^6.0.0',
    },
  };
}

export const TEMPLATE_TSCONFIG = `{
  // Node 24 runs these TypeScript files as they are (type stripping); tsc only checks them.
  "compilerOptions": {
    "target": "ES2024",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "noEmit": true,
    "allowImportingTsExtensions": true,
    "verbatimModuleSyntax": true,
    "erasableSyntaxOnly": true,
    "skipLibCheck": true
  },
  "include": ["src", "test"]
}
`;

export const TEMPLATE_GITIGNORE = `node_modules/
dist/
*.tool.json
`;

export function templateTool(options: TemplateOptions): string {
  return `import { z } from 'zod';
import { defineTool } from '@elixirchain/plugin-sdk';

// A tool is one module whose default export is defineTool(...). It runs in a
// V8 isolate: no Node APIs, only what \`ctx\` offers (fetch, secrets, progress, log).
export default defineTool({
  name: '${options.toolName}',
  version: '1.0.0',
  description: 'Counts the words, characters and sentences of a text, and finds its longest word.',
  input: z.object({
    text: z.string().max(100_000).describe('The text to analyse'),
  }),
  output: z.object({
    words: z.number().int(),
    characters: z.number().int(),
    sentences: z.number().int(),
    longestWord: z.string(),
  }),
  annotations: { readOnly: true, idempotent: true },
  limits: { memoryMb: 32, timeoutMs: 2000 },
  execute({ text }, ctx) {
    const words = text.split(/\\s+/).filter((word) => word.length > 0);
    ctx.progress(0.5, \`counted \${words.length} words\`);
    const longestWord = words
      .map((word) => word.replace(/[^\\p{L}\\p{N}'-]/gu, ''))
      .reduce((longest, word) => (word.length > longest.length ? word : longest), '');
    return {
      words: words.length,
      characters: text.length,
      sentences: text.split(/[.!?]+/).filter((part) => part.trim().length > 0).length,
      longestWord,
    };
  },
});
`;
}

export function templateTest(options: TemplateOptions): string {
  return `import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testTool, type ToolUnderTest } from '@elixirchain/plugin-sdk/testing';
import type tool from '../src/index.ts';

// testTool() builds src/index.ts exactly as \`elixirchain-tool build\` does and
// runs it in the production sandbox engine, with the limits and permissions
// the tool declares: what passes here behaves the same once published.
describe('${options.toolName}', () => {
  let sandboxed: ToolUnderTest<typeof tool>;
  before(async () => {
    sandboxed = await testTool<typeof tool>();
  });
  after(() => sandboxed.close());

  it('counts words, characters and sentences', async () => {
    const { output, events } = await sandboxed.invoke({ text: 'The quick brown fox. It jumps!' });
    assert.deepEqual(output, { words: 6, characters: 30, sentences: 2, longestWord: 'quick' });
    assert.ok(events.some((event) => event.type === 'progress'));
  });

  it('refuses input that does not match the schema, as production does', async () => {
    await assert.rejects(sandboxed.invoke({ text: 42 } as never), { code: 'INVALID_ARGUMENT' });
  });
});
`;
}

export function templateReadme(options: TemplateOptions): string {
  return `# ${options.toolName}

An ElixirChain tool, made with \`@elixirchain/plugin-sdk\`.

\`\`\`sh
npm install
npm test                                   # runs test/ against the real sandbox engine
npm run build                              # dist/${options.toolName}-1.0.0.bundle.mjs + .manifest.json
npx elixirchain-tool publish --target 127.0.0.1:50053
npx elixirchain-tool invoke ${options.toolName} --input '{"text":"hello world"}' --target 127.0.0.1:50053
\`\`\`
`;
}
