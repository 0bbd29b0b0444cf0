/** A tool that cannot become a sandbox bundle; `problems` lists each reason with its source location. */
export class BundleError extends Error {
  override readonly name = 'BundleError';
  readonly problems: string[];

  constructor(summary: string, problems: string[] = []) {
    super(problems.length > 0 ? `${summary}: ${problems.join('; ')}` : summary);
    this.problems = problems;
  }
}
