/**
 * The model a user holds: a VAE on the wasm kernels with encode / decode / sample / reconstruct /
 * interpolate / evaluate / logLikelihood / activeUnits / save / load. Batched calls take any number
 * of rows and run them through the arena in chunks. Losses are in nats per datapoint.
 */
import { loadKernels, type BuildName, type Kernels } from './wasm.js';
import { IWAE, Network, RNG_DATA, RNG_TRAIN, SEED_SALT } from './network.js';
import {
  LIMITS,
  checkOutputFloats,
  parameterCount,
  resolveModelConfig,
  type ModelConfig,
  type ModelOptions,
  type ImageModelOptions,
} from './config.js';
import { initParams, seedRng } from './init.js';
import { STATE_SLOTS } from './optim.js';
import { ACTIVATION_KINDS, LIKELIHOOD_KINDS } from './abi.js';
import { ConfigError, DataError, FormatError, ShapeError, VaeError } from './errors.js';
import {
  bool,
  describe,
  field,
  nonNegInt,
  oneOf,
  optional,
  parse,
  posInt,
  str,
  type Check,
  type Parsed,
} from './options.js';
import { ThreadPool, parallelKernels, threadsUnavailable, hardwareThreads } from './threads.js';
import {
  toMatrix,
  checkMatrix,
  checkComputed,
  checkFinite,
  checkUnitInterval,
  uint8ToUnit,
  binarizeThreshold,
  type Matrix,
} from './data/preprocess.js';
import { encodeSafetensors, decodeSafetensors, tensorF32, type TensorEntry } from './io/safetensors.js';
import { readPyTorchStateDict, type PyTorchOptions } from './io/pytorch.js';

export type { ModelConfig } from './config.js';

/**
 * Rows of data: a flat row-major Float32Array, Float64Array, other numeric typed array or number[]
 * (N × D values, used as given), a flat Uint8Array / Uint8ClampedArray (N × D bytes, divided by 255 into [0, 1] — for
 * every likelihood: pass floats to a Gaussian model to keep another scale), an array of rows, or a
 * `{ data, rows, cols }` Matrix.
 */
export type Input =
  | Float32Array
  | Float64Array
  | Uint8Array
  | Uint8ClampedArray
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint16Array
  | Uint32Array
  | number[]
  | ArrayLike<number>[]
  | number[][]
  | Matrix;

/** VAE.create's options: the model's (see src/config.ts for every default) and how it runs. */
export interface VAEOptions extends ModelOptions, RunOptions {}
/** VAE.create's options for a model of images (inputShape [C, H, W]; conv / deconv layers in encoder and decoder). */
export interface ImageVAEOptions extends ImageModelOptions, RunOptions {}
/** How a model runs: VAE.create's options besides the model's. */
export interface RunOptions {
  /** Kernel build; default the best this runtime validates. */
  build?: BuildName;
  /** Rows per arena chunk for inference calls (default 256). */
  chunkRows?: number;
  /**
   * Kernel threads: 'auto' (the default: the cores the runtime reports, up to 8, for models large
   * enough to gain — see autoThreads), a number, or 1 for one thread. `vae.threads` says how many
   * run, and `vae.threadsNote` why fewer than asked (e.g. a page that is not cross-origin isolated).
   */
  threads?: number | 'auto';
}

/** How a model runs (not part of the model: not saved). */
const RUN = {
  build: optional(str as Check<BuildName>),
  chunkRows: field(posInt, 256),
  threads: field<number | 'auto'>((v, n) => (v === 'auto' ? 'auto' : posInt(v, n)), 'auto'),
};
type Run = Parsed<typeof RUN>;

/** Models with fewer parameters than this train faster on one thread: a parallel call costs a few µs. */
const AUTO_THREADS_MIN_PARAMS = 100_000;
/** The most threads 'auto' asks for. */
const AUTO_THREADS_MAX = 8;
let warnedThreads = '';
const RUN_KEYS = Object.keys(RUN);

/** VAE.load's options: how the loaded model runs. */
export interface LoadOptions {
  build?: BuildName;
  chunkRows?: number;
  threads?: number | 'auto';
}

export interface Evaluation {
  /** Mean ELBO per datapoint (nats; higher is better). */
  elbo: number;
  /** −ELBO, the loss PyTorch's example prints. */
  loss: number;
  /** −E_q[log p(x|z)] per datapoint. */
  reconstruction: number;
  /** KL(q(z|x) ‖ p(z)) per datapoint. */
  kl: number;
  /**
   * −ELBO in bits per data dimension: loss / (inputDim · ln 2). For a density over data scaled
   * from 8-bit values into [0, 1] (Gaussian, continuous Bernoulli), add 8 (= log₂ 256) to compare
   * with figures for the discrete 8-bit data.
   */
  bitsPerDim: number;
  /** The mean KL of each latent unit over the rows, (latentDim): near 0 for a collapsed unit; sums to `kl`. */
  klPerDim: Float64Array;
  rows: number;
}

