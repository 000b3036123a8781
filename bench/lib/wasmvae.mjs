// wasm-vae on the reference model, for the Node runner and the browser page alike: the library
// classes are passed in (`lib` = { Network, Optimizer }, from dist/node.js in Node or dist/index.js
// in the page) so this file has no imports of its own but refmodel.mjs.
import { LAYERS, X_SEED, initLinear, uniform } from './refmodel.mjs';

/** PyTorch examples/vae: 784-400-20-400-784, ReLU, Bernoulli likelihood on logits. */
export const REF_CONFIG = {
  inputDim: 784,
  encoder: [400],
  latentDim: 20,
  decoder: [400],
  activation: 'relu',
  likelihood: 'bernoulli',
};

/**
 * A Network at capacity `batch` with the peers' initial parameters (bench/lib/refmodel.mjs), the
 * peers' input batch in 'x', an Adam(1e-3) optimizer, and the sampling stream seeded.
 */
export function makeReference(lib, kernels, batch, seed = 1) {
  const net = new lib.Network(kernels, lib.resolveModelConfig(REF_CONFIG), {
    dataRows: batch,
    sampleRows: batch,
  });
  const layers = net.linears; // file order: fc1, fc21 (μ), fc22 (log σ²), fc3, fc4
  LAYERS.forEach(([name, fin, fout], k) => {
    const l = layers[k];
    if (l.inDim !== fin || l.outDim !== fout)
      throw new Error(`layer ${name}: wasm-vae has ${l.inDim}→${l.outDim}, expected ${fin}→${fout}`);
    const { w, b } = initLinear(k, fin, fout);
    net.view(l.weight).set(w); // both (out, in)
    net.view(l.bias).set(b);
  });
  kernels.exports.rng_seed(net.rngState(0), seed >>> 0, 0);
  net.actView('x', batch * 784).set(uniform(X_SEED, batch * 784));
  const optim = new lib.Optimizer(net, { name: 'adam', lr: 1e-3 });
  return { net, optim };
}

/** One training step as Trainer.fit runs it: draw ε, forward + loss + backward (which writes the gradients), Adam. */
export function stepFn(net, optim, batch) {
  let last = NaN;
  const fn = () => {
    net.sampleEps(batch, 1);
    last = net.loss(batch, 1).loss;
    optim.step();
  };
  return { fn, lastLoss: () => last };
}

/** The peers' deterministic check: batch 32, ε = 0, loss before Adam steps 1..4. */
export function checkLosses(lib, kernels) {
  const batch = 32;
  const { net, optim } = makeReference(lib, kernels, batch);
  const losses = [];
  for (let i = 0; i < 4; i++) {
    net.zeroGrad();
    net.actView('eps', batch * 20).fill(0);
    losses.push(net.loss(batch, 1).loss);
    optim.step();
  }
  return { batch, eps: 0, lossPerStep: losses, note: 'loss before Adam steps 1..4 (index 0 = at init)' };
}
