/**
 * The VAE on the wasm kernels as a table of layers, llm.c style: forward is a straight walk over
 * the table with precomputed pointers, the objective seeds the chain rule in one place, backward
 * is the same walk in reverse. fp32; single-threaded; no allocation (JS or wasm) per step.
 *
 * Encoder: x (B,D) → [(Linear | Conv2d | ConvTranspose2d) → act]* → μ head (B,Z), log σ² head (B,Z);
 * images are rows of C·H·W floats in NCHW order, and a reshape entry is no layer at all.
 * Reparameterisation: z = μ + σ ⊙ ε for L samples per datapoint, rows b·L + l.
 * Decoder: z (BL,Z) → [(Linear | Conv2d | ConvTranspose2d) → act]* → output head (BL,D), dense or
 * a 3×3 ConvTranspose2d for decoders that end on an image: Bernoulli logits or Gaussian means,
 * plus a log σ² head (BL,D) for the learned-variance Gaussian.
 * Loss per minibatch = scale · Σ_b [ −(1/L) Σ_l log p(x_b|z_bl) + β·KL_b ]  (summed, not averaged),
 * or the IWAE bound; see `Objective`.
 *
 * A layer kind is one class implementing `Layer`: its parameter slots, the activations it reads
 * and writes, its scratch, and its forward and backward kernel calls. The walk knows nothing else.
 * Backward passes write each gradient tensor once and accumulate into it after: which of the two a
 * layer does is derived from the table when it is built, never flagged by hand.
 */
import { GroupPlan, allocate, planArena, type ArenaLayout, type Slot } from './arena.js';
import type { Kernels, KernelExports } from './wasm.js';
import { KernelRunner, parallelKernels, type ParallelKernels } from './threads.js';
import { ACTIVATION_KINDS, LIKELIHOOD_KINDS } from './abi.js';
import { ConfigError, ShapeError } from './errors.js';
import {
  checkArenaBytes,
  layerShapes,
  planNetwork,
  type NetworkConfig,
  type PlannedLayer,
} from './config.js';

export type { Activation, Likelihood, NetworkConfig } from './config.js';
export { ACTIVATIONS, LIKELIHOODS } from './config.js';

/** What a loss computes. ELBO: β-weighted KL, optional free bits (nats per latent dimension). IWAE: the k-sample bound with k = L. */
export type Objective = { readonly kind: 'elbo'; beta: number; freeBits: number } | { readonly kind: 'iwae' };
export const elbo = (beta = 1, freeBits = 0): Objective => ({ kind: 'elbo', beta, freeBits });
export const IWAE: Objective = Object.freeze({ kind: 'iwae' });
const ELBO: Objective = Object.freeze(elbo());

/**
 * Rows the arena holds: datapoint rows (x, the encoder, μ, log σ²) and sample rows (ε, z, the
 * decoder — datapoints × samples), each up to its own figure, and the data-order buffer's length.
 */
export interface Capacity {
  dataRows: number;
  sampleRows: number;
  orderRows?: number;
}

/** The RNG streams in the header: ε and sampling; data order and binarization. 16 bytes each. */
export const RNG_TRAIN = 0;
export const RNG_DATA = 1;
export const RNG_STREAMS = 2;
export const RNG_WORDS = 4;
const HEADER_BYTES = RNG_STREAMS * RNG_WORDS * 4;

/** Seeds of the streams derived from a model seed: the high word is xored with the stream's salt. */
export const SEED_SALT = { train: 0, data: 0x5bd1e995, staticBinarization: 0x57a71c } as const;
/** A 53-bit seed as the RNG's two key words, with an optional salt on the high word. */
export function seedWords(seed: number, salt = 0): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new ConfigError(`seed must be a non-negative safe integer, got ${seed}`);
  return [seed >>> 0, (Math.floor(seed / 2 ** 32) ^ salt) >>> 0];
}

export interface LossParts {
  loss: number;
  rec: number;
  kl: number;
}

/** Rows a layer runs over: one per datapoint, or one per sample. */
type Rows = 'data' | 'sample';

/** The state one walk shares with every layer: sizes, and the objective's extra pointers. Reused, never reallocated. */
interface Walk {
  B: number;
  BL: number;
  L: number;
  accumulate: boolean;
  iwaeWeights: number;
}

/** The arena as a layer sees it when its pointers are bound. */
interface Arena {
  e: KernelExports;
  /** The kernels that run on every thread. */
  par: ParallelKernels;
  act(name: string): number;
  dact(name: string): number;
  param(s: Slot): number;
  grad(s: Slot): number;
  scratch: number;
}

/** A tensor of `width` floats per row. */
export interface Tensor {
  name: string;
  width: number;
  rows: Rows;
}

/** A layer with a weight and a bias, initialised from its fan-in and fan-out. */
export interface ParamLayer {
  readonly name: string;
  readonly weight: Slot;
  readonly bias: Slot;
  readonly fanIn: number;
  readonly fanOut: number;
}

/** One entry of the layer table. */
export interface Layer {
  readonly kind: string;
  readonly rows: Rows;
  /** Activation tensors it writes. */
  readonly outputs: readonly Tensor[];
  /** Gradient tensors it reads (its outputs' gradients) and writes (its inputs'; null: none, for the data). */
  readonly gradIn: readonly string[];
  readonly gradOut: readonly (Tensor | null)[];
  /** Scratch floats for `rows` rows with `nth` threads. */
  scratchFloats(e: KernelExports, rows: number, nth: number): number;
  /** Told, once, which of its gradient outputs an earlier backward call already wrote. */
  accumulateInto(written: ReadonlySet<string>): void;
  bind(a: Arena): void;
  forward(w: Walk): void;
  backward(w: Walk): void;
}

