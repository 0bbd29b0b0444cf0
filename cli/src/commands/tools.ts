import { randomUUID } from 'node:crypto';
import { toolStateToJSON, type Tool } from '@elixirchain/proto/sandbox';
import { ElixirError, GrpcCode, fromRpcStatus } from '@elixirchain/runtime';
import { DefinitionError, parseJsonArgument } from '../definitions/definition-file.js';
import type { Output } from '../output/output.js';
import { withClients } from './agents.js';

export async function toolsList(out: Output, opts: { allVersions?: boolean; name?: string }): Promise<void> {
  await withClients(async (c) => {
    const tools: Tool[] = [];
    let pageToken = '';
    do {
      const res = await c.tools().listTools({ pageSize: 100, pageToken, allVersions: opts.allVersions ?? false, name: opts.name ?? '' });
      tools.push(...res.tools);
      pageToken = res.nextPageToken;
    } while (pageToken);
    out.result({ tools }, () =>
      out.table(
        tools.map((t) => ({
          name: t.manifest?.name,
          version: t.manifest?.version,
          state: toolStateToJSON(t.state).replace(/^TOOL_STATE_/, '').toLowerCase(),
          missing: describePermissions(t.missingPermissions),
          description: t.manifest?.description,
        })),
        ['name', 'version', 'state', 'missing', 'description'],
      ),
    );
  });
}

export async function toolsInvoke(out: Output, name: string, opts: { input?: string; version?: string; timeout?: number }): Promise<number> {
  const input = parseJsonArgument('--input', opts.input, {});
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new DefinitionError('--input must be a JSON object');
  return withClients(async (c) => {
    const timeout = opts.timeout ? { seconds: Math.floor(opts.timeout), nanos: Math.round((opts.timeout % 1) * 1e9) } : undefined;
    let failed: ElixirError | undefined;
    let result: unknown;
    try {
      for await (const res of c.tools().invokeTool({ name, version: opts.version ?? '', input: input as Record<string, unknown>, callId: randomUUID(), timeout })) {
        out.event(res);
        const e = res.event;
        if (!e || out.json) continue;
        if (e.$case === 'started') out.note(`started ${qualified(name, e.started.toolVersion)}${e.started.attempt > 1 ? ` (attempt ${e.started.attempt})` : ''}`);
        else if (e.$case === 'progress') out.note(`  ${e.progress.fraction >= 0 ? `${Math.round(e.progress.fraction * 100)}%` : '…'} ${e.progress.message}`);
        else if (e.$case === 'log') out.note(`  [${e.log.level}] ${e.log.message}`);
        else if (e.$case === 'error') {
          if (e.error.willRetry) out.note(`  attempt ${e.error.attempt} failed: ${e.error.status?.message}; retrying`);
          else if (e.error.status) failed = fromRpcStatus(e.error.status);
        } else if (e.$case === 'result') {
          result = e.result.output;
          const d = e.result.duration;
          out.line(JSON.stringify(result, null, 2));
          out.note(`(${qualified(name, e.result.toolVersion)}, ${e.result.attempts} attempt${e.result.attempts === 1 ? '' : 's'}${d ? `, ${Math.round(d.seconds * 1000 + d.nanos / 1e6)} ms` : ''})`);
        }
      }
    } catch (err) {
      // The stream ends with the failure's status; its error event carried the details.
      throw failed ?? err;
    }
    if (failed) throw failed;
    return 0;
  });
}

export async function toolsGrant(out: Output, name: string, opts: { host?: string[]; secret?: string[] }): Promise<void> {
  if (!opts.host?.length && !opts.secret?.length) throw new DefinitionError('grant what? give --host <name> and/or --secret <name>');
  await withClients(async (c) => {
    const res = await c.tools().grantTool({ toolName: name, permissions: { networkHosts: opts.host ?? [], secrets: opts.secret ?? [] }, requestId: randomUUID() });
    out.result(res, () => {
      out.line(`granted ${name}: ${describePermissions(res.grant?.permissions) || '(nothing)'}`);
      for (const t of res.activated) out.line(`  activated ${t.manifest?.name}@${t.manifest?.version}`);
    });
  }).catch((err: unknown) => {
    if (ElixirError.is(err, GrpcCode.NOT_FOUND)) throw new ElixirError(err.code, err.reason, `${err.message} (see \`elixirchain tools list\`)`);
    throw err;
  });
}

/** The sandbox reports versions as "name@1.2.3" or "1.2.3". */
function qualified(name: string, version: string): string {
  return version.includes('@') ? version : `${name}@${version}`;
}

function describePermissions(p: { networkHosts: string[]; secrets: string[] } | undefined): string {
  if (!p) return '';
  return [...p.networkHosts.map((h) => `host:${h}`), ...p.secrets.map((s) => `secret:${s}`)].join(' ');
}
