// The user-facing model: construction, inference against f64 references, the ELBO and the
// importance-sampled log-likelihood against exact numerical integration, active units,
// safetensors save/load (including hostile files), and input validation.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILDS, expectClose, rand, randArray } from './helpers.js';
import { actRef, nllRef, type Act } from './ref.js';
import { VAE, FORMAT_NAME, FORMAT_VERSION, type ModelConfig } from '../src/vae.js';
import { Trainer } from '../src/trainer.js';
import { ConfigError, DataError, FormatError, ShapeError } from '../src/errors.js';
import { decodeSafetensors, encodeSafetensors, type TensorEntry } from '../src/io/safetensors.js';
import { RNG_TRAIN } from '../src/network.js';
import { saveModel, loadModel } from '../src/node.js';

type SD = Map<string, { shape: number[]; data: Float32Array }>;

// ---------------------------------------------------------------------------------------------
// f64 references written from the math, reading the weights from stateDict() ((out, in) layout)
// ---------------------------------------------------------------------------------------------

function linRef(sd: SD, name: string, inp: ArrayLike<number>, rows: number): Float64Array {
  const W = sd.get(`${name}.weight`)!,
    b = sd.get(`${name}.bias`)!;
  const [o, i] = W.shape;
  const out = new Float64Array(rows * o);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < o; j++) {
      let s = b.data[j];
      for (let k = 0; k < i; k++) s += inp[r * i + k] * W.data[j * i + k];
      out[r * o + j] = s;
    }
  return out;
}

function alphaOf(c: ModelConfig): number {
  return c.activationAlpha;
}

function encodeRef(
  c: ModelConfig,
  sd: SD,
  x: ArrayLike<number>,
  rows: number,
): { mu: Float64Array; logvar: Float64Array } {
  let h: ArrayLike<number> = x;
  c.encoder.forEach((_, i) => {
    h = linRef(sd, `encoder.${i}`, h, rows).map((v) => actRef(v, c.activation as Act, alphaOf(c)));
  });
  return { mu: linRef(sd, 'fc_mu', h, rows), logvar: linRef(sd, 'fc_logvar', h, rows) };
}

/** Decoder output head in f64: Bernoulli logits or Gaussian means. */
function decodeRef(c: ModelConfig, sd: SD, z: ArrayLike<number>, rows: number): Float64Array {
  let g: ArrayLike<number> = z;
  c.decoder.forEach((_, i) => {
    g = linRef(sd, `decoder.${i}`, g, rows).map((v) => actRef(v, c.activation as Act, alphaOf(c)));
  });
  return linRef(sd, 'fc_out', g, rows);
}

const sigmoid = (v: number) => actRef(v, 'sigmoid', 0);

function klRef(mu: ArrayLike<number>, lv: ArrayLike<number>, rows: number, Z: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < Z; j++) {
      const m = mu[r * Z + j],
        v = lv[r * Z + j];
      out[r] += -0.5 * (1 + v - m * m - Math.exp(v));
    }
  return out;
}

function logSumExp(a: ArrayLike<number>, w?: ArrayLike<number>): number {
  let mx = -Infinity;
  for (let i = 0; i < a.length; i++) if (a[i] > mx) mx = a[i];
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (w ? w[i] : 1) * Math.exp(a[i] - mx);
  return mx + Math.log(s);
}

/** Binary rows from a 1-D latent (the structure a 1-D-latent VAE can learn). */
function binaryData(N: number, D: number, seed: number): Float32Array {
  const r = rand(seed),
    x = new Float32Array(N * D);
  const a = Array.from({ length: D }, (_, d) => 3 * Math.cos(d)),
    b = Array.from({ length: D }, (_, d) => Math.sin(2 * d));
  for (let n = 0; n < N; n++) {
    const z = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    for (let d = 0; d < D; d++) x[n * D + d] = r() < sigmoid(a[d] * z + b[d]) ? 1 : 0;
  }
  return x;
}

