/**
 * The model a user holds: a VAE on the wasm kernels with encode / decode / sample / reconstruct /
 * interpolate / evaluate / logLikelihood / activeUnits / save / load. Batched calls take any number
 * of rows and run them through the arena in chunks. Losses are in nats per datapoint.
 */
import { loadKernels, type BuildName, type Kernels } from './wasm.js';
import { Network, RNG_TRAIN, RNG_DATA, validateNetworkConfig, type Activation, type Likelihood, type NetworkConfig } from './network.js';
import { initParams, seedRng, INIT_SCHEMES, type InitScheme } from './init.js';
import { STATE_SLOTS } from './optim.js';
import { ConfigError, DataError, FormatError, ShapeError, checkKeys } from './errors.js';
import { toMatrix, checkFinite, checkUnitInterval, uint8ToUnit, binarizeThreshold, BINARIZATIONS, type Binarization, type Matrix } from './data/preprocess.js';
import { encodeSafetensors, decodeSafetensors, type TensorEntry } from './io/safetensors.js';

/** Rows of data: a row-major Float32Array (N × D), Uint8 pixels (scaled to [0, 1]), an array of rows, or a Matrix. */
export type Input = Float32Array | Uint8Array | Uint8ClampedArray | ArrayLike<number>[] | number[][] | Matrix;

export interface VAEOptions {
  inputDim: number;
  /** Hidden widths of the encoder MLP, input side first. Default [400]. */
  encoder?: number[];
  /** Hidden widths of the decoder MLP, latent side first. Default: the encoder's, reversed. */
  decoder?: number[];
  latentDim?: number;
  activation?: Activation;
  activationAlpha?: number;
  likelihood?: Likelihood;
  /** σ of the fixed-variance Gaussian likelihood. Default 1. */
  sigma?: number;
  init?: InitScheme;
  seed?: number;
  /** How inputs are binarized (recorded with the model; the trainer applies 'dynamic'). */
  binarization?: Binarization;
  /** Kernel build; default the best this runtime validates. */
  build?: BuildName;
  /** Rows per arena chunk for inference calls (default 256). */
  chunkRows?: number;
}

const VAE_KEYS = ['inputDim', 'encoder', 'decoder', 'latentDim', 'activation', 'activationAlpha', 'likelihood', 'sigma', 'init', 'seed', 'binarization', 'build', 'chunkRows'];

export interface ModelConfig extends Required<Omit<NetworkConfig, 'activationAlpha' | 'sigma'>> {
  activationAlpha: number; sigma: number; init: InitScheme; seed: number; binarization: Binarization;
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
  /** @internal the network on the kernels (exposed for the trainer and benchmarks). */
  readonly net: Network;
  readonly kernels: Kernels;
  private readonly chunk: number;
  private disposed = false;

  private constructor(k: Kernels, config: ModelConfig, chunk: number) {
    this.kernels = k;
    this.config = config;
    this.chunk = chunk;
    this.net = new Network(k, config, { batch: chunk, samples: 1 }, STATE_SLOTS);
  }

  /** Creates a model with freshly initialised parameters. */
  static async create(opts: VAEOptions): Promise<VAE> {
    if (!opts || typeof opts !== 'object') throw new ConfigError('VAE.create needs an options object with at least inputDim');
    checkKeys(opts, VAE_KEYS, 'VAE');
    const encoder = opts.encoder ?? [400];
    const config: ModelConfig = {
      inputDim: opts.inputDim,
      encoder: [...encoder],
      decoder: [...(opts.decoder ?? [...encoder].reverse())],
      latentDim: opts.latentDim ?? 20,
      activation: opts.activation ?? 'relu',
      activationAlpha: opts.activationAlpha ?? ((opts.activation ?? 'relu') === 'elu' ? 1 : 0.01),
      likelihood: opts.likelihood ?? 'bernoulli',
      sigma: opts.sigma ?? 1,
      init: opts.init ?? 'pytorch',
      seed: opts.seed ?? 0,
      binarization: opts.binarization ?? 'none',
    };
    validateNetworkConfig(config);
    if (!INIT_SCHEMES.includes(config.init)) throw new ConfigError(`unknown init "${config.init}"; expected one of ${INIT_SCHEMES.join(', ')}`);
    if (!BINARIZATIONS.includes(config.binarization)) throw new ConfigError(`unknown binarization "${config.binarization}"; expected one of ${BINARIZATIONS.join(', ')}`);
    if (config.binarization !== 'none' && config.likelihood !== 'bernoulli') throw new ConfigError('binarization only makes sense with the bernoulli likelihood');
    const chunk = opts.chunkRows ?? 256;
    if (!Number.isSafeInteger(chunk) || chunk < 1) throw new ConfigError(`chunkRows must be a positive integer, got ${chunk}`);
    const k = await loadKernels({ build: opts.build });
    const vae = new VAE(k, config, chunk);
    seedRng(vae.net, config.seed);
    initParams(vae.net, config.init);
    return vae;
  }