/**
 * What decode, sample, reconstruct and interpolate return for each row of z:
 *  - `output: 'mean'` (the default): E[x | z] — Bernoulli probabilities, Gaussian means, the
 *    continuous Bernoulli's mean λ/(2λ − 1) + 1/(2 artanh(1 − 2λ));
 *  - `output: 'lambda'`: the Bernoulli likelihoods' parameter λ = σ(decoder logit) (for
 *    'bernoulli' the same numbers as the mean; for 'continuous-bernoulli' not: its mean is
 *    pulled towards ½);
 *  - `draw: true`: one draw x ~ p(x | z) per element instead (0/1 for Bernoulli, in [0, 1] for
 *    the continuous Bernoulli, mean + σ·n for the Gaussians), from the model's sampling stream
 *    (or `seed`'s), so a seed gives the same bits everywhere.
 */
export interface DecodeOptions {
  output?: 'mean' | 'lambda';
  draw?: boolean;
  seed?: number;
}
const DECODE = {
  output: field(oneOf(['mean', 'lambda'] as const), 'mean'),
  draw: field(bool, false),
  seed: optional(nonNegInt),
};
type Decode = Parsed<typeof DECODE>;
const DECODE_KEYS = Object.keys(DECODE);

export const FORMAT_NAME = 'wasm-vae';
export const FORMAT_VERSION = 1;

export class VAE {
  readonly config: ModelConfig;
  /** @internal the network on the kernels (for the trainer and the benchmarks). */
  readonly net: Network;
  readonly kernels: Kernels;
  /** Rows per arena chunk of the batched calls (encode, decode, evaluate, …). */
  readonly chunkRows: number;
  private readonly pool: ThreadPool | null;
  private readonly note: string;
  private disposed = false;
  /**
   * @internal What was done to the data this model was trained on (the last fit's, or the loaded
   * file's), saved as the file's preprocessing metadata: `input` says how values were read, `range`
   * the [min, max] the model saw after that.
   */
  trainedOn: { input: string; range: [number, number] } | null = null;

  private constructor(
    k: Kernels,
    config: ModelConfig,
    chunkRows: number,
    pool: ThreadPool | null,
    note: string,
  ) {
    this.kernels = k;
    this.config = config;
    this.chunkRows = chunkRows;
    this.pool = pool;
    this.note = note;
    const threads = pool ? { par: parallelKernels(pool), nth: pool.nth } : undefined;
    this.net = new Network(k, config, { dataRows: chunkRows, sampleRows: chunkRows }, STATE_SLOTS, threads);
  }

  /** Loads the kernels (the shared-memory build for threads) and starts the threads. */
  private static async open(config: ModelConfig, run: Run): Promise<VAE> {
    const params = parameterCount(config);
    let want =
      run.threads === 'auto'
        ? params >= AUTO_THREADS_MIN_PARAMS
          ? Math.min(hardwareThreads(), AUTO_THREADS_MAX)
          : 1
        : run.threads;
    let note = '';
    if (want > 1) {
      const why = threadsUnavailable();
      if (why) {
        note = `${want} threads were asked for but 1 runs: ${why}`;
        // an explicit count that cannot be met warns (once per reason); 'auto' only records why
        if (run.threads !== 'auto' && warnedThreads !== why) console.warn(`wasm-vae: ${note}`);
        if (run.threads !== 'auto') warnedThreads = why;
        want = 1;
      }
    }
    if (want > 1) {
      try {
        const k = await loadKernels({ build: run.build, shared: true });
        return new VAE(
          k,
          config,
          run.chunkRows,
          await ThreadPool.start(k.module, k.memory, k.exports, want),
          note,
        );
      } catch (e) {
        // 'auto' settles for one thread (and says why); an explicit count is an error
        if (run.threads !== 'auto') throw e;
        note = `${want} threads could run but 1 does: ${(e as Error).message}`;
      }
    }
    return new VAE(await loadKernels({ build: run.build }), config, run.chunkRows, null, note);
  }

  /** Creates a model with freshly initialised parameters. */
  static async create(opts: VAEOptions | ImageVAEOptions): Promise<VAE> {
    if (!opts || typeof opts !== 'object')
      throw new ConfigError('VAE.create needs an options object with at least inputDim');
    const config = resolveModelConfig(opts, 'VAE', RUN_KEYS);
    const run = parse(RUN, pick(opts, RUN_KEYS), 'VAE');
    const vae = await VAE.open(config, run);
    seedRng(vae.net, config.seed);
    initParams(vae.net, config.init);
    return vae;
  }

  /** Kernel threads in use (1: the calling thread alone; also after a kernel thread died, see threadsNote). */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** Why fewer threads run than were asked for ('' when as many as asked run), or why they stopped. */
  get threadsNote(): string {
    return this.pool?.lost || this.note;
  }

  /** Which wasm build runs this model: 'relaxed', 'simd' or 'scalar'. */
  get build(): BuildName {
    return this.kernels.build;
  }

  /** Number of trainable parameters. */
  get parameterCount(): number {
    return this.net.paramSlots.reduce((s, p) => s + p.floats, 0);
  }

  /** Bytes of wasm memory this model holds (it never shrinks: WebAssembly memories cannot). */
  get memoryBytes(): number {
    return this.kernels.memory.buffer.byteLength;
  }

  private alive(): void {
    if (this.disposed) throw new ConfigError('this VAE has been disposed');
  }

