// The contract every suite module (bench/<suite>/index.ts) implements.

/** Options the harness passes to a suite; suites may ignore what they do not use. */
export interface SuiteOptions {
  /** Tiny iteration counts: proves the suite runs, measures nothing. */
  quick: boolean;
  /** Wall time the suite should stay within; the harness kills it past a grace period. */
  budgetMs?: number;
  /** Only these rows (by id), when the suite supports choosing. */
  rows?: string[];
}

export type Row = Record<string, string | number>;

export interface SuiteResult {
  suite: string;
  rows: Row[];
  notes: string[];
}

export type SuiteModule = { run(opts: SuiteOptions): Promise<SuiteResult> };