  /** Which wasm build runs this model: 'relaxed', 'simd' or 'scalar'. */
  get build(): BuildName { return this.kernels.build; }

  /** Number of trainable parameters. */
  get parameterCount(): number { return this.net.layers.reduce((s, l) => s + l.weight.floats + l.bias.floats, 0); }

  private alive(): void { if (this.disposed) throw new ConfigError('this VAE has been disposed'); }

  /** Validates and flattens an input batch of rows with `cols` columns. */
  matrix(x: Input, cols = this.config.inputDim, what = 'x', unit = this.config.likelihood === 'bernoulli' && cols === this.config.inputDim): Matrix {
    let m: Matrix;
    if (x && typeof x === 'object' && 'data' in x && 'rows' in x && 'cols' in x) m = x as Matrix;
    else if (x instanceof Uint8Array || x instanceof Uint8ClampedArray) m = toMatrix(uint8ToUnit(x as Uint8Array), cols); // bytes → [0, 1]
    else m = toMatrix(x as Float32Array | number[][], x instanceof Float32Array ? cols : undefined);
    if (m.cols !== cols) throw new ShapeError(`${what} has ${m.cols} columns; this model expects ${cols}`);
    if (m.rows === 0) throw new DataError(`${what} is empty`);
    if (m.data.length !== m.rows * m.cols) throw new ShapeError(`${what}: data length ${m.data.length} is not rows × cols = ${m.rows} × ${m.cols}`);
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
    const st = this.net.rngState(RNG_DATA), saved = this.net.heap.slice(st >> 2, (st >> 2) + 4);
    const seed = this.config.seed;
    this.kernels.exports.rng_seed(st, seed >>> 0, (Math.floor(seed / 2 ** 32) ^ 0x57a71c) >>> 0);
    const out = new Float32Array(m.data.length), x = this.net.p.x, cap = this.chunk * m.cols;
    try {
      for (let i = 0; i < out.length; i += cap) {
        const n = Math.min(cap, out.length - i), h = this.net.heap, o = x >> 2;
        for (let j = 0; j < n; j++) h[o + j] = m.data[i + j];
        this.kernels.exports.rng_binarize(x, x, n, st);
        this.copyOut(out, i, x, n);
      }
    } finally {
      this.net.heap.set(saved, st >> 2);
    }
    return { data: out, rows: m.rows, cols: m.cols };
  }

  /** Copies rows [r0, r0+n) of m into the arena's 'x' slot (a plain loop: no allocation). */
  private load(m: Matrix, r0: number, n: number, binarize = false): void {
    const h = this.net.heap, off = this.net.p.x >> 2, D = m.cols, src = m.data, s0 = r0 * D;
    for (let i = 0; i < n * D; i++) h[off + i] = src[s0 + i];
    if (binarize && this.config.binarization === 'dynamic') {
      this.kernels.exports.rng_binarize(this.net.p.x, this.net.p.x, n * D, this.net.rngState(RNG_DATA));
    }
  }

  private copyOut(dst: Float32Array, dstOff: number, ptr: number, n: number): void {
    const h = this.net.heap, o = ptr >> 2;
    for (let i = 0; i < n; i++) dst[dstOff + i] = h[o + i];
  }

  /** q(z|x): the posterior means and log-variances, (rows, latentDim) each. */
  encode(x: Input): { mu: Float32Array; logvar: Float32Array; rows: number } {
    this.alive();
    const m = this.matrix(x), Z = this.config.latentDim;
    const mu = new Float32Array(m.rows * Z), logvar = new Float32Array(m.rows * Z);
    for (let r = 0; r < m.rows; r += this.chunk) {
      const n = Math.min(this.chunk, m.rows - r);
      this.load(m, r, n);
      this.net.encode(n);
      this.copyOut(mu, r * Z, this.net.p.mu, n * Z);
      this.copyOut(logvar, r * Z, this.net.p.logvar, n * Z);
    }
    return { mu, logvar, rows: m.rows };
  }

