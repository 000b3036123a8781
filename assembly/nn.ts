// Layer-level functions, llm.c style: outputs first, then inputs, then sizes; weights in PyTorch's
// (out, in) layout. Backward writes or accumulates into dweight and dbias (a flag).
import { f32_gemm_nt, f32_gemm_nn, f32_gemm_tn, f32_colsum, gemm_pack_a_floats, gemm_nt_scratch_floats } from './gemm';

/** Scratch floats the linear layer needs for a batch of B rows, C inputs, OC outputs. */
export function linear_scratch_floats(B: i32, C: i32, OC: i32): i32 {
  return max(gemm_nt_scratch_floats(B, OC, C), max(gemm_pack_a_floats(OC, B), gemm_pack_a_floats(B, OC)));
}

/** out (B,OC) = inp (B,C) · weight (OC,C)ᵀ + bias (OC). bias may be 0. */
export function linear_forward(out: usize, inp: usize, weight: usize, bias: usize, scratch: usize,
                               B: i32, C: i32, OC: i32): void {
  f32_gemm_nt(out, inp, weight, bias, scratch, B, OC, C, false);
}

/**
 * dweight (OC,C) (+)= dout (B,OC)ᵀ · inp (B,C);  dbias (OC) (+)= Σ_b dout (if dbias ≠ 0);
 * dinp (B,C) (+)= dout · weight (skipped when dinp = 0). Each output is written, or accumulated
 * into with its flag: a single backward pass per step writes its parameter gradients, which saves
 * the zeroing pass and the C loads of the weight-gradient GEMM.
 */
export function linear_backward(dinp: usize, dweight: usize, dbias: usize, dout: usize, inp: usize,
                                weight: usize, scratch: usize, B: i32, C: i32, OC: i32,
                                accumulate_dinp: bool, accumulate_params: bool): void {
  f32_gemm_tn(dweight, dout, inp, scratch, OC, C, B, accumulate_params);
  if (dbias) f32_colsum(dbias, dout, B, OC, accumulate_params);
  if (dinp) f32_gemm_nn(dinp, dout, weight, 0, scratch, B, C, OC, accumulate_dinp);
}
