import { vmadd } from './common';

// Vectorised f32 transcendental functions for the activation and ELBO kernels (SIMD builds only).
// reference: Cephes single-precision expf / logf / tanhf (S. L. Moshier), the same polynomials as
// the widely used sse_mathfun. Max relative error ≈ 2 ulp over the clamped ranges documented below.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
/** exp's input range: below EXP_LO the result is ~1e-38 (never a denormal), above EXP_HI it is +Inf. */
export const EXP_LO: f32 = -87.3;
export const EXP_HI: f32 = 88.7;
const ROUND_MAGIC: f32 = 12582912.0; // 1.5 · 2^23

// V8 (11.x) rematerialises every v128.const inside a loop with several instructions and does not
// hoist them; loading the constants from a static table costs one load (usually folded into the
// arithmetic instruction). Each entry is one constant splatted to four lanes.
const KF: usize = memory.data<f32>([
  EXP_HI, EXP_HI, EXP_HI, EXP_HI,
  EXP_LO, EXP_LO, EXP_LO, EXP_LO,
  LOG2E, LOG2E, LOG2E, LOG2E,
  ROUND_MAGIC, ROUND_MAGIC, ROUND_MAGIC, ROUND_MAGIC,
  LN2_HI, LN2_HI, LN2_HI, LN2_HI,
  LN2_LO, LN2_LO, LN2_LO, LN2_LO,
  1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4,
  1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3,
  8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3,
  4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2,
  1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1,
  5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1,
  1, 1, 1, 1,
  2, 2, 2, 2,
  2.0 / 15.0, 2.0 / 15.0, 2.0 / 15.0, 2.0 / 15.0,
  2.0 / 13.0, 2.0 / 13.0, 2.0 / 13.0, 2.0 / 13.0,
  2.0 / 11.0, 2.0 / 11.0, 2.0 / 11.0, 2.0 / 11.0,
  2.0 / 9.0, 2.0 / 9.0, 2.0 / 9.0, 2.0 / 9.0,
  2.0 / 7.0, 2.0 / 7.0, 2.0 / 7.0, 2.0 / 7.0,
  2.0 / 5.0, 2.0 / 5.0, 2.0 / 5.0, 2.0 / 5.0,
  2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0,
  0.5, 0.5, 0.5, 0.5,
  1.0 / 40320.0, 1.0 / 40320.0, 1.0 / 40320.0, 1.0 / 40320.0,
  1.0 / 5040.0, 1.0 / 5040.0, 1.0 / 5040.0, 1.0 / 5040.0,
  1.0 / 720.0, 1.0 / 720.0, 1.0 / 720.0, 1.0 / 720.0,
  1.0 / 120.0, 1.0 / 120.0, 1.0 / 120.0, 1.0 / 120.0,
  1.0 / 24.0, 1.0 / 24.0, 1.0 / 24.0, 1.0 / 24.0,
  1.0 / 6.0, 1.0 / 6.0, 1.0 / 6.0, 1.0 / 6.0,
  -5.70498872745e-3, -5.70498872745e-3, -5.70498872745e-3, -5.70498872745e-3,
  2.06390887954e-2, 2.06390887954e-2, 2.06390887954e-2, 2.06390887954e-2,
  -5.37397155531e-2, -5.37397155531e-2, -5.37397155531e-2, -5.37397155531e-2,
  1.33314422036e-1, 1.33314422036e-1, 1.33314422036e-1, 1.33314422036e-1,
  -3.33332819422e-1, -3.33332819422e-1, -3.33332819422e-1, -3.33332819422e-1,
  0.625, 0.625, 0.625, 0.625,
  0, 0, 0, 0
], 16);
const KI: usize = memory.data<i32>([127, 127, 127, 127, 0x80000000, 0x80000000, 0x80000000, 0x80000000], 16);
// @ts-ignore: decorator
@inline function kc(i: i32): v128 { return v128.load(KF + (<usize>i << 4)); }
// @ts-ignore: decorator
@inline function kci(i: i32): v128 { return v128.load(KI + (<usize>i << 4)); }

