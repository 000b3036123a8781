// The toolbox of issue 13: the continuous Bernoulli likelihood, draws x ~ p(x|z), bits per
// dimension, per-dimension KL, cyclical KL annealing, spherical interpolation — each against an
// independent reference (f64 formulas, the library's RNG stream replayed on a separate instance,
// sampling statistics with 4σ bounds).
import { describe, it, expect, beforeAll } from 'vitest';
import { BUILDS, Heap, kernels, expectClose, randArray, paramsOf, checkGrad } from './helpers.js';
import { cbMeanRef, cbCdfRef, modelLossRef, type RefConfig } from './ref.js';
import { Network, elbo, IWAE, seedWords } from '../src/network.js';
import { resolveModelConfig, parameterCount } from '../src/config.js';
import { initParams, seedRng } from '../src/init.js';
// the node entry: it gives the thread pool its Worker
import { VAE, Trainer } from '../src/node.js';
import { ConfigError, DataError, ShapeError } from '../src/errors.js';
import { oneHot } from '../src/data/preprocess.js';
import type { Likelihood } from '../src/config.js';
import type { Kernels } from '../src/wasm.js';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

function expectThrows(fn: () => unknown, E: new (...a: never[]) => Error, re: RegExp) {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected a ${E.name}`).toBeInstanceOf(E);
  expect((err as Error).message).toMatch(re);
}

/** A model whose decoder ignores z: fc_out's weight is 0, its bias the given outputs (and fc_out_logvar's). */
async function fixedDecoder(likelihood: Likelihood, bias: number[], lvBias?: number[], sigma?: number) {
  const vae = await VAE.create({
    inputDim: bias.length,
    encoder: [4],
    decoder: [],
    latentDim: 3,
    likelihood,
    sigma,
    seed: 3,
    threads: 1,
  });
  vae.net.view(vae.net.outHead.weight).fill(0);
  vae.net.view(vae.net.outHead.bias).set(bias);
  if (vae.net.outLogvarHead) {
    vae.net.view(vae.net.outLogvarHead.weight).fill(0);
    vae.net.view(vae.net.outLogvarHead.bias).set(lvBias!);
  }
  return vae;
}

describe.each(BUILDS)('continuous Bernoulli and draws (%s build)', (build) => {
  let k: Kernels;
  let heap: Heap;
  beforeAll(async () => {
    k = await kernels(build);
    heap = new Heap(k);
  });

  /**
   * The sampling stream replayed on a separate kernel instance, chunk by chunk as the model runs
   * it (chunkRows 256): per chunk `zPerRow` normals per row (sample's z), then D draws per row.
   */
  function replay(
    seed: number,
    rows: number,
    zPerRow: number,
    D: number,
    kind: 'uniform' | 'normal',
  ): Float32Array {
    heap.reset();
    const st = heap.alloc(4),
      a = heap.alloc(256 * Math.max(zPerRow, 1)),
      b = heap.alloc(256 * D),
      out = new Float32Array(rows * D);
    const [lo, hi] = seedWords(seed);
    k.exports.rng_seed(st, lo, hi);
    for (let r = 0; r < rows; r += 256) {
      const n = Math.min(256, rows - r);
      if (zPerRow) k.exports.rng_normal(a, n * zPerRow, st, 0, 1);
      if (kind === 'uniform') k.exports.rng_uniform(b, n * D, st, 0, 1);
      else k.exports.rng_normal(b, n * D, st, 0, 1);
      out.set(heap.f32(b, n * D), r * D);
    }
    return out;
  }

  const logits = [-30, -4, -1.2, -0.3, -1e-3, 0, 2e-4, 0.45, 0.8, 3, 9, 40];
  const D = logits.length;

  it("decode: E[x|z] (the continuous Bernoulli's mean) by default, λ = σ(l) with output 'lambda'", async () => {
    const vae = await fixedDecoder('continuous-bernoulli', logits);
    expect(vae.config.likelihood).toBe('continuous-bernoulli');
    const z = randArray(2 * 3, 1);
    const mean = vae.decode(z),
      lam = vae.decode(z, { output: 'lambda' });
    for (let r = 0; r < 2; r++) {
      expectClose(mean.slice(r * D, (r + 1) * D), logits.map(cbMeanRef), { atol: 3e-7, rtol: 0 }, 'mean');
      expectClose(lam.slice(r * D, (r + 1) * D), logits.map(sigmoid), { atol: 1e-7, rtol: 1e-6 }, 'lambda');
    }
    // the mean is pulled towards ½ relative to λ, on both sides
    for (let i = 0; i < D; i++)
      expect(Math.abs(mean[i] - 0.5)).toBeLessThanOrEqual(Math.abs(lam[i] - 0.5) + 1e-7);
    // sample and reconstruct return the same kinds
    expectClose(vae.sample(2, { seed: 1 }), mean, { atol: 0, rtol: 0 }, 'sample mean');
    expectClose(
      vae.reconstruct(randArray(2 * D, 2, 0, 1), { output: 'lambda' }),
      lam,
      { atol: 0, rtol: 0 },
      'reconstruct λ',
    );
    // for 'bernoulli' λ is the mean
    const bern = await fixedDecoder('bernoulli', logits);
    expect(bern.decode(z, { output: 'lambda' })).toEqual(bern.decode(z));
  });

  const cases: [Likelihood, (o: number, r: number, i: number) => number | null, 'uniform' | 'normal'][] = [
    ['bernoulli', (o, u) => (u < sigmoid(o) ? 1 : 0), 'uniform'],
    ['continuous-bernoulli', () => null, 'uniform'],
    ['gaussian', (o, n) => o + 0.4 * n, 'normal'],
    ['gaussian-learned', (o, n, i) => o + Math.exp(0.5 * ((i % 5) - 2)) * n, 'normal'],
  ];
  it.each(cases)(
    '%s: decode and sample with draw: true replay the sampling stream exactly',
    async (lik, f, kind) => {
      const out = lik.includes('bernoulli') ? logits : logits.map((l) => l / 10);
      const vae = await fixedDecoder(
        lik,
        out,
        out.map((_, i) => (i % 5) - 2),
        lik === 'gaussian' ? 0.4 : undefined,
      );
      const rows = 300,
        z = randArray(rows * 3, 5);
      const x = vae.decode(z, { draw: true, seed: 11 });
      const noise = replay(11, rows, 0, D, kind);
      for (let i = 0; i < rows * D; i++) {
        const o = out[i % D];
        if (lik === 'continuous-bernoulli') {
          expect(x[i]).toBeGreaterThanOrEqual(0);
          expect(x[i]).toBeLessThanOrEqual(1);
          expect(Math.abs(cbCdfRef(x[i], o) - noise[i]), `F(x) = u at l = ${o}`).toBeLessThan(3e-6);
        } else {
          const want = f(o, noise[i], i % D)!;
          expect(Math.abs(x[i] - want)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
        }
      }
      // sample(n, { draw }) draws z first (n·Z normals), then x
      const s = vae.sample(rows, { draw: true, seed: 12 });
      const noise2 = replay(12, rows, 3, D, kind);
      if (lik === 'bernoulli')
        expect(Array.from(s)).toEqual(Array.from(noise2, (u, i) => (u < sigmoid(out[i % D]) ? 1 : 0)));
      for (let i = 0; i < rows * D; i++) {
        if (lik === 'continuous-bernoulli')
          expect(Math.abs(cbCdfRef(s[i], out[i % D]) - noise2[i])).toBeLessThan(3e-6);
        else if (lik !== 'bernoulli') {
          const want = f(out[i % D], noise2[i], i % D)!;
          expect(Math.abs(s[i] - want)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
        }
      }
      // a seed gives the same bits; another seed other draws; an unseeded call advances the model's stream
      expect(vae.decode(z, { draw: true, seed: 11 })).toEqual(x);
      expect(vae.decode(z, { draw: true, seed: 13 })).not.toEqual(x);
      const u1 = vae.decode(z, { draw: true }),
        u2 = vae.decode(z, { draw: true });
      expect(u2).not.toEqual(u1);
    },
  );

  it("continuous-Bernoulli draws have the distribution's mean (4σ bounds over 4000 draws per element)", async () => {
    const vae = await fixedDecoder('continuous-bernoulli', logits);
    const n = 4000,
      x = vae.sample(n, { draw: true, seed: 3 });
    for (let j = 0; j < D; j++) {
      let s = 0;
      for (let r = 0; r < n; r++) s += x[r * D + j];
      // Var ≤ 1/12 (the uniform's, at λ = ½, is the largest)
      expect(Math.abs(s / n - cbMeanRef(logits[j])), `element ${j}`).toBeLessThan(4 * Math.sqrt(1 / 12 / n));
    }
  });

  it('trains on grey-level data: −ELBO falls below 0 (a density on [0, 1]), save/load keeps the numbers', async () => {
    const vae = await VAE.create({
      inputDim: 12,
      encoder: [16],
      latentDim: 2,
      likelihood: 'continuous-bernoulli',
      seed: 5,
      threads: 1,
      build,
    });
    const N = 256,
      x = new Float32Array(N * 12);
    // grey levels on a 1-D curve, mostly towards 0 and 1, where the continuous Bernoulli can concentrate
    for (let r = 0; r < N; r++)
      for (let j = 0; j < 12; j++) x[r * 12 + j] = sigmoid(5 * Math.sin((r / N) * 6.28 + j * 0.5));
    const before = vae.evaluate(x, { seed: 1 }).loss;
    await new Trainer(vae, { batchSize: 32, optimizer: { name: 'adam', lr: 1e-2 } }).fit(x, { epochs: 30 });
    const after = vae.evaluate(x, { seed: 1 }).loss;
    expect(after).toBeLessThan(before - 5);
    expect(after).toBeLessThan(0); // −log of a density can be negative; a Bernoulli's −log p cannot
    const again = await VAE.load(vae.save(), { threads: 1, build });
    expect(again.config.likelihood).toBe('continuous-bernoulli');
    expect(again.evaluate(x, { seed: 1 }).loss).toBe(after);
  });

  it('bad options and data are typed errors naming the problem', async () => {
    const cb = await fixedDecoder('continuous-bernoulli', [0, 1]);
    const g = await fixedDecoder('gaussian', [0, 1]);
    const z = [[0, 0, 0]];
    expectThrows(() => g.decode(z, { output: 'lambda' }), ConfigError, /output 'lambda'.*'gaussian'/);
    expectThrows(() => cb.decode(z, { output: 'median' as 'mean' }), ConfigError, /unknown output "median"/);
    expectThrows(
      () => cb.decode(z, { draw: 'yes' as unknown as boolean }),
      ConfigError,
      /draw must be true or false/,
    );
    expectThrows(() => cb.decode(z, { draw: true, output: 'mean' }), ConfigError, /leave output out/);
    expectThrows(() => cb.sample(2, { drow: true } as never), ConfigError, /unknown sample option "drow"/);
    expectThrows(() => cb.decode(z, { seed: -1 }), ConfigError, /seed/);
    expectThrows(
      () => cb.evaluate([[0.5, 1.5]]),
      DataError,
      /which the continuous Bernoulli likelihood requires/,
    );
    await expect(
      VAE.create({ inputDim: 2, likelihood: 'continuous-bernoulli', binarization: 'dynamic' }),
    ).rejects.toThrow(/binarization only makes sense with the bernoulli likelihood/);
  });
});

describe('diagnostics: bits per dimension, per-dimension KL', () => {
  it('evaluate: klPerDim is the f64 closed-form KL of encode() per unit, sums to kl; a dead unit has 0; bitsPerDim = loss / (D ln 2)', async () => {
    const D = 9,
      Z = 4;
    const vae = await VAE.create({
      inputDim: D,
      encoder: [7],
      latentDim: Z,
      seed: 2,
      threads: 1,
      chunkRows: 16,
    });
    // unit 2 ignores x and matches the prior exactly: μ = 0, log σ² = 0
    const wm = vae.net.view(vae.net.muHead.weight),
      wl = vae.net.view(vae.net.logvarHead!.weight);
    wm.fill(0, 2 * 7, 3 * 7);
    wl.fill(0, 2 * 7, 3 * 7);
    vae.net.view(vae.net.muHead.bias)[2] = 0;
    vae.net.view(vae.net.logvarHead!.bias)[2] = 0;
    const N = 50,
      x = randArray(N * D, 7, 0, 1);
    const ev = vae.evaluate(x, { seed: 1 });
    const { mu, logvar } = vae.encode(x);
    const ref = new Float64Array(Z);
    for (let r = 0; r < N; r++)
      for (let j = 0; j < Z; j++) {
        const m = mu[r * Z + j],
          v = logvar[r * Z + j];
        ref[j] += (-0.5 * (1 + v - m * m - Math.exp(v))) / N;
      }
    expect(ev.klPerDim.length).toBe(Z);
    expectClose(ev.klPerDim, ref, { atol: 1e-7, rtol: 1e-6 }, 'klPerDim');
    expect(ev.klPerDim[2]).toBe(0);
    const sum = ev.klPerDim.reduce((a, b) => a + b, 0);
    expect(Math.abs(sum - ev.kl)).toBeLessThan(1e-6 * ev.kl);
    expect(ev.bitsPerDim).toBeCloseTo(ev.loss / (D * Math.LN2), 12);
    // the same with 3 samples per row (chunks of 5 rows): the KL does not depend on ε
    const ev3 = vae.evaluate(x, { samples: 3, seed: 1 });
    expectClose(ev3.klPerDim, ev.klPerDim, { atol: 1e-12, rtol: 1e-12 }, 'klPerDim, L = 3');
    const ll = vae.logLikelihood(x.subarray(0, 3 * D), { k: 20, seed: 1 });
    expect(ll.bitsPerDim).toBeCloseTo(-ll.logLikelihood / (D * Math.LN2), 12);
  });

  it("fit's klPerDim adds valKlPerDim to each epoch record (the last equals evaluate's); without validation data a ConfigError", async () => {
    const D = 6;
    const vae = await VAE.create({ inputDim: D, encoder: [5], latentDim: 3, seed: 1, threads: 1 });
    const x = randArray(64 * D, 3, 0, 1),
      val = randArray(16 * D, 4, 0, 1);
    const t = new Trainer(vae, { batchSize: 16 });
    const h = await t.fit(x, { epochs: 2, validationData: val, klPerDim: true });
    expect(h.epochs.map((r) => r.valKlPerDim?.length)).toEqual([3, 3]);
    const last = h.epochs[1];
    expect(last.valKlPerDim!.reduce((a, b) => a + b, 0)).toBeCloseTo(last.valKl!, 6);
    await expect(t.fit(x, { epochs: 1, klPerDim: true })).rejects.toThrow(/klPerDim needs validationData/);
    const h2 = await t.fit(x, { epochs: 1, validationData: val });
    expect(h2.epochs.at(-1)!.valKlPerDim).toBeUndefined();
  });
});

describe('cyclical KL annealing (Fu et al. 2019)', () => {
  const fu = (t: number, len: number, ratio: number, beta: number, cycles?: number) =>
    cycles !== undefined && t >= cycles * len ? beta : beta * Math.min(1, (t % len) / len / ratio);

  it('β per step follows mod(t, T/M)/(T/M)/R, clipped at 1, by steps and by epochs; after `cycles` it holds', async () => {
    const D = 5;
    const x = randArray(40 * D, 1, 0, 1);
    const run = async (opts: object, epochs: number) => {
      const vae = await VAE.create({ inputDim: D, encoder: [4], latentDim: 2, seed: 1, threads: 1 });
      const betas: number[] = [];
      await new Trainer(vae, { batchSize: 10, ...opts }).fit(x, {
        epochs,
        onBatchEnd: (b) => void betas.push(b.beta),
      });
      return betas;
    };
    const a = await run({ beta: 2, klCycle: { steps: 6, ratio: 0.5 } }, 5);
    expect(a).toEqual(Array.from({ length: 20 }, (_, t) => fu(t, 6, 0.5, 2)));
    expect(a.slice(0, 7)).toEqual([0, 2 / 3, 4 / 3, 2, 2, 2, 0]);
    const b = await run({ klCycle: { steps: 4, ratio: 1, cycles: 2 } }, 4);
    expect(b).toEqual(Array.from({ length: 16 }, (_, t) => fu(t, 4, 1, 1, 2)));
    expect(b.slice(7, 10)).toEqual([0.75, 1, 1]);
    // by epochs: 4 batches an epoch, cycles of 2 epochs, β rising over the first 0.25 of each
    const c = await run({ klCycle: { epochs: 2, ratio: 0.25 } }, 4);
    expect(c).toEqual(Array.from({ length: 16 }, (_, t) => fu(t / 4, 2, 0.25, 1)));
  });

  it('bad schedules are ConfigErrors naming the problem', async () => {
    const vae = await VAE.create({ inputDim: 3, encoder: [2], latentDim: 1, threads: 1 });
    const bad: [object, RegExp][] = [
      [{ klCycle: {} }, /klCycle needs exactly one of steps or epochs/],
      [{ klCycle: { steps: 5, epochs: 1 } }, /klCycle needs exactly one of steps or epochs/],
      [{ klCycle: { steps: 5, ratio: 0 } }, /klCycle.ratio must be a number in \(0, 1\]/],
      [{ klCycle: { steps: 5, ratio: 1.5 } }, /klCycle.ratio must be a number in \(0, 1\]/],
      [{ klCycle: { steps: -1 } }, /klCycle.steps/],
      [{ klCycle: { steps: 5, cycles: 0.5 } }, /klCycle.cycles/],
      [{ klCycle: { steps: 5, period: 3 } }, /unknown klCycle option "period"/],
      [{ klCycle: { steps: 5 }, klWarmup: { steps: 5 } }, /klWarmup and klCycle/],
      [{ klCycle: { steps: 5 }, objective: 'iwae' }, /objective 'iwae' has no β/],
    ];
    for (const [o, re] of bad) expectThrows(() => new Trainer(vae, o), ConfigError, re);
  });
});

describe('interpolate with path: slerp', () => {
  it('an identity decoder returns z itself: the f64 slerp formula, its endpoints and constant norm between equal-norm ends', async () => {
    const Z = 3;
    const vae = await VAE.create({
      inputDim: Z,
      encoder: [4],
      decoder: [],
      latentDim: Z,
      likelihood: 'gaussian',
      seed: 4,
      threads: 1,
    });
    vae.net.view(vae.net.outHead.weight).set([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    vae.net.view(vae.net.outHead.bias).fill(0);
    // μ = x: fc_mu is the identity through an identity encoder layer
    const lin = await VAE.create({
      inputDim: Z,
      encoder: [Z],
      decoder: [],
      latentDim: Z,
      activation: 'identity',
      likelihood: 'gaussian',
      seed: 4,
      threads: 1,
    });
    for (const m of [lin]) {
      const net = m.net;
      const eye = [1, 0, 0, 0, 1, 0, 0, 0, 1];
      net.view(net.paramSlots.find((s) => s.name === 'encoder.0.weight')!).set(eye);
      net.view(net.paramSlots.find((s) => s.name === 'encoder.0.bias')!).fill(0);
      net.view(net.muHead.weight).set(eye);
      net.view(net.muHead.bias).fill(0);
      net.view(net.outHead.weight).set(eye);
      net.view(net.outHead.bias).fill(0);
    }
    const a = [2, 0, 0],
      b = [0, 0, 2];
    const steps = 5,
      got = lin.interpolate(a, b, steps, { path: 'slerp' });
    const th = Math.PI / 2;
    for (let s = 0; s < steps; s++) {
      const t = s / (steps - 1);
      const wa = Math.sin((1 - t) * th) / Math.sin(th),
        wb = Math.sin(t * th) / Math.sin(th);
      const ref = a.map((v, j) => wa * v + wb * b[j]);
      expectClose(got.slice(s * Z, (s + 1) * Z), ref, { atol: 1e-6, rtol: 1e-6 }, `step ${s}`);
      expect(Math.hypot(...got.slice(s * Z, (s + 1) * Z))).toBeCloseTo(2, 5);
    }
    // the line dips: its midpoint has norm √2
    const line = lin.interpolate(a, b, 3);
    expect(Math.hypot(...line.slice(Z, 2 * Z))).toBeCloseTo(Math.SQRT2, 5);
    expect(lin.interpolate(a, b, 3, { path: 'linear' })).toEqual(line);
    // parallel ends: slerp is the line
    expect(lin.interpolate([1, 1, 0], [2, 2, 0], 4, { path: 'slerp' })).toEqual(
      lin.interpolate([1, 1, 0], [2, 2, 0], 4),
    );
    expectThrows(
      () => lin.interpolate(a, b, 3, { path: 'geodesic' as 'slerp' }),
      ConfigError,
      /unknown path "geodesic"/,
    );
    expectThrows(() => vae.interpolate(a, b, 3, { output: 'lambda' }), ConfigError, /output 'lambda'/);
  });
});

describe.each(BUILDS)('plain autoencoder, variational: false (%s build)', (build) => {
  let k: Kernels;
  beforeAll(async () => {
    k = await kernels(build);
  });

  it.each([
    ['bernoulli', 'relu', 1],
    ['gaussian', 'tanh', 2],
    ['continuous-bernoulli', 'elu', 1],
  ] as const)(
    '%s / %s, L = %i: loss = Σ_b rec_b at z = μ (f64), no KL; every gradient = finite differences',
    (lik, act, L) => {
      const cfg = resolveModelConfig({
        inputDim: 10,
        encoder: [8],
        latentDim: 3,
        decoder: [7],
        activation: act,
        likelihood: lik,
        variational: false,
      });
      const B = 4;
      const net = new Network(k, cfg, { dataRows: B, sampleRows: B * L });
      expect(net.paramSlots.map((p) => p.name)).not.toContain('fc_logvar.weight');
      expect(net.table.map((l) => l.kind)).toContain('latent-copy');
      seedRng(net, 3);
      initParams(net, 'glorot');
      const x = lik.includes('bernoulli') ? randArray(B * 10, 3, 0, 1) : randArray(B * 10, 3, -1, 1);
      net.actView('x', x.length).set(x);
      net.actView('eps', B * L * 3).set(randArray(B * L * 3, 9)); // must not matter
      for (const s of net.paramSlots) net.view(s, 'grad').fill(7); // the backward pass writes every gradient
      const r = net.loss(B, L, elbo(1));
      // the f64 reference with fc_logvar = 0 and ε = 0 is z = μ; β = 0 drops its KL
      const params = paramsOf(net);
      params['fc_logvar.weight'] = new Float64Array(3 * 8);
      params['fc_logvar.bias'] = new Float64Array(3);
      const eps0 = new Float64Array(B * L * 3);
      const ref = () => modelLossRef(cfg as RefConfig, params, x, eps0, B, L, 0);
      expect(r.kl).toBe(0);
      expect(Math.abs(r.loss - ref().loss) / Math.abs(ref().loss)).toBeLessThan(2e-6);
      expect(Math.abs(r.rec - ref().loss) / Math.abs(ref().loss)).toBeLessThan(2e-6);
      checkGrad(net, params, () => ref().loss, 1, `autoencoder ${lik}`);
      expect(() => net.loss(B, L, IWAE)).toThrow(ConfigError);
      expect(() => net.loss(B, L, elbo(1, 0.5))).toThrow(/no free bits/);
    },
  );

  it('the model: parameters without fc_logvar, no logvar, kl 0, trains, saves and loads; same bits on 2 threads', async () => {
    const opts = { inputDim: 12, encoder: [10], latentDim: 2, variational: false, seed: 9, build };
    const ae = await VAE.create({ ...opts, threads: 1 });
    expect(ae.config.variational).toBe(false);
    expect(ae.parameterCount).toBe(parameterCount({ ...ae.config, variational: true }) - (10 + 1) * 2);
    expect(ae.parameterCount).toBe(parameterCount(ae.config));
    expect([...ae.stateDict().keys()]).not.toContain('fc_logvar.weight');
    const N = 128,
      x = new Float32Array(N * 12);
    for (let r = 0; r < N; r++)
      for (let j = 0; j < 12; j++) x[r * 12 + j] = sigmoid(4 * Math.sin(r * 0.1 + j));
    const q = ae.encode(x.subarray(0, 24));
    expect(q.logvar.length).toBe(0); // no variance: z = μ(x)
    expect(ae.reconstruct(x.subarray(0, 24))).toEqual(ae.decode(q.mu));
    expect(ae.reconstruct(x.subarray(0, 24), { sample: true, seed: 1 })).toEqual(ae.decode(q.mu));
    const before = ae.evaluate(x);
    expect(before.kl).toBe(0);
    expect(Array.from(before.klPerDim)).toEqual([0, 0]);
    const fit = async (threads: number) => {
      const m = await VAE.create({ ...opts, threads });
      const h = await new Trainer(m, { batchSize: 16, optimizer: { name: 'adam', lr: 1e-2 } }).fit(x, {
        epochs: 8,
        validationData: x.subarray(0, 32 * 12),
      });
      return { m, h };
    };
    const one = await fit(1),
      two = await fit(2);
    expect(two.m.threads).toBe(2);
    expect(one.h.epochs.every((r) => r.kl === 0 && r.valKl === 0)).toBe(true);
    expect(one.h.epochs.at(-1)!.loss).toBeLessThan(one.h.epochs[0].loss - 1);
    expect(two.m.stateDict().get('fc_mu.weight')!.data).toEqual(one.m.stateDict().get('fc_mu.weight')!.data);
    expect(two.h.epochs.map((r) => r.loss)).toEqual(one.h.epochs.map((r) => r.loss));
    two.m.dispose();
    const again = await VAE.load(one.m.save(), { threads: 1, build });
    expect(again.config.variational).toBe(false);
    expect(again.evaluate(x).loss).toBe(one.m.evaluate(x).loss);
    // prior samples decode like any model's
    expect(again.sample(4, { seed: 2 }).length).toBe(4 * 12);
    // what an autoencoder cannot do is a typed error
    expectThrows(() => again.logLikelihood(x), ConfigError, /plain autoencoder.*no density/);
    for (const o of [
      { objective: 'iwae' },
      { beta: 2 },
      { freeBits: 0.5 },
      { klWarmup: { steps: 3 } },
      { klCycle: { steps: 3 } },
    ])
      expectThrows(
        () => new Trainer(again, o as object),
        ConfigError,
        /plain autoencoder \(variational: false\) has no KL term/,
      );
    await expect(VAE.create({ inputDim: 3, variational: 'no' as unknown as boolean })).rejects.toThrow(
      /variational must be true or false/,
    );
  });
});

describe.each(BUILDS)('conditional VAE, conditionDim (%s build)', (build) => {
  let k: Kernels;
  beforeAll(async () => {
    k = await kernels(build);
  });

  it.each([
    ['bernoulli', 'relu', [6], [5], 1, true],
    ['gaussian', 'tanh', [6], [5], 3, true],
    ['bernoulli', 'elu', [], [], 2, true],
    ['continuous-bernoulli', 'relu', [6], [5], 1, false],
  ] as const)(
    '%s / %s, encoder %j decoder %j, L = %i, variational %s: loss = f64 reference on [x | y] and [z | y]; every gradient = finite differences',
    (lik, act, encoder, decoder, L, variational) => {
      const C = 3;
      const cfg = resolveModelConfig({
        inputDim: 8,
        encoder: [...encoder],
        latentDim: 2,
        decoder: [...decoder],
        activation: act,
        likelihood: lik,
        conditionDim: C,
        variational,
      });
      const B = 4;
      const net = new Network(k, cfg, { dataRows: B, sampleRows: B * L });
      // the first layer of each side reads D + C and Z + C inputs
      const first = (name: string) => net.paramSlots.find((s) => s.name === name)!.shape;
      expect(first(encoder.length ? 'encoder.0.weight' : 'fc_mu.weight')[1]).toBe(8 + C);
      expect(first(decoder.length ? 'decoder.0.weight' : 'fc_out.weight')[1]).toBe(2 + C);
      expect(net.paramSlots.reduce((s, p) => s + p.floats, 0)).toBe(parameterCount(cfg));
      seedRng(net, 5);
      initParams(net, 'glorot');
      const x = lik.includes('bernoulli') ? randArray(B * 8, 3, 0, 1) : randArray(B * 8, 3, -1, 1);
      const cond = Float32Array.from({ length: B * C }, (_, i) =>
        i % C === (i / C) % C ? 1 : 0.25 * (i % 2),
      );
      const eps = variational ? randArray(B * L * 2, 4, -2, 2) : new Float32Array(B * L * 2);
      net.actView('x', x.length).set(x);
      net.put('cond', cond, 0, cond.length);
      net.actView('eps', eps.length).set(eps);
      for (const s of net.paramSlots) net.view(s, 'grad').fill(5);
      const r = { ...net.loss(B, L, elbo(0.7)) };
      const params = paramsOf(net);
      if (!variational) {
        params['fc_logvar.weight'] = new Float64Array(2 * 6);
        params['fc_logvar.bias'] = new Float64Array(2);
      }
      const ref = () =>
        modelLossRef(cfg as RefConfig, params, x, eps, B, L, variational ? 0.7 : 0, cond).loss;
      expect(Math.abs(r.loss - ref()) / Math.abs(ref())).toBeLessThan(2e-6);
      checkGrad(net, params, ref, 1, `cvae ${lik}`);
      // the condition matters: another y, another loss
      net.put(
        'cond',
        cond.map((v) => 1 - v),
        0,
        cond.length,
      );
      expect(net.loss(B, L, elbo(0.7)).loss).not.toBeCloseTo(r.loss, 3);
    },
  );
});

describe('conditional VAE: the model, the trainer, oneHot', () => {
  it('oneHot: one 1 per row at the label; classes default to the largest + 1; bad labels are DataErrors', () => {
    const m = oneHot(Uint8Array.from([2, 0, 1]));
    expect(m.cols).toBe(3);
    expect(Array.from(m.data)).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0]);
    expect(oneHot([1], 10).data.indexOf(1)).toBe(1);
    expectThrows(() => oneHot([0, 3], 3), DataError, /label 3 at index 1 is not an integer in \[0, 3\)/);
    expectThrows(() => oneHot([0.5]), DataError, /label 0.5 at index 0 is not a non-negative integer/);
    expectThrows(() => oneHot([]), DataError, /no labels/);
  });

  it('learns p(x | z, y): samples for class y look like class y; conditions broadcast, chunk and round-trip bit-exactly', async () => {
    const D = 8,
      N = 240;
    const x = new Float32Array(N * D),
      labels = new Uint8Array(N);
    for (let r = 0; r < N; r++) {
      labels[r] = r % 3;
      // class c lights pixels c·3 … c·3+2, with a little grey noise
      for (let j = 0; j < D; j++)
        x[r * D + j] = Math.floor(j / 3) === labels[r] ? 0.95 : 0.05 + 0.02 * ((r * 7 + j) % 3);
    }
    const y = oneHot(labels, 3);
    const vae = await VAE.create({
      inputDim: D,
      encoder: [16],
      latentDim: 2,
      conditionDim: 3,
      seed: 1,
      threads: 1,
      chunkRows: 7,
    });
    expect(vae.config.conditionDim).toBe(3);
    const h = await new Trainer(vae, { batchSize: 24, optimizer: { name: 'adam', lr: 1e-2 } }).fit(x, {
      epochs: 40,
      condition: y,
      validationData: x.subarray(0, 30 * D),
      validationCondition: { data: y.data.subarray(0, 90), rows: 30, cols: 3 },
    });
    expect(h.epochs.at(-1)!.valLoss!).toBeLessThan(h.epochs[0].valLoss! - 1);
    for (let c = 0; c < 3; c++) {
      const s = vae.sample(300, { condition: oneHot([c], 3), seed: 5 });
      const mean = new Float64Array(D);
      for (let r = 0; r < 300; r++) for (let j = 0; j < D; j++) mean[j] += s[r * D + j] / 300;
      for (let j = 0; j < D; j++) {
        if (Math.floor(j / 3) === c) expect(mean[j], `class ${c}, pixel ${j}`).toBeGreaterThan(0.7);
        else expect(mean[j], `class ${c}, pixel ${j}`).toBeLessThan(0.3);
      }
    }
    // a 1-row condition is every row's; chunks of 7 rows give the bits of one call per row
    const xs = x.subarray(0, 10 * D);
    const all = vae.encode(xs, { condition: oneHot(labels.subarray(0, 10), 3) });
    for (let r = 0; r < 10; r++) {
      const one = vae.encode(xs.subarray(r * D, (r + 1) * D), { condition: oneHot([labels[r]], 3) });
      expect(one.mu).toEqual(all.mu.subarray(r * 2, r * 2 + 2));
    }
    const z = all.mu;
    expect(vae.decode(z, { condition: oneHot(new Uint8Array(10).fill(1), 3) })).toEqual(
      vae.decode(z, { condition: oneHot([1], 3) }),
    );
    expect(vae.decode(z, { condition: oneHot([2], 3) })).not.toEqual(
      vae.decode(z, { condition: oneHot([1], 3) }),
    );
    const ev = vae.evaluate(x, { condition: y, seed: 2 });
    const again = await VAE.load(vae.save(), { threads: 1, chunkRows: 7 });
    expect(again.config.conditionDim).toBe(3);
    expect(again.evaluate(x, { condition: y, seed: 2 }).loss).toBe(ev.loss);
    expect(again.sample(4, { condition: oneHot([0], 3), seed: 1 })).toEqual(
      vae.sample(4, { condition: oneHot([0], 3), seed: 1 }),
    );
    expect(
      vae.interpolate(xs.subarray(0, D), xs.subarray(D, 2 * D), 4, { condition: oneHot([0], 3) }).length,
    ).toBe(4 * D);
    expect(vae.reconstruct(xs, { condition: oneHot(labels.subarray(0, 10), 3) }).length).toBe(10 * D);
    expect(
      Number.isFinite(
        vae.logLikelihood(xs.subarray(0, 2 * D), { k: 10, condition: oneHot([0, 1], 3) }).logLikelihood,
      ),
    ).toBe(true);
    expect(vae.activeUnits(xs, { condition: oneHot([0], 3) }).variances.length).toBe(2);

    // typed errors
    expectThrows(() => vae.encode(xs), ConfigError, /conditional \(conditionDim 3\); pass \{ condition \}/);
    expectThrows(
      () => vae.sample(3, { condition: oneHot([0, 1], 3) }),
      ShapeError,
      /condition has 2 rows; expected 1 \(for every row\) or 3/,
    );
    expectThrows(
      () => vae.decode(z, { condition: Uint8Array.from([0, 1, 0]) }),
      ConfigError,
      /bytes would be read as pixels/,
    );
    expectThrows(
      () => vae.decode(z, { condition: [[0, 1]] }),
      ShapeError,
      /condition has 2 columns; this model expects 3/,
    );
    const t = new Trainer(vae, { batchSize: 24 });
    await expect(t.fit(x, { epochs: 1 })).rejects.toThrow(/fit: this model is conditional/);
    await expect(t.fit(x, { epochs: 1, condition: oneHot([0], 3) })).rejects.toThrow(
      /condition has 1 rows; expected 240/,
    );
    await expect(t.fit(x, { epochs: 1, condition: y, validationCondition: y })).rejects.toThrow(
      /validationCondition needs validationData/,
    );
    const plain = await VAE.create({ inputDim: D, encoder: [4], latentDim: 2, threads: 1 });
    expectThrows(() => plain.sample(2, { condition: [[1, 0, 0]] }), ConfigError, /not conditional/);
    await expect(VAE.create({ inputDim: 3, conditionDim: -1 })).rejects.toThrow(/conditionDim/);
  });
});
