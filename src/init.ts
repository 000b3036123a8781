/**
 * Parameter initialisation from the wasm RNG (so a seed gives the same weights everywhere), layer
 * by layer in file order, each from its fan-in (and fan-out):
 *  - 'pytorch': torch.nn.Linear's default, weight and bias ~ U(−1/√in, 1/√in)
 *  - 'glorot':  weight ~ U(±√(6/(in+out))), bias 0
 *  - 'normal':  weight and bias ~ N(0, 0.01²), as in Kingma & Welling
 */
import { RNG_DATA, RNG_TRAIN, SEED_SALT, type Network } from './network.js';
import type { InitScheme } from './config.js';

export type { InitScheme } from './config.js';

export function initParams(net: Network, scheme: InitScheme): void {
  const e = net.k.exports,
    st = net.rngState(RNG_TRAIN);
  for (const l of net.linears) {
    const w = net.view(l.weight),
      b = net.view(l.bias);
    const pw = w.byteOffset,
      pb = b.byteOffset;
    if (scheme === 'pytorch') {
      const bound = 1 / Math.sqrt(l.inDim);
      e.rng_uniform(pw, w.length, st, -bound, bound);
      e.rng_uniform(pb, b.length, st, -bound, bound);
    } else if (scheme === 'glorot') {
      const bound = Math.sqrt(6 / (l.inDim + l.outDim));
      e.rng_uniform(pw, w.length, st, -bound, bound);
      e.f32_fill(pb, b.length, 0);
    } else {
      e.rng_normal(pw, w.length, st, 0, 0.01);
      e.rng_normal(pb, b.length, st, 0, 0.01);
    }
  }
}

/** Seeds both RNG streams from a 53-bit integer seed. */
export function seedRng(net: Network, seed: number): void {
  net.seedStream(RNG_TRAIN, seed, SEED_SALT.train);
  net.seedStream(RNG_DATA, seed, SEED_SALT.data);
}
