/**
 * Parameter initialisation from the wasm RNG (so a seed gives the same weights everywhere).
 *  - 'pytorch': torch.nn.Linear's default, weight and bias ~ U(−1/√in, 1/√in)
 *  - 'glorot':  weight ~ U(±√(6/(in+out))), bias 0
 *  - 'normal':  weight and bias ~ N(0, 0.01²), as in Kingma & Welling
 */
import { RNG_TRAIN, type Network } from './network.js';
import { ConfigError } from './errors.js';

export type InitScheme = 'pytorch' | 'glorot' | 'normal';
export const INIT_SCHEMES: readonly InitScheme[] = ['pytorch', 'glorot', 'normal'];

export function initParams(net: Network, scheme: InitScheme): void {
  if (!INIT_SCHEMES.includes(scheme)) throw new ConfigError(`unknown init "${scheme}"; expected one of ${INIT_SCHEMES.join(', ')}`);
  const e = net.k.exports, st = net.rngState(RNG_TRAIN);
  for (const l of net.layers) {
    const w = net.param(l.weight), b = net.param(l.bias);
    if (scheme === 'pytorch') {
      const bound = 1 / Math.sqrt(l.inDim);
      e.rng_uniform(w, l.weight.floats, st, -bound, bound);
      e.rng_uniform(b, l.bias.floats, st, -bound, bound);
    } else if (scheme === 'glorot') {
      const bound = Math.sqrt(6 / (l.inDim + l.outDim));
      e.rng_uniform(w, l.weight.floats, st, -bound, bound);
      e.f32_fill(b, l.bias.floats, 0);
    } else {
      e.rng_normal(w, l.weight.floats, st, 0, 0.01);
      e.rng_normal(b, l.bias.floats, st, 0, 0.01);
    }
  }
}

/** Seeds both RNG streams from a 53-bit integer seed. */
export function seedRng(net: Network, seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ConfigError(`seed must be a non-negative safe integer, got ${seed}`);
  const lo = seed >>> 0, hi = Math.floor(seed / 2 ** 32) >>> 0;
  net.k.exports.rng_seed(net.rngState(0), lo, hi);
  net.k.exports.rng_seed(net.rngState(16), lo, (hi ^ 0x5bd1e995) >>> 0);
}
