// Optimizers over the flat parameter arena: one loop over n floats, SIMD with scalar leftovers.
// Semantics follow PyTorch 1.13 (torch.optim.{Adam, AdamW, Adagrad, SGD}) so training can be
// checked step by step against it. `gs` multiplies every gradient first (global-norm clipping).
// Padding floats between tensors hold 0 in params, grads and state, and stay 0 under every rule.
//
// Flush to zero: every value these loops store — parameters and optimizer state — is flushed to 0
// when it is subnormal (|x| < 2⁻¹²⁶). WebAssembly has no flush-to-zero mode, and a state that
// decays geometrically (Adam's m for a parameter whose gradient is exactly 0: border pixels, dead
// units) otherwise sticks a few ulps above 0, where every operand costs a microcode assist on
// Intel cores. A documented deviation from PyTorch that changes no number in the normal range.
//
// Threads: each step takes (ith, nth) last and updates its share of the n floats, in units of 8.
import { idx4, share_lo, share_hi } from './common';

const FLT_MIN: f32 = 1.17549435e-38;

/** x, or 0 where |x| is subnormal (NaN stays NaN: the comparison is false for it). */
// @ts-ignore: decorator
@inline function ftz(x: f32): f32 { return Mathf.abs(x) < FLT_MIN ? 0 : x; }
// @ts-ignore: decorator
@inline function vftz(x: v128): v128 { return v128.andnot(x, f32x4.lt(f32x4.abs(x), f32x4.splat(FLT_MIN))); }

/**
 * Adam / AdamW. step_size = lr / (1 − β1^t), bc2_sqrt = √(1 − β2^t) (computed by the caller in f64).
 * decoupled = 0: L2 (g += wd·p, Adam); 1: decoupled decay p ← p·(1 − lr·wd) first (AdamW).
 */
export function adam_step(param: usize, grad: usize, m: usize, v: usize, n: i32,
                          lr: f32, beta1: f32, beta2: f32, eps: f32, wd: f32,
                          step_size: f32, bc2_sqrt: f32, gs: f32, decoupled: bool, ith: i32, nth: i32): void {
  const i0 = share_lo(n, 8, ith, nth), i1 = share_hi(n, 8, ith, nth), o = idx4(i0);
  if (i0 < i1) adam_range(param + o, grad + o, m + o, v + o, i1 - i0, lr, beta1, beta2, eps, wd, step_size, bc2_sqrt, gs, decoupled);
}

function adam_range(param: usize, grad: usize, m: usize, v: usize, n: i32,
                    lr: f32, beta1: f32, beta2: f32, eps: f32, wd: f32,
                    step_size: f32, bc2_sqrt: f32, gs: f32, decoupled: bool): void {
  const l2: f32 = decoupled ? 0 : wd;
  const decay: f32 = decoupled ? 1 - lr * wd : 1;
  const ib: f32 = 1 / bc2_sqrt;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vb1 = f32x4.splat(beta1), vb1c = f32x4.splat(1 - beta1), vb2 = f32x4.splat(beta2), vb2c = f32x4.splat(1 - beta2);
    const vl2 = f32x4.splat(l2), vdec = f32x4.splat(decay), vib = f32x4.splat(ib), veps = f32x4.splat(eps);
    const vss = f32x4.splat(step_size), vgs = f32x4.splat(gs);
    // two independent vectors per iteration: sqrt and div share one unpipelined unit, so the
    // second chain's arithmetic overlaps the first one's sqrt/div latency
    for (; i + 8 <= n; i += 8) {
      const o = idx4(i);
      let p0 = v128.load(param + o), p1 = v128.load(param + o, 16);
      const g0 = f32x4.add(f32x4.mul(v128.load(grad + o), vgs), f32x4.mul(vl2, p0));
      const g1 = f32x4.add(f32x4.mul(v128.load(grad + o, 16), vgs), f32x4.mul(vl2, p1));
      const m0 = vftz(f32x4.add(f32x4.mul(v128.load(m + o), vb1), f32x4.mul(g0, vb1c)));
      const m1 = vftz(f32x4.add(f32x4.mul(v128.load(m + o, 16), vb1), f32x4.mul(g1, vb1c)));
      const v0 = vftz(f32x4.add(f32x4.mul(v128.load(v + o), vb2), f32x4.mul(f32x4.mul(g0, g0), vb2c)));
      const v1 = vftz(f32x4.add(f32x4.mul(v128.load(v + o, 16), vb2), f32x4.mul(f32x4.mul(g1, g1), vb2c)));
      const d0 = f32x4.add(f32x4.mul(f32x4.sqrt(v0), vib), veps);
      const d1 = f32x4.add(f32x4.mul(f32x4.sqrt(v1), vib), veps);
      v128.store(m + o, m0); v128.store(m + o, m1, 16);
      v128.store(v + o, v0); v128.store(v + o, v1, 16);
      p0 = f32x4.mul(p0, vdec); p1 = f32x4.mul(p1, vdec);
      v128.store(param + o, vftz(f32x4.sub(p0, f32x4.mul(vss, f32x4.div(m0, d0)))));
      v128.store(param + o, vftz(f32x4.sub(p1, f32x4.mul(vss, f32x4.div(m1, d1)))), 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = idx4(i);
      let p = v128.load(param + o);
      const g = f32x4.add(f32x4.mul(v128.load(grad + o), vgs), f32x4.mul(vl2, p));
      p = f32x4.mul(p, vdec);
      const mm = vftz(f32x4.add(f32x4.mul(v128.load(m + o), vb1), f32x4.mul(g, vb1c)));
      const vv = vftz(f32x4.add(f32x4.mul(v128.load(v + o), vb2), f32x4.mul(f32x4.mul(g, g), vb2c)));
      const den = f32x4.add(f32x4.mul(f32x4.sqrt(vv), vib), veps);
      v128.store(m + o, mm); v128.store(v + o, vv);
      v128.store(param + o, vftz(f32x4.sub(p, f32x4.mul(vss, f32x4.div(mm, den)))));
    }
  }
  // leftovers
  for (; i < n; i++) {
    const o = idx4(i);
    let p = load<f32>(param + o);
    const g = load<f32>(grad + o) * gs + l2 * p;
    p *= decay;
    const mm = ftz(load<f32>(m + o) * beta1 + g * (1 - beta1));
    const vv = ftz(load<f32>(v + o) * beta2 + g * g * (1 - beta2));
    store<f32>(m + o, mm); store<f32>(v + o, vv);
    store<f32>(param + o, ftz(p - step_size * (mm / (Mathf.sqrt(vv) * ib + eps))));
  }
}

