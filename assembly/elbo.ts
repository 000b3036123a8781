// The fused ELBO kernels: reparameterization, the likelihood's value and gradient, and the
// closed-form KL — one pass over a minibatch, no allocation, fp32 with f64 row sums.
// reference: Kingma & Welling, "Auto-Encoding Variational Bayes" (2014), eq. 10 and appendix B/C.
//
// Shapes: B datapoints, L samples each, D data dimensions, Z latent dimensions. Sample rows are
// ordered datapoint-major: row b·L + l. The minibatch loss the gradients belong to is
//     loss = scale · Σ_b [ rec_b + β · kl_b ],   rec_b = −(1/L) Σ_l log p(x_b | z_bl)
// (scale = 1 gives PyTorch's examples/vae "sum" reduction; N/B gives the data-set-scaled estimate).
// log σ² (encoder and learned decoder variance) is clamped to [LOGVAR_MIN, LOGVAR_MAX] before it
// is exponentiated, so exp never overflows; outside that range its gradient is zero (torch.clamp).
import { vexp, vlog1p, vone } from './vmath';
import { idx4, share_lo, share_hi } from './common';

export const LIK_BERNOULLI: i32 = 0;        // decoder outputs logits; x ∈ [0, 1]
export const LIK_GAUSSIAN: i32 = 1;         // decoder outputs means; fixed σ
export const LIK_GAUSSIAN_LEARNED: i32 = 2; // decoder outputs means and per-dimension log σ²
export const LIK_CONTINUOUS_BERNOULLI: i32 = 3; // decoder outputs logits of λ; x ∈ [0, 1], a density
export const LOGVAR_MIN: f32 = -30;
export const LOGVAR_MAX: f32 = 20;
const HALF_LOG_2PI: f64 = 0.91893853320467274178;

// @ts-ignore: decorator
@inline function clampLv(v: f32): f32 { return min(max(v, LOGVAR_MIN), LOGVAR_MAX); }
// @ts-ignore: decorator
@inline function inRange(v: f32): f32 { return v >= LOGVAR_MIN && v <= LOGVAR_MAX ? 1 : 0; }

/** z (B·L, Z) = μ_b + exp(½·log σ²_b) ⊙ ε (B·L, Z); logvar = 0 (a plain autoencoder): z = μ_b, ε unread. */
export function reparam_forward(z: usize, mu: usize, logvar: usize, eps: usize, B: i32, L: i32, Z: i32): void {
  for (let b = 0; b < B; b++) {
    const mb = mu + idx4(b * Z), lb = logvar + idx4(b * Z);
    for (let l = 0; l < L; l++) {
      const r = idx4((b * L + l) * Z);
      if (!logvar) {
        for (let j = 0; j < Z; j++) store<f32>(z + r + idx4(j), load<f32>(mb + idx4(j)));
        continue;
      }
      for (let j = 0; j < Z; j++) {
        const sd = Mathf.exp(0.5 * clampLv(load<f32>(lb + idx4(j))));
        store<f32>(z + r + idx4(j), load<f32>(mb + idx4(j)) + sd * load<f32>(eps + r + idx4(j)));
      }
    }
  }
}

/**
 * The path through z: given dz (B·L, Z) = ∂loss/∂z from the decoder's backward pass,
 * dμ += Σ_l g, dlog σ² += Σ_l g ⊙ ε ⊙ ½·exp(½·log σ²)  (accumulates), with g = dz, or with
 * IWAE weights sw (B·L) (≠ 0) g = dz + sw ⊙ z: the ½‖z‖² of −log p(z) inside −log w.
 * logvar = 0 (a plain autoencoder, z = μ): dμ += Σ_l dz only; dlogvar, eps, z, sw unread.
 */
