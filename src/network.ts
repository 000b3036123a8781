/**
 * The MLP VAE on the wasm kernels: parameters, forward, fused ELBO, backward — llm.c style, a
 * straight list of kernel calls over precomputed pointers, then the same list in reverse.
 * fp32; single-threaded; no allocation (JS or wasm) per step after construction.
 *
 * Encoder: x (B,D) → [Linear → act]* → μ head (B,Z), log σ² head (B,Z).
 * z = μ + σ ⊙ ε for L samples per datapoint, rows b·L + l.
 * Decoder: z (BL,Z) → [Linear → act]* → output head (BL,D): Bernoulli logits or Gaussian means,
 * plus a log σ² head (BL,D) for the learned-variance Gaussian.
 * Loss per minibatch = scale · Σ_b [ −(1/L) Σ_l log p(x_b|z_bl) + β·KL_b ]  (summed, not averaged).
 */
import { GroupPlan, planArena, replanActivations, type ArenaLayout, type Slot } from './arena.js';
import type { Kernels } from './wasm.js';
import { ConfigError, ShapeError } from './errors.js';

export type Activation = 'identity' | 'relu' | 'leaky_relu' | 'elu' | 'tanh' | 'sigmoid' | 'softplus';
export type Likelihood = 'bernoulli' | 'gaussian' | 'gaussian-learned';
export const ACTIVATIONS: readonly Activation[] = ['identity', 'relu', 'leaky_relu', 'elu', 'tanh', 'sigmoid', 'softplus'];
export const LIKELIHOODS: readonly Likelihood[] = ['bernoulli', 'gaussian', 'gaussian-learned'];

export interface NetworkConfig {
  inputDim: number;
  encoder: number[];
  latentDim: number;
  decoder: number[];
  activation: Activation;
  /** leaky_relu negative slope (default 0.01) or elu α (default 1). */
  activationAlpha?: number;
  likelihood: Likelihood;
  /** σ of the fixed-variance Gaussian likelihood (default 1). */
  sigma?: number;
}

export interface Capacity { batch: number; samples: number }

/** One linear layer: weight (out, in) and bias (out) slots in the params group. */
export interface LinearLayer { name: string; inDim: number; outDim: number; weight: Slot; bias: Slot }

/** RNG state slots in the header: ε / sampling, and data order / binarization. */
export const RNG_TRAIN = 0;
export const RNG_DATA = 16;
const HEADER_BYTES = 32;

export interface LossParts { loss: number; rec: number; kl: number }

/** Absolute byte offsets of every activation and activation gradient, rebuilt when the layout changes. */
interface Pointers {
  x: number; mu: number; logvar: number; eps: number; z: number; out: number; outlv: number;
  rec: number; kl: number; recs: number; sw: number; lw: number;
  dmu: number; dlogvar: number; dz: number; dout: number; doutlv: number;
  encPre: number[]; encH: number[]; encDh: number[]; decPre: number[]; decH: number[]; decDh: number[];
}

const isPosInt = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0;

export function validateNetworkConfig(c: NetworkConfig): void {
  if (!isPosInt(c.inputDim)) throw new ConfigError(`inputDim must be a positive integer, got ${c.inputDim}`);
  if (!isPosInt(c.latentDim)) throw new ConfigError(`latentDim must be a positive integer, got ${c.latentDim}`);
  for (const side of ['encoder', 'decoder'] as const) {
    if (!Array.isArray(c[side]) || !c[side].every(isPosInt)) throw new ConfigError(`${side} must be an array of positive integer widths, got ${JSON.stringify(c[side])}`);
  }
  if (!ACTIVATIONS.includes(c.activation)) throw new ConfigError(`unknown activation "${c.activation}"; expected one of ${ACTIVATIONS.join(', ')}`);
  if (!LIKELIHOODS.includes(c.likelihood)) throw new ConfigError(`unknown likelihood "${c.likelihood}"; expected one of ${LIKELIHOODS.join(', ')}`);
  if (c.sigma !== undefined && !(c.sigma > 0 && Number.isFinite(c.sigma))) throw new ConfigError(`sigma must be a positive finite number, got ${c.sigma}`);
  if (c.activationAlpha !== undefined && !Number.isFinite(c.activationAlpha)) throw new ConfigError(`activationAlpha must be finite, got ${c.activationAlpha}`);
}

