// Small real models, their files (VAE.save) and trainer files (Trainer.save after a short fit),
// the seeds of the mutation generators, and the checks a loaded model must pass.
import { VAE, type VAEOptions } from '../../src/vae.js';
import { Trainer, type TrainerOptions } from '../../src/trainer.js';
import { typed, expectFinite, WASM_BOUND } from './harness.js';

export const SMALL_MODELS: VAEOptions[] = [
  { inputDim: 4, encoder: [3], latentDim: 2, seed: 1 },
  {
    inputDim: 3,
    encoder: [],
    decoder: [2],
    latentDim: 1,
    likelihood: 'gaussian-learned',
    activation: 'tanh',
    seed: 2,
  },
  {
    inputDim: 5,
    encoder: [4, 3],
    latentDim: 2,
    likelihood: 'gaussian',
    sigma: 0.5,
    activation: 'elu',
    seed: 3,
  },
  { inputDim: 4, encoder: [2], latentDim: 1, binarization: 'dynamic', activation: 'leaky_relu', seed: 4 },
];

const TRAINERS: TrainerOptions[] = [
  { batchSize: 4, optimizer: { name: 'adam', lr: 1e-2 } },
  { batchSize: 3, samples: 2, optimizer: { name: 'sgd', lr: 1e-2, momentum: 0.9 }, reduction: 'mean' },
  { batchSize: 2, optimizer: { name: 'adagrad' }, lrSchedule: { type: 'cosine', epochs: 3 }, beta: 0.5 },
  { batchSize: 4, objective: 'iwae', samples: 3, earlyStopping: { patience: 1 } },
];

/** Deterministic rows in [0, 1]. */
export function rows(n: number, d: number, seed = 1): Float32Array {
  const x = new Float32Array(n * d);
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = (s >>> 8) / 16777216;
  }
  return x;
}

export interface Pool {
  models: Uint8Array[];
  trainers: Uint8Array[];
}

/** Model files and trainer files of the small models (the trainers fitted one epoch on 8 rows). */
export async function buildPool(): Promise<Pool> {
  const models: Uint8Array[] = [],
    trainers: Uint8Array[] = [];
  for (const [i, o] of SMALL_MODELS.entries()) {
    const vae = await VAE.create(o);
    models.push(vae.save());
    const t = new Trainer(vae, TRAINERS[i]);
    await t.fit(rows(8, o.inputDim, i + 1), { epochs: 1 });
    trainers.push(t.save());
  }
  return { models, trainers };
}

/**
 * What a model that loaded must do: stay within the wasm memory bound, and compute finite numbers
 * on a small valid input — or refuse with a typed error.
 */
export async function checkLoadedModel(what: string, vae: VAE): Promise<void> {
  if (vae.memoryBytes > WASM_BOUND) throw new Error(`${what}: the model holds ${vae.memoryBytes} bytes`);
  const D = vae.config.inputDim,
    Z = vae.config.latentDim;
  if (D > 4096 || Z > 4096) return; // a valid but large config: the checks below are for small inputs
  const x = rows(2, D, 7);
  const e = await typed(`${what}: encode`, () => vae.encode(x));
  if (e.ok) {
    expectFinite(`${what}: encode mu`, e.value.mu);
    expectFinite(`${what}: encode logvar`, e.value.logvar);
  }
  const d = await typed(`${what}: decode`, () => vae.decode(rows(2, Z, 8).map((v) => 2 * v - 1)));
  if (d.ok) expectFinite(`${what}: decode`, d.value);
  const ev = await typed(`${what}: evaluate`, () => vae.evaluate(x, { seed: 1 }));
  if (ev.ok)
    for (const k of ['elbo', 'loss', 'reconstruction', 'kl'] as const)
      expectFinite(`${what}: evaluate ${k}`, ev.value[k]);
  const ll = await typed(`${what}: logLikelihood`, () => vae.logLikelihood(x, { k: 3, seed: 1 }));
  if (ll.ok) expectFinite(`${what}: logLikelihood`, ll.value.perRow);
}
