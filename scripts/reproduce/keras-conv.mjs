// keras-conv: Keras-io's convolutional VAE example (https://keras.io/examples/generative/vae/) on
// MNIST: PRESETS.kerasIoConv (28×28 → conv 32 → conv 64 → dense 16 → z 2 → dense 3136 → deconv 64
// → deconv 32 → 3×3 deconv head, ReLU), Bernoulli from logits on [0, 1] pixels, Adam lr 1e-3, batch
// 128, summed loss, 30 epochs; test −ELBO after every epoch with one z sample per image. The same
// architecture is trained in PyTorch on the same cores in the same run
// (bench/pytorch_keras_conv_mnist.py, Debian's /usr/bin/python3): by default beside wasm-vae, each
// on its own half of the cores, so the two see the same machine at the same time.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { VAE, Trainer, loadMnist, PRESETS } from '../../dist/node.js';
import { mnistDataDir } from '../../dist/data/node.js';
import { lineChart } from '../../dist/cli/plot.js';
import { fmt, headRows, int, writeText } from './common.mjs';

export const title = "Keras-io's convolutional VAE (MNIST), against PyTorch";
export const usage =
  '--epochs N (default 30) --pytorch beside|after|off (default beside: PyTorch trains at the same time, ' +
  'each on --threads threads, by default half the cores; after: once wasm-vae is done, on its threads) ' +
  '--python PATH (default /usr/bin/python3)';
export const options = {
  epochs: { type: 'string' },
  pytorch: { type: 'string' },
  python: { type: 'string' },
};

const PROTOCOL_EPOCHS = 30;
const PYTORCH_MODES = ['beside', 'after', 'off'];

/** Runs bench/pytorch_keras_conv_mnist.py; resolves to its JSON, or { error }. Progress lines go to `log`. */
function runPytorch(python, script, args, log) {
  return new Promise((resolve) => {
    let out = '',
      err = '',
      line = '';
    let child;
    try {
      child = spawn(python, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      resolve({ error: String(e.message) });
      return;
    }
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => {
      err += d;
      line += d;
      const parts = line.split('\n');
      line = parts.pop();
      for (const p of parts) if (p.trim()) log(p);
    });
    child.on('error', (e) => resolve({ error: `${python}: ${e.message}` }));
    child.on('close', (code) => {
      if (code !== 0) resolve({ error: `exit ${code}: ${err.trim().split('\n').at(-1) ?? ''}` });
      else
        try {
          resolve(JSON.parse(out));
        } catch {
          resolve({ error: `no JSON on stdout: ${out.slice(0, 200)}` });
        }
    });
  });
}

