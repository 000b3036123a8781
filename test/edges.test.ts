// Numerical edges: each gets a correct result or a typed error naming the problem, and none leaves
// NaN weights behind silently.
import { describe, it, expect } from 'vitest';
import {
  VAE,
  Trainer,
  parseCsv,
  ConfigError,
  DataError,
  DivergenceError,
  type VAEOptions,
} from '../src/index.js';

const D = 16;
const SMALL: VAEOptions = { inputDim: D, encoder: [8], latentDim: 2, seed: 3, threads: 1 };

function finiteParams(vae: VAE): boolean {
  return vae.net.snapshot().params.every((v) => Number.isFinite(v));
}
function random(rows: number, cols = D, seed = 5): Float32Array {
  let s = seed;
  return new Float32Array(rows * cols).map(() => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 2 ** 32;
  });
}
/** Trains; returns 'ok' with finite weights and a finite evaluate, or the typed error (weights still finite). */
async function train(
  opts: VAEOptions,
  x: Float32Array,
  t: ConstructorParameters<typeof Trainer>[1] = {},
  epochs = 3,
): Promise<{ outcome: 'ok' | Error; vae: VAE }> {
  const vae = await VAE.create(opts);
  let outcome: 'ok' | Error = 'ok';
  try {
    await new Trainer(vae, { batchSize: 8, ...t }).fit(x, { epochs });
  } catch (e) {
    outcome = e as Error;
  }
  expect(finiteParams(vae)).toBe(true);
  if (outcome === 'ok') {
    const e = vae.evaluate(x);
    expect([e.loss, e.reconstruction, e.kl].every(Number.isFinite)).toBe(true);
  }
  return { outcome, vae };
}

describe('numerical edges', () => {
  it('all-zero and all-one images (Bernoulli) train to finite weights, and the model learns them', async () => {
    for (const v of [0, 1]) {
      const x = new Float32Array(64 * D).fill(v);
      const { outcome, vae } = await train(SMALL, x, { optimizer: { name: 'adam', lr: 1e-2 } }, 20);
      expect(outcome).toBe('ok');
      const p = vae.reconstruct(x.subarray(0, D));
      for (const q of p) expect(Math.abs(q - v)).toBeLessThan(0.05);
      expect(vae.evaluate(x).reconstruction).toBeLessThan(0.05 * D);
    }
  });

  it('a constant column in CSV data: Gaussian and learned-variance models stay finite (or diverge with a typed error)', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => `${(i % 7) / 7},3.5,${(i % 5) / 5},${(i * 13) % 11}`);
    const m = parseCsv(`a,b,c,d\n${rows.join('\n')}\n`);
    expect([m.rows, m.cols, m.header]).toEqual([40, 4, ['a', 'b', 'c', 'd']]);
    const cfg = { inputDim: 4, encoder: [8], latentDim: 2, seed: 1, threads: 1 };
    const g = await train({ ...cfg, likelihood: 'gaussian' }, m.data, {}, 20);
    expect(g.outcome).toBe('ok');
    const gl = await train(
      { ...cfg, likelihood: 'gaussian-learned' },
      m.data,
      { optimizer: { name: 'adam', lr: 1e-2 } },
      200,
    );
    console.log(
      `[edges] constant column, gaussian-learned, 200 epochs at lr 1e-2: ${gl.outcome === 'ok' ? `trains (loss ${gl.vae.evaluate(m.data).loss.toFixed(2)})` : gl.outcome.message}`,
    );
    if (gl.outcome !== 'ok') expect(gl.outcome).toBeInstanceOf(DivergenceError);
    // with the Bernoulli likelihood the values above 1 are a DataError naming value, row and column
    await expect(
      VAE.create({ ...cfg }).then((v) => new Trainer(v, { batchSize: 8 }).fit(m.data, { epochs: 1 })),
    ).rejects.toThrow(/value 3\.5 at row 0, col 1 \(index 1\) outside \[0, 1\]/);
  });

  it('data far outside [0, 1] for the Bernoulli likelihood: a DataError naming the value and the row', async () => {
    const x = random(20);
    x[5 * D + 2] = 255;
    const vae = await VAE.create(SMALL);
    const t = new Trainer(vae, { batchSize: 8 });
    const err = await t.fit(x, { epochs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/value 255 at row 5, col 2 \(index 82\) outside \[0, 1\]/);
    x[5 * D + 2] = -3;
    expect(() => vae.evaluate(x)).toThrow(/value -3 at row 5/);
    expect(finiteParams(vae)).toBe(true);
  });

  it('inputs of 1e30 (Gaussian): a typed error, or finite weights — never NaN weights', async () => {
    const x = random(32);
    x[3 * D + 1] = 1e30;
    const { outcome } = await train({ ...SMALL, likelihood: 'gaussian' }, x);
    console.log(
      `[edges] 1e30 input, gaussian: ${outcome === 'ok' ? 'trains' : `${outcome.name}: ${outcome.message}`}`,
    );
    if (outcome !== 'ok') expect(outcome).toBeInstanceOf(DivergenceError);
    const vae = await VAE.create({ ...SMALL, likelihood: 'gaussian' });
    // evaluate does not return Infinity or NaN: a DataError says the model overflows on this input
    expect(() => vae.evaluate(x)).toThrow(/non-finite reconstruction .*overflow float32 on this input/);
    expect(() => vae.evaluate(x)).toThrow(DataError);
    const big = random(8);
    big[0] = Infinity;
    expect(() => vae.evaluate(big)).toThrow(DataError);
  });

  it('learning rates 10 and 1e-12: finite weights (or a DivergenceError), and 1e-12 barely moves them', async () => {
    const x = random(64);
    for (const name of ['adam', 'sgd'] as const) {
      const hi = await train(SMALL, x, { optimizer: { name, lr: 10 } });
      console.log(`[edges] ${name} lr 10: ${hi.outcome === 'ok' ? 'trains' : hi.outcome.name}`);
      if (hi.outcome !== 'ok') expect(hi.outcome).toBeInstanceOf(DivergenceError);
      const before = (await VAE.create(SMALL)).net.snapshot().params;
      const lo = await train(SMALL, x, { optimizer: { name, lr: 1e-12 } });
      expect(lo.outcome).toBe('ok');
      const after = lo.vae.net.snapshot().params;
      let maxd = 0;
      for (let i = 0; i < after.length; i++) maxd = Math.max(maxd, Math.abs(after[i] - before[i]));
      expect(maxd).toBeLessThan(1e-9);
    }
  });

  it('a batch larger than the data: a ConfigError naming both numbers', async () => {
    const vae = await VAE.create(SMALL);
    await expect(new Trainer(vae, { batchSize: 128 }).fit(random(20), { epochs: 1 })).rejects.toThrow(
      ConfigError,
    );
    await expect(new Trainer(vae, { batchSize: 128 }).fit(random(20), { epochs: 1 })).rejects.toThrow(
      /batchSize 128 is larger than the 20 training rows/,
    );
    expect(finiteParams(vae)).toBe(true);
  });

  it('one row of data: trains at batch 1 (every reduction) to finite weights and losses', async () => {
    for (const reduction of ['sum', 'mean', 'dataset'] as const) {
      const { outcome, vae } = await train(SMALL, random(1), { batchSize: 1, reduction }, 10);
      expect(outcome).toBe('ok');
      expect(vae.evaluate(random(1)).loss).toBeGreaterThan(0);
    }
  });
});
