import assert from 'node:assert/strict';
import { Supervisor, until } from '../src/index.js';
import type { ExitReason, Supervised } from '../src/index.js';

/** A child that exits when told to, like a process that crashes. */
function fakeChild() {
  let exit!: (reason: ExitReason) => void;
  const exited = new Promise<ExitReason>((resolve) => (exit = resolve));
  const child: Supervised & { crash(): void } = {
    exited,
    stop: async () => exit({ normal: true }),
    crash: () => exit({ normal: false, error: new Error('boom') }),
  };
  return child;
}

describe('Supervisor (one-for-one)', () => {
  it('restarts a crashed child and leaves its siblings alone', async () => {
    const sup = new Supervisor({ intensity: { maxRestarts: 3, periodMs: 10_000 }, restartDelayMs: () => 1 });
    const starts: Record<string, number> = { a: 0, b: 0 };
    const children: Record<string, ReturnType<typeof fakeChild>> = {};
    for (const id of ['a', 'b']) {
      await sup.startChild({ id, start: () => { starts[id]! += 1; return (children[id] = fakeChild()); } });
    }
    const firstB = children.b;
    children.a!.crash();
    await until('restart of a', () => starts.a === 2, 2_000);
    assert.equal(starts.b, 1);
    assert.equal(children.b, firstB);
    assert.equal(sup.info('a')?.status, 'running');
    assert.equal(sup.info('a')?.restarts, 1);
    await sup.stop();
  });

  it('gives up after the restart intensity is exceeded and reports it', async () => {
    const sup = new Supervisor({ intensity: { maxRestarts: 2, periodMs: 10_000 }, restartDelayMs: () => 1 });
    let current = fakeChild();
    let starts = 0;
    const gaveUp = new Promise<[string, number]>((resolve) => sup.on('gaveUp', (id, _reason, n) => resolve([id, n])));
    await sup.startChild({ id: 'flaky', start: () => { starts += 1; return (current = fakeChild()); } });
    for (let crash = 0; crash < 3; crash++) {
      const before = starts;
      current.crash();
      if (crash < 2) await until(`restart ${crash + 1}`, () => starts === before + 1, 2_000);
    }
    const [id, restarts] = await gaveUp;
    assert.equal(id, 'flaky');
    assert.equal(restarts, 2);
    assert.equal(starts, 3);
    assert.equal(sup.info('flaky')?.status, 'failed');
    await sup.stop();
  });

  it('does not restart a transient child that exits normally, nor a temporary one at all', async () => {
    const sup = new Supervisor({ restartDelayMs: () => 1 });
    let transientStarts = 0;
    let temporaryStarts = 0;
    const t = await sup.startChild({ id: 't', restart: 'transient', start: () => { transientStarts += 1; return fakeChild(); } });
    const tmp = await sup.startChild({ id: 'tmp', restart: 'temporary', start: () => { temporaryStarts += 1; return fakeChild(); } });
    await t.stop();
    (tmp as ReturnType<typeof fakeChild>).crash();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(transientStarts, 1);
    assert.equal(temporaryStarts, 1);
    await sup.stop();
  });
});
