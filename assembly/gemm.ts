// GEMM, f32, single-threaded, no allocation. Row-major everywhere; all pointers are byte offsets
// into the one linear memory owned by the TypeScript arena.
//
// One register-blocked micro-kernel computes a 4×8 tile of C = A·B where A is addressed by strides
// (so the same tile serves A row-major, "n", and A transposed, "t") and B is row-major (K, N).
// The three layouts a linear layer needs with PyTorch's (out, in) weight layout:
//   f32_gemm_nt: C (M,N) = A (M,K) · B (N,K)ᵀ + bias   forward:   out  = inp · Wᵀ + b
//                B is first packed as Bᵀ in 8-column panels (pack_b_panels) so the tile streams it.
//   f32_gemm_nn: C (M,N) (+)= A (M,K) · B (K,N)          backward:  dinp = dout · W
//   f32_gemm_tn: C (M,N) (+)= A (K,M)ᵀ · B (K,N)         backward:  dW  += doutᵀ · inp
// Partial tiles (M % 4) alias their row pointers to the last valid row, so the inner loop never
// branches (XNNPACK's trick); N % 8 falls back to a 4-wide tile and then scalar leftovers.
// K is blocked by KC so a B panel (KC × 8 floats) stays in L1 while A streams from L2.
import { vmadd, idx4, share_lo, share_hi } from './common';

const KC: i32 = 256;
const MR: i32 = 4;

/**
 * One 4×8 tile, SIMD. c0..c3: C row pointers at column n (rows past M alias the last valid row);
 * ap: packed A panel (kc × 4, interleaved by k); b: B at (k0, n); ldb: B row stride in bytes.
 * load: start from C (accumulate) instead of zero; bias: pointer to 8 bias values or 0.
 */
// @ts-ignore: decorator
@inline function tile_4x8(c0: usize, c1: usize, c2: usize, c3: usize, ap: usize,
                          b: usize, ldb: usize, kc: i32, load: bool, bias: usize): void {
  let x00 = f32x4.splat(0), x01 = f32x4.splat(0), x10 = f32x4.splat(0), x11 = f32x4.splat(0);
  let x20 = f32x4.splat(0), x21 = f32x4.splat(0), x30 = f32x4.splat(0), x31 = f32x4.splat(0);
  if (load) {
    x00 = v128.load(c0); x01 = v128.load(c0, 16); x10 = v128.load(c1); x11 = v128.load(c1, 16);
    x20 = v128.load(c2); x21 = v128.load(c2, 16); x30 = v128.load(c3); x31 = v128.load(c3, 16);
  }
  if (bias) {
    // accumulators start from the bias
    const bb0 = v128.load(bias), bb1 = v128.load(bias, 16);
    x00 = f32x4.add(x00, bb0); x01 = f32x4.add(x01, bb1); x10 = f32x4.add(x10, bb0); x11 = f32x4.add(x11, bb1);
    x20 = f32x4.add(x20, bb0); x21 = f32x4.add(x21, bb1); x30 = f32x4.add(x30, bb0); x31 = f32x4.add(x31, bb1);
  }
  // Packed A keeps the loop at two pointer bumps; every other address is an immediate offset.
  const aend = ap + (<usize>kc << 4);
  while (ap < aend) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let av = v128.load32_splat(ap);
    x00 = vmadd(av, b0, x00); x01 = vmadd(av, b1, x01);
    av = v128.load32_splat(ap, 4);
    x10 = vmadd(av, b0, x10); x11 = vmadd(av, b1, x11);
    av = v128.load32_splat(ap, 8);
    x20 = vmadd(av, b0, x20); x21 = vmadd(av, b1, x21);
    av = v128.load32_splat(ap, 12);
    x30 = vmadd(av, b0, x30); x31 = vmadd(av, b1, x31);
    ap += 16; b += ldb;
  }
  // aliased (duplicate) rows hold identical values, so the store order does not matter
  v128.store(c3, x30); v128.store(c3, x31, 16); v128.store(c2, x20); v128.store(c2, x21, 16);
  v128.store(c1, x10); v128.store(c1, x11, 16); v128.store(c0, x00); v128.store(c0, x01, 16);
}

