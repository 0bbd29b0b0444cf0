// CPU time and resident memory of this process and of child processes (by pid, CPU with their descendants),
// read from /proc so a multi-process row can say where its CPU went.
import { readdirSync, readFileSync } from 'node:fs';

// Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel.
const TICKS_PER_SECOND = 100;

interface ProcStat {
  ppid: number;
  /** utime + stime: its own CPU. */
  ownTicks: number;
  /** cutime + cstime: the CPU of its exited, reaped children. */
  reapedTicks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; the name itself may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ownTicks: Number(fields[11]) + Number(fields[12]), reapedTicks: Number(fields[13]) + Number(fields[14]) };
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
  const { own, children } = cpuTimesMs(pid);
  return own + children;
}

/** cpuTimeMs split: the process itself, and its descendants (live, and exited and reaped). */
export function cpuTimesMs(pid: number = process.pid): { own: number; children: number } {
  if (pid === process.pid) {
    const { user, system } = process.cpuUsage();
    return { own: (user + system) / 1000, children: 0 };
  }
  const own = readStat(pid);
  if (!own) return { own: Number.NaN, children: Number.NaN };
  let children = own.reapedTicks;
  for (const child of descendants(pid)) {
    const stat = readStat(child);
    if (stat) children += stat.ownTicks + stat.reapedTicks;
  }
  return { own: (own.ownTicks * 1000) / TICKS_PER_SECOND, children: (children * 1000) / TICKS_PER_SECOND };
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

/** CPU used by each named process (with its descendants) between start() and stop(). */
export class CpuMeter {
  private readonly start: Map<string, { own: number; children: number }>;
  private childrenUsed: Record<string, number> = {};

  constructor(private readonly pids: Record<string, number>) {
    this.start = new Map(Object.entries(pids).map(([name, pid]) => [name, cpuTimesMs(pid)]));
  }

  /** Milliseconds of CPU per process name since construction, descendants included. */
  stop(): Record<string, number> {
    const used: Record<string, number> = {};
    this.childrenUsed = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const now = cpuTimesMs(pid);
      const start = this.start.get(name)!;
      this.childrenUsed[name] = now.children - start.children;
      used[name] = now.own + now.children - start.own - start.children;
    }
    return used;
  }

  /** After stop(): the part of each process's figure that its descendants used. */
  children(): Record<string, number> {
    return { ...this.childrenUsed };
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
