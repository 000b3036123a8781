// Independent f64 references, written plainly from the math (not from the kernels).
export function gemmRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  c0: ArrayLike<number> | null,
  M: number,
  N: number,
  K: number,
  layout: 'nt' | 'nn' | 'tn',
): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = (c0 ? c0[m * N + n] : 0) + (bias ? bias[n] : 0);
      for (let k = 0; k < K; k++) {
        const av = layout === 'tn' ? a[k * M + m] : a[m * K + k];
        const bv = layout === 'nt' ? b[n * K + k] : b[k * N + n];
        s += av * bv;
      }
      c[m * N + n] = s;
    }
  return c;
}

export type Act = 'identity' | 'relu' | 'leaky_relu' | 'elu' | 'tanh' | 'sigmoid' | 'softplus';

export function actRef(x: number, kind: Act, alpha: number): number {
  switch (kind) {
    case 'relu':
      return Number.isNaN(x) ? NaN : Math.max(x, 0);
    case 'leaky_relu':
      return x > 0 ? x : alpha * x;
    case 'elu':
      return x > 0 ? x : alpha * Math.expm1(x);
    case 'tanh':
      return Math.tanh(x);
    case 'sigmoid':
      return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    case 'softplus':
      return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    default:
      return x;
  }
}

export function dactRef(x: number, kind: Act, alpha: number): number {
  switch (kind) {
    case 'relu':
      return Number.isNaN(x) ? NaN : x > 0 ? 1 : 0;
    case 'leaky_relu':
      return Number.isNaN(x) ? NaN : x > 0 ? 1 : alpha;
    case 'elu':
      return x > 0 ? 1 : alpha * Math.exp(x);
    case 'tanh': {
      const t = Math.tanh(x);
      return 1 - t * t;
    }
    case 'sigmoid': {
      const s = actRef(x, 'sigmoid', 0);
      return s * (1 - s);
    }
    case 'softplus':
      return actRef(x, 'sigmoid', 0);
    default:
      return 1;
  }
}

export type Lik = 'bernoulli' | 'gaussian' | 'gaussian-learned' | 'continuous-bernoulli';

const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));

/**
 * log C(λ) of the continuous Bernoulli, λ = σ(l), straight from Loaiza-Ganem & Cunningham (2019)
 * eq. 7, C(λ) = 2 artanh(1 − 2λ) / (1 − 2λ), in f64 from λ and 1 − λ (each from its own logit, so
 * neither cancels); 2(1 + t²/3 + t⁴/5) with t = 1 − 2λ (the series of artanh) where |t| < 1e-4.
 */
export function cbLogNormRef(l: number): number {
  const lam = 1 / (1 + Math.exp(-l)),
    lam1 = 1 / (1 + Math.exp(l));
  const t = lam1 - lam;
  if (Math.abs(t) < 1e-4) return Math.log(2 * (1 + (t * t) / 3 + t ** 4 / 5));
  const artanh = 0.5 * (-softplus(l) + softplus(-l)); // ½ log((1 − λ)/λ)
  return Math.log((2 * artanh) / t);
}

/** E[x] of the continuous Bernoulli: λ/(2λ − 1) + 1/(2 artanh(1 − 2λ)); ½ + l/12 near λ = ½. */
export function cbMeanRef(l: number): number {
  const lam = 1 / (1 + Math.exp(-l)),
    lam1 = 1 / (1 + Math.exp(l));
  if (Math.abs(l) < 1e-4) return 0.5 + l / 12;
  return lam / (lam - lam1) + 1 / (2 * 0.5 * (-softplus(l) + softplus(-l)));
}

/** The continuous Bernoulli's CDF at x: (λ^x (1 − λ)^(1−x) + λ − 1) / (2λ − 1); x where λ = ½. */
export function cbCdfRef(x: number, l: number): number {
  if (Math.abs(l) < 1e-9) return x;
  // λ^x (1 − λ)^(1−x) through log λ = −softplus(−l), log(1 − λ) = −softplus(l): no underflow as λ → 0, 1
  const pow = Math.exp(-x * softplus(-l) - (1 - x) * softplus(l));
  const lam = 1 / (1 + Math.exp(-l)),
    lam1 = 1 / (1 + Math.exp(l));
  return (pow - lam1) / (lam - lam1);
}

