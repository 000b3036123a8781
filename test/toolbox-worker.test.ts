// The toolbox under WorkerTrainer (Node worker_threads, from the built entry like worker-node.test.ts):
// a plain autoencoder and a continuous-Bernoulli model train to the same losses and bit-identical
// weights as Trainer, records carry valKlPerDim, and conditions are refused with a ConfigError.
import { describe, it, expect } from 'vitest';
import { VAE, Trainer, WorkerTrainer, ConfigError } from '../dist/node.js';

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

  it('a conditional fit is a ConfigError (WorkerTrainer does not pass conditions yet)', async () => {
    const c = await VAE.create({ inputDim: D, encoder: [8], latentDim: 2, conditionDim: 3, threads: 1 });
    const w = await WorkerTrainer.create(c, { batchSize: 16 });
    try {
      await expect(w.fit(x, { epochs: 1, condition: new Float32Array(N * 3) })).rejects.toThrow(ConfigError);
    } finally {
      w.terminate();
    }
  });
});
