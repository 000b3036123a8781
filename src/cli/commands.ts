/**
 * The CLI's subcommands for a user's own data: `train`, `eval`, `sample`, `reconstruct`,
 * `encode` (`wasm-vae <command> --help` for each). `wasm-vae` with no command (npm start) stays
 * the MNIST run of main.ts. Output paths are checked before any work starts; plots go through
 * plot.ts (the one charting module).
 */
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { VAE } from '../vae.js';
import { Trainer, type EpochRecord, type TrainerOptions } from '../trainer.js';
import { ACTIVATIONS, LIKELIHOODS, type ModelOptions } from '../config.js';
import { writeFileAtomic } from '../io/node.js';
import { loadModel, resumeTrainer, saveModel } from '../node.js';
import { loadCliData, type CliData } from './data.js';
import { encodeGrayPng, imageGrid, scaleUp } from './png.js';
import {
  imageChart,
  lineChart,
  scatterChart,
  writeChart,
  type ImageLabel,
  type SeriesPoint,
} from './plot.js';

/** A bad command line: printed with a pointer to --help, exit code 1. */
export class UsageError extends Error {}

type Spec = Record<string, { type: 'string' | 'boolean'; short?: string; help: string; default?: string }>;

const COMMON: Spec = {
  seed: { type: 'string', help: 'seed for initialisation, shuffling and z samples', default: '1' },
  threads: { type: 'string', help: "kernel threads: a number or 'auto'", default: 'auto' },
  quiet: { type: 'boolean', short: 'q', help: 'print nothing but errors' },
  help: { type: 'boolean', short: 'h', help: 'print this help and exit' },
};
const DATA: Spec = {
  data: {
    type: 'string',
    help: 'mnist | fashion | IMAGES.idx[,LABELS.idx] | FILE.csv | a folder of PNG images',
  },
  'data-dir': { type: 'string', help: 'for mnist / fashion: read the four IDX files from DIR' },
  rows: { type: 'string', help: 'use the first N rows only (of each split)' },
  split: { type: 'string', help: 'for mnist / fashion: train or test', default: 'train' },
};
const MODEL: Spec = { model: { type: 'string', help: 'a model file written by train (model.safetensors)' } };