/** −log p(x|out) for one element. */
export function nllRef(out: number, x: number, lik: Lik, sigma: number, outlv = 0): number {
  if (lik === 'bernoulli') return Math.max(out, 0) - out * x + Math.log1p(Math.exp(-Math.abs(out)));
  if (lik === 'continuous-bernoulli')
    return Math.max(out, 0) - out * x + Math.log1p(Math.exp(-Math.abs(out))) - cbLogNormRef(out);
  if (lik === 'gaussian')
    return 0.5 * ((x - out) / sigma) ** 2 + Math.log(sigma) + 0.5 * Math.log(2 * Math.PI);
  return 0.5 * (x - out) ** 2 * Math.exp(-outlv) + 0.5 * outlv + 0.5 * Math.log(2 * Math.PI);
}

export interface RefConfig {
  inputDim: number;
  encoder: number[];
  latentDim: number;
  decoder: number[];
  activation: Act;
  activationAlpha?: number;
  likelihood: Lik;
  sigma?: number;
}
export type Params = Record<string, Float64Array>;

/** The f64 forward pass: posterior parameters, z, and −log p(x_b|z_bl) per sample row. */
export interface Forward {
  mu: Float64Array;
  lv: Float64Array;
  z: Float64Array;
  nll: Float64Array;
}

export function forwardRef(
  cfg: RefConfig,
  p: Params,
  x: ArrayLike<number>,
  eps: ArrayLike<number>,
  B: number,
  L: number,
  cond?: ArrayLike<number>,
): Forward {
  const alpha = cfg.activationAlpha ?? (cfg.activation === 'elu' ? 1 : 0.01);
  const sigma = cfg.sigma ?? 1;
  const lin = (name: string, inp: Float64Array, rows: number) => {
    const W = p[`${name}.weight`],
      b = p[`${name}.bias`],
      o = b.length,
      i = W.length / o,
      out = new Float64Array(rows * o);
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < o; j++) {
        let s = b[j];
        for (let k = 0; k < i; k++) s += inp[r * i + k] * W[j * i + k];
        out[r * o + j] = s;
      }
    return out;
  };
  const act = (a: Float64Array) => a.map((v) => actRef(v, cfg.activation, alpha));
  const D = cfg.inputDim,
    Z = cfg.latentDim;
  // a conditional model (cond: (B, C)): the encoder reads [x_b | c_b], the decoder [z_bl | c_b]
  const C = cond ? cond.length / B : 0;
  const join = (a: Float64Array, A: number, rows: number, per: number) => {
    if (!C) return a;
    const o = new Float64Array(rows * (A + C));
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < A; j++) o[r * (A + C) + j] = a[r * A + j];
      for (let j = 0; j < C; j++) o[r * (A + C) + A + j] = cond![Math.floor(r / per) * C + j];
    }
    return o;
  };
  let h = join(Float64Array.from(x), D, B, 1);
  cfg.encoder.forEach((_, i) => {
    h = act(lin(`encoder.${i}`, h, B));
  });
  const mu = lin('fc_mu', h, B),
    lv = lin('fc_logvar', h, B);
  const z = new Float64Array(B * L * Z);
  for (let b = 0; b < B; b++)
    for (let l = 0; l < L; l++)
      for (let j = 0; j < Z; j++) {
        z[(b * L + l) * Z + j] = mu[b * Z + j] + Math.exp(0.5 * lv[b * Z + j]) * eps[(b * L + l) * Z + j];
      }
  let g = join(z, Z, B * L, L);
  cfg.decoder.forEach((_, i) => {
    g = act(lin(`decoder.${i}`, g, B * L));
  });
  const out = lin('fc_out', g, B * L);
  const olv = cfg.likelihood === 'gaussian-learned' ? lin('fc_out_logvar', g, B * L) : null;
  const nll = new Float64Array(B * L);
  for (let r = 0; r < B * L; r++)
    for (let d = 0; d < D; d++) {
      const o = r * D + d;
      nll[r] += nllRef(out[o], x[Math.floor(r / L) * D + d], cfg.likelihood, sigma, olv ? olv[o] : 0);
    }
  return { mu, lv, z, nll };
}

/** The whole model's loss Σ_b [rec_b + β kl_b] in f64, for finite differences and parity. */
export function modelLossRef(
  cfg: RefConfig,
  p: Params,
  x: ArrayLike<number>,
  eps: ArrayLike<number>,
  B: number,
  L: number,
  beta: number,
  cond?: ArrayLike<number>,
): { loss: number; rec: number[]; kl: number[] } {
  const { mu, lv, nll } = forwardRef(cfg, p, x, eps, B, L, cond);
  const Z = cfg.latentDim;
  const rec: number[] = [],
    kl: number[] = [];
  let loss = 0;
  for (let b = 0; b < B; b++) {
    let r = 0;
    for (let l = 0; l < L; l++) r += nll[b * L + l];
    r /= L;
    let k = 0;
    for (let j = 0; j < Z; j++)
      k += -0.5 * (1 + lv[b * Z + j] - mu[b * Z + j] ** 2 - Math.exp(lv[b * Z + j]));
    rec.push(r);
    kl.push(k);
    loss += r + beta * k;
  }
  return { loss, rec, kl };
}