const rowsOf = (rows: Rows, w: Walk) => (rows === 'data' ? w.B : w.BL);

/** out (R, OC) = inp (R, C) · Wᵀ + b, W (OC, C) in PyTorch's layout. */
export class Linear implements Layer, ParamLayer {
  readonly kind = 'linear';
  readonly outputs: Tensor[];
  readonly gradIn: string[];
  readonly gradOut: (Tensor | null)[];
  readonly fanIn: number;
  readonly fanOut: number;
  private accDinp = false;
  private e!: ParallelKernels;
  private pOut = 0;
  private pInp = 0;
  private pW = 0;
  private pB = 0;
  private pDw = 0;
  private pDb = 0;
  private pDout = 0;
  private pDinp = 0;
  private pScratch = 0;

  constructor(
    readonly name: string,
    readonly inDim: number,
    readonly outDim: number,
    readonly rows: Rows,
    readonly weight: Slot,
    readonly bias: Slot,
    private readonly inp: string,
    private readonly out: string,
    dinp: string | null,
    dout: string,
  ) {
    this.outputs = [{ name: out, width: outDim, rows }];
    this.fanIn = inDim;
    this.fanOut = outDim;
    this.gradIn = [dout];
    this.gradOut = [dinp === null ? null : { name: dinp, width: inDim, rows }];
  }
  scratchFloats(e: KernelExports, R: number, nth: number) {
    return e.linear_scratch_floats(R, this.inDim, this.outDim, nth);
  }
  accumulateInto(written: ReadonlySet<string>) {
    this.accDinp = this.gradOut[0] !== null && written.has(this.gradOut[0].name);
  }
  bind(a: Arena) {
    this.e = a.par;
    this.pScratch = a.scratch;
    this.pOut = a.act(this.out);
    this.pInp = a.act(this.inp);
    this.pW = a.param(this.weight);
    this.pB = a.param(this.bias);
    this.pDw = a.grad(this.weight);
    this.pDb = a.grad(this.bias);
    this.pDout = a.dact(this.gradIn[0]);
    this.pDinp = this.gradOut[0] === null ? 0 : a.dact(this.gradOut[0].name);
  }
  forward(w: Walk) {
    this.e.linear_forward(
      this.pOut,
      this.pInp,
      this.pW,
      this.pB,
      this.pScratch,
      rowsOf(this.rows, w),
      this.inDim,
      this.outDim,
    );
  }
  backward(w: Walk) {
    this.e.linear_backward(
      this.pDinp,
      this.pDw,
      this.pDb,
      this.pDout,
      this.pInp,
      this.pW,
      this.pScratch,
      rowsOf(this.rows, w),
      this.inDim,
      this.outDim,
      this.accDinp,
      w.accumulate,
    );
  }
}

/**
 * Conv2d (weight (OC, C, k, k)) or ConvTranspose2d (weight (C, OC, k, k)) over rows of NCHW images:
 * inp (R, C·H·W) → out (R, OC·OH·OW), sizes planned by src/config.ts (planNetwork).
 */
export class Conv implements Layer, ParamLayer {
  readonly kind: 'conv' | 'deconv';
  readonly name: string;
  readonly outputs: Tensor[];
  readonly gradIn: string[];
  readonly gradOut: (Tensor | null)[];
  /** PyTorch's fans (torch.nn.init._calculate_fan_in_and_fan_out): weight dim 1 × k², dim 0 × k². */
  readonly fanIn: number;
  readonly fanOut: number;
  private accDinp = false;
  private e!: ParallelKernels;
  private p = { out: 0, inp: 0, w: 0, b: 0, dw: 0, db: 0, dout: 0, dinp: 0, scratch: 0 };

  constructor(
    readonly geom: Extract<PlannedLayer, { kind: 'conv' | 'deconv' }>,
    readonly rows: Rows,
    readonly weight: Slot,
    readonly bias: Slot,
    private readonly inp: string,
    private readonly out: string,
    dinp: string | null,
    dout: string,
  ) {
    const g = geom;
    this.kind = g.kind;
    this.name = g.name;
    this.outputs = [{ name: out, width: g.OC * g.OH * g.OW, rows }];
    this.gradIn = [dout];
    this.gradOut = [dinp === null ? null : { name: dinp, width: g.C * g.H * g.W, rows }];
    const kk = g.kernel * g.kernel;
    this.fanIn = weight.shape[1] * kk;
    this.fanOut = weight.shape[0] * kk;
  }
  scratchFloats(e: KernelExports, _R: number, nth: number) {
    const g = this.geom;
    return g.kind === 'conv'
      ? e.conv2d_scratch_floats(g.C, g.OC, g.OH, g.OW, g.kernel, g.kernel, nth)
      : e.conv_transpose2d_scratch_floats(g.C, g.OC, g.H, g.W, g.kernel, g.kernel, nth);
  }
  accumulateInto(written: ReadonlySet<string>) {
    this.accDinp = this.gradOut[0] !== null && written.has(this.gradOut[0].name);
  }
  bind(a: Arena) {
    this.e = a.par;
    this.p = {
      out: a.act(this.out),
      inp: a.act(this.inp),
      w: a.param(this.weight),
      b: a.param(this.bias),
      dw: a.grad(this.weight),
      db: a.grad(this.bias),
      dout: a.dact(this.gradIn[0]),
      dinp: this.gradOut[0] === null ? 0 : a.dact(this.gradOut[0].name),
      scratch: a.scratch,
    };
  }
  forward(w: Walk) {
    const g = this.geom,
      p = this.p,
      R = rowsOf(this.rows, w);
    const f = g.kind === 'conv' ? this.e.conv2d_forward : this.e.conv_transpose2d_forward;
    f(
      p.out,
      p.inp,
      p.w,
      p.b,
      p.scratch,
      R,
      g.C,
      g.H,
      g.W,
      g.OC,
      g.OH,
      g.OW,
      g.kernel,
      g.kernel,
      g.stride,
      g.padding,
    );
  }
  backward(w: Walk) {
    const g = this.geom,
      p = this.p,
      R = rowsOf(this.rows, w);
    const f = g.kind === 'conv' ? this.e.conv2d_backward : this.e.conv_transpose2d_backward;
    f(
      p.dinp,
      p.dw,
      p.db,
      p.dout,
      p.inp,
      p.w,
      p.scratch,
      R,
      g.C,
      g.H,
      g.W,
      g.OC,
      g.OH,
      g.OW,
      g.kernel,
      g.kernel,
      g.stride,
      g.padding,
      this.accDinp,
      w.accumulate,
    );
  }
}

