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
