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
  checkKeys,
  describe,
  oneOf,
  parse,
  positive,
  posInt,
  nonNegInt,
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
  /** The input as an image, [C, H, W] (NCHW rows, C·H·W values each); unset for flat inputs. */
  inputShape: field(optionalShape, undefined),
  // no default without inputShape: parse() then checks undefined, which names the missing option
  inputDim: field<number>(inputDimCheck, (r) =>
    r.inputShape ? prod(r.inputShape as number[]) : (undefined as never),
  ),
  /** Hidden layers of the encoder, input side first: widths of dense layers, or layer objects (LayerEntry). */
  encoder: field(layerList, [400]),
  /** Hidden layers of the decoder, latent side first; default the encoder's widths, reversed (dense encoders only). */
  decoder: field(layerList, (r) => mirror(r.encoder as LayerEntry[])),
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

// ---- layer lists: dense, conv, deconv and reshape entries ----

/** Conv2d: `conv` output channels, square kernel, stride (default 1) and zero padding (default 0), as torch.nn.Conv2d. */
export interface ConvEntry {
  conv: number;
  kernel: number;
  stride: number;
  padding: number;
}
/** ConvTranspose2d: as torch.nn.ConvTranspose2d; outputPadding (default 0) must be below the stride. */
export interface DeconvEntry {
  deconv: number;
  kernel: number;
  stride: number;
  padding: number;
  outputPadding: number;
}
/** One entry of a layer list: a dense layer's width (`400` or `{ dense: 400 }`), a conv or deconv layer, or a reshape to [C, H, W] (no parameters). Every entry but reshape is followed by the activation. */
export type LayerEntry =
  number | { dense: number } | ConvEntry | DeconvEntry | { reshape: [number, number, number] };
/** What a layer entry may be written as: stride, padding and outputPadding may be left out. */
export type LayerEntryOptions =
  | number
  | { dense: number }
  | { conv: number; kernel: number; stride?: number; padding?: number }
  | { deconv: number; kernel: number; stride?: number; padding?: number; outputPadding?: number }
  | { reshape: [number, number, number] };

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function optionalShape(v: unknown, n: string): [number, number, number] | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v) && v.length === 3 && v.every((x) => Number.isSafeInteger(x) && x > 0))
    return [v[0], v[1], v[2]];
  throw new ConfigError(
    `${n} must be [channels, height, width] (three positive integers), got ${describe(v)}`,
  );
}

function inputDimCheck(v: unknown, n: string): number {
  if (v === undefined) throw new ConfigError('VAE needs the option inputDim (or inputShape)');
  return posInt(v, n);
}

const ENTRY_KEYS: Record<string, readonly string[]> = {
  dense: ['dense'],
  conv: ['conv', 'kernel', 'stride', 'padding'],
  deconv: ['deconv', 'kernel', 'stride', 'padding', 'outputPadding'],
  reshape: ['reshape'],
};

/** A layer list: each entry checked and completed (numbers stay numbers, objects get their defaults). */
function layerList(v: unknown, n: string): LayerEntry[] {
  if (!Array.isArray(v))
    throw new ConfigError(`${n} must be an array of layer widths or layer objects, got ${describe(v)}`);
  return v.map((e, i): LayerEntry => {
    const at = `${n}[${i}]`;
    if (typeof e === 'number' && Number.isSafeInteger(e) && e > 0) return e;
    if (!e || typeof e !== 'object' || Array.isArray(e))
      throw new ConfigError(
        `${n} must be an array of positive integer widths or layer objects ({ dense }, { conv, kernel, stride, padding }, { deconv, kernel, stride, padding, outputPadding }, { reshape }); ${at} is ${describe(e)}`,
      );
    const o = e as Record<string, unknown>;
    const kind = Object.keys(ENTRY_KEYS).find((k) => k in o);
    if (!kind)
      throw new ConfigError(
        `${at} must name its kind: one of dense, conv, deconv, reshape (got keys ${Object.keys(o).join(', ') || 'none'})`,
      );
    checkKeys(o, ENTRY_KEYS[kind], `${at} (${kind})`);
    if (kind === 'dense') return { dense: posInt(o.dense, `${at}.dense`) };
    if (kind === 'reshape') {
      const r = optionalShape(o.reshape, `${at}.reshape`);
      if (!r) throw new ConfigError(`${at}.reshape must be [channels, height, width], got undefined`);
      return { reshape: r };
    }
    const kernel = posInt(o.kernel, `${at}.kernel`),
      stride = o.stride === undefined ? 1 : posInt(o.stride, `${at}.stride`),
      padding = o.padding === undefined ? 0 : nonNegInt(o.padding, `${at}.padding`);
    if (kind === 'conv') return { conv: posInt(o.conv, `${at}.conv`), kernel, stride, padding };
    const outputPadding =
      o.outputPadding === undefined ? 0 : nonNegInt(o.outputPadding, `${at}.outputPadding`);
    if (outputPadding >= stride)
      throw new ConfigError(
        `${at}.outputPadding must be smaller than the stride ${stride}, got ${outputPadding}`,
      );
    return { deconv: posInt(o.deconv, `${at}.deconv`), kernel, stride, padding, outputPadding };
  });
}