/** Adagrad: g += wd·p; s += g²; p −= clr·g/(√s + eps), clr = lr / (1 + (t − 1)·lr_decay) from the caller. */
export function adagrad_step(param: usize, grad: usize, sum: usize, n: i32,
                             clr: f32, eps: f32, wd: f32, gs: f32, ith: i32, nth: i32): void {
  const i0 = share_lo(n, 8, ith, nth), i1 = share_hi(n, 8, ith, nth), o = idx4(i0);
  if (i0 < i1) adagrad_range(param + o, grad + o, sum + o, i1 - i0, clr, eps, wd, gs);
}

function adagrad_range(param: usize, grad: usize, sum: usize, n: i32, clr: f32, eps: f32, wd: f32, gs: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vwd = f32x4.splat(wd), vclr = f32x4.splat(clr), veps = f32x4.splat(eps), vgs = f32x4.splat(gs);
    for (; i + 4 <= n; i += 4) {
      const o = idx4(i);
      const p = v128.load(param + o);
      const g = f32x4.add(f32x4.mul(v128.load(grad + o), vgs), f32x4.mul(vwd, p));
      const s = vftz(f32x4.add(v128.load(sum + o), f32x4.mul(g, g)));
      v128.store(sum + o, s);
      v128.store(param + o, vftz(f32x4.sub(p, f32x4.mul(vclr, f32x4.div(g, f32x4.add(f32x4.sqrt(s), veps))))));
    }
  }
  for (; i < n; i++) {
    const o = idx4(i);
    const p = load<f32>(param + o);
    const g = load<f32>(grad + o) * gs + wd * p;
    const s = ftz(load<f32>(sum + o) + g * g);
    store<f32>(sum + o, s);
    store<f32>(param + o, ftz(p - clr * g / (Mathf.sqrt(s) + eps)));
  }
}

/**
 * SGD with momentum (PyTorch): d = g + wd·p; buf = first ? d : μ·buf + (1 − dampening)·d;
 * d = nesterov ? d + μ·buf : buf; p −= lr·d. momentum = 0: plain SGD, buf untouched.
 */
export function sgd_step(param: usize, grad: usize, buf: usize, n: i32, lr: f32, momentum: f32,
                         dampening: f32, wd: f32, nesterov: bool, first: bool, gs: f32, ith: i32, nth: i32): void {
  const i0 = share_lo(n, 8, ith, nth), i1 = share_hi(n, 8, ith, nth);
  for (let i = i0; i < i1; i++) {
    const o = idx4(i);
    const p = load<f32>(param + o);
    let d = load<f32>(grad + o) * gs + wd * p;
    if (momentum != 0) {
      const bv: f32 = ftz(first ? d : load<f32>(buf + o) * momentum + (1 - dampening) * d);
      store<f32>(buf + o, bv);
      d = nesterov ? d + momentum * bv : bv;
    }
    store<f32>(param + o, ftz(p - lr * d));
  }
}

/** Σ x² over n floats, in f64 (partial sums of 256 floats in f32x4, then f64). */
export function f32_sumsq(x: usize, n: i32): f64 {
  let total: f64 = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    while (i + 4 <= n) {
      let acc = f32x4.splat(0);
      const end = min(i + 256, n - (n - i) % 4);
      for (; i < end; i += 4) { const v = v128.load(x + idx4(i)); acc = f32x4.add(acc, f32x4.mul(v, v)); }
      total += <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) +
               <f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3);
    }
  }
  for (; i < n; i++) { const v = <f64>load<f32>(x + idx4(i)); total += v * v; }
  return total;
}

/** Index of the first NaN or ±Inf among n floats, or −1. */
export function f32_find_nonfinite(x: usize, n: i32): i32 {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 16 <= n; i += 16) {
      // v − v is 0 for finite v and NaN otherwise; NaN ≠ NaN
      const a = v128.load(x + idx4(i)), b = v128.load(x + idx4(i), 16);
      const c = v128.load(x + idx4(i), 32), d = v128.load(x + idx4(i), 48);
      const s = f32x4.add(f32x4.add(f32x4.sub(a, a), f32x4.sub(b, b)), f32x4.add(f32x4.sub(c, c), f32x4.sub(d, d)));
      if (!v128.all_true<i32>(f32x4.eq(s, s))) break;
    }
  }
  for (; i < n; i++) { const v = load<f32>(x + idx4(i)); if (v - v != 0) return i; }
  return -1;
}

/** x (n) = v (memory.fill for 0). */
export function f32_fill(x: usize, n: i32, v: f32): void {
  if (v == 0) { memory.fill(x, 0, <usize>n << 2); return; }
  for (let i = 0; i < n; i++) store<f32>(x + idx4(i), v);
}
