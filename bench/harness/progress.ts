// Progress lines on stderr (stdout stays free for results), stamped with the
// time since the bench started so a slow step is obvious.
const startedAt = Number(process.env.ELIXIRCHAIN_BENCH_STARTED_AT) || Date.now();
process.env.ELIXIRCHAIN_BENCH_STARTED_AT ??= String(startedAt);

export function progress(message: string): void {
  if (process.env.ELIXIRCHAIN_BENCH_QUIET === '1') return;
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${seconds}s] ${message}\n`);
}
