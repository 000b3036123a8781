#!/usr/bin/env node
// Peer benchmark: the reference VAE (PyTorch examples/vae) trained with TensorFlow.js.
//
//   node bench/peers/tfjs.mjs --backend cpu|wasm [--batches 32,128,512]
//        [--seconds 2] [--gemm-seconds 0.5] [--warmup 1] [--only step|gemm|check]
//        [--json out.json]
//
// Model (identical to bench/pytorch_step.py and to wasm-vae's reference):
//   fc1 Linear(784,400)+ReLU; fc21 Linear(400,20) -> mu; fc22 Linear(400,20) -> logvar;
//   z = mu + exp(0.5*logvar)*eps, eps ~ N(0,I) (one sample);
//   fc3 Linear(20,400)+ReLU; fc4 Linear(400,784) -> logits.
//   loss = sum BCE-with-logits(logits, x) + KL, KL = -0.5*sum(1 + logvar - mu^2 - exp(logvar)).
//   Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8 (PyTorch defaults; tfjs's default eps differs).
// Weights are stored PyTorch-style as W (out,in) and applied as x·Wᵀ + b.
//
// Progress goes to stderr; stdout carries exactly one JSON object.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';

// ---------------------------------------------------------------- CLI
function parseArgs(argv) {
  const opts = {
    backend: 'cpu',
    batches: [32, 128, 512],
    seconds: 2,
    gemmSeconds: undefined,
    warmup: 1,
    layout: 'in-out',
    only: null,
    json: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`missing value for ${a}`);
      return argv[++i];
    };
    switch (a) {
      case '--backend': opts.backend = next(); break;
      case '--batches': opts.batches = next().split(',').map((s) => parseInt(s, 10)); break;
      case '--seconds': opts.seconds = Number(next()); break;
      case '--gemm-seconds': opts.gemmSeconds = Number(next()); break;
      case '--warmup': opts.warmup = Number(next()); break;
      case '--only': opts.only = next(); break;
      case '--weight-layout': opts.layout = next(); break;
      case '--json': opts.json = next(); break;
      case '-h': case '--help': usage(null); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!['cpu', 'wasm'].includes(opts.backend)) usage(`--backend must be cpu or wasm, got ${opts.backend}`);
  if (opts.batches.some((b) => !Number.isInteger(b) || b <= 0)) usage('--batches must be positive integers');
  if (!(opts.seconds > 0)) usage('--seconds must be > 0');
  if (opts.gemmSeconds === undefined) opts.gemmSeconds = Math.min(0.5, opts.seconds / 4);
  if (!(opts.gemmSeconds > 0)) usage('--gemm-seconds must be > 0');
  if (!['in-out', 'out-in'].includes(opts.layout)) usage('--weight-layout must be in-out or out-in');
  if (opts.only && !['step', 'gemm', 'check'].includes(opts.only)) usage('--only must be step, gemm or check');
  return opts;
}

function usage(err) {
  const text =
    'usage: node bench/peers/tfjs.mjs --backend cpu|wasm [--batches 32,128,512] ' +
    '[--seconds 2] [--gemm-seconds 0.5] [--warmup 1] [--weight-layout in-out|out-in]\n' +
    '       [--only step|gemm|check] [--json out.json]';
  if (err) {
    process.stderr.write(`error: ${err}\n${text}\n`);
    process.exit(2);
  }
  process.stdout.write(`${text}\n`);
  process.exit(0);
}

const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);

// ---------------------------------------------------------------- deterministic data
// Counter-based mulberry32: value i of stream `seed` is mulberry32 state seed+(i+1)*0x6D2B79F5.
// bench/pytorch_step.py implements the same function with numpy so both peers start from
// bit-identical inputs and parameters.
function uniform(seed, n) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let t = (seed + Math.imul(i + 1, 0x6d2b79f5)) | 0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return out;
}

const X_SEED = 1;
const LAYERS = [
  // name, in, out  (same order and seeds as bench/pytorch_step.py)
  ['fc1', 784, 400],
  ['fc21', 400, 20],
  ['fc22', 400, 20],
  ['fc3', 20, 400],
  ['fc4', 400, 784],
];