/** h = f(pre), elementwise; backward forms dpre = dh ⊙ f'(pre) in place, in dh's buffer. */
export class ActivationLayer implements Layer {
  readonly kind = 'activation';
  readonly outputs: Tensor[];
  readonly gradIn: string[];
  readonly gradOut: Tensor[];
  private e!: ParallelKernels;
  private pInp = 0;
  private pOut = 0;
  private pD = 0;

  constructor(
    readonly width: number,
    readonly rows: Rows,
    readonly fn: number,
    readonly alpha: number,
    private readonly inp: string,
    private readonly out: string,
    grad: string,
  ) {
    this.outputs = [{ name: out, width, rows }];
    this.gradIn = [grad];
    this.gradOut = [{ name: grad, width, rows }];
  }
  scratchFloats() {
    return 0;
  }
  accumulateInto() {
    /* in place: it rewrites the gradient its consumer wrote */
  }
  bind(a: Arena) {
    this.e = a.par;
    this.pInp = a.act(this.inp);
    this.pOut = a.act(this.out);
    this.pD = a.dact(this.gradIn[0]);
  }
  forward(w: Walk) {
    this.e.act_forward(this.pOut, this.pInp, rowsOf(this.rows, w) * this.width, this.fn, this.alpha);
  }
  backward(w: Walk) {
    this.e.act_backward(
      this.pD,
      this.pD,
      this.pInp,
      this.pOut,
      rowsOf(this.rows, w) * this.width,
      this.fn,
      this.alpha,
    );
  }
}

/**
 * z (B·L, Z) = μ + σ ⊙ ε; backward adds the path through z to dμ and dlog σ² (which the objective
 * seeded with the KL's gradient), and IWAE's ½‖z‖² term when the walk carries importance weights.
 */
export class Reparameterize implements Layer {
  readonly kind = 'reparameterize';
  readonly rows = 'sample';
  readonly outputs: Tensor[];
  readonly gradIn = ['dz'];
  readonly gradOut: Tensor[];
  private e!: KernelExports;
  private p = { z: 0, mu: 0, logvar: 0, eps: 0, dz: 0, dmu: 0, dlogvar: 0 };

  constructor(readonly Z: number) {
    this.outputs = [{ name: 'z', width: Z, rows: 'sample' }];
    this.gradOut = [
      { name: 'dmu', width: Z, rows: 'data' },
      { name: 'dlogvar', width: Z, rows: 'data' },
    ];
  }
  scratchFloats() {
    return 0;
  }
  accumulateInto() {
    /* always adds: the objective seeded dμ and dlog σ² */
  }
  bind(a: Arena) {
    this.e = a.e;
    this.p = {
      z: a.act('z'),
      mu: a.act('mu'),
      logvar: a.act('logvar'),
      eps: a.act('eps'),
      dz: a.dact('dz'),
      dmu: a.dact('dmu'),
      dlogvar: a.dact('dlogvar'),
    };
  }
  forward(w: Walk) {
    this.e.reparam_forward(this.p.z, this.p.mu, this.p.logvar, this.p.eps, w.B, w.L, this.Z);
  }
  backward(w: Walk) {
    const p = this.p;
    this.e.reparam_backward(p.dmu, p.dlogvar, p.dz, p.logvar, p.eps, p.z, w.iwaeWeights, w.B, w.L, this.Z);
  }
}

/**
 * The plain autoencoder's latent (variational: false): z (B·L, Z) = μ for every sample row;
 * backward adds Σ_l dz to dμ (which the objective seeded with 0: there is no KL).
 */
export class LatentCopy implements Layer {
  readonly kind = 'latent-copy';
  readonly rows = 'sample';
  readonly outputs: Tensor[];
  readonly gradIn = ['dz'];
  readonly gradOut: Tensor[];
  private e!: KernelExports;
  private p = { z: 0, mu: 0, dz: 0, dmu: 0 };

  constructor(readonly Z: number) {
    this.outputs = [{ name: 'z', width: Z, rows: 'sample' }];
    this.gradOut = [{ name: 'dmu', width: Z, rows: 'data' }];
  }
  scratchFloats() {
    return 0;
  }
  accumulateInto() {
    /* always adds: the objective seeded dμ */
  }
  bind(a: Arena) {
    this.e = a.e;
    this.p = { z: a.act('z'), mu: a.act('mu'), dz: a.dact('dz'), dmu: a.dact('dmu') };
  }
  forward(w: Walk) {
    // z = μ + 0·ε: the reparameterisation kernel with no log σ² (σ = 0) and no ε
    this.e.reparam_forward(this.p.z, this.p.mu, 0, 0, w.B, w.L, this.Z);
  }
  backward(w: Walk) {
    const p = this.p;
    this.e.reparam_backward(p.dmu, 0, p.dz, 0, 0, 0, 0, w.B, w.L, this.Z);
  }
}

