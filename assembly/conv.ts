// Convolutions, NCHW, f32, no allocation: Conv2d and ConvTranspose2d with PyTorch's weight layouts
// ((OC, C, KH, KW) and (C, OC, KH, KW)), stride and zero padding shared by both axes, any kernel
// size. Output sizes come from the caller (src/config.ts computes them once, output padding of the
// transposed convolution included); the kernels only walk the geometry they are given.
//
// Every convolution here is a GEMM over im2col (gemm.ts's tiles), seen from one geometry: a "big"
// image (Cb, Hb, Wb) and a "small" spatial grid (Hs, Ws) of P = Hs·Ws positions, each the
// kernel's window at (hs·stride − pad, ws·stride − pad) of the big image. im2col(big) is the
// (Cb·KH·KW, P) matrix of those windows; col2im adds such a matrix back into an image. With W
// viewed as (Ma, Cb·KH·KW):
//   small_from_big:  s (Ma, P)       (+)= W · im2col(b)          conv2d forward, convT dgrad
//   big_from_small:  b (Cb, Hb, Wb)  (+)= col2im(Wᵀ · s)          convT forward, conv2d dgrad
//   weight_grad:     dW (Ma, CKK)    (+)= Σ_n s_n · im2col(b_n)ᵀ  both weight gradients
// For Conv2d the big image is the input (Ma = OC); for ConvTranspose2d it is the output (Ma = C).
//
// Threads, (ith, nth) last: the per-image products split the batch into contiguous image shares;
// the weight gradient splits dW's columns into 8-column groups (gemm.ts's unit) and sums the
// images in batch order; the bias gradient splits channels. Every output float is computed by one
// thread in the single-thread order: the same bits for any nth. A call needs no barrier inside:
// its three backward products read only what the forward pass wrote.
//
// Scratch: one area per thread (conv2d_scratch_floats, conv_transpose2d_scratch_floats): the
// (CKK, P) column matrix (the weight gradient's transposed column slice), a packed-A area for the
// GEMM, and a second (CKK, P) matrix where the weight gradient forms the slice before transposing it.
import { gemm_strided, gemm_pack_a_floats, f32_transpose } from './gemm';
import { idx4, share_lo, share_hi } from './common';

/**
 * Floats of one thread's scratch area: the column matrix, the GEMM's packed A for the three
 * products, then a second column matrix (the weight gradient transposes its columns through it).
 */
// @ts-ignore: decorator
@inline function area_floats(CKK: i32, P: i32, Ma: i32): i32 {
  return 2 * ((CKK * P + 3) & ~3) + pack_floats(CKK, P, Ma);
}

/** Floats of the packed-A area: the largest A of the three products. */
// @ts-ignore: decorator
@inline function pack_floats(CKK: i32, P: i32, Ma: i32): i32 {
  return max(gemm_pack_a_floats(Ma, CKK), max(gemm_pack_a_floats(Ma, P), gemm_pack_a_floats(CKK, Ma)));
}

/**
 * Rows r0..r1−1 of im2col(img): row r = (c, kh, kw), column p = (hs, ws), value
 * img[c, hs·s − pad + kh, ws·s − pad + kw] or 0 outside. Element (r, p) goes to dst + (r − r0)·sr + p·sp
 * (bytes): sp = 4 writes the matrix, sr = 4 its transpose.
 */
