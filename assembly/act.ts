// Elementwise activations, forward and backward. fp32; no allocation; any n ≥ 0.
// Stable for large |x| (|x| up to 1e4 and beyond give finite results); NaN in gives NaN out.
// Backward *writes* dinp = dout ⊙ f'(inp): in an MLP each activation gradient has one producer,
// so accumulating would only cost a zeroing pass. It may be given both the pre-activation `inp`
// and the forward output `out`, and uses whichever gives the stable form.
import { vexp, vexpm1, vlog1p, vtanh, vsigmoid, vone } from './vmath';
import { idx4, share_lo, share_hi } from './common';

export const ACT_IDENTITY: i32 = 0;
export const ACT_RELU: i32 = 1;
export const ACT_LEAKY_RELU: i32 = 2; // alpha: negative slope (PyTorch default 0.01)
export const ACT_ELU: i32 = 3;        // alpha: scale of the negative part (PyTorch default 1)
export const ACT_TANH: i32 = 4;
export const ACT_SIGMOID: i32 = 5;
export const ACT_SOFTPLUS: i32 = 6;   // log(1 + e^x), β = 1

// ---- scalar forms (the scalar build, the SIMD leftovers, and the reference the tests mirror) ----

// @ts-ignore: decorator
@inline function sigmoid1(x: f32): f32 {
  const e = Mathf.exp(-Mathf.abs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

// @ts-ignore: decorator
@inline export function act1(x: f32, kind: i32, alpha: f32): f32 {
  switch (kind) {
    case ACT_RELU: return x > 0 ? x : (x == x ? 0 : x);
    case ACT_LEAKY_RELU: return x > 0 ? x : alpha * x;
    case ACT_ELU: return x > 0 ? x : alpha * Mathf.expm1(max(x, -88));
    case ACT_TANH: return Mathf.tanh(x);
    case ACT_SIGMOID: return sigmoid1(x);
    case ACT_SOFTPLUS: return max(x, 0) + Mathf.log1p(Mathf.exp(-Mathf.abs(x)));
    default: return x;
  }
}

// @ts-ignore: decorator
@inline function dact1(x: f32, y: f32, kind: i32, alpha: f32): f32 {
  switch (kind) {
    case ACT_RELU: return x > 0 ? 1 : (x == x ? 0 : x);
    case ACT_LEAKY_RELU: return x > 0 ? 1 : (x == x ? alpha : x);
    case ACT_ELU: return x > 0 ? 1 : y + alpha;     // d/dx α(e^x − 1) = α e^x = y + α
    case ACT_TANH: return 1 - y * y;
    case ACT_SIGMOID: return y * (1 - y);
    case ACT_SOFTPLUS: return sigmoid1(x);
    default: return 1;
  }
}

// ---- SIMD forms ----

// @ts-ignore: decorator
@inline function vact(x: v128, kind: i32, va: v128): v128 {
  switch (kind) {
    // f32x4.max propagates NaN (pmax would not)
    case ACT_RELU: return f32x4.max(x, f32x4.splat(0));
    case ACT_LEAKY_RELU: return v128.bitselect(x, f32x4.mul(va, x), f32x4.gt(x, f32x4.splat(0)));
    case ACT_ELU: return v128.bitselect(x, f32x4.mul(va, vexpm1(x)), f32x4.gt(x, f32x4.splat(0)));
    case ACT_TANH: return vtanh(x);
    case ACT_SIGMOID: return vsigmoid(x);
    case ACT_SOFTPLUS:
      return f32x4.add(f32x4.pmax(x, f32x4.splat(0)), vlog1p(vexp(f32x4.neg(f32x4.abs(x)))));
    default: return x;
  }
}

// @ts-ignore: decorator
@inline function vdact(x: v128, y: v128, kind: i32, va: v128): v128 {
  const one = vone();
  // NaN lanes: x·0 + select keeps NaN flowing into dinp
  const nanx = f32x4.mul(x, f32x4.splat(0));
  switch (kind) {
    case ACT_RELU: return f32x4.add(v128.and(f32x4.gt(x, f32x4.splat(0)), one), nanx);
    case ACT_LEAKY_RELU: return f32x4.add(v128.bitselect(one, va, f32x4.gt(x, f32x4.splat(0))), nanx);
    case ACT_ELU: return v128.bitselect(one, f32x4.add(y, va), f32x4.gt(x, f32x4.splat(0)));
    case ACT_TANH: return f32x4.sub(one, f32x4.mul(y, y));
    case ACT_SIGMOID: return f32x4.mul(y, f32x4.sub(one, y));
    case ACT_SOFTPLUS: return vsigmoid(x);
    default: return one;
  }
}

/** out (n) = f(inp (n)). out may alias inp. Thread ith of nth: its share in units of 4. */
export function act_forward(out: usize, inp: usize, n: i32, kind: i32, alpha: f32, ith: i32, nth: i32): void {
  const i0 = share_lo(n, 4, ith, nth);
  out += idx4(i0); inp += idx4(i0); n = share_hi(n, 4, ith, nth) - i0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) v128.store(out + idx4(i), vact(v128.load(inp + idx4(i)), kind, va));
  }
  // leftovers
  for (; i < n; i++) store<f32>(out + idx4(i), act1(load<f32>(inp + idx4(i)), kind, alpha));
}

/** dinp (n) = dout (n) ⊙ f'(inp (n)), with out = f(inp) from the forward pass. dinp may alias dout. Threads as act_forward. */
export function act_backward(dinp: usize, dout: usize, inp: usize, out: usize, n: i32, kind: i32, alpha: f32, ith: i32, nth: i32): void {
  const i0 = share_lo(n, 4, ith, nth), o0 = idx4(i0);
  dinp += o0; dout += o0; inp += o0; out += o0; n = share_hi(n, 4, ith, nth) - i0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = idx4(i);
      v128.store(dinp + o, f32x4.mul(v128.load(dout + o), vdact(v128.load(inp + o), v128.load(out + o), kind, va)));
    }
  }
  // leftovers
  for (; i < n; i++) {
    const o = idx4(i);
    store<f32>(dinp + o, load<f32>(dout + o) * dact1(load<f32>(inp + o), load<f32>(out + o), kind, alpha));
  }
}

/** Test hooks for the vector math: out = f(inp), f ∈ {0 exp, 1 log1p, 2 expm1, 3 tanh, 4 sigmoid}. */
export function vmath_eval(out: usize, inp: usize, n: i32, f: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const x = v128.load(inp + idx4(i));
      let y = x;
      if (f == 0) y = vexp(x); else if (f == 1) y = vlog1p(x); else if (f == 2) y = vexpm1(x);
      else if (f == 3) y = vtanh(x); else y = vsigmoid(x);
      v128.store(out + idx4(i), y);
    }
  }
  for (; i < n; i++) {
    const x = load<f32>(inp + idx4(i));
    let y = x;
    if (f == 0) y = Mathf.exp(x); else if (f == 1) y = Mathf.log1p(x); else if (f == 2) y = Mathf.expm1(x);
    else if (f == 3) y = Mathf.tanh(x); else y = sigmoid1(x);
    store<f32>(out + idx4(i), y);
  }
}