/**
 * A conditional model's joined input (conditionDim C > 0): out = [a | cond], for the encoder's
 * [x | y] and the decoder's [z | y] (a sample row reads the condition of its datapoint); backward
 * passes the first A columns of the gradient back to `a` (null: the data, which needs none).
 */
export class Concat implements Layer {
  readonly kind = 'concat';
  readonly outputs: Tensor[];
  readonly gradIn: string[];
  readonly gradOut: (Tensor | null)[];
  private acc = false;
  private e!: KernelExports;
  private p = { out: 0, a: 0, cond: 0, da: 0, dout: 0 };

  constructor(
    readonly rows: Rows,
    private readonly a: string,
    readonly A: number,
    readonly C: number,
    private readonly out: string,
    da: string | null,
    dout: string | null,
  ) {
    this.outputs = [{ name: out, width: A + C, rows }];
    this.gradIn = dout === null ? [] : [dout];
    this.gradOut = [da === null ? null : { name: da, width: A, rows }];
  }
  scratchFloats() {
    return 0;
  }
  accumulateInto(written: ReadonlySet<string>) {
    this.acc = this.gradOut[0] !== null && written.has(this.gradOut[0].name);
  }
  bind(a: Arena) {
    this.e = a.e;
    this.p = {
      out: a.act(this.out),
      a: a.act(this.a),
      cond: a.act('cond'),
      da: this.gradOut[0] ? a.dact(this.gradOut[0].name) : 0,
      dout: this.gradIn.length ? a.dact(this.gradIn[0]) : 0,
    };
  }
  forward(w: Walk) {
    const p = this.p;
    this.e.concat_forward(
      p.out,
      p.a,
      p.cond,
      rowsOf(this.rows, w),
      this.A,
      this.C,
      this.rows === 'sample' ? w.L : 1,
    );
  }
  backward(w: Walk) {
    const p = this.p;
    if (p.da) this.e.concat_backward(p.da, p.dout, rowsOf(this.rows, w), this.A, this.C, this.acc);
  }
}

export class Network {
  readonly k: Kernels;
  readonly config: NetworkConfig;
  /** The layers with parameters, in parameter order (the params group's, the file's and initialisation's). */
  readonly paramLayers: ParamLayer[] = [];
  readonly muHead: Linear;
  /** null for a plain autoencoder (variational: false). */
  readonly logvarHead: Linear | null;
  readonly outHead: Linear | Conv;
  readonly outLogvarHead: Linear | Conv | null;
  /** The layer table: forward walks it in order, backward in reverse. */
  readonly table: Layer[] = [];
  /** table[latent] is the reparameterisation: encode walks the table before it, decode after it. */
  private readonly latent: number;
  readonly params = new GroupPlan();
  private readonly seeds: Tensor[];
  layout!: ArenaLayout;
  capacity!: Required<Capacity>;
  private acts!: GroupPlan;
  private dacts!: GroupPlan;
  private readonly stateSlots: number;
  private readonly likKind: number;
  private readonly walk: Walk = { B: 0, BL: 0, L: 0, accumulate: false, iwaeWeights: 0 };
  private readonly parts: LossParts = { loss: 0, rec: 0, kl: 0 };
  /** Absolute pointers of the tensors the objective and the data movers use. */
  private p = {
    rowloss: 0,
    x: 0,
    mu: 0,
    logvar: 0,
    eps: 0,
    z: 0,
    out: 0,
    outlv: 0,
    rec: 0,
    kl: 0,
    recs: 0,
    sw: 0,
    lw: 0,
    dmu: 0,
    dlogvar: 0,
    dout: 0,
    doutlv: 0,
  };

  /** The kernels that run on every thread (one thread: (ith, nth) = (0, 1)). */
  readonly par: ParallelKernels;
  /** Threads the parallel kernels run on (scratch is planned per thread). */
  readonly nth: number;

