// One timing method for every wasm-vae and tfjs-in-JS figure of the benchmark, on tinybench:
// warm up (>= minWarmIters calls and >= warmSeconds), then time samples of `reps` back-to-back
// calls (reps chosen so one sample takes >= minSampleMs, which keeps timer resolution out of the
// figure) until `seconds` have elapsed and at least `minSamples` samples exist. Figures are the
// median over samples with the p10–p90 range and min–max as the spread. bench/pytorch_step.py
// follows the same protocol. Bundled into the browser bench page as well (tinybench is plain JS).
import { Bench } from 'tinybench';

const now = () => performance.now();

/** Returns the per-call seconds of every sample plus counts. */
export function measure(
  fn,
  {
    seconds = 1,
    warmSeconds = 0.5,
    minWarmIters = 3,
    minSampleMs = 10,
    minSamples = 5,
    maxSeconds = Infinity,
  } = {},
) {
  // calibrate the batch size from a few calls (these count towards the warm-up, tiering up the wasm)
  const t0 = now();
  let calls = 0;
  while (calls < minWarmIters || (now() - t0 < Math.min(50, warmSeconds * 1000) && calls < 1000)) {
    fn();
    calls++;
  }
  const perCallMs = (now() - t0) / calls;
  const reps = Math.max(1, Math.ceil(minSampleMs / Math.max(perCallMs, 1e-6)));
  const budgetMs = Math.min(seconds * 1000, maxSeconds * 1000);
  const bench = new Bench({
    time: budgetMs,
    iterations: minSamples,
    warmupTime: warmSeconds * 1000,
    warmupIterations: Math.max(1, Math.ceil(minWarmIters / reps)),
    retainSamples: true,
    throws: true,
  });
  bench.add('fn', () => {
    for (let r = 0; r < reps; r++) fn();
  });
  const [task] = bench.runSync();
  const samples = task.result.latency?.samples;
  if (!samples)
    throw new Error(`tinybench did not complete the task: ${task.result.state} ${task.result.error ?? ''}`);
  const perCall = Array.from(samples, (ms) => ms / 1000 / reps);
  return { perCall, reps, calls: perCall.length * reps, warmupCalls: calls };
}

const q = (sorted, p) => {
  // linear interpolation between closest ranks
  if (sorted.length === 1) return sorted[0];
  const x = p * (sorted.length - 1),
    i = Math.floor(x),
    f = x - i;
  return i + 1 < sorted.length ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
};

const round = (v, d) => Number(v.toPrecision(d));

/** median / p10 / p90 / min / max of values (rounded to d significant digits), n = count. */
export function spread(values, d = 5) {
  const s = [...values].sort((a, b) => a - b);
  return {
    median: round(q(s, 0.5), d),
    p10: round(q(s, 0.1), d),
    p90: round(q(s, 0.9), d),
    min: round(s[0], d),
    max: round(s[s.length - 1], d),
    n: s.length,
  };
}

/** A throughput figure: `work` units per call, per-call seconds in r.perCall → units/s. */
export function rate(r, work, d = 5) {
  return {
    ...spread(
      r.perCall.map((sec) => work / sec),
      d,
    ),
    calls: r.calls,
    reps: r.reps,
    warmupCalls: r.warmupCalls,
  };
}