function mirror(encoder: LayerEntry[]): LayerEntry[] {
  if (encoder.every((e) => typeof e === 'number')) return [...encoder].reverse();
  throw new ConfigError(
    'decoder: an encoder with conv, deconv or reshape entries needs an explicit decoder (see the presets)',
  );
}

/** A layer with parameters as the network builds it. Conv / deconv: input (C, H, W), output (OC, OH, OW). */
export type PlannedLayer =
  | { kind: 'dense'; name: string; inDim: number; outDim: number }
  | {
      kind: 'conv' | 'deconv';
      name: string;
      C: number;
      H: number;
      W: number;
      OC: number;
      OH: number;
      OW: number;
      kernel: number;
      stride: number;
      padding: number;
    };
/** The network a config describes: the hidden layers of each side, the width the μ / log σ² heads read, and the output head(s). */
export interface NetworkPlan {
  encoder: PlannedLayer[];
  /** Values per row the encoder ends with (the μ and log σ² heads' input). */
  encoderOut: number;
  decoder: PlannedLayer[];
  /** The output head: a dense layer to inputDim, or a 3×3 stride-1 deconv to the input's channels when the decoder ends on an image of the input's size. */
  head: PlannedLayer;
}

function entryText(e: LayerEntry): string {
  if (typeof e === 'number') return `dense ${e}`;
  if ('dense' in e) return `dense ${e.dense}`;
  if ('reshape' in e) return `reshape [${e.reshape.join(', ')}]`;
  const base = `kernel ${e.kernel}, stride ${e.stride}, padding ${e.padding}`;
  return 'conv' in e
    ? `conv ${e.conv}, ${base}`
    : `deconv ${e.deconv}, ${base}, outputPadding ${e.outputPadding}`;
}
const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

/** The layers of one side from its input shape ([n] or [C, H, W]); ConfigError naming the entry whose shape does not fit. */
function planSide(
  entries: readonly LayerEntry[],
  input: number[],
  side: string,
  out: PlannedLayer[],
): number[] {
  let shape = input;
  entries.forEach((e, i) => {
    const at = `${side}[${i}] (${entryText(e)})`,
      name = `${side}.${i}`;
    if (typeof e === 'number' || 'dense' in e) {
      const w = typeof e === 'number' ? e : e.dense;
      out.push({ kind: 'dense', name, inDim: prod(shape), outDim: w });
      shape = [w];
      return;
    }
    if ('reshape' in e) {
      if (prod(e.reshape) !== prod(shape))
        throw new ConfigError(
          `${at}: ${prod(e.reshape)} values cannot come from the ${prod(shape)} of its input ${shapeText(shape)}`,
        );
      shape = [...e.reshape];
      return;
    }
    if (shape.length !== 3)
      throw new ConfigError(
        `${at} needs a [C, H, W] input, got ${shapeText(shape)} (give inputShape, or put a reshape entry before it)`,
      );
    const [C, H, W] = shape,
      { kernel: k, stride: s, padding: p } = e;
    const conv = 'conv' in e;
    // PyTorch's output sizes (torch.nn.Conv2d / ConvTranspose2d docs): the one place they are computed
    const OH = conv ? Math.floor((H + 2 * p - k) / s) + 1 : (H - 1) * s - 2 * p + k + e.outputPadding,
      OW = conv ? Math.floor((W + 2 * p - k) / s) + 1 : (W - 1) * s - 2 * p + k + e.outputPadding;
    const OC = conv ? e.conv : e.deconv;
    if (!(OH >= 1 && OW >= 1) || (conv && (H + 2 * p < k || W + 2 * p < k)))
      throw new ConfigError(
        `${at} does not fit its input ${shapeText(shape)}: the output would be ${OH}×${OW}`,
      );
    out.push({ kind: conv ? 'conv' : 'deconv', name, C, H, W, OC, OH, OW, kernel: k, stride: s, padding: p });
    shape = [OC, OH, OW];
  });
  return shape;
}