function im2col(dst: usize, img: usize, Hb: i32, Wb: i32, Hs: i32, Ws: i32, KH: i32, KW: i32,
                s: i32, pad: i32, r0: i32, r1: i32, sr: usize, sp: usize): void {
  const KK = KH * KW;
  for (let r = r0; r < r1; r++) {
    const c = r / KK, kh = (r % KK) / KW, kw = r % KW;
    const plane = img + idx4(c * Hb * Wb);
    // the columns ws whose tap lands inside: 0 ≤ ws·s − pad + kw < Wb
    const lo = pad - kw, hi = Wb - 1 + pad - kw;
    const w1 = hi < 0 ? 0 : min(Ws, hi / s + 1);
    const w0 = min(w1, lo <= 0 ? 0 : (lo + s - 1) / s);
    let d = dst + <usize>(r - r0) * sr;
    for (let hs = 0; hs < Hs; hs++) {
      const ih = hs * s - pad + kh;
      if (ih < 0 || ih >= Hb) {
        for (let ws = 0; ws < Ws; ws++) store<f32>(d + <usize>ws * sp, 0);
      } else {
        const row = plane + idx4(ih * Wb - pad + kw);
        let ws = 0;
        for (; ws < w0; ws++) store<f32>(d + <usize>ws * sp, 0);
        if (ASC_FEATURE_SIMD && sp == 4) {
          // four columns at a time; every float loaded lies inside this image row
          if (s == 1)
            for (; ws + 4 <= w1; ws += 4) v128.store(d + idx4(ws), v128.load(row + idx4(ws)));
          else if (s == 2)
            for (; ws + 4 <= w1 && ws * 2 - pad + kw + 8 <= Wb; ws += 4) {
              const p = row + idx4(ws * 2);
              v128.store(d + idx4(ws), v128.shuffle<f32>(v128.load(p), v128.load(p, 16), 0, 2, 4, 6));
            }
        }
        for (; ws < w1; ws++) store<f32>(d + <usize>ws * sp, load<f32>(row + idx4(ws * s)));
        for (; ws < Ws; ws++) store<f32>(d + <usize>ws * sp, 0);
      }
      d += <usize>Ws * sp;
    }
  }
}

/** img (Cb, Hb, Wb) += col2im(col (Cb·KH·KW, P)): each window value added back where im2col took it. */
function col2im_add(img: usize, col: usize, Cb: i32, Hb: i32, Wb: i32, Hs: i32, Ws: i32, KH: i32, KW: i32,
                    s: i32, pad: i32): void {
  const KK = KH * KW, R = Cb * KK;
  let src = col;
  for (let r = 0; r < R; r++) {
    const c = r / KK, kh = (r % KK) / KW, kw = r % KW;
    const plane = img + idx4(c * Hb * Wb);
    const lo = pad - kw, hi = Wb - 1 + pad - kw;
    const w1 = hi < 0 ? 0 : min(Ws, hi / s + 1);
    const w0 = min(w1, lo <= 0 ? 0 : (lo + s - 1) / s);
    for (let hs = 0; hs < Hs; hs++) {
      const ih = hs * s - pad + kh;
      if (ih >= 0 && ih < Hb) {
        const row = plane + idx4(ih * Wb - pad + kw);
        let ws = w0;
        if (ASC_FEATURE_SIMD) {
          // four columns at a time (the same one addition per element as the scalar loop)
          if (s == 1)
            for (; ws + 4 <= w1; ws += 4) {
              const p = row + idx4(ws);
              v128.store(p, f32x4.add(v128.load(p), v128.load(src + idx4(ws))));
            }
          else if (s == 2)
            for (; ws + 4 <= w1 && ws * 2 - pad + kw + 8 <= Wb; ws += 4) {
              // the even floats of 8 get the four column values; the odd ones are kept as they are
              const p = row + idx4(ws * 2), v = v128.load(src + idx4(ws));
              const a0 = v128.load(p), a1 = v128.load(p, 16);
              const s0 = f32x4.add(a0, v128.shuffle<f32>(v, v, 0, 0, 1, 1));
              const s1 = f32x4.add(a1, v128.shuffle<f32>(v, v, 2, 2, 3, 3));
              v128.store(p, v128.shuffle<f32>(s0, a0, 0, 5, 2, 7));
              v128.store(p, v128.shuffle<f32>(s1, a1, 0, 5, 2, 7), 16);
            }
        }
        for (; ws < w1; ws++) {
          const p = row + idx4(ws * s);
          store<f32>(p, load<f32>(p) + load<f32>(src + idx4(ws)));
        }
      }
      src += idx4(Ws);
    }
  }
}

