import type { Chain } from '@elixirchain/proto/chain';
import { errors } from '@elixirchain/runtime';
import type { AgentStepRunner, ToolStepRunner } from '../execution/step-runners.js';
import { InvalidPageTokenError } from '../storage/page-token.js';
import { ChainExistsError, ChainNotFoundError, ChainRepository, ChainVersionMismatchError, UPDATABLE_CHAIN_FIELDS } from './chain-repository.js';
import { validateChain } from './chain-validator.js';
import type { ChainReference, FieldViolation } from './chain-validator.js';
import { boundedText, quoteInput } from './quote-input.js';

/**
 * Chain definitions as the API sees them: validated on create and update
 * (INVALID_ARGUMENT with a field violation per problem), versioned, and
 * checked against the live tool registry and agent directory. A missing tool
 * or agent is a warning, not an error: chains are often deployed before the
 * tools they call, and a tool can be deleted after the chain exists anyway,
 * so the step fails with NOT_FOUND at run time either way.
 */
export class ChainDefinitions {
  constructor(
    readonly repository: ChainRepository,
    private readonly tools: ToolStepRunner,
    private readonly agents: AgentStepRunner,
  ) {}

  async create(chain: Chain, requestId: string): Promise<{ chain: Chain; warnings: string[] }> {
    const { violations, references } = validateChain(chain, { requireId: false });
    if (violations.length > 0) throw invalidChain(violations);
    const warnings = await this.checkReferences(references);
    try {
      return { chain: await this.repository.create(chain, requestId), warnings };
    } catch (error) {
      throw mapError(error);
    }
  }

  async get(id: string, version: number): Promise<Chain> {
    if (id === '') throw errors.invalidArgument('id', 'is required');
    if (version < 0) throw errors.invalidArgument('version', 'must not be negative');
    try {
      return await this.repository.get(id, version);
    } catch (error) {
      throw mapError(error);
    }
  }

  async list(pageSize: number, pageToken: string): Promise<{ chains: Chain[]; nextPageToken: string }> {
    if (pageSize < 0) throw errors.invalidArgument('page_size', 'must not be negative');
    try {
      return await this.repository.list(Math.min(pageSize || 50, 500), pageToken);
    } catch (error) {
      throw mapError(error);
    }
  }

  async update(chain: Chain, updateMask: string[], expectedVersion: number | undefined): Promise<{ chain: Chain; warnings: string[] }> {
    if (chain.id === '') throw errors.invalidArgument('chain.id', 'is required');
    const unknown = updateMask.findIndex((f) => !UPDATABLE_CHAIN_FIELDS.includes(f));
    if (unknown >= 0) throw errors.invalidArgument(`update_mask.paths[${unknown}]`, `${quoteInput(updateMask[unknown]!)} cannot be updated; updatable: ${UPDATABLE_CHAIN_FIELDS.join(', ')}`);
    const touchesRoot = updateMask.length === 0 || updateMask.includes('root');
    let warnings: string[] = [];
    if (touchesRoot) {
      const { violations, references } = validateChain(chain, { requireId: true });
      if (violations.length > 0) throw invalidChain(violations);
      warnings = await this.checkReferences(references);
    }
    try {
      return { chain: await this.repository.update(chain.id, chain, updateMask, expectedVersion), warnings };
    } catch (error) {
      throw mapError(error);
    }
  }

  async delete(id: string): Promise<boolean> {
    if (id === '') throw errors.invalidArgument('id', 'is required');
    return this.repository.delete(id);
  }

  private async checkReferences(references: ChainReference[]): Promise<string[]> {
    const seen = new Set<string>();
    const unique = references.filter((r) => !seen.has(`${r.kind}:${r.name}:${r.version}`) && seen.add(`${r.kind}:${r.name}:${r.version}`));
    const warnings = await Promise.all(
      unique.map(async (r) => {
        try {
          if (r.kind === 'tool') {
            const tool = await this.tools.describe(r.name, r.version);
            return tool ? undefined : `chain.${r.field}: tool ${quoteInput(r.name)}${r.version ? ` (${quoteInput(r.version)})` : ''} is not registered; the step will fail with NOT_FOUND unless it is registered before it runs`;
          }
          const exists = await this.agents.exists(r.name);
          return exists === false ? `chain.${r.field}: agent ${quoteInput(r.name)} does not exist; the step will fail with NOT_FOUND unless it is created before it runs` : undefined;
        } catch {
          return `chain.${r.field}: could not check ${r.kind} ${quoteInput(r.name)} (its service did not answer)`;
        }
      }),
    );
    return warnings.filter((w): w is string => w !== undefined);
  }
}

const MAX_VIOLATIONS = 20;

/** INVALID_ARGUMENT for a chain: the first violations (a status must stay small), each bounded. */
function invalidChain(violations: FieldViolation[]) {
  const shown = violations.slice(0, MAX_VIOLATIONS).map((v) => ({ field: `chain.${boundedText(v.field, 200)}`, description: boundedText(v.description) }));
  if (violations.length > MAX_VIOLATIONS) shown.push({ field: 'chain', description: `and ${violations.length - MAX_VIOLATIONS} more problems` });
  return errors.invalidArguments(shown, 'INVALID_CHAIN');
}

function mapError(error: unknown): unknown {
  if (error instanceof ChainNotFoundError) return errors.notFound('chain', error.version ? `${error.chainId}@${error.version}` : error.chainId);
  if (error instanceof ChainExistsError) return errors.alreadyExists('chain', error.chainId);
  if (error instanceof ChainVersionMismatchError) {
    return errors.aborted('VERSION_CONFLICT', error.message, { currentVersion: String(error.currentVersion), expectedVersion: String(error.expectedVersion) });
  }
  if (error instanceof InvalidPageTokenError) return errors.invalidArgument('page_token', error.message);
  return error;
}