/** One 4×4 tile, SIMD: the N % 8 ≥ 4 remainder. Same contract as tile_4x8. */
// @ts-ignore: decorator
@inline function tile_4x4(c0: usize, c1: usize, c2: usize, c3: usize, ap: usize,
                          b: usize, ldb: usize, kc: i32, load: bool, bias: usize): void {
  let x0 = f32x4.splat(0), x1 = f32x4.splat(0), x2 = f32x4.splat(0), x3 = f32x4.splat(0);
  if (load) { x0 = v128.load(c0); x1 = v128.load(c1); x2 = v128.load(c2); x3 = v128.load(c3); }
  if (bias) {
    const bb = v128.load(bias);
    x0 = f32x4.add(x0, bb); x1 = f32x4.add(x1, bb); x2 = f32x4.add(x2, bb); x3 = f32x4.add(x3, bb);
  }
  const aend = ap + (<usize>kc << 4);
  while (ap < aend) {
    const b0 = v128.load(b);
    x0 = vmadd(v128.load32_splat(ap), b0, x0);
    x1 = vmadd(v128.load32_splat(ap, 4), b0, x1);
    x2 = vmadd(v128.load32_splat(ap, 8), b0, x2);
    x3 = vmadd(v128.load32_splat(ap, 12), b0, x3);
    ap += 16; b += ldb;
  }
  v128.store(c3, x3); v128.store(c2, x2); v128.store(c1, x1); v128.store(c0, x0);
}

/**
 * Packs rows m0..m0+3 (rows past M repeat row M-1), k = k0..k0+kc-1 of A into dst as (kc, 4):
 * dst[k·4 + r] = A(m0 + r, k0 + k). Fast paths for row-major A (4×4 register transposes) and
 * for A stored transposed (one 16-byte copy per k).
 */
// @ts-ignore: decorator
@inline function pack_a(dst: usize, a: usize, sam: usize, sak: usize, m0: i32, M: i32, k0: i32, kc: i32): void {
  const r0 = a + <usize>m0 * sam + <usize>k0 * sak;
  const r1 = a + <usize>min(m0 + 1, M - 1) * sam + <usize>k0 * sak;
  const r2 = a + <usize>min(m0 + 2, M - 1) * sam + <usize>k0 * sak;
  const r3 = a + <usize>min(m0 + 3, M - 1) * sam + <usize>k0 * sak;
  let k = 0;
  if (sam == 4 && m0 + 4 <= M) {
    // A stored (K, M): the four values for one k are contiguous
    for (; k < kc; k++) v128.store(dst + (<usize>k << 4), v128.load(r0 + <usize>k * sak));
    return;
  }
  if (sak == 4) {
    for (; k + 4 <= kc; k += 4) {
      const o: usize = <usize>k << 2;
      const x0 = v128.load(r0 + o), x1 = v128.load(r1 + o), x2 = v128.load(r2 + o), x3 = v128.load(r3 + o);
      const t0 = v128.shuffle<i32>(x0, x1, 0, 4, 1, 5), t1 = v128.shuffle<i32>(x0, x1, 2, 6, 3, 7);
      const t2 = v128.shuffle<i32>(x2, x3, 0, 4, 1, 5), t3 = v128.shuffle<i32>(x2, x3, 2, 6, 3, 7);
      const d = dst + (<usize>k << 4);
      v128.store(d, v128.shuffle<i64>(t0, t2, 0, 2));
      v128.store(d, v128.shuffle<i64>(t0, t2, 1, 3), 16);
      v128.store(d, v128.shuffle<i64>(t1, t3, 0, 2), 32);
      v128.store(d, v128.shuffle<i64>(t1, t3, 1, 3), 48);
    }
  }
  // leftovers
  for (; k < kc; k++) {
    const o: usize = <usize>k * sak, d = dst + (<usize>k << 4);
    store<f32>(d, load<f32>(r0 + o)); store<f32>(d, load<f32>(r1 + o), 4);
    store<f32>(d, load<f32>(r2 + o), 8); store<f32>(d, load<f32>(r3 + o), 12);
  }
}

