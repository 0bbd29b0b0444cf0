// Embedders turn text into vectors. A namespace records the id of the
// embedder that filled it; every later upsert and text query on it must use
// the same embedder, or the vectors would not be comparable.

export interface Embedder {
  /** Stable id recorded on namespaces, e.g. "hashed-ngram-v1" or "openai:text-embedding-3-small". */
  readonly id: string;
  /** Output dimensions when known before the first call. */
  readonly dimensions: number | undefined;
  /** One vector per text, in order. */
  embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]>;
}