const COMMANDS: Record<string, { summary: string; spec: Spec }> = {
  train: {
    summary: 'train a VAE on your data; writes the model, loss curves and image plots to --out',
    spec: {
      ...DATA,
      out: { type: 'string', help: 'output folder (created; must be writable)', default: 'out' },
      epochs: { type: 'string', help: 'training epochs', default: '10' },
      'batch-size': { type: 'string', help: 'minibatch size', default: '128' },
      hidden: {
        type: 'string',
        help: 'encoder widths, comma-separated; the decoder mirrors them',
        default: '400',
      },
      latent: { type: 'string', help: 'latent dimensions', default: '20' },
      likelihood: {
        type: 'string',
        help: LIKELIHOODS.join(' | ') + ' (default: bernoulli for images, gaussian for CSV)',
      },
      sigma: { type: 'string', help: 'σ of the fixed gaussian likelihood', default: '1' },
      activation: { type: 'string', help: ACTIVATIONS.join(' | '), default: 'relu' },
      optimizer: { type: 'string', help: 'adam | adamw | adagrad | sgd', default: 'adam' },
      lr: { type: 'string', help: 'learning rate', default: '1e-3' },
      beta: { type: 'string', help: 'weight of the KL term (β-VAE)', default: '1' },
      'kl-warmup': { type: 'string', help: 'epochs over which β ramps up from 0', default: '0' },
      'free-bits': { type: 'string', help: 'free bits λ per latent unit (nats)', default: '0' },
      samples: { type: 'string', help: 'z samples per datapoint (L)', default: '1' },
      objective: { type: 'string', help: 'elbo | iwae', default: 'elbo' },
      binarize: {
        type: 'string',
        help: 'none | static | dynamic | threshold (bernoulli only)',
        default: 'none',
      },
      'validation-split': {
        type: 'string',
        help: 'fraction of rows held out (default: the test set of mnist/fashion, else 0.1)',
      },
      'early-stopping': {
        type: 'string',
        help: 'stop after N epochs without a better validation loss (restores the best)',
      },
      resume: { type: 'string', help: 'continue a trainer.safetensors written by an earlier train' },
      ...COMMON,
    },
  },
  eval: {
    summary: 'the ELBO (reconstruction and KL) and optionally log p(x) of data under a model',
    spec: {
      ...MODEL,
      ...DATA,
      samples: { type: 'string', help: 'z samples per datapoint for the ELBO', default: '1' },
      k: { type: 'string', help: 'also estimate log p(x) with k importance samples (IWAE L_k)' },
      json: { type: 'boolean', help: 'print the result as JSON' },
      ...COMMON,
    },
  },
  sample: {
    summary: 'decode draws z ~ N(0, I): an image grid (.png/.svg) or rows (.csv)',
    spec: {
      ...MODEL,
      n: { type: 'string', help: 'how many samples', default: '64' },
      out: { type: 'string', help: 'output file: .png or .svg (images) or .csv', default: 'samples.png' },
      shape: { type: 'string', help: 'image shape HxW (default: square)' },
      ...COMMON,
    },
  },
  reconstruct: {
    summary: 'inputs and their reconstructions: a labelled image grid (.png/.svg) or rows (.csv)',
    spec: {
      ...MODEL,
      ...DATA,
      n: { type: 'string', help: 'how many rows', default: '16' },
      out: { type: 'string', help: 'output file: .png, .svg or .csv', default: 'reconstructions.png' },
      ...COMMON,
    },
  },
  encode: {
    summary: 'posterior means and log-variances of each row, to CSV (and a latent scatter for 2-D)',
    spec: {
      ...MODEL,
      ...DATA,
      out: { type: 'string', help: 'output CSV file', default: 'latents.csv' },
      plot: { type: 'string', help: 'also write a scatter of the first two latent means (.png or .svg)' },
      ...COMMON,
    },
  },
};

export const COMMAND_NAMES = Object.keys(COMMANDS);

