/**
 * Reading a PyTorch `state_dict` saved as safetensors (`safetensors.torch.save_file`) into a
 * wasm-vae model's parameters. Pure: decodes and checks everything, allocates no wasm memory;
 * VAE.fromPyTorch builds the model from the result.
 *
 * Names: every wasm-vae layer — `encoder.{i}`, `fc_mu`, `fc_logvar`, `decoder.{i}`, `fc_out`,
 * `fc_out_logvar` (likelihood 'gaussian-learned') — is an nn.Linear with `<layer>.weight`
 * (out, in) and `<layer>.bias` (out). A file's layer names are found, in this order, by the
 * caller's `names` map (wasm-vae layer → the file's layer), then PyTorch examples/vae's names
 * (`fc1 fc21 fc22 fc3 fc4`, when the file has them all and no map is given), then the wasm-vae
 * names themselves. Sizes (inputDim, encoder, latentDim, decoder) are read from the tensors; what
 * the tensors cannot tell (activation, likelihood, sigma, seed, …) comes from the options, with
 * VAE.create's defaults (ReLU and Bernoulli, as examples/vae).
 */
import { FormatError, ConfigError } from '../errors.js';
import {
  layerShapes,
  planNetwork,
  resolveModelConfig,
  type ModelConfig,
  type ModelOptions,
  type PlannedLayer,
} from '../config.js';
import { describe } from '../options.js';
import { decodeSafetensors, type TensorEntry } from './safetensors.js';

/** PyTorch examples/vae's layer names (vae/main.py), by wasm-vae layer. */
export const EXAMPLES_VAE_NAMES: Readonly<Record<string, string>> = Object.freeze({
  'encoder.0': 'fc1',
  fc_mu: 'fc21',
  fc_logvar: 'fc22',
  'decoder.0': 'fc3',
  fc_out: 'fc4',
});

/** The parameter tensors of a model, in file order: wasm-vae name and PyTorch shape ((out, in) / (out)). */
export function parameterShapes(
  c: Pick<ModelConfig, 'inputShape' | 'inputDim' | 'encoder' | 'latentDim' | 'decoder' | 'likelihood'> & {
    variational?: boolean;
    conditionDim?: number;
  },
): { name: string; shape: number[] }[] {
  const plan = planNetwork(c);
  const out: { name: string; shape: number[] }[] = [];
  const add = (name: string, l: PlannedLayer) => {
    const s = layerShapes(l);
    out.push({ name: `${name}.weight`, shape: s.weight }, { name: `${name}.bias`, shape: [s.bias] });
  };
  for (const l of plan.encoder) add(l.name, l);
  const mu: PlannedLayer = { kind: 'dense', name: 'fc_mu', inDim: plan.encoderOut, outDim: c.latentDim };
  add('fc_mu', mu);
  if (c.variational !== false) add('fc_logvar', mu);
  for (const l of plan.decoder) add(l.name, l);
  add('fc_out', plan.head);
  if (c.likelihood === 'gaussian-learned') add('fc_out_logvar', plan.head);
  return out;
}

export interface PyTorchOptions extends Partial<ModelOptions> {
  /**
   * The file's layer names by wasm-vae layer, e.g. `{ 'encoder.0': 'enc.0', fc_mu: 'mu' }` for a
   * module whose tensors are `enc.0.weight`, `mu.bias`, …; layers not listed keep their wasm-vae
   * name. Without a map, PyTorch examples/vae's names (fc1, fc21, fc22, fc3, fc4) are recognised.
   */
  names?: Record<string, string>;
}