  /** Validates and flattens an input batch of rows with `cols` columns. */
  matrix(
    x: Input,
    cols = this.config.inputDim,
    what = 'x',
    unit = this.config.likelihood.endsWith('bernoulli') && cols === this.config.inputDim,
  ): Matrix {
    let m: Matrix;
    try {
      if (x && typeof x === 'object' && 'data' in x && 'rows' in x && 'cols' in x) m = checkMatrix(x, what);
      else if (x instanceof Uint8Array || x instanceof Uint8ClampedArray)
        m = toMatrix(uint8ToUnit(x as Uint8Array), cols); // bytes → [0, 1]
      else if (x instanceof Float32Array) m = toMatrix(x, cols);
      else if (
        ArrayBuffer.isView(x) &&
        !(x instanceof DataView) &&
        !(x instanceof BigInt64Array || x instanceof BigUint64Array)
      )
        m = toMatrix(Float32Array.from(x as unknown as ArrayLike<number>), cols); // Float64Array, Int16Array, … as given
      else if (Array.isArray(x) && x.length > 0 && typeof x[0] === 'number')
        m = toMatrix(flatNumbers(x as unknown[], what), cols); // a flat number[] of rows × cols values
      else m = toMatrix(x as number[][]);
    } catch (e) {
      // toMatrix's messages name itself; the caller knows the data by its own name
      if (e instanceof VaeError && e.message.startsWith('toMatrix: '))
        e.message = `${what}: ${e.message.slice('toMatrix: '.length)}`.replace(
          'expected a Float32Array (with cols) or an array of rows',
          `expected rows of numbers (a flat Float32Array, Float64Array, Uint8Array or number[] of rows × ${cols} values, an array of rows, or a { data, rows, cols } matrix), got ${describe(x)}`,
        );
      throw e;
    }
    if (m.cols !== cols) throw new ShapeError(`${what} has ${m.cols} columns; this model expects ${cols}`);
    if (m.rows === 0) throw new DataError(`${what} is empty`);
    if (m.data.length !== m.rows * m.cols)
      throw new ShapeError(
        `${what}: data length ${m.data.length} is not rows × cols = ${m.rows} × ${m.cols}`,
      );
    checkFinite(m.data, what, m.cols);
    if (unit)
      checkUnitInterval(
        m.data,
        m.cols,
        what,
        this.config.likelihood === 'continuous-bernoulli' ? 'continuous-bernoulli' : 'bernoulli',
      );
    return m;
  }

  /**
   * The model's recorded preprocessing applied once to a data set: 'threshold' binarizes at 0.5,
   * 'static' and 'dynamic' draw one fixed Bernoulli sample keyed by the model seed (for dynamic
   * binarization this is what validation data gets; training data is resampled every batch).
   */
  binarizeOnce(m: Matrix): Matrix {
    const mode = this.config.binarization;
    if (mode === 'none') return m;
    if (mode === 'threshold') return { data: binarizeThreshold(m.data, 0.5), rows: m.rows, cols: m.cols };
    // a stream keyed by the model seed alone, so every fit() (and a resumed run) sees the same sample
    const net = this.net,
      saved = net.rngWords(RNG_DATA);
    net.seedStream(RNG_DATA, this.config.seed, SEED_SALT.staticBinarization);
    const out = new Float32Array(m.data.length),
      x = net.ptr('x'),
      cap = this.chunkRows * m.cols;
    try {
      for (let i = 0; i < out.length; i += cap) {
        const n = Math.min(cap, out.length - i);
        net.put('x', m.data, i, n);
        this.kernels.exports.rng_binarize(x, x, n, net.rngState(RNG_DATA));
        net.get('x', out, i, n);
      }
    } finally {
      net.rngWords(RNG_DATA, saved);
    }
    return { data: out, rows: m.rows, cols: m.cols };
  }

  /** Copies rows [r0, r0+n) of m into the arena's 'x' tensor (and of the call's condition into 'cond'). */
  private putRows(m: Matrix, r0: number, n: number): void {
    this.net.put('x', m.data, r0 * m.cols, n * m.cols);
    this.putCond(r0, n);
  }

  /** The condition of the call under way (a conditional model): 1 row for every row, or one per row. */
  private cond: Matrix | null = null;

  /**
   * Runs fn with the call's condition checked and set: a conditional model needs one (1 row, or
   * `rows` rows, of conditionDim values); any other model refuses one.
   */
  private conditioned<T>(condition: unknown, rows: number, what: string, fn: () => T): T {
    return this.withCondition(this.conditionMatrix(condition, rows, what), fn);
  }

  /** Runs fn with the checked condition `m` in force (null: none). */
  private withCondition<T>(m: Matrix | null, fn: () => T): T {
    if (!m) return fn();
    const prev = this.cond;
    this.cond = m;
    try {
      return fn();
    } finally {
      this.cond = prev;
    }
  }