// PyTorch nn.Linear default init: W, b ~ U(-1/sqrt(in), 1/sqrt(in)).
function initLinear(k, fin, fout) {
  const bound = 1 / Math.sqrt(fin);
  const w = uniform(100 + k, fout * fin);
  for (let i = 0; i < w.length; i++) w[i] = (2 * w[i] - 1) * bound;
  const b = uniform(200 + k, fout);
  for (let i = 0; i < b.length; i++) b[i] = (2 * b[i] - 1) * bound;
  return { w, b };
}

// layout 'in-out': kernel K (in,out) as tf.layers.dense stores it, forward x·K (matMul nn);
// layout 'out-in': W (out,in) as torch.nn.Linear stores it, forward x·Wᵀ (matMul nt).
// Both start from the same numbers (K = Wᵀ); only the memory layout differs.
function makeModel(layout) {
  const p = {};
  LAYERS.forEach(([name, fin, fout], k) => {
    const { w, b } = initLinear(k, fin, fout);
    let W;
    if (layout === 'in-out') {
      const kt = new Float32Array(fin * fout);
      for (let o = 0; o < fout; o++) for (let i = 0; i < fin; i++) kt[i * fout + o] = w[o * fin + i];
      W = tf.tensor2d(kt, [fin, fout]);
    } else {
      W = tf.tensor2d(w, [fout, fin]);
    }
    const B = tf.tensor1d(b);
    p[name] = {
      W: tf.variable(W, true, `${name}.weight`),
      b: tf.variable(B, true, `${name}.bias`),
      transposed: layout === 'out-in',
    };
    W.dispose();
    B.dispose();
  });
  const vars = LAYERS.flatMap(([name]) => [p[name].W, p[name].b]);
  const optimizer = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  return { p, vars, optimizer };
}

function disposeModel(m) {
  m.vars.forEach((v) => v.dispose());
  m.optimizer.dispose();
}

const linear = (h, l) => tf.add(tf.matMul(h, l.W, false, l.transposed), l.b);

// Summed loss over batch and pixels; `eps` has shape (batch, 20).
function vaeLoss(p, x, eps) {
  const h1 = tf.relu(linear(x, p.fc1));
  const mu = linear(h1, p.fc21);
  const logvar = linear(h1, p.fc22);
  const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps));
  const h3 = tf.relu(linear(z, p.fc3));
  const logits = linear(h3, p.fc4);
  // stable BCE-with-logits: max(l,0) - l*x + log1p(exp(-|l|))
  const bce = tf.sum(
    tf.add(tf.sub(tf.relu(logits), tf.mul(logits, x)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))),
  );
  const kl = tf.mul(
    tf.sum(tf.sub(tf.sub(tf.add(logvar, 1), tf.square(mu)), tf.exp(logvar))),
    -0.5,
  );
  return tf.add(bce, kl);
}

// One full training step; returns the loss value (forces execution via dataSync).
function trainStep(m, x, batch, zeroEps = false) {
  return tf.tidy(() => {
    const eps = zeroEps ? tf.zeros([batch, 20]) : tf.randomNormal([batch, 20]);
    const cost = m.optimizer.minimize(() => vaeLoss(m.p, x, eps), true, m.vars);
    return cost.dataSync()[0];
  });
}