export class Network {
  readonly k: Kernels;
  readonly config: Required<NetworkConfig>;
  readonly encoder: LinearLayer[] = [];
  readonly muHead: LinearLayer;
  readonly logvarHead: LinearLayer;
  readonly decoder: LinearLayer[] = [];
  readonly outHead: LinearLayer;
  readonly outLogvarHead: LinearLayer | null;
  readonly params = new GroupPlan();
  layout: ArenaLayout;
  capacity: Capacity;
  private acts!: GroupPlan;
  private dacts!: GroupPlan;
  private scratchBytes = 0;
  private readonly actKind: number;
  private readonly likKind: number;
  private readonly alpha: number;

  constructor(k: Kernels, config: NetworkConfig, capacity: Capacity, stateSlots = 2) {
    validateNetworkConfig(config);
    this.k = k;
    const act = config.activation;
    this.config = {
      ...config,
      encoder: [...config.encoder],
      decoder: [...config.decoder],
      activationAlpha: config.activationAlpha ?? (act === 'elu' ? 1 : 0.01),
      sigma: config.sigma ?? 1,
    };
    this.actKind = k.constants.act[act];
    this.likKind = k.constants.lik[config.likelihood];
    this.alpha = this.config.activationAlpha;
    const { inputDim: D, latentDim: Z } = this.config;
    const lin = (name: string, i: number, o: number): LinearLayer =>
      ({ name, inDim: i, outDim: o, weight: this.params.add(`${name}.weight`, [o, i]), bias: this.params.add(`${name}.bias`, [o]) });
    let w = D;
    this.config.encoder.forEach((h, i) => { this.encoder.push(lin(`encoder.${i}`, w, h)); w = h; });
    this.muHead = lin('fc_mu', w, Z);
    this.logvarHead = lin('fc_logvar', w, Z);
    w = Z;
    this.config.decoder.forEach((h, i) => { this.decoder.push(lin(`decoder.${i}`, w, h)); w = h; });
    this.outHead = lin('fc_out', w, D);
    this.outLogvarHead = config.likelihood === 'gaussian-learned' ? lin('fc_out_logvar', w, D) : null;
    this.capacity = this.checkCapacity(capacity);
    this.planActivations(this.capacity);
    this.layout = planArena(k, HEADER_BYTES, this.params, stateSlots, this.acts, this.dacts, this.scratchBytes);
    k.exports.f32_fill(this.layout.params, (this.layout.end - this.layout.params) >> 2, 0);
    this.p = this.bindPointers();
  }

  /** The precomputed pointers the forward and backward lists run over. */
  p: Pointers;

  private bindPointers(): Pointers {
    const a = (n: string) => this.act(n), d = (n: string) => this.dact(n), lv = !!this.outLogvarHead;
    return {
      x: a('x'), mu: a('mu'), logvar: a('logvar'), eps: a('eps'), z: a('z'), out: a('out'), outlv: lv ? a('outlv') : 0,
      rec: a('rec'), kl: a('kl'), recs: a('recs'), sw: a('sw'), lw: a('lw'),
      dmu: d('dmu'), dlogvar: d('dlogvar'), dz: d('dz'), dout: d('dout'), doutlv: lv ? d('doutlv') : 0,
      encPre: this.encoder.map((_, i) => a(`enc.pre.${i}`)), encH: this.encoder.map((_, i) => a(`enc.h.${i}`)), encDh: this.encoder.map((_, i) => d(`enc.dh.${i}`)),
      decPre: this.decoder.map((_, i) => a(`dec.pre.${i}`)), decH: this.decoder.map((_, i) => a(`dec.h.${i}`)), decDh: this.decoder.map((_, i) => d(`dec.dh.${i}`)),
    };
  }

  private checkCapacity(c: Capacity): Capacity {
    if (!isPosInt(c.batch)) throw new ConfigError(`batch capacity must be a positive integer, got ${c.batch}`);
    if (!isPosInt(c.samples)) throw new ConfigError(`samples per datapoint (L) must be a positive integer, got ${c.samples}`);
    return { batch: c.batch, samples: c.samples };
  }

  get layers(): LinearLayer[] {
    return [...this.encoder, this.muHead, this.logvarHead, ...this.decoder, this.outHead, ...(this.outLogvarHead ? [this.outLogvarHead] : [])];
  }

  /** Floats in the params group (including alignment padding): the length of every flat loop. */
  get paramFloats(): number { return this.layout.paramBytes >> 2; }