/** A convolution's geometry, PyTorch's arguments: NCHW input (B, C, H, W), OC output channels, square stride and padding. */
export interface ConvGeom {
  B: number;
  C: number;
  H: number;
  W: number;
  OC: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
  /** ConvTranspose2d only. */
  outPad?: number;
}

/** Output height and width: Conv2d ⌊(H + 2p − K)/s⌋ + 1; ConvTranspose2d (H − 1)s − 2p + K + op (PyTorch's formulas). */
export function convOutSize(g: ConvGeom, transposed: boolean): [number, number] {
  if (transposed)
    return [
      (g.H - 1) * g.stride - 2 * g.pad + g.KH + (g.outPad ?? 0),
      (g.W - 1) * g.stride - 2 * g.pad + g.KW + (g.outPad ?? 0),
    ];
  return [
    Math.floor((g.H + 2 * g.pad - g.KH) / g.stride) + 1,
    Math.floor((g.W + 2 * g.pad - g.KW) / g.stride) + 1,
  ];
}

export interface ConvResult {
  out: Float64Array;
  dinp: Float64Array;
  dweight: Float64Array;
  dbias: Float64Array;
}

/**
 * Conv2d (weight (OC, C, KH, KW)) or ConvTranspose2d (weight (C, OC, KH, KW)) in f64: the output
 * and, given dout, the gradients of Σ out·dout. Both are written as gathers from the definition:
 * conv out[o, y, x] = Σ inp[c, y·s − p + kh, x·s − p + kw]·w; transposed out[o, y, x] = Σ over the
 * input pixels (i, j) with i·s − p + kh = y, j·s − p + kw = x.
 */
export function convRef(
  g: ConvGeom,
  transposed: boolean,
  inp: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  dout: ArrayLike<number>,
): ConvResult {
  const { B, C, H, W, OC, KH, KW, stride: s, pad: p } = g;
  const [OH, OW] = convOutSize(g, transposed);
  const out = new Float64Array(B * OC * OH * OW),
    dinp = new Float64Array(B * C * H * W),
    dweight = new Float64Array(OC * C * KH * KW),
    dbias = new Float64Array(OC);
  const wi = (o: number, c: number, kh: number, kw: number) =>
    transposed ? ((c * OC + o) * KH + kh) * KW + kw : ((o * C + c) * KH + kh) * KW + kw;
  for (let b = 0; b < B; b++)
    for (let o = 0; o < OC; o++)
      for (let y = 0; y < OH; y++)
        for (let x = 0; x < OW; x++) {
          const oi = ((b * OC + o) * OH + y) * OW + x;
          let acc = bias ? bias[o] : 0;
          const go = dout[oi];
          dbias[o] += go;
          for (let c = 0; c < C; c++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                let i: number, j: number;
                if (transposed) {
                  const ty = y + p - kh,
                    tx = x + p - kw;
                  if (ty % s !== 0 || tx % s !== 0) continue;
                  i = ty / s;
                  j = tx / s;
                } else {
                  i = y * s - p + kh;
                  j = x * s - p + kw;
                }
                if (i < 0 || i >= H || j < 0 || j >= W) continue;
                const ii = ((b * C + c) * H + i) * W + j,
                  k = wi(o, c, kh, kw);
                acc += inp[ii] * w[k];
                dinp[ii] += go * w[k];
                dweight[k] += go * inp[ii];
              }
          out[oi] = acc;
        }
  return { out, dinp, dweight, dbias };
}

/** A layer entry as the reference reads it (src/config.ts's LayerEntry, written independently). */
export type RefEntry =
  | number
  | { dense: number }
  | { conv: number; kernel: number; stride?: number; padding?: number }
  | { deconv: number; kernel: number; stride?: number; padding?: number; outputPadding?: number }
  | { reshape: number[] };

export interface ConvRefConfig {
  inputShape: [number, number, number];
  encoder: RefEntry[];
  latentDim: number;
  decoder: RefEntry[];
  activation: Act;
  likelihood: Lik;
  sigma?: number;
}

/**
 * The f64 loss of a convolutional VAE (the summed minibatch ELBO, as modelLossRef), built as
 * scripts/make_conv_fixture.py builds it: every entry but reshape followed by the activation, a
 * dense layer flattening its input, dense μ / log σ² heads, and an output head that is a 3×3
 * stride-1 padding-1 ConvTranspose2d when the decoder ends on an image of the input's size.
 */
