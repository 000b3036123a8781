/**
 * wasm-vae: Variational Autoencoders (Kingma & Welling) trained and run on AssemblyScript +
 * WebAssembly SIMD kernels, in Node and browsers.
 */
export {
  VAE,
  FORMAT_NAME,
  FORMAT_VERSION,
  type VAEOptions,
  type ImageVAEOptions,
  type ModelConfig,
  type Evaluation,
  type Input,
} from './vae.js';
export {
  Trainer,
  type TrainerOptions,
  type FitOptions,
  type History,
  type EpochRecord,
  type BatchInfo,
  type LrSchedule,
} from './trainer.js';
export { Optimizer, type OptimizerConfig } from './optim.js';
export { Network, elbo, IWAE, type Objective, type Capacity } from './network.js';
export {
  ACTIVATIONS,
  LIKELIHOODS,
  INIT_SCHEMES,
  resolveModelConfig,
  type Activation,
  type Likelihood,
  type NetworkConfig,
  type ModelOptions,
  type ImageModelOptions,
  type LayerEntry,
  type LayerEntryOptions,
  type InitScheme,
} from './config.js';
export { PRESETS, type Preset, type PresetName } from './presets.js';
export {
  loadKernels,
  detectFeatures,
  availableBuilds,
  BUILDS,
  init,
  type BuildName,
  type Kernels,
  type LoadOptions,
  type Features,
  type InitOptions,
  type InitResult,
  type WasmSource,
  type WasmSourceMap,
  type WasmSourceResolver,
  type SourceSpec,
} from './wasm.js';
export {
  WorkerTrainer,
  setWorkerFactory,
  type WorkerTrainerOptions,
  type WorkerLike,
} from './worker/trainer.js';
export {
  VaeError,
  ShapeError,
  DataError,
  ConfigError,
  FormatError,
  DivergenceError,
  WasmError,
} from './errors.js';
export { parseIdx, parseIdxMaybeGzip, idxImagesToFloat32, isGzip, gunzip } from './data/idx.js';
export { parseCsv } from './data/csv.js';
export {
  toMatrix,
  uint8ToUnit,
  binarizeThreshold,
  oneHot,
  type Binarization,
  type Matrix,
} from './data/preprocess.js';
export { encodeSafetensors, decodeSafetensors, type TensorEntry } from './io/safetensors.js';
export { EXAMPLES_VAE_NAMES, type PyTorchOptions } from './io/pytorch.js';