  private planActivations(c: Capacity): void {
    const { inputDim: D, latentDim: Z } = this.config;
    const B = c.batch, BL = c.batch * c.samples;
    const a = new GroupPlan(), d = new GroupPlan();
    a.add('x', [B, D]);
    this.encoder.forEach((l, i) => { a.add(`enc.pre.${i}`, [B, l.outDim]); a.add(`enc.h.${i}`, [B, l.outDim]); d.add(`enc.dh.${i}`, [B, l.outDim]); });
    a.add('mu', [B, Z]); a.add('logvar', [B, Z]); a.add('eps', [BL, Z]); a.add('z', [BL, Z]);
    d.add('dmu', [B, Z]); d.add('dlogvar', [B, Z]); d.add('dz', [BL, Z]);
    this.decoder.forEach((l, i) => { a.add(`dec.pre.${i}`, [BL, l.outDim]); a.add(`dec.h.${i}`, [BL, l.outDim]); d.add(`dec.dh.${i}`, [BL, l.outDim]); });
    a.add('out', [BL, D]); d.add('dout', [BL, D]);
    if (this.outLogvarHead) { a.add('outlv', [BL, D]); d.add('doutlv', [BL, D]); }
    a.add('rec', [B]); a.add('kl', [B]); a.add('recs', [BL]); a.add('sw', [BL]); a.add('lw', [BL]);
    let scratch = 0;
    const sf = this.k.exports.linear_scratch_floats;
    for (const l of [...this.encoder, this.muHead, this.logvarHead]) scratch = Math.max(scratch, sf(B, l.inDim, l.outDim));
    for (const l of [...this.decoder, this.outHead]) scratch = Math.max(scratch, sf(BL, l.inDim, l.outDim));
    this.acts = a; this.dacts = d; this.scratchBytes = scratch * 4;
  }

  /** Makes room for a larger batch or more samples (explicitly; never inside a step). */
  reserve(c: Capacity): void {
    c = this.checkCapacity(c);
    if (c.batch <= this.capacity.batch && c.samples <= this.capacity.samples && c.batch * c.samples <= this.capacity.batch * this.capacity.samples) return;
    const next = { batch: Math.max(c.batch, this.capacity.batch), samples: Math.max(c.samples, this.capacity.samples) };
    this.planActivations(next);
    this.layout = replanActivations(this.k, this.layout, this.acts, this.dacts, this.scratchBytes);
    this.capacity = next;
    this.p = this.bindPointers();
  }

  /** Absolute byte offset of an activation ('x', 'mu', 'enc.h.0', …) or its gradient ('dmu', …). */
  act(name: string): number { return this.layout.acts + this.acts.get(name).offset; }
  dact(name: string): number { return this.layout.dacts + this.dacts.get(name).offset; }
  param(slot: Slot): number { return this.layout.params + slot.offset; }
  grad(slot: Slot): number { return this.layout.grads + slot.offset; }
  get scratch(): number { return this.layout.scratch; }
  rngState(which: number): number { return this.layout.header + which; }

  private checkRows(B: number, L: number): void {
    if (!isPosInt(B) || B > this.capacity.batch) throw new ShapeError(`batch of ${B} rows does not fit the reserved capacity of ${this.capacity.batch}; call reserve() first`);
    if (!isPosInt(L) || L * B > this.capacity.batch * this.capacity.samples || L > this.capacity.samples) throw new ShapeError(`L = ${L} samples per datapoint exceeds the reserved capacity of ${this.capacity.samples}`);
  }

  /** Encoder forward for B rows already in 'x': fills mu and logvar. */
  encode(B: number): void {
    const e = this.k.exports, p = this.p;
    let h = p.x;
    for (let i = 0; i < this.encoder.length; i++) {
      const l = this.encoder[i];
      e.linear_forward(p.encPre[i], h, this.param(l.weight), this.param(l.bias), this.scratch, B, l.inDim, l.outDim);
      e.act_forward(p.encH[i], p.encPre[i], B * l.outDim, this.actKind, this.alpha);
      h = p.encH[i];
    }
    e.linear_forward(p.mu, h, this.param(this.muHead.weight), this.param(this.muHead.bias), this.scratch, B, this.muHead.inDim, this.muHead.outDim);
    e.linear_forward(p.logvar, h, this.param(this.logvarHead.weight), this.param(this.logvarHead.bias), this.scratch, B, this.logvarHead.inDim, this.logvarHead.outDim);
  }

