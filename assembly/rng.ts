// Counter-based random numbers: Philox4x32-10, so a seed gives the same stream in every engine
// (integer arithmetic, and AssemblyScript's own f64 log/sin/cos compiled into the module).
// reference: Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC'11).
// State (16 bytes, caller-owned): key0, key1 (u32), 64-bit block counter (lo, hi).
// Every call starts on a fresh 128-bit block, so a call's output depends only on the state.

const M0: u64 = 0xD2511F53, M1: u64 = 0xCD9E8D57;
const W0: u32 = 0x9E3779B9, W1: u32 = 0xBB67AE85;

let r0: u32 = 0, r1: u32 = 0, r2: u32 = 0, r3: u32 = 0;

/** One Philox4x32-10 block for the state's counter, into r0..r3; advances the counter. */
function block(state: usize): void {
  let k0 = load<u32>(state), k1 = load<u32>(state, 4);
  const lo = load<u32>(state, 8), hi = load<u32>(state, 12);
  let c0 = lo, c1 = hi, c2: u32 = 0, c3: u32 = 0;
  for (let i = 0; i < 10; i++) {
    const p0 = M0 * <u64>c0, p1 = M1 * <u64>c2;
    const n0 = (<u32>(p1 >> 32)) ^ c1 ^ k0, n2 = (<u32>(p0 >> 32)) ^ c3 ^ k1;
    c1 = <u32>p1; c3 = <u32>p0; c0 = n0; c2 = n2;
    k0 += W0; k1 += W1;
  }
  r0 = c0; r1 = c1; r2 = c2; r3 = c3;
  const nlo = lo + 1;
  store<u32>(state, nlo, 8);
  if (nlo == 0) store<u32>(state, hi + 1, 12);
}

/** Seeds the state: key = (seed_lo, seed_hi), counter = 0. */
export function rng_seed(state: usize, seed_lo: u32, seed_hi: u32): void {
  store<u32>(state, seed_lo); store<u32>(state, seed_hi, 4);
  store<u32>(state, 0, 8); store<u32>(state, 0, 12);
}

/** out (n) u32. */
export function rng_u32(out: usize, n: i32, state: usize): void {
  for (let i = 0; i < n; i += 4) {
    block(state);
    const o = out + (<usize>i << 2);
    store<u32>(o, r0);
    if (i + 1 < n) store<u32>(o, r1, 4);
    if (i + 2 < n) store<u32>(o, r2, 8);
    if (i + 3 < n) store<u32>(o, r3, 12);
  }
}

// @ts-ignore: decorator
@inline function unit24(x: u32): f32 { return <f32>(x >>> 8) * 5.9604644775390625e-8; } // [0, 1)

/** out (n) f32 uniform on [lo, hi): lo + (hi − lo)·u, u ∈ [0, 1) with 24 random bits. */
export function rng_uniform(out: usize, n: i32, state: usize, lo: f32, hi: f32): void {
  const w = hi - lo;
  for (let i = 0; i < n; i += 4) {
    block(state);
    const o = out + (<usize>i << 2);
    store<f32>(o, lo + w * unit24(r0));
    if (i + 1 < n) store<f32>(o, lo + w * unit24(r1), 4);
    if (i + 2 < n) store<f32>(o, lo + w * unit24(r2), 8);
    if (i + 3 < n) store<f32>(o, lo + w * unit24(r3), 12);
  }
}

// @ts-ignore: decorator
@inline function open01(x: u32): f64 { return (<f64>x + 1.0) * 2.3283064365386963e-10; } // (0, 1]

/** out (n) f32 normal N(mean, std²) by Box–Muller in f64: four values per block. */
export function rng_normal(out: usize, n: i32, state: usize, mean: f32, std: f32): void {
  const TWO_PI: f64 = 6.283185307179586;
  for (let i = 0; i < n; i += 4) {
    block(state);
    const a = Math.sqrt(-2.0 * Math.log(open01(r0))), ta = TWO_PI * open01(r1);
    const b = Math.sqrt(-2.0 * Math.log(open01(r2))), tb = TWO_PI * open01(r3);
    const o = out + (<usize>i << 2);
    store<f32>(o, mean + std * <f32>(a * Math.cos(ta)));
    if (i + 1 < n) store<f32>(o, mean + std * <f32>(a * Math.sin(ta)), 4);
    if (i + 2 < n) store<f32>(o, mean + std * <f32>(b * Math.cos(tb)), 8);
    if (i + 3 < n) store<f32>(o, mean + std * <f32>(b * Math.sin(tb)), 12);
  }
}

/** out (n) u32: a uniformly random permutation of 0..n−1 (Fisher–Yates, Lemire's bounded draw). */
export function rng_permutation(out: usize, n: i32, state: usize): void {
  for (let i = 0; i < n; i++) store<u32>(out + (<usize>i << 2), i);
  let have = 0;
  let buf0: u32 = 0, buf1: u32 = 0, buf2: u32 = 0, buf3: u32 = 0;
  for (let i = n - 1; i > 0; i--) {
    const range = <u32>(i + 1);
    const t: u32 = (<u32>0 - range) % range;
    let j: u32 = 0;
    while (true) {
      if (have == 0) { block(state); buf0 = r0; buf1 = r1; buf2 = r2; buf3 = r3; have = 4; }
      const x = have == 4 ? buf0 : have == 3 ? buf1 : have == 2 ? buf2 : buf3;
      have--;
      const m = <u64>x * <u64>range;
      if (<u32>m >= t) { j = <u32>(m >> 32); break; }
    }
    const pi = out + (<usize>i << 2), pj = out + (<usize>j << 2);
    const tmp = load<u32>(pi); store<u32>(pi, load<u32>(pj)); store<u32>(pj, tmp);
  }
}

/** dst (n) = 1 where u < src else 0, u ~ U[0, 1) (dynamic/static binarization). dst may alias src. */
export function rng_binarize(dst: usize, src: usize, n: i32, state: usize): void {
  for (let i = 0; i < n; i += 4) {
    block(state);
    const o = (<usize>i << 2);
    store<f32>(dst + o, unit24(r0) < load<f32>(src + o) ? 1 : 0);
    if (i + 1 < n) store<f32>(dst + o, unit24(r1) < load<f32>(src + o, 4) ? 1 : 0, 4);
    if (i + 2 < n) store<f32>(dst + o, unit24(r2) < load<f32>(src + o, 8) ? 1 : 0, 8);
    if (i + 3 < n) store<f32>(dst + o, unit24(r3) < load<f32>(src + o, 12) ? 1 : 0, 12);
  }
}