/** Scratch floats gemm_strided needs for packing A: ⌈M/4⌉·4·min(K, KC). */
export function gemm_pack_a_floats(M: i32, K: i32): i32 {
  return ((M + MR - 1) / MR) * MR * min(K, KC);
}

/**
 * C (M,N) = [C if accumulate] + A·B [+ bias], A element (m,k) at a + m·sam + k·sak (bytes),
 * C row-major with row stride ldc bytes. B is either row-major (K,N) with row stride ldb bytes, or
 * — with `panels` — in the column-panel layout of pack_b_panels (ldb unused).
 * pack: scratch of gemm_pack_a_floats(M, K) floats, 16-byte aligned.
 */
export function gemm_strided(c: usize, ldc: usize, a: usize, sam: usize, sak: usize, b: usize, ldb: usize, panels: bool,
                      bias: usize, pack: usize, M: i32, N: i32, K: i32, accumulate: bool): void {
  if (K <= 0) {
    // C = [C] + bias: no products to add
    for (let m = 0; m < M; m++) {
      const cr = c + <usize>m * ldc;
      for (let n = 0; n < N; n++) {
        let v: f32 = accumulate ? load<f32>(cr + idx4(n)) : 0;
        if (bias) v += load<f32>(bias + idx4(n));
        store<f32>(cr + idx4(n), v);
      }
    }
    return;
  }
  if (!ASC_FEATURE_SIMD) {
    gemm_scalar(c, ldc, a, sam, sak, b, ldb, bias, M, N, K, accumulate);
    return;
  }
  // K blocks of (nearly) equal size, none longer than KC: no short, inefficient last block
  const nkb = (K + KC - 1) / KC;
  const kcb = (K + nkb - 1) / nkb;
  for (let k0 = 0; k0 < K; k0 += kcb) {
    const kc = min(kcb, K - k0);
    const first = k0 == 0;
    const ldc0 = !first || accumulate;
    const bk: usize = b + <usize>k0 * ldb;
    const panel: usize = <usize>kc << 4; // bytes of one packed 4-row panel
    for (let m = 0; m < M; m += MR) pack_a(pack + <usize>(m / MR) * panel, a, sam, sak, m, M, k0, kc);
    let n = 0;
    for (; n + 8 <= N; n += 8) {
      const bn = panels ? b + idx4(n * K + k0 * 8) : bk + idx4(n);
      const ldbn: usize = panels ? 32 : ldb;
      const bias_n: usize = first && bias ? bias + idx4(n) : 0;
      let ap = pack;
      for (let m = 0; m < M; m += MR) {
        // rows past M alias the last valid row
        const cn = c + idx4(n);
        tile_4x8(cn + <usize>m * ldc, cn + <usize>min(m + 1, M - 1) * ldc,
                 cn + <usize>min(m + 2, M - 1) * ldc, cn + <usize>min(m + 3, M - 1) * ldc,
                 ap, bn, ldbn, kc, ldc0, bias_n);
        ap += panel;
      }
    }
    if (n + 4 <= N) {
      const bn = panels ? b + idx4(n * K + k0 * 4) : bk + idx4(n);
      const ldbn: usize = panels ? 16 : ldb;
      const bias_n: usize = first && bias ? bias + idx4(n) : 0;
      let ap = pack;
      for (let m = 0; m < M; m += MR) {
        const cn = c + idx4(n);
        tile_4x4(cn + <usize>m * ldc, cn + <usize>min(m + 1, M - 1) * ldc,
                 cn + <usize>min(m + 2, M - 1) * ldc, cn + <usize>min(m + 3, M - 1) * ldc,
                 ap, bn, ldbn, kc, ldc0, bias_n);
        ap += panel;
      }
      n += 4;
    }
    // leftovers: N % 4 columns, one at a time, four rows of C per vector (a packed A panel times a
    // splat of B); per element the same order of operations as the tiles
    for (; n < N; n++) {
      const bn = panels ? b + idx4(n * K + k0) : bk + idx4(n);
      const ldbn: usize = panels ? 4 : ldb;
      let ap = pack;
      for (let m = 0; m < M; m += MR) {
        const cn = c + idx4(n);
        const c0 = cn + <usize>m * ldc, c1 = cn + <usize>min(m + 1, M - 1) * ldc;
        const c2 = cn + <usize>min(m + 2, M - 1) * ldc, c3 = cn + <usize>min(m + 3, M - 1) * ldc;
        let x = f32x4.splat(0);
        if (ldc0) {
          x = f32x4.replace_lane(x, 0, load<f32>(c0)); x = f32x4.replace_lane(x, 1, load<f32>(c1));
          x = f32x4.replace_lane(x, 2, load<f32>(c2)); x = f32x4.replace_lane(x, 3, load<f32>(c3));
        }
        if (first && bias) x = f32x4.add(x, f32x4.splat(load<f32>(bias + idx4(n))));
        let bp = bn;
        const aend = ap + panel;
        while (ap < aend) { x = vmadd(v128.load(ap), f32x4.splat(load<f32>(bp)), x); ap += 16; bp += ldbn; }
        // aliased (duplicate) rows hold identical values, so the store order does not matter
        store<f32>(c3, f32x4.extract_lane(x, 3)); store<f32>(c2, f32x4.extract_lane(x, 2));
        store<f32>(c1, f32x4.extract_lane(x, 1)); store<f32>(c0, f32x4.extract_lane(x, 0));
      }
    }
  }
}