export function reparam_backward(dmu: usize, dlogvar: usize, dz: usize, logvar: usize, eps: usize,
                                 z: usize, sw: usize, B: i32, L: i32, Z: i32): void {
  for (let b = 0; b < B; b++) {
    if (!logvar) {
      for (let j = 0; j < Z; j++) {
        let gm: f32 = 0;
        for (let l = 0; l < L; l++) gm += load<f32>(dz + idx4((b * L + l) * Z + j));
        store<f32>(dmu + idx4(b * Z + j), load<f32>(dmu + idx4(b * Z + j)) + gm);
      }
      continue;
    }
    for (let j = 0; j < Z; j++) {
      const lv = load<f32>(logvar + idx4(b * Z + j));
      const hs: f32 = <f32>0.5 * Mathf.exp(<f32>0.5 * clampLv(lv)) * inRange(lv);
      let gm: f32 = 0, gl: f32 = 0;
      for (let l = 0; l < L; l++) {
        const o = idx4((b * L + l) * Z + j);
        let g = load<f32>(dz + o);
        // f64 product and sum, one rounding: the stored weights and z are f32
        if (sw) g = <f32>(<f64>g + <f64>load<f32>(sw + idx4(b * L + l)) * <f64>load<f32>(z + o));
        gm += g; gl += g * load<f32>(eps + o);
      }
      store<f32>(dmu + idx4(b * Z + j), load<f32>(dmu + idx4(b * Z + j)) + gm);
      store<f32>(dlogvar + idx4(b * Z + j), load<f32>(dlogvar + idx4(b * Z + j)) + gl * hs);
    }
  }
}

/** KL(N(m, e^lv) ‖ N(0, 1)) of one latent dimension, lv already clamped: −½(1 + lv − m² − e^lv). */
// @ts-ignore: decorator
@inline function kl1(m: f32, lv: f32, ev: f32): f64 {
  return -0.5 * (1.0 + <f64>lv - <f64>m * <f64>m - <f64>ev);
}

/** BCE-with-logits of 4 elements at i: returns the losses, stores (σ(l) − x)·g to dout when grad. */
// @ts-ignore: decorator
@inline function bce4(dout: usize, out: usize, x: usize, i: i32, grad: bool, vg: v128, one: v128, zero: v128): v128 {
  const l = v128.load(out + idx4(i)), t = v128.load(x + idx4(i));
  const e = vexp(f32x4.neg(f32x4.abs(l)));
  if (grad) {
    const r = f32x4.div(one, f32x4.add(one, e));
    const s = v128.bitselect(r, f32x4.mul(e, r), f32x4.ge(l, zero));
    v128.store(dout + idx4(i), f32x4.mul(f32x4.sub(s, t), vg));
  }
  return f32x4.add(f32x4.sub(f32x4.pmax(l, zero), f32x4.mul(l, t)), vlog1p(e));
}

/**
 * The continuous Bernoulli's log normaliser from the logit l = log(λ / (1 − λ)).
 * reference: Loaiza-Ganem & Cunningham, "The continuous Bernoulli: fixing a pervasive error in
 * variational autoencoders" (NeurIPS 2019), eq. 7: p(x|λ) = C(λ) λ^x (1 − λ)^(1−x) on [0, 1],
 * C(λ) = 2 artanh(1 − 2λ) / (1 − 2λ), and C(½) = 2.
 * With 1 − 2λ = −tanh(l/2) and artanh(1 − 2λ) = −l/2 this is C = l / tanh(l/2), even in l, so
 *   log C = log|l| + log1p(e) − log1p(−e),  e = exp(−|l|)           (|l| ≥ CB_TAYLOR)
 *   log C = log 2 + u²/3 − 7u⁴/90 + 62u⁶/2835 − 127u⁸/18900,  u = l/2 (|l| < CB_TAYLOR: near λ = ½,
 *           where 1 − e cancels; the first omitted term is < 3e-9 there)
 * For λ → 0, 1 (|l| → ∞) the first form tends to log|l| without overflow.
 */
const CB_TAYLOR: f32 = 0.5;
const LOG2: f32 = 0.69314718055994531;
// @ts-ignore: decorator
@inline export function cb_log_norm(l: f32): f32 {
  const a = Mathf.abs(l);
  if (a < CB_TAYLOR) {
    const u2: f32 = <f32>0.25 * l * l;
    return LOG2 + u2 * (<f32>(1.0 / 3) + u2 * (<f32>(-7.0 / 90) + u2 * (<f32>(62.0 / 2835) + u2 * <f32>(-127.0 / 18900))));
  }
  const e = Mathf.exp(-a);
  return Mathf.log(a) + Mathf.log1p(e) - Mathf.log1p(-e);
}
/**
 * ∂ log C / ∂l = 1/l − 1/sinh(l) (odd in l), = sign(l)·(1/|l| − 2e/(1 − e²)) for |l| ≥ CB_TAYLOR, and
 * the derivative of the series above, u/3 − 7u³/45 + 62u⁵/945 − 127u⁷/4725, below it.
 */