export async function run(ctx) {
  const epochs = ctx.number(ctx.args.epochs, 'epochs', ctx.quick ? 2 : PROTOCOL_EPOCHS, { integer: true });
  const mode = ctx.args.pytorch ?? 'beside';
  if (!PYTORCH_MODES.includes(mode))
    ctx.fail(`--pytorch must be one of ${PYTORCH_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  const python = ctx.args.python ?? '/usr/bin/python3';
  const cores = cpus().length;
  // beside: by default each system gets half the cores (at least one thread); otherwise wasm-vae takes --threads
  const threads =
    ctx.threads === 'auto' ? (mode === 'beside' ? Math.max(1, Math.floor(cores / 2)) : 'auto') : ctx.threads;
  const seed = ctx.seed ?? 1;
  const mnist = await loadMnist();
  const train = ctx.quick ? headRows(mnist.train, 1_000) : mnist.train;
  const test = ctx.quick ? headRows(mnist.test, 500) : mnist.test;
  const model = { ...PRESETS.kerasIoConv, seed };
  const trainerOptions = { optimizer: { name: 'adam', lr: 1e-3 }, batchSize: 128, reduction: 'sum' };

  // checkpoints after every epoch: the trainer (weights, Adam state, RNG) and the epochs so far, and
  // PyTorch's own (bench/pytorch_keras_conv_mnist.py --checkpoint); --resume continues both
  const ckpt = ctx.checkpoint();
  const planned = { model, trainerOptions, trainRows: train.rows, testRows: test.rows, pytorch: mode };
  const saved = ctx.resumed(ckpt, planned);
  if (!saved) rmSync(`${ckpt}.pt`, { force: true });
  const trainer = saved
    ? await Trainer.resume(readFileSync(`${ckpt}.safetensors`), { threads })
    : new Trainer(await VAE.create({ ...model, threads }), trainerOptions);
  const vae = trainer.vae;
  const st = saved?.state ?? { points: [] };
  // PyTorch gets as many threads as wasm-vae (beside: the other half of the cores)
  const pyThreads = vae.threads;

  const bar = ctx.progress(Math.max(0, epochs - trainer.epoch) * train.rows, 'keras-conv');
  const pyArgs = [
    '--dir',
    mnistDataDir(),
    '--epochs',
    String(epochs),
    '--threads',
    String(pyThreads),
    '--train-rows',
    String(train.rows),
    '--test-rows',
    String(test.rows),
    '--checkpoint',
    `${ckpt}.pt`,
    ...(existsSync(`${ckpt}.pt`) && ctx.resume ? ['--resume'] : []),
  ];
  const script = join(ctx.root, 'bench/pytorch_keras_conv_mnist.py');
  const t0 = performance.now();
  const startPytorch = () =>
    runPytorch(
      python,
      script,
      [
        ...pyArgs,
        ...(ctx.budget.seconds
          ? ['--time-budget', String(Math.max(1, ctx.budget.seconds - (performance.now() - t0) / 1000))]
          : []),
      ],
      (l) => bar.log(l),
    );
  const pytorchBeside = mode === 'beside' ? startPytorch() : null;

  const startEpoch = trainer.epoch;
  const history =
    epochs > startEpoch
      ? await trainer.fit(train.x, {
          epochs: epochs - startEpoch,
          validationData: test.x,
          validationSamples: 1,
          signal: ctx.budget.signal,
          onBatchEnd: (b) =>
            bar.update(
              (b.epoch - 1 - startEpoch) * train.rows + Math.min(b.batch * 128, train.rows),
              `epoch ${b.epoch}/${epochs}`,
              b.samplesPerSec,
            ),
          onEpochEnd: async (r) => {
            st.points.push({
              epoch: r.epoch,
              trainLoss: r.loss,
              testLoss: r.valLoss,
              testReconstruction: r.valReconstruction,
              testKl: r.valKl,
              seconds: r.seconds,
              samplesPerSec: r.samplesPerSec,
            });
            bar.log(
              `  wasm-vae epoch ${r.epoch}: train ${fmt(r.loss)}  test ${fmt(r.valLoss)}  (${fmt(r.seconds, 1)} s)`,
            );
            await writeText(`${ckpt}.safetensors`, trainer.save());
            await writeText(`${ckpt}.json`, JSON.stringify({ planned, state: st }) + '\n');
          },
        })
      : null;
  bar.stop();
  if (pytorchBeside) bar.log('  waiting for PyTorch');
  const pytorch = mode === 'off' ? null : await (pytorchBeside ?? startPytorch());

  const points = st.points.map((p) => {
    const q = pytorch?.epochs?.find((e) => e.epoch === p.epoch);
    return {
      ...p,
      pytorchTrainLoss: q?.trainLoss ?? null,
      pytorchTestLoss: q?.testLoss ?? null,
      pytorchSeconds: q?.seconds ?? null,
    };
  });
  // PyTorch epochs past wasm-vae's (a budget can stop the two at different epochs)
  for (const q of pytorch?.epochs ?? [])
    if (!points.some((p) => p.epoch === q.epoch))
      points.push({
        epoch: q.epoch,
        trainLoss: null,
        testLoss: null,
        seconds: null,
        samplesPerSec: null,
        pytorchTrainLoss: q.trainLoss,
        pytorchTestLoss: q.testLoss,
        pytorchSeconds: q.seconds,
      });
  const reasons = [];
  if (history?.stopReason === 'aborted')
    reasons.push(`${ctx.budget.reason} after ${st.points.length} of ${epochs} wasm-vae epochs`);
  if (pytorch?.stopReason === 'time budget')
    reasons.push(`PyTorch stopped by the same budget after ${pytorch.epochs.length} epochs`);
  if (pytorch?.error) reasons.push(`PyTorch did not run: ${pytorch.error}`);
  if (epochs < PROTOCOL_EPOCHS) reasons.push(`--epochs ${epochs} of the example's ${PROTOCOL_EPOCHS}`);
  const modelFile = await ctx.saveModel(vae);
  const wasmLast = st.points.at(-1) ?? null,
    pyLast = pytorch?.epochs?.at(-1) ?? null;
  const wasmSeconds = st.points.reduce((s, p) => s + p.seconds, 0);
  const result = {
    protocol: {
      source: 'https://keras.io/examples/generative/vae/ (keras-io examples/generative/vae.py)',
      model: `PRESETS.kerasIoConv: ${vae.parameterCount.toLocaleString('en-US')} parameters, latent 2, ReLU, Bernoulli from logits`,
      optimizer: 'Adam lr 1e-3',
      batchSize: 128,
      epochs: PROTOCOL_EPOCHS,
      loss: 'sum over the minibatch of BCE + KL, reported as nats per image',
      evaluation: 'test −ELBO after each epoch, one z sample per test image',
      peer: `bench/pytorch_keras_conv_mnist.py (the model of bench/pytorch_conv_step.py), ${mode === 'beside' ? 'at the same time, with as many threads as wasm-vae' : mode === 'after' ? 'after wasm-vae, on the same threads' : 'not run'}`,
    },
    deviations: [
      'Keras-io trains on train + test images (70,000) and reports no test loss; here the 60,000 training images train and the 10,000 test images evaluate, as the other reproductions do',
      'Keras-io sums the BCE over pixels and averages the loss over the minibatch; here (and in PyTorch’s examples/vae) it is summed over the minibatch: the same gradient direction, and Adam’s step does not depend on a constant factor except through its ε',
      'initialisation and random streams are each library’s own (PyTorch’s default layer init in both), so no bit-level match is expected',
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
    pytorch: pytorch && {
      torch: pytorch.torch ?? null,
      threads: pytorch.threads ?? pyThreads,
      mode,
      samplesPerSec: pytorch.samplesPerSec ?? null,
      trainSeconds: pytorch.trainSeconds ?? null,
      error: pytorch.error ?? null,
    },
    summary: {
      wasmVaeFinalTestLoss: wasmLast?.testLoss ?? null,
      wasmVaeEpochs: st.points.length,
      pytorchFinalTestLoss: pyLast?.testLoss ?? null,
      pytorchEpochs: pytorch?.epochs?.length ?? 0,
      wasmVaeSamplesPerSec: wasmSeconds > 0 ? (st.points.length * train.rows) / wasmSeconds : null,
      pytorchSamplesPerSec: pytorch?.samplesPerSec ?? null,
    },
    modelFile,
    checkpoint: `${ckpt}.{safetensors,json,pt}`,
    resumedAtEpoch: saved ? startEpoch : null,
    samplesTrained: st.points.length * train.rows,
    trainSeconds: wasmSeconds,
    cutShortReasons: reasons,
  };
  vae.dispose();
  return result;
}

export function report(r) {
  const s = r.summary,
    py = r.pytorch;
  const speed =
    s.wasmVaeSamplesPerSec && s.pytorchSamplesPerSec
      ? ` Training speed: wasm-vae ${int(s.wasmVaeSamplesPerSec)} samples/s on ${r.threads} thread${r.threads === 1 ? '' : 's'}, PyTorch ${py.torch} ${int(s.pytorchSamplesPerSec)} samples/s on ${py.threads} (${fmt(s.wasmVaeSamplesPerSec / s.pytorchSamplesPerSec)}×), ${py.mode === 'beside' ? 'trained at the same time' : 'one after the other'}.`
      : '';
  const lines = [
    `Keras-io's convolutional VAE (\`PRESETS.kerasIoConv\`, latent 2, Bernoulli from logits on [0, 1] pixels, Adam 1e-3, batch 128, summed loss), ${int(r.config.trainRows)} training images, test −ELBO on ${int(r.config.testRows)} test images with one z sample each, beside the same architecture in PyTorch (\`bench/pytorch_keras_conv_mnist.py\`).`,
    '',
    '| epoch | train −ELBO | test −ELBO | s | PyTorch train −ELBO | PyTorch test −ELBO | PyTorch s |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.points.map(
      (p) =>
        `| ${p.epoch} | ${fmt(p.trainLoss)} | ${fmt(p.testLoss)} | ${fmt(p.seconds, 1)} | ${fmt(p.pytorchTrainLoss)} | ${fmt(p.pytorchTestLoss)} | ${fmt(p.pytorchSeconds, 1)} |`,
    ),
    '',
    `Reached: test −ELBO ${fmt(s.wasmVaeFinalTestLoss)} for wasm-vae after ${s.wasmVaeEpochs} epochs, ${fmt(s.pytorchFinalTestLoss)} for PyTorch after ${s.pytorchEpochs}${py?.error ? ` (PyTorch: ${py.error})` : ''}.${speed}`,
  ];
  const series = [
    ...r.points
      .filter((p) => p.testLoss !== null)
      .map((p) => ({ x: p.epoch, y: p.testLoss, series: 'wasm-vae test' })),
    ...r.points
      .filter((p) => p.trainLoss !== null)
      .map((p) => ({ x: p.epoch, y: p.trainLoss, series: 'wasm-vae train' })),
    ...r.points
      .filter((p) => p.pytorchTestLoss !== null)
      .map((p) => ({ x: p.epoch, y: p.pytorchTestLoss, series: 'PyTorch test' })),
    ...r.points
      .filter((p) => p.pytorchTrainLoss !== null)
      .map((p) => ({ x: p.epoch, y: p.pytorchTrainLoss, series: 'PyTorch train' })),
  ];
  return {
    markdown: lines.join('\n'),
    charts: [
      {
        alt: 'train and test −ELBO per epoch, wasm-vae and PyTorch',
        spec: lineChart(series, {
          title: "Keras-io's conv VAE: wasm-vae and PyTorch",
          xTitle: 'epoch',
          yTitle: '−ELBO (nats per image)',
        }),
      },
    ],
  };
}
