// Plain scalar GEMM references (the oracle the SIMD tiles are tested against, in every build).
// Same contracts as gemm.ts, f32 accumulation in natural k order, no blocking.
import { idx4 } from './common';

/** C (M,N) = [C] + A (M,K) · B (N,K)ᵀ [+ bias]. */
export function f32_gemm_nt_ref(c: usize, a: usize, b: usize, bias: usize, M: i32, N: i32, K: i32, accumulate: bool): void {
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s: f32 = bias ? load<f32>(bias + idx4(n)) : 0;
    for (let k = 0; k < K; k++) s += load<f32>(a + idx4(m * K + k)) * load<f32>(b + idx4(n * K + k));
    const p = c + idx4(m * N + n);
    store<f32>(p, accumulate ? load<f32>(p) + s : s);
  }
}

/** C (M,N) = [C] + A (M,K) · B (K,N) [+ bias]. */
export function f32_gemm_nn_ref(c: usize, a: usize, b: usize, bias: usize, M: i32, N: i32, K: i32, accumulate: bool): void {
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s: f32 = bias ? load<f32>(bias + idx4(n)) : 0;
    for (let k = 0; k < K; k++) s += load<f32>(a + idx4(m * K + k)) * load<f32>(b + idx4(k * N + n));
    const p = c + idx4(m * N + n);
    store<f32>(p, accumulate ? load<f32>(p) + s : s);
  }
}

/** C (M,N) = [C] + A (K,M)ᵀ · B (K,N). */
export function f32_gemm_tn_ref(c: usize, a: usize, b: usize, M: i32, N: i32, K: i32, accumulate: bool): void {
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s: f32 = 0;
    for (let k = 0; k < K; k++) s += load<f32>(a + idx4(k * M + m)) * load<f32>(b + idx4(k * N + n));
    const p = c + idx4(m * N + n);
    store<f32>(p, accumulate ? load<f32>(p) + s : s);
  }
}
