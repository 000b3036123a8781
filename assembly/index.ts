// The exported ABI of the wasm kernels, and nothing else. Every pointer is a byte offset into the
// imported memory; the TypeScript arena (src/arena.ts) decides where tensors live. Enumerations
// (activation and likelihood kinds, build kinds, the log σ² range) are exported constants.
// scripts/gen-abi.mjs reads this file and the files it names to write src/abi.ts, the one
// TypeScript declaration of this ABI (and test/abi.test.ts checks it against the compiled module).
export { f32_gemm_nt, f32_gemm_nn, f32_gemm_tn, f32_transpose, f32_colsum, gemm_pack_a_floats, gemm_nt_scratch_floats } from './gemm';
export { act_forward, act_backward,
         ACT_IDENTITY, ACT_RELU, ACT_LEAKY_RELU, ACT_ELU, ACT_TANH, ACT_SIGMOID, ACT_SOFTPLUS } from './act';
export { reparam_forward, reparam_backward, elbo_forward_backward, kl_free_bits, kl_dims, iwae_weights, cb_mean, lik_draw,
         LIK_BERNOULLI, LIK_GAUSSIAN, LIK_GAUSSIAN_LEARNED, LIK_CONTINUOUS_BERNOULLI, LOGVAR_MIN, LOGVAR_MAX } from './elbo';
export { adam_step, adagrad_step, sgd_step, f32_sumsq, f32_find_nonfinite, f32_fill } from './optim';
export { rng_seed, rng_u32, rng_uniform, rng_normal, rng_permutation, rng_binarize } from './rng';
export { linear_forward, linear_backward, linear_scratch_floats, concat_forward, concat_backward } from './nn';
export { conv2d_forward, conv2d_backward, conv2d_scratch_floats,
         conv_transpose2d_forward, conv_transpose2d_backward, conv_transpose2d_scratch_floats } from './conv';

// Test hooks: the scalar oracles and the vector-math probe, exported for the test suite and the
// bench only; the library never calls them.
// @test-hooks
export { f32_gemm_nt_ref, f32_gemm_nn_ref, f32_gemm_tn_ref } from './gemm_ref';
export { vmath_eval } from './act';
export { conv2d_forward_ref, conv2d_backward_ref, conv_transpose2d_forward_ref, conv_transpose2d_backward_ref } from './conv_ref';
// @end-test-hooks

export const BUILD_SCALAR: i32 = 0;
export const BUILD_SIMD: i32 = 1;
export const BUILD_RELAXED: i32 = 2;

/** First byte the arena may use: everything below belongs to the module's static data. */
export function heap_base(): usize { return __heap_base; }

/** Which instruction set this build was compiled for: BUILD_SCALAR, BUILD_SIMD or BUILD_RELAXED. */
export function build_kind(): i32 { return ASC_FEATURE_RELAXED_SIMD ? BUILD_RELAXED : ASC_FEATURE_SIMD ? BUILD_SIMD : BUILD_SCALAR; }