  /** p(x|z): Bernoulli probabilities or Gaussian means, (rows, inputDim). */
  decode(z: Input): Float32Array {
    this.alive();
    const m = this.matrix(z, this.config.latentDim, 'z', false);
    return this.decodeMatrix(m);
  }

  private decodeMatrix(m: Matrix): Float32Array {
    const D = this.config.inputDim, Z = this.config.latentDim, out = new Float32Array(m.rows * D);
    const h = this.net.heap;
    for (let r = 0; r < m.rows; r += this.chunk) {
      const n = Math.min(this.chunk, m.rows - r);
      const zo = this.net.p.z >> 2;
      for (let i = 0; i < n * Z; i++) h[zo + i] = m.data[r * Z + i];
      this.net.decode(n);
      this.copyOut(out, r * D, this.net.p.out, n * D);
    }
    if (this.config.likelihood === 'bernoulli') for (let i = 0; i < out.length; i++) out[i] = sigmoid(out[i]);
    return out;
  }

  /** Decodes the posterior mean of each row (or one posterior sample with `sample: true`). */
  reconstruct(x: Input, opts: { sample?: boolean; seed?: number } = {}): Float32Array {
    const { mu, logvar, rows } = this.encode(x);
    if (opts.sample) {
      const eps = this.normals(rows * this.config.latentDim, opts.seed);
      for (let i = 0; i < mu.length; i++) mu[i] += Math.exp(0.5 * logvar[i]) * eps[i];
    }
    return this.decodeMatrix({ data: mu, rows, cols: this.config.latentDim });
  }

  /** n draws z ~ N(0, I) decoded: (n, inputDim) probabilities or means. */
  sample(n: number, opts: { seed?: number } = {}): Float32Array {
    this.alive();
    if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError(`sample count must be a positive integer, got ${n}`);
    const z = this.normals(n * this.config.latentDim, opts.seed);
    return this.decodeMatrix({ data: z, rows: n, cols: this.config.latentDim });
  }

  /** Standard normals from the wasm RNG: a fresh stream for `seed`, else the model's sampling stream. */
  private normals(count: number, seed?: number): Float32Array {
    const e = this.kernels.exports, out = new Float32Array(count);
    const st = this.net.rngState(RNG_TRAIN);
    const saved = seed === undefined ? null : this.net.heap.slice(st >> 2, (st >> 2) + 4);
    if (seed !== undefined) {
      if (!Number.isSafeInteger(seed) || seed < 0) throw new ConfigError(`seed must be a non-negative safe integer, got ${seed}`);
      e.rng_seed(st, seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0);
    }
    const eps = this.net.p.eps, cap = this.chunk * this.config.latentDim;
    for (let i = 0; i < count; i += cap) {
      const n = Math.min(cap, count - i);
      e.rng_normal(eps, n, st, 0, 1);
      this.copyOut(out, i, eps, n);
    }
    if (saved) this.net.heap.set(saved, st >> 2);
    return out;
  }

  /** Decodes `steps` points on the line between the posterior means of xa and xb (steps ≥ 2). */
  interpolate(xa: ArrayLike<number>, xb: ArrayLike<number>, steps: number): Float32Array {
    if (!Number.isSafeInteger(steps) || steps < 2) throw new ConfigError(`interpolate needs steps ≥ 2, got ${steps}`);
    const { mu } = this.encode([Array.from(xa), Array.from(xb)]);
    const Z = this.config.latentDim, z = new Float32Array(steps * Z);
    for (let s = 0; s < steps; s++) {
      const t = s / (steps - 1);
      for (let j = 0; j < Z; j++) z[s * Z + j] = (1 - t) * mu[j] + t * mu[Z + j];
    }
    return this.decodeMatrix({ data: z, rows: steps, cols: Z });
  }