  /**
   * `config` must be complete (resolveModelConfig); it is not checked again here. `threads`: the
   * parallel kernels and their thread count, when a pool runs them.
   */
  constructor(
    k: Kernels,
    config: NetworkConfig,
    capacity: Capacity,
    stateSlots = 2,
    threads?: { par: ParallelKernels; nth: number },
  ) {
    this.k = k;
    this.par = threads?.par ?? parallelKernels(new KernelRunner(k.exports));
    this.nth = threads?.nth ?? 1;
    this.config = config;
    this.stateSlots = stateSlots;
    this.likKind = LIKELIHOOD_KINDS[config.likelihood];
    const { inputDim: D, latentDim: Z } = config;
    const fn = ACTIVATION_KINDS[config.activation],
      alpha = config.activationAlpha;
    const lin = (
      name: string,
      i: number,
      o: number,
      rows: Rows,
      inp: string,
      out: string,
      dinp: string | null,
      dout: string,
    ) => {
      const l = new Linear(
        name,
        i,
        o,
        rows,
        this.params.add(`${name}.weight`, [o, i]),
        this.params.add(`${name}.bias`, [o]),
        inp,
        out,
        dinp,
        dout,
      );
      this.paramLayers.push(l);
      return l;
    };
    const conv = (
      l: Extract<PlannedLayer, { kind: 'conv' | 'deconv' }>,
      rows: Rows,
      inp: string,
      out: string,
      dinp: string | null,
      dout: string,
    ) => {
      const sh = layerShapes(l);
      const c = new Conv(
        l,
        rows,
        this.params.add(`${l.name}.weight`, sh.weight),
        this.params.add(`${l.name}.bias`, [sh.bias]),
        inp,
        out,
        dinp,
        dout,
      );
      this.paramLayers.push(c);
      return c;
    };
    /** A planned layer: Linear, Conv2d or ConvTranspose2d. */
    const layer = (
      l: PlannedLayer,
      rows: Rows,
      inp: string,
      out: string,
      dinp: string | null,
      dout: string,
    ) =>
      l.kind === 'dense'
        ? lin(l.name, l.inDim, l.outDim, rows, inp, out, dinp, dout)
        : conv(l, rows, inp, out, dinp, dout);
    const outWidth = (l: PlannedLayer) => (l.kind === 'dense' ? l.outDim : l.OC * l.OH * l.OW);
    const plan = planNetwork(config);
    // parameters are created in file order (encoder, fc_mu, fc_logvar, decoder, fc_out, fc_out_logvar);
    // tensors are named by the layer's index in its list (a reshape entry has no layer: the next one reads the same floats)
    const enc: Layer[] = [];
    const C = config.conditionDim ?? 0;
    let h = 'x',
      dh: string | null = null;
    // a conditional model: the first layer of the encoder reads [x | y] (planNetwork widened it)
    if (C > 0) {
      enc.push(new Concat('data', 'x', D, C, 'xc', null, null));
      h = 'xc';
    }
    for (const l of plan.encoder) {
      const i = l.name.slice('encoder.'.length),
        wd = outWidth(l);
      enc.push(layer(l, 'data', h, `enc.pre.${i}`, dh, `enc.dh.${i}`));
      enc.push(new ActivationLayer(wd, 'data', fn, alpha, `enc.pre.${i}`, `enc.h.${i}`, `enc.dh.${i}`));
      h = `enc.h.${i}`;
      dh = `enc.dh.${i}`;
    }
    this.muHead = lin('fc_mu', plan.encoderOut, Z, 'data', h, 'mu', dh, 'dmu');
    const variational = config.variational !== false;
    this.logvarHead = variational
      ? lin('fc_logvar', plan.encoderOut, Z, 'data', h, 'logvar', dh, 'dlogvar')
      : null;
    const dec: Layer[] = [];
    h = 'z';
    dh = 'dz';
    // … and the first layer of the decoder reads [z | y]
    if (C > 0) {
      dec.push(new Concat('sample', 'z', Z, C, 'zc', 'dz', 'dzc'));
      h = 'zc';
      dh = 'dzc';
    }
    for (const l of plan.decoder) {
      const i = l.name.slice('decoder.'.length),
        wd = outWidth(l);
      dec.push(layer(l, 'sample', h, `dec.pre.${i}`, dh, `dec.dh.${i}`));
      dec.push(new ActivationLayer(wd, 'sample', fn, alpha, `dec.pre.${i}`, `dec.h.${i}`, `dec.dh.${i}`));
      h = `dec.h.${i}`;
      dh = `dec.dh.${i}`;
    }
    this.outHead = layer(plan.head, 'sample', h, 'out', dh, 'dout');
    this.outLogvarHead =
      config.likelihood === 'gaussian-learned'
        ? layer({ ...plan.head, name: 'fc_out_logvar' }, 'sample', h, 'outlv', dh, 'doutlv')
        : null;
    // Heads sharing an input are listed so that the backward walk meets fc_mu (fc_out) first: it
    // writes the shared input's gradient and the other head adds to it.
    this.table.push(...enc, ...(this.logvarHead ? [this.logvarHead] : []), this.muHead);
    this.latent = this.table.length;
    this.table.push(
      variational ? new Reparameterize(Z) : new LatentCopy(Z),
      ...dec,
      ...(this.outLogvarHead ? [this.outLogvarHead] : []),
      this.outHead,
    );
    // the gradients the objective seeds (see loss()); then which gradients each backward call finds already written
    this.seeds = [
      { name: 'dout', width: D, rows: 'sample' },
      ...(this.outLogvarHead ? [{ name: 'doutlv', width: D, rows: 'sample' } as Tensor] : []),
      { name: 'dmu', width: Z, rows: 'data' },
      ...(variational ? [{ name: 'dlogvar', width: Z, rows: 'data' } as Tensor] : []),
    ];
    const written = new Set(this.seeds.map((t) => t.name));
    for (let i = this.table.length - 1; i >= 0; i--) {
      const l = this.table[i];
      l.accumulateInto(written);
      for (const g of l.gradOut) if (g) written.add(g.name);
    }
    this.reserve(capacity);
    // the owner zeroes, once, what persists across steps: parameters (their padding stays 0 under
    // every optimizer rule), gradients and optimizer state. The memory may have held another model.
    const L = this.layout,
      persistent = (L.acts - L.params) >> 2;
    k.exports.f32_fill(L.params, persistent, 0);
  }

  /** Floats in the params group (including alignment padding): the length of every flat loop. */
  get paramFloats(): number {
    return this.layout.paramBytes >> 2;
  }
  /** Every parameter tensor, in file order. */
  get paramSlots(): Slot[] {
    return this.params.slots;
  }

