// How close Trainer.fit comes to what its GEMMs allow, one thread, steady state: the reference
// model's GEMMs of one training step at batch B (forward nt, weight-gradient tn, input-gradient nn
// of every linear layer) are timed alone on the same kernels in the same run; their FLOPs per
// sample over that time give the samples/s the GEMMs alone allow; fit's rate (an epoch of a model
// that has trained two) is divided by it.
// Usage: node --experimental-wasm-relaxed-simd bench/efficiency.mjs [--batch 128] [--rows 60000] [--rounds 3]
import { cpus } from 'node:os';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const B = arg('batch', 128),
  ROWS = arg('rows', 60000),
  ROUNDS = arg('rounds', 3);
const { VAE, Trainer, loadMnist, loadKernels } = await import('../dist/node.js');

// (in, out) of the reference model's linear layers: fc1, fc21 (μ), fc22 (log σ²), fc3, fc4
const LAYERS = [
  [784, 400],
  [400, 20],
  [400, 20],
  [20, 400],
  [400, 784],
];
// the input-gradient GEMM runs for every layer but the first (no gradient for the data)
const flopsPerSample = LAYERS.reduce((s, [i, o], k) => s + 2 * i * o * (k === 0 ? 2 : 3), 0);

async function gemmSeconds() {
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
  return times.sort((a, b) => a - b)[7];
}

const { train } = await loadMnist();
const x = train.x.subarray(0, ROWS * 784);
const rows = [];
for (let r = 0; r < ROUNDS; r++) {
  const gemm = await gemmSeconds();
  const allowed = B / gemm;
  const vae = await VAE.create({ inputDim: 784, encoder: [400], latentDim: 20, seed: 1, threads: 1 });
  const t = new Trainer(vae, { batchSize: B });
  await t.fit(x, { epochs: 2 });
  const h = await t.fit(x, { epochs: 1 });
  const fit = h.epochs[0].samplesPerSec;
  rows.push({ gemmGflops: (flopsPerSample * B) / gemm / 1e9, allowed, fit, ratio: fit / allowed });
  console.log(
    `round ${r + 1}: GEMMs alone ${rows.at(-1).gemmGflops.toFixed(1)} GFLOP/s → ${allowed.toFixed(0)} samples/s allowed; fit ${fit.toFixed(0)} samples/s: ${(fit / allowed).toFixed(3)}`,
  );
}
const med = (k) => rows.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rows.length / 2)];
console.log(
  `${cpus()[0]?.model}, batch ${B}, ${ROWS} rows, one thread: fit at ${med('ratio').toFixed(3)} of the rate its GEMMs allow (median of ${ROUNDS}; target ≥ 0.85)`,
);
