// Training throughput through the public API (Trainer.fit on MNIST), fresh and in the steady state,
// for 1 and N kernel threads, beside the hardware's own parallelism measured in the same run.
//
// The reference model (PyTorch examples/vae: 784-400-20, ReLU, Bernoulli on [0, 1] pixels, Adam
// 1e-3, seed 1). Per batch size and round:
//   fresh   — epoch 1 of a new model, at 1 thread and at N threads (two models);
//   warm    — the N-thread model trains `warm` epochs in all, then Trainer.save() snapshots it
//             (weights, Adam state, RNG streams, epoch);
//   steady  — one epoch from that snapshot (Trainer.resume) at 1 thread and at N threads: the same
//             starting state, so the two differ only in the thread count;
//   hardware — N independent single-thread processes each resume the same snapshot and train one
//             epoch at the same time; their summed samples/s over the 1-thread figure is the
//             speed-up the machine gives N independent workers right now (noise included).
// Each figure is the epoch record's samplesPerSec (the training loop alone, not data validation).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const { VAE, Trainer, loadMnist, loadKernels } = await import('../../dist/node.js');

export const MODEL = { inputDim: 784, encoder: [400], latentDim: 20, seed: 1 };
const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];

export async function mnistRows(rows = 60000) {
  const { train, test } = await loadMnist();
  return { x: train.x.subarray(0, rows * 784), test: test.x };
}

async function freshEpoch(x, batch, threads) {
  const vae = await VAE.create({ ...MODEL, threads });
  const t = new Trainer(vae, { batchSize: batch });
  const h = await t.fit(x, { epochs: 1 });
  return { trainer: t, vae, rate: h.epochs[0].samplesPerSec, ran: vae.threads };
}

// (in, out) of the reference model's linear layers: fc1, fc21 (μ), fc22 (log σ²), fc3, fc4
const LAYERS = [
  [784, 400],
  [400, 20],
  [400, 20],
  [20, 400],
  [400, 784],
];
// the input-gradient GEMM runs for every layer but the first (no gradient for the data)
export const flopsPerSample = LAYERS.reduce((s, [i, o], k) => s + 2 * i * o * (k === 0 ? 2 : 3), 0);

/**
 * Seconds of one training step's GEMMs at batch B, timed alone on the same kernels (median of 15
 * samples of 10 steps after 20 warm-up steps), and the samples/s they allow.
 */
export async function gemmsAlone(B) {
  const k = await loadKernels({ build: 'relaxed' }).catch(() => loadKernels());
  const e = k.exports;
  let top = Math.ceil(k.heapBase / 64) * 64;
  const alloc = (n) => {
    const p = top;
    top += Math.ceil((n * 4) / 64) * 64 + 64;
    return p;
  };
  const cases = [];
  for (const [i, o] of LAYERS) {
    const inp = alloc(B * i),
      w = alloc(o * i),
      out = alloc(B * o),
      dout = alloc(B * o),
      dw = alloc(o * i),
      dinp = alloc(B * i);
    const pack = alloc(
      Math.max(e.gemm_nt_scratch_floats(B, o, i, 1), e.gemm_pack_a_floats(o, B), e.gemm_pack_a_floats(B, o)),
    );
    cases.push([inp, w, out, dout, dw, dinp, pack, i, o]);
  }
  k.memory.grow(Math.ceil(Math.max(0, top + 65536 - k.memory.buffer.byteLength) / 65536));
  const f = new Float32Array(k.memory.buffer);
  for (let j = Math.ceil(k.heapBase / 4); j < top / 4; j++) f[j] = ((j * 2654435761) % 1000) / 1000 - 0.5;
  const step = () => {
    cases.forEach(([inp, w, out, dout, dw, dinp, pack, i, o], n) => {
      e.f32_gemm_nt(out, inp, w, 0, pack, B, o, i, false);
      e.f32_gemm_tn(dw, dout, inp, pack, o, i, B, false);
      if (n > 0) e.f32_gemm_nn(dinp, dout, w, 0, pack, B, i, o, false);
    });
  };
  for (let r = 0; r < 20; r++) step(); // warm up
  const times = [];
  for (let r = 0; r < 15; r++) {
    const t0 = performance.now();
    for (let s = 0; s < 10; s++) step();
    times.push((performance.now() - t0) / 10 / 1000);
  }
  const seconds = times.sort((a, b) => a - b)[7];
  return { seconds, gflops: (flopsPerSample * B) / seconds / 1e9, allowed: B / seconds, build: k.build };
}

/** One epoch from a Trainer.save() snapshot at `threads`; samples/s. */
export async function steadyEpoch(bytes, x, threads) {
  const t = await Trainer.resume(bytes, { threads });
  try {
    const h = await t.fit(x, { epochs: 1 });
    return { rate: h.epochs.at(-1).samplesPerSec, ran: t.vae.threads };
  } finally {
    t.vae.dispose();
  }
}