  /**
   * Plans the arena for at least this capacity and grows the memory to it (explicitly; never
   * inside a step). Capacity only grows; parameters, gradients and optimizer state never move.
   */
  reserve(c: Capacity): void {
    for (const key of ['dataRows', 'sampleRows'] as const) {
      if (!(Number.isSafeInteger(c[key]) && c[key] > 0))
        throw new ConfigError(`${key} capacity must be a positive integer, got ${c[key]}`);
    }
    const now = this.capacity;
    const next = {
      dataRows: Math.max(c.dataRows, now?.dataRows ?? 0),
      sampleRows: Math.max(c.sampleRows, now?.sampleRows ?? 0),
      orderRows: Math.max(c.orderRows ?? 0, now?.orderRows ?? 0),
    };
    if (
      now &&
      next.dataRows === now.dataRows &&
      next.sampleRows === now.sampleRows &&
      next.orderRows === now.orderRows
    )
      return;
    const { inputDim: D, latentDim: Z } = this.config;
    const a = new GroupPlan(),
      d = new GroupPlan();
    const rows = (r: Rows) => (r === 'data' ? next.dataRows : next.sampleRows);
    const add = (g: GroupPlan, t: Tensor) => {
      if (!g.slots.some((s) => s.name === t.name)) g.add(t.name, [rows(t.rows), t.width]);
    };
    add(a, { name: 'x', width: D, rows: 'data' });
    if (this.config.conditionDim) add(a, { name: 'cond', width: this.config.conditionDim, rows: 'data' });
    add(a, { name: 'eps', width: Z, rows: 'sample' });
    for (const t of this.seeds) add(d, t);
    let scratch = 0;
    for (const l of this.table) {
      for (const t of l.outputs) add(a, t);
      for (const t of l.gradOut) if (t) add(d, t);
      scratch = Math.max(scratch, l.scratchFloats(this.k.exports, rows(l.rows), this.nth));
    }
    a.add('rowloss', [next.dataRows, 2]); // f64 per row
    a.add('rec', [next.dataRows]);
    a.add('kl', [next.dataRows]);
    a.add('recs', [next.sampleRows]);
    a.add('sw', [next.sampleRows]);
    a.add('lw', [next.sampleRows]);
    a.add('kld', [Z, 2]); // f64 per latent dimension: the per-dimension KL accumulator
    const layout = planArena({
      heapBase: this.k.heapBase,
      headerBytes: HEADER_BYTES,
      params: this.params,
      stateSlots: this.stateSlots,
      acts: a,
      dacts: d,
      orderWords: next.orderRows,
      scratchBytes: scratch * 4,
    });
    // refused or failed before anything changes: the network keeps its old, valid plan
    checkArenaBytes(layout.end, next.dataRows, next.sampleRows);
    allocate(this.k, layout);
    this.acts = a;
    this.dacts = d;
    const old = this.layout;
    this.layout = layout;
    // the data order is the one tensor that lives across steps: keep it where it moves
    if (old && now.orderRows)
      new Uint32Array(this.k.memory.buffer).copyWithin(
        this.layout.order >> 2,
        old.order >> 2,
        (old.order >> 2) + now.orderRows,
      );
    this.capacity = next;
    this.bind();
  }

  private bind(): void {
    const L = this.layout;
    const arena: Arena = {
      e: this.k.exports,
      par: this.par,
      act: (n) => L.acts + this.acts.get(n).offset,
      dact: (n) => L.dacts + this.dacts.get(n).offset,
      param: (s) => L.params + s.offset,
      grad: (s) => L.grads + s.offset,
      scratch: L.scratch,
    };
    for (const l of this.table) l.bind(arena);
    const a = arena.act,
      d = arena.dact,
      lv = !!this.outLogvarHead;
    this.p = {
      x: a('x'),
      mu: a('mu'),
      logvar: this.logvarHead ? a('logvar') : 0,
      eps: a('eps'),
      z: a('z'),
      out: a('out'),
      outlv: lv ? a('outlv') : 0,
      rowloss: a('rowloss'),
      rec: a('rec'),
      kl: a('kl'),
      recs: a('recs'),
      sw: a('sw'),
      lw: a('lw'),
      dmu: d('dmu'),
      dlogvar: this.logvarHead ? d('dlogvar') : 0,
      dout: d('dout'),
      doutlv: lv ? d('doutlv') : 0,
    };
  }

  private checkRows(B: number, L: number): void {
    if (!Number.isSafeInteger(B) || B < 1 || B > this.capacity.dataRows)
      throw new ShapeError(
        `batch of ${B} rows does not fit the reserved capacity of ${this.capacity.dataRows}; call reserve() first`,
      );
    if (!Number.isSafeInteger(L) || L < 1 || B * L > this.capacity.sampleRows)
      throw new ShapeError(
        `${B} rows × L = ${L} samples do not fit the reserved capacity of ${this.capacity.sampleRows} sample rows; call reserve() first`,
      );
  }

  private setWalk(B: number, L: number, accumulate: boolean, iwaeWeights: number): Walk {
    const w = this.walk;
    w.B = B;
    w.L = L;
    w.BL = B * L;
    w.accumulate = accumulate;
    w.iwaeWeights = iwaeWeights;
    return w;
  }

  /** Encoder forward for B rows already in 'x': fills mu and logvar. */
  encode(B: number): void {
    this.checkRows(B, 1);
    const w = this.setWalk(B, 1, false, 0);
    for (let i = 0; i < this.latent; i++) this.table[i].forward(w);
  }

  /**
   * Decoder forward for R rows of z already in 'z': fills 'out' (and 'outlv'). A conditional
   * model reads row r's condition from row r of 'cond' (R datapoints of one sample each).
   */
  decode(R: number): void {
    const cond = (this.config.conditionDim ?? 0) > 0;
    this.checkRows(cond ? R : 1, cond ? 1 : R);
    const w = cond ? this.setWalk(R, 1, false, 0) : this.setWalk(1, R, false, 0);
    for (let i = this.latent + 1; i < this.table.length; i++) this.table[i].forward(w);
  }

  /** z for B rows and L samples from 'mu', 'logvar' and 'eps' (the reparameterisation alone). */
  reparameterize(B: number, L: number): void {
    this.checkRows(B, L);
    this.table[this.latent].forward(this.setWalk(B, L, false, 0));
  }

