import readline from 'node:readline';

/**
 * Lines from stdin, one prompt at a time. readline's question() drops lines
 * that arrive while no question is pending (a piped script of messages), so
 * lines are queued here and handed out in order.
 */
export class LineReader {
  private readonly rl: readline.Interface;
  private readonly lines: string[] = [];
  private waiting: ((line: string | undefined) => void) | undefined;
  private closed = false;

  constructor(input: NodeJS.ReadableStream = process.stdin, private readonly output: NodeJS.WritableStream = process.stderr) {
    this.rl = readline.createInterface({ input, output, terminal: Boolean((input as { isTTY?: boolean }).isTTY) });
    this.rl.on('line', (line) => {
      if (this.waiting) {
        const resolve = this.waiting;
        this.waiting = undefined;
        resolve(line);
      } else {
        this.lines.push(line);
      }
    });
    this.rl.on('close', () => {
      this.closed = true;
      this.waiting?.(undefined);
      this.waiting = undefined;
    });
  }

  /** The next line after showing the prompt, or undefined at end of input (Ctrl-D, closed pipe). */
  ask(prompt: string): Promise<string | undefined> {
    this.output.write(prompt);
    if (this.lines.length > 0) return Promise.resolve(this.lines.shift());
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  close(): void {
    this.rl.close();
  }
}
