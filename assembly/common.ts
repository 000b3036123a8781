// Shared helpers for the kernels. Compile-time feature switches: ASC_FEATURE_SIMD is false in the
// scalar build and ASC_FEATURE_RELAXED_SIMD true only in the relaxed build, so dead branches (and
// their v128 instructions) are removed from builds that lack the feature.

/** a·b + c on f32x4: one fused relaxed_madd in the relaxed build, mul then add otherwise. */
// @ts-ignore: decorator
@inline export function vmadd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline export function ldf(p: usize): f32 { return load<f32>(p); }
// @ts-ignore: decorator
@inline export function stf(p: usize, v: f32): void { store<f32>(p, v); }
// @ts-ignore: decorator
@inline export function idx4(i: i32): usize { return <usize>i << 2; }

/** Horizontal sum of an f32x4. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
         (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * The share of thread ith of nth, ggml style: `total` items in units of `size` (the last unit may
 * be short), contiguous, ⌈units / nth⌉ units per thread; [share_lo, share_hi) may be empty.
 * Units keep every share's SIMD body and leftovers where a single thread has them.
 */
// @ts-ignore: decorator
@inline export function share_lo(total: i32, size: i32, ith: i32, nth: i32): i32 {
  const units = (total + size - 1) / size, per = (units + nth - 1) / nth;
  return min(total, ith * per * size);
}
// @ts-ignore: decorator
@inline export function share_hi(total: i32, size: i32, ith: i32, nth: i32): i32 {
  const units = (total + size - 1) / size, per = (units + nth - 1) / nth;
  return min(total, (ith + 1) * per * size);
}