  /** z = μ for B rows (the posterior means, one sample each). */
  meanLatent(B: number): void {
    this.checkRows(B, 1);
    const o = this.p.mu >> 2;
    this.heap.copyWithin(this.p.z >> 2, o, o + B * this.config.latentDim);
  }

  /** Draws ε ~ N(0, I) for B·L rows from the training RNG stream. */
  sampleEps(B: number, L: number): void {
    this.k.exports.rng_normal(this.p.eps, B * L * this.config.latentDim, this.rngState(RNG_TRAIN), 0, 1);
  }

  /**
   * Forward pass and loss for B rows in 'x' with ε already in 'eps'; with `grad`, also the
   * backward pass, which writes the gradient group (or, with `accumulate`, adds to it).
   *  - ELBO: loss = scale · Σ_b [rec_b + β·Σ_j kl_bj], with free bits λ > 0 (nats per latent
   *    dimension) counting λ·B for a dimension whose minibatch KL is below it, with no gradient.
   *  - IWAE: loss = −scale · Σ_b log (1/L) Σ_l w_bl, w = p(x|z)p(z)/q(z|x) (Burda et al. 2016).
   * Returns the unscaled batch sums: `loss` of the objective, and rec / kl of the ELBO, in an
   * object the next call reuses (copy the numbers to keep them).
   */
  loss(
    B: number,
    L: number,
    objective: Objective = ELBO,
    scale = 1,
    grad = true,
    accumulate = false,
  ): LossParts {
    this.checkRows(B, L);
    const e = this.k.exports,
      p = this.p,
      Z = this.config.latentDim;
    const iwae = objective.kind === 'iwae';
    if (!this.logvarHead && (iwae || (objective.kind === 'elbo' && objective.freeBits > 0)))
      throw new ConfigError(
        'a plain autoencoder (variational: false) has no q(z|x): no IWAE bound, no free bits',
      );
    const w = this.setWalk(B, L, accumulate, grad && iwae ? p.sw : 0);
    for (const l of this.table) l.forward(w);
    // the chain rule is seeded here: dout (doutlv), dmu, dlogvar — the decoder's and the KL's gradients
    let total: number;
    if (iwae) {
      this.elbo(p.recs, 0, 0, 0, 0, 0, B, L, 0, 1);
      total = e.iwae_weights(
        p.lw,
        p.sw,
        grad ? p.dmu : 0,
        grad ? p.dlogvar : 0,
        p.recs,
        p.z,
        p.eps,
        p.logvar,
        B,
        L,
        Z,
        scale,
      );
      // 'sw' holds scale · w̃: the kernel must not scale the decoder gradient again
      if (grad) this.elbo(0, p.dout, p.doutlv, 0, 0, p.sw, B, L, 0, 1);
    } else {
      const g = grad ? 1 : 0;
      this.elbo(
        p.recs,
        g && p.dout,
        g && p.doutlv,
        g && p.dmu,
        g && p.dlogvar,
        0,
        B,
        L,
        objective.beta,
        scale,
        p.rowloss,
      );
      // the rows' losses summed in row order: the same bits for any thread count
      total = this.sumF64(p.rowloss, B);
      if (objective.freeBits > 0) {
        total += e.kl_free_bits(
          g && p.dmu,
          p.dlogvar,
          p.mu,
          p.logvar,
          B,
          Z,
          objective.freeBits,
          objective.beta,
        );
      }
    }
    if (grad) for (let i = this.table.length - 1; i >= 0; i--) this.table[i].backward(w);
    const parts = this.parts;
    parts.loss = total;
    parts.rec = this.sum(p.rec, B);
    parts.kl = this.sum(p.kl, B);
    return parts;
  }

  /**
   * Adds Σ_b KL_bj of the B rows in 'mu' and 'logvar' to the f64 accumulator 'kld' (Z), zeroing it
   * first with `reset`, and returns the accumulator as a view (valid until the memory grows).
   */
  klDims(B: number, reset = false): Float64Array {
    const e = this.k.exports,
      Z = this.config.latentDim,
      p = this.actView('kld').byteOffset;
    if (reset) e.f32_fill(p, 2 * Z, 0);
    if (B > 0 && this.p.logvar) e.kl_dims(p, this.p.mu, this.p.logvar, B, Z); // an autoencoder has no KL
    return new Float64Array(this.k.memory.buffer, p, Z);
  }

  /** The fused ELBO kernel over the tensors in the arena (see assembly/elbo.ts for the arguments). */
  private elbo(
    recs: number,
    dout: number,
    doutlv: number,
    dmu: number,
    dlogvar: number,
    sw: number,
    B: number,
    L: number,
    beta: number,
    scale: number,
    rowloss = 0,
  ): void {
    const p = this.p,
      c = this.config;
    this.par.elbo_forward_backward(
      p.rec,
      p.kl,
      recs,
      dout,
      doutlv,
      dmu,
      dlogvar,
      rowloss,
      p.out,
      p.outlv,
      p.x,
      p.mu,
      p.logvar,
      sw,
      B,
      L,
      c.inputDim,
      c.latentDim,
      this.likKind,
      c.sigma,
      beta,
      scale,
    );
  }

  private f64View: Float64Array | null = null;
  private sumF64(ptr: number, n: number): number {
    if (!this.f64View || this.f64View.buffer !== this.k.memory.buffer)
      this.f64View = new Float64Array(this.k.memory.buffer);
    const f = this.f64View,
      o = ptr >> 3;
    let s = 0;
    for (let i = 0; i < n; i++) s += f[o + i];
    return s;
  }

