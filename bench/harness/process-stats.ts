// CPU time and resident memory of this process and of child processes (by pid, CPU with their descendants),
// read from /proc so a multi-process row can say where its CPU went.
import { readdirSync, readFileSync } from 'node:fs';

// Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel.
const TICKS_PER_SECOND = 100;

interface ProcStat {
  ppid: number;
  /** utime + stime + cutime + cstime: its own CPU and that of its exited, reaped children. */
  ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; the name itself may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]) };
  } catch {
    return undefined;
  }
}

/** Every live process under `root` (children, grandchildren, ...). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(pid);
    children.set(stat.ppid, list);
  }
  const found: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    found.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

/**
 * User + system CPU milliseconds a process has used so far; NaN if it is gone.
 * Another process's figure includes its descendants (tool-sandbox's isolate
 * workers run every tool call): the live ones, and through cutime/cstime the
 * ones that exited and were reaped, so a difference of two readings counts
 * every child's CPU in between exactly once. This process's own figure does
 * not include its children (the services a row starts are measured apart).
 */
export function cpuTimeMs(pid: number = process.pid): number {
  if (pid === process.pid) {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  }
  const own = readStat(pid);
  if (!own) return Number.NaN;
  let ticks = own.ticks;
  for (const child of descendants(pid)) ticks += readStat(child)?.ticks ?? 0;
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** Resident set size in bytes; NaN if the process is gone. */
export function rssBytes(pid: number = process.pid): number {
  if (pid === process.pid) return process.memoryUsage.rss();
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU used by each named process between start() and stop(). */
export class CpuMeter {
  private readonly start: Map<string, number>;

  constructor(private readonly pids: Record<string, number>) {
    this.start = new Map(Object.entries(pids).map(([name, pid]) => [name, cpuTimeMs(pid)]));
  }

  /** Milliseconds of CPU per process name since construction. */
  stop(): Record<string, number> {
    const used: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) used[name] = cpuTimeMs(pid) - this.start.get(name)!;
    return used;
  }
}

/** Samples RSS of the named processes at an interval and keeps the peaks. */
export class RssSampler {
  private readonly peaks: Record<string, number> = {};
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pids: Record<string, number>, intervalMs = 50) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    for (const [name, pid] of Object.entries(this.pids)) {
      const rss = rssBytes(pid);
      if (!(rss <= (this.peaks[name] ?? 0))) this.peaks[name] = rss;
    }
  }

  /** Peak RSS per process name, in bytes. */
  stop(): Record<string, number> {
    clearInterval(this.timer);
    this.sample();
    return { ...this.peaks };
  }
}
