#!/usr/bin/env node
// Peer benchmark: the reference VAE (PyTorch examples/vae) trained with TensorFlow.js.
//
//   node bench/peers/tfjs.mjs --backend cpu|wasm [--batches 32,128,512]
//        [--seconds 2] [--gemm-seconds 0.5] [--warmup 1] [--only step,gemm,check,act]
//        [--gemm-batches 128] [--max-step-seconds S] [--weight-layout in-out|out-in] [--json out.json]
//
// --only takes a comma list (default check,step,gemm); act = relu/tanh forward and backward on
// 128×400. --gemm-batches (default: --batches) are the batch sizes of the GEMM shapes.
// --max-step-seconds bounds each step measurement (warm-up excluded) even when fewer than 3
// samples were taken (for the slow cpu backend). Figures: median with p10/p90 and min/max.
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
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { tf, makeModel, disposeModel, trainStep } from './tfjs-model.mjs';
import { uniform, X_SEED, LAYERS } from '../lib/refmodel.mjs';
import { measure, spread } from '../lib/measure.mjs';

// ---------------------------------------------------------------- CLI
function parseArgs(argv) {
  const opts = {
    backend: 'cpu',
    batches: [32, 128, 512],
    seconds: 2,
    gemmSeconds: undefined,
    gemmBatches: null,
    maxStepSeconds: Infinity,
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
      case '--backend':
        opts.backend = next();
        break;
      case '--batches':
        opts.batches = next()
          .split(',')
          .map((s) => parseInt(s, 10));
        break;
      case '--seconds':
        opts.seconds = Number(next());
        break;
      case '--gemm-seconds':
        opts.gemmSeconds = Number(next());
        break;
      case '--gemm-batches':
        opts.gemmBatches = next()
          .split(',')
          .map((s) => parseInt(s, 10));
        break;
      case '--max-step-seconds':
        opts.maxStepSeconds = Number(next());
        break;
      case '--warmup':
        opts.warmup = Number(next());
        break;
      case '--only':
        opts.only = next();
        break;
      case '--weight-layout':
        opts.layout = next();
        break;
      case '--json':
        opts.json = next();
        break;
      case '-h':
      case '--help':
        usage(null);
        break;
      default:
        usage(`unknown argument ${a}`);
    }
  }
  if (!['cpu', 'wasm'].includes(opts.backend)) usage(`--backend must be cpu or wasm, got ${opts.backend}`);
  if (opts.batches.some((b) => !Number.isInteger(b) || b <= 0)) usage('--batches must be positive integers');
  if (!(opts.seconds > 0)) usage('--seconds must be > 0');
  if (opts.gemmSeconds === undefined) opts.gemmSeconds = Math.min(0.5, opts.seconds / 4);
  if (!(opts.gemmSeconds > 0)) usage('--gemm-seconds must be > 0');
  if (!['in-out', 'out-in'].includes(opts.layout)) usage('--weight-layout must be in-out or out-in');
  opts.gemmBatches ??= opts.batches;
  if (opts.gemmBatches.some((b) => !Number.isInteger(b) || b <= 0))
    usage('--gemm-batches must be positive integers');
  if (!(opts.maxStepSeconds > 0)) usage('--max-step-seconds must be > 0');
  opts.parts = opts.only ? opts.only.split(',') : ['check', 'step', 'gemm'];
  if (opts.parts.some((p) => !['step', 'gemm', 'check', 'act'].includes(p)))
    usage('--only takes a comma list of step, gemm, check, act');
  return opts;
}

function usage(err) {
  const text =
    'usage: node bench/peers/tfjs.mjs --backend cpu|wasm [--batches 32,128,512] ' +
    '[--seconds 2] [--gemm-seconds 0.5] [--warmup 1] [--weight-layout in-out|out-in]\n' +
    '       [--gemm-batches 32,128,512] [--max-step-seconds S] [--only step,gemm,check,act] [--json out.json]';
  if (err) {
    process.stderr.write(`error: ${err}\n${text}\n`);
    process.exit(2);
  }
  process.stdout.write(`${text}\n`);
  process.exit(0);
}

const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);