  /** Decoder forward for R rows of z at `zPtr` (default 'z'): fills 'out' (and 'outlv'). */
  decode(R: number, zPtr = this.p.z): void {
    const e = this.k.exports, p = this.p;
    let g = zPtr;
    for (let i = 0; i < this.decoder.length; i++) {
      const l = this.decoder[i];
      e.linear_forward(p.decPre[i], g, this.param(l.weight), this.param(l.bias), this.scratch, R, l.inDim, l.outDim);
      e.act_forward(p.decH[i], p.decPre[i], R * l.outDim, this.actKind, this.alpha);
      g = p.decH[i];
    }
    e.linear_forward(p.out, g, this.param(this.outHead.weight), this.param(this.outHead.bias), this.scratch, R, this.outHead.inDim, this.outHead.outDim);
    const lv = this.outLogvarHead;
    if (lv) e.linear_forward(p.outlv, g, this.param(lv.weight), this.param(lv.bias), this.scratch, R, lv.inDim, lv.outDim);
  }

  /** Draws ε ~ N(0, I) for B·L rows from the training RNG stream. */
  sampleEps(B: number, L: number): void {
    this.k.exports.rng_normal(this.p.eps, B * L * this.config.latentDim, this.rngState(RNG_TRAIN), 0, 1);
  }

  /**
   * Forward pass and loss for B rows in 'x' with ε already in 'eps'. With `grad`, also the full
   * backward pass, which writes the gradient group (or, with `accumulate`, adds to it — then zero
   * it first with zeroGrad()).
   *  - objective 'elbo': loss = scale · Σ_b [rec_b + β·Σ_j max(kl_bj, λ-rule)], where free bits
   *    λ > 0 (nats per latent dimension) stop the KL gradient of dimensions whose minibatch-mean
   *    KL is below λ and count λ for them instead (Kingma et al. 2016).
   *  - objective 'iwae': loss = −scale · Σ_b log (1/L) Σ_l w_bl, w = p(x|z)p(z)/q(z|x), the L-sample
   *    importance-weighted bound (Burda et al. 2016); β and free bits do not apply.
   * Returns the unscaled batch sums: `loss` of the objective, and rec / kl of the ELBO (in an
   * object reused by the next call: copy the numbers to keep them).
   */
  lossAndGrad(B: number, L: number, opts: { beta?: number; scale?: number; grad?: boolean; accumulate?: boolean; freeBits?: number; objective?: 'elbo' | 'iwae' } = {}): LossParts {
    this.checkRows(B, L);
    const e = this.k.exports;
    const { latentDim: Z, inputDim: D } = this.config;
    const beta = opts.beta ?? 1, scale = opts.scale ?? 1, grad = opts.grad ?? true;
    const freeBits = opts.freeBits ?? 0, iwae = opts.objective === 'iwae';
    const BL = B * L;
    this.encode(B);
    e.reparam_forward(this.p.z, this.p.mu, this.p.logvar, this.p.eps, B, L, Z);
    this.decode(BL);
    const lv = this.outLogvarHead;
    let sw = 0;
    let total = 0;
    if (iwae) {
      total = this.iwaeWeights(B, L, scale);
      sw = this.p.sw;
    }
    const elbo = e.elbo_forward_backward(this.p.rec, this.p.kl, this.p.recs,
      grad ? this.p.dout : 0, grad && lv ? this.p.doutlv : 0,
      grad ? this.p.dmu : 0, grad ? this.p.dlogvar : 0,
      this.p.out, lv ? this.p.outlv : 0, this.p.x, this.p.mu, this.p.logvar, sw,
      // IWAE: 'sw' already holds scale · w̃, so the kernel must not scale the decoder gradient again
      B, L, D, Z, this.likKind, this.config.sigma, iwae ? 0 : beta, iwae ? 1 : scale);
    if (!iwae) total = elbo;
    const rec = this.sumOf(this.p.rec, B), kl = this.sumOf(this.p.kl, B);
    if (!iwae && freeBits > 0) total += this.applyFreeBits(B, freeBits, beta, grad);
    if (grad) this.backward(B, L, iwae ? scale : 0, opts.accumulate ? 1 : 0);
    // one result object reused across steps: no allocation per training step
    const parts = this.parts;
    parts.loss = total; parts.rec = rec; parts.kl = kl;
    return parts;
  }