/** Scalar build: i-k-j loop order so the inner loop streams rows of B and C. */
function gemm_scalar(c: usize, ldc: usize, a: usize, sam: usize, sak: usize, b: usize, ldb: usize,
                     bias: usize, M: i32, N: i32, K: i32, accumulate: bool): void {
  for (let m = 0; m < M; m++) {
    const cr = c + <usize>m * ldc;
    for (let n = 0; n < N; n++) {
      let v: f32 = accumulate ? load<f32>(cr + idx4(n)) : 0;
      if (bias) v += load<f32>(bias + idx4(n));
      store<f32>(cr + idx4(n), v);
    }
    for (let k = 0; k < K; k++) {
      const av = load<f32>(a + <usize>m * sam + <usize>k * sak);
      const br = b + <usize>k * ldb;
      for (let n = 0; n < N; n++) {
        store<f32>(cr + idx4(n), load<f32>(cr + idx4(n)) + av * load<f32>(br + idx4(n)));
      }
    }
  }
}

/** dst (C,R) = src (R,C)ᵀ. 4×4 blocks transposed in registers; scalar leftovers. */
export function f32_transpose(dst: usize, src: usize, R: i32, C: i32): void {
  let r = 0;
  if (ASC_FEATURE_SIMD) {
    const lds: usize = idx4(C), ldd: usize = idx4(R);
    for (; r + 4 <= R; r += 4) {
      let cc = 0;
      for (; cc + 4 <= C; cc += 4) {
        const s = src + <usize>r * lds + idx4(cc);
        const r0 = v128.load(s), r1 = v128.load(s + lds), r2 = v128.load(s + 2 * lds), r3 = v128.load(s + 3 * lds);
        const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
        const t2 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
        const d = dst + <usize>cc * ldd + idx4(r);
        v128.store(d, v128.shuffle<i64>(t0, t2, 0, 2));
        v128.store(d + ldd, v128.shuffle<i64>(t0, t2, 1, 3));
        v128.store(d + 2 * ldd, v128.shuffle<i64>(t1, t3, 0, 2));
        v128.store(d + 3 * ldd, v128.shuffle<i64>(t1, t3, 1, 3));
      }
      for (; cc < C; cc++) {
        for (let i = r; i < r + 4; i++) {
          store<f32>(dst + (<usize>cc * R + i) * 4, load<f32>(src + (<usize>i * C + cc) * 4));
        }
      }
    }
  }
  // leftovers: remaining rows
  for (; r < R; r++) {
    for (let cc = 0; cc < C; cc++) {
      store<f32>(dst + (<usize>cc * R + r) * 4, load<f32>(src + (<usize>r * C + cc) * 4));
    }
  }
}

