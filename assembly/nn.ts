// Layer-level functions, llm.c style: outputs first, then inputs, then sizes; weights in PyTorch's
// (out, in) layout. Backward writes or accumulates into dweight and dbias (a flag). Every call
// takes (ith, nth) last: thread ith of nth computes its share (see gemm.ts); (0, 1) is one thread.
import { f32_gemm_nt_mt, f32_gemm_nn_mt, f32_gemm_tn_mt, f32_colsum_mt, gemm_nt_scratch_floats, gemm_pack_a_floats } from './gemm';
import { idx4 } from './common';

/**
 * Floats of one thread's packed-A area in the backward pass: the weight-gradient and the
 * input-gradient GEMMs run back to back without a barrier, so a thread uses one area for both and
 * the areas of two threads never overlap, whichever of them is ahead.
 */
// @ts-ignore: decorator
@inline function backward_pack_floats(B: i32, OC: i32): i32 {
  return max(gemm_pack_a_floats(OC, B), gemm_pack_a_floats(B, OC));
}

/** Scratch floats the linear layer needs for a batch of B rows, C inputs, OC outputs, with nth threads. */
export function linear_scratch_floats(B: i32, C: i32, OC: i32, nth: i32): i32 {
  return max(gemm_nt_scratch_floats(B, OC, C, nth), nth * backward_pack_floats(B, OC));
}

/** out (B,OC) = inp (B,C) · weight (OC,C)ᵀ + bias (OC). bias may be 0. */
export function linear_forward(out: usize, inp: usize, weight: usize, bias: usize, scratch: usize,
                               B: i32, C: i32, OC: i32, ith: i32, nth: i32): void {
  f32_gemm_nt_mt(out, inp, weight, bias, scratch, B, OC, C, false, ith, nth);
}

/**
 * dweight (OC,C) (+)= dout (B,OC)ᵀ · inp (B,C);  dbias (OC) (+)= Σ_b dout (if dbias ≠ 0);
 * dinp (B,C) (+)= dout · weight (skipped when dinp = 0). Each output is written, or accumulated
 * into with its flag: a single backward pass per step writes its parameter gradients, which saves
 * the zeroing pass and the C loads of the weight-gradient GEMM. The three products read only
 * what the step's forward wrote, so threads need no barrier between them.
 */
export function linear_backward(dinp: usize, dweight: usize, dbias: usize, dout: usize, inp: usize,
                                weight: usize, scratch: usize, B: i32, C: i32, OC: i32,
                                accumulate_dinp: bool, accumulate_params: bool, ith: i32, nth: i32): void {
  const apack = scratch + idx4(ith * backward_pack_floats(B, OC));
  f32_gemm_tn_mt(dweight, dout, inp, apack, OC, C, B, accumulate_params, ith, nth);
  if (dbias) f32_colsum_mt(dbias, dout, B, OC, accumulate_params, ith, nth);
  if (dinp) f32_gemm_nn_mt(dinp, dout, weight, 0, apack, B, C, OC, accumulate_dinp, ith, nth);
}

/**
 * The conditional model's joined input: out (R, A+C) row r = [a row r (A) | c row ⌊r/L⌋ (C)] —
 * the encoder's [x | y] (L = 1) and the decoder's [z | y] (the L samples of a datapoint share its
 * condition). Copies only: light, so one thread.
 */
export function concat_forward(out: usize, a: usize, c: usize, R: i32, A: i32, C: i32, L: i32): void {
  for (let r = 0; r < R; r++) {
    const o = out + idx4(r * (A + C)), ar = a + idx4(r * A), cr = c + idx4((r / L) * C);
    for (let j = 0; j < A; j++) store<f32>(o + idx4(j), load<f32>(ar + idx4(j)));
    for (let j = 0; j < C; j++) store<f32>(o + idx4(A + j), load<f32>(cr + idx4(j)));
  }
}

/** da (R, A) (+)= the first A columns of dout (R, A+C); the condition's columns need no gradient. */
export function concat_backward(da: usize, dout: usize, R: i32, A: i32, C: i32, accumulate: bool): void {
  for (let r = 0; r < R; r++) {
    const d = da + idx4(r * A), g = dout + idx4(r * (A + C));
    for (let j = 0; j < A; j++) {
      const v = load<f32>(g + idx4(j));
      store<f32>(d + idx4(j), accumulate ? load<f32>(d + idx4(j)) + v : v);
    }
  }
}
