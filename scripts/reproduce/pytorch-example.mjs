// pytorch-example: PyTorch's examples/vae (main.py) — 784-400-20, ReLU, Bernoulli on [0, 1] MNIST
// pixels, Adam lr 1e-3, batch 128, seed 1, summed loss, one z sample per test image, 10 epochs.
import { VAE, Trainer, loadMnist } from '../../dist/node.js';
import { lineChart } from '../../dist/cli/plot.js';
import { fmt, headRows } from './common.mjs';

export const title = "PyTorch's examples/vae";
export const usage = `--epochs N (default 10)`;
export const options = { epochs: { type: 'string' } };

// Test −ELBO (nats per image) printed by `python main.py` of pytorch/examples/vae; only these two are known.
const PYTORCH_TEST = { 1: 127.5, 10: 105.7 };
const PROTOCOL_EPOCHS = 10;

export async function run(ctx) {
  const epochs = ctx.number(ctx.args.epochs, 'epochs', ctx.quick ? 2 : PROTOCOL_EPOCHS, { integer: true });
  const seed = ctx.seed ?? 1;
  const mnist = await loadMnist();
  const train = ctx.quick ? headRows(mnist.train, 10_000) : mnist.train;
  const test = ctx.quick ? headRows(mnist.test, 2_000) : mnist.test;
  const model = {
    inputDim: 784,
    encoder: [400],
    latentDim: 20,
    activation: 'relu',
    likelihood: 'bernoulli',
    seed,
  };
  const trainerOptions = { optimizer: { name: 'adam', lr: 1e-3 }, batchSize: 128, reduction: 'sum' };
  const vae = await VAE.create({ ...model, threads: ctx.threads });
  const trainer = new Trainer(vae, trainerOptions);
  const bar = ctx.progress(epochs * train.rows);
  const history = await trainer.fit(train.x, {
    epochs,
    validationData: test.x,
    validationSamples: 1,
    signal: ctx.budget.signal,
    onBatchEnd: (b) =>
      bar.update(
        (b.epoch - 1) * train.rows + Math.min(b.batch * 128, train.rows),
        `epoch ${b.epoch}`,
        b.samplesPerSec,
      ),
    onEpochEnd: (r) =>
      bar.log(`  epoch ${r.epoch}: train ${fmt(r.loss)}  test ${fmt(r.valLoss)}  (${fmt(r.seconds, 1)} s)`),
  });
  bar.stop();
  const points = history.epochs.map((r) => ({
    epoch: r.epoch,
    trainLoss: r.loss,
    testLoss: r.valLoss,
    testReconstruction: r.valReconstruction,
    testKl: r.valKl,
    pytorchTestLoss: PYTORCH_TEST[r.epoch] ?? null,
    seconds: r.seconds,
    samplesPerSec: r.samplesPerSec,
  }));
  const reasons = [];
  if (history.stopReason === 'aborted')
    reasons.push(`${ctx.budget.reason} after ${points.length} of ${epochs} epochs`);
  if (epochs < PROTOCOL_EPOCHS) reasons.push(`--epochs ${epochs} of the example's ${PROTOCOL_EPOCHS}`);
  const modelFile = await ctx.saveModel(vae);
  const result = {
    protocol: {
      source: 'pytorch/examples vae/main.py',
      model: '784-400-20 / 20-400-784, ReLU, Bernoulli decoder (BCE on [0, 1] pixels, not binarized)',
      optimizer: 'Adam lr 1e-3',
      batchSize: 128,
      epochs: PROTOCOL_EPOCHS,
      seed: 1,
      loss: 'sum over the minibatch of BCE + KL, reported as nats per image',
      evaluation: 'test −ELBO after each epoch, one z sample per test image',
    },
    deviations: [
      'initialisation and random streams are wasm-vae’s own (same distributions as torch.nn.Linear’s default), so no bit-level match is expected',
    ],
    config: {
      model,
      trainer: trainerOptions,
      epochs,
      trainRows: train.rows,
      testRows: test.rows,
      data: 'MNIST [0,1] pixels',
    },
    seed,
    build: vae.build,
    threads: vae.threads,
    units: 'nats per image; −ELBO = reconstruction + KL',
    points,
    paper: { testLossByEpoch: PYTORCH_TEST },
    summary: { finalTestLoss: points.at(-1)?.testLoss ?? null },
    modelFile,
    samplesTrained: points.length * train.rows,
    trainSeconds: history.epochs.reduce((s, r) => s + r.seconds, 0),
    cutShortReasons: reasons,
  };
  vae.dispose();
  return result;
}

export function report(r) {
  const lines = [
    `PyTorch's examples/vae configuration (784-400-20, ReLU, Bernoulli on [0, 1] pixels, Adam 1e-3, batch 128, summed loss), ${r.config.trainRows.toLocaleString('en-US')} training images, test −ELBO on ${r.config.testRows.toLocaleString('en-US')} test images with one z sample each.`,
    '',
    '| epoch | train −ELBO | test −ELBO | PyTorch test −ELBO |',
    '| ---: | ---: | ---: | ---: |',
    ...r.points.map(
      (p) =>
        `| ${p.epoch} | ${fmt(p.trainLoss)} | ${fmt(p.testLoss)} | ${p.pytorchTestLoss === null ? '—' : fmt(p.pytorchTestLoss, 1)} |`,
    ),
  ];
  const series = [
    ...r.points.map((p) => ({ x: p.epoch, y: p.trainLoss, series: 'wasm-vae train' })),
    ...r.points.map((p) => ({ x: p.epoch, y: p.testLoss, series: 'wasm-vae test' })),
    ...r.points
      .filter((p) => p.pytorchTestLoss !== null)
      .map((p) => ({ x: p.epoch, y: p.pytorchTestLoss, series: 'PyTorch test' })),
  ];
  return {
    markdown: lines.join('\n'),
    charts: [
      {
        alt: 'train and test −ELBO per epoch against PyTorch',
        spec: lineChart(series, {
          title: "PyTorch's examples/vae on wasm-vae",
          xTitle: 'epoch',
          yTitle: '−ELBO (nats per image)',
        }),
      },
    ],
  };
}
