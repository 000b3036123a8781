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
import { ACTIVATION_KINDS } from './abi.js';
import { ConfigError, DataError, FormatError, ShapeError } from './errors.js';
import { field, optional, parse, posInt, str, type Check, type Parsed } from './options.js';
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

export type { ModelConfig } from './config.js';

/** Rows of data: a row-major Float32Array (N × D), Uint8 pixels (scaled to [0, 1]), an array of rows, or a Matrix. */
export type Input = Float32Array | Uint8Array | Uint8ClampedArray | ArrayLike<number>[] | number[][] | Matrix;

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
  rows: number;
}

export const FORMAT_NAME = 'wasm-vae';
export const FORMAT_VERSION = 1;

export class VAE {
  readonly config: ModelConfig;
  /** @internal the network on the kernels (for the trainer and the benchmarks). */
  readonly net: Network;
  readonly kernels: Kernels;
  /** Rows per arena chunk of the batched calls (encode, decode, evaluate, …). */
  readonly chunkRows: number;
  /** Kernel threads in use (1: the calling thread alone). */
  readonly threads: number;
  /** Why fewer threads run than were asked for ('' when as many as asked run). */
  readonly threadsNote: string;
  private readonly pool: ThreadPool | null;
  private disposed = false;

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
    this.threads = pool?.nth ?? 1;
    this.threadsNote = note;
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
    unit = this.config.likelihood === 'bernoulli' && cols === this.config.inputDim,
  ): Matrix {
    let m: Matrix;
    if (x && typeof x === 'object' && 'data' in x && 'rows' in x && 'cols' in x) m = checkMatrix(x, what);
    else if (x instanceof Uint8Array || x instanceof Uint8ClampedArray)
      m = toMatrix(uint8ToUnit(x as Uint8Array), cols); // bytes → [0, 1]
    else m = toMatrix(x as Float32Array | number[][], x instanceof Float32Array ? cols : undefined);
    if (m.cols !== cols) throw new ShapeError(`${what} has ${m.cols} columns; this model expects ${cols}`);
    if (m.rows === 0) throw new DataError(`${what} is empty`);
    if (m.data.length !== m.rows * m.cols)
      throw new ShapeError(
        `${what}: data length ${m.data.length} is not rows × cols = ${m.rows} × ${m.cols}`,
      );
    checkFinite(m.data, what, m.cols);
    if (unit) checkUnitInterval(m.data, m.cols, `${what} (the Bernoulli likelihood needs values in [0, 1])`);
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

  /** Copies rows [r0, r0+n) of m into the arena's 'x' tensor. */
  private putRows(m: Matrix, r0: number, n: number): void {
    this.net.put('x', m.data, r0 * m.cols, n * m.cols);
  }

  /** q(z|x): the posterior means and log-variances, (rows, latentDim) each. */
  encode(x: Input): { mu: Float32Array; logvar: Float32Array; rows: number } {
    this.alive();
    const m = this.matrix(x),
      Z = this.config.latentDim,
      net = this.net;
    const mu = new Float32Array(m.rows * Z),
      logvar = new Float32Array(m.rows * Z);
    for (let r = 0; r < m.rows; r += this.chunkRows) {
      const n = Math.min(this.chunkRows, m.rows - r);
      this.putRows(m, r, n);
      net.encode(n);
      net.get('mu', mu, r * Z, n * Z);
      net.get('logvar', logvar, r * Z, n * Z);
    }
    checkComputed(mu, 'posterior mean', Z);
    checkComputed(logvar, 'posterior log-variance', Z);
    return { mu, logvar, rows: m.rows };
  }

  /** p(x|z): Bernoulli probabilities or Gaussian means, (rows, inputDim). */
  decode(z: Input): Float32Array {
    this.alive();
    return this.decodeMatrix(this.matrix(z, this.config.latentDim, 'z', false));
  }

  /** Decodes the rows of z in chunks; with `eachChunk`, fills the 'z' tensor itself (given the chunk's first row and size). */
  private decodeMatrix(m: Matrix, eachChunk?: (r: number, n: number) => void): Float32Array {
    const D = this.config.inputDim,
      Z = this.config.latentDim,
      net = this.net;
    checkOutputFloats(m.rows, D, 'decoding');
    const out = new Float32Array(m.rows * D);
    for (let r = 0; r < m.rows; r += this.chunkRows) {
      const n = Math.min(this.chunkRows, m.rows - r);
      if (eachChunk) eachChunk(r, n);
      else net.put('z', m.data, r * Z, n * Z);
      net.decode(n);
      // Bernoulli: the decoder gives logits; probabilities come from the activation kernel's sigmoid
      if (this.config.likelihood === 'bernoulli')
        net.par.act_forward(net.ptr('out'), net.ptr('out'), n * D, ACTIVATION_KINDS.sigmoid, 0);
      net.get('out', out, r * D, n * D);
    }
    checkComputed(out, 'decoder output', D);
    return out;
  }

  /** Decodes the posterior mean of each row (or one posterior sample with `sample: true`). */
  reconstruct(x: Input, opts: { sample?: boolean; seed?: number } = {}): Float32Array {
    this.alive();
    opts ??= {};
    const m = this.matrix(x),
      Z = this.config.latentDim,
      net = this.net;
    return this.withSeed(opts.seed, () =>
      this.decodeMatrix({ data: m.data, rows: m.rows, cols: Z }, (r, n) => {
        this.putRows(m, r, n);
        net.encode(n);
        if (opts.sample) {
          net.sampleEps(n, 1);
          net.reparameterize(n, 1); // z = μ + σ ⊙ ε, by the training path's kernel
        } else {
          net.meanLatent(n);
        }
      }),
    );
  }

  /** n draws z ~ N(0, I) decoded: (n, inputDim) probabilities or means. */
  sample(n: number, opts: { seed?: number } = {}): Float32Array {
    this.alive();
    opts ??= {};
    if (!Number.isSafeInteger(n) || n < 1)
      throw new ConfigError(`sample count must be a positive integer, got ${n}`);
    const Z = this.config.latentDim;
    return this.withSeed(opts.seed, () =>
      this.decodeMatrix({ data: new Float32Array(0), rows: n, cols: Z }, (_r, c) => {
        this.kernels.exports.rng_normal(this.net.ptr('z'), c * Z, this.net.rngState(RNG_TRAIN), 0, 1);
      }),
    );
  }

  /** Decodes `steps` points on the line between the posterior means of xa and xb (steps ≥ 2). */
  interpolate(xa: ArrayLike<number>, xb: ArrayLike<number>, steps: number): Float32Array {
    if (!Number.isSafeInteger(steps) || steps < 2)
      throw new ConfigError(`interpolate needs steps ≥ 2, got ${steps}`);
    checkOutputFloats(steps, Math.max(this.config.inputDim, this.config.latentDim), 'interpolate');
    const { mu } = this.encode([xa, xb]);
    const Z = this.config.latentDim,
      z = new Float32Array(steps * Z);
    for (let s = 0; s < steps; s++) {
      const t = s / (steps - 1);
      for (let j = 0; j < Z; j++) z[s * Z + j] = (1 - t) * mu[j] + t * mu[Z + j];
    }
    return this.decodeMatrix({ data: z, rows: steps, cols: Z });
  }

  /** The ELBO and its parts, in nats per datapoint, with `samples` z draws per row. */
  evaluate(x: Input, opts: { samples?: number; seed?: number } = {}): Evaluation {
    this.alive();
    opts ??= {};
    const m = this.matrix(x);
    const L = opts.samples ?? 1;
    if (!Number.isSafeInteger(L) || L < 1 || L > LIMITS.maxSamples)
      throw new ConfigError(`samples must be a positive integer (at most ${LIMITS.maxSamples}), got ${L}`);
    return this.withSeed(opts.seed, () => {
      // rows per chunk such that rows × L sample rows fit what the model reserves for inference
      const rows = Math.max(1, Math.floor(this.chunkRows / L));
      this.net.reserve({ dataRows: rows, sampleRows: rows * L });
      let rec = 0,
        kl = 0;
      for (let r = 0; r < m.rows; r += rows) {
        const n = Math.min(rows, m.rows - r);
        this.putRows(m, r, n);
        this.net.sampleEps(n, L);
        const p = this.net.loss(n, L, undefined, 1, false);
        rec += p.rec;
        kl += p.kl;
      }
      const N = m.rows;
      checkComputed([rec, kl], 'reconstruction or KL term');
      return { elbo: -(rec + kl) / N, loss: (rec + kl) / N, reconstruction: rec / N, kl: kl / N, rows: N };
    });
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
   * bound L_k, a lower bound that tightens as k grows. The k samples of a row run in chunks of the
   * model's chunkRows through the IWAE objective's own kernels, combined by
   * log-sum-exp, so k = 5000 needs no more memory than k = 1.
   */
  logLikelihood(
    x: Input,
    opts: { k?: number; seed?: number } = {},
  ): { logLikelihood: number; perRow: Float64Array } {
    this.alive();
    opts ??= {};
    const m = this.matrix(x);
    const K = opts.k ?? 5000;
    if (!Number.isSafeInteger(K) || K < 1 || K > LIMITS.maxSamples)
      throw new ConfigError(`k must be a positive integer (at most ${LIMITS.maxSamples}), got ${K}`);
    return this.withSeed(opts.seed, () => {
      const net = this.net,
        Lc = Math.min(K, this.chunkRows); // a fixed chunking: the same bits whatever the capacity
      const per = new Float64Array(m.rows);
      for (let r = 0; r < m.rows; r++) {
        this.putRows(m, r, 1);
        let total = -Infinity; // log Σ_l w_l over the chunks so far
        for (let done = 0; done < K; done += Lc) {
          const L = Math.min(Lc, K - done);
          net.sampleEps(1, L);
          // the IWAE loss of one row is −log (1/L) Σ_l w_l, so this chunk's log Σ_l w_l is −loss + log L
          const c = -net.loss(1, L, IWAE, 1, false).loss + Math.log(L);
          total = total === -Infinity ? c : Math.max(total, c) + Math.log1p(Math.exp(-Math.abs(total - c)));
        }
        per[r] = total - Math.log(K);
      }
      checkComputed(per, 'log-likelihood');
      let mean = 0;
      for (const v of per) mean += v;
      return { logLikelihood: mean / m.rows, perRow: per };
    });
  }

  /** Latent units whose posterior mean varies across the data: Cov_x(E_q[z_u]) > threshold. */
  activeUnits(
    x: Input,
    opts: { threshold?: number } = {},
  ): { count: number; variances: Float64Array; active: boolean[] } {
    const t = opts?.threshold ?? 1e-2;
    const { mu, rows } = this.encode(x);
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
      preprocessing: JSON.stringify({ binarization, scale: '[0,1]' }),
      ...(extra?.metadata ?? {}),
    });
  }

  /** Loads a model written by save(). The file is treated as hostile: every problem is a FormatError. */
  static async load(bytes: Uint8Array, opts: LoadOptions = {}): Promise<VAE> {
    const vae = await VAE.fromFile(bytes, opts);
    return vae.model;
  }

  /** @internal load and also return the decoded file (the trainer reads its state from it). */
  static async fromFile(bytes: Uint8Array, opts: LoadOptions = {}) {
    if (!(bytes instanceof Uint8Array)) throw new FormatError('VAE.load expects the file as a Uint8Array');
    const run = parse(RUN, opts, 'VAE.load');
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
    return { model: vae, file };
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

function pick(o: object, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in o) out[k] = (o as Record<string, unknown>)[k];
  return out;
}
