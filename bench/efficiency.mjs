// How close Trainer.fit comes to what its GEMMs allow, one thread, steady state: the reference
// model's GEMMs of one training step at batch B (forward nt, weight-gradient tn, input-gradient nn
// of every linear layer) are timed alone on the same kernels in the same run (lib/train.mjs
// gemmsAlone); their FLOPs per sample over that time give the samples/s the GEMMs alone allow; fit's
// rate (an epoch of a model that has trained two) is divided by it. `npm run bench` reports the same
// figure in its training part; this runs it alone.
// Usage: node --experimental-wasm-relaxed-simd bench/efficiency.mjs [--batch 128] [--rows 60000] [--rounds 3]
import { cpus } from 'node:os';
import { gemmsAlone, mnistRows, MODEL, steadyEpoch } from './lib/train.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const B = arg('batch', 128),
  ROWS = arg('rows', 60000),
  ROUNDS = arg('rounds', 3);
const { VAE, Trainer } = await import('../dist/node.js');

const { x } = await mnistRows(ROWS);
const vae = await VAE.create({ ...MODEL, threads: 1 });
const t = new Trainer(vae, { batchSize: B });
await t.fit(x, { epochs: 2 });
const snapshot = t.save();
vae.dispose();
const rows = [];
for (let r = 0; r < ROUNDS; r++) {
  const g = await gemmsAlone(B);
  const fit = (await steadyEpoch(snapshot, x, 1)).rate;
  rows.push({ gemmGflops: g.gflops, allowed: g.allowed, fit, ratio: fit / g.allowed });
  console.log(
    `round ${r + 1}: GEMMs alone ${g.gflops.toFixed(1)} GFLOP/s → ${g.allowed.toFixed(0)} samples/s allowed; fit ${fit.toFixed(0)} samples/s: ${(fit / g.allowed).toFixed(3)}`,
  );
}
const med = (k) => rows.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rows.length / 2)];
console.log(
  `${cpus()[0]?.model}, batch ${B}, ${ROWS} rows, one thread: fit at ${med('ratio').toFixed(3)} of the rate its GEMMs allow (median of ${ROUNDS}; target ≥ 0.85)`,
);