  /**
   * @internal A call's condition, checked: null for a model without one (which refuses a
   * condition); for a conditional model 1 row (unless `exact`) or `rows` rows of conditionDim values.
   */
  conditionMatrix(condition: unknown, rows: number, what: string, exact = false): Matrix | null {
    const C = this.config.conditionDim;
    if (!C) {
      if (condition !== undefined)
        throw new ConfigError(`${what}: this model is not conditional (conditionDim 0); leave condition out`);
      return null;
    }
    if (condition === undefined)
      throw new ConfigError(
        `${what}: this model is conditional (conditionDim ${C}); pass { condition } with ${exact ? '' : '1 or '}${rows} rows of ${C} values (e.g. oneHot(labels, ${C}))`,
      );
    if (condition instanceof Uint8Array || condition instanceof Uint8ClampedArray)
      throw new ConfigError(
        `${what}: a condition of bytes would be read as pixels (scaled by 1/255); pass a Float32Array, rows of numbers, or oneHot(labels, ${C})`,
      );
    const m = this.matrix(condition as Input, C, 'condition', false);
    if ((exact || m.rows !== 1) && m.rows !== rows)
      throw new ShapeError(
        `${what}: condition has ${m.rows} rows; expected ${exact ? '' : '1 (for every row) or '}${rows}`,
      );
    return m;
  }

  /** Copies the call's condition for rows [r0, r0+n) into 'cond' (a plain loop: no allocation). */
  private putCond(r0: number, n: number): void {
    const c = this.cond;
    if (!c) return;
    const C = c.cols,
      h = this.net.heap,
      o = this.net.ptr('cond') >> 2;
    for (let i = 0; i < n; i++) {
      const s = (c.rows === 1 ? 0 : r0 + i) * C;
      for (let j = 0; j < C; j++) h[o + i * C + j] = c.data[s + j];
    }
  }

  /**
   * q(z|x): the posterior means and log-variances, (rows, latentDim) each. A plain autoencoder
   * (variational: false) has the code z = μ(x) and no variance: its logvar is empty (length 0).
   */
  encode(
    x: Input,
    opts: { condition?: Input } = {},
  ): { mu: Float32Array; logvar: Float32Array; rows: number } {
    this.alive();
    const m = this.matrix(x);
    return this.conditioned(opts?.condition, m.rows, 'encode', () => this.encodeMatrix(m));
  }

  private encodeMatrix(m: Matrix): { mu: Float32Array; logvar: Float32Array; rows: number } {
    const Z = this.config.latentDim,
      net = this.net;
    const mu = new Float32Array(m.rows * Z),
      logvar = new Float32Array(this.config.variational ? m.rows * Z : 0);
    for (let r = 0; r < m.rows; r += this.chunkRows) {
      const n = Math.min(this.chunkRows, m.rows - r);
      this.putRows(m, r, n);
      net.encode(n);
      net.get('mu', mu, r * Z, n * Z);
      if (this.config.variational) net.get('logvar', logvar, r * Z, n * Z);
    }
    checkComputed(mu, 'posterior mean', Z);
    if (this.config.variational) checkComputed(logvar, 'posterior log-variance', Z);
    return { mu, logvar, rows: m.rows };
  }

  /** p(x|z) for each row of z, (rows, inputDim): E[x|z] by default; see DecodeOptions for λ and draws. */
  decode(z: Input, opts: DecodeOptions & { condition?: Input } = {}): Float32Array {
    this.alive();
    const how = this.decodeOptions(opts, 'decode', ['condition']);
    const m = this.matrix(z, this.config.latentDim, 'z', false);
    return this.conditioned(opts?.condition, m.rows, 'decode', () =>
      this.withSeed(how.seed, () => this.decodeMatrix(m, undefined, how)),
    );
  }

  /** Parses DecodeOptions (plus `extra` keys the caller reads itself). */
  private decodeOptions(opts: unknown, what: string, extra: readonly string[] = []): Decode {
    const o = (opts ?? {}) as Record<string, unknown>;
    const how = parse(DECODE, o && typeof o === 'object' ? pick(o, DECODE_KEYS) : o, what);
    const unknown =
      o &&
      typeof o === 'object' &&
      Object.keys(o).find((k) => !DECODE_KEYS.includes(k) && !extra.includes(k));
    if (unknown)
      throw new ConfigError(
        `unknown ${what} option "${unknown}"; known: ${[...DECODE_KEYS, ...extra].join(', ')}`,
      );
    if (how.output === 'lambda' && !this.config.likelihood.endsWith('bernoulli'))
      throw new ConfigError(
        `${what}: output 'lambda' is the Bernoulli likelihoods' parameter; this model's likelihood is '${this.config.likelihood}' (use output 'mean')`,
      );
    if (how.draw && opts && (opts as DecodeOptions).output !== undefined)
      throw new ConfigError(
        `${what}: draw: true returns draws x ~ p(x|z), not a mean or λ; leave output out`,
      );
    return how;
  }