/** Plans the network of a config (shapes checked; see NetworkPlan). */
export function planNetwork(
  c: Pick<ModelConfig, 'inputShape' | 'inputDim' | 'encoder' | 'decoder' | 'latentDim'> & {
    conditionDim?: number;
  },
): NetworkPlan {
  const encoder: PlannedLayer[] = [],
    decoder: PlannedLayer[] = [];
  const input = c.inputShape ? [...c.inputShape] : [c.inputDim];
  const encShape = planSide(c.encoder, input, 'encoder', encoder);
  const decShape = planSide(c.decoder, [c.latentDim], 'decoder', decoder);
  let head: PlannedLayer;
  if (decShape.length === 3) {
    const [C2, H2, W2] = decShape;
    if (!c.inputShape || H2 !== c.inputShape[1] || W2 !== c.inputShape[2]) {
      const last = c.decoder.length - 1;
      throw new ConfigError(
        `decoder[${last}] (${entryText(c.decoder[last])}) ends on an image ${shapeText(decShape)}; the output head needs ${c.inputShape ? `the input's ${c.inputShape[1]}×${c.inputShape[2]}` : 'an inputShape'} (or end the decoder on a dense layer)`,
      );
    }
    const [C, H, W] = c.inputShape;
    head = {
      kind: 'deconv',
      name: 'fc_out',
      C: C2,
      H,
      W,
      OC: C,
      OH: H,
      OW: W,
      kernel: 3,
      stride: 1,
      padding: 1,
    };
  } else head = { kind: 'dense', name: 'fc_out', inDim: decShape[0], outDim: c.inputDim };
  // A conditional model joins the condition's C values to the input of the first layer on each
  // side (network.ts's Concat entries): that layer reads a flat vector, so it must be dense (or be
  // fc_mu / fc_out when a side has no layers).
  const C = c.conditionDim ?? 0;
  let encoderOut = prod(encShape);
  if (C > 0) {
    const first = (side: 'encoder' | 'decoder', l: PlannedLayer | undefined) => {
      if (!l) return undefined;
      if (l.kind !== 'dense') {
        const i = c[side].findIndex((e) => typeof e === 'number' || !('reshape' in e));
        throw new ConfigError(
          `conditionDim ${C} joins the condition to the ${side}'s first layer, which must be dense; ${side}[${i}] is ${entryText(c[side][i])}`,
        );
      }
      return { ...l, inDim: l.inDim + C };
    };
    if (encoder.length) encoder[0] = first('encoder', encoder[0])!;
    else encoderOut += C;
    if (decoder.length) decoder[0] = first('decoder', decoder[0])!;
    else if (head.kind === 'dense') head = { ...head, inDim: head.inDim + C };
  }
  return { encoder, encoderOut, decoder, head };
}

/** Weight shape and bias length of a planned layer, PyTorch's layouts: (out, in), (OC, C, k, k), (C, OC, k, k). */
export function layerShapes(l: PlannedLayer): { weight: number[]; bias: number } {
  if (l.kind === 'dense') return { weight: [l.outDim, l.inDim], bias: l.outDim };
  const k = l.kernel;
  return { weight: l.kind === 'conv' ? [l.OC, l.C, k, k] : [l.C, l.OC, k, k], bias: l.OC };
}

/** A complete model configuration (every default filled in). */
export type ModelConfig = Parsed<typeof MODEL>;
/** What the network itself reads of it. */
export type NetworkConfig = Pick<
  ModelConfig,
  | 'inputShape'
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
/** The model options besides the input's size, as a caller writes them. */
type ModelRest = Partial<Omit<ModelConfig, 'inputDim' | 'inputShape' | 'encoder' | 'decoder'>> & {
  encoder?: LayerEntryOptions[];
  decoder?: LayerEntryOptions[];
};
/** The options a model config is made from: inputDim, and whatever else differs from the defaults. */
export type ModelOptions = { inputDim: number; inputShape?: [number, number, number] } & ModelRest;
/** The options of a model of images: inputShape [C, H, W] (inputDim, if given, must be C·H·W). */
export type ImageModelOptions = { inputShape: [number, number, number]; inputDim?: number } & ModelRest;
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
  c: Pick<NetworkConfig, 'inputShape' | 'inputDim' | 'encoder' | 'decoder' | 'latentDim' | 'likelihood'> & {
    variational?: boolean;
    conditionDim?: number;
  },
): number {
  const plan = planNetwork(c);
  const count = (l: PlannedLayer) => {
    const s = layerShapes(l);
    return prod(s.weight) + s.bias;
  };
  let n = 0;
  for (const l of plan.encoder) n += count(l);
  n += (c.variational === false ? 1 : 2) * (plan.encoderOut + 1) * c.latentDim; // fc_mu (, fc_logvar)
  for (const l of plan.decoder) n += count(l);
  n += (c.likelihood === 'gaussian-learned' ? 2 : 1) * count(plan.head); // fc_out (, fc_out_logvar)
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
  if (c.inputShape && c.inputDim !== prod(c.inputShape))
    throw new ConfigError(
      `inputDim ${c.inputDim} does not match inputShape [${c.inputShape.join(', ')}] (${prod(c.inputShape)} values); give one of them`,
    );
  if (c.binarization !== 'none' && c.likelihood !== 'bernoulli')
    throw new ConfigError('binarization only makes sense with the bernoulli likelihood');
  const n = parameterCount(c);
  if (!(n <= LIMITS.maxParameters))
    throw new ConfigError(
      `${what}: this configuration has ${n} parameters; the limit is ${LIMITS.maxParameters} (LIMITS.maxParameters)`,
    );
  return c;
}