  /** The ELBO and its parts, in nats per datapoint, with `samples` z draws per row. */
  evaluate(x: Input, opts: { samples?: number; seed?: number } = {}): Evaluation {
    this.alive();
    const m = this.matrix(x);
    const L = opts.samples ?? 1;
    if (!Number.isSafeInteger(L) || L < 1) throw new ConfigError(`samples must be a positive integer, got ${L}`);
    return this.withSeed(opts.seed, () => {
      const rows = Math.max(1, Math.floor(this.chunk / L));
      this.net.reserve({ batch: rows, samples: L });
      let rec = 0, kl = 0;
      for (let r = 0; r < m.rows; r += rows) {
        const n = Math.min(rows, m.rows - r);
        this.load(m, r, n);
        this.net.sampleEps(n, L);
        const p = this.net.lossAndGrad(n, L, { grad: false });
        rec += p.rec; kl += p.kl;
      }
      const N = m.rows;
      return { elbo: -(rec + kl) / N, loss: (rec + kl) / N, reconstruction: rec / N, kl: kl / N, rows: N };
    });
  }

  /** Runs fn with the sampling stream reseeded (and restored after) when a seed is given. */
  private withSeed<T>(seed: number | undefined, fn: () => T): T {
    if (seed === undefined) return fn();
    if (!Number.isSafeInteger(seed) || seed < 0) throw new ConfigError(`seed must be a non-negative safe integer, got ${seed}`);
    const st = this.net.rngState(RNG_TRAIN), saved = this.net.heap.slice(st >> 2, (st >> 2) + 4);
    this.kernels.exports.rng_seed(st, seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0);
    try { return fn(); } finally { this.net.heap.set(saved, st >> 2); }
  }

  /**
   * Importance-sampled estimate of log p(x) per datapoint with k samples from q(z|x) — the IWAE
   * bound L_k, a lower bound that tightens as k grows. Samples are processed in chunks with a
   * running log-sum-exp, so k = 5000 needs no more memory than k = 1.
   */
  logLikelihood(x: Input, opts: { k?: number; seed?: number } = {}): { logLikelihood: number; perRow: Float64Array } {
    this.alive();
    const m = this.matrix(x);
    const K = opts.k ?? 5000;
    if (!Number.isSafeInteger(K) || K < 1) throw new ConfigError(`k must be a positive integer, got ${K}`);
    const e = this.kernels.exports, { latentDim: Z, inputDim: D } = this.config;
    return this.withSeed(opts.seed, () => {
      const Lc = Math.min(K, this.chunk);
      this.net.reserve({ batch: 1, samples: Lc });
      const per = new Float64Array(m.rows);
      const lik = this.kernels.constants.lik[this.config.likelihood];
      const lvHead = this.net.outLogvarHead;
      for (let r = 0; r < m.rows; r++) {
        this.load(m, r, 1);
        this.net.encode(1);
        let mx = -Infinity, s = 0; // running log-sum-exp: total = mx + log s
        for (let done = 0; done < K; done += Lc) {
          const L = Math.min(Lc, K - done);
          this.net.sampleEps(1, L);
          e.reparam_forward(this.net.p.z, this.net.p.mu, this.net.p.logvar, this.net.p.eps, 1, L, Z);
          this.net.decode(L);
          e.elbo_forward_backward(this.net.p.rec, this.net.p.kl, this.net.p.recs, 0, 0, 0, 0,
            this.net.p.out, lvHead ? this.net.p.outlv : 0, this.net.p.x, this.net.p.mu, this.net.p.logvar, 0,
            1, L, D, Z, lik, this.config.sigma, 0, 1);
          e.log_prior_ratio(this.net.p.lw, this.net.p.z, this.net.p.eps, this.net.p.logvar, 1, L, Z);
          const h = this.net.heap, lw = this.net.p.lw >> 2, recs = this.net.p.recs >> 2;
          for (let l = 0; l < L; l++) {
            const v = h[lw + l] - h[recs + l];
            if (v > mx) { s = s * Math.exp(mx - v) + 1; mx = v; } else s += Math.exp(v - mx);
          }
        }
        per[r] = mx + Math.log(s) - Math.log(K);
      }
      let mean = 0; for (const v of per) mean += v;
      return { logLikelihood: mean / m.rows, perRow: per };
    });
  }

  /** Latent units whose posterior mean varies across the data: Cov_x(E_q[z_u]) > threshold. */
  activeUnits(x: Input, opts: { threshold?: number } = {}): { count: number; variances: Float64Array; active: boolean[] } {
    const t = opts.threshold ?? 1e-2;
    const { mu, rows } = this.encode(x);
    const Z = this.config.latentDim, mean = new Float64Array(Z), v = new Float64Array(Z);
    for (let r = 0; r < rows; r++) for (let j = 0; j < Z; j++) mean[j] += mu[r * Z + j] / rows;
    for (let r = 0; r < rows; r++) for (let j = 0; j < Z; j++) v[j] += (mu[r * Z + j] - mean[j]) ** 2 / rows;
    const active = Array.from(v, (x) => x > t);
    return { count: active.filter(Boolean).length, variances: v, active };
  }

