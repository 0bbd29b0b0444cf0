// OpenAI-compatible embeddings (OpenAI, vLLM, Ollama, LM Studio…) through the
// official `openai` package. Retries are the SDK's declared policy: 429, 408,
// 409 and 5xx are retried with exponential backoff and jitter, honouring
// Retry-After / retry-after-ms; other errors fail at once. Inputs are sent in
// batches of `batchSize`. The API key never appears in ids, errors or logs.
import OpenAI from 'openai';
import type { Embedder } from './embedder.js';

export interface OpenAiEmbedderOptions {
  apiKey?: string;
  baseURL?: string;
  /** Default: OPENAI_EMBEDDING_MODEL or text-embedding-3-small. */
  model?: string;
  /** Ask the model for this many dimensions (text-embedding-3-* support it). */
  dimensions?: number;
  batchSize?: number;
  maxRetries?: number;
  timeoutMs?: number;
}

export class EmbedderError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined) {
    super(message);
    this.name = 'EmbedderError';
    this.status = status;
  }
}

export class OpenAiEmbedder implements Embedder {
  readonly id: string;
  dimensions: number | undefined;
  private readonly client: OpenAI;
  private readonly model: string;
  private readonly requestedDimensions: number | undefined;
  private readonly batchSize: number;

  constructor(options: OpenAiEmbedderOptions = {}) {
    const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY;
    if (!apiKey) throw new Error('OpenAiEmbedder needs an API key (OPENAI_API_KEY)');
    this.model = options.model ?? process.env.OPENAI_EMBEDDING_MODEL ?? 'text-embedding-3-small';
    this.requestedDimensions = options.dimensions;
    this.dimensions = options.dimensions;
    this.batchSize = options.batchSize ?? 256;
    this.id = `openai:${this.model}${options.dimensions ? `:d${options.dimensions}` : ''}`;
    this.client = new OpenAI({
      apiKey,
      baseURL: options.baseURL ?? process.env.OPENAI_BASE_URL,
      maxRetries: options.maxRetries ?? 4,
      timeout: options.timeoutMs ?? 30_000,
    });
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      const batch = texts.slice(start, start + this.batchSize);
      let response: OpenAI.Embeddings.CreateEmbeddingResponse;
      try {
        response = await this.client.embeddings.create(
          {
            model: this.model,
            input: batch,
            encoding_format: 'float',
            ...(this.requestedDimensions ? { dimensions: this.requestedDimensions } : {}),
          },
          { signal },
        );
      } catch (error) {
        // Rebuild the error from status and a short message: SDK errors can carry request headers.
        const status = error instanceof OpenAI.APIError ? error.status : undefined;
        const reason = error instanceof OpenAI.APIError ? `HTTP ${status ?? 'error'}` : (error as Error).name;
        throw new EmbedderError(`embedding request to ${this.id} failed: ${reason}`, status);
      }
      const vectors = new Array<Float32Array>(batch.length);
      for (const item of response.data) vectors[item.index] = Float32Array.from(item.embedding);
      for (let i = 0; i < batch.length; i++) {
        if (!vectors[i]) throw new EmbedderError(`embedding response from ${this.id} is missing input ${start + i}`, undefined);
        if (this.dimensions === undefined) this.dimensions = vectors[i].length;
        if (vectors[i].length !== this.dimensions) {
          throw new EmbedderError(`embedding response from ${this.id} changed dimensions`, undefined);
        }
      }
      out.push(...vectors);
    }
    return out;
  }
}