/** e^x per lane. NaN in gives NaN out. */
// @ts-ignore: decorator
@inline export function vexp(x: v128): v128 {
  // pmin/pmax are single instructions; with x first they return x when x is NaN
  x = f32x4.pmax(f32x4.pmin(x, kc(0)), kc(1));
  // round x·log2(e) to the nearest integer n by adding 1.5·2^23: the sum's low mantissa bits are n
  const t = f32x4.add(f32x4.mul(x, kc(2)), kc(3));
  const n = f32x4.sub(t, kc(3));
  let r = f32x4.sub(x, f32x4.mul(n, kc(4)));
  r = f32x4.sub(r, f32x4.mul(n, kc(5)));
  let p = kc(6);
  p = vmadd(p, r, kc(7));
  p = vmadd(p, r, kc(8));
  p = vmadd(p, r, kc(9));
  p = vmadd(p, r, kc(10));
  p = vmadd(p, r, kc(11));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), kc(12));
  // 2^n in the exponent field: (bits(t) + 127) << 23 — the magic's own bits shift out entirely;
  // n ∈ [-126, 128] after the clamp (128 gives +Inf, as it should)
  const pow2n = i32x4.shl(i32x4.add(t, kci(0)), 23);
  return f32x4.mul(p, pow2n);
}

/**
 * ln(1 + u) per lane for u ∈ [0, 1] (the range of e^{−|x|} in BCE and softplus): with
 * s = u/(2 + u) ∈ [0, 1/3], ln(1 + u) = 2·atanh(s) = 2(s + s³/3 + … + s¹⁵/15). One division,
 * no logarithm, and exact in relative terms for tiny u (2s → u). Series truncation < 1e-8.
 */
// @ts-ignore: decorator
@inline export function vlog1p(u: v128): v128 {
  const s = f32x4.div(u, f32x4.add(u, kc(13)));
  const s2 = f32x4.mul(s, s);
  let p = kc(14);
  p = vmadd(p, s2, kc(15));
  p = vmadd(p, s2, kc(16));
  p = vmadd(p, s2, kc(17));
  p = vmadd(p, s2, kc(18));
  p = vmadd(p, s2, kc(19));
  p = vmadd(p, s2, kc(20));
  return f32x4.add(f32x4.mul(f32x4.mul(p, s2), s), f32x4.add(s, s));
}

/** e^x − 1 per lane, accurate near 0 (Taylor series for |x| < 0.5, vexp elsewhere). */
// @ts-ignore: decorator
@inline export function vexpm1(x: v128): v128 {
  const big = f32x4.ge(f32x4.abs(x), kc(21));
  const e = f32x4.sub(vexp(x), kc(12));
  // x + x²/2! + … + x⁸/8!: truncation error < 2.5e-9 at |x| = 0.5
  let p = kc(22);
  p = vmadd(p, x, kc(23));
  p = vmadd(p, x, kc(24));
  p = vmadd(p, x, kc(25));
  p = vmadd(p, x, kc(26));
  p = vmadd(p, x, kc(27));
  p = vmadd(p, x, kc(21));
  p = f32x4.add(f32x4.mul(f32x4.mul(p, x), x), x);
  return v128.bitselect(e, p, big);
}

/** tanh(x) per lane: odd polynomial for |x| < 0.625, 1 − 2/(e^{2|x|} + 1) beyond. */
// @ts-ignore: decorator
@inline export function vtanh(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = kc(28);
  p = vmadd(p, z, kc(29));
  p = vmadd(p, z, kc(30));
  p = vmadd(p, z, kc(31));
  p = vmadd(p, z, kc(32));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  const e = vexp(f32x4.add(ax, ax));
  let large = f32x4.sub(kc(12), f32x4.div(kc(13), f32x4.add(e, kc(12))));
  // copy the sign of x
  large = v128.or(large, v128.and(x, kci(1)));
  return v128.bitselect(small, large, f32x4.lt(ax, kc(33)));
}

/** σ(x) = 1/(1+e^{−x}) per lane, from e^{−|x|} so nothing overflows. */
// @ts-ignore: decorator
@inline export function vsigmoid(x: v128): v128 {
  const e = vexp(f32x4.neg(f32x4.abs(x)));
  const r = f32x4.div(kc(12), f32x4.add(kc(12), e));
  return v128.bitselect(r, f32x4.mul(e, r), f32x4.ge(x, kc(34)));
}

/** The constant 1.0 in four lanes, from the table (see above). */
// @ts-ignore: decorator
@inline export function vone(): v128 { return kc(12); }