  /** Parameter tensors by PyTorch name, (out, in) weights — copies. */
  stateDict(): Map<string, { shape: number[]; data: Float32Array }> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const l of this.net.layers) for (const s of [l.weight, l.bias]) out.set(s.name, { shape: [...s.shape], data: this.net.view(s).slice() });
    return out;
  }

  /**
   * Serialises to safetensors: parameters under PyTorch names, the config, preprocessing and format
   * version in __metadata__, plus optional extra tensors and metadata (the trainer's state).
   */
  save(extra?: { tensors?: Map<string, TensorEntry>; metadata?: Record<string, string> }): Uint8Array {
    this.alive();
    const tensors = new Map<string, TensorEntry>();
    for (const [name, t] of this.stateDict()) tensors.set(name, { dtype: 'F32', shape: t.shape, data: t.data });
    for (const [name, t] of extra?.tensors ?? []) tensors.set(name, t);
    const { binarization, ...model } = this.config;
    return encodeSafetensors(tensors, {
      format: FORMAT_NAME, format_version: String(FORMAT_VERSION),
      config: JSON.stringify(model), preprocessing: JSON.stringify({ binarization, scale: '[0,1]' }),
      ...(extra?.metadata ?? {}),
    });
  }

  /** Loads a model written by save(). The file is treated as hostile: every problem is a FormatError. */
  static async load(bytes: Uint8Array, opts: { build?: BuildName; chunkRows?: number } = {}): Promise<VAE> {
    const vae = await VAE.fromFile(bytes, opts);
    return vae.model;
  }

  /** @internal load and also return the decoded file (the trainer reads its state from it). */
  static async fromFile(bytes: Uint8Array, opts: { build?: BuildName; chunkRows?: number } = {}) {
    if (!(bytes instanceof Uint8Array)) throw new FormatError('VAE.load expects the file as a Uint8Array');
    const file = decodeSafetensors(bytes);
    const md = file.metadata;
    if (md.format !== FORMAT_NAME) throw new FormatError(`not a wasm-vae model file (metadata format is ${JSON.stringify(md.format)})`);
    if (md.format_version !== String(FORMAT_VERSION)) throw new FormatError(`model format version ${md.format_version} is not supported (this library reads version ${FORMAT_VERSION})`);
    let cfg: ModelConfig;
    try {
      const model = JSON.parse(md.config ?? 'null');
      const pre = JSON.parse(md.preprocessing ?? '{}');
      cfg = { ...model, binarization: pre.binarization ?? 'none' };
      validateNetworkConfig(cfg);
      if (!BINARIZATIONS.includes(cfg.binarization)) throw new Error(`binarization ${cfg.binarization}`);
    } catch (e) {
      throw new FormatError(`model file has an invalid config: ${(e as Error).message}`);
    }
    const k = await loadKernels({ build: opts.build });
    const vae = new VAE(k, cfg, opts.chunkRows ?? 256);
    seedRng(vae.net, Number.isSafeInteger(cfg.seed) ? cfg.seed : 0);
    for (const l of vae.net.layers) for (const s of [l.weight, l.bias]) {
      const t = file.tensors.get(s.name);
      if (!t) throw new FormatError(`model file lacks tensor ${s.name}`);
      if (t.dtype !== 'F32') throw new FormatError(`tensor ${s.name} has dtype ${t.dtype}; expected F32`);
      if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
        throw new FormatError(`tensor ${s.name} has shape [${t.shape}]; the config implies [${s.shape}]`);
      }
      const data = t.data as Float32Array;
      const bad = vae.kernels.exports && firstNonFinite(data);
      if (bad >= 0) throw new FormatError(`tensor ${s.name} holds a non-finite value at index ${bad}`);
      vae.net.view(s).set(data);
    }
    return { model: vae, file };
  }

  /**
   * Marks the model unusable: every later call throws. Each VAE owns its own wasm instance and
   * memory, which the engine frees once the VAE is no longer referenced (WebAssembly memories
   * cannot be shrunk or freed explicitly).
   */
  dispose(): void {
    this.disposed = true;
  }
}

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}