// @ts-ignore: decorator
@inline export function cb_dlog_norm(l: f32): f32 {
  const a = Mathf.abs(l);
  if (a < CB_TAYLOR) {
    const u: f32 = <f32>0.5 * l, u2: f32 = u * u;
    return u * (<f32>(1.0 / 3) + u2 * (<f32>(-7.0 / 45) + u2 * (<f32>(62.0 / 945) + u2 * <f32>(-127.0 / 4725))));
  }
  const e = Mathf.exp(-a);
  const d: f32 = <f32>1 / a - <f32>2 * e / ((<f32>1 - e) * (<f32>1 + e));
  return l < 0 ? -d : d;
}

/**
 * −log p(x | z) for one sample row, summed over D, and (if dout ≠ 0) its gradient times g
 * written to dout (and doutlv for the learned variance).
 */
// @ts-ignore: decorator
@inline function nll_row(dout: usize, doutlv: usize, out: usize, outlv: usize, x: usize,
                         D: i32, lik: i32, sigma: f32, g: f32): f64 {
  let i = 0;
  let total: f64 = 0;
  const grad = dout != 0;
  if (lik == LIK_BERNOULLI || lik == LIK_CONTINUOUS_BERNOULLI) {
    // stable BCE with logits: max(l,0) − l·x + log1p(e^{−|l|});  ∂/∂l = σ(l) − x
    if (ASC_FEATURE_SIMD) {
      let acc = f32x4.splat(0);
      const vg = f32x4.splat(g), one = vone(), zero = f32x4.splat(0);
      // two vectors per iteration: the exp → log1p chain is latency-bound, so two independent
      // chains keep the FP units busy
      let acc2 = f32x4.splat(0);
      for (; i + 8 <= D; i += 8) {
        acc = f32x4.add(acc, bce4(dout, out, x, i, grad, vg, one, zero));
        acc2 = f32x4.add(acc2, bce4(dout, out, x, i + 4, grad, vg, one, zero));
      }
      acc = f32x4.add(acc, acc2);
      for (; i + 4 <= D; i += 4) acc = f32x4.add(acc, bce4(dout, out, x, i, grad, vg, one, zero));
      total = <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) +
              <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
    }
    // leftovers
    for (; i < D; i++) {
      const l = load<f32>(out + idx4(i)), t = load<f32>(x + idx4(i));
      const e = Mathf.exp(-Mathf.abs(l));
      total += <f64>(max(l, 0) - l * t + Mathf.log1p(e));
      if (grad) {
        const s: f32 = l >= 0 ? 1 / (1 + e) : e / (1 + e);
        store<f32>(dout + idx4(i), (s - t) * g);
      }
    }
    // the continuous Bernoulli adds −log C(λ) to each element, and −∂ log C/∂l to its gradient
    if (lik == LIK_CONTINUOUS_BERNOULLI) {
      for (i = 0; i < D; i++) {
        const l = load<f32>(out + idx4(i));
        total -= <f64>cb_log_norm(l);
        if (grad) store<f32>(dout + idx4(i), load<f32>(dout + idx4(i)) - cb_dlog_norm(l) * g);
      }
    }
    return total;
  }
  if (lik == LIK_GAUSSIAN) {
    // ½((x−m)/σ)² + log σ + ½ log 2π;  ∂/∂m = (m − x)/σ²
    const iv: f32 = 1 / (sigma * sigma);
    if (ASC_FEATURE_SIMD) {
      let acc = f32x4.splat(0);
      const vg = f32x4.splat(g * iv);
      for (; i + 4 <= D; i += 4) {
        const d = f32x4.sub(v128.load(out + idx4(i)), v128.load(x + idx4(i)));
        acc = f32x4.add(acc, f32x4.mul(d, d));
        if (grad) v128.store(dout + idx4(i), f32x4.mul(d, vg));
      }
      total = <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) +
              <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
    }
    for (; i < D; i++) {
      const d = load<f32>(out + idx4(i)) - load<f32>(x + idx4(i));
      total += <f64>(d * d);
      if (grad) store<f32>(dout + idx4(i), d * g * iv);
    }
    return 0.5 * total * <f64>iv + <f64>D * (Math.log(<f64>sigma) + HALF_LOG_2PI);
  }
  // LIK_GAUSSIAN_LEARNED: ½(x−m)²·e^{−v} + ½v + ½ log 2π;  ∂/∂m = (m−x)e^{−v};  ∂/∂v = ½ − ½(x−m)²e^{−v}
  for (; i < D; i++) {
    const vr = load<f32>(outlv + idx4(i));
    const v = clampLv(vr);
    const iv = Mathf.exp(-v);
    const d = load<f32>(out + idx4(i)) - load<f32>(x + idx4(i));
    const q = d * d * iv;
    total += <f64>(0.5 * q + 0.5 * v);
    if (grad) {
      store<f32>(dout + idx4(i), d * iv * g);
      store<f32>(doutlv + idx4(i), (0.5 - 0.5 * q) * g * inRange(vr));
    }
  }
  return total + <f64>D * HALF_LOG_2PI;
}

