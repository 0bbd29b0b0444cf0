import { REPLICA_FORWARDS, RPC_ROLES, SERVICE_CALLS } from './rpc-roles.js';

/** The role table as Markdown, as the README shows it (a test keeps the two equal). */
export function roleTableMarkdown(): string {
  const lines = ['| RPC | admin | developer | user | service (which) |', '|---|---|---|---|---|'];
  for (const [rpc, roles] of Object.entries(RPC_ROLES)) {
    const services = [
      ...Object.entries(SERVICE_CALLS).filter(([, calls]) => calls.includes(rpc)).map(([name]) => name),
      ...Object.entries(REPLICA_FORWARDS).filter(([, calls]) => calls.includes(rpc)).map(([name]) => `${name} (forwarding)`),
    ];
    const mark = (allowed: boolean) => (allowed ? '✓' : '');
    lines.push(`| \`${rpc.replace(/^elixirchain\./, '')}\` | ✓ | ${mark(roles.includes('developer'))} | ${mark(roles.includes('user'))} | ${roles.includes('service') ? services.join(', ') : ''} |`);
  }
  return lines.join('\n');
}
