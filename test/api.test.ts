// What users pass: flat number[] / Float64Array / Int16Array / Uint8Array rows, arrays of rows and
// matrices give the same numbers as the equivalent Float32Array; other inputs are typed errors that
// name the data, what to pass and what was received. The preprocessing metadata says what fit did.
import { describe, expect, it } from 'vitest';
import { ConfigError, DataError, Trainer, VAE, decodeSafetensors } from '../src/node.js';

const D = 6;
const f32 = Float32Array.from({ length: 4 * D }, (_, i) => ((i * 7) % 11) / 10);

describe('inputs', () => {
  it('flat number[], Float64Array, Int16Array, rows and matrices: the same bits as Float32Array', async () => {
    const vae = await VAE.create({ inputDim: D, encoder: [5], latentDim: 2, seed: 1, threads: 1 });
    const ref = vae.encode(f32).mu;
    const rows = Array.from({ length: 4 }, (_, r) => Array.from(f32.subarray(r * D, (r + 1) * D)));
    for (const x of [Array.from(f32), Float64Array.from(f32), rows, { data: f32, rows: 4, cols: D }])
      expect(vae.encode(x).mu).toEqual(ref);
    const ints = Int16Array.from({ length: 2 * D }, (_, i) => i % 2);
    expect(vae.encode(ints).mu).toEqual(vae.encode(Float32Array.from(ints)).mu);
    // bytes are divided by 255, for every likelihood (documented on Input)
    const bytes = Uint8Array.from(f32, (v) => Math.round(v * 255));
    expect(vae.encode(bytes).mu).toEqual(vae.encode(Float32Array.from(bytes, (b) => b / 255)).mu);
  });

  it('bad inputs name the data, what to pass and what came', async () => {
    const vae = await VAE.create({ inputDim: D, encoder: [5], latentDim: 2, threads: 1 });
    expect(() => vae.encode('0,1,2' as never)).toThrow(ConfigError);
    expect(() => vae.encode('0,1,2' as never)).toThrow(
      /^x: expected rows of numbers \(a flat Float32Array, Float64Array, Uint8Array or number\[\] of rows × 6 values, an array of rows, or a \{ data, rows, cols \} matrix\), got "0,1,2" \(a string\)$/,
    );
    expect(() => vae.encode([1, 2, 'x', 4, 5, 6] as never)).toThrow(
      /^x: value at index 2 is not a number, got "x" \(a string\)$/,
    );
    expect(() => vae.encode([1, 2, 3])).toThrow(/^x: data length 3 is not divisible by cols 6$/);
    expect(() => vae.decode(new Float64Array(3))).toThrow(/^z: data length 3 is not divisible by cols 2$/);
    // the Bernoulli requirement said once, with the data's name
    let msg = '';
    try {
      vae.encode(Float32Array.from(f32, (v, i) => (i === 7 ? 2 : v)));
    } catch (e) {
      msg = (e as Error).message;
      expect(e).toBeInstanceOf(DataError);
    }
    expect(msg).toBe(
      'x has value 2 at row 1, col 1 (index 7) outside [0, 1], which the Bernoulli likelihood requires (scale the data into [0, 1], e.g. divide bytes by 255)',
    );
    const trainer = new Trainer(vae, { batchSize: 2 });
    await expect(trainer.fit(f32, { epochs: 1, validationData: new Float32Array(5) })).rejects.toThrow(
      /^validationData: data length 5 is not divisible by cols 6$/,
    );
  });
});