/**
 * Loss parts and gradients for one minibatch. Returns Σ_b (rec_b + β·kl_b) (without `scale`) over
 * the rows it computed, and stores each row's rec_b + β·kl_b in f64 to `rowloss` (B), so threads
 * (thread ith of nth takes a share of the rows) and one thread give the same sum in row order.
 *   rec    (B)      out: −(1/L) Σ_l log p(x_b|z_bl), nats
 *   kl     (B)      out: KL(q(z|x_b) ‖ N(0, I)) = −½ Σ_j (1 + log σ² − μ² − σ²), nats (unweighted)
 *   recs   (B·L)    out, optional (0): −log p(x_b|z_bl) per sample (for IWAE and log-likelihood)
 *   dout   (B·L, D) out, optional (0: forward only): ∂loss/∂(decoder output), written
 *   doutlv (B·L, D) out: ∂loss/∂(decoder log σ²), gaussian-learned only, written
 *   dmu, dlogvar (B, Z) out, optional: the KL term's ∂loss/∂μ, ∂loss/∂log σ², written
 *                (reparam_backward later accumulates the path through z)
 *   out, outlv (B·L, D) decoder output (logits or means) and learned log σ² (or 0)
 *   x (B, D); mu, logvar (B, Z); logvar = 0 for a plain autoencoder: kl_b = 0, dmu written 0
 *   sw (B·L) optional: per-sample gradient weights replacing 1/L (the IWAE normalised weights)
 *   rowloss (B) f64 out, optional: rec_b + β·kl_b
 */
export function elbo_forward_backward(rec: usize, kl: usize, recs: usize, dout: usize, doutlv: usize,
                                      dmu: usize, dlogvar: usize, rowloss: usize,
                                      out: usize, outlv: usize, x: usize, mu: usize, logvar: usize, sw: usize,
                                      B: i32, L: i32, D: i32, Z: i32, lik: i32, sigma: f32, beta: f32, scale: f32,
                                      ith: i32, nth: i32): f64 {
  let total: f64 = 0;
  const invL: f32 = 1 / <f32>L;
  const b1 = share_hi(B, 1, ith, nth);
  for (let b = share_lo(B, 1, ith, nth); b < b1; b++) {
    // reconstruction: L samples
    let r: f64 = 0;
    for (let l = 0; l < L; l++) {
      const row = b * L + l;
      const ro = idx4(row * D);
      const g: f32 = scale * (sw ? load<f32>(sw + idx4(row)) : invL);
      const nll = nll_row(dout ? dout + ro : 0, doutlv ? doutlv + ro : 0, out + ro, outlv ? outlv + ro : 0,
                          x + idx4(b * D), D, lik, sigma, g);
      if (recs) store<f32>(recs + idx4(row), <f32>nll);
      r += nll;
    }
    r /= <f64>L;
    // closed-form KL and its gradient; logvar = 0: a plain autoencoder (z = μ), no KL, dμ seeded 0
    let k: f64 = 0;
    const kg: f32 = scale * beta;
    if (!logvar) {
      if (dmu) for (let j = 0; j < Z; j++) store<f32>(dmu + idx4(b * Z + j), 0);
    } else for (let j = 0; j < Z; j++) {
      const o = idx4(b * Z + j);
      const m = load<f32>(mu + o), lvr = load<f32>(logvar + o);
      const lv = clampLv(lvr);
      const ev = Mathf.exp(lv);
      k += kl1(m, lv, ev);
      if (dmu) store<f32>(dmu + o, kg * m);
      if (dlogvar) store<f32>(dlogvar + o, kg * 0.5 * (ev - 1) * inRange(lvr));
    }
    store<f32>(rec + idx4(b), <f32>r);
    store<f32>(kl + idx4(b), <f32>k);
    const row = r + <f64>beta * k;
    if (rowloss) store<f64>(rowloss + (<usize>b << 3), row);
    total += row;
  }
  return total;
}

