// The exported ABI of the wasm kernels, and nothing else. Every pointer is a byte offset into the
// imported memory; the TypeScript arena (src/arena.ts) decides where tensors live. Enumerations
// (activation and likelihood kinds, log σ² range) are exported as globals so TypeScript reads
// them from here instead of mirroring them.
export { f32_gemm_nt, f32_gemm_nn, f32_gemm_tn, f32_transpose, f32_colsum, gemm_pack_a_floats, gemm_nt_scratch_floats } from './gemm';
export { f32_gemm_nt_ref, f32_gemm_nn_ref, f32_gemm_tn_ref } from './gemm_ref';
export { act_forward, act_backward, vmath_eval,
         ACT_IDENTITY, ACT_RELU, ACT_LEAKY_RELU, ACT_ELU, ACT_TANH, ACT_SIGMOID, ACT_SOFTPLUS } from './act';
export { reparam_forward, reparam_backward, elbo_forward_backward, log_prior_ratio,
         LIK_BERNOULLI, LIK_GAUSSIAN, LIK_GAUSSIAN_LEARNED, LOGVAR_MIN, LOGVAR_MAX } from './elbo';
export { adam_step, adagrad_step, sgd_step, f32_sumsq, f32_find_nonfinite, f32_scale, f32_fill } from './optim';
export { rng_seed, rng_u32, rng_uniform, rng_normal, rng_permutation, rng_binarize } from './rng';
export { linear_forward, linear_backward, linear_scratch_floats } from './nn';

/** First byte the arena may use: everything below belongs to the module's static data. */
export function heap_base(): usize { return __heap_base; }

/** Which instruction set this build was compiled for: 0 scalar, 1 SIMD, 2 relaxed SIMD. */
export function build_kind(): i32 { return ASC_FEATURE_RELAXED_SIMD ? 2 : ASC_FEATURE_SIMD ? 1 : 0; }
