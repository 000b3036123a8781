// Convolutional VAEs end to end: the presets, every feature with conv layers (likelihoods, L
// samples, β / free bits, the IWAE objective and logLikelihood, save / load / resume,
// WorkerTrainer) and the same bits for 1, 2 and 3 threads. Imports the built Node entry
// (dist/node.js; npm test's pretest builds it), as WorkerTrainer needs.
import { describe, it, expect } from 'vitest';
import {
  VAE,
  Trainer,
  WorkerTrainer,
  PRESETS,
  resolveModelConfig,
  type ImageVAEOptions,
  type TrainerOptions,
} from '../dist/node.js';
import { BUILDS, fingerprint, randArray } from './helpers.js';
import { parameterCount } from '../src/config.js';

/** A small conv VAE on 12×12 images: two convs, a dense layer, a reshape, two deconvs, the 3×3 deconv head. */
const SMALL: ImageVAEOptions = {
  inputShape: [1, 12, 12],
  encoder: [
    { conv: 8, kernel: 3, stride: 2, padding: 1 },
    { conv: 16, kernel: 3, stride: 2, padding: 1 },
    { dense: 12 },
  ],
  latentDim: 3,
  decoder: [
    { dense: 16 * 3 * 3 },
    { reshape: [16, 3, 3] },
    { deconv: 8, kernel: 3, stride: 2, padding: 1, outputPadding: 1 },
    { deconv: 4, kernel: 3, stride: 2, padding: 1, outputPadding: 1 },
  ],
  seed: 11,
};
const D = 144;

async function run(
  build: (typeof BUILDS)[number],
  threads: number,
  model: Partial<ImageVAEOptions>,
  train: TrainerOptions,
) {
  const vae = await VAE.create({ ...SMALL, build, threads, ...model });
  expect(vae.threads).toBe(threads);
  const x = randArray(96 * D, 4, 0, 1);
  const t = new Trainer(vae, { batchSize: 32, ...train });
  const h = await t.fit(x, { epochs: 2, validationData: x.subarray(0, 20 * D) });
  const out = fingerprint(vae, h, () => t.save(), x, D, { samples: 2, k: 50, draws: 10, recon: 10 });
  vae.dispose();
  return out;
}

describe('presets', () => {
  it("Keras-io's conv VAE: the example's layers and its 134,165 parameters (summary: 69,076 + 65,089)", async () => {
    const c = resolveModelConfig(PRESETS.kerasIoConv);
    expect(c.inputDim).toBe(784);
    expect(c.latentDim).toBe(2);
    const vae = await VAE.create({ ...PRESETS.kerasIoConv, threads: 1 });
    expect(vae.parameterCount).toBe(69076 + 65089);
    const shapes = Object.fromEntries([...vae.stateDict()].map(([n, t]) => [n, t.shape]));
    expect(shapes).toEqual({
      'encoder.0.weight': [32, 1, 3, 3],
      'encoder.0.bias': [32],
      'encoder.1.weight': [64, 32, 3, 3],
      'encoder.1.bias': [64],
      'encoder.2.weight': [16, 3136],
      'encoder.2.bias': [16],
      'fc_mu.weight': [2, 16],
      'fc_mu.bias': [2],
      'fc_logvar.weight': [2, 16],
      'fc_logvar.bias': [2],
      'decoder.0.weight': [3136, 2],
      'decoder.0.bias': [3136],
      'decoder.2.weight': [64, 64, 3, 3],
      'decoder.2.bias': [64],
      'decoder.3.weight': [64, 32, 3, 3],
      'decoder.3.bias': [32],
      'fc_out.weight': [32, 1, 3, 3],
      'fc_out.bias': [1],
    });
    vae.dispose();
  });
  it('TFP-style conv VAE: latent 16, 28 → 1 → 28, leaky ReLU α = 0.2', () => {
    const c = resolveModelConfig(PRESETS.tfpConv);
    expect(c.latentDim).toBe(16);
    expect(c.activationAlpha).toBe(0.2);
    // torch.nn.Conv2d / ConvTranspose2d counts, (in·out·k² + out) each: encoder 832 + 25,632 + 51,264 +
    // 102,464 + 200,768; fc_mu, fc_logvar 2 · 1,040; decoder 50,240 + 102,464 + 102,464 + 51,232 +
    // 25,632 + 25,632; head 289
    expect(parameterCount(c)).toBe(
      832 +
        25632 +
        51264 +
        102464 +
        200768 +
        2 * 1040 +
        50240 +
        102464 +
        102464 +
        51232 +
        25632 +
        25632 +
        289,
    );
  });
});

