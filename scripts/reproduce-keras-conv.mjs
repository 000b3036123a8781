// npm run reproduce:keras-conv — trains Keras-io's convolutional VAE (PRESETS.kerasIoConv: latent 2,
// ReLU, Bernoulli from logits on [0, 1] MNIST pixels, Adam lr 1e-3, batch 128, summed loss, seed 1)
// for 30 epochs (the example's), prints test −ELBO per epoch (nats per image, one z sample), wall
// time and samples/s, runs the same architecture in PyTorch on the same cores in the same run
// (bench/pytorch_keras_conv_mnist.py, Debian's /usr/bin/python3) unless --no-pytorch, and writes
// bench/results/reproduce-keras-conv.json.
// Usage: node --experimental-wasm-relaxed-simd scripts/reproduce-keras-conv.mjs [--epochs N] [--threads N] [--no-pytorch]
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { VAE, Trainer, loadMnist, PRESETS } from '../dist/node.js';
import { mnistDataDir } from '../dist/data/node.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    epochs: { type: 'string' },
    threads: { type: 'string' },
    json: { type: 'string' },
    'no-pytorch': { type: 'boolean' },
  },
});
const EPOCHS = Number(values.epochs ?? 30),
  THREADS = values.threads === undefined ? 'auto' : Number(values.threads);
if (!Number.isSafeInteger(EPOCHS) || EPOCHS < 1)
  throw new Error(`--epochs must be a positive integer, got ${values.epochs}`);
const jsonOut = resolve(values.json ?? `${root}/bench/results/reproduce-keras-conv.json`);

const t0 = performance.now();
const { train, test } = await loadMnist();
const vae = await VAE.create({ ...PRESETS.kerasIoConv, seed: 1, threads: THREADS });
const trainer = new Trainer(vae, { optimizer: { name: 'adam', lr: 1e-3 }, batchSize: 128, reduction: 'sum' });
process.stderr.write(
  `training ${EPOCHS} epochs of Keras-io's conv VAE on MNIST (${vae.build} build, ${vae.threads} threads)\n`,
);
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

let pytorch = null;
if (!values['no-pytorch']) {
  process.stderr.write(`the same in PyTorch (${Math.min(os.cpus().length, Number(vae.threads))} threads)\n`);
  try {
    pytorch = JSON.parse(
      execFileSync(
        '/usr/bin/python3',
        [
          `${root}/bench/pytorch_keras_conv_mnist.py`,
          '--epochs',
          String(EPOCHS),
          '--threads',
          String(vae.threads),
          '--dir',
          mnistDataDir(),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 },
      ).toString(),
    );
  } catch (e) {
    pytorch = { error: String(e.message).split('\n')[0] };
  }
}
const rows = history.epochs.map((r, i) => ({
  epoch: r.epoch,
  trainLoss: r.loss,
  testLoss: r.valLoss,
  seconds: r.seconds,
  samplesPerSec: r.samplesPerSec,
  pytorchTestLoss: pytorch?.epochs?.[i]?.testLoss ?? null,
  pytorchSeconds: pytorch?.epochs?.[i]?.seconds ?? null,
}));
const f = (v, d = 2) => (v === null ? '—' : v.toFixed(d));
console.log(
  [
    '| epoch | train −ELBO | test −ELBO | s | PyTorch test −ELBO | PyTorch s |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.epoch} | ${f(r.trainLoss)} | ${f(r.testLoss)} | ${f(r.seconds, 1)} | ${f(r.pytorchTestLoss)} | ${f(r.pytorchSeconds, 1)} |`,
    ),
  ].join('\n'),
);
console.log(
  `\nwasm-vae: wall time ${wall.toFixed(1)} s (training ${trainSeconds.toFixed(1)} s), ${Math.round((EPOCHS * train.rows) / trainSeconds)} samples/s, ` +
    `${vae.build} build, ${vae.threads} threads, ${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'}, Node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}` +
    (pytorch?.epochs
      ? `\nPyTorch ${pytorch.torch}: ${pytorch.samplesPerSec} samples/s, ${pytorch.threads} threads`
      : pytorch
        ? `\nPyTorch: ${pytorch.error}`
        : ''),
);
mkdirSync(dirname(jsonOut), { recursive: true });
writeFileSync(
  jsonOut,
  JSON.stringify(
    {
      name: 'reproduce-keras-conv',
      date: new Date().toISOString(),
      build: vae.build,
      threads: vae.threads,
      cpu: os.cpus()[0]?.model,
      loadAverage: os.loadavg(),
      wallSeconds: wall,
      trainSeconds,
      epochs: rows,
      pytorch,
    },
    null,
    2,
  ) + '\n',
);
vae.dispose();
