#!/usr/bin/env node
// Peer benchmark: Keras-io's convolutional VAE (wasm-vae's PRESETS.kerasIoConv) trained with
// TensorFlow.js, one backend per process:  node bench/peers/tfjs-conv.mjs --backend cpu|wasm
//   [--batches 32,128] [--seconds 3] [--steps 3 (timed steps of the slow cpu backend)]
// NHWC (tfjs's layout), 'same' padding (Keras's), kernels as tf.layers stores them; summed
// BCE-with-logits + KL; Adam 1e-3. One step = ε, forward, gradients (tf.variableGrads), Adam.
// A backend that cannot train the model reports its error instead of figures.
// stdout: one JSON object.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { measure, rate } from '../lib/measure.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const backend = arg('backend', 'cpu'),
  batches = arg('batches', '32,128').split(',').map(Number),
  seconds = Number(arg('seconds', '3')),
  cpuSteps = Number(arg('steps', '3'));

function model() {
  const v = (shape, fanIn) =>
    tf.variable(tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)));
  return {
    e0: v([3, 3, 1, 32], 9),
    e0b: v([32], 9),
    e1: v([3, 3, 32, 64], 288),
    e1b: v([64], 288),
    e2: v([3136, 16], 3136),
    e2b: v([16], 3136),
    mu: v([16, 2], 16),
    mub: v([2], 16),
    lv: v([16, 2], 16),
    lvb: v([2], 16),
    d0: v([2, 3136], 2),
    d0b: v([3136], 2),
    // conv2dTranspose filters are [h, w, outChannels, inChannels]
    d2: v([3, 3, 64, 64], 576),
    d2b: v([64], 576),
    d3: v([3, 3, 32, 64], 288),
    d3b: v([32], 288),
    out: v([3, 3, 1, 32], 9),
    outb: v([1], 9),
  };
}

function loss(p, x, B) {
  const h0 = tf.relu(tf.add(tf.conv2d(x, p.e0, 2, 'same'), p.e0b));
  const h1 = tf.relu(tf.add(tf.conv2d(h0, p.e1, 2, 'same'), p.e1b));
  const h2 = tf.relu(tf.add(tf.matMul(tf.reshape(h1, [B, 3136]), p.e2), p.e2b));
  const mu = tf.add(tf.matMul(h2, p.mu), p.mub),
    lv = tf.add(tf.matMul(h2, p.lv), p.lvb);
  const z = tf.add(mu, tf.mul(tf.exp(tf.mul(lv, 0.5)), tf.randomNormal([B, 2])));
  const g0 = tf.reshape(tf.relu(tf.add(tf.matMul(z, p.d0), p.d0b)), [B, 7, 7, 64]);
  const g2 = tf.relu(tf.add(tf.conv2dTranspose(g0, p.d2, [B, 14, 14, 64], 2, 'same'), p.d2b));
  const g3 = tf.relu(tf.add(tf.conv2dTranspose(g2, p.d3, [B, 28, 28, 32], 2, 'same'), p.d3b));
  const l = tf.add(tf.conv2dTranspose(g3, p.out, [B, 28, 28, 1], 1, 'same'), p.outb);
  // BCE with logits: max(l, 0) − l·x + log1p(exp(−|l|))
  const rec = tf.sum(tf.add(tf.sub(tf.relu(l), tf.mul(l, x)), tf.log1p(tf.exp(tf.neg(tf.abs(l))))));
  const kl = tf.mul(-0.5, tf.sum(tf.sub(tf.sub(tf.add(1, lv), tf.square(mu)), tf.exp(lv))));
  return tf.add(rec, kl);
}

tf.enableProdMode();
if (backend === 'wasm') {
  tfwasm.setWasmPaths(`${dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'))}/`);
  tfwasm.setThreadsCount(1);
}
await tf.setBackend(backend);
await tf.ready();
const results = [];
for (const B of batches) {
  const p = model(),
    opt = tf.train.adam(1e-3),
    vars = Object.values(p);
  const x = tf.tidy(() => tf.cast(tf.less(tf.randomUniform([B, 28, 28, 1]), 0.2), 'float32'));
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => loss(p, x, B), vars);
      opt.applyGradients(grads);
      return value.dataSync()[0];
    });
  try {
    step();
    if (backend === 'cpu') {
      // the cpu backend takes seconds per step: a fixed count of timed steps after one warm-up
      const per = [];
      for (let i = 0; i < cpuSteps; i++) {
        const t0 = performance.now();
        step();
        per.push((performance.now() - t0) / 1000);
      }
      results.push({ batch: B, samplesPerSec: rate({ perCall: per }, B, 4) });
    } else {
      const r = measure(step, { seconds, warmSeconds: 0.5, minWarmIters: 1, minSamples: 3, minSampleMs: 1 });
      results.push({ batch: B, samplesPerSec: rate(r, B, 4) });
    }
  } catch (e) {
    results.push({ batch: B, error: String(e.message ?? e).split('\n')[0] });
  }
}
console.log(JSON.stringify({ system: `tfjs-${backend}`, tfjs: tf.version.tfjs, results }));
