// The toolbox under WorkerTrainer (Node worker_threads, from the built entry like worker-node.test.ts):
// a plain autoencoder and a continuous-Bernoulli model train to the same losses and bit-identical
// weights as Trainer, records carry valKlPerDim, and a conditional VAE trains with its conditions.
import { describe, it, expect } from 'vitest';
import { VAE, Trainer, WorkerTrainer, ConfigError, oneHot } from '../dist/node.js';

const D = 12,
  N = 128;
const x = new Float32Array(N * D);
for (let r = 0; r < N; r++)
  for (let j = 0; j < D; j++) x[r * D + j] = 1 / (1 + Math.exp(-4 * Math.sin(r * 0.1 + j)));

describe('the toolbox under WorkerTrainer', () => {
  it.each([[{ variational: false }], [{ likelihood: 'continuous-bernoulli' as const }]])(
    '%j: the same losses and weights as Trainer; valKlPerDim in the records',
    async (o) => {
      const model = { inputDim: D, encoder: [8], latentDim: 2, seed: 1, threads: 1, ...o };
      const a = await VAE.create(model),
        b = await VAE.create(model);
      const fit = { epochs: 3, validationData: x, klPerDim: true };
      const h1 = await new Trainer(a, { batchSize: 16 }).fit(x, fit);
      const w = await WorkerTrainer.create(b, { batchSize: 16 });
      try {
        const h2 = await w.fit(x, fit);
        expect(h2.epochs.map((r) => r.loss)).toEqual(h1.epochs.map((r) => r.loss));
        expect(h2.epochs.map((r) => r.valKlPerDim)).toEqual(h1.epochs.map((r) => r.valKlPerDim));
        for (const [name, t] of a.stateDict()) expect(b.stateDict().get(name)!.data).toEqual(t.data);
        if ('variational' in o) expect(h2.epochs[2].valKlPerDim).toEqual([0, 0]);
      } finally {
        w.terminate();
      }
    },
  );

  it('a conditional VAE: the same losses and weights as Trainer; conditions are checked before the worker runs', async () => {
    const model = { inputDim: D, encoder: [8], latentDim: 2, conditionDim: 3, seed: 2, threads: 1 };
    const y = oneHot(
      Array.from({ length: N }, (_, i) => i % 3),
      3,
    );
    const fit = {
      epochs: 2,
      condition: y,
      validationData: x.subarray(0, 30 * D),
      validationCondition: y.data.subarray(0, 90),
    };
    const a = await VAE.create(model),
      b = await VAE.create(model);
    const h1 = await new Trainer(a, { batchSize: 16 }).fit(x, fit);
    const w = await WorkerTrainer.create(b, { batchSize: 16 });
    try {
      const h2 = await w.fit(x, fit);
      expect(h2.epochs.map((r) => [r.loss, r.valLoss])).toEqual(h1.epochs.map((r) => [r.loss, r.valLoss]));
      for (const [name, t] of a.stateDict()) expect(b.stateDict().get(name)!.data).toEqual(t.data);
      await expect(w.fit(x, { epochs: 1 })).rejects.toThrow(ConfigError);
      await expect(w.fit(x, { epochs: 1, condition: y.data.subarray(0, 30) })).rejects.toThrow(
        /condition has 10 rows; expected 128/,
      );
      // still usable
      expect((await w.fit(x, { epochs: 1, condition: y })).epochs.length).toBe(3); // the history goes on
    } finally {
      w.terminate();
    }
  });
});