/** A 1×1, stride-1, unpadded kernel over same-size grids: im2col is the image itself. */
// @ts-ignore: decorator
@inline function pointwise(Hb: i32, Wb: i32, Hs: i32, Ws: i32, KH: i32, KW: i32, s: i32, pad: i32): bool {
  return KH == 1 && KW == 1 && s == 1 && pad == 0 && Hb == Hs && Wb == Ws;
}

/** out (Ma, P) (+)= W (Ma, Cb·KH·KW) · im2col(img (Cb, Hb, Wb)); col, pack: one thread's area. */
function small_from_big(out: usize, W: usize, img: usize, col: usize, pack: usize, Cb: i32, Hb: i32, Wb: i32,
                        Ma: i32, Hs: i32, Ws: i32, KH: i32, KW: i32, s: i32, pad: i32, accumulate: bool): void {
  const CKK = Cb * KH * KW, P = Hs * Ws;
  let b = col;
  if (pointwise(Hb, Wb, Hs, Ws, KH, KW, s, pad)) b = img;
  else im2col(col, img, Hb, Wb, Hs, Ws, KH, KW, s, pad, 0, CKK, idx4(P), 4);
  gemm_strided(out, idx4(P), W, idx4(CKK), 4, b, idx4(P), false, 0, pack, Ma, P, CKK, accumulate);
}

/** img (Cb, Hb, Wb) (+)= col2im(W (Ma, Cb·KH·KW)ᵀ · x (Ma, P)); col, pack: one thread's area. */
function big_from_small(img: usize, W: usize, x: usize, col: usize, pack: usize, Cb: i32, Hb: i32, Wb: i32,
                        Ma: i32, Hs: i32, Ws: i32, KH: i32, KW: i32, s: i32, pad: i32, accumulate: bool): void {
  const CKK = Cb * KH * KW, P = Hs * Ws;
  if (pointwise(Hb, Wb, Hs, Ws, KH, KW, s, pad)) {
    gemm_strided(img, idx4(P), W, 4, idx4(CKK), x, idx4(P), false, 0, pack, CKK, P, Ma, accumulate);
    return;
  }
  if (!accumulate) memory.fill(img, 0, <usize>idx4(Cb * Hb * Wb));
  gemm_strided(col, idx4(P), W, 4, idx4(CKK), x, idx4(P), false, 0, pack, CKK, P, Ma, false);
  col2im_add(img, col, Cb, Hb, Wb, Hs, Ws, KH, KW, s, pad);
}

/**
 * dW (Ma, Cb·KH·KW) (+)= Σ_n sm_n (Ma, P) · im2col(bg_n (Cb, Hb, Wb))ᵀ over the N images, thread
 * ith of nth: its 8-column groups of dW, images summed in batch order.
 */
function weight_grad(dW: usize, sm: usize, bg: usize, scratch: usize, N: i32, Cb: i32, Hb: i32, Wb: i32,
                     Ma: i32, Hs: i32, Ws: i32, KH: i32, KW: i32, s: i32, pad: i32, accumulate: bool,
                     ith: i32, nth: i32): void {
  const CKK = Cb * KH * KW, P = Hs * Ws;
  const n0 = share_lo(CKK, 8, ith, nth), n1 = share_hi(CKK, 8, ith, nth);
  if (n0 >= n1) return;
  const nc = n1 - n0;
  const area = scratch + idx4(ith * area_floats(CKK, P, Ma));
  const colT = area, pack = area + idx4((CKK * P + 3) & ~3);
  const col = pack + idx4(pack_floats(CKK, P, Ma));
  for (let n = 0; n < N; n++) {
    // this share's rows of im2col(bg_n) (nc, P), transposed to (P, nc): two passes in registers
    // are faster than one writing P scattered columns
    im2col(col, bg + idx4(n * Cb * Hb * Wb), Hb, Wb, Hs, Ws, KH, KW, s, pad, n0, n1, idx4(P), 4);
    f32_transpose(colT, col, nc, P);
    gemm_strided(dW + idx4(n0), idx4(CKK), sm + idx4(n * Ma * P), idx4(P), 4, colT, idx4(nc), false, 0, pack,
                 Ma, nc, P, accumulate || n > 0);
  }
}

