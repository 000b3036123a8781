/**
 * The model's configuration: one schema with every option's check and default, parsed once
 * (VAE.create, and VAE.load for the config a file carries). What it yields is complete: the
 * network, the initialiser and the file format read it as is and never default anything again.
 */
import { ACTIVATION_KINDS, LIKELIHOOD_KINDS } from './abi.js';
import { ConfigError } from './errors.js';
import {
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
  /** How inputs are binarized (recorded with the model; the trainer applies 'dynamic'). */
  binarization: field(oneOf(BINARIZATIONS), 'none'),
};

/** A complete model configuration (every default filled in). */
export type ModelConfig = Parsed<typeof MODEL>;
/** What the network itself reads of it. */
export type NetworkConfig = Pick<
  ModelConfig,
  'inputDim' | 'encoder' | 'latentDim' | 'decoder' | 'activation' | 'activationAlpha' | 'likelihood' | 'sigma'
>;
/** The options a model config is made from: inputDim, and whatever else differs from the defaults. */
export type ModelOptions = { inputDim: number } & Partial<ModelConfig>;
export const MODEL_KEYS = Object.keys(MODEL);

/** Checks the options and fills in every default; `extra` names keys the caller handles itself. */
export function resolveModelConfig(opts: unknown, what = 'VAE', extra: readonly string[] = []): ModelConfig {
  const o = (opts ?? {}) as Record<string, unknown>;
  const own: Record<string, unknown> = {};
  if (o && typeof o === 'object') for (const k of Object.keys(o)) if (!extra.includes(k)) own[k] = o[k];
  const c = parse(MODEL, opts && typeof opts === 'object' ? own : opts, what);
  if (c.binarization !== 'none' && c.likelihood !== 'bernoulli')
    throw new ConfigError('binarization only makes sense with the bernoulli likelihood');
  return c;
}
