import type { Agent } from '@elixirchain/proto/agent';
import { errors } from '@elixirchain/runtime';
import type { ModelProvider } from './model-provider.js';
import { OpenAIModelProvider } from './openai-model-provider.js';
import { ScriptedModelProvider } from './scripted-model-provider.js';
import { RetryingModelProvider } from './retrying-model-provider.js';
import { CircuitBreakerRegistry } from './circuit-breaker.js';
import type { RetryPolicy } from './retry-policy.js';

export interface ModelProviderSettings {
  openaiApiKey?: string;
  openaiBaseUrl?: string;
  retry?: RetryPolicy;
}

/** Picks each agent's provider: its ModelConfig.provider, else OpenAI when a key is set, else scripted. */
export class ModelProviderFactory {
  private readonly scripted = new ScriptedModelProvider();
  private readonly breakers = new CircuitBreakerRegistry();
  private openai: OpenAIModelProvider | undefined;

  constructor(private readonly settings: ModelProviderSettings = {}) {}

  providerFor(agent: Agent): ModelProvider {
    const wanted = agent.model?.provider || (this.settings.openaiApiKey ? 'openai' : 'scripted');
    if (wanted === 'openai') {
      if (!this.settings.openaiApiKey) throw errors.failedPrecondition('MODEL_NOT_CONFIGURED', `agent ${agent.id} uses the openai provider but OPENAI_API_KEY is not set`);
      this.openai ??= new OpenAIModelProvider({ apiKey: this.settings.openaiApiKey, baseURL: this.settings.openaiBaseUrl, breakers: this.breakers, retry: this.settings.retry });
      return this.openai;
    }
    // Scripted errors retry like HTTP ones, so scripts exercise the same policy.
    return new RetryingModelProvider(ScriptedModelProvider.forConfig(agent.model, this.scripted), this.settings.retry ?? { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 200, multiplier: 2 });
  }
}
