// Stand-in for @elixirchain/runtime's Supervisor until it lands; same shape
// (one-for-one, restart intensity), replaced by the real one.
import { EventEmitter } from 'node:events';

export interface SupervisedChild {
  exited: Promise<unknown>;
  stop(): Promise<unknown>;
}

export interface ChildSpec {
  id: string;
  start(): Promise<SupervisedChild>;
}

export class Supervisor extends EventEmitter {
  private readonly children = new Map<string, { spec: ChildSpec; child?: SupervisedChild; restarts: number[] }>();
  private stopping = false;

  constructor(private readonly intensity: { maxRestarts: number; periodMs: number }) {
    super();
  }

  async startChild(spec: ChildSpec): Promise<void> {
    const slot = { spec, child: undefined as SupervisedChild | undefined, restarts: [] as number[] };
    this.children.set(spec.id, slot);
    slot.child = await spec.start();
    this.watch(spec.id);
  }

  private watch(id: string): void {
    const slot = this.children.get(id)!;
    const child = slot.child!;
    void child.exited.then(async (exit) => {
      if (this.stopping || slot.child !== child) return;
      for (;;) {
        const now = Date.now();
        slot.restarts = slot.restarts.filter((t) => now - t < this.intensity.periodMs);
        if (slot.restarts.length >= this.intensity.maxRestarts) {
          this.emit('giveUp', id, exit);
          return;
        }
        slot.restarts.push(now);
        this.emit('restarting', id, exit);
        try {
          slot.child = await slot.spec.start();
          if (this.stopping) {
            await slot.child.stop();
            return;
          }
          this.emit('restarted', id);
          this.watch(id);
          return;
        } catch (err) {
          exit = err;
        }
      }
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const id of [...this.children.keys()].reverse()) await this.children.get(id)!.child?.stop();
  }
}
