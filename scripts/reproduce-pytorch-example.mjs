// npm run reproduce:pytorch-example — trains PyTorch's examples/vae configuration (784-400-20,
// ReLU, Bernoulli on [0, 1] MNIST pixels, Adam lr 1e-3, batch 128, seed 1, sum reduction, one z
// sample per image for training and test) for 10 epochs, prints a markdown table next to PyTorch's
// reference test −ELBO, and writes bench/results/reproduce-pytorch-example.json.
// Usage: node --experimental-wasm-relaxed-simd scripts/reproduce-pytorch-example.mjs [--epochs N] [--json PATH]
import os from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { VAE, Trainer, loadMnist } from '../dist/node.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { epochs: { type: 'string' }, json: { type: 'string' } } });
const EPOCHS = Number(values.epochs ?? 10);
if (!Number.isSafeInteger(EPOCHS) || EPOCHS < 1)
  throw new Error(`--epochs must be a positive integer, got ${values.epochs}`);
const jsonOut = resolve(values.json ?? `${root}/bench/results/reproduce-pytorch-example.json`);

// Test −ELBO (nats per image) printed by `python main.py` of pytorch/examples/vae; only these two are known.
const PYTORCH_TEST = { 1: 127.5, 10: 105.7 };

const t0 = performance.now();
const { train, test } = await loadMnist();
const config = {
  inputDim: 784,
  encoder: [400],
  latentDim: 20,
  activation: 'relu',
  likelihood: 'bernoulli',
  seed: 1,
};
const vae = await VAE.create(config);
const trainer = new Trainer(vae, { optimizer: { name: 'adam', lr: 1e-3 }, batchSize: 128, reduction: 'sum' });
process.stderr.write(`training ${EPOCHS} epochs of 784-400-20 on MNIST (${vae.build} build)\n`);
const history = await trainer.fit(train.x, {
  epochs: EPOCHS,
  validationData: test.x,
  validationSamples: 1,
  onEpochEnd: (r) =>
    process.stderr.write(
      `  epoch ${r.epoch}: train ${r.loss.toFixed(2)}  test ${r.valLoss.toFixed(2)}  (${r.seconds.toFixed(1)} s)\n`,
    ),
});
const wall = (performance.now() - t0) / 1000;
const trainSeconds = history.epochs.reduce((s, r) => s + r.seconds, 0);
const samplesPerSec = (history.epochs.length * train.rows) / trainSeconds;

const rows = history.epochs.map((r) => ({
  epoch: r.epoch,
  trainLoss: r.loss,
  testLoss: r.valLoss,
  testReconstruction: r.valReconstruction,
  testKl: r.valKl,
  pytorchTestLoss: PYTORCH_TEST[r.epoch] ?? null,
  seconds: r.seconds,
  samplesPerSec: r.samplesPerSec,
}));
const lines = [
  '| epoch | train −ELBO | test −ELBO | PyTorch test −ELBO |',
  '| ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.epoch} | ${r.trainLoss.toFixed(2)} | ${r.testLoss.toFixed(2)} | ${r.pytorchTestLoss === null ? '—' : r.pytorchTestLoss.toFixed(1)} |`,
  ),
];
console.log(lines.join('\n'));
console.log(
  `\nwall time ${wall.toFixed(1)} s (training ${trainSeconds.toFixed(1)} s), ${Math.round(samplesPerSec)} samples/s, ` +
    `${vae.build} build, ${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'}, Node ${process.version}`,
);

mkdirSync(dirname(jsonOut), { recursive: true });
writeFileSync(
  jsonOut,
  JSON.stringify(
    {
      name: 'reproduce-pytorch-example',
      date: new Date().toISOString(),
      config: {
        ...config,
        optimizer: { name: 'adam', lr: 1e-3 },
        batchSize: 128,
        reduction: 'sum',
        epochs: EPOCHS,
        testSamplesPerImage: 1,
        data: 'MNIST [0,1] pixels, 60000 train / 10000 test',
      },
      build: vae.build,
      units: 'nats per image; −ELBO = reconstruction + KL',
      epochs: rows,
      wallSeconds: wall,
      trainSeconds,
      samplesPerSec,
      machine: {
        cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
        cores: os.availableParallelism?.() ?? os.cpus().length,
        node: process.version,
        platform: process.platform,
        arch: process.arch,
      },
    },
    null,
    2,
  ) + '\n',
);
console.log(`wrote ${jsonOut}`);