  /**
   * Decodes the rows of z in chunks; with `eachChunk`, fills the 'z' tensor itself (given the
   * chunk's first row and size). `how` says whether each element is E[x|z], λ or a draw.
   */
  private decodeMatrix(
    m: Matrix,
    eachChunk?: (r: number, n: number) => void,
    how: Decode = { output: 'mean', draw: false, seed: undefined },
  ): Float32Array {
    const D = this.config.inputDim,
      Z = this.config.latentDim,
      net = this.net,
      e = this.kernels.exports,
      lik = this.config.likelihood;
    checkOutputFloats(m.rows, D, 'decoding');
    const out = new Float32Array(m.rows * D);
    for (let r = 0; r < m.rows; r += this.chunkRows) {
      const n = Math.min(this.chunkRows, m.rows - r);
      if (eachChunk) eachChunk(r, n);
      else net.put('z', m.data, r * Z, n * Z);
      this.putCond(r, n);
      net.decode(n);
      const o = net.ptr('out');
      if (how.draw) {
        // noise for n·D elements in the gradient tensor 'dout' (inference computes no gradient):
        // uniform for the Bernoulli likelihoods, normal for the Gaussians, from the sampling stream
        const noise = net.ptr('dout'),
          st = net.rngState(RNG_TRAIN);
        if (lik.endsWith('bernoulli')) e.rng_uniform(noise, n * D, st, 0, 1);
        else e.rng_normal(noise, n * D, st, 0, 1);
        e.lik_draw(o, o, net.ptr('outlv'), noise, n * D, LIKELIHOOD_KINDS[lik], this.config.sigma);
      } else if (lik === 'bernoulli' || (lik === 'continuous-bernoulli' && how.output === 'lambda')) {
        // the decoder gives logits; probabilities (λ) come from the activation kernel's sigmoid
        net.par.act_forward(o, o, n * D, ACTIVATION_KINDS.sigmoid, 0);
      } else if (lik === 'continuous-bernoulli') {
        e.cb_mean(o, o, n * D);
      }
      net.get('out', out, r * D, n * D);
    }
    checkComputed(out, 'decoder output', D);
    return out;
  }

  /** Decodes the posterior mean of each row (or one posterior sample with `sample: true`). */
  reconstruct(x: Input, opts: { sample?: boolean; condition?: Input } & DecodeOptions = {}): Float32Array {
    this.alive();
    opts ??= {};
    const how = this.decodeOptions(opts, 'reconstruct', ['sample', 'condition']);
    const m = this.matrix(x),
      Z = this.config.latentDim,
      net = this.net;
    return this.conditioned(opts.condition, m.rows, 'reconstruct', () =>
      this.withSeed(opts.seed, () =>
        this.decodeMatrix(
          { data: m.data, rows: m.rows, cols: Z },
          (r, n) => {
            this.putRows(m, r, n);
            net.encode(n);
            if (opts.sample) {
              net.sampleEps(n, 1);
              net.reparameterize(n, 1); // z = μ + σ ⊙ ε, by the training path's kernel
            } else {
              net.meanLatent(n);
            }
          },
          how,
        ),
      ),
    );
  }

  /** n draws z ~ N(0, I) decoded: (n, inputDim) probabilities or means. */
  sample(n: number, opts: DecodeOptions & { condition?: Input } = {}): Float32Array {
    this.alive();
    const how = this.decodeOptions(opts, 'sample', ['condition']);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new ConfigError(`sample count must be a positive integer, got ${n}`);
    const Z = this.config.latentDim;
    return this.conditioned(opts?.condition, n, 'sample', () =>
      this.withSeed(how.seed, () =>
        this.decodeMatrix(
          { data: new Float32Array(0), rows: n, cols: Z },
          (_r, c) => {
            this.kernels.exports.rng_normal(this.net.ptr('z'), c * Z, this.net.rngState(RNG_TRAIN), 0, 1);
          },
          how,
        ),
      ),
    );
  }

