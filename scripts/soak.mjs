// Soak: long runs must not grow. (a) Training steps of the reference model (784-[400]-20, 2 kernel
// threads, batch 32, random data): wasm memory (vae.memoryBytes), JS heap (heapUsed after gc) and
// the process's threads are sampled; (b) create/train/save/load/dispose cycles of a small model
// (also on 2 kernel threads, so each cycle starts and ends a pool): the same, per cycle.
//
//   node --expose-gc --experimental-wasm-relaxed-simd scripts/soak.mjs [--steps N] [--cycles N]
//        [--batch N] [--out FILE | --no-write]
// (npm run soak: 10,000 steps and 1,000 cycles, written to bench/results/soak.json.) The result
// JSON is also printed as the last line of stdout (test/soak.test.ts runs this at a reduced size).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';
import { VAE, Trainer } from '../dist/node.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
};
const STEPS = Number(arg('steps', 10_000)),
  CYCLES = Number(arg('cycles', 1_000)),
  BATCH = Number(arg('batch', 32));
const OUT = process.argv.includes('--no-write') ? null : arg('out', join(ROOT, 'bench/results/soak.json'));
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');

const MiB = 2 ** 20;
const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** OS threads of this process (Linux), else the Worker handles Node reports as active. */
function threadCount() {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  } catch {
    return process.getActiveResourcesInfo().filter((r) => r === 'Worker').length;
  }
}
async function sample(extra) {
  await tick();
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  // V8's code space (JIT code) apart: where the cycles' creep lives (see the README's Robustness)
  const code = getHeapSpaceStatistics().find((s) => s.space_name === 'code_space')?.space_used_size ?? 0;
  return {
    ...extra,
    heapUsedMiB: +(m.heapUsed / MiB).toFixed(3),
    codeSpaceMiB: +(code / MiB).toFixed(3),
    heapWithoutCodeMiB: +((m.heapUsed - code) / MiB).toFixed(3),
    externalMiB: +(m.external / MiB).toFixed(3),
    rssMiB: +(m.rss / MiB).toFixed(1),
    threads: threadCount(),
    activeWorkers: process.getActiveResourcesInfo().filter((r) => r === 'Worker').length,
  };
}
function random(rows, cols, seed) {
  let s = seed >>> 0 || 1;
  return new Float32Array(rows * cols).map(() => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  });
}
/** Growth from the sample at the end of warm-up (the first 20%) to the last sample, and the largest excursion. */
function growth(samples, key) {
  const w = samples[Math.floor(samples.length / 5)],
    last = samples[samples.length - 1];
  const after = samples.slice(Math.floor(samples.length / 5));
  return {
    start: samples[0][key],
    afterWarmup: w[key],
    end: last[key],
    growth: +(last[key] - w[key]).toFixed(3),
    maxAfterWarmup: Math.max(...after.map((s) => s[key])),
  };
}

// (a) training steps
const t0 = performance.now();
const vae = await VAE.create({ inputDim: 784, encoder: [400], latentDim: 20, seed: 1, threads: 2 });
if (vae.threads !== 2)
  throw new Error(`2 kernel threads were asked for, ${vae.threads} run: ${vae.threadsNote}`);
const x = random(2048, 784, 11);
const trainer = new Trainer(vae, { batchSize: BATCH });
const every = Math.max(1, Math.floor(STEPS / 50));
const steps = [await sample({ step: 0, memoryBytes: vae.memoryBytes })];
const ac = new AbortController();
let lastLoss = NaN;
await trainer.fit(x, {
  epochs: Math.ceil(STEPS / Math.ceil(2048 / BATCH)),
  signal: ac.signal,
  onBatchEnd: async (b) => {
    lastLoss = b.loss;
    if (b.step % every === 0) steps.push(await sample({ step: b.step, memoryBytes: vae.memoryBytes }));
    if (b.step === STEPS) ac.abort();
  },
});
const trainSeconds = (performance.now() - t0) / 1000;
if (trainer.optimizer.t !== STEPS) throw new Error(`ran ${trainer.optimizer.t} steps, not ${STEPS}`);
vae.dispose();
await sleep(100);

