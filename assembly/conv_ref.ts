// Plain scalar convolution references (the oracle conv.ts is tested against, in every build): the
// definitions as direct loops, f32 accumulation, no im2col, no GEMM. Same arguments as conv.ts
// without scratch and threads; backward writes (never accumulates) its three gradients.
import { idx4 } from './common';

/** out (B,OC,OH,OW) = Σ_{c,kh,kw} inp[b, c, oh·s − pad + kh, ow·s − pad + kw] · weight[oc, c, kh, kw] + bias[oc]. */
export function conv2d_forward_ref(out: usize, inp: usize, weight: usize, bias: usize, B: i32, C: i32, H: i32, W: i32,
                                   OC: i32, OH: i32, OW: i32, KH: i32, KW: i32, s: i32, pad: i32): void {
  for (let b = 0; b < B; b++) for (let o = 0; o < OC; o++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    let acc: f32 = bias ? load<f32>(bias + idx4(o)) : 0;
    for (let c = 0; c < C; c++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const ih = oh * s - pad + kh, iw = ow * s - pad + kw;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      acc += load<f32>(inp + idx4(((b * C + c) * H + ih) * W + iw)) * load<f32>(weight + idx4(((o * C + c) * KH + kh) * KW + kw));
    }
    store<f32>(out + idx4(((b * OC + o) * OH + oh) * OW + ow), acc);
  }
}

/** The three gradients of conv2d_forward_ref given dout (B,OC,OH,OW); dinp and dbias may be 0. */
export function conv2d_backward_ref(dinp: usize, dweight: usize, dbias: usize, dout: usize, inp: usize, weight: usize,
                                    B: i32, C: i32, H: i32, W: i32, OC: i32, OH: i32, OW: i32,
                                    KH: i32, KW: i32, s: i32, pad: i32): void {
  if (dinp) memory.fill(dinp, 0, <usize>idx4(B * C * H * W));
  memory.fill(dweight, 0, <usize>idx4(OC * C * KH * KW));
  if (dbias) memory.fill(dbias, 0, <usize>idx4(OC));
  for (let b = 0; b < B; b++) for (let o = 0; o < OC; o++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    const g = load<f32>(dout + idx4(((b * OC + o) * OH + oh) * OW + ow));
    if (dbias) store<f32>(dbias + idx4(o), load<f32>(dbias + idx4(o)) + g);
    for (let c = 0; c < C; c++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const ih = oh * s - pad + kh, iw = ow * s - pad + kw;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      const pi = idx4(((b * C + c) * H + ih) * W + iw), pw = idx4(((o * C + c) * KH + kh) * KW + kw);
      store<f32>(dweight + pw, load<f32>(dweight + pw) + g * load<f32>(inp + pi));
      if (dinp) store<f32>(dinp + pi, load<f32>(dinp + pi) + g * load<f32>(weight + pw));
    }
  }
}

/** out (B,OC,OH,OW) = bias[oc] + Σ inp[b, c, ih, iw] · weight[c, oc, kh, kw] scattered to (ih·s − pad + kh, iw·s − pad + kw). */
export function conv_transpose2d_forward_ref(out: usize, inp: usize, weight: usize, bias: usize, B: i32, C: i32, H: i32,
                                             W: i32, OC: i32, OH: i32, OW: i32, KH: i32, KW: i32, s: i32, pad: i32): void {
  for (let b = 0; b < B; b++) for (let o = 0; o < OC; o++) for (let i = 0; i < OH * OW; i++)
    store<f32>(out + idx4((b * OC + o) * OH * OW + i), bias ? load<f32>(bias + idx4(o)) : 0);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let ih = 0; ih < H; ih++) for (let iw = 0; iw < W; iw++) {
    const x = load<f32>(inp + idx4(((b * C + c) * H + ih) * W + iw));
    for (let o = 0; o < OC; o++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const oh = ih * s - pad + kh, ow = iw * s - pad + kw;
      if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
      const po = out + idx4(((b * OC + o) * OH + oh) * OW + ow);
      store<f32>(po, load<f32>(po) + x * load<f32>(weight + idx4(((c * OC + o) * KH + kh) * KW + kw)));
    }
  }
}

/** The three gradients of conv_transpose2d_forward_ref given dout (B,OC,OH,OW); dinp and dbias may be 0. */
export function conv_transpose2d_backward_ref(dinp: usize, dweight: usize, dbias: usize, dout: usize, inp: usize,
                                              weight: usize, B: i32, C: i32, H: i32, W: i32, OC: i32, OH: i32, OW: i32,
                                              KH: i32, KW: i32, s: i32, pad: i32): void {
  if (dinp) memory.fill(dinp, 0, <usize>idx4(B * C * H * W));
  memory.fill(dweight, 0, <usize>idx4(C * OC * KH * KW));
  if (dbias) {
    for (let o = 0; o < OC; o++) {
      let acc: f32 = 0;
      for (let b = 0; b < B; b++) for (let i = 0; i < OH * OW; i++) acc += load<f32>(dout + idx4((b * OC + o) * OH * OW + i));
      store<f32>(dbias + idx4(o), acc);
    }
  }
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let ih = 0; ih < H; ih++) for (let iw = 0; iw < W; iw++) {
    const pi = idx4(((b * C + c) * H + ih) * W + iw), x = load<f32>(inp + pi);
    let gx: f32 = 0;
    for (let o = 0; o < OC; o++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const oh = ih * s - pad + kh, ow = iw * s - pad + kw;
      if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
      const g = load<f32>(dout + idx4(((b * OC + o) * OH + oh) * OW + ow));
      const pw = idx4(((c * OC + o) * KH + kh) * KW + kw);
      store<f32>(dweight + pw, load<f32>(dweight + pw) + x * g);
      gx += g * load<f32>(weight + pw);
    }
    if (dinp) store<f32>(dinp + pi, gx);
  }
}