/**
 * Packs W (N,K) — the forward layer's (out, in) weight — as Wᵀ in column panels: columns are
 * grouped 8, then 4, then 1 wide, and a panel of width w starting at column n0 holds, from float
 * n0·K on, K rows of w floats: dst[n0·K + k·w + c] = W[(n0 + c)·K + k]. The 4×8 tile then streams
 * its B panel contiguously (32 bytes per k) instead of one half cache line per row of Wᵀ.
 */
export function pack_b_panels(dst: usize, w: usize, N: i32, K: i32): void {
  const ldw: usize = idx4(K);
  let n = 0;
  for (; n + 8 <= N; n += 8) {
    const d = dst + idx4(n * K), r = w + <usize>n * ldw;
    let k = 0;
    for (; k + 4 <= K; k += 4) {
      const o = idx4(k), dk = d + idx4(k * 8);
      transpose4_store(dk, 32, r + o, ldw);
      transpose4_store(dk + 16, 32, r + 4 * ldw + o, ldw);
    }
    for (; k < K; k++) for (let c = 0; c < 8; c++) store<f32>(d + idx4(k * 8 + c), load<f32>(r + <usize>c * ldw + idx4(k)));
  }
  if (n + 4 <= N) {
    const d = dst + idx4(n * K), r = w + <usize>n * ldw;
    let k = 0;
    for (; k + 4 <= K; k += 4) transpose4_store(d + idx4(k * 4), 16, r + idx4(k), ldw);
    for (; k < K; k++) for (let c = 0; c < 4; c++) store<f32>(d + idx4(k * 4 + c), load<f32>(r + <usize>c * ldw + idx4(k)));
    n += 4;
  }
  // leftovers: 1-wide panels are the rows of W themselves
  for (; n < N; n++) memory.copy(dst + idx4(n * K), w + <usize>n * ldw, ldw);
}

/** Reads a 4×4 block (rows src, src + lds, …), stores its transpose as 4 vectors dst, dst + ldd, …. */
// @ts-ignore: decorator
@inline function transpose4_store(dst: usize, ldd: usize, src: usize, lds: usize): void {
  const r0 = v128.load(src), r1 = v128.load(src + lds), r2 = v128.load(src + 2 * lds), r3 = v128.load(src + 3 * lds);
  const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<i64>(t0, t2, 0, 2));
  v128.store(dst + ldd, v128.shuffle<i64>(t0, t2, 1, 3));
  v128.store(dst + 2 * ldd, v128.shuffle<i64>(t1, t3, 0, 2));
  v128.store(dst + 3 * ldd, v128.shuffle<i64>(t1, t3, 1, 3));
}

// ---- threads ----
// Every threaded kernel takes (ith, nth) last: thread ith of nth computes its own share of the
// outputs and nothing else, so no two threads write the same float and the reduction order of
// every output (the k loop of a dot product) is the single-thread one: the same bits for any nth.
// A GEMM is split by output tiles, never along K: by 8-column groups of C when there are at least
// two per thread, else by 4-row groups. Shares are contiguous; a thread may get none.


/** Split C by columns (8-column groups) rather than rows when there are at least two groups per thread. */
// @ts-ignore: decorator
@inline function split_columns(N: i32, nth: i32): bool { return N >= 16 * nth; }

/** Scratch floats f32_gemm_nt needs with nth threads: packed B (K·N) then one packed-A area per thread. */
export function gemm_nt_scratch_floats(M: i32, N: i32, K: i32, nth: i32): i32 {
  return ((K * N + 3) & ~3) + nth * gemm_pack_a_floats(M, K);
}


