// Property-based fuzzing of VAE.load and Trainer.resume with mutations of real model and trainer
// files: only typed errors, within the time bound, no wasm memory past the limit (a file that
// claims a huge model is refused before anything is allocated), and a model that loaded computes
// finite numbers on a small valid input — or refuses with a typed error. A resumed trainer must
// also fit one more epoch, or refuse.
import { describe, it, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { VAE } from '../../src/vae.js';
import { Trainer } from '../../src/trainer.js';
import { params, typed, counts, expectJsMemoryBelow, nastyInt, nastyValue, ownObject } from './harness.js';
import { mutation, mutate } from './files.js';
import { buildPool, checkLoadedModel, rows, type Pool } from './models.js';

let pool: Pool;
beforeAll(async () => {
  pool = await buildPool();
});
afterAll(() => {
  expectJsMemoryBelow(2 ** 30);
  console.log(`[fuzz] model files: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`);
});

describe('fuzz: VAE.load and Trainer.resume', () => {
  it('VAE.load of mutated model files', async () => {
    await fc.assert(
      fc.asyncProperty(mutation(pool.models), async (m) => {
        const bytes = mutate(pool.models, m);
        const r = await typed('VAE.load', () => VAE.load(bytes));
        if (r.ok) await checkLoadedModel('VAE.load', r.value);
      }),
      params('load.models', 2500),
    );
  });

  it('VAE.load of mutated trainer files (extra tensors and metadata)', async () => {
    await fc.assert(
      fc.asyncProperty(mutation(pool.trainers), async (m) => {
        const bytes = mutate(pool.trainers, m);
        const r = await typed('VAE.load', () => VAE.load(bytes));
        if (r.ok) await checkLoadedModel('VAE.load', r.value);
      }),
      params('load.trainers', 1000),
    );
  });

  it('Trainer.resume of mutated trainer files, then one more epoch', async () => {
    await fc.assert(
      fc.asyncProperty(mutation(pool.trainers), async (m) => {
        const bytes = mutate(pool.trainers, m);
        const r = await typed('Trainer.resume', () => Trainer.resume(bytes));
        if (!r.ok) return;
        const t = r.value,
          D = t.vae.config.inputDim;
        if (D > 4096) return;
        await typed('fit after resume', () => t.fit(rows(8, D, 3), { epochs: 1 }));
        await checkLoadedModel('Trainer.resume', t.vae);
      }),
      params('resume.trainers', 1500),
    );
  });

  it('load and resume options', async () => {
    const opts = fc.oneof(
      nastyValue,
      fc
        .record(
          { build: fc.oneof(fc.constantFrom('scalar', 'simd', 'x'), nastyValue), chunkRows: nastyInt },
          { requiredKeys: [] },
        )
        .map((o) => ownObject(Object.entries(o))),
    );
    await fc.assert(
      fc.asyncProperty(opts, async (o) => {
        const r = await typed('VAE.load', () => VAE.load(pool.models[0], o as never));
        if (r.ok) await checkLoadedModel('VAE.load', r.value);
        await typed('Trainer.resume', () => Trainer.resume(pool.trainers[0], o as never));
      }),
      params('load.options', 500),
    );
  });

  it('Trainer.resume of mutated model files (no trainer state)', async () => {
    await fc.assert(
      fc.asyncProperty(mutation(pool.models), async (m) => {
        const bytes = mutate(pool.models, m);
        await typed('Trainer.resume', () => Trainer.resume(bytes));
      }),
      params('resume.models', 500),
    );
  });
});