/** The --help text of a command. */
export function commandUsage(cmd: string): string {
  const { summary, spec } = COMMANDS[cmd];
  const lines = Object.entries(spec).map(([k, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${k}${o.type === 'string' ? ' X' : ''}`;
    return `  ${flag.padEnd(26)}${o.help}${o.default !== undefined ? ` (default ${o.default})` : ''}`;
  });
  return `Usage: wasm-vae ${cmd} [options]\n\n${summary[0].toUpperCase()}${summary.slice(1)}.\n\nOptions:\n${lines.join('\n')}\n`;
}

type Values = Record<string, string | boolean | undefined>;

/**
 * `--name -1` → `--name=-1` for the options that take a value, so that node:util's parseArgs
 * passes a negative number on to the range check instead of calling it an ambiguous option.
 */
export function joinNegativeValues(argv: string[], valued: readonly string[]): string[] {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : null;
    if (name && valued.includes(name) && /^-[\d.]/.test(argv[i + 1] ?? ''))
      args.push(`--${name}=${argv[++i]}`);
    else args.push(argv[i]);
  }
  return args;
}

/**
 * Parses a command's options. A value that starts with '-' followed by a digit (`--epochs -1`) is
 * the option's value, not another option, so it reaches the range check.
 */
export function parseCommand(cmd: string, argv: string[]): Values {
  const spec = COMMANDS[cmd].spec;
  const args = joinNegativeValues(
    argv,
    Object.keys(spec).filter((k) => spec[k].type === 'string'),
  );
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        Object.entries(spec).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}) }]),
      ),
    });
    const out: Values = {};
    for (const [k, o] of Object.entries(spec)) out[k] = (values as Values)[k] ?? o.default;
    return out;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function int(v: Values, name: string, min = 1): number {
  const s = v[name] as string;
  if (!/^\s*\d+\s*$/.test(s) || !Number.isSafeInteger(Number(s)) || Number(s) < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(s)}`);
  return Number(s);
}
function num(v: Values, name: string, min = 0, open = false): number {
  const s = v[name] as string,
    x = Number(s);
  if (s.trim() === '' || !Number.isFinite(x) || x < min || (open && x === min))
    throw new UsageError(`--${name} must be a number ${open ? '>' : '≥'} ${min}, got ${JSON.stringify(s)}`);
  return x;
}
function oneOf<T extends string>(v: Values, name: string, allowed: readonly T[]): T {
  const s = v[name] as string;
  if (!allowed.includes(s as T))
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(s)}`);
  return s as T;
}
function threads(v: Values): number | 'auto' {
  return v.threads === 'auto' ? 'auto' : int(v, 'threads');
}
function need(v: Values, name: string): string {
  const s = v[name];
  if (typeof s !== 'string' || s.trim() === '') throw new UsageError(`--${name} is required`);
  return s;
}

/** Fails at once unless `dir` is (or can be made) a writable folder. */
export async function checkOutDir(dir: string): Promise<void> {
  const st = await stat(dir).catch(() => null);
  if (st && !st.isDirectory()) throw new UsageError(`--out ${dir} is a file, not a folder`);
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (e) {
    throw new UsageError(
      `--out ${dir} is not a writable folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}

/** Fails at once unless `file`'s folder exists and is writable and `file` is not a folder. */
async function checkOutFile(file: string, exts: string[]): Promise<void> {
  if (!exts.some((e) => file.toLowerCase().endsWith(e)))
    throw new UsageError(`--out ${file} must end in ${exts.join(', ')}`);
  const st = await stat(file).catch(() => null);
  if (st?.isDirectory()) throw new UsageError(`--out ${file} is a folder, not a file`);
  try {
    await access(dirname(resolve(file)), constants.W_OK);
  } catch {
    throw new UsageError(
      `--out ${file}: the folder ${dirname(resolve(file))} does not exist or is not writable`,
    );
  }
}

async function data(v: Values): Promise<CliData> {
  let d = await loadCliData(need(v, 'data'), v['data-dir'] as string | undefined);
  if (oneOf(v, 'split', ['train', 'test'] as const) === 'test') {
    if (!d.test)
      throw new UsageError(`--split test: ${d.name} has no test split (only mnist and fashion do)`);
    d = { ...d, ...d.test, name: `${d.name} test`, test: undefined };
  }
  if (v.rows === undefined) return d;
  const n = Math.min(int(v, 'rows'), d.rows);
  const t = d.test && Math.min(n, d.test.rows); // the test split shortened alike
  return {
    ...d,
    rows: n,
    x: d.x.subarray(0, n * d.cols),
    labels: d.labels && Array.from(d.labels).slice(0, n),
    ...(d.test && t
      ? {
          test: {
            rows: t,
            x: d.test.x.subarray(0, t * d.cols),
            labels: d.test.labels && Array.from(d.test.labels).slice(0, t),
          },
        }
      : {}),
  };
}

function imageShape(cols: number, given?: string, known?: [number, number]): [number, number] | null {
  if (given) {
    const m = /^(\d+)x(\d+)$/i.exec(given);
    if (!m || Number(m[1]) * Number(m[2]) !== cols)
      throw new UsageError(`--shape ${given} must be HxW with H × W = ${cols}`);
    return [Number(m[1]), Number(m[2])];
  }
  if (known) return known;
  const s = Math.round(Math.sqrt(cols));
  return s * s === cols ? [s, s] : null;
}

/** A grid of images, scaled up for looking at, with a title and optional labels under each column. */
async function writeImageGrid(
  path: string,
  imgs: Float32Array,
  n: number,
  [h, w]: [number, number],
  cols: number,
  title: string,
  rowNames?: string[],
  tileLabels?: string[],
  tile = 56,
): Promise<void> {
  const k = Math.max(1, Math.round(tile / Math.max(h, w))); // tiles of about `tile` px
  const grid = scaleUp(imageGrid(imgs, n, h, w, cols), k);
  const tw = (w + 2) * k,
    th = (h + 2) * k;
  const labels: ImageLabel[] = [];
  rowNames?.forEach((t, r) =>
    labels.push({ x: -6, y: r * th + th / 2, text: t, align: 'right', baseline: 'middle' }),
  );
  // labels of the first row's tiles, above them
  tileLabels
    ?.slice(0, cols)
    .forEach((t, i) => labels.push({ x: i * tw + tw / 2, y: -3, text: t, baseline: 'bottom' }));
  const left = 10; // Vega's autosize (pad) makes room for the row names left of the image
  await writeChart(
    path,
    imageChart(encodeGrayPng(grid), grid.width, grid.height, {
      title,
      labels,
      padding: { left, top: tileLabels ? 24 : 10 },
    }),
  );
}

function csv(
  rows: number,
  cols: number,
  values: (r: number, c: number) => number | string,
  header: string[],
): string {
  const out = [header.join(',')];
  for (let r = 0; r < rows; r++) out.push(Array.from({ length: cols }, (_, c) => values(r, c)).join(','));
  return out.join('\n') + '\n';
}

/** Φ⁻¹(p), the standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.928510446969, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    );
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5,
    r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

type Log = (s: string) => void;

async function train(v: Values, log: Log, signal?: AbortSignal): Promise<number> {
  const out = resolve(v.out as string);
  await checkOutDir(out); // before loading or training anything
  const epochs = int(v, 'epochs'),
    batchSize = int(v, 'batch-size'),
    seed = int(v, 'seed', 0);
  const d = await data(v);
  const isImage = d.image !== undefined;
  // validation: the data's own test split, else a held-out tail of the rows
  let x = d.x,
    rows = d.rows,
    val: Float32Array | null = d.test?.x ?? null;
  if (v['validation-split'] !== undefined || !d.test) {
    const f = v['validation-split'] === undefined ? 0.1 : num(v, 'validation-split');
    if (!(f >= 0 && f < 1))
      throw new UsageError(`--validation-split must be in [0, 1), got ${v['validation-split']}`);
    const nVal = Math.floor(rows * f);
    val = nVal > 0 ? d.x.subarray((rows - nVal) * d.cols, rows * d.cols) : null;
    rows -= nVal;
    x = d.x.subarray(0, rows * d.cols);
  }
  const patience = v['early-stopping'] === undefined ? undefined : int(v, 'early-stopping');
  if (patience !== undefined && !val)
    throw new UsageError('--early-stopping needs validation data (--validation-split > 0)');
  const hidden = (v.hidden as string).split(',').map((s) => {
    if (!/^\s*\d+\s*$/.test(s) || Number(s) < 1)
      throw new UsageError(
        `--hidden must be positive integers separated by commas, got ${JSON.stringify(v.hidden)}`,
      );
    return Number(s);
  });
  const likelihood =
    v.likelihood === undefined ? (isImage ? 'bernoulli' : 'gaussian') : oneOf(v, 'likelihood', LIKELIHOODS);
  const warm = num(v, 'kl-warmup');
  const topts: TrainerOptions = {
    optimizer: {
      name: oneOf(v, 'optimizer', ['adam', 'adamw', 'adagrad', 'sgd'] as const),
      lr: num(v, 'lr', 0, true),
    } as TrainerOptions['optimizer'],
    batchSize,
    samples: int(v, 'samples'),
    objective: oneOf(v, 'objective', ['elbo', 'iwae'] as const),
    ...(v.objective === 'iwae'
      ? {}
      : {
          beta: num(v, 'beta'),
          freeBits: num(v, 'free-bits'),
          ...(warm > 0 ? { klWarmup: { epochs: warm } } : {}),
        }),
    ...(patience ? { earlyStopping: { patience, restoreBest: true } } : {}),
  };
  const model: ModelOptions & { threads: number | 'auto' } = {
    inputDim: d.cols,
    encoder: hidden,
    latentDim: int(v, 'latent'),
    activation: oneOf(v, 'activation', ACTIVATIONS),
    likelihood,
    sigma: num(v, 'sigma', 0, true),
    binarization: oneOf(v, 'binarize', ['none', 'static', 'dynamic', 'threshold'] as const),
    seed,
    threads: threads(v),
  };
  const trainer = v.resume
    ? await resumeTrainer(v.resume as string, { threads: model.threads })
    : new Trainer(await VAE.create(model), topts);
  const vae = trainer.vae;
  if (vae.config.inputDim !== d.cols)
    throw new UsageError(
      `--resume ${v.resume}: the model takes ${vae.config.inputDim} columns, the data has ${d.cols}`,
    );
  const arch = [vae.config.inputDim, ...vae.config.encoder, vae.config.latentDim].join('-');
  log(
    `wasm-vae train: ${arch} VAE (${vae.config.likelihood}, ${vae.config.activation}) on ${d.name}: ${rows} training rows, ${val ? val.length / d.cols : 0} validation rows; ${vae.build} build, ${vae.threads} thread(s)`,
  );
  const line = (r: EpochRecord) =>
    `epoch ${r.epoch}: -ELBO ${r.loss.toFixed(3)} (rec ${r.reconstruction.toFixed(3)}, KL ${r.kl.toFixed(3)})` +
    (r.valLoss !== undefined ? `  validation -ELBO ${r.valLoss.toFixed(3)}` : '') +
    `  ${Math.round(r.samplesPerSec)} samples/s`;
  const history = await trainer.fit(x, {
    epochs,
    ...(val ? { validationData: val } : {}),
    signal,
    onEpochEnd: (r) => log(line(r)),
  });

  await saveModel(join(out, 'model.safetensors'), vae);
  await saveModel(join(out, 'trainer.safetensors'), trainer);
  const written = ['model.safetensors', 'trainer.safetensors'];
  // loss curves: −ELBO, reconstruction and KL per epoch, training solid, validation dashed
  const pts: SeriesPoint[] = [];
  for (const r of history.epochs) {
    pts.push({ x: r.epoch, y: r.loss, series: '−ELBO', style: 'train' });
    pts.push({ x: r.epoch, y: r.reconstruction, series: 'reconstruction', style: 'train' });
    pts.push({ x: r.epoch, y: r.kl, series: 'KL', style: 'train' });
    if (r.valLoss !== undefined) {
      pts.push({ x: r.epoch, y: r.valLoss, series: '−ELBO', style: 'validation' });
      pts.push({ x: r.epoch, y: r.valReconstruction!, series: 'reconstruction', style: 'validation' });
      pts.push({ x: r.epoch, y: r.valKl!, series: 'KL', style: 'validation' });
    }
  }
  const curve = lineChart(pts, {
    title: `${arch} VAE on ${d.name}`,
    xTitle: 'epoch',
    yTitle: 'nats per datapoint',
    zoomY: false,
  });
  for (const f of ['loss.svg', 'loss.png']) await writeChart(join(out, f), curve);
  written.push('loss.svg', 'loss.png');
  const shape = imageShape(d.cols, undefined, d.image);
  if (shape && isImage) {
    const src = val ?? x,
      n = Math.min(10, src.length / d.cols);
    const orig = src.subarray(0, n * d.cols);
    const both = new Float32Array(2 * n * d.cols);
    both.set(orig);
    both.set(vae.reconstruct(orig), n * d.cols);
    const labs = d.test && val === d.test.x ? d.test.labels : undefined;
    await writeImageGrid(
      join(out, 'reconstructions.png'),
      both,
      2 * n,
      shape,
      n,
      `${d.name}: inputs and reconstructions (posterior means)`,
      ['input', 'reconstruction'],
      labs ? Array.from({ length: n }, (_, i) => String(labs[i])) : undefined,
    );
    await writeImageGrid(
      join(out, 'samples.png'),
      vae.sample(64, { seed }),
      64,
      shape,
      8,
      `${arch} VAE: decoded z ~ N(0, I)`,
    );
    written.push('reconstructions.png', 'samples.png');
    if (vae.config.latentDim === 2) {
      // Kingma & Welling's figure 4: decode a grid of z at Gaussian quantiles
      const g = 15,
        z = new Float32Array(g * g * 2);
      for (let i = 0; i < g; i++)
        for (let j = 0; j < g; j++) {
          z[(i * g + j) * 2] = normalQuantile((j + 0.5) / g);
          z[(i * g + j) * 2 + 1] = normalQuantile(1 - (i + 0.5) / g);
        }
      await writeImageGrid(
        join(out, 'manifold.png'),
        vae.decode(z),
        g * g,
        shape,
        g,
        `learned 2-D manifold: z at Φ⁻¹ of a ${g}×${g} grid (z₁ →, z₂ ↑)`,
        undefined,
        undefined,
        28,
      );
      written.push('manifold.png');
    }
  }
  if (vae.config.latentDim === 2) {
    const src = val ?? x,
      labs = d.test && val === d.test.x ? d.test.labels : val ? undefined : d.labels;
    const n = Math.min(5000, src.length / d.cols);
    const { mu } = vae.encode(src.subarray(0, n * d.cols));
    const points = Array.from({ length: n }, (_, i) => ({
      x: mu[2 * i],
      y: mu[2 * i + 1],
      ...(labs ? { label: String(labs[i]) } : {}),
    }));
    await writeChart(
      join(out, 'latent.png'),
      scatterChart(points, {
        title: `posterior means of ${n} ${val ? 'validation' : 'training'} rows`,
        xTitle: 'μ₁',
        yTitle: 'μ₂',
      }),
    );
    written.push('latent.png');
  }
  await writeFileAtomic(
    join(out, 'history.json'),
    JSON.stringify({ data: d.name, model: vae.config, history }, null, 2) + '\n',
  );
  written.push('history.json');
  log(`wrote ${written.map((f) => join(v.out as string, f)).join(', ')}`);
  return history.stopReason === 'aborted' ? 130 : 0;
}

async function evaluate(v: Values, log: Log, signal?: AbortSignal): Promise<number> {
  const vae = await loadModel(need(v, 'model'), { threads: threads(v) });
  const d = await data(v);
  const seed = int(v, 'seed', 0);
  const ev = vae.evaluate(d.x, { samples: int(v, 'samples'), seed });
  const result: Record<string, unknown> = { data: d.name, ...ev };
  if (v.k !== undefined) {
    const k = int(v, 'k');
    const ll = await vae.logLikelihoodAsync(d.x, {
      k,
      seed,
      signal,
      onProgress:
        v.quiet || v.json
          ? undefined
          : (p) => process.stderr.write(`\rlog p(x): ${p.rows}/${p.total} rows, ${p.seconds.toFixed(0)} s`),
    });
    if (!v.quiet && !v.json) process.stderr.write('\n');
    result.logLikelihood = ll.logLikelihood;
    result.k = k;
  }
  if (v.json) process.stdout.write(JSON.stringify(result) + '\n');
  else {
    log(
      `${d.name}, ${d.rows} rows: ELBO ${ev.elbo.toFixed(4)} nats per datapoint (-ELBO ${ev.loss.toFixed(4)} = reconstruction ${ev.reconstruction.toFixed(4)} + KL ${ev.kl.toFixed(4)})`,
    );
    if (result.logLikelihood !== undefined)
      log(`log p(x) ≈ ${(result.logLikelihood as number).toFixed(4)} (IWAE bound, k = ${result.k})`);
  }
  return 0;
}

async function sample(v: Values, log: Log): Promise<number> {
  const file = v.out as string;
  await checkOutFile(file, ['.png', '.svg', '.csv']);
  const vae = await loadModel(need(v, 'model'), { threads: threads(v) });
  const n = int(v, 'n'),
    D = vae.config.inputDim;
  const s = vae.sample(n, { seed: int(v, 'seed', 0) });
  if (file.toLowerCase().endsWith('.csv'))
    await writeFileAtomic(
      file,
      csv(
        n,
        D,
        (r, c) => s[r * D + c],
        Array.from({ length: D }, (_, c) => `x${c}`),
      ),
    );
  else {
    const shape = imageShape(D, v.shape as string | undefined);
    if (!shape)
      throw new UsageError(`the model's ${D} columns are not a square image: give --shape HxW or write .csv`);
    await writeImageGrid(
      file,
      s,
      n,
      shape,
      Math.ceil(Math.sqrt(n)),
      `${n} samples, z ~ N(0, I), seed ${v.seed}`,
    );
  }
  log(`wrote ${file}`);
  return 0;
}

async function reconstruct(v: Values, log: Log): Promise<number> {
  const file = v.out as string;
  await checkOutFile(file, ['.png', '.svg', '.csv']);
  const vae = await loadModel(need(v, 'model'), { threads: threads(v) });
  const d = await data(v);
  const n = Math.min(int(v, 'n'), d.rows),
    D = d.cols;
  const orig = d.x.subarray(0, n * D),
    rec = vae.reconstruct(orig);
  if (file.toLowerCase().endsWith('.csv'))
    await writeFileAtomic(
      file,
      csv(
        n,
        D,
        (r, c) => rec[r * D + c],
        Array.from({ length: D }, (_, c) => `x${c}`),
      ),
    );
  else {
    const shape = imageShape(D, undefined, d.image);
    if (!shape) throw new UsageError(`the data's ${D} columns are not a square image: write .csv`);
    const both = new Float32Array(2 * n * D);
    both.set(orig);
    both.set(rec, n * D);
    await writeImageGrid(
      file,
      both,
      2 * n,
      shape,
      n,
      `${d.name}: inputs and reconstructions`,
      ['input', 'reconstruction'],
      d.labels ? Array.from({ length: n }, (_, i) => String(d.labels![i])) : undefined,
    );
  }
  log(`wrote ${file}`);
  return 0;
}

async function encode(v: Values, log: Log): Promise<number> {
  const file = v.out as string;
  await checkOutFile(file, ['.csv']);
  if (v.plot) await checkOutFile(v.plot as string, ['.png', '.svg']);
  const vae = await loadModel(need(v, 'model'), { threads: threads(v) });
  const d = await data(v);
  const Z = vae.config.latentDim;
  const { mu, logvar, rows } = vae.encode(d.x);
  const header = [
    ...Array.from({ length: Z }, (_, j) => `mu${j}`),
    ...Array.from({ length: Z }, (_, j) => `logvar${j}`),
    ...(d.labels ? ['label'] : []),
  ];
  await writeFileAtomic(
    file,
    csv(
      rows,
      header.length,
      (r, c) => (c < Z ? mu[r * Z + c] : c < 2 * Z ? logvar[r * Z + c - Z] : d.labels![r]),
      header,
    ),
  );
  if (v.plot) {
    if (Z < 2) throw new UsageError('--plot needs a model with at least 2 latent dimensions');
    const n = Math.min(rows, 5000);
    const pts = Array.from({ length: n }, (_, i) => ({
      x: mu[i * Z],
      y: mu[i * Z + 1],
      ...(d.labels ? { label: String(d.labels[i]) } : {}),
    }));
    await writeChart(
      v.plot as string,
      scatterChart(pts, { title: `${d.name}: posterior means`, xTitle: 'μ₁', yTitle: 'μ₂' }),
    );
  }
  log(`wrote ${file}${v.plot ? ` and ${v.plot}` : ''} (${rows} rows × ${Z} latent means and log-variances)`);
  return 0;
}

/** Runs `wasm-vae <cmd> …`. Returns the exit code; UsageError and VaeError reach the caller. */
export async function runCommand(cmd: string, argv: string[], signal?: AbortSignal): Promise<number> {
  const v = parseCommand(cmd, argv);
  if (v.help) {
    process.stdout.write(commandUsage(cmd));
    return 0;
  }
  const log: Log = (s) => {
    if (!v.quiet) process.stdout.write(s + '\n');
  };
  switch (cmd) {
    case 'train':
      return train(v, log, signal);
    case 'eval':
      return evaluate(v, log, signal);
    case 'sample':
      return sample(v, log);
    case 'reconstruct':
      return reconstruct(v, log);
    default:
      return encode(v, log);
  }
}