  /**
   * Decodes `steps` points (steps ≥ 2) between the posterior means of xa and xb: on the line
   * (`path: 'linear'`, the default) or on the great circle through them (`path: 'slerp'`, Shoemake
   * 1985 as White 2016 uses it for latent spaces: z(t) = sin((1−t)θ)/sin θ · μa + sin(tθ)/sin θ · μb,
   * θ the angle between μa and μb, so the norm stays near the prior's typical radius instead of
   * dipping mid-way; the line where sin θ < 1e-6: μa, μb (anti)parallel). Takes the DecodeOptions too.
   */
  interpolate(
    xa: ArrayLike<number>,
    xb: ArrayLike<number>,
    steps: number,
    opts: { path?: 'linear' | 'slerp'; condition?: Input } & DecodeOptions = {},
  ): Float32Array {
    if (!Number.isSafeInteger(steps) || steps < 2)
      throw new ConfigError(`interpolate needs steps ≥ 2, got ${steps}`);
    const how = this.decodeOptions(opts, 'interpolate', ['path', 'condition']);
    const path = oneOf(['linear', 'slerp'] as const)(opts?.path ?? 'linear', 'path');
    checkOutputFloats(steps, Math.max(this.config.inputDim, this.config.latentDim), 'interpolate');
    // a conditional model: one condition row for both ends and the whole path
    const { mu } = this.encode([xa, xb], { condition: opts?.condition });
    const Z = this.config.latentDim,
      z = new Float32Array(steps * Z);
    let dot = 0,
      na = 0,
      nb = 0;
    for (let j = 0; j < Z; j++) {
      dot += mu[j] * mu[Z + j];
      na += mu[j] * mu[j];
      nb += mu[Z + j] * mu[Z + j];
    }
    const theta = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb || 1))));
    const spherical = path === 'slerp' && Math.sin(theta) >= 1e-6;
    for (let s = 0; s < steps; s++) {
      const t = s / (steps - 1);
      const wa = spherical ? Math.sin((1 - t) * theta) / Math.sin(theta) : 1 - t,
        wb = spherical ? Math.sin(t * theta) / Math.sin(theta) : t;
      for (let j = 0; j < Z; j++) z[s * Z + j] = wa * mu[j] + wb * mu[Z + j];
    }
    return this.conditioned(opts?.condition, 1, 'interpolate', () =>
      this.withSeed(how.seed, () => this.decodeMatrix({ data: z, rows: steps, cols: Z }, undefined, how)),
    );
  }

  /** The ELBO and its parts, in nats per datapoint, with `samples` z draws per row. */
  evaluate(x: Input, opts: { samples?: number; seed?: number; condition?: Input } = {}): Evaluation {
    this.alive();
    opts ??= {};
    const m = this.matrix(x);
    const L = opts.samples ?? 1;
    if (!Number.isSafeInteger(L) || L < 1 || L > LIMITS.maxSamples)
      throw new ConfigError(`samples must be a positive integer (at most ${LIMITS.maxSamples}), got ${L}`);
    return this.conditioned(opts.condition, m.rows, 'evaluate', () =>
      this.withSeed(opts.seed, () => {
        // rows per chunk such that rows × L sample rows fit what the model reserves for inference
        const rows = Math.max(1, Math.floor(this.chunkRows / L));
        this.net.reserve({ dataRows: rows, sampleRows: rows * L });
        let rec = 0,
          kl = 0;
        this.net.klDims(0, true);
        for (let r = 0; r < m.rows; r += rows) {
          const n = Math.min(rows, m.rows - r);
          this.putRows(m, r, n);
          this.net.sampleEps(n, L);
          const p = this.net.loss(n, L, undefined, 1, false);
          rec += p.rec;
          kl += p.kl;
          this.net.klDims(n);
        }
        const N = m.rows;
        const klPerDim = Float64Array.from(this.net.klDims(0), (v) => v / N);
        checkComputed([rec, kl], 'reconstruction or KL term');
        return {
          elbo: -(rec + kl) / N,
          loss: (rec + kl) / N,
          reconstruction: rec / N,
          kl: kl / N,
          bitsPerDim: (rec + kl) / N / (this.config.inputDim * Math.LN2),
          klPerDim,
          rows: N,
        };
      }),
    );
  }

  /** Runs fn with the sampling stream reseeded (and restored after) when a seed is given. */
  private withSeed<T>(seed: number | undefined, fn: () => T): T {
    if (seed === undefined) return fn();
    const net = this.net,
      saved = net.rngWords(RNG_TRAIN);
    net.seedStream(RNG_TRAIN, seed, SEED_SALT.train);
    try {
      return fn();
    } finally {
      net.rngWords(RNG_TRAIN, saved);
    }
  }

  /**
   * Importance-sampled estimate of log p(x) per datapoint with k samples from q(z|x) — the IWAE
   * bound L_k, a lower bound that tightens as k grows (also as bits per dimension, −L_k / (D ln 2)). The k samples of a row run in chunks of the
   * model's chunkRows through the IWAE objective's own kernels, combined by
   * log-sum-exp, so k = 5000 needs no more memory than k = 1.
   */
  logLikelihood(
    x: Input,
    opts: { k?: number; seed?: number; condition?: Input } = {},
  ): { logLikelihood: number; bitsPerDim: number; perRow: Float64Array } {
    const { m, K } = this.llArgs(x, opts);
    return this.conditioned(opts?.condition, m.rows, 'logLikelihood', () =>
      this.withSeed(opts?.seed, () => {
        const per = new Float64Array(m.rows);
        for (let r = 0; r < m.rows; r++) per[r] = this.llRow(m, r, K);
        return this.llResult(per);
      }),
    );
  }

  /**
   * logLikelihood without blocking: the same numbers (the same bits for a seed), computed row by
   * row with a yield to the event loop every ~50 ms, `onProgress` after each yield and at the end,
   * and `signal` to stop (the promise then rejects with the signal's reason, an AbortError by
   * default). Make no other call on this model until it settles: they would share its sampling
   * stream. k = 5000 on 10,000 MNIST test images takes minutes; this is the form to use for it.
   */
  async logLikelihoodAsync(
    x: Input,
    opts: {
      k?: number;
      seed?: number;
      signal?: AbortSignal;
      onProgress?: (p: { rows: number; total: number; seconds: number }) => void;
      condition?: Input;
    } = {},
  ): Promise<{ logLikelihood: number; bitsPerDim: number; perRow: Float64Array }> {
    const { m, K } = this.llArgs(x, opts);
    const cond = this.conditionMatrix(opts?.condition, m.rows, 'logLikelihoodAsync');
    const { signal, onProgress } = opts;
    if (signal !== undefined && !(signal instanceof AbortSignal))
      throw new ConfigError(`signal must be an AbortSignal, got ${describe(signal)}`);
    if (onProgress !== undefined && typeof onProgress !== 'function')
      throw new ConfigError(`onProgress must be a function, got ${describe(onProgress)}`);
    const net = this.net,
      saved = opts.seed === undefined ? null : net.rngWords(RNG_TRAIN);
    if (opts.seed !== undefined) net.seedStream(RNG_TRAIN, opts.seed, SEED_SALT.train);
    const t0 = performance.now();
    let mine = saved === null ? null : net.rngWords(RNG_TRAIN); // this call's stream across yields
    try {
      const per = new Float64Array(m.rows);
      let last = t0;
      for (let r = 0; r < m.rows; r++) {
        if (signal?.aborted)
          throw signal.reason ?? new DOMException('logLikelihood was aborted', 'AbortError');
        per[r] = this.withCondition(cond, () => this.llRow(m, r, K));
        const now = performance.now();
        if (now - last > 50 && r + 1 < m.rows) {
          onProgress?.({ rows: r + 1, total: m.rows, seconds: (now - t0) / 1000 });
          if (mine) mine = net.rngWords(RNG_TRAIN);
          await new Promise((res) => setTimeout(res, 0));
          this.alive();
          if (mine) net.rngWords(RNG_TRAIN, mine);
          last = performance.now();
        }
      }
      onProgress?.({ rows: m.rows, total: m.rows, seconds: (performance.now() - t0) / 1000 });
      return this.llResult(per);
    } finally {
      if (saved && !this.disposed) net.rngWords(RNG_TRAIN, saved);
    }
  }

  private llArgs(x: Input, opts: { k?: number }): { m: Matrix; K: number } {
    this.alive();
    if (!this.config.variational)
      throw new ConfigError(
        'logLikelihood needs a VAE: a plain autoencoder (variational: false) defines no density p(x) to estimate',
      );
    const m = this.matrix(x);
    const K = opts?.k ?? 5000;
    if (!Number.isSafeInteger(K) || K < 1 || K > LIMITS.maxSamples)
      throw new ConfigError(
        `k must be a positive integer (at most ${LIMITS.maxSamples}), got ${describe(K)}`,
      );
    return { m, K };
  }

  /** The mean log p(x) of the rows, and −log p(x) in bits per data dimension (see Evaluation.bitsPerDim for 8-bit data). */
  private llResult(per: Float64Array): { logLikelihood: number; bitsPerDim: number; perRow: Float64Array } {
    checkComputed(per, 'log-likelihood');
    let mean = 0;
    for (const v of per) mean += v;
    const ll = mean / per.length;
    return { logLikelihood: ll, bitsPerDim: -ll / (this.config.inputDim * Math.LN2), perRow: per };
  }

  /** log p(x_r) ≈ log (1/K) Σ_l w_l for row r of m, over chunks of at most chunkRows samples. */
  private llRow(m: Matrix, r: number, K: number): number {
    const net = this.net,
      Lc = Math.min(K, this.chunkRows); // a fixed chunking: the same bits whatever the capacity
    this.putRows(m, r, 1);
    let total = -Infinity; // log Σ_l w_l over the chunks so far
    for (let done = 0; done < K; done += Lc) {
      const L = Math.min(Lc, K - done);
      net.sampleEps(1, L);
      // the IWAE loss of one row is −log (1/L) Σ_l w_l, so this chunk's log Σ_l w_l is −loss + log L
      const c = -net.loss(1, L, IWAE, 1, false).loss + Math.log(L);
      total = total === -Infinity ? c : Math.max(total, c) + Math.log1p(Math.exp(-Math.abs(total - c)));
    }
    return total - Math.log(K);
  }

  /** Latent units whose posterior mean varies across the data: Cov_x(E_q[z_u]) > threshold. */
  activeUnits(
    x: Input,
    opts: { threshold?: number; condition?: Input } = {},
  ): { count: number; variances: Float64Array; active: boolean[] } {
    const t = opts?.threshold ?? 1e-2;
    const { mu, rows } = this.encode(x, { condition: opts?.condition });
    const Z = this.config.latentDim,
      mean = new Float64Array(Z),
      v = new Float64Array(Z);
    for (let r = 0; r < rows; r++) for (let j = 0; j < Z; j++) mean[j] += mu[r * Z + j] / rows;
    for (let r = 0; r < rows; r++) for (let j = 0; j < Z; j++) v[j] += (mu[r * Z + j] - mean[j]) ** 2 / rows;
    const active = Array.from(v, (x) => x > t);
    return { count: active.filter(Boolean).length, variances: v, active };
  }

  /** Parameter tensors by PyTorch name, (out, in) weights — copies. */
  stateDict(): Map<string, { shape: number[]; data: Float32Array }> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const s of this.net.paramSlots)
      out.set(s.name, { shape: [...s.shape], data: this.net.view(s).slice() });
    return out;
  }

  /**
   * Serialises to safetensors: parameters under PyTorch names, the config, preprocessing and format
   * version in __metadata__, plus optional extra tensors and metadata (the trainer's state).
   */
  save(extra?: { tensors?: Map<string, TensorEntry>; metadata?: Record<string, string> }): Uint8Array {
    this.alive();
    const tensors = new Map<string, TensorEntry>();
    for (const [name, t] of this.stateDict())
      tensors.set(name, { dtype: 'F32', shape: t.shape, data: t.data });
    for (const [name, t] of extra?.tensors ?? []) tensors.set(name, t);
    const { binarization, ...model } = this.config;
    return encodeSafetensors(tensors, {
      format: FORMAT_NAME,
      format_version: String(FORMAT_VERSION),
      config: JSON.stringify(model),
      // what was done: binarization, and how the training values were read and their range
      preprocessing: JSON.stringify({ binarization, ...(this.trainedOn ?? { input: 'not trained' }) }),
      ...(extra?.metadata ?? {}),
    });
  }

  /** Loads a model written by save(). The file is treated as hostile: every problem is a FormatError. */
  static async load(bytes: Uint8Array | ArrayBuffer, opts: LoadOptions = {}): Promise<VAE> {
    const vae = await VAE.fromFile(bytes, opts);
    return vae.model;
  }

  /** @internal load and also return the decoded file (the trainer reads its state from it). */
  static async fromFile(bytes: Uint8Array | ArrayBuffer, opts: LoadOptions = {}) {
    const run = parse(RUN, opts, 'VAE.load');
    bytes = fileBytes(bytes, 'VAE.load');
    const file = decodeSafetensors(bytes);
    const md = file.metadata;
    if (md.format !== FORMAT_NAME)
      throw new FormatError(`not a wasm-vae model file (metadata format is ${JSON.stringify(md.format)})`);
    if (md.format_version !== String(FORMAT_VERSION))
      throw new FormatError(
        `model format version ${md.format_version} is not supported (this library reads version ${FORMAT_VERSION})`,
      );
    let cfg: ModelConfig;
    try {
      const model = JSON.parse(md.config ?? 'null');
      const pre = JSON.parse(md.preprocessing ?? '{}');
      if (!model || typeof model !== 'object' || !pre || typeof pre !== 'object')
        throw new Error('config and preprocessing must be JSON objects');
      cfg = resolveModelConfig({ ...model, binarization: pre.binarization ?? 'none' }, 'model file');
    } catch (e) {
      throw new FormatError(`model file has an invalid config: ${(e as Error).message}`);
    }
    // refused before anything is allocated: the file must be able to hold the parameters its config claims
    const n = parameterCount(cfg);
    if (n * 4 > bytes.length)
      throw new FormatError(
        `model file's config has ${n} parameters (${n * 4} bytes of F32) but the file has only ${bytes.length} bytes`,
      );
    const vae = await VAE.open(cfg, run);
    seedRng(vae.net, cfg.seed);
    for (const s of vae.net.paramSlots) vae.net.view(s).set(tensorF32(file.tensors, s.name, s.shape, true));
    vae.trainedOn = readTrainedOn(md.preprocessing);
    return { model: vae, file };
  }

  /**
   * A model from a PyTorch `state_dict` saved as safetensors (`safetensors.torch.save_file(
   * model.state_dict(), path)`), for an MLP VAE of nn.Linear layers. PyTorch examples/vae's names
   * (fc1, fc21, fc22, fc3, fc4) are recognised; other names through `names` (wasm-vae layer →
   * the file's layer). Sizes come from the tensors; the activation, likelihood, sigma, seed, … from
   * the options (VAE.create's defaults: ReLU, Bernoulli). Missing, extra or mis-shaped tensors are a
   * FormatError naming each, raised before any wasm memory is allocated. See src/io/pytorch.ts.
   */
  static async fromPyTorch(
    bytes: Uint8Array | ArrayBuffer,
    opts: PyTorchOptions & LoadOptions = {},
  ): Promise<VAE> {
    if (opts === null || typeof opts !== 'object')
      throw new ConfigError('VAE.fromPyTorch: options must be an object');
    const run = parse(RUN, pick(opts, RUN_KEYS), 'VAE.fromPyTorch');
    const { config, params } = readPyTorchStateDict(fileBytes(bytes, 'VAE.fromPyTorch'), opts, RUN_KEYS);
    const vae = await VAE.open(config, run);
    seedRng(vae.net, config.seed);
    for (const s of vae.net.paramSlots) vae.net.view(s).set(params.get(s.name)!);
    return vae;
  }

  /**
   * Ends the model's kernel threads and marks it unusable: every later call throws. Each VAE owns
   * its own wasm instance and memory, which the engine frees once the VAE is no longer referenced
   * (WebAssembly memories cannot be shrunk or freed explicitly).
   */
  dispose(): void {
    this.disposed = true;
    this.pool?.dispose();
  }
}