describe.each(BUILDS)('%s build', (build) => {
  const cases: [string, Partial<ImageVAEOptions>, TrainerOptions][] = [
    ['bernoulli, relu, Adam, L = 2', {}, { samples: 2 }],
    [
      'gaussian-learned, tanh, free bits, β',
      { likelihood: 'gaussian-learned', activation: 'tanh' },
      { freeBits: 0.1, beta: 0.8 },
    ],
    ['IWAE k = 3, dynamic binarization', { binarization: 'dynamic' }, { objective: 'iwae', samples: 3 }],
  ];
  it.each(cases)('%s: the same bits with 1, 2 and 3 threads', async (_name, model, train) => {
    const ref = await run(build, 1, model, train);
    expect(ref.losses[1][0]).toBeLessThan(ref.losses[0][0]!); // it trains
    for (const n of [2, 3]) expect(await run(build, n, model, train), `${n} threads`).toEqual(ref);
  });

  it('save / load / resume: the same bits, PyTorch names and layouts', async () => {
    const x = randArray(64 * D, 6, 0, 1);
    const a = await VAE.create({ ...SMALL, build, threads: 1 });
    const ta = new Trainer(a, { batchSize: 16 });
    await ta.fit(x, { epochs: 1 });
    const b = await VAE.load(a.save(), { build });
    expect(b.config).toEqual(a.config);
    expect(b.config.inputShape).toEqual([1, 12, 12]);
    expect(Array.from(b.encode(x).mu)).toEqual(Array.from(a.encode(x).mu));
    expect(Array.from(b.decode(a.encode(x).mu))).toEqual(Array.from(a.decode(a.encode(x).mu)));
    const tb = await Trainer.resume(ta.save(), { build });
    await ta.fit(x, { epochs: 1 });
    await tb.fit(x, { epochs: 1 });
    expect([...tb.vae.stateDict().values()].map((t) => Array.from(t.data))).toEqual(
      [...a.stateDict().values()].map((t) => Array.from(t.data)),
    );
    tb.vae.dispose();
    expect(b.stateDict().get('decoder.3.weight')!.shape).toEqual([8, 4, 3, 3]); // ConvTranspose2d (in, out, kh, kw)
    expect(b.stateDict().get('encoder.1.weight')!.shape).toEqual([16, 8, 3, 3]); // Conv2d (out, in, kh, kw)
    a.dispose();
    b.dispose();
  });

  it('WorkerTrainer trains a conv VAE to the same bits as Trainer', async () => {
    const x = randArray(64 * D, 7, 0, 1);
    const a = await VAE.create({ ...SMALL, build, threads: 1 });
    const b = await VAE.create({ ...SMALL, build, threads: 1 });
    const h1 = await new Trainer(a, { batchSize: 16 }).fit(x, { epochs: 2 });
    const wt = await WorkerTrainer.create(b, { batchSize: 16 });
    try {
      const h2 = await wt.fit(x, { epochs: 2 });
      expect(h2.epochs.map((e) => e.loss)).toEqual(h1.epochs.map((e) => e.loss));
    } finally {
      wt.terminate();
    }
    expect([...b.stateDict().values()].map((t) => Array.from(t.data))).toEqual(
      [...a.stateDict().values()].map((t) => Array.from(t.data)),
    );
    a.dispose();
    b.dispose();
  });
});