/** dbias (OC) (+)= Σ_n Σ_p dout (N, OC, P), thread ith of nth: its channels, images in batch order. */
function bias_grad(dbias: usize, dout: usize, N: i32, OC: i32, P: i32, accumulate: bool, ith: i32, nth: i32): void {
  const c0 = share_lo(OC, 1, ith, nth), c1 = share_hi(OC, 1, ith, nth);
  for (let c = c0; c < c1; c++) {
    let acc: f32 = 0;
    for (let n = 0; n < N; n++) {
      const row = dout + idx4((n * OC + c) * P);
      let t: f32 = 0;
      for (let p = 0; p < P; p++) t += load<f32>(row + idx4(p));
      acc += t;
    }
    const o = dbias + idx4(c);
    store<f32>(o, accumulate ? load<f32>(o) + acc : acc);
  }
}

/** out (OC, P) = bias[oc] on every position of channel oc, or 0 without a bias. */
// @ts-ignore: decorator
@inline function fill_channels(out: usize, bias: usize, OC: i32, P: i32): void {
  for (let c = 0; c < OC; c++) {
    const v: f32 = bias ? load<f32>(bias + idx4(c)) : 0;
    const row = out + idx4(c * P);
    for (let p = 0; p < P; p++) store<f32>(row + idx4(p), v);
  }
}

// ---- Conv2d: inp (B, C, H, W) → out (B, OC, OH, OW), weight (OC, C, KH, KW), bias (OC) ----

/** Scratch floats conv2d_forward / conv2d_backward need with nth threads (independent of the batch). */
export function conv2d_scratch_floats(C: i32, OC: i32, OH: i32, OW: i32, KH: i32, KW: i32, nth: i32): i32 {
  return nth * area_floats(C * KH * KW, OH * OW, OC);
}

/**
 * out (B, OC, OH, OW) = conv2d(inp (B, C, H, W), weight (OC, C, KH, KW)) + bias (OC), stride s,
 * zero padding pad, as torch.nn.functional.conv2d. bias may be 0.
 * reference: https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html
 */
export function conv2d_forward(out: usize, inp: usize, weight: usize, bias: usize, scratch: usize,
                               B: i32, C: i32, H: i32, W: i32, OC: i32, OH: i32, OW: i32,
                               KH: i32, KW: i32, s: i32, pad: i32, ith: i32, nth: i32): void {
  const b0 = share_lo(B, 1, ith, nth), b1 = share_hi(B, 1, ith, nth);
  const CKK = C * KH * KW, P = OH * OW;
  const area = scratch + idx4(ith * area_floats(CKK, P, OC));
  const pack = area + idx4((CKK * P + 3) & ~3);
  for (let b = b0; b < b1; b++) {
    const o = out + idx4(b * OC * P);
    if (bias) fill_channels(o, bias, OC, P);
    small_from_big(o, weight, inp + idx4(b * C * H * W), area, pack, C, H, W, OC, OH, OW, KH, KW, s, pad, bias != 0);
  }
}

/**
 * dweight (OC, C, KH, KW) (+)= Σ_b dout_b · im2col(inp_b)ᵀ;  dbias (OC) (+)= Σ dout (if dbias ≠ 0);
 * dinp (B, C, H, W) (+)= col2im(weightᵀ · dout_b) (skipped when dinp = 0). Write or accumulate by
 * flag, as linear_backward.
 */
export function conv2d_backward(dinp: usize, dweight: usize, dbias: usize, dout: usize, inp: usize, weight: usize,
                                scratch: usize, B: i32, C: i32, H: i32, W: i32, OC: i32, OH: i32, OW: i32,
                                KH: i32, KW: i32, s: i32, pad: i32, accumulate_dinp: bool, accumulate_params: bool,
                                ith: i32, nth: i32): void {
  const CKK = C * KH * KW, P = OH * OW;
  weight_grad(dweight, dout, inp, scratch, B, C, H, W, OC, OH, OW, KH, KW, s, pad, accumulate_params, ith, nth);
  if (dbias) bias_grad(dbias, dout, B, OC, P, accumulate_params, ith, nth);
  if (!dinp) return;
  const b0 = share_lo(B, 1, ith, nth), b1 = share_hi(B, 1, ith, nth);
  const area = scratch + idx4(ith * area_floats(CKK, P, OC));
  const pack = area + idx4((CKK * P + 3) & ~3);
  for (let b = b0; b < b1; b++)
    big_from_small(dinp + idx4(b * C * H * W), weight, dout + idx4(b * OC * P), area, pack,
                   C, H, W, OC, OH, OW, KH, KW, s, pad, accumulate_dinp);
}