/** Bit-exact equality of two typed arrays (fast: vitest's deep equality is slow on 300k elements). */
function sameBits(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength || a.constructor !== b.constructor) return false;
  return (
    Buffer.compare(
      new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
      new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

function expectThrows(fn: () => unknown, cls: new (...a: never[]) => Error, re: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${cls.name}`).toBeInstanceOf(cls);
  expect((caught as Error).message).toMatch(re);
}

async function expectRejects(
  p: Promise<unknown>,
  cls: new (...a: never[]) => Error,
  re: RegExp,
): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${cls.name}`).toBeInstanceOf(cls);
  expect((caught as Error).message).toMatch(re);
}

// ---------------------------------------------------------------------------------------------

describe('VAE.create', () => {
  it('defaults: 784-400-20 Bernoulli, decoder mirrors encoder, 652824 parameters, best build', async () => {
    const vae = await VAE.create({ inputDim: 784 });
    expect(vae.config).toMatchObject({
      inputDim: 784,
      encoder: [400],
      decoder: [400],
      latentDim: 20,
      activation: 'relu',
      likelihood: 'bernoulli',
      sigma: 1,
      init: 'pytorch',
      seed: 0,
      binarization: 'none',
    });
    // 784·400+400 + 2·(400·20+20) + 20·400+400 + 400·784+784
    expect(vae.parameterCount).toBe(314000 + 8020 + 8020 + 8400 + 314384);
    expect(vae.parameterCount).toBe(652824);
    expect(BUILDS).toContain(vae.build);
    expect(vae.build).toBe(BUILDS[0]);
    const sd = vae.stateDict();
    expect([...sd.keys()]).toEqual([
      'encoder.0.weight',
      'encoder.0.bias',
      'fc_mu.weight',
      'fc_mu.bias',
      'fc_logvar.weight',
      'fc_logvar.bias',
      'decoder.0.weight',
      'decoder.0.bias',
      'fc_out.weight',
      'fc_out.bias',
    ]);
    expect(sd.get('encoder.0.weight')!.shape).toEqual([400, 784]);
    expect(sd.get('fc_mu.weight')!.shape).toEqual([20, 400]);
    expect(sd.get('decoder.0.weight')!.shape).toEqual([400, 20]);
    expect(sd.get('fc_out.weight')!.shape).toEqual([784, 400]);
    let n = 0;
    for (const t of sd.values()) n += t.data.length;
    expect(n).toBe(652824);
    // PyTorch's default init: U(−1/√in, 1/√in), filling the range
    for (const [name, t] of sd) {
      const bound =
        1 /
        Math.sqrt(name.endsWith('weight') ? t.shape[1] : sd.get(name.replace('bias', 'weight'))!.shape[1]);
      let mx = 0;
      for (const v of t.data) mx = Math.max(mx, Math.abs(v));
      expect(mx, name).toBeLessThanOrEqual(bound);
      if (t.data.length >= 400) expect(mx, name).toBeGreaterThan(0.99 * bound);
    }
  });

  it('hand-computed parameter counts for deeper and asymmetric models', async () => {
    const a = await VAE.create({ inputDim: 10, encoder: [32, 16], latentDim: 3 });
    expect(a.config.decoder).toEqual([16, 32]);
    // 10·32+32, 32·16+16, 2·(16·3+3), 3·16+16, 16·32+32, 32·10+10
    expect(a.parameterCount).toBe(352 + 528 + 102 + 64 + 544 + 330);
    const b = await VAE.create({
      inputDim: 10,
      encoder: [32, 16],
      decoder: [5],
      latentDim: 3,
      likelihood: 'gaussian-learned',
    });
    // + fc_out_logvar; decoder 3·5+5, fc_out 5·10+10 twice
    expect(b.parameterCount).toBe(352 + 528 + 102 + 20 + 60 + 60);
    expect(b.stateDict().get('fc_out_logvar.weight')!.shape).toEqual([10, 5]);
  });

  it('the seed fixes the weights; another seed changes them', async () => {
    const opts = { inputDim: 12, encoder: [8], latentDim: 2 };
    const a = (await VAE.create({ ...opts, seed: 5 })).stateDict();
    const b = (await VAE.create({ ...opts, seed: 5 })).stateDict();
    const c = (await VAE.create({ ...opts, seed: 6 })).stateDict();
    for (const [k, t] of a) {
      expect(b.get(k)!.data, k).toEqual(t.data);
      expect(c.get(k)!.data, k).not.toEqual(t.data);
    }
  });

  it.each(BUILDS)('runs on the requested build: %s', async (build) => {
    const vae = await VAE.create({ inputDim: 4, encoder: [3], latentDim: 2, build });
    expect(vae.build).toBe(build);
  });

  it('unknown options and bad values are ConfigErrors naming the problem', async () => {
    await expectRejects(
      VAE.create({ inputDim: 4, encodr: [3] } as never),
      ConfigError,
      /unknown VAE option "encodr"/,
    );
    await expectRejects(
      VAE.create({ inputDim: 4, activation: 'gelu' } as never),
      ConfigError,
      /unknown activation "gelu"/,
    );
    await expectRejects(
      VAE.create({ inputDim: 4, likelihood: 'poisson' } as never),
      ConfigError,
      /unknown likelihood "poisson"/,
    );
    await expectRejects(
      VAE.create({ inputDim: 4, init: 'xavier' } as never),
      ConfigError,
      /unknown init "xavier"/,
    );
    await expectRejects(
      VAE.create({ inputDim: 4, binarization: 'maybe' } as never),
      ConfigError,
      /unknown binarization "maybe"/,
    );
    await expectRejects(
      VAE.create({ inputDim: 4, likelihood: 'gaussian', binarization: 'dynamic' }),
      ConfigError,
      /binarization/,
    );
    await expectRejects(VAE.create({ inputDim: 0 }), ConfigError, /inputDim must be a positive integer/);
    await expectRejects(VAE.create({ inputDim: 4, latentDim: 1.5 }), ConfigError, /latentDim/);
    await expectRejects(
      VAE.create({ inputDim: 4, encoder: [3, 0] }),
      ConfigError,
      /encoder must be an array/,
    );
    await expectRejects(VAE.create({ inputDim: 4, sigma: -1, likelihood: 'gaussian' }), ConfigError, /sigma/);
    await expectRejects(VAE.create({ inputDim: 4, chunkRows: 0 }), ConfigError, /chunkRows/);
    await expectRejects(VAE.create({ inputDim: 4, seed: -3 }), ConfigError, /seed/);
    await expectRejects(VAE.create(undefined as never), ConfigError, /options object/);
  });
});

describe('inference', () => {
  const D = 9,
    Z = 3;
  let vae: VAE;
  let sd: SD;
  const x = randArray(7 * D, 11, 0, 1);
  beforeAll(async () => {
    vae = await VAE.create({
      inputDim: D,
      encoder: [8, 6],
      latentDim: Z,
      activation: 'tanh',
      seed: 3,
      chunkRows: 3,
    });
    sd = vae.stateDict();
  });

  it('encode: shapes, chunks of 3 rows equal row-by-row encoding, and the f64 reference', async () => {
    const { mu, logvar, rows } = vae.encode(x);
    expect(rows).toBe(7);
    expect(mu.length).toBe(7 * Z);
    expect(logvar.length).toBe(7 * Z);
    for (let r = 0; r < 7; r++) {
      const one = vae.encode(x.slice(r * D, (r + 1) * D));
      expect(one.rows).toBe(1);
      // GEMM blocking depends on the row count, so allow a few ulp
      expectClose(one.mu, mu.slice(r * Z, (r + 1) * Z), { atol: 1e-7, rtol: 1e-6 }, `mu row ${r}`);
      expectClose(
        one.logvar,
        logvar.slice(r * Z, (r + 1) * Z),
        { atol: 1e-7, rtol: 1e-6 },
        `logvar row ${r}`,
      );
    }
    // the same weights with one chunk for all 7 rows
    const whole = await VAE.load(vae.save(), { chunkRows: 256 });
    expectClose(whole.encode(x).mu, mu, { atol: 1e-7, rtol: 1e-6 }, 'one chunk vs chunks of 3');
    // array-of-rows input gives the same numbers as the flat Float32Array
    const rowsIn = Array.from({ length: 7 }, (_, r) => Array.from(x.slice(r * D, (r + 1) * D)));
    expect(vae.encode(rowsIn).mu).toEqual(mu);
    const ref = encodeRef(vae.config, sd, x, 7);
    expectClose(mu, ref.mu, { atol: 1e-6, rtol: 1e-5 }, 'mu vs f64');
    expectClose(logvar, ref.logvar, { atol: 1e-6, rtol: 1e-5 }, 'logvar vs f64');
  });

  it.each(BUILDS)(
    'decode (%s): Bernoulli probabilities = sigmoid of the f64 decoder forward',
    async (build) => {
      const m = await VAE.create({
        inputDim: 20,
        encoder: [16],
        decoder: [12, 10],
        latentDim: 4,
        activation: 'elu',
        seed: 9,
        build,
        chunkRows: 5,
      });
      const z = randArray(11 * 4, 21, -3, 3);
      const p = m.decode(z);
      expect(p.length).toBe(11 * 20);
      const ref = Array.from(decodeRef(m.config, m.stateDict(), z, 11), sigmoid);
      expectClose(p, ref, { atol: 2e-6, rtol: 1e-5 }, 'decode');
      // a Gaussian model returns the means themselves
      const g = await VAE.create({
        inputDim: 20,
        encoder: [16],
        latentDim: 4,
        activation: 'softplus',
        likelihood: 'gaussian',
        sigma: 0.3,
        seed: 9,
        build,
      });
      expectClose(
        g.decode(z),
        decodeRef(g.config, g.stateDict(), z, 11),
        { atol: 2e-6, rtol: 1e-5 },
        'gaussian decode',
      );
    },
  );

  it('reconstruct decodes the posterior mean; sample: true adds σ·ε from the seeded stream', async () => {
    const { mu } = vae.encode(x);
    expectClose(vae.reconstruct(x), vae.decode(mu), { atol: 0, rtol: 0 }, 'reconstruct');
    // linear-Gaussian model with an identity decoder: the reconstruction *is* z = μ + σ ε
    const m = await VAE.create({
      inputDim: 2,
      encoder: [4],
      decoder: [],
      latentDim: 2,
      likelihood: 'gaussian',
      activation: 'tanh',
      seed: 1,
    });
    const W = m.net.view(m.net.outHead.weight),
      b = m.net.view(m.net.outHead.bias);
    W.set([1, 0, 0, 1]);
    b.set([0, 0]);
    const xg = randArray(50 * 2, 4, -2, 2);
    const q = m.encode(xg);
    const eps = m.sample(50, { seed: 77 }); // identity decoder: the prior draws themselves
    const rs = m.reconstruct(xg, { sample: true, seed: 77 });
    const expected = Array.from(q.mu, (v, i) => v + Math.exp(0.5 * q.logvar[i]) * eps[i]);
    expectClose(rs, expected, { atol: 1e-6, rtol: 1e-6 }, 'reconstruct sample');
    expect(m.reconstruct(xg, { sample: true, seed: 77 })).toEqual(rs);
    expect(m.reconstruct(xg, { sample: true, seed: 78 })).not.toEqual(rs);
  });

  it('sample: reproducible per seed, differs across seeds, leaves the model stream alone, draws N(0, I)', async () => {
    const a = vae.sample(6, { seed: 1 });
    expect(a.length).toBe(6 * D);
    expect(vae.sample(6, { seed: 1 })).toEqual(a);
    expect(vae.sample(6, { seed: 2 })).not.toEqual(a);
    for (const v of a) {
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(1);
    }
    // unseeded calls advance the model's stream; a seeded call in between does not disturb it
    const m1 = await VAE.create({ inputDim: D, encoder: [5], latentDim: 2, seed: 4 });
    const m2 = await VAE.create({ inputDim: D, encoder: [5], latentDim: 2, seed: 4 });
    const u1 = m1.sample(3),
      u2 = m1.sample(3);
    expect(u2).not.toEqual(u1);
    m2.sample(4, { seed: 123 });
    expect(m2.sample(3)).toEqual(u1);
    expect(m2.sample(3)).toEqual(u2);
    // identity decoder: sample() returns z itself; check the prior's moments (4σ bounds)
    const m = await VAE.create({
      inputDim: 2,
      encoder: [3],
      decoder: [],
      latentDim: 2,
      likelihood: 'gaussian',
      seed: 2,
    });
    m.net.view(m.net.outHead.weight).set([1, 0, 0, 1]);
    m.net.view(m.net.outHead.bias).set([0, 0]);
    const n = 20000,
      z = m.sample(n, { seed: 5 });
    for (let j = 0; j < 2; j++) {
      let s = 0,
        s2 = 0,
        in1 = 0;
      for (let i = 0; i < n; i++) {
        const v = z[i * 2 + j];
        s += v;
        s2 += v * v;
        if (Math.abs(v) < 1) in1++;
      }
      expect(Math.abs(s / n)).toBeLessThan(4 / Math.sqrt(n));
      expect(Math.abs(s2 / n - 1)).toBeLessThan(4 * Math.sqrt(2 / n));
      expect(Math.abs(in1 / n - 0.682689)).toBeLessThan(4 * Math.sqrt(0.2167 / n));
    }
    let c = 0;
    for (let i = 0; i < n; i++) c += z[2 * i] * z[2 * i + 1];
    expect(Math.abs(c / n)).toBeLessThan(4 / Math.sqrt(n));
  });

  it('interpolate: endpoints are decode(μ(xa)) and decode(μ(xb)); the midpoint decodes the mean', () => {
    const xa = x.slice(0, D),
      xb = x.slice(D, 2 * D);
    const out = vae.interpolate(xa, xb, 5);
    expect(out.length).toBe(5 * D);
    const { mu } = vae.encode(x.slice(0, 2 * D));
    const ends = vae.decode(mu);
    expect(out.slice(0, D)).toEqual(ends.slice(0, D));
    expect(out.slice(4 * D)).toEqual(ends.slice(D));
    const mid = Array.from({ length: Z }, (_, j) => 0.5 * mu[j] + 0.5 * mu[Z + j]);
    const ref = Array.from(decodeRef(vae.config, sd, mid, 1), sigmoid);
    expectClose(out.slice(2 * D, 3 * D), ref, { atol: 2e-6, rtol: 1e-5 }, 'midpoint');
    expectThrows(() => vae.interpolate(xa, xb, 1), ConfigError, /steps ≥ 2/);
  });
});

describe.each(BUILDS)('evaluate (%s build)', (build) => {
  it('matches the f64 ELBO for the same ε; KL is the closed form of encode(); elbo = −(rec + kl)', async () => {
    const D = 10,
      Z = 3,
      N = 12;
    const vae = await VAE.create({
      inputDim: D,
      encoder: [7],
      latentDim: Z,
      activation: 'leaky_relu',
      seed: 8,
      build,
    });
    const x = randArray(N * D, 31, 0, 1);
    const sd = vae.stateDict();
    const { mu, logvar } = vae.encode(x);
    const ref = encodeRef(vae.config, sd, x, N);
    for (const L of [1, 3]) {
      const ev = vae.evaluate(x, { samples: L, seed: 42 });
      expect(ev.rows).toBe(N);
      // KL given the encoder outputs is exact (no sampling)
      const klMean = klRef(mu, logvar, N, Z).reduce((s, v) => s + v, 0) / N;
      expect(Math.abs(ev.kl - klMean)).toBeLessThan(1e-5 * Math.max(1, klMean));
      expect(ev.elbo).toBeCloseTo(-(ev.reconstruction + ev.kl), 12);
      expect(ev.loss).toBe(-ev.elbo);
      // ε: the first N·L·Z normals of the sampling stream seeded with 42 (one chunk here)
      const clone = await VAE.load(vae.save(), { build });
      clone.net.reserve({ dataRows: N, sampleRows: N * L });
      clone.kernels.exports.rng_seed(clone.net.rngState(RNG_TRAIN), 42, 0);
      clone.net.sampleEps(N, L);
      const eps = Float64Array.from(clone.net.actView('eps', N * L * Z));
      let rec = 0;
      for (let b = 0; b < N; b++)
        for (let l = 0; l < L; l++) {
          const z = Array.from(
            { length: Z },
            (_, j) => ref.mu[b * Z + j] + Math.exp(0.5 * ref.logvar[b * Z + j]) * eps[(b * L + l) * Z + j],
          );
          const logits = decodeRef(vae.config, sd, z, 1);
          for (let d = 0; d < D; d++) rec += nllRef(logits[d], x[b * D + d], 'bernoulli', 1) / L;
        }
      expect(Math.abs(ev.reconstruction - rec / N)).toBeLessThan(2e-5 * (rec / N));
      expect(vae.evaluate(x, { samples: L, seed: 42 })).toEqual(ev);
    }
    // in several chunks (5 rows each) the KL is still exact and the ELBO is assembled per datapoint
    const chunked = await VAE.load(vae.save(), { build, chunkRows: 5 });
    const ec = chunked.evaluate(x, { samples: 1, seed: 42 });
    const klMean = klRef(mu, logvar, N, Z).reduce((s, v) => s + v, 0) / N;
    expect(Math.abs(ec.kl - klMean)).toBeLessThan(1e-5 * Math.max(1, klMean));
    expect(ec.rows).toBe(N);
    // the average over many seeds of the chunked estimate converges to the unchunked one's mean
    let a = 0,
      b = 0;
    for (let s = 0; s < 200; s++) {
      a += chunked.evaluate(x, { seed: 100 + s }).reconstruction / 200;
      b += vae.evaluate(x, { seed: 500 + s }).reconstruction / 200;
    }
    expect(Math.abs(a - b)).toBeLessThan(0.02 * Math.abs(b));
    // another seed gives another Monte Carlo estimate but the same KL
    const e2 = vae.evaluate(x, { seed: 43 });
    expect(e2.reconstruction).not.toBe(vae.evaluate(x, { seed: 42 }).reconstruction);
    expect(e2.kl).toBe(vae.evaluate(x, { seed: 42 }).kl);
    expectThrows(() => vae.evaluate(x, { samples: 0 }), ConfigError, /samples must be a positive integer/);
  });
});

describe('logLikelihood: the IWAE bound against exact integration over z', () => {
  const D = 6,
    N = 256;
  const data = binaryData(N, D, 7);
  /** A trained model whose q is close to the true posterior: L_k has a small variance. */
  let fit: VAE;
  /** The same model with the encoder mis-fit on purpose (μ shifted, σ widened), so the gaps between
   *  L_1, L_50 and L_5000 are well above the Monte Carlo noise (the bounds hold for any q). */
  let misfit: VAE;
  beforeAll(async () => {
    fit = await VAE.create({
      inputDim: D,
      encoder: [8],
      decoder: [8],
      latentDim: 1,
      activation: 'tanh',
      seed: 2,
    });
    await new Trainer(fit, { batchSize: 32, optimizer: { name: 'adam', lr: 1e-2 } }).fit(data, {
      epochs: 30,
    });
    misfit = await VAE.load(fit.save());
    misfit.net.view(misfit.net.muHead.bias)[0] += 0.6;
    misfit.net.view(misfit.net.logvarHead!.bias)[0] += 0.3;
  });

  /** log p(x) and the ELBO by the trapezoid rule on a uniform grid over z ∈ [−lim, lim]^Z (f64 decoder). */
  function exact(m: VAE, row: Float32Array, lim: number, pts: number): { logp: number; elbo: number } {
    const sd = m.stateDict(),
      Z = m.config.latentDim;
    const h = (2 * lim) / (pts - 1),
      G = pts ** Z;
    const z = new Float64Array(G * Z),
      w = new Float64Array(G);
    for (let g = 0; g < G; g++) {
      let rest = g,
        wt = 1;
      for (let j = 0; j < Z; j++) {
        const i = rest % pts;
        rest = Math.floor(rest / pts);
        z[g * Z + j] = -lim + i * h;
        wt *= i === 0 || i === pts - 1 ? 0.5 : 1;
      }
      w[g] = wt;
    }
    const logits = decodeRef(m.config, sd, z, G);
    const logJoint = new Float64Array(G),
      logLik = new Float64Array(G);
    for (let g = 0; g < G; g++) {
      let ll = 0;
      for (let d = 0; d < D; d++) ll -= nllRef(logits[g * D + d], row[d], 'bernoulli', 1);
      let lp = 0;
      for (let j = 0; j < Z; j++) lp += -0.5 * z[g * Z + j] ** 2 - 0.5 * Math.log(2 * Math.PI);
      logLik[g] = ll;
      logJoint[g] = ll + lp;
    }
    const logp = logSumExp(logJoint, w) + Z * Math.log(h);
    // ELBO = ∫ q(z) log p(x|z) dz − KL(q ‖ p) with q from the f64 encoder
    const q = encodeRef(m.config, sd, row, 1);
    let eq = 0;
    for (let g = 0; g < G; g++) {
      let lq = 0;
      for (let j = 0; j < Z; j++) {
        const v = q.logvar[j],
          mu = q.mu[j];
        lq += (-0.5 * (z[g * Z + j] - mu) ** 2) / Math.exp(v) - 0.5 * v - 0.5 * Math.log(2 * Math.PI);
      }
      eq += w[g] * Math.exp(lq) * logLik[g];
    }
    const elbo = eq * h ** Z - klRef(q.mu, q.logvar, 1, Z)[0];
    return { logp, elbo };
  }

  it('1-D latent, fitted q: k = 5000 within 0.05 nats of the exact log p(x)', () => {
    for (const r of [0, 1, 2, 5]) {
      const row = data.slice(r * D, (r + 1) * D);
      const ex = exact(fit, row, 10, 4001);
      expect(ex.elbo).toBeLessThan(ex.logp);
      const l5000 = fit.logLikelihood(row, { k: 5000, seed: r });
      expect(l5000.perRow.length).toBe(1);
      expect(l5000.logLikelihood).toBe(l5000.perRow[0]);
      expect(
        Math.abs(l5000.logLikelihood - ex.logp),
        `row ${r}: ${l5000.logLikelihood} vs exact ${ex.logp}`,
      ).toBeLessThan(0.05);
      // reproducible for a seed
      expect(fit.logLikelihood(row, { k: 5000, seed: r }).logLikelihood).toBe(l5000.logLikelihood);
    }
  });

  it('1-D latent, mis-fit q: E[L_1] = exact ELBO; L_1 < L_50 < L_5000 ≈ log p(x) on average over seeds', () => {
    for (const r of [0, 1, 5]) {
      const row = data.slice(r * D, (r + 1) * D);
      const ex = exact(misfit, row, 10, 4001);
      // E[L_1] over seeds is the ELBO (computed exactly by integration), within 4 standard errors
      const S = 400,
        l1: number[] = [];
      for (let s = 0; s < S; s++) l1.push(misfit.logLikelihood(row, { k: 1, seed: 1000 + s }).logLikelihood);
      const m1 = l1.reduce((a, b) => a + b, 0) / S;
      const sd1 = Math.sqrt(l1.reduce((a, b) => a + (b - m1) ** 2, 0) / (S - 1));
      expect(
        Math.abs(m1 - ex.elbo),
        `row ${r}: mean L_1 ${m1} vs ELBO ${ex.elbo} (se ${sd1 / Math.sqrt(S)})`,
      ).toBeLessThan((4 * sd1) / Math.sqrt(S));
      expect(ex.elbo + 0.5).toBeLessThan(ex.logp);
      let m50 = 0;
      for (let s = 0; s < 1000; s++)
        m50 += misfit.logLikelihood(row, { k: 50, seed: 5000 + s }).logLikelihood / 1000;
      let m5000 = 0;
      for (let s = 0; s < 10; s++)
        m5000 += misfit.logLikelihood(row, { k: 5000, seed: 9000 + s }).logLikelihood / 10;
      expect(m1 + 0.3, `row ${r}: L_1 ${m1} vs L_50 ${m50}`).toBeLessThan(m50);
      expect(m50, `row ${r}: L_50 ${m50} vs L_5000 ${m5000}`).toBeLessThan(m5000);
      expect(m50 + 0.01, `row ${r}: L_50 ${m50} vs exact ${ex.logp}`).toBeLessThan(ex.logp);
      expect(Math.abs(m5000 - ex.logp), `row ${r}: mean L_5000 ${m5000} vs exact ${ex.logp}`).toBeLessThan(
        0.02,
      );
    }
  });

  it('several rows at once: each perRow entry is close to its exact log p(x), the mean is their average', () => {
    const x = data.slice(0, 3 * D);
    const all = fit.logLikelihood(x, { k: 2000, seed: 4 });
    expect(all.perRow.length).toBe(3);
    expect(all.logLikelihood).toBeCloseTo((all.perRow[0] + all.perRow[1] + all.perRow[2]) / 3, 12);
    for (let r = 0; r < 3; r++) {
      const ex = exact(fit, data.slice(r * D, (r + 1) * D), 10, 2001);
      expect(Math.abs(all.perRow[r] - ex.logp)).toBeLessThan(0.05);
    }
    expectThrows(() => fit.logLikelihood(x, { k: 0 }), ConfigError, /k must be a positive integer/);
  });

  it('2-D latent: k = 5000 within 0.05 nats of a 2-D trapezoid integral', async () => {
    const m = await VAE.create({
      inputDim: D,
      encoder: [8],
      decoder: [8],
      latentDim: 2,
      activation: 'tanh',
      seed: 3,
    });
    await new Trainer(m, { batchSize: 32, optimizer: { name: 'adam', lr: 1e-2 } }).fit(data, { epochs: 10 });
    for (const r of [0, 3]) {
      const row = data.slice(r * D, (r + 1) * D);
      const ex = exact(m, row, 8, 321);
      const est = m.logLikelihood(row, { k: 5000, seed: 11 }).logLikelihood;
      expect(Math.abs(est - ex.logp), `row ${r}: ${est} vs ${ex.logp}`).toBeLessThan(0.05);
      expect(ex.elbo).toBeLessThan(ex.logp);
    }
  });
});

describe('activeUnits', () => {
  it('a unit whose μ ignores x is inactive; variances are the f64 variances of μ', async () => {
    const D = 5,
      N = 40;
    const vae = await VAE.create({ inputDim: D, encoder: [4], latentDim: 3, activation: 'tanh', seed: 6 });
    const W = vae.net.view(vae.net.muHead.weight),
      b = vae.net.view(vae.net.muHead.bias);
    // unit 0 depends on x strongly, unit 1 not at all, unit 2 barely
    W.set([3, -2, 1.5, 2.5, 0, 0, 0, 0, 0.001, 0, 0, 0]);
    b.set([0.2, 0.7, -0.4]);
    const x = randArray(N * D, 3, 0, 1);
    const au = vae.activeUnits(x);
    const { mu } = encodeRef(vae.config, vae.stateDict(), x, N);
    const v = [0, 1, 2].map((j) => {
      let m = 0;
      for (let r = 0; r < N; r++) m += mu[r * 3 + j] / N;
      let s = 0;
      for (let r = 0; r < N; r++) s += (mu[r * 3 + j] - m) ** 2 / N;
      return s;
    });
    expect(v[0]).toBeGreaterThan(0.05);
    expect(au.count).toBe(1);
    expect(au.active).toEqual([true, false, false]);
    expect(au.variances[1]).toBeLessThan(1e-20);
    expectClose(au.variances, v, { atol: 1e-9, rtol: 1e-4 }, 'variances');
    // a lower threshold counts the weak unit too
    expect(vae.activeUnits(x, { threshold: v[2] / 2 }).count).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------

function rewrite(
  bytes: Uint8Array,
  fn: (t: Map<string, TensorEntry>, md: Record<string, string>) => void,
): Uint8Array {
  const f = decodeSafetensors(bytes);
  fn(f.tensors, f.metadata);
  return encodeSafetensors(f.tensors, f.metadata);
}

describe('save / load', () => {
  let vae: VAE;
  let bytes: Uint8Array;
  beforeAll(async () => {
    vae = await VAE.create({ inputDim: 784, seed: 12, binarization: 'dynamic' });
    bytes = vae.save();
  });

  it('round-trips weights bit-exactly and the config; encode gives the same numbers', async () => {
    const back = await VAE.load(bytes);
    expect(back.config).toEqual(vae.config);
    const a = vae.stateDict(),
      b = back.stateDict();
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, t] of a) {
      expect(b.get(k)!.shape).toEqual(t.shape);
      expect(sameBits(b.get(k)!.data, t.data), k).toBe(true);
    }
    const x = randArray(3 * 784, 2, 0, 1);
    expect(back.encode(x).mu).toEqual(vae.encode(x).mu);
    // saving the loaded model gives the same bytes
    expect(sameBits(back.save(), bytes)).toBe(true);
    // loading on every build gives the same weights and near-identical outputs
    for (const build of BUILDS) {
      const m = await VAE.load(bytes, { build });
      expect(m.build).toBe(build);
      expect(sameBits(m.stateDict().get('fc_out.weight')!.data, a.get('fc_out.weight')!.data)).toBe(true);
      expectClose(
        m.decode(vae.encode(x).mu),
        vae.decode(vae.encode(x).mu),
        { atol: 1e-5, rtol: 1e-4 },
        build,
      );
    }
  });

  it('is safetensors with PyTorch names and shapes and wasm-vae metadata', () => {
    const f = decodeSafetensors(bytes);
    const shapes = Object.fromEntries([...f.tensors].map(([k, t]) => [k, t.shape]));
    expect(shapes).toEqual({
      'encoder.0.weight': [400, 784],
      'encoder.0.bias': [400],
      'fc_mu.weight': [20, 400],
      'fc_mu.bias': [20],
      'fc_logvar.weight': [20, 400],
      'fc_logvar.bias': [20],
      'decoder.0.weight': [400, 20],
      'decoder.0.bias': [400],
      'fc_out.weight': [784, 400],
      'fc_out.bias': [784],
    });
    for (const t of f.tensors.values()) expect(t.dtype).toBe('F32');
    expect(f.metadata.format).toBe(FORMAT_NAME);
    expect(FORMAT_NAME).toBe('wasm-vae');
    expect(f.metadata.format_version).toBe(String(FORMAT_VERSION));
    expect(FORMAT_VERSION).toBe(1);
    const { binarization, ...model } = vae.config;
    expect(JSON.parse(f.metadata.config)).toEqual(model);
    expect(JSON.parse(f.metadata.preprocessing)).toEqual({ binarization, input: 'not trained' });
    expect(binarization).toBe('dynamic');
    // the raw bytes of a weight are the little-endian float32 of the parameter
    const w = vae.stateDict().get('fc_mu.bias')!.data;
    expect(f.tensors.get('fc_mu.bias')!.data).toEqual(w);
  });

  it('hostile files are FormatErrors naming the problem', async () => {
    const bad = async (b: Uint8Array, re: RegExp) => expectRejects(VAE.load(b), FormatError, re);
    await bad(bytes.slice(0, 5), /too short/);
    await bad(bytes.slice(0, 200), /header length \d+ exceeds/);
    await bad(bytes.slice(0, bytes.length - 1000), /out of bounds/);
    const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const corrupt = bytes.slice();
    corrupt[8 + Math.floor(headerLen / 2)] = 0x7b; // '{' inside the JSON
    await bad(corrupt, /not valid JSON|duplicate|entry|field|dtype|shape|offsets/);
    const notJson = bytes.slice();
    notJson[8] = 0x5b; // '['
    await bad(notJson, /JSON object/);
    await bad(
      rewrite(bytes, (_t, md) => {
        md.format = 'pytorch';
      }),
      /not a wasm-vae model file.*pytorch/,
    );
    await bad(
      rewrite(bytes, (_t, md) => {
        delete md.format;
      }),
      /not a wasm-vae model file/,
    );
    await bad(
      rewrite(bytes, (_t, md) => {
        md.format_version = '2';
      }),
      /format version 2 is not supported/,
    );
    await bad(
      rewrite(bytes, (_t, md) => {
        md.config = '{"inputDim": 784';
      }),
      /invalid config/,
    );
    await bad(
      rewrite(bytes, (_t, md) => {
        md.config = JSON.stringify({ ...JSON.parse(md.config), activation: 'swish' });
      }),
      /invalid config.*swish/,
    );
    await bad(
      rewrite(bytes, (_t, md) => {
        md.preprocessing = JSON.stringify({ binarization: 'sometimes' });
      }),
      /invalid config.*binarization/,
    );
    await bad(
      rewrite(bytes, (t) => {
        t.delete('fc_logvar.bias');
      }),
      /missing tensor "fc_logvar\.bias" with shape \[20\]/,
    );
    await bad(
      rewrite(bytes, (t) => {
        const e = t.get('encoder.0.weight')!;
        t.set('encoder.0.weight', { ...e, shape: [784, 400] });
      }),
      /tensor "encoder\.0\.weight": expected shape \[400, ?784\], got \[784, ?400\]/,
    );
    await bad(
      rewrite(bytes, (t) => {
        const e = t.get('fc_out.bias')!;
        t.set('fc_out.bias', {
          dtype: 'F64',
          shape: e.shape,
          data: Float64Array.from(e.data as Float32Array),
        });
      }),
      /tensor "fc_out\.bias": expected dtype F32, got F64/,
    );
    await bad(
      rewrite(bytes, (t) => {
        (t.get('decoder.0.weight')!.data as Float32Array)[17] = NaN;
      }),
      /decoder\.0\.weight" holds a non-finite value at index 17/,
    );
    await bad(
      rewrite(bytes, (t) => {
        (t.get('fc_mu.bias')!.data as Float32Array)[3] = -Infinity;
      }),
      /fc_mu\.bias" holds a non-finite value at index 3/,
    );
    await expectRejects(VAE.load([1, 2, 3] as never), FormatError, /Uint8Array/);
  });

  it('node helpers: saveModel writes atomically (no temp files left) and loadModel reads it back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wasm-vae-test-'));
    try {
      const small = await VAE.create({
        inputDim: 6,
        encoder: [5],
        latentDim: 2,
        seed: 3,
        likelihood: 'gaussian-learned',
        activation: 'elu',
        activationAlpha: 0.5,
      });
      const path = join(dir, 'model.safetensors');
      await saveModel(path, small);
      await saveModel(path, small); // overwriting works too
      expect(await readdir(dir)).toEqual(['model.safetensors']);
      const back = await loadModel(path);
      expect(back.config).toEqual(small.config);
      expect([...back.stateDict().keys()]).toContain('fc_out_logvar.weight');
      for (const [k, t] of small.stateDict()) expect(back.stateDict().get(k)!.data, k).toEqual(t.data);
      await expectRejects(
        loadModel(join(dir, 'missing.safetensors')),
        DataError,
        /^model file not found: .*missing\.safetensors$/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('bad input', () => {
  let vae: VAE;
  beforeAll(async () => {
    vae = await VAE.create({ inputDim: 6, encoder: [5], latentDim: 2, seed: 1 });
  });
  const row = [0, 0.2, 0.4, 0.6, 0.8, 1];

  it('wrong number of columns is a ShapeError', () => {
    expectThrows(() => vae.encode([[0, 0.5, 1, 0, 0.5]]), ShapeError, /5 columns; this model expects 6/);
    expectThrows(() => vae.encode(new Float32Array(7)), ShapeError, /not divisible by cols 6/);
    expectThrows(() => vae.encode([row, [0, 1]]), ShapeError, /row 1 has 2 columns/);
    expectThrows(
      () => vae.encode({ data: new Float32Array(10), rows: 2, cols: 6 }),
      ShapeError,
      /data length 10/,
    );
    expectThrows(() => vae.decode([[0, 0, 0]]), ShapeError, /z has 3 columns; this model expects 2/);
    expectThrows(() => vae.evaluate([[1, 2]]), ShapeError, /expects 6/);
  });

  it('NaN / Infinity are DataErrors naming the row and column', () => {
    const x = new Float32Array(3 * 6).fill(0.5);
    x[1 * 6 + 4] = NaN;
    expectThrows(() => vae.encode(x), DataError, /non-finite value NaN at row 1, col 4/);
    const y = [row, row.map((v, i) => (i === 2 ? Infinity : v))];
    expectThrows(() => vae.evaluate(y), DataError, /non-finite value Infinity at row 1, col 2/);
    expectThrows(() => vae.decode([[0, -Infinity]]), DataError, /row 0, col 1/);
  });

  it('empty data is a DataError', () => {
    expectThrows(() => vae.encode([]), DataError, /no rows|empty/);
    expectThrows(() => vae.encode(new Float32Array(0)), DataError, /empty/);
    expectThrows(() => vae.encode({ data: new Float32Array(0), rows: 0, cols: 6 }), DataError, /empty/);
  });

  it('Bernoulli data outside [0, 1] is a DataError; a Gaussian model accepts it', async () => {
    expectThrows(
      () => vae.encode([row, row.map((v, i) => (i === 3 ? 1.5 : v))]),
      DataError,
      /value 1\.5 at row 1, col 3 \(index 9\) outside \[0, 1\]/,
    );
    expectThrows(() => vae.logLikelihood([row.map((v) => v - 0.5)]), DataError, /outside \[0, 1\]/);
    const g = await VAE.create({ inputDim: 6, encoder: [5], latentDim: 2, likelihood: 'gaussian', seed: 1 });
    const wide = [[-3, 5, 0.5, 100, -0.1, 2]];
    const { mu } = g.encode(wide);
    const ref = encodeRef(g.config, g.stateDict(), wide[0], 1).mu;
    expectClose(mu, ref, { atol: 1e-5, rtol: 1e-5 }, 'gaussian encode');
    expect(Number.isFinite(g.evaluate(wide).loss)).toBe(true);
  });

  it('other bad arguments are ConfigErrors', () => {
    expectThrows(() => vae.sample(0), ConfigError, /sample count/);
    expectThrows(() => vae.sample(2, { seed: -1 }), ConfigError, /seed must be a non-negative/);
    expectThrows(() => vae.evaluate([row], { seed: 1.5 }), ConfigError, /seed must be a non-negative/);
  });

  it('a disposed model refuses every call', async () => {
    const m = await VAE.create({ inputDim: 6, encoder: [5], latentDim: 2 });
    m.dispose();
    for (const f of [
      () => m.encode([row]),
      () => m.decode([[0, 0]]),
      () => m.sample(2),
      () => m.reconstruct([row]),
      () => m.evaluate([row]),
      () => m.logLikelihood([row], { k: 2 }),
      () => m.activeUnits([row]),
      () => m.interpolate(row, row, 3),
      () => m.save(),
    ]) {
      expectThrows(f, ConfigError, /disposed/);
    }
  });
});