// ---------------------------------------------------------------- timing
const median = (a) => {
  const s = [...a].sort((p, q) => p - q);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

// Warm up (>= minWarmIters calls and >= warmSeconds), then time samples of `reps` calls each
// (reps chosen so one sample takes >= minSampleMs) until `seconds` have elapsed and at least
// `minSamples` samples exist. Returns per-call seconds for every sample.
function measure(fn, { seconds, warmSeconds, minWarmIters = 3, minSampleMs, minSamples = 3 }) {
  let t0 = performance.now();
  let warm = 0;
  while (warm < minWarmIters || performance.now() - t0 < warmSeconds * 1000) {
    fn();
    warm++;
  }
  const perCallMs = (performance.now() - t0) / warm;
  const reps = Math.max(1, Math.ceil(minSampleMs / Math.max(perCallMs, 1e-6)));
  const perCall = [];
  t0 = performance.now();
  while (perCall.length < minSamples || performance.now() - t0 < seconds * 1000) {
    const s = performance.now();
    for (let r = 0; r < reps; r++) fn();
    perCall.push((performance.now() - s) / 1000 / reps);
  }
  return { perCall, reps, calls: perCall.length * reps, warmupCalls: warm };
}

const spread = (vals) => ({ median: median(vals), min: Math.min(...vals), max: Math.max(...vals) });
const round = (v, d) => Number(v.toPrecision(d));
const roundSpread = (s, d = 5) => ({ median: round(s.median, d), min: round(s.min, d), max: round(s.max, d) });

// ---------------------------------------------------------------- benchmarks
function runCheck(opts) {
  // Deterministic cross-check with bench/pytorch_step.py: identical params and inputs, eps = 0,
  // loss at init and after 3 Adam steps, batch 32. Values should agree to ~1e-5 relative.
  const batch = 32;
  const m = makeModel(opts.layout);
  const x = tf.tensor2d(uniform(X_SEED, batch * 784), [batch, 784]);
  const losses = [];
  for (let i = 0; i < 4; i++) losses.push(trainStep(m, x, batch, true));
  x.dispose();
  disposeModel(m);
  return { batch, eps: 0, lossPerStep: losses, note: 'loss before Adam steps 1..4 (index 0 = at init)' };
}

function runStep(opts) {
  const maxB = Math.max(...opts.batches);
  const xAll = uniform(X_SEED, maxB * 784);
  const out = [];
  for (const batch of opts.batches) {
    const m = makeModel(opts.layout);
    const x = tf.tensor2d(xAll.subarray(0, batch * 784), [batch, 784]);
    let lastLoss = NaN;
    const fn = () => {
      lastLoss = trainStep(m, x, batch);
    };
    fn(); // creates Adam's slots so the tensor count below is the steady state
    const tensorsBefore = tf.memory().numTensors;
    const r = measure(fn, { seconds: opts.seconds, warmSeconds: opts.warmup, minSampleMs: 20 });
    const tensorsAfter = tf.memory().numTensors;
    if (tensorsAfter !== tensorsBefore) {
      log(`WARNING: tensor count grew from ${tensorsBefore} to ${tensorsAfter} at batch ${batch}`);
    }
    if (!Number.isFinite(lastLoss)) throw new Error(`non-finite loss ${lastLoss} at batch ${batch}`);
    const sps = roundSpread(spread(r.perCall.map((s) => batch / s)));
    log(`step batch=${batch}: ${sps.median} samples/s (min ${sps.min}, max ${sps.max}; ${r.calls} steps)`);
    out.push({
      batch,
      samplesPerSec: sps,
      steps: r.calls,
      samplesTimed: r.calls * batch,
      stepsPerSample: r.reps,
      warmupSteps: r.warmupCalls,
      numTensors: { before: tensorsBefore, after: tensorsAfter },
      lastLossPerSample: round(lastLoss / batch, 6),
    });
    x.dispose();
    disposeModel(m);
  }
  return out;
}

function runGemm(opts) {
  const out = [];
  let seed = 1000;
  for (const batch of opts.batches) {
    for (const [name, fin, fout] of LAYERS) {
      if (name === 'fc22') continue; // same shapes as fc21
      const inp = tf.tensor2d(uniform(seed++, batch * fin), [batch, fin]);
      const W = tf.tensor2d(uniform(seed++, fout * fin), [fout, fin]);
      const dout = tf.tensor2d(uniform(seed++, batch * fout), [batch, fout]);
      const cases = [
        // forward: out(batch,out) = inp(batch,in) · Wᵀ
        { layout: 'nt', M: batch, N: fout, K: fin, f: () => tf.matMul(inp, W, false, true) },
        // input grad: dinp(batch,in) = dout(batch,out) · W(out,in)
        { layout: 'nn', M: batch, N: fin, K: fout, f: () => tf.matMul(dout, W, false, false) },
        // weight grad: dW(out,in) = doutᵀ · inp
        { layout: 'tn', M: fout, N: fin, K: batch, f: () => tf.matMul(dout, inp, true, false) },
      ];
      for (const c of cases) {
        const fn = () => {
          const r = c.f();
          r.dataSync(); // kernels run eagerly on cpu/wasm; this also guards against laziness
          r.dispose();
        };
        const r = measure(fn, {
          seconds: opts.gemmSeconds,
          warmSeconds: Math.min(0.1, opts.gemmSeconds),
          minSampleMs: 10,
        });
        const flops = 2 * c.M * c.N * c.K;
        const g = roundSpread(spread(r.perCall.map((s) => flops / s / 1e9)), 4);
        log(`gemm ${c.layout} M=${c.M} N=${c.N} K=${c.K}: ${g.median} GFLOP/s`);
        out.push({ layout: c.layout, M: c.M, N: c.N, K: c.K, batch, in: fin, out: fout, gflops: g, calls: r.calls });
      }
      inp.dispose();
      W.dispose();
      dout.dispose();
    }
  }
  return out;
}

// ---------------------------------------------------------------- main
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  tf.enableProdMode();
  let simd = false;
  let threads = 1;
  let multithreadSupported = false;
  let wasmDir = null;
  if (opts.backend === 'wasm') {
    const require = createRequire(import.meta.url);
    wasmDir = `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`;
    tfwasm.setWasmPaths(wasmDir);
    // In Node, tfjs-backend-wasm reports WASM_HAS_MULTITHREAD_SUPPORT = false (IS_NODE) and
    // loads the non-threaded binary; pin XNNPACK's pool to 1 thread anyway.
    tfwasm.setThreadsCount(1);
  }
  const ok = await tf.setBackend(opts.backend);
  if (!ok) throw new Error(`could not initialise tfjs backend ${opts.backend}`);
  await tf.ready();
  if (tf.getBackend() !== opts.backend) throw new Error(`backend is ${tf.getBackend()}, wanted ${opts.backend}`);
  if (opts.backend === 'wasm') {
    simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    multithreadSupported = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    threads = tfwasm.getThreadsCount();
  }
  const wasmBinary =
    opts.backend === 'wasm'
      ? multithreadSupported && simd
        ? 'tfjs-backend-wasm-threaded-simd.wasm'
        : simd
          ? 'tfjs-backend-wasm-simd.wasm'
          : 'tfjs-backend-wasm.wasm'
      : null;
  log(`tfjs ${tf.version.tfjs} backend=${tf.getBackend()} simd=${simd} threads=${threads}` +
    (wasmBinary ? ` binary=${wasmBinary}` : ''));

  const t0 = performance.now();
  const result = {
    system: `tfjs-${opts.backend}`,
    tfjsVersion: tf.version.tfjs,
    backend: tf.getBackend(),
    simd,
    threads,
    node: process.version,
    date: new Date().toISOString(),
    wasm:
      opts.backend === 'wasm'
        ? { version: tfwasm.version_wasm, binary: wasmBinary, multithreadSupported, wasmPaths: wasmDir }
        : undefined,
    config: {
      model: 'fc1 784->400 relu; fc21/fc22 400->20; z=mu+exp(0.5 logvar)*eps; fc3 20->400 relu; fc4 400->784 logits',
      loss: 'sum BCE-with-logits + KL (sum over batch)',
      optimizer: 'Adam lr=1e-3 betas=(0.9,0.999) eps=1e-8',
      batches: opts.batches,
      stepSeconds: opts.seconds,
      gemmSeconds: opts.gemmSeconds,
      warmupSeconds: opts.warmup,
      weightLayout: opts.layout,
      prodMode: true,
      flops: '2*M*N*K',
    },
    check: undefined,
    step: [],
    gemm: [],
  };
  if (!opts.only || opts.only === 'check') result.check = runCheck(opts);
  if (!opts.only || opts.only === 'step') result.step = runStep(opts);
  if (!opts.only || opts.only === 'gemm') result.gemm = runGemm(opts);
  result.wallSeconds = round((performance.now() - t0) / 1000, 4);

  const text = `${JSON.stringify(result, null, 2)}\n`;
  process.stdout.write(text);
  if (opts.json) writeFileSync(opts.json, text);
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
