// What one parallel kernel call costs the thread pool (src/threads.ts): the same tiny kernel
// (act_forward on 16 floats, so the work itself is ~nothing) through ThreadPool with N threads and
// through the single-thread KernelRunner, back to back (the workers still spinning) and after a
// 2 ms pause each time (the workers asleep in Atomics.wait, so the call pays the wake-up).
// Returns µs per call, medians of 7 samples. Node only (the main thread Atomics.waits for the pause).
import { loadKernels } from '../../dist/node.js';
import { ThreadPool, KernelRunner, PARALLEL } from '../../dist/threads.js';

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

export async function barrierCost(nth, { calls = 20000, pausedCalls = 300 } = {}) {
  const k = await loadKernels({ shared: true });
  const pool = await ThreadPool.start(k.module, k.memory, k.exports, nth);
  const one = new KernelRunner(k.exports);
  const fn = PARALLEL.indexOf('act_forward');
  const inp = k.heapBase,
    out = k.heapBase + 64;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const time = (r, n, gapMs) => {
    const t0 = performance.now();
    let waited = 0;
    for (let i = 0; i < n; i++) {
      if (gapMs) {
        const w0 = performance.now();
        Atomics.wait(pause, 0, 0, gapMs);
        waited += performance.now() - w0;
      }
      r.run(fn, 5, out, inp, 16, k.constants.ACT_RELU, 0);
    }
    return ((performance.now() - t0 - waited) * 1000) / n;
  };
  try {
    for (const r of [one, pool]) time(r, 2000, 0); // warm up
    const s = { serial: [], pool: [], serialPaused: [], poolPaused: [] };
    for (let i = 0; i < 7; i++) {
      s.serial.push(time(one, calls, 0));
      s.pool.push(time(pool, calls, 0));
      s.serialPaused.push(time(one, pausedCalls / 7, 2));
      s.poolPaused.push(time(pool, pausedCalls / 7, 2));
    }
    const m = Object.fromEntries(Object.entries(s).map(([key, v]) => [key, median(v)]));
    return {
      threads: nth,
      usPerCallSerial: Number(m.serial.toFixed(3)),
      usPerCallPool: Number(m.pool.toFixed(3)),
      usPerCallPoolAfterPause: Number(m.poolPaused.toFixed(3)),
      usPerCallSerialAfterPause: Number(m.serialPaused.toFixed(3)),
      overheadUs: Number((m.pool - m.serial).toFixed(3)),
      wakeOverheadUs: Number((m.poolPaused - m.serialPaused).toFixed(3)),
    };
  } finally {
    pool.dispose();
  }
}
