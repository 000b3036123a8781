// Vectorised f32 transcendental functions for the activation and ELBO kernels (SIMD builds only).
// reference: Cephes single-precision expf / logf / tanhf (S. L. Moshier), the same polynomials as
// the widely used sse_mathfun. Max relative error ≈ 2 ulp over the clamped ranges documented below.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
/** exp's input range: below EXP_LO the result is ~1e-38 (never a denormal), above EXP_HI it is +Inf. */
export const EXP_LO: f32 = -87.3;
export const EXP_HI: f32 = 88.7;

/** e^x per lane. NaN in gives NaN out. */
// @ts-ignore: decorator
@inline export function vexp(x: v128): v128 {
  x = f32x4.max(f32x4.min(x, f32x4.splat(EXP_HI)), f32x4.splat(EXP_LO));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  // 2^n built in the exponent field; n ∈ [-126, 128] after the clamp (128 gives +Inf, as it should)
  const pow2n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, pow2n);
}

/** ln(x) per lane for x > 0 (normal). x ≤ 0 or NaN gives NaN. */
// @ts-ignore: decorator
@inline export function vlog(x: v128): v128 {
  const invalid = f32x4.le(x, f32x4.splat(0));
  const bits = f32x4.max(x, f32x4.splat(1.17549435e-38));
  // x = m · 2^e with m ∈ [0.5, 1)
  let e = f32x4.convert_i32x4_s(i32x4.sub(i32x4.shr_u(bits, 23), i32x4.splat(126)));
  let m = v128.or(v128.and(bits, i32x4.splat(0x007fffff)), i32x4.splat(0x3f000000));
  // if m < √½: e -= 1, m = 2m - 1, else m = m - 1
  const small = f32x4.lt(m, f32x4.splat(0.707106781186547524));
  e = f32x4.sub(e, v128.and(small, f32x4.splat(1)));
  m = f32x4.add(f32x4.sub(m, f32x4.splat(1)), v128.and(small, m));
  const z = f32x4.mul(m, m);
  let y = f32x4.splat(7.0376836292e-2);
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-1.1514610310e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(1.1676998740e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-1.2420140846e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(1.4249322787e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-1.6668057665e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(2.0000714765e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-2.4999993993e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(3.3333331174e-1));
  y = f32x4.mul(f32x4.mul(y, m), z);
  y = f32x4.add(y, f32x4.mul(e, f32x4.splat(LN2_LO)));
  y = f32x4.sub(y, f32x4.mul(z, f32x4.splat(0.5)));
  let r = f32x4.add(m, y);
  r = f32x4.add(r, f32x4.mul(e, f32x4.splat(LN2_HI)));
  // NaN (from x ≤ 0 or x NaN) propagates: x + r is NaN when x is NaN
  return v128.bitselect(f32x4.splat(NaN), f32x4.add(r, f32x4.mul(x, f32x4.splat(0))), invalid);
}

/** ln(1 + u) per lane for u ≥ 0, accurate for tiny u (the Kahan correction log(v)·u/(v−1)). */
// @ts-ignore: decorator
@inline export function vlog1p(u: v128): v128 {
  const v = f32x4.add(u, f32x4.splat(1));
  const d = f32x4.sub(v, f32x4.splat(1));
  const exact = f32x4.eq(d, f32x4.splat(0)); // 1 + u rounded to 1: log1p(u) = u to f32 precision
  const r = f32x4.mul(vlog(v), f32x4.div(u, v128.bitselect(f32x4.splat(1), d, exact)));
  return v128.bitselect(u, r, exact);
}

/** e^x − 1 per lane, accurate near 0 (Taylor series for |x| < 0.5, vexp elsewhere). */
// @ts-ignore: decorator
@inline export function vexpm1(x: v128): v128 {
  const big = f32x4.ge(f32x4.abs(x), f32x4.splat(0.5));
  const e = f32x4.sub(vexp(x), f32x4.splat(1));
  // x + x²/2! + … + x⁸/8!: truncation error < 2.5e-9 at |x| = 0.5
  let p = f32x4.splat(1.0 / 40320.0);
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(1.0 / 5040.0));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(1.0 / 720.0));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(1.0 / 120.0));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(1.0 / 24.0));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(1.0 / 6.0));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(f32x4.mul(p, x), x), x);
  return v128.bitselect(e, p, big);
}

/** tanh(x) per lane: odd polynomial for |x| < 0.625, 1 − 2/(e^{2|x|} + 1) beyond. */
// @ts-ignore: decorator
@inline export function vtanh(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  const e = vexp(f32x4.add(ax, ax));
  let large = f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1))));
  // copy the sign of x
  large = v128.or(large, v128.and(x, i32x4.splat(0x80000000)));
  return v128.bitselect(small, large, f32x4.lt(ax, f32x4.splat(0.625)));
}

/** σ(x) = 1/(1+e^{−x}) per lane, from e^{−|x|} so nothing overflows. */
// @ts-ignore: decorator
@inline export function vsigmoid(x: v128): v128 {
  const e = vexp(f32x4.neg(f32x4.abs(x)));
  const r = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
  return v128.bitselect(r, f32x4.mul(e, r), f32x4.ge(x, f32x4.splat(0)));
}
