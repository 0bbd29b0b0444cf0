// A full garbage collection before each measurement, so one row does not pay
// for the heap an earlier row left behind (an in-process store holding
// hundreds of MB of rows, the non-durable executor's kept runs): rows are
// judged by CPU per step, and collecting someone else's garbage is not theirs.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export function settleHeap(): void {
  gc();
}
