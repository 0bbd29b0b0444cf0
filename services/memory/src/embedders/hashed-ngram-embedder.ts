// The offline default: a deterministic, purely LEXICAL embedder. It hashes
// character n-grams (3- to 5-grams of each word, padded with spaces) and whole
// words into a fixed number of signed buckets and L2-normalises the result.
// Texts that share spelling score high; synonyms and paraphrases do not — it
// is not a semantic model. It needs no key, no network and no weights, and
// gives the same vector for the same text on every machine.
import type { Embedder } from './embedder.js';

export interface HashedNgramOptions {
  dimensions?: number;
  minN?: number;
  maxN?: number;
}

export const HASHED_NGRAM_ID = 'hashed-ngram-v1';

// FNV-1a over UTF-16 code units, 32-bit; deterministic across platforms.
function fnv1a(text: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class HashedNgramEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  private readonly minN: number;
  private readonly maxN: number;

  constructor(options: HashedNgramOptions = {}) {
    this.dimensions = options.dimensions ?? 384;
    this.minN = options.minN ?? 3;
    this.maxN = options.maxN ?? 5;
    if (!Number.isInteger(this.dimensions) || this.dimensions < 8 || this.dimensions > 16384) {
      throw new RangeError('HashedNgramEmbedder dimensions must be an integer in [8, 16384]');
    }
    // The id names every parameter that changes the vectors.
    this.id =
      this.dimensions === 384 && this.minN === 3 && this.maxN === 5
        ? HASHED_NGRAM_ID
        : `${HASHED_NGRAM_ID}:d${this.dimensions}:n${this.minN}-${this.maxN}`;
  }

  embedOne(text: string): Float32Array {
    const out = new Float32Array(this.dimensions);
    const normalized = text.normalize('NFKC').toLowerCase();
    let words = normalized.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    // Text without letters or digits (emoji, punctuation) is one "word" as is.
    if (words.length === 0 && normalized.trim() !== '') words = [normalized.trim()];
    const add = (feature: string, weight: number) => {
      const h = fnv1a(feature, 0);
      const sign = (fnv1a(feature, 0x9e3779b9) & 1) === 0 ? 1 : -1;
      out[h % this.dimensions] += sign * weight;
    };
    for (const word of words) {
      add(`w:${word}`, 1);
      const padded = ` ${word} `;
      for (let n = this.minN; n <= this.maxN; n++) {
        for (let i = 0; i + n <= padded.length; i++) add(padded.slice(i, i + n), 1 / n);
      }
    }
    let norm = 0;
    for (let i = 0; i < out.length; i++) norm += out[i] * out[i];
    if (norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let i = 0; i < out.length; i++) out[i] *= inv;
    }
    return out;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i++) {
      // Long batches yield now and then so the event loop keeps serving calls.
      if (i > 0 && i % 256 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      out.push(this.embedOne(texts[i]));
    }
    return out;
  }
}