function soloProcess(file, rows) {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), '--solo', file, String(rows)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', (code) =>
      code
        ? reject(new Error(`solo process exited ${code}`))
        : resolve(JSON.parse(out.trim().split('\n').at(-1))),
    );
  });
}

/**
 * Measures one batch size: { batch, threads, fresh1, freshN, steady1, steadyN, speedup, hardware,
 * efficiency, warmRates, rounds } (medians over rounds; every round's figure in `rounds`).
 */
export async function measureBatch(x, batch, { threads, warm = 2, rounds = 2, log = () => {} }) {
  const R = { fresh1: [], freshN: [], steady1: [], steadyN: [], processes: [], warmRates: [] };
  const dir = mkdtempSync(join(tmpdir(), 'wasm-vae-bench-'));
  let ran = threads;
  try {
    for (let r = 0; r < rounds; r++) {
      const one = await freshEpoch(x, batch, 1);
      one.vae.dispose();
      R.fresh1.push(one.rate);
      const many = await freshEpoch(x, batch, threads);
      R.freshN.push(many.rate);
      ran = many.ran;
      const rates = [many.rate];
      for (let e = 1; e < warm; e++)
        rates.push((await many.trainer.fit(x, { epochs: 1 })).epochs.at(-1).samplesPerSec);
      R.warmRates.push(rates);
      const bytes = many.trainer.save();
      many.vae.dispose();
      R.steady1.push((await steadyEpoch(bytes, x, 1)).rate);
      R.steadyN.push((await steadyEpoch(bytes, x, threads)).rate);
      const file = join(dir, `b${batch}.safetensors`);
      writeFileSync(file, bytes);
      const procs = await Promise.all(Array.from({ length: ran }, () => soloProcess(file, x.length / 784)));
      R.processes.push(procs.reduce((s, p) => s + p.rate, 0));
      log(
        `  batch ${String(batch).padStart(3)} round ${r + 1}/${rounds}: fresh ${R.fresh1.at(-1).toFixed(0)} / ${R.freshN.at(-1).toFixed(0)}, ` +
          `steady ${R.steady1.at(-1).toFixed(0)} / ${R.steadyN.at(-1).toFixed(0)} samples/s (1 / ${ran} threads); ` +
          `${ran} processes together ${R.processes.at(-1).toFixed(0)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const m = Object.fromEntries(['fresh1', 'freshN', 'steady1', 'steadyN'].map((k) => [k, median(R[k])]));
  const speedups = R.steadyN.map((v, i) => v / R.steady1[i]);
  const hardware = R.processes.map((v, i) => v / R.steady1[i]);
  const speedup = median(speedups),
    hw = median(hardware);
  return {
    batch,
    threads: ran,
    ...m,
    speedup,
    hardware: hw,
    efficiency: speedup / hw,
    warm,
    rounds: { ...R, speedups, hardware },
  };
}

/**
 * `npm start`'s run timed end to end: MNIST read from disk, the PyTorch examples/vae configuration
 * trained 10 epochs at batch 128 with the test −ELBO after every epoch; wall seconds.
 */
export async function endToEnd({ epochs = 10, threads = 'auto', log = () => {} } = {}) {
  const t0 = performance.now();
  const { train, test } = await loadMnist();
  const vae = await VAE.create({ ...MODEL, threads });
  const t = new Trainer(vae, { batchSize: 128 });
  const rec = [];
  try {
    for (let e = 1; e <= epochs; e++) {
      const h = await t.fit(train.x, { epochs: 1, validationData: test.x });
      const r = h.epochs.at(-1);
      rec.push({
        epoch: e,
        trainLoss: Number(r.loss.toFixed(3)),
        testLoss: Number(r.valLoss.toFixed(3)),
        samplesPerSec: Math.round(r.samplesPerSec),
        seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
      });
      log(
        `  wasm-vae e2e epoch ${e}: train ${r.loss.toFixed(2)} test ${r.valLoss.toFixed(2)} (${rec.at(-1).seconds} s)`,
      );
    }
    return { threads: vae.threads, epochs: rec, wallSeconds: rec.at(-1).seconds };
  } finally {
    vae.dispose();
  }
}

if (process.argv[2] === '--solo') {
  // one of the N-process baseline: resume the snapshot on one thread, train one epoch
  const [file, rows] = [process.argv[3], Number(process.argv[4])];
  const { x } = await mnistRows(rows);
  const r = await steadyEpoch(new Uint8Array(readFileSync(file)), x, 1);
  console.log(JSON.stringify(r));
  process.exit(0);
}