const LAYER = /^(encoder\.\d+|decoder\.\d+|fc_mu|fc_logvar|fc_out|fc_out_logvar)$/;
const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Decodes a state_dict file and matches it to a model: the config and each parameter's values. */
export function readPyTorchStateDict(
  bytes: Uint8Array,
  opts: PyTorchOptions,
  extraKeys: readonly string[],
): { config: ModelConfig; params: Map<string, Float32Array> } {
  const { names: given, ...modelOpts } = opts;
  if (given !== undefined && (given === null || typeof given !== 'object' || Array.isArray(given)))
    throw new ConfigError(
      `VAE.fromPyTorch: names must be an object mapping wasm-vae layers to the file's, got ${describe(given)}`,
    );
  for (const [k, v] of Object.entries(given ?? {})) {
    if (!LAYER.test(k))
      throw new ConfigError(
        `VAE.fromPyTorch: names has an unknown layer ${JSON.stringify(k)} (layers: encoder.{i}, fc_mu, fc_logvar, decoder.{i}, fc_out, fc_out_logvar)`,
      );
    if (typeof v !== 'string' || v === '')
      throw new ConfigError(
        `VAE.fromPyTorch: names[${JSON.stringify(k)}] must be a layer name, got ${describe(v)}`,
      );
  }
  const file = decodeSafetensors(bytes).tensors;
  const has = (layer: string) => file.has(`${layer}.weight`);
  const examples = given === undefined && Object.values(EXAMPLES_VAE_NAMES).every(has);
  const map: Record<string, string> = { ...(examples ? EXAMPLES_VAE_NAMES : {}), ...(given ?? {}) };
  const fileLayer = (layer: string) => map[layer] ?? layer;
  const weight = (layer: string): TensorEntry | undefined => file.get(`${fileLayer(layer)}.weight`);
  const rowsOf = (layer: string) => {
    const t = weight(layer);
    return t && t.shape.length === 2 ? t.shape[0] : undefined;
  };

  // sizes from the tensors, unless the options give them (then the shape check below holds them to it)
  const count = (side: 'encoder' | 'decoder') => {
    let n = 0;
    while (weight(`${side}.${n}`)) n++;
    return n;
  };
  const widths = (side: 'encoder' | 'decoder') =>
    Array.from({ length: count(side) }, (_, i) => rowsOf(`${side}.${i}`) ?? 0);
  const encoder = (modelOpts.encoder as number[] | undefined) ?? widths('encoder');
  const colsOf = (layer: string) => {
    const t = weight(layer);
    return t && t.shape.length === 2 ? t.shape[1] : undefined;
  };
  const inferred: Record<string, unknown> = {
    inputDim: colsOf(encoder.length > 0 ? 'encoder.0' : 'fc_mu') ?? rowsOf('fc_out'),
    encoder,
    latentDim:
      rowsOf('fc_mu') ?? rowsOf('fc_logvar') ?? colsOf(count('decoder') > 0 ? 'decoder.0' : 'fc_out'),
    decoder: widths('decoder'),
    likelihood: weight('fc_out_logvar') ? 'gaussian-learned' : 'bernoulli',
  };
  for (const k of Object.keys(inferred)) if (inferred[k] === undefined) delete inferred[k];
  if (inferred.inputDim === undefined || inferred.latentDim === undefined)
    throw new FormatError(
      `VAE.fromPyTorch: cannot find the model's layers: no ${JSON.stringify(`${fileLayer('fc_mu')}.weight`)} or ${JSON.stringify(`${fileLayer(encoder.length > 0 ? 'encoder.0' : 'fc_out')}.weight`)} (2-D) among the file's tensors ${listNames([...file.keys()])}; map the names with the names option`,
    );
  const config = resolveModelConfig({ ...inferred, ...modelOpts }, 'VAE.fromPyTorch', extraKeys);

  const params = new Map<string, Float32Array>();
  const missing: string[] = [],
    misshaped: string[] = [],
    used = new Set<string>();
  for (const { name, shape } of parameterShapes(config)) {
    const dot = name.lastIndexOf('.');
    const fname = `${fileLayer(name.slice(0, dot))}${name.slice(dot)}`;
    const t = file.get(fname);
    if (!t) {
      missing.push(`${fname} ${shapeText(shape)}${fname === name ? '' : ` (for ${name})`}`);
      continue;
    }
    used.add(fname);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      misshaped.push(`${fname} is ${shapeText(t.shape)}, expected ${shapeText(shape)}`);
      continue;
    }
    if (t.dtype !== 'F32' && t.dtype !== 'F64') {
      misshaped.push(`${fname} has dtype ${t.dtype}, expected F32 (or F64)`);
      continue;
    }
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Float64Array);
    for (let i = 0; i < data.length; i++)
      if (!Number.isFinite(data[i]))
        throw new FormatError(`VAE.fromPyTorch: tensor ${fname} holds a non-finite value at index ${i}`);
    params.set(name, data);
  }
  const extra = [...file.keys()].filter((n) => !used.has(n));
  if (missing.length + misshaped.length + extra.length > 0) {
    const arch = `${config.inputDim}-[${config.encoder.join(',')}]-${config.latentDim}-[${config.decoder.join(',')}]-${config.inputDim} (${config.likelihood})`;
    const parts = [
      missing.length ? `missing tensors ${missing.join(', ')}` : '',
      misshaped.length ? `mis-shaped tensors ${misshaped.join('; ')}` : '',
      extra.length ? `extra tensors ${listNames(extra)}` : '',
    ].filter(Boolean);
    throw new FormatError(
      `VAE.fromPyTorch: the state_dict does not match the model ${arch}: ${parts.join('; ')} (map layer names with the names option; set sizes or the likelihood in the options)`,
    );
  }
  return { config, params };
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 12).join(', ');
  return names.length > 12 ? `${shown}, … (${names.length} in all)` : shown || '(none)';
}