  private readonly parts: LossParts = { loss: 0, rec: 0, kl: 0 };

  private perDimKl: Float64Array | null = null;

  /** Free bits: returns the loss correction; zeroes the KL gradient of dimensions under the floor. */
  private applyFreeBits(B: number, lambda: number, beta: number, grad: boolean): number {
    const Z = this.config.latentDim, h = this.heap;
    const mu = this.p.mu >> 2, lv = this.p.logvar >> 2;
    const kd = (this.perDimKl && this.perDimKl.length === Z) ? this.perDimKl.fill(0) : (this.perDimKl = new Float64Array(Z));
    const lo = this.k.constants.logvarMin, hi = this.k.constants.logvarMax;
    for (let b = 0; b < B; b++) for (let j = 0; j < Z; j++) {
      const v = Math.min(Math.max(h[lv + b * Z + j], lo), hi), m = h[mu + b * Z + j];
      kd[j] += -0.5 * (1 + v - m * m - Math.exp(v));
    }
    let correction = 0;
    const dmu = this.p.dmu >> 2, dlv = this.p.dlogvar >> 2;
    for (let j = 0; j < Z; j++) {
      if (kd[j] / B >= lambda) continue;
      correction += beta * (lambda * B - kd[j]); // Σ_b λ replaces Σ_b kl_bj
      if (grad) for (let b = 0; b < B; b++) { h[dmu + b * Z + j] = 0; h[dlv + b * Z + j] = 0; }
    }
    return correction;
  }

  /**
   * IWAE: log w_bl = −nll_bl + log p(z) − log q(z|x) into 'lw', normalised weights times scale into
   * 'sw'; returns −Σ_b log (1/L) Σ_l w_bl.
   */
  private iwaeWeights(B: number, L: number, scale: number): number {
    const e = this.k.exports, { latentDim: Z, inputDim: D } = this.config;
    const lv = this.outLogvarHead;
    e.elbo_forward_backward(this.p.rec, this.p.kl, this.p.recs, 0, 0, 0, 0,
      this.p.out, lv ? this.p.outlv : 0, this.p.x, this.p.mu, this.p.logvar, 0,
      B, L, D, Z, this.likKind, this.config.sigma, 0, 1);
    e.log_prior_ratio(this.p.lw, this.p.z, this.p.eps, this.p.logvar, B, L, Z);
    const h = this.heap, recs = this.p.recs >> 2, lw = this.p.lw >> 2, sw = this.p.sw >> 2;
    let loss = 0;
    for (let b = 0; b < B; b++) {
      let mx = -Infinity;
      for (let l = 0; l < L; l++) { const i = b * L + l; h[lw + i] -= h[recs + i]; if (h[lw + i] > mx) mx = h[lw + i]; }
      let s = 0;
      for (let l = 0; l < L; l++) s += Math.exp(h[lw + b * L + l] - mx);
      for (let l = 0; l < L; l++) h[sw + b * L + l] = scale * Math.exp(h[lw + b * L + l] - mx) / s;
      loss -= mx + Math.log(s / L);
    }
    return loss;
  }

  private heapView: Float32Array | null = null;
  /** A Float32Array over the whole memory, rebuilt only when the memory has grown (no per-step allocation). */
  get heap(): Float32Array {
    if (!this.heapView || this.heapView.buffer !== this.k.memory.buffer) this.heapView = new Float32Array(this.k.memory.buffer);
    return this.heapView;
  }

  private sumOf(ptr: number, n: number): number {
    const f = this.heap, o = ptr >> 2;
    let s = 0;
    for (let i = 0; i < n; i++) s += f[o + i];
    return s;
  }