/**
 * C (M,N) = A (M,K) · B (N,K)ᵀ [+ bias (N)] [+ C], thread ith of nth (by columns, the threads
 * pack disjoint panels of B). pack: gemm_nt_scratch_floats(M, N, K, nth) floats.
 */
export function f32_gemm_nt_mt(c: usize, a: usize, b: usize, bias: usize, pack: usize,
                               M: i32, N: i32, K: i32, accumulate: bool, ith: i32, nth: i32): void {
  const n0 = share_lo(N, 8, ith, nth), n1 = share_hi(N, 8, ith, nth);
  if (n0 >= n1) return;
  const Nt = n1 - n0, ldw: usize = idx4(K);
  const bt = pack + idx4(n0 * K); // this share's part of packed B: columns n0… start at float n0·K
  const apack = pack + idx4((K * N + 3) & ~3) + idx4(ith * gemm_pack_a_floats(M, K));
  const bias_t: usize = bias ? bias + idx4(n0) : 0;
  if (ASC_FEATURE_SIMD) {
    pack_b_panels(bt, b + <usize>n0 * ldw, Nt, K);
    gemm_strided(c + idx4(n0), idx4(N), a, idx4(K), 4, bt, 0, true, bias_t, apack, M, Nt, K, accumulate);
  } else {
    f32_transpose(bt, b + <usize>n0 * ldw, Nt, K);
    gemm_strided(c + idx4(n0), idx4(N), a, idx4(K), 4, bt, idx4(Nt), false, bias_t, apack, M, Nt, K, accumulate);
  }
}

/**
 * C (M,N) (+)= A·B with A element (m,k) at a + m·sam + k·sak, B row-major (K,N): thread ith of nth.
 * apack: this thread's own gemm_pack_a_floats(M, K) floats (the caller places the threads' areas).
 */
// @ts-ignore: decorator
@inline function gemm_rm_mt(c: usize, a: usize, sam: usize, sak: usize, b: usize, bias: usize, apack: usize,
                            M: i32, N: i32, K: i32, accumulate: bool, ith: i32, nth: i32): void {
  const ldc: usize = idx4(N);
  if (split_columns(N, nth)) {
    const n0 = share_lo(N, 8, ith, nth), n1 = share_hi(N, 8, ith, nth);
    if (n0 >= n1) return;
    gemm_strided(c + idx4(n0), ldc, a, sam, sak, b + idx4(n0), ldc, false, bias ? bias + idx4(n0) : 0, apack, M, n1 - n0, K, accumulate);
  } else {
    const m0 = share_lo(M, MR, ith, nth), m1 = share_hi(M, MR, ith, nth);
    if (m0 >= m1) return;
    gemm_strided(c + <usize>m0 * ldc, ldc, a + <usize>m0 * sam, sam, sak, b, ldc, false, bias, apack, m1 - m0, N, K, accumulate);
  }
}

/** C (M,N) = A (M,K) · B (K,N) [+ bias (N)] [+ C], thread ith of nth. apack: this thread's gemm_pack_a_floats(M, K) floats. */
export function f32_gemm_nn_mt(c: usize, a: usize, b: usize, bias: usize, apack: usize,
                               M: i32, N: i32, K: i32, accumulate: bool, ith: i32, nth: i32): void {
  gemm_rm_mt(c, a, idx4(K), 4, b, bias, apack, M, N, K, accumulate, ith, nth);
}

/** C (M,N) = A (K,M)ᵀ · B (K,N) [+ C], thread ith of nth. apack: this thread's gemm_pack_a_floats(M, K) floats. */
export function f32_gemm_tn_mt(c: usize, a: usize, b: usize, apack: usize,
                               M: i32, N: i32, K: i32, accumulate: bool, ith: i32, nth: i32): void {
  gemm_rm_mt(c, a, 4, idx4(M), b, 0, apack, M, N, K, accumulate, ith, nth);
}