/** A file's bytes as a Uint8Array: a Uint8Array (or Node Buffer) as is, an ArrayBuffer or other view wrapped. */
function fileBytes(bytes: unknown, what: string): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new FormatError(
    `${what} expects the file's bytes as a Uint8Array or ArrayBuffer, got ${describe(bytes)}`,
  );
}

/** How fit() read its training data, for the preprocessing metadata. */
export function describeInput(x: unknown, m: Matrix): { input: string; range: [number, number] } {
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < m.data.length; i++) {
    const v = m.data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const input =
    x instanceof Uint8Array || x instanceof Uint8ClampedArray ? 'bytes divided by 255' : 'values as given';
  return { input, range: [lo, hi] };
}

/** The preprocessing record of a model file (older files have none: null). */
function readTrainedOn(text: string | undefined): { input: string; range: [number, number] } | null {
  try {
    const p = JSON.parse(text ?? '{}');
    const r = p?.range;
    if (typeof p?.input === 'string' && Array.isArray(r) && r.length === 2 && r.every(Number.isFinite))
      return { input: p.input.slice(0, 100), range: [r[0], r[1]] };
  } catch {
    // checked (and reported) with the config above
  }
  return null;
}

/** A flat array of numbers as a Float32Array; a non-number names its index. */
function flatNumbers(x: unknown[], what: string): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (typeof v !== 'number')
      throw new DataError(`${what}: value at index ${i} is not a number, got ${describe(v)}`);
    out[i] = v;
  }
  return out;
}

function pick(o: object, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in o) out[k] = (o as Record<string, unknown>)[k];
  return out;
}
