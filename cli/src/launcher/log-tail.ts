import fs from 'node:fs';

/** The last lines of a service's log, to explain a crash without opening the file. */
export function tailLines(file: string, count: number): string[] {
  let text: string;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(length);
      fs.readSync(fd, buf, 0, length, size - length);
      text = buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => line.trim() !== '').slice(-count).map(describeLogLine);
}

// pino lines are JSON: show level and message, which is what explains a crash.
function describeLogLine(line: string): string {
  try {
    const entry = JSON.parse(line) as { level?: number | string; msg?: string; err?: { message?: string } };
    const level = typeof entry.level === 'number' ? (({ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }) as Record<number, string>)[entry.level] : entry.level;
    const error = entry.err?.message ? ` (${entry.err.message})` : '';
    return `${level ?? 'log'}: ${entry.msg ?? ''}${error}`.slice(0, 300);
  } catch {
    return line.slice(0, 300);
  }
}