// (b) cycles
const t1 = performance.now();
const SMALL = { inputDim: 64, encoder: [32], latentDim: 4, seed: 1, threads: 2 };
const xs = random(256, 64, 5);
const cyc = [await sample({ cycle: 0 })];
const everyC = Math.max(1, Math.floor(CYCLES / 50));
let elbo = NaN;
for (let c = 1; c <= CYCLES; c++) {
  const a = await VAE.create(SMALL);
  const t = new Trainer(a, { batchSize: 32 });
  await t.fit(xs, { epochs: 1 });
  const bytes = t.save();
  a.dispose();
  const b = await VAE.load(bytes, { threads: 2 });
  elbo = b.evaluate(xs).elbo;
  if (!Number.isFinite(elbo)) throw new Error(`cycle ${c}: evaluate gave ${elbo}`);
  b.dispose();
  if (c % everyC === 0) {
    await sleep(20); // disposed pools' threads finish exiting
    cyc.push(await sample({ cycle: c }));
  }
}
const cycleSeconds = (performance.now() - t1) / 1000;

const result = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: (await import('node:os')).availableParallelism(),
  build: vae.build,
  training: {
    model: '784-[400]-20, threads 2',
    batchSize: BATCH,
    steps: STEPS,
    seconds: +trainSeconds.toFixed(2),
    msPerStep: +((trainSeconds * 1000) / STEPS).toFixed(3),
    lastLoss: +lastLoss.toFixed(3),
    memoryBytes: growth(steps, 'memoryBytes'),
    heapUsedMiB: growth(steps, 'heapUsedMiB'),
    codeSpaceMiB: growth(steps, 'codeSpaceMiB'),
    heapWithoutCodeMiB: growth(steps, 'heapWithoutCodeMiB'),
    externalMiB: growth(steps, 'externalMiB'),
    rssMiB: growth(steps, 'rssMiB'),
    threads: growth(steps, 'threads'),
    samples: steps,
  },
  cycles: {
    model:
      '64-[32]-4, threads 2: create, fit 1 epoch (256 rows), Trainer.save, VAE.load, evaluate, dispose both',
    cycles: CYCLES,
    seconds: +cycleSeconds.toFixed(2),
    lastElbo: +elbo.toFixed(3),
    heapUsedMiB: growth(cyc, 'heapUsedMiB'),
    codeSpaceMiB: growth(cyc, 'codeSpaceMiB'),
    heapWithoutCodeMiB: growth(cyc, 'heapWithoutCodeMiB'),
    externalMiB: growth(cyc, 'externalMiB'),
    rssMiB: growth(cyc, 'rssMiB'),
    threads: growth(cyc, 'threads'),
    samples: cyc,
  },
};
if (OUT) {
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
}
const g = (r, k) => `${r[k].afterWarmup} → ${r[k].end} (${r[k].growth >= 0 ? '+' : ''}${r[k].growth})`;
console.log(
  `[soak] ${STEPS} steps in ${result.training.seconds} s (${result.training.msPerStep} ms/step): wasm bytes ${g(result.training, 'memoryBytes')}, heap MiB ${g(result.training, 'heapUsedMiB')}, threads ${g(result.training, 'threads')}`,
);
console.log(
  `[soak] ${CYCLES} cycles in ${result.cycles.seconds} s: heap MiB ${g(result.cycles, 'heapUsedMiB')} (code space ${g(result.cycles, 'codeSpaceMiB')}, the rest ${g(result.cycles, 'heapWithoutCodeMiB')}), external MiB ${g(result.cycles, 'externalMiB')}, rss MiB ${g(result.cycles, 'rssMiB')}, threads ${g(result.cycles, 'threads')}`,
);
console.log(JSON.stringify(result));
