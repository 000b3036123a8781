// The reference model's deterministic data, shared by every system in the benchmark (wasm-vae in
// Node and in the browser, the TensorFlow.js peer, and — reimplemented with numpy — the PyTorch
// peer bench/pytorch_step.py), so that all of them train the same parameters on the same inputs.
// No imports: this file is bundled into the browser bench page as well.

/**
 * Counter-based mulberry32: value i of stream `seed` is mulberry32 state seed+(i+1)*0x6D2B79F5.
 * bench/pytorch_step.py implements the same function with numpy (bit-identical output).
 */
export function uniform(seed, n) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let t = (seed + Math.imul(i + 1, 0x6d2b79f5)) | 0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return out;
}

/** Seed of the input batch x (uniform in [0, 1)). */
export const X_SEED = 1;

/** name, in, out — the PyTorch examples/vae layers, in the order (and with the seeds) of both peers. */
export const LAYERS = [
  ['fc1', 784, 400],
  ['fc21', 400, 20],
  ['fc22', 400, 20],
  ['fc3', 20, 400],
  ['fc4', 400, 784],
];

/** PyTorch nn.Linear default init W (out,in), b ~ U(-1/sqrt(in), 1/sqrt(in)), from our generator. */
export function initLinear(k, fin, fout) {
  const bound = 1 / Math.sqrt(fin);
  const w = uniform(100 + k, fout * fin);
  for (let i = 0; i < w.length; i++) w[i] = (2 * w[i] - 1) * bound;
  const b = uniform(200 + k, fout);
  for (let i = 0; i < b.length; i++) b[i] = (2 * b[i] - 1) * bound;
  return { w, b };
}

/**
 * GEMM FLOPs of one training step per sample: 2·MACs each for forward, dW and dinp — except dinp of
 * fc1 (no gradient for the data). 3.28 MFLOP.
 */
export const STEP_FLOPS_PER_SAMPLE = 6 * LAYERS.reduce((s, [, i, o]) => s + i * o, 0) - 2 * 784 * 400;