// ---------------------------------------------------------------- model, data, timing
// The deterministic inputs and parameters (counter-based mulberry32, bit-identical to
// bench/pytorch_step.py) live in ../lib/refmodel.mjs; the tfjs model, loss and step in
// ./tfjs-model.mjs (shared with the browser bench page); the timing method in ../lib/measure.mjs.
const round = (v, d) => Number(v.toPrecision(d));

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
    const r = measure(fn, {
      seconds: opts.seconds,
      warmSeconds: opts.warmup,
      minWarmIters: 3,
      minSampleMs: 20,
      minSamples: 3,
      maxSeconds: opts.maxStepSeconds,
    });
    const tensorsAfter = tf.memory().numTensors;
    if (tensorsAfter !== tensorsBefore) {
      log(`WARNING: tensor count grew from ${tensorsBefore} to ${tensorsAfter} at batch ${batch}`);
    }
    if (!Number.isFinite(lastLoss)) throw new Error(`non-finite loss ${lastLoss} at batch ${batch}`);
    const sps = spread(r.perCall.map((s) => batch / s));
    log(`step batch=${batch}: ${sps.median} samples/s (p10 ${sps.p10}, p90 ${sps.p90}; ${r.calls} steps)`);
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
  for (const batch of opts.gemmBatches) {
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
          minSamples: 3,
        });
        const flops = 2 * c.M * c.N * c.K;
        const g = spread(
          r.perCall.map((s) => flops / s / 1e9),
          4,
        );
        log(`gemm ${c.layout} M=${c.M} N=${c.N} K=${c.K}: ${g.median} GFLOP/s`);
        out.push({
          layout: c.layout,
          M: c.M,
          N: c.N,
          K: c.K,
          batch,
          in: fin,
          out: fout,
          gflops: g,
          calls: r.calls,
        });
      }
      inp.dispose();
      W.dispose();
      dout.dispose();
    }
  }
  return out;
}

// Activation throughput on (rows, cols) = (128, 400), the encoder's hidden layer at batch 128.
// forward: tf.relu / tf.tanh; backward: the ops tfjs's own gradients of Relu and Tanh run
// (dy·step(x) and dy·(1 − y²)). cpu and wasm execute eagerly, so no dataSync is needed.
function runAct(opts) {
  const rows = 128,
    cols = 400,
    n = rows * cols;
  const x = tf.tensor2d(
    uniform(3000, n).map((v) => 4 * v - 2),
    [rows, cols],
  );
  const dy = tf.tensor2d(
    uniform(3001, n).map((v) => 2 * v - 1),
    [rows, cols],
  );
  const yRelu = tf.relu(x),
    yTanh = tf.tanh(x);
  const cases = [
    { act: 'relu', dir: 'forward', f: () => tf.relu(x) },
    { act: 'relu', dir: 'backward', f: () => tf.tidy(() => tf.mul(dy, tf.step(x))) },
    { act: 'tanh', dir: 'forward', f: () => tf.tanh(x) },
    {
      act: 'tanh',
      dir: 'backward',
      f: () => tf.tidy(() => tf.mul(tf.sub(tf.scalar(1), tf.square(yTanh)), dy)),
    },
  ];
  const out = [];
  for (const c of cases) {
    const fn = () => c.f().dispose();
    const r = measure(fn, {
      seconds: opts.gemmSeconds,
      warmSeconds: Math.min(0.1, opts.gemmSeconds),
      minSampleMs: 10,
      minSamples: 3,
    });
    const g = spread(
      r.perCall.map((s) => n / s / 1e9),
      4,
    );
    log(`act ${c.act} ${c.dir} ${rows}x${cols}: ${g.median} Gelem/s`);
    out.push({ act: c.act, dir: c.dir, rows, cols, n, gelems: g, calls: r.calls });
  }
  [x, dy, yRelu, yTanh].forEach((t) => t.dispose());
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
  if (tf.getBackend() !== opts.backend)
    throw new Error(`backend is ${tf.getBackend()}, wanted ${opts.backend}`);
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
  log(
    `tfjs ${tf.version.tfjs} backend=${tf.getBackend()} simd=${simd} threads=${threads}` +
      (wasmBinary ? ` binary=${wasmBinary}` : ''),
  );

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
      model:
        'fc1 784->400 relu; fc21/fc22 400->20; z=mu+exp(0.5 logvar)*eps; fc3 20->400 relu; fc4 400->784 logits',
      loss: 'sum BCE-with-logits + KL (sum over batch)',
      optimizer: 'Adam lr=1e-3 betas=(0.9,0.999) eps=1e-8',
      batches: opts.batches,
      gemmBatches: opts.gemmBatches,
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
  if (opts.parts.includes('check')) result.check = runCheck(opts);
  if (opts.parts.includes('step')) result.step = runStep(opts);
  if (opts.parts.includes('gemm')) result.gemm = runGemm(opts);
  if (opts.parts.includes('act')) result.act = runAct(opts);
  result.wallSeconds = round((performance.now() - t0) / 1000, 4);

  const text = `${JSON.stringify(result, null, 2)}\n`;
  process.stdout.write(text);
  if (opts.json) writeFileSync(opts.json, text);
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