/**
 * The per-dimension KL: kd (Z) f64 += Σ_b KL(q(z_j|x_b) ‖ N(0, 1)) over B rows of mu, logvar (B, Z)
 * (accumulates, so a data set runs in chunks; the caller zeroes kd first).
 */
export function kl_dims(kd: usize, mu: usize, logvar: usize, B: i32, Z: i32): void {
  for (let j = 0; j < Z; j++) {
    let s: f64 = 0;
    for (let b = 0; b < B; b++) {
      const o = idx4(b * Z + j);
      const lv = clampLv(load<f32>(logvar + o));
      s += kl1(load<f32>(mu + o), lv, Mathf.exp(lv));
    }
    const p = kd + (<usize>j << 3);
    store<f64>(p, load<f64>(p) + s);
  }
}

/**
 * Free bits (Kingma et al. 2016, "Improved Variational Inference with Inverse Autoregressive
 * Flow", eq. 15): the KL of latent dimension j, summed over the minibatch, is replaced by
 * max(Σ_b kl_bj, λ·B). Returns the loss correction Σ_j β·(λ·B − Σ_b kl_bj) over the dimensions under
 * the floor, and (if dmu ≠ 0) zeroes their KL gradient in dmu, dlogvar (B, Z), which
 * elbo_forward_backward wrote (before reparam_backward adds the path through z).
 */
export function kl_free_bits(dmu: usize, dlogvar: usize, mu: usize, logvar: usize,
                             B: i32, Z: i32, lambda: f64, beta: f64): f64 {
  let correction: f64 = 0;
  for (let j = 0; j < Z; j++) {
    let kd: f64 = 0;
    for (let b = 0; b < B; b++) {
      const o = idx4(b * Z + j);
      const lv = clampLv(load<f32>(logvar + o));
      kd += kl1(load<f32>(mu + o), lv, Mathf.exp(lv));
    }
    if (kd / <f64>B >= lambda) continue;
    correction += beta * (lambda * <f64>B - kd);
    if (dmu) {
      for (let b = 0; b < B; b++) {
        store<f32>(dmu + idx4(b * Z + j), 0);
        store<f32>(dlogvar + idx4(b * Z + j), 0);
      }
    }
  }
  return correction;
}

/**
 * The importance weights of the k-sample bound (Burda, Grosse & Salakhutdinov 2016, eq. 8):
 * log w_bl = log p(x|z_bl) + log p(z_bl) − log q(z_bl|x_b) from the per-sample −log p(x|z) in
 * `recs` (B·L) and z = μ + σ ⊙ ε, where log p(z) − log q(z|x) = Σ_j [−½ z_j² + ½ ε_j² + ½ log σ²_j]
 * (the ½ log 2π terms cancel). Returns −Σ_b log (1/L) Σ_l w_bl, by log-sum-exp in f64.
 *   lw (B·L) out: log w.  sw (B·L) out, optional: scale · w_bl / Σ_l w_bl, the gradient weights.
 *   dmu, dlogvar (B, Z) out, optional: the gradient of the ½ log σ² term, −½·scale per
 *   dimension (Σ_l w̃ = 1; zero where log σ² is clamped), and 0 for dmu; the ½‖z‖² term's
 *   gradient is added by reparam_backward from sw.
 */
export function iwae_weights(lw: usize, sw: usize, dmu: usize, dlogvar: usize, recs: usize, z: usize, eps: usize,
                             logvar: usize, B: i32, L: i32, Z: i32, scale: f64): f64 {
  let loss: f64 = 0;
  for (let b = 0; b < B; b++) {
    let mx: f64 = -Infinity;
    for (let l = 0; l < L; l++) {
      const r = (b * L + l) * Z;
      let s: f64 = 0;
      for (let j = 0; j < Z; j++) {
        const zj = <f64>load<f32>(z + idx4(r + j)), ej = <f64>load<f32>(eps + idx4(r + j));
        s += -0.5 * zj * zj + 0.5 * ej * ej + 0.5 * <f64>clampLv(load<f32>(logvar + idx4(b * Z + j)));
      }
      // log w in f32, as the weights are stored; the sums below run in f64
      const v = <f64>(<f32>s - load<f32>(recs + idx4(b * L + l)));
      store<f32>(lw + idx4(b * L + l), <f32>v);
      if (v > mx) mx = v;
    }
    let s: f64 = 0;
    for (let l = 0; l < L; l++) s += Math.exp(<f64>load<f32>(lw + idx4(b * L + l)) - mx);
    if (sw) {
      for (let l = 0; l < L; l++) {
        store<f32>(sw + idx4(b * L + l), <f32>(scale * Math.exp(<f64>load<f32>(lw + idx4(b * L + l)) - mx) / s));
      }
    }
    if (dmu) {
      for (let j = 0; j < Z; j++) {
        const o = idx4(b * Z + j);
        store<f32>(dmu + o, 0);
        store<f32>(dlogvar + o, <f32>(-0.5 * scale) * inRange(load<f32>(logvar + o)));
      }
    }
    loss -= mx + Math.log(s / <f64>L);
  }
  return loss;
}