describe('preprocessing metadata', () => {
  it('records how fit read the training data and its range; a loaded model keeps it', async () => {
    const vae = await VAE.create({
      inputDim: D,
      encoder: [5],
      latentDim: 2,
      likelihood: 'gaussian',
      threads: 1,
    });
    const pre = (v: VAE) => JSON.parse(decodeSafetensors(v.save()).metadata.preprocessing);
    expect(pre(vae)).toEqual({ binarization: 'none', input: 'not trained' });
    const wide = Float32Array.from(f32, (v) => 40 * v - 7); // a Gaussian model on values outside [0, 1]
    await new Trainer(vae, { batchSize: 2 }).fit(wide, { epochs: 1 });
    expect(pre(vae)).toEqual({ binarization: 'none', input: 'values as given', range: [-7, 33] });
    await new Trainer(vae, { batchSize: 2 }).fit(
      Uint8Array.from(f32, (v) => v * 250),
      { epochs: 1 },
    );
    expect(pre(vae)).toEqual({
      binarization: 'none',
      input: 'bytes divided by 255',
      range: [0, Math.fround(250 / 255)],
    });
    expect(pre(await VAE.load(vae.save()))).toEqual(pre(vae));
  });
});

describe('the cosine schedule', () => {
  it('defaults its length to the fit: a 4-epoch fit anneals over 4 epochs (PyTorch CosineAnnealingLR, T_max 4)', async () => {
    const vae = await VAE.create({ inputDim: D, encoder: [5], latentDim: 2, threads: 1 });
    const t = new Trainer(vae, {
      batchSize: 2,
      optimizer: { name: 'adam', lr: 1e-3 },
      lrSchedule: { type: 'cosine' },
    });
    const h = await t.fit(f32, { epochs: 4 });
    const want = [0, 1, 2, 3].map((e) => (1e-3 * (1 + Math.cos((Math.PI * e) / 4))) / 2);
    expect(h.epochs.map((r) => r.lr)).toEqual(want.map((v) => expect.closeTo(v, 15)));
    expect(h.epochs[3].lr).toBeCloseTo(1.464e-4, 7);
    // a second fit of 2 epochs continues to the end of its own length (6 epochs in all)
    const h2 = await t.fit(f32, { epochs: 2 });
    expect(h2.epochs.slice(-2).map((r) => r.lr)).toEqual(
      [4, 5].map((e) => expect.closeTo((1e-3 * (1 + Math.cos((Math.PI * e) / 6))) / 2, 15)),
    );
  });
});

describe('logLikelihoodAsync', () => {
  it('the same bits as logLikelihood for a seed, with progress; abort rejects and leaves the model as it was', async () => {
    const vae = await VAE.create({ inputDim: D, encoder: [5], latentDim: 2, seed: 5, threads: 1 });
    const x = Float32Array.from({ length: 40 * D }, (_, i) => ((i * 13) % 17) / 16);
    const sync = vae.logLikelihood(x, { k: 3000, seed: 9 });
    const seen: { rows: number; total: number }[] = [];
    const got = await vae.logLikelihoodAsync(x, {
      k: 3000,
      seed: 9,
      onProgress: (p) => seen.push({ rows: p.rows, total: p.total }),
    });
    expect(got.perRow).toEqual(sync.perRow);
    expect(got.logLikelihood).toBe(sync.logLikelihood);
    expect(seen.at(-1)).toEqual({ rows: 40, total: 40 });
    for (let i = 1; i < seen.length; i++) expect(seen[i].rows).toBeGreaterThan(seen[i - 1].rows);
    // an unseeded call continues the model's stream as the synchronous one does
    const twin = await VAE.create({ inputDim: D, encoder: [5], latentDim: 2, seed: 5, threads: 1 });
    expect((await vae.logLikelihoodAsync(x, { k: 50 })).perRow).toEqual(
      twin.logLikelihood(x, { k: 50 }).perRow,
    );

    const before = vae.evaluate(x, { seed: 1 }).loss;
    const ctrl = new AbortController();
    ctrl.abort();
    await expect(vae.logLikelihoodAsync(x, { k: 100, seed: 2, signal: ctrl.signal })).rejects.toThrow(
      /aborted/,
    );
    const late = new AbortController();
    const p = vae.logLikelihoodAsync(x, {
      k: 20000,
      seed: 2,
      signal: late.signal,
      onProgress: () => late.abort(),
    });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(vae.evaluate(x, { seed: 1 }).loss).toBe(before);
    await expect(vae.logLikelihoodAsync(x, { signal: 'stop' as never })).rejects.toThrow(
      /signal must be an AbortSignal, got "stop" \(a string\)/,
    );
  });
});