  /** The backward pass: the forward list in reverse. Parameter gradients are written (acc = 0) or accumulated (acc = 1). */
  private backward(B: number, L: number, iwaeScale: number, acc: number): void {
    const e = this.k.exports;
    const { latentDim: Z } = this.config;
    const BL = B * L, nd = this.decoder.length, ne = this.encoder.length;
    const p = this.p;
    // decoder heads: d(top hidden) = dout · W_out (+ doutlv · W_outlv)
    const gTop = nd ? p.decH[nd - 1] : p.z;
    const dgTop = nd ? p.decDh[nd - 1] : p.dz;
    const o = this.outHead;
    e.linear_backward(dgTop, this.grad(o.weight), this.grad(o.bias), p.dout, gTop, this.param(o.weight), this.scratch, BL, o.inDim, o.outDim, 0, acc);
    const lv = this.outLogvarHead;
    if (lv) e.linear_backward(dgTop, this.grad(lv.weight), this.grad(lv.bias), p.doutlv, gTop, this.param(lv.weight), this.scratch, BL, lv.inDim, lv.outDim, 1, acc);
    // decoder hidden layers, last to first; the activation gradient is formed in place
    for (let i = nd - 1; i >= 0; i--) {
      const l = this.decoder[i];
      const dh = p.decDh[i];
      e.act_backward(dh, dh, p.decPre[i], p.decH[i], BL * l.outDim, this.actKind, this.alpha);
      const inp = i ? p.decH[i - 1] : p.z;
      const dinp = i ? p.decDh[i - 1] : p.dz;
      e.linear_backward(dinp, this.grad(l.weight), this.grad(l.bias), dh, inp, this.param(l.weight), this.scratch, BL, l.inDim, l.outDim, 0, acc);
    }
    if (iwaeScale) this.iwaeLatentGrad(B, L, iwaeScale);
    // the path through z into μ and log σ² (the KL part is already there)
    e.reparam_backward(p.dmu, p.dlogvar, p.dz, p.logvar, p.eps, B, L, Z);
    // encoder heads
    const hTop = ne ? p.encH[ne - 1] : p.x;
    const dhTop = ne ? p.encDh[ne - 1] : 0;
    const m = this.muHead, v = this.logvarHead;
    e.linear_backward(dhTop, this.grad(m.weight), this.grad(m.bias), p.dmu, hTop, this.param(m.weight), this.scratch, B, m.inDim, m.outDim, 0, acc);
    e.linear_backward(dhTop, this.grad(v.weight), this.grad(v.bias), p.dlogvar, hTop, this.param(v.weight), this.scratch, B, v.inDim, v.outDim, 1, acc);
    for (let i = ne - 1; i >= 0; i--) {
      const l = this.encoder[i];
      const dh = p.encDh[i];
      e.act_backward(dh, dh, p.encPre[i], p.encH[i], B * l.outDim, this.actKind, this.alpha);
      const inp = i ? p.encH[i - 1] : p.x;
      const dinp = i ? p.encDh[i - 1] : 0; // no gradient for the data
      e.linear_backward(dinp, this.grad(l.weight), this.grad(l.bias), dh, inp, this.param(l.weight), this.scratch, B, l.inDim, l.outDim, 0, acc);
    }
  }

  /**
   * IWAE's latent terms: −log w contains ½‖z‖² − ½‖ε‖² − ½ Σ log σ², so with weights w̃ (in 'sw',
   * times scale) dz += w̃·z and dlog σ² −= ½·scale (Σ_l w̃ = 1; zero where log σ² is clamped).
   */
  private iwaeLatentGrad(B: number, L: number, scale: number): void {
    const Z = this.config.latentDim, h = this.heap, p = this.p;
    const dz = p.dz >> 2, z = p.z >> 2, sw = p.sw >> 2, dlv = p.dlogvar >> 2, lv = p.logvar >> 2;
    for (let r = 0; r < B * L; r++) for (let j = 0; j < Z; j++) h[dz + r * Z + j] += h[sw + r] * h[z + r * Z + j];
    const lo = this.k.constants.logvarMin, hi = this.k.constants.logvarMax;
    for (let i = 0; i < B * Z; i++) if (h[lv + i] >= lo && h[lv + i] <= hi) h[dlv + i] -= 0.5 * scale;
  }

  zeroGrad(): void { this.k.exports.f32_fill(this.layout.grads, this.paramFloats, 0); }

  /** A view of a parameter (or, with grad, its gradient). Valid until the memory grows. */
  view(slot: Slot, which: 'param' | 'grad' = 'param'): Float32Array {
    return new Float32Array(this.k.memory.buffer, which === 'param' ? this.param(slot) : this.grad(slot), slot.floats);
  }

  /** A view of an activation slot ('x', 'mu', 'out', …). Valid until the memory grows. */
  actView(name: string, floats?: number): Float32Array {
    const s = this.acts.get(name);
    return new Float32Array(this.k.memory.buffer, this.layout.acts + s.offset, floats ?? s.floats);
  }
}