/** C (M,N) = A (M,K) · B (N,K)ᵀ [+ bias (N)] [+ C], one thread. pack: gemm_nt_scratch_floats(M, N, K, 1) floats. */
export function f32_gemm_nt(c: usize, a: usize, b: usize, bias: usize, pack: usize,
                            M: i32, N: i32, K: i32, accumulate: bool): void {
  f32_gemm_nt_mt(c, a, b, bias, pack, M, N, K, accumulate, 0, 1);
}

/** C (M,N) = A (M,K) · B (K,N) [+ bias (N)] [+ C], one thread. pack: gemm_pack_a_floats(M,K) floats. */
export function f32_gemm_nn(c: usize, a: usize, b: usize, bias: usize, pack: usize,
                            M: i32, N: i32, K: i32, accumulate: bool): void {
  f32_gemm_nn_mt(c, a, b, bias, pack, M, N, K, accumulate, 0, 1);
}

/** C (M,N) = A (K,M)ᵀ · B (K,N) [+ C], one thread. pack: gemm_pack_a_floats(M,K) floats. */
export function f32_gemm_tn(c: usize, a: usize, b: usize, pack: usize,
                            M: i32, N: i32, K: i32, accumulate: bool): void {
  f32_gemm_tn_mt(c, a, b, pack, M, N, K, accumulate, 0, 1);
}

/** out (N) (+)= Σ_m inp (M,N) row m — the bias gradient, one thread. */
export function f32_colsum(out: usize, inp: usize, M: i32, N: i32, accumulate: bool): void {
  f32_colsum_mt(out, inp, M, N, accumulate, 0, 1);
}

/** f32_colsum, thread ith of nth: columns in 16-column groups. */
export function f32_colsum_mt(out: usize, inp: usize, M: i32, N: i32, accumulate: bool, ith: i32, nth: i32): void {
  const n0 = share_lo(N, 16, ith, nth), n1 = share_hi(N, 16, ith, nth);
  if (n0 < n1) colsum_range(out + idx4(n0), inp + idx4(n0), idx4(N), M, n1 - n0, accumulate);
}

/** out (N) (+)= Σ_m of rows (stride ld bytes) of N columns. */
function colsum_range(out: usize, inp: usize, ld: usize, M: i32, N: i32, accumulate: bool): void {
  let n = 0;
  if (ASC_FEATURE_SIMD) {
    for (; n + 16 <= N; n += 16) {
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      let p = inp + idx4(n);
      for (let m = 0; m < M; m++) {
        s0 = f32x4.add(s0, v128.load(p)); s1 = f32x4.add(s1, v128.load(p, 16));
        s2 = f32x4.add(s2, v128.load(p, 32)); s3 = f32x4.add(s3, v128.load(p, 48));
        p += ld;
      }
      const o = out + idx4(n);
      if (accumulate) {
        s0 = f32x4.add(s0, v128.load(o)); s1 = f32x4.add(s1, v128.load(o, 16));
        s2 = f32x4.add(s2, v128.load(o, 32)); s3 = f32x4.add(s3, v128.load(o, 48));
      }
      v128.store(o, s0); v128.store(o, s1, 16); v128.store(o, s2, 32); v128.store(o, s3, 48);
    }
    for (; n + 4 <= N; n += 4) {
      let s0 = f32x4.splat(0);
      let p = inp + idx4(n);
      for (let m = 0; m < M; m++) { s0 = f32x4.add(s0, v128.load(p)); p += ld; }
      const o = out + idx4(n);
      if (accumulate) s0 = f32x4.add(s0, v128.load(o));
      v128.store(o, s0);
    }
  }
  // leftovers
  for (; n < N; n++) {
    let s: f32 = 0;
    let p = inp + idx4(n);
    for (let m = 0; m < M; m++) { s += load<f32>(p); p += ld; }
    const o = out + idx4(n);
    store<f32>(o, accumulate ? load<f32>(o) + s : s);
  }
}