export function convModelLossRef(
  cfg: ConvRefConfig,
  p: Params,
  x: ArrayLike<number>,
  eps: ArrayLike<number>,
  B: number,
  L: number,
  beta: number,
): { loss: number; rec: number[]; kl: number[] } {
  const alpha = cfg.activation === 'elu' ? 1 : 0.01;
  const act = (v: Float64Array) => v.map((t) => actRef(t, cfg.activation, alpha));
  const dense = (name: string, inp: Float64Array, rows: number) => {
    const W = p[`${name}.weight`],
      b = p[`${name}.bias`],
      o = b.length,
      i = W.length / o,
      out = new Float64Array(rows * o);
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < o; j++) {
        let s = b[j];
        for (let k = 0; k < i; k++) s += inp[r * i + k] * W[j * i + k];
        out[r * o + j] = s;
      }
    return out;
  };
  const conv = (
    name: string,
    inp: Float64Array,
    rows: number,
    shape: number[],
    t: boolean,
    OC: number,
    k: number,
    s: number,
    pad: number,
    op: number,
  ) => {
    const g: ConvGeom = {
      B: rows,
      C: shape[0],
      H: shape[1],
      W: shape[2],
      OC,
      KH: k,
      KW: k,
      stride: s,
      pad,
      outPad: op,
    };
    const [OH, OW] = convOutSize(g, t);
    const r = convRef(
      g,
      t,
      inp,
      p[`${name}.weight`],
      p[`${name}.bias`],
      new Float64Array(rows * OC * OH * OW),
    );
    return { out: r.out, shape: [OC, OH, OW] };
  };
  const walk = (entries: RefEntry[], prefix: string, h: Float64Array, shape: number[], rows: number) => {
    entries.forEach((e, i) => {
      const name = `${prefix}.${i}`;
      if (typeof e === 'number' || 'dense' in e) {
        const w = typeof e === 'number' ? e : e.dense;
        h = act(dense(name, h, rows));
        shape = [w];
      } else if ('reshape' in e) shape = [...e.reshape];
      else {
        const t = 'deconv' in e,
          r = conv(
            name,
            h,
            rows,
            shape,
            t,
            t ? e.deconv : e.conv,
            e.kernel,
            e.stride ?? 1,
            e.padding ?? 0,
            t ? (e.outputPadding ?? 0) : 0,
          );
        h = act(r.out);
        shape = r.shape;
      }
    });
    return { h, shape };
  };
  const Z = cfg.latentDim,
    [C, H, W] = cfg.inputShape,
    D = C * H * W,
    BL = B * L;
  const enc = walk(cfg.encoder, 'encoder', Float64Array.from(x), [...cfg.inputShape], B);
  const mu = dense('fc_mu', enc.h, B),
    lv = dense('fc_logvar', enc.h, B);
  const z = new Float64Array(BL * Z);
  for (let r = 0; r < BL; r++)
    for (let j = 0; j < Z; j++) {
      const b = Math.floor(r / L);
      z[r * Z + j] = mu[b * Z + j] + Math.exp(0.5 * lv[b * Z + j]) * eps[r * Z + j];
    }
  const dec = walk(cfg.decoder, 'decoder', z, [Z], BL);
  const image = dec.shape.length === 3 && dec.shape[1] === H && dec.shape[2] === W;
  const headOf = (name: string) =>
    image ? conv(name, dec.h, BL, dec.shape, true, C, 3, 1, 1, 0).out : dense(name, dec.h, BL);
  const out = headOf('fc_out'),
    outlv = cfg.likelihood === 'gaussian-learned' ? headOf('fc_out_logvar') : null;
  const rec: number[] = [],
    kl: number[] = [];
  let loss = 0;
  for (let b = 0; b < B; b++) {
    let r = 0;
    for (let l = 0; l < L; l++)
      for (let d = 0; d < D; d++) {
        const i = (b * L + l) * D + d;
        r += nllRef(out[i], x[b * D + d], cfg.likelihood, cfg.sigma ?? 1, outlv ? outlv[i] : 0);
      }
    r /= L;
    let k = 0;
    for (let j = 0; j < Z; j++)
      k += -0.5 * (1 + lv[b * Z + j] - mu[b * Z + j] ** 2 - Math.exp(lv[b * Z + j]));
    rec.push(r);
    kl.push(k);
    loss += r + beta * k;
  }
  return { loss, rec, kl };
}
