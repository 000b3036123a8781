// The exported ABI of the wasm kernels, and nothing else. Every pointer is a byte offset into the
// imported memory; the TypeScript arena (src/arena.ts) decides where tensors live.
export { f32_gemm_nt, f32_gemm_nn, f32_gemm_tn, f32_transpose, f32_colsum, gemm_pack_a_floats, gemm_nt_scratch_floats } from './gemm';
export { f32_gemm_nt_ref, f32_gemm_nn_ref, f32_gemm_tn_ref } from './gemm_ref';

/** First byte the arena may use: everything below belongs to the module's static data. */
export function heap_base(): usize { return __heap_base; }
