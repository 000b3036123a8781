/**
 * The model's configuration: one schema with every option's check and default, parsed once
 * (VAE.create, and VAE.load for the config a file carries). What it yields is complete: the
 * network, the initialiser and the file format read it as is and never default anything again.
 */
import { ACTIVATION_KINDS, LIKELIHOOD_KINDS } from './abi.js';
import { ConfigError } from './errors.js';
import {
  bool,
  field,
  finite,
  intArray,
  oneOf,
  parse,
  positive,
  posInt,
  nonNegInt,
  required,
  type Parsed,
} from './options.js';
import { BINARIZATIONS } from './data/preprocess.js';

export type Activation = keyof typeof ACTIVATION_KINDS;
export type Likelihood = keyof typeof LIKELIHOOD_KINDS;
export const ACTIVATIONS = Object.keys(ACTIVATION_KINDS) as Activation[];
export const LIKELIHOODS = Object.keys(LIKELIHOOD_KINDS) as Likelihood[];
export type InitScheme = 'pytorch' | 'glorot' | 'normal';
export const INIT_SCHEMES: readonly InitScheme[] = ['pytorch', 'glorot', 'normal'];

/** Parameter α of the activations that have one: leaky_relu's negative slope, elu's scale (PyTorch's defaults). */
const DEFAULT_ALPHA: Partial<Record<Activation, number>> = { leaky_relu: 0.01, elu: 1 };

const MODEL = {
  inputDim: required(posInt),
  /** Hidden widths of the encoder MLP, input side first. */
  encoder: field(intArray, [400]),
  /** Hidden widths of the decoder MLP, latent side first; default the encoder's, reversed. */
  decoder: field(intArray, (r) => [...(r.encoder as number[])].reverse()),
  latentDim: field(posInt, 20),
  activation: field(oneOf(ACTIVATIONS), 'relu'),
  activationAlpha: field(finite, (r) => DEFAULT_ALPHA[r.activation as Activation] ?? 0.01),
  likelihood: field(oneOf(LIKELIHOODS), 'bernoulli'),
  /** σ of the fixed-variance Gaussian likelihood. */
  sigma: field(positive, 1),
  init: field(oneOf(INIT_SCHEMES), 'pytorch'),
  seed: field(nonNegInt, 0),
  /**
   * false: a plain autoencoder — z = μ(x), no log σ² head, no KL term, not a generative model
   * (its prior samples show why). true (the default): the VAE.
   */
  variational: field(bool, true),
  /**
   * Width C of a condition y (e.g. a one-hot label): > 0 makes a conditional VAE, q(z | x, y) and
   * p(x | z, y), with y joined to the encoder's input and to the decoder's latent. 0: none.
   */
  conditionDim: field(nonNegInt, 0),
  /** How inputs are binarized (recorded with the model; the trainer applies 'dynamic'). */
  binarization: field(oneOf(BINARIZATIONS), 'none'),
};

/** A complete model configuration (every default filled in). */
export type ModelConfig = Parsed<typeof MODEL>;
/** What the network itself reads of it. */
export type NetworkConfig = Pick<
  ModelConfig,
  | 'inputDim'
  | 'encoder'
  | 'latentDim'
  | 'decoder'
  | 'activation'
  | 'activationAlpha'
  | 'likelihood'
  | 'sigma'
  | 'variational'
  | 'conditionDim'
>;
/** The options a model config is made from: inputDim, and whatever else differs from the defaults. */
export type ModelOptions = { inputDim: number } & Partial<ModelConfig>;
export const MODEL_KEYS = Object.keys(MODEL);

/**
 * Size limits. A config (from options or from a file) and the arena planned for it are checked
 * against them before any memory is allocated, so a file or an option that claims a huge model is
 * a typed error, never an out-of-memory crash.
 */
export const LIMITS = Object.freeze({
  /** Trainable parameters (floats) of one model: 2^25 = 33,554,432 (128 MiB; with grads and Adam's two state slots 512 MiB). */
  maxParameters: 2 ** 25,
  /** Bytes of wasm memory one model's arena may span (params, grads, optimizer state, activations, data order, scratch): 1 GiB, the shared builds' compiled maximum. */
  maxArenaBytes: 2 ** 30,
  /** Floats one call may return (decode, reconstruct, sample, interpolate): 2^28 (1 GiB of f32). */
  maxOutputFloats: 2 ** 28,
  /** z samples per datapoint of evaluate and logLikelihood: 2^20. */
  maxSamples: 2 ** 20,
});

/** Trainable parameters of a network (the layers src/network.ts builds: weights and biases, no padding). */
export function parameterCount(
  c: Pick<NetworkConfig, 'inputDim' | 'encoder' | 'decoder' | 'latentDim' | 'likelihood'> & {
    variational?: boolean;
    conditionDim?: number;
  },
): number {
  const C = c.conditionDim ?? 0; // the condition joins the first layer's input on each side
  let n = 0,
    w = c.inputDim + C;
  for (const h of c.encoder) {
    n += (w + 1) * h;
    w = h;
  }
  n += (c.variational === false ? 1 : 2) * (w + 1) * c.latentDim; // fc_mu (, fc_logvar)
  w = c.latentDim + C;
  for (const h of c.decoder) {
    n += (w + 1) * h;
    w = h;
  }
  n += (c.likelihood === 'gaussian-learned' ? 2 : 1) * (w + 1) * c.inputDim; // fc_out (, fc_out_logvar)
  return n;
}

/** Refuses an arena plan past LIMITS.maxArenaBytes (before it is allocated). */
export function checkArenaBytes(bytes: number, dataRows: number, sampleRows: number): void {
  if (!(bytes <= LIMITS.maxArenaBytes))
    throw new ConfigError(
      `this model with room for ${dataRows} datapoint rows and ${sampleRows} sample rows needs ${(bytes / 2 ** 20).toFixed(0)} MiB of wasm memory; the limit is ${LIMITS.maxArenaBytes / 2 ** 20} MiB (use a smaller batchSize, samples or chunkRows)`,
    );
}

/** Refuses a result of rows × cols floats past LIMITS.maxOutputFloats (before it is allocated). */
export function checkOutputFloats(rows: number, cols: number, what: string): void {
  if (!(rows * cols <= LIMITS.maxOutputFloats))
    throw new ConfigError(
      `${what}: ${rows} rows of ${cols} floats exceed the limit of ${LIMITS.maxOutputFloats} floats per call; ask in smaller parts`,
    );
}

/** Checks the options and fills in every default; `extra` names keys the caller handles itself. */
export function resolveModelConfig(opts: unknown, what = 'VAE', extra: readonly string[] = []): ModelConfig {
  const o = (opts ?? {}) as Record<string, unknown>;
  // defined, not assigned: an own "__proto__" key (JSON.parse makes one) stays a key, which parse then rejects
  const own: Record<string, unknown> = {};
  if (o && typeof o === 'object')
    for (const k of Object.keys(o))
      if (!extra.includes(k))
        Object.defineProperty(own, k, { value: o[k], enumerable: true, writable: true, configurable: true });
  const c = parse(MODEL, opts && typeof opts === 'object' ? own : opts, what);
  if (c.binarization !== 'none' && c.likelihood !== 'bernoulli')
    throw new ConfigError('binarization only makes sense with the bernoulli likelihood');
  const n = parameterCount(c);
  if (!(n <= LIMITS.maxParameters))
    throw new ConfigError(
      `${what}: this configuration has ${n} parameters; the limit is ${LIMITS.maxParameters} (LIMITS.maxParameters)`,
    );
  return c;
}