  private heapView: Float32Array | null = null;
  /** A Float32Array over the whole memory, rebuilt only when the memory has grown (no per-step allocation). */
  get heap(): Float32Array {
    if (!this.heapView || this.heapView.buffer !== this.k.memory.buffer)
      this.heapView = new Float32Array(this.k.memory.buffer);
    return this.heapView;
  }

  private sum(ptr: number, n: number): number {
    const f = this.heap,
      o = ptr >> 2;
    let s = 0;
    for (let i = 0; i < n; i++) s += f[o + i];
    return s;
  }

  zeroGrad(): void {
    this.k.exports.f32_fill(this.layout.grads, this.paramFloats, 0);
  }

  /** True when every parameter gradient is finite (the divergence check of a step). */
  gradientsFinite(): boolean {
    return this.k.exports.f32_find_nonfinite(this.layout.grads, this.paramFloats) < 0;
  }

  /** Byte offset of an activation or gradient tensor: for kernels that fill it directly (e.g. the RNG). */
  ptr(name: 'x' | 'z' | 'eps' | 'out' | 'outlv' | 'dout' | 'mu' | 'logvar' | 'order' | 'cond'): number {
    if (name === 'cond') return this.layout.acts + this.acts.get('cond').offset;
    return name === 'order' ? this.layout.order : this.p[name];
  }

  /** Copies n floats from src[srcOff…] into a tensor ('x', 'z', 'eps'). A plain loop: no allocation. */
  put(name: 'x' | 'z' | 'eps' | 'cond', src: ArrayLike<number>, srcOff: number, n: number): void {
    const h = this.heap,
      o = this.ptr(name) >> 2;
    for (let i = 0; i < n; i++) h[o + i] = src[srcOff + i];
  }

  /** Copies n floats of a tensor into dst[dstOff…]. */
  get(name: 'x' | 'mu' | 'logvar' | 'out' | 'eps' | 'z', dst: Float32Array, dstOff: number, n: number): void {
    const h = this.heap,
      o = this.p[name] >> 2;
    for (let i = 0; i < n; i++) dst[dstOff + i] = h[o + i];
  }

  private orderU32: Uint32Array | null = null;
  /** The data-order buffer (u32 row indices) as a view over the whole memory, from word orderAt(): no allocation per step. */
  get order(): Uint32Array {
    if (!this.orderU32 || this.orderU32.buffer !== this.k.memory.buffer)
      this.orderU32 = new Uint32Array(this.k.memory.buffer);
    return this.orderU32;
  }
  /** Index of the first data-order word in `order`. */
  get orderAt(): number {
    return this.layout.order >> 2;
  }

  /** Byte offset of an RNG stream's state (RNG_TRAIN, RNG_DATA). */
  rngState(stream: number): number {
    return this.layout.header + stream * RNG_WORDS * 4;
  }
  /** Seeds a stream from a model seed (see SEED_SALT). */
  seedStream(stream: number, seed: number, salt = 0): void {
    const [lo, hi] = seedWords(seed, salt);
    this.k.exports.rng_seed(this.rngState(stream), lo, hi);
  }
  /** A stream's state words (a copy), or, given words, sets them. */
  rngWords(stream: number, set?: ArrayLike<number>): Uint32Array {
    const v = new Uint32Array(this.k.memory.buffer, this.rngState(stream), RNG_WORDS);
    if (set) v.set(set);
    return v.slice();
  }

  /** A view of a parameter, its gradient, or optimizer-state slot `which` (a number). Valid until the memory grows. */
  view(slot: Slot, which: 'param' | 'grad' | number = 'param'): Float32Array {
    const L = this.layout,
      base = which === 'param' ? L.params : which === 'grad' ? L.grads : L.state[which];
    if (base === undefined) throw new Error(`internal: no optimizer-state slot ${which}`);
    return new Float32Array(this.k.memory.buffer, base + slot.offset, slot.floats);
  }

  /** A view of an activation tensor ('x', 'mu', 'out', 'rec', …). Valid until the memory grows. */
  actView(name: string, floats?: number): Float32Array {
    const s = this.acts.get(name);
    return new Float32Array(this.k.memory.buffer, this.layout.acts + s.offset, floats ?? s.floats);
  }

  /** A copy of every parameter (the params group, padding included) and of the RNG states. */
  snapshot(): { params: Float32Array; rng: Uint32Array } {
    const p = this.layout.params >> 2;
    return {
      params: this.heap.slice(p, p + this.paramFloats),
      rng: new Uint32Array(this.k.memory.buffer, this.layout.header, RNG_STREAMS * RNG_WORDS).slice(),
    };
  }

  /** Copies of the first `slots` optimizer-state slots, each laid out as the params group (padding included). */
  stateSnapshot(slots: number): Float32Array[] {
    const out: Float32Array[] = [];
    for (let i = 0; i < slots; i++) {
      const p = this.layout.state[i] >> 2;
      out.push(this.heap.slice(p, p + this.paramFloats));
    }
    return out;
  }

  /** Restores what snapshot() took (the RNG states only when given). */
  restore(s: { params: Float32Array; rng?: Uint32Array }): void {
    if (s.params.length !== this.paramFloats || (s.rng && s.rng.length !== RNG_STREAMS * RNG_WORDS)) {
      throw new ConfigError(
        `a snapshot of ${s.params.length} parameter floats and ${s.rng?.length ?? 0} RNG words does not fit this model (${this.paramFloats}, ${RNG_STREAMS * RNG_WORDS})`,
      );
    }
    this.heap.set(s.params, this.layout.params >> 2);
    if (s.rng) new Uint32Array(this.k.memory.buffer, this.layout.header, RNG_STREAMS * RNG_WORDS).set(s.rng);
  }
}
