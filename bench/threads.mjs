// Thread scaling in the steady state: Trainer.fit on MNIST (the reference model, 784-400-20,
// Bernoulli, Adam 1e-3) at batch 32 / 128 / 512 with 1 thread and with N threads, each timed over
// an epoch of a model that has already trained `--warm` epochs, against the hardware's own
// parallelism measured in the same run: N independent single-thread processes training at once.
// Usage: node --experimental-wasm-relaxed-simd bench/threads.mjs [--threads N] [--warm 2]
//        [--rows 60000] [--batches 32,128,512] [--rounds 2] [--json out.json]
// (internal: --solo B runs one single-thread epoch and prints its samples/s)
import { spawn } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
};
const N = Number(arg('threads', availableParallelism()));
const WARM = Number(arg('warm', 2));
const ROWS = Number(arg('rows', 60000));
const BATCHES = String(arg('batches', '32,128,512')).split(',').map(Number);
const ROUNDS = Number(arg('rounds', 2));
const { VAE, Trainer, loadMnist } = await import('../dist/node.js');

async function data() {
  const { train } = await loadMnist();
  return train.x.subarray(0, ROWS * 784);
}

/** Samples/s of one epoch after WARM epochs, and the fraction of subnormal floats in the optimizer state. */
async function steady(x, batch, threads) {
  const vae = await VAE.create({ inputDim: 784, encoder: [400], latentDim: 20, seed: 1, threads });
  const t = new Trainer(vae, { batchSize: batch });
  const fresh = await t.fit(x, { epochs: 1 });
  if (WARM > 1) await t.fit(x, { epochs: WARM - 1 });
  const h = await t.fit(x, { epochs: 1 });
  const rate = h.epochs.at(-1).samplesPerSec;
  vae.dispose();
  return { fresh: fresh.epochs[0].samplesPerSec, steady: rate, threads: vae.threads };
}

if (process.argv.includes('--solo')) {
  // one process of the N-process baseline: a warm single-thread model, then one timed epoch
  const x = await data();
  const r = await steady(x, Number(arg('solo')), 1);
  console.log(JSON.stringify(r));
  process.exit(0);
}

function solo(batch) {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        '--solo',
        String(batch),
        '--warm',
        String(WARM),
        '--rows',
        String(ROWS),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', (code) =>
      code
        ? reject(new Error(`solo run exited ${code}`))
        : resolve(JSON.parse(out.trim().split('\n').at(-1))),
    );
  });
}

const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const x = await data();
const results = [];
console.log(
  `${cpus()[0]?.model ?? '?'}, ${availableParallelism()} cores, Node ${process.version}; ${ROWS} MNIST rows, ${WARM} warm epochs, ${ROUNDS} rounds`,
);
for (const batch of BATCHES) {
  const one = [],
    many = [],
    pair = [];
  for (let r = 0; r < ROUNDS; r++) {
    one.push(await steady(x, batch, 1));
    many.push(await steady(x, batch, N));
    // N independent single-thread processes at once: what the hardware gives N threads
    const procs = await Promise.all(Array.from({ length: N }, () => solo(batch)));
    pair.push(procs.reduce((s, p) => s + p.steady, 0));
  }
  const s1 = median(one.map((r) => r.steady)),
    sN = median(many.map((r) => r.steady)),
    hw = median(pair) / s1;
  const row = {
    batch,
    threads: N,
    fresh1: median(one.map((r) => r.fresh)),
    steady1: s1,
    freshN: median(many.map((r) => r.fresh)),
    steadyN: sN,
    speedup: sN / s1,
    hardware: hw,
    efficiency: sN / s1 / hw,
    rounds: { one: one.map((r) => r.steady), many: many.map((r) => r.steady), processes: pair },
  };
  results.push(row);
  console.log(
    `batch ${batch}: 1 thread ${s1.toFixed(0)} samples/s (fresh ${row.fresh1.toFixed(0)}), ${N} threads ${sN.toFixed(0)} (fresh ${row.freshN.toFixed(0)}): ` +
      `speed-up ${row.speedup.toFixed(2)}×; ${N} processes ${hw.toFixed(2)}× one → ${(row.efficiency * 100).toFixed(0)}% of the hardware's scaling`,
  );
}
const json = arg('json');
if (json)
  writeFileSync(
    json,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        cpu: cpus()[0]?.model,
        cores: availableParallelism(),
        node: process.version,
        rows: ROWS,
        warm: WARM,
        results,
      },
      null,
      1,
    ),
  );