// ---- ConvTranspose2d: inp (B, C, H, W) → out (B, OC, OH, OW), weight (C, OC, KH, KW), bias (OC) ----
// OH = (H − 1)·s − 2·pad + KH + output_padding (the caller's): the gradient of a Conv2d from
// (OC, OH, OW) to (C, H, W), taps past the output's edge dropped.

/** Scratch floats conv_transpose2d_forward / _backward need with nth threads (independent of the batch). */
export function conv_transpose2d_scratch_floats(C: i32, OC: i32, H: i32, W: i32, KH: i32, KW: i32, nth: i32): i32 {
  return nth * area_floats(OC * KH * KW, H * W, C);
}

/**
 * out (B, OC, OH, OW) = conv_transpose2d(inp (B, C, H, W), weight (C, OC, KH, KW)) + bias (OC),
 * as torch.nn.functional.conv_transpose2d. bias may be 0.
 * reference: https://pytorch.org/docs/stable/generated/torch.nn.ConvTranspose2d.html
 */
export function conv_transpose2d_forward(out: usize, inp: usize, weight: usize, bias: usize, scratch: usize,
                                         B: i32, C: i32, H: i32, W: i32, OC: i32, OH: i32, OW: i32,
                                         KH: i32, KW: i32, s: i32, pad: i32, ith: i32, nth: i32): void {
  const b0 = share_lo(B, 1, ith, nth), b1 = share_hi(B, 1, ith, nth);
  const CKK = OC * KH * KW, P = H * W;
  const area = scratch + idx4(ith * area_floats(CKK, P, C));
  const pack = area + idx4((CKK * P + 3) & ~3);
  for (let b = b0; b < b1; b++) {
    const o = out + idx4(b * OC * OH * OW);
    fill_channels(o, bias, OC, OH * OW);
    big_from_small(o, weight, inp + idx4(b * C * P), area, pack, OC, OH, OW, C, H, W, KH, KW, s, pad, true);
  }
}

/**
 * dweight (C, OC, KH, KW) (+)= Σ_b inp_b · im2col(dout_b)ᵀ;  dbias (OC) (+)= Σ dout (if dbias ≠ 0);
 * dinp (B, C, H, W) (+)= weight · im2col(dout_b) (skipped when dinp = 0). Flags as conv2d_backward.
 */
export function conv_transpose2d_backward(dinp: usize, dweight: usize, dbias: usize, dout: usize, inp: usize,
                                          weight: usize, scratch: usize, B: i32, C: i32, H: i32, W: i32,
                                          OC: i32, OH: i32, OW: i32, KH: i32, KW: i32, s: i32, pad: i32,
                                          accumulate_dinp: bool, accumulate_params: bool, ith: i32, nth: i32): void {
  const CKK = OC * KH * KW, P = H * W;
  weight_grad(dweight, inp, dout, scratch, B, OC, OH, OW, C, H, W, KH, KW, s, pad, accumulate_params, ith, nth);
  if (dbias) bias_grad(dbias, dout, B, OC, OH * OW, accumulate_params, ith, nth);
  if (!dinp) return;
  const b0 = share_lo(B, 1, ith, nth), b1 = share_hi(B, 1, ith, nth);
  const area = scratch + idx4(ith * area_floats(CKK, P, C));
  const pack = area + idx4((CKK * P + 3) & ~3);
  for (let b = b0; b < b1; b++)
    small_from_big(dinp + idx4(b * C * P), weight, dout + idx4(b * OC * OH * OW), area, pack,
                   OC, OH, OW, C, H, W, KH, KW, s, pad, accumulate_dinp);
}