/**
 * The continuous Bernoulli's mean from the logit l (n elements; dst may alias logits):
 * E[x] = λ/(2λ − 1) + 1/(2 artanh(1 − 2λ)) (Loaiza-Ganem & Cunningham 2019, §3) = ½ + ½·(coth u − 1/u),
 * u = l/2 (the Langevin function), = ½ + ½·sign(l)·((1 + e)/(1 − e) − 2/|l|), e = exp(−|l|), and near
 * λ = ½ (|l| < 1, where coth u and 1/u cancel) ½ + u/6 − u³/90 + u⁵/945 − u⁷/9450 (next term < 3e-8).
 */
export function cb_mean(dst: usize, logits: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const l = load<f32>(logits + idx4(i)), a = Mathf.abs(l);
    let m: f32;
    if (a < 1) {
      const u: f32 = <f32>0.5 * l, u2: f32 = u * u;
      m = <f32>0.5 + u * (<f32>(1.0 / 6) + u2 * (<f32>(-1.0 / 90) + u2 * (<f32>(1.0 / 945) + u2 * <f32>(-1.0 / 9450))));
    } else {
      const e = Mathf.exp(-a);
      const h: f32 = <f32>0.5 * ((<f32>1 + e) / (<f32>1 - e) - <f32>2 / a);
      m = l < 0 ? 0.5 - h : 0.5 + h;
    }
    store<f32>(dst + idx4(i), m);
  }
}

/**
 * One draw x ~ p(x | decoder output) per element (n elements; dst may alias out or noise), from
 * noise the caller drew with the library's RNG: U[0, 1) for the Bernoulli likelihoods, N(0, 1) for
 * the Gaussians.
 *   bernoulli:            x = 1 if u < σ(l) else 0
 *   continuous-bernoulli: x = F⁻¹(u), F(x) = (λ^x (1 − λ)^(1−x) + λ − 1) / (2λ − 1) (the CDF,
 *                         Loaiza-Ganem & Cunningham 2019, appendix), in logits
 *                         F⁻¹(u) = log1p(u·expm1(l)) / l = log(1 − u + u·e^l) / l for l < 0, and
 *                         1 + log(u + (1 − u)·e^{−l}) / l for l > 0 (the mirror image: exp never
 *                         overflows); u + l·u(1 − u)/2 for |l| < 1e-4. In f64.
 *   gaussian:             x = m + σ·n;  gaussian-learned: x = m + exp(½ log σ²)·n (log σ² clamped)
 */
export function lik_draw(dst: usize, out: usize, outlv: usize, noise: usize, n: i32, lik: i32, sigma: f32): void {
  for (let i = 0; i < n; i++) {
    const o = load<f32>(out + idx4(i)), r = load<f32>(noise + idx4(i));
    let x: f32;
    if (lik == LIK_BERNOULLI) {
      const e = Mathf.exp(-Mathf.abs(o));
      const p: f32 = o >= 0 ? 1 / (1 + e) : e / (1 + e);
      x = r < p ? 1 : 0;
    } else if (lik == LIK_CONTINUOUS_BERNOULLI) {
      const l = <f64>o, u = <f64>r;
      let v: f64;
      // log1p(u·expm1(l)) = log((1 − u) + u·e^l): a sum of two non-negative terms, no cancellation
      if (Math.abs(l) < 1e-4) v = u + 0.5 * l * u * (1 - u);
      else if (l < 0) v = Math.log(1 - u + u * Math.exp(l)) / l;
      else v = 1 + Math.log(u + (1 - u) * Math.exp(-l)) / l;
      x = <f32>min(max(v, 0.0), 1.0);
    } else if (lik == LIK_GAUSSIAN) {
      x = o + sigma * r;
    } else {
      x = o + Mathf.exp(0.5 * clampLv(load<f32>(outlv + idx4(i)))) * r;
    }
    store<f32>(dst + idx4(i), x);
  }
}
