// Training: determinism and exact resume, the IWAE and free-bits objectives against f64
// references and finite differences, KL warm-up, learning-rate schedules, early stopping,
// cancellation, divergence, option validation and loss reductions.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILDS, kernels, rand, randArray, randn, expectClose, paramsOf, checkGrad } from './helpers.js';
import { forwardRef, type Forward, type RefConfig, type Params } from './ref.js';
import { VAE } from '../src/vae.js';
import { Trainer, type BatchInfo, type TrainerOptions } from '../src/trainer.js';
import { Network, RNG_TRAIN, IWAE, elbo } from '../src/network.js';
import { resolveModelConfig, type ModelOptions } from '../src/config.js';

/** A test network's options: what they set is read back, so these are not optional. */
type NetworkConfig = ModelOptions & { latentDim: number; encoder: number[]; decoder: number[] };
import { initParams, seedRng } from '../src/init.js';
import { ConfigError, DataError, DivergenceError, FormatError, ShapeError } from '../src/errors.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { saveModel, resumeTrainer, loadModel } from '../src/node.js';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
import type { Kernels } from '../src/wasm.js';

const D = 12;
const small = { inputDim: D, encoder: [10], latentDim: 3, decoder: [10], activation: 'tanh' as const };
const data = (n: number, seed: number) => randArray(n * D, seed, 0, 1);

/** All parameters, flattened in layer order (a copy). */
function weights(vae: VAE): Float32Array {
  const parts = [...vae.stateDict().values()].map((t) => t.data);
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return (
    a.length === b.length &&
    Buffer.compare(
      new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
      new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

async function rejects(p: Promise<unknown>, cls: new (...a: never[]) => Error, re: RegExp): Promise<Error> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${cls.name}`).toBeInstanceOf(cls);
  expect((caught as Error).message).toMatch(re);
  return caught as Error;
}

function throws(fn: () => unknown, cls: new (...a: never[]) => Error, re: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${cls.name}`).toBeInstanceOf(cls);
  expect((caught as Error).message).toMatch(re);
}

// ---------------------------------------------------------------------------------------------
// f64 references for the objectives (from the densities, independent of the kernels)
// ---------------------------------------------------------------------------------------------

const LOG2PI = Math.log(2 * Math.PI);
/** log N(z; m, e^v) for one coordinate. */
const logNormal = (z: number, m: number, v: number) =>
  -0.5 * LOG2PI - 0.5 * v - (0.5 * (z - m) ** 2) / Math.exp(v);

/** log w_bl = log p(x|z) + log N(z; 0, I) − log N(z; μ, σ²), z = μ + σ ε. */
function logWeights(cfg: RefConfig, f: Forward, B: number, L: number): Float64Array {
  const Z = cfg.latentDim,
    lw = new Float64Array(B * L);
  for (let b = 0; b < B; b++)
    for (let l = 0; l < L; l++) {
      let s = -f.nll[b * L + l];
      for (let j = 0; j < Z; j++) {
        const zz = f.z[(b * L + l) * Z + j];
        s += logNormal(zz, 0, 0) - logNormal(zz, f.mu[b * Z + j], f.lv[b * Z + j]);
      }
      lw[b * L + l] = s;
    }
  return lw;
}

/** The IWAE loss −Σ_b log (1/L) Σ_l w_bl. */
function iwaeLossRef(
  cfg: RefConfig,
  p: Params,
  x: ArrayLike<number>,
  eps: ArrayLike<number>,
  B: number,
  L: number,
): number {
  const lw = logWeights(cfg, forwardRef(cfg, p, x, eps, B, L), B, L);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    let mx = -Infinity;
    for (let l = 0; l < L; l++) mx = Math.max(mx, lw[b * L + l]);
    let s = 0;
    for (let l = 0; l < L; l++) s += Math.exp(lw[b * L + l] - mx);
    loss -= mx + Math.log(s / L);
  }
  return loss;
}

/** Per-datapoint-and-dimension closed-form KL, (B, Z). */
function klDims(f: Forward, B: number, Z: number): Float64Array {
  const k = new Float64Array(B * Z);
  for (let i = 0; i < B * Z; i++) k[i] = -0.5 * (1 + f.lv[i] - f.mu[i] ** 2 - Math.exp(f.lv[i]));
  return k;
}

/** Free bits: Σ_b rec_b + β Σ_j max(B·λ, Σ_b kl_bj). */
function freeBitsLossRef(
  cfg: RefConfig,
  p: Params,
  x: ArrayLike<number>,
  eps: ArrayLike<number>,
  B: number,
  L: number,
  beta: number,
  lambda: number,
): number {
  const f = forwardRef(cfg, p, x, eps, B, L),
    Z = cfg.latentDim,
    kd = klDims(f, B, Z);
  let loss = 0;
  for (let i = 0; i < B * L; i++) loss += f.nll[i] / L;
  for (let j = 0; j < Z; j++) {
    let s = 0;
    for (let b = 0; b < B; b++) s += kd[b * Z + j];
    loss += beta * Math.max(B * lambda, s);
  }
  return loss;
}

// ---------------------------------------------------------------------------------------------

describe('determinism', () => {
  it.each(BUILDS)(
    '%s: the same seed gives bit-identical weights after fit; another seed does not',
    async (build) => {
      const x = data(40, 1);
      const run = async (seed: number) => {
        const vae = await VAE.create({ ...small, seed, build });
        const t = new Trainer(vae, { batchSize: 8, optimizer: { name: 'adam', lr: 1e-2 } });
        const h = await t.fit(x, { epochs: 3 });
        expect(h.steps).toBe(15);
        return { w: weights(vae), loss: h.epochs.at(-1)!.loss };
      };
      const a = await run(1),
        b = await run(1),
        c = await run(2);
      expect(sameBits(a.w, b.w)).toBe(true);
      expect(b.loss).toBe(a.loss);
      expect(sameBits(a.w, c.w)).toBe(false);
      expect(c.loss).not.toBe(a.loss);
    },
  );
});

describe('exact resume', () => {
  const x = data(30, 2),
    xv = data(10, 3);
  const cases: [string, Parameters<typeof VAE.create>[0], TrainerOptions][] = [
    [
      'adam + step schedule + epoch warm-up',
      { ...small, seed: 4 },
      {
        batchSize: 8,
        optimizer: { name: 'adam', lr: 1e-2 },
        lrSchedule: { type: 'step', stepSize: 2, gamma: 0.5 },
        klWarmup: { epochs: 2.5 },
      },
    ],
    [
      'sgd with momentum',
      { ...small, seed: 5 },
      { batchSize: 7, optimizer: { name: 'sgd', lr: 1e-3, momentum: 0.9, nesterov: true } },
    ],
    // no shuffling: the data stream then only drives the per-batch binarization
    [
      'dynamic binarization, iwae, adagrad',
      { ...small, seed: 6, binarization: 'dynamic' },
      {
        batchSize: 8,
        samples: 3,
        objective: 'iwae',
        shuffle: false,
        optimizer: { name: 'adagrad', lr: 1e-2 },
      },
    ],
  ];
  it.each(cases)(
    '%s: 3 epochs straight = 2 epochs, save, resume, 1 epoch (bit-exact)',
    async (_n, vopts, topts) => {
      const straight = await VAE.create(vopts);
      const ta = new Trainer(straight, topts);
      const ha = await ta.fit(x, { epochs: 3, validationData: xv });

      const part = await VAE.create(vopts);
      const tb = new Trainer(part, topts);
      await tb.fit(x, { epochs: 2, validationData: xv });
      const bytes = tb.save();
      const tc = await Trainer.resume(bytes);
      expect(tc.epoch).toBe(2);
      expect(tc.optimizer.t).toBe(tb.optimizer.t);
      const hc = await tc.fit(x, { epochs: 1, validationData: xv });

      expect(sameBits(weights(tc.vae), weights(straight))).toBe(true);
      expect(hc.epochs.length).toBe(3);
      expect(hc.epochs[2].loss).toBe(ha.epochs[2].loss);
      expect(hc.epochs[2].valLoss).toBe(ha.epochs[2].valLoss);
      expect(hc.epochs[2].lr).toBe(ha.epochs[2].lr);
      expect(hc.epochs[2].beta).toBe(ha.epochs[2].beta);
      expect(tc.optimizer.t).toBe(ta.optimizer.t);
      expect(tc.epoch).toBe(3);
      expect(tc.vae.config).toEqual(straight.config);
      // without the optimizer state the continuation differs (the test can tell)
      const fresh = new Trainer(await VAE.load(bytes), topts);
      fresh.epoch = 2;
      await fresh.fit(x, { epochs: 1, validationData: xv });
      expect(sameBits(weights(fresh.vae), weights(straight))).toBe(false);
    },
  );

  it('node helpers: saveModel(path, trainer) + resumeTrainer(path) continue exactly; no temp files left', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wasm-vae-trainer-'));
    try {
      const vopts = { ...small, seed: 9 };
      const topts: TrainerOptions = { batchSize: 10, optimizer: { name: 'adam', lr: 1e-2 } };
      const a = new Trainer(await VAE.create(vopts), topts);
      await a.fit(x, { epochs: 2 });
      const b = new Trainer(await VAE.create(vopts), topts);
      await b.fit(x, { epochs: 1 });
      const path = join(dir, 'ckpt.safetensors');
      await saveModel(path, b);
      expect(await readdir(dir)).toEqual(['ckpt.safetensors']);
      const c = await resumeTrainer(path);
      await c.fit(x, { epochs: 1 });
      expect(sameBits(weights(c.vae), weights(a.vae))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('loadModel / resumeTrainer by path: a missing file is a DataError, a malformed one a FormatError, both naming the path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wasm-vae-trainer-'));
    try {
      const missing = join(dir, 'nope.safetensors');
      await rejects(loadModel(missing), DataError, new RegExp(`^model file not found: ${escape(missing)}$`));
      await rejects(resumeTrainer(missing), DataError, /^model file not found: .*nope\.safetensors$/);
      // a directory: readable as a path, not as a file
      await rejects(loadModel(dir), DataError, new RegExp(`^cannot read model file ${escape(dir)}: `));
      const junk = join(dir, 'junk.safetensors');
      await writeFile(junk, new Uint8Array([1, 2, 3]));
      await rejects(loadModel(junk), FormatError, new RegExp(`^${escape(junk)}: `));
      const plain = join(dir, 'plain.safetensors');
      await saveModel(plain, await VAE.create({ ...small, seed: 1 }));
      expect((await loadModel(plain)).config.latentDim).toBe(small.latentDim);
      await rejects(
        resumeTrainer(plain),
        FormatError,
        new RegExp(`^${escape(plain)}: .*no valid trainer state`),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a model file without trainer state, or with a broken one, is a FormatError', async () => {
    const vae = await VAE.create({ ...small, seed: 1 });
    await rejects(Trainer.resume(vae.save()), FormatError, /no valid trainer state/);
    const t = new Trainer(vae, { batchSize: 10 });
    await t.fit(data(20, 1), { epochs: 1 });
    const f = decodeSafetensors(t.save());
    f.tensors.delete('rng.data');
    await rejects(Trainer.resume(encodeSafetensors(f.tensors, f.metadata)), FormatError, /rng\.data/);
    const g = decodeSafetensors(t.save());
    g.tensors.delete('optimizer.exp_avg.fc_mu.weight');
    await rejects(
      Trainer.resume(encodeSafetensors(g.tensors, g.metadata)),
      FormatError,
      /optimizer\.exp_avg\.fc_mu\.weight/,
    );
  });
});

describe.each(BUILDS)('objectives on the Network (%s build)', (build) => {
  let k: Kernels;
  beforeAll(async () => {
    k = await kernels(build);
  });
  const cfg: NetworkConfig = {
    inputDim: 7,
    encoder: [6],
    latentDim: 3,
    decoder: [5],
    activation: 'tanh',
    likelihood: 'bernoulli',
  };
  const B = 4;

  function setup(L: number, seed: number) {
    const net = new Network(k, resolveModelConfig(cfg), { dataRows: B, sampleRows: B * L });
    seedRng(net, seed);
    initParams(net, 'glorot');
    const x = randArray(B * cfg.inputDim, seed + 1, 0, 1);
    const eps = Float32Array.from(randn(B * L * cfg.latentDim, seed + 2));
    net.actView('x', x.length).set(x);
    net.actView('eps', eps.length).set(eps);
    return { net, x, eps, params: paramsOf(net) };
  }

  it.each([
    [1, 1],
    [5, 1],
    [5, 0.25],
  ])(
    'IWAE, L = %i, scale = %s: loss = f64 reference; every gradient = scale × finite differences',
    (L, scale) => {
      const { net, x, eps, params } = setup(L, 10 + L);
      net.zeroGrad();
      const r = net.loss(B, L, IWAE, scale);
      const ref = iwaeLossRef(cfg as RefConfig, params, x, eps, B, L);
      expect(Math.abs(r.loss - ref)).toBeLessThan(1e-5 * Math.abs(ref));
      checkGrad(net, params, () => iwaeLossRef(cfg as RefConfig, params, x, eps, B, L), scale, `iwae L=${L}`);
    },
  );

  it.each([
    ['gaussian-learned', 'softplus'],
    ['gaussian', 'elu'],
  ] as const)('IWAE with a %s likelihood (%s), L = 3, scale = 0.5: loss and gradients', (lik, act) => {
    const c: NetworkConfig = {
      ...cfg,
      likelihood: lik,
      activation: act,
      sigma: lik === 'gaussian' ? 0.8 : undefined,
    };
    const net = new Network(k, resolveModelConfig(c), { dataRows: B, sampleRows: B * 3 });
    seedRng(net, 31);
    initParams(net, 'glorot');
    const x = randArray(B * c.inputDim, 32, -1, 1);
    const eps = Float32Array.from(randn(B * 3 * c.latentDim, 33));
    net.actView('x', x.length).set(x);
    net.actView('eps', eps.length).set(eps);
    const params = paramsOf(net);
    net.zeroGrad();
    const r = net.loss(B, 3, IWAE, 0.5);
    const f = () => iwaeLossRef(c as RefConfig, params, x, eps, B, 3);
    expect(Math.abs(r.loss - f())).toBeLessThan(1e-5 * Math.abs(f()));
    checkGrad(net, params, f, 0.5, `iwae ${lik}`);
  });

  it('IWAE with L = 1 is the one-sample ELBO: loss − rec = Σ log q(z|x) − log p(z); its mean over ε is the closed-form KL', () => {
    const { net, x, params } = setup(1, 3);
    const Z = cfg.latentDim,
      draws = 3000;
    let sumDiff = 0,
      klSum = 0;
    const r0 = rand(17);
    for (let t = 0; t < draws; t++) {
      const eps = Float32Array.from(
        { length: B * Z },
        () => Math.sqrt(-2 * Math.log(1 - r0())) * Math.cos(2 * Math.PI * r0()),
      );
      net.actView('x', x.length).set(x);
      net.actView('eps', eps.length).set(eps);
      // loss() reuses its result object: copy the numbers
      const iw = { ...net.loss(B, 1, IWAE, 1, false) };
      const el = { ...net.loss(B, 1, undefined, 1, false) };
      expect(iw.rec).toBe(el.rec);
      expect(iw.kl).toBe(el.kl);
      expect(el.loss).toBeCloseTo(el.rec + el.kl, 4);
      if (t < 5) {
        // exact per-ε identity: −log w = −log p(x|z) + log q(z|x) − log p(z)
        const f = forwardRef(cfg as RefConfig, params, x, eps, B, 1);
        let lq = 0;
        for (let i = 0; i < B * Z; i++) lq += logNormal(f.z[i], f.mu[i], f.lv[i]) - logNormal(f.z[i], 0, 0);
        expect(Math.abs(iw.loss - iw.rec - lq)).toBeLessThan(2e-4 * Math.max(1, Math.abs(lq)));
      }
      sumDiff += iw.loss - iw.rec;
      klSum = el.kl;
    }
    // E_ε[log q − log p] = KL: the IWAE(L=1) and ELBO losses agree in expectation (β = 1)
    const mean = sumDiff / draws;
    expect(Math.abs(mean - klSum)).toBeLessThan(0.05 * Math.max(1, klSum));
  });

  it('free bits: loss = Σ rec + β Σ_j max(Bλ, Σ_b kl_bj); gradients match finite differences', () => {
    const L = 2,
      beta = 0.7;
    const { net, x, eps, params } = setup(L, 21);
    const Z = cfg.latentDim;
    const f = forwardRef(cfg as RefConfig, params, x, eps, B, L);
    const kd = klDims(f, B, Z);
    const perDim = Array.from({ length: Z }, (_, j) => {
      let s = 0;
      for (let b = 0; b < B; b++) s += kd[b * Z + j];
      return s / B;
    });
    const sorted = [...perDim].sort((a, b) => a - b);
    // a floor between two dimensions' mean KLs, well away from both (no kink within the FD step)
    const lambda = (sorted[0] + sorted[1]) / 2;
    expect(sorted[1] - sorted[0]).toBeGreaterThan(1e-3);
    for (const [lam, label] of [
      [lambda, 'one dim floored'],
      [sorted[2] * 2, 'all floored'],
      [sorted[0] / 2, 'none floored'],
    ] as const) {
      net.actView('x', x.length).set(x);
      net.actView('eps', eps.length).set(eps);
      net.zeroGrad();
      const r = net.loss(B, L, elbo(beta, lam));
      const ref = freeBitsLossRef(cfg as RefConfig, params, x, eps, B, L, beta, lam);
      expect(Math.abs(r.loss - ref), label).toBeLessThan(1e-5 * Math.abs(ref));
      checkGrad(
        net,
        params,
        () => freeBitsLossRef(cfg as RefConfig, params, x, eps, B, L, beta, lam),
        1,
        `free bits (${label})`,
      );
    }
  });
});

describe('KL warm-up', () => {
  const x = data(40, 5);
  it('steps: β = min(1, t/10) with t the optimizer steps before the batch; the batch loss uses it', async () => {
    const vae = await VAE.create({ ...small, seed: 2 });
    const t = new Trainer(vae, { batchSize: 4, klWarmup: { steps: 10 }, beta: 1 });
    const infos: BatchInfo[] = [];
    const h = await t.fit(x, {
      epochs: 2,
      onBatchEnd: (i) => {
        infos.push(i);
      },
    });
    expect(infos.length).toBe(20);
    infos.forEach((i, n) => {
      expect(i.step).toBe(n + 1);
      expect(i.beta).toBe(Math.min(1, n / 10));
      expect(i.loss).toBeCloseTo(i.reconstruction + i.beta * i.kl, 4);
    });
    expect(infos[0].beta).toBe(0);
    expect(infos[5].beta).toBe(0.5);
    expect(infos[10].beta).toBe(1);
    expect(infos[19].beta).toBe(1);
    expect(h.epochs[0].beta).toBe(0.9);
    expect(h.epochs[1].beta).toBe(1);
  });

  it('epochs, scaled by β: β·min(1, (epoch + batch/batches)/E)', async () => {
    const vae = await VAE.create({ ...small, seed: 2 });
    const t = new Trainer(vae, { batchSize: 8, klWarmup: { epochs: 2 }, beta: 0.5 });
    const infos: BatchInfo[] = [];
    await t.fit(x, {
      epochs: 3,
      onBatchEnd: (i) => {
        infos.push(i);
      },
    });
    expect(infos.length).toBe(15);
    for (const i of infos) {
      const frac = i.epoch - 1 + (i.batch - 1) / i.batches;
      expect(i.beta).toBeCloseTo(0.5 * Math.min(1, frac / 2), 15);
      expect(i.loss).toBeCloseTo(i.reconstruction + i.beta * i.kl, 4);
    }
    expect(infos[7].beta).toBeCloseTo((0.5 * (1 + 2 / 5)) / 2, 15);
  });
});

describe('learning-rate schedules', () => {
  async function trainer(lrSchedule: TrainerOptions['lrSchedule'], lr = 0.01) {
    return new Trainer(await VAE.create({ ...small, seed: 1 }), {
      optimizer: { name: 'adam', lr },
      lrSchedule,
      batchSize: 4,
    });
  }
  const rel = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-15 * Math.abs(b));

  it('lrAt: exact values for constant, step, exponential, cosine and the IWAE schedule', async () => {
    const c = await trainer({ type: 'constant' });
    for (const e of [0, 1, 100]) expect(c.lrAt(e)).toBe(0.01);
    const s = await trainer({ type: 'step', stepSize: 3, gamma: 0.5 });
    expect([0, 1, 2, 3, 5, 6, 9].map((e) => s.lrAt(e))).toEqual([
      0.01, 0.01, 0.01, 0.005, 0.005, 0.0025, 0.00125,
    ]);
    const s10 = await trainer({ type: 'step', stepSize: 2 }); // default gamma 0.1
    rel(s10.lrAt(4), 0.01 * 0.01);
    const x = await trainer({ type: 'exponential', gamma: 0.9 });
    for (const e of [0, 1, 7]) rel(x.lrAt(e), 0.01 * 0.9 ** e);
    const cos = await trainer({ type: 'cosine', epochs: 10, minLr: 1e-4 });
    rel(cos.lrAt(0), 0.01);
    rel(cos.lrAt(5), (0.01 + 1e-4) / 2);
    rel(cos.lrAt(10), 1e-4);
    rel(cos.lrAt(25), 1e-4);
    rel(cos.lrAt(2), 1e-4 + ((0.01 - 1e-4) * (1 + Math.cos(Math.PI * 0.2))) / 2);
    const iw = await trainer({ type: 'iwae' }, 1e-3);
    // 3^i epochs at lr0·10^(−i/7): epoch 0 → i = 0; 1..3 → 1; 4..12 → 2; 13..39 → 3; … 1093..3279 → 7
    const iOf = (e: number) => {
      let i = 0,
        start = 0;
      while (i < 7 && e >= start + 3 ** i) {
        start += 3 ** i;
        i++;
      }
      return i;
    };
    const expectedI: [number, number][] = [
      [0, 0],
      [1, 1],
      [3, 1],
      [4, 2],
      [12, 2],
      [13, 3],
      [39, 3],
      [40, 4],
      [120, 4],
      [121, 5],
      [364, 6],
      [1092, 6],
      [1093, 7],
      [3279, 7],
      [5000, 7],
    ];
    for (const [e, i] of expectedI) {
      expect(iOf(e), `epoch ${e}`).toBe(i);
      rel(iw.lrAt(e), 1e-3 * Math.pow(10, -i / 7));
    }
    rel(iw.lrAt(3279), 1e-4);
  });

  it('fit applies the schedule: onEpochEnd reports it, and one SGD step per epoch moves w by exactly −lr·g', async () => {
    const x = data(8, 7);
    const vae = await VAE.create({ ...small, seed: 3 });
    const twin = await VAE.load(vae.save());
    // the same sampling-stream state (a plain load re-seeds; the original already drew its init)
    const st = (v: VAE) => new Uint32Array(v.kernels.memory.buffer, v.net.rngState(RNG_TRAIN), 4);
    st(twin).set(st(vae));
    const t = new Trainer(vae, {
      batchSize: 8,
      shuffle: false,
      optimizer: { name: 'sgd', lr: 0.1 },
      lrSchedule: { type: 'step', stepSize: 2, gamma: 0.5 },
    });
    const lrs: number[] = [],
      batchLrs: number[] = [];
    const snaps: Float32Array[] = [];
    await t.fit(x, {
      epochs: 5,
      onBatchEnd: (i) => {
        batchLrs.push(i.lr);
      },
      onEpochEnd: (r) => {
        lrs.push(r.lr);
        snaps.push(weights(vae));
      },
    });
    expect(lrs).toEqual([0.1, 0.1, 0.05, 0.05, 0.025]);
    expect(batchLrs).toEqual(lrs);
    // replay with the twin: same ε stream (same seed), manual w ← w − lr·g from the network's gradient
    const net = twin.net;
    for (let e = 0; e < 5; e++) {
      net.actView('x', x.length).set(x);
      net.zeroGrad();
      net.sampleEps(8, 1);
      net.loss(8, 1);
      for (const s of net.paramSlots) {
        const w = net.view(s),
          g = net.view(s, 'grad');
        for (let i = 0; i < w.length; i++) w[i] = w[i] - lrs[e] * g[i];
      }
      expectClose(weights(twin), snaps[e], { atol: 1e-6, rtol: 1e-5 }, `epoch ${e + 1}`);
    }
  });
});

describe('early stopping', () => {
  const r = rand(3);
  const tr = Float32Array.from({ length: 8 * D }, () => (r() < 0.5 ? 1 : 0));
  const va = Float32Array.from({ length: 32 * D }, () => (r() < 0.5 ? 1 : 0));
  const vopts = { inputDim: D, encoder: [32], latentDim: 4, seed: 1 };

  it.each([true, false])(
    'restoreBest %s: stops after `patience` epochs without improvement; weights are the best (or last) snapshot',
    async (restoreBest) => {
      const vae = await VAE.create(vopts);
      const t = new Trainer(vae, {
        batchSize: 4,
        optimizer: { name: 'adam', lr: 0.01 },
        earlyStopping: { patience: 3, restoreBest },
      });
      const snaps = new Map<number, Float32Array>();
      const h = await t.fit(tr, {
        epochs: 100,
        validationData: va,
        onEpochEnd: (rec) => {
          snaps.set(rec.epoch, weights(vae));
        },
      });
      expect(h.stopReason).toBe('early-stopping');
      const vals = h.epochs.map((e) => e.valLoss!);
      const best = vals.indexOf(Math.min(...vals)) + 1;
      expect(h.bestEpoch).toBe(best);
      expect(h.epochs.length).toBe(best + 3);
      for (let e = best + 1; e <= best + 3; e++) expect(vals[e - 1]).toBeGreaterThanOrEqual(vals[best - 1]);
      expect(best).toBeGreaterThan(1); // the validation loss first fell, then rose
      const final = weights(vae);
      expect(sameBits(final, snaps.get(restoreBest ? best : h.epochs.length)!)).toBe(true);
      expect(sameBits(final, snaps.get(h.epochs.length)!)).toBe(!restoreBest);
    },
  );

  it('minDelta: an improvement smaller than minDelta does not count', async () => {
    const vae = await VAE.create(vopts);
    const t = new Trainer(vae, {
      batchSize: 4,
      optimizer: { name: 'adam', lr: 0.01 },
      earlyStopping: { patience: 2, minDelta: 1e6 },
    });
    const h = await t.fit(tr, { epochs: 50, validationData: va });
    expect(h.bestEpoch).toBe(1);
    expect(h.epochs.length).toBe(3);
  });
});

describe('cancellation and yielding', () => {
  const x = data(40, 8);
  it('an AbortController aborted in onBatchEnd after 3 batches stops with 3 optimizer steps', async () => {
    const vae = await VAE.create({ ...small, seed: 1 });
    const t = new Trainer(vae, { batchSize: 4 });
    const ac = new AbortController();
    let at3: Float32Array | null = null;
    const h = await t.fit(x, {
      epochs: 5,
      signal: ac.signal,
      onBatchEnd: (i) => {
        if (i.step === 3) {
          at3 = weights(vae);
          ac.abort();
        }
      },
    });
    expect(h.stopReason).toBe('aborted');
    expect(h.steps).toBe(3);
    expect(t.optimizer.t).toBe(3);
    expect(h.epochs.length).toBe(0);
    expect(sameBits(weights(vae), at3!)).toBe(true);
    // an already-aborted signal takes no step
    const t2 = new Trainer(await VAE.create({ ...small, seed: 1 }), { batchSize: 4 });
    const h2 = await t2.fit(x, { epochs: 1, signal: AbortSignal.abort() });
    expect(h2.stopReason).toBe('aborted');
    expect(t2.optimizer.t).toBe(0);
  });

  it('fit yields to the event loop within an epoch: a timer set before fit fires before the epoch ends', async () => {
    const vae = await VAE.create({ ...small, seed: 1 });
    const t = new Trainer(vae, { batchSize: 4, yieldMs: 0 });
    let batchesDone = 0,
      firedAfter = -1;
    setTimeout(() => {
      firedAfter = batchesDone;
    }, 0);
    const busy = (ms: number) => {
      const t0 = performance.now();
      while (performance.now() - t0 < ms) {
        /* a heavy batch */
      }
    };
    const h = await t.fit(x, {
      epochs: 1,
      onBatchEnd: (i) => {
        busy(2);
        batchesDone = i.batch;
      },
    });
    expect(h.steps).toBe(10);
    expect(firedAfter).toBeGreaterThanOrEqual(1);
    expect(firedAfter).toBeLessThan(10);
  });
});

describe('divergence', () => {
  it('SGD with lr 1e6 throws DivergenceError with .step; the weights are those from before the failing step', async () => {
    const vae = await VAE.create({ ...small, seed: 1, likelihood: 'gaussian' });
    const t = new Trainer(vae, { batchSize: 4, optimizer: { name: 'sgd', lr: 1e6 } });
    const before = weights(vae);
    let last = { step: 0, w: before };
    const err = await rejects(
      t.fit(randArray(40 * D, 3, -1, 1), {
        epochs: 3,
        onBatchEnd: (i) => {
          last = { step: i.step, w: weights(vae) };
        },
      }),
      DivergenceError,
      /diverged at step \d+ .*weights are those from before this step/,
    );
    const step = (err as DivergenceError).step;
    expect(step).toBe(last.step + 1);
    expect((err as DivergenceError).code).toBe('E_DIVERGED');
    expect(err.message).toContain(`step ${step}`);
    expect(t.optimizer.t).toBe(step - 1);
    expect(sameBits(weights(vae), last.w)).toBe(true);
  });

  it('a non-finite weight (poisoned in onBatchEnd) fails the next step without touching the weights', async () => {
    const vae = await VAE.create({ ...small, seed: 1 });
    const t = new Trainer(vae, { batchSize: 4 });
    let poisoned: Float32Array | null = null;
    const err = await rejects(
      t.fit(data(40, 2), {
        epochs: 1,
        onBatchEnd: (i) => {
          if (i.step === 2) {
            vae.net.view(vae.net.muHead.weight)[4] = NaN;
            poisoned = weights(vae);
          }
        },
      }),
      DivergenceError,
      /step 3/,
    );
    expect((err as DivergenceError).step).toBe(3);
    expect(sameBits(weights(vae), poisoned!)).toBe(true);
  });
});

describe('bad options', () => {
  let vae: VAE;
  beforeAll(async () => {
    vae = await VAE.create({ ...small, seed: 1 });
  });
  const x = data(10, 1);

  it('Trainer options', () => {
    throws(
      () => new Trainer(vae, { batchSize: 0 }),
      ConfigError,
      /batchSize must be a positive integer, got 0/,
    );
    throws(() => new Trainer(vae, { batchSize: 2.5 }), ConfigError, /batchSize/);
    throws(
      () => new Trainer(vae, { batchsize: 4 } as never),
      ConfigError,
      /unknown Trainer option "batchsize"/,
    );
    throws(() => new Trainer(vae, { samples: 0 }), ConfigError, /samples must be a positive integer/);
    throws(
      () => new Trainer(vae, { objective: 'vi' } as never),
      ConfigError,
      /unknown objective "vi"; expected one of elbo, iwae/,
    );
    throws(() => new Trainer(vae, { beta: -1 }), ConfigError, /beta must be a non-negative/);
    throws(() => new Trainer(vae, { freeBits: NaN }), ConfigError, /freeBits/);
    throws(
      () => new Trainer(vae, { reduction: 'avg' } as never),
      ConfigError,
      /unknown reduction "avg"; expected one of sum, mean, dataset/,
    );
    throws(
      () => new Trainer(vae, { klWarmup: { steps: 5, epochs: 1 } }),
      ConfigError,
      /klWarmup needs exactly one of steps or epochs/,
    );
    throws(
      () => new Trainer(vae, { klWarmup: { steps: 0 } }),
      ConfigError,
      /klWarmup.steps must be a positive finite number, got 0/,
    );
    throws(
      () => new Trainer(vae, { batchSize: '128' as never }),
      ConfigError,
      /batchSize must be a positive integer, got "128" \(a string\)/,
    );
    throws(
      () => new Trainer(vae, { optimizer: 'adam' as never }),
      ConfigError,
      /optimizer must be an object such as \{ name: "adam" \}/,
    );
    // not an object at all: said so with the value's type, not "unknown optimizer undefined"
    for (const [bad, shown] of [
      [5, '5'],
      [null, 'null'],
      [['adam'], '\\["adam"\\] \\(an array\\)'],
    ] as const)
      throws(
        () => new Trainer(vae, { optimizer: bad as never }),
        ConfigError,
        new RegExp(`optimizer must be an object such as \\{ name: "adam" \\}, got ${shown}$`),
      );
    // the IWAE bound has no KL term: β, warm-up and free bits would mean nothing
    throws(
      () => new Trainer(vae, { objective: 'iwae', beta: 0.5 }),
      ConfigError,
      /objective 'iwae' has no β, KL warm-up or free bits/,
    );
    throws(
      () => new Trainer(vae, { objective: 'iwae', freeBits: 0.1 }),
      ConfigError,
      /objective 'iwae' has no β/,
    );
    throws(
      () => new Trainer(vae, { objective: 'iwae', klWarmup: { steps: 10 } }),
      ConfigError,
      /objective 'iwae' has no β/,
    );
    expect(new Trainer(vae, { objective: 'iwae', beta: 1, samples: 2 }).options.objective).toBe('iwae');
    throws(
      () => new Trainer(vae, { klWarmup: { step: 5 } } as never),
      ConfigError,
      /unknown klWarmup option "step"/,
    );
    throws(
      () => new Trainer(vae, { earlyStopping: { patience: 0 } }),
      ConfigError,
      /earlyStopping\.patience/,
    );
    throws(
      () => new Trainer(vae, { earlyStopping: { patience: 2, restore: true } } as never),
      ConfigError,
      /unknown earlyStopping option "restore"/,
    );
    throws(() => new Trainer({} as never), ConfigError, /needs a VAE/);
  });

  it('optimizer options', () => {
    throws(
      () => new Trainer(vae, { optimizer: { name: 'rmsprop' } as never }),
      ConfigError,
      /unknown optimizer "rmsprop"/,
    );
    throws(
      () => new Trainer(vae, { optimizer: { name: 'adam', learningRate: 1 } as never }),
      ConfigError,
      /unknown optimizer adam option "learningRate"/,
    );
    throws(() => new Trainer(vae, { optimizer: { name: 'sgd' } as never }), ConfigError, /sgd needs lr/);
    throws(
      () => new Trainer(vae, { optimizer: { name: 'adam', lr: -1 } }),
      ConfigError,
      /lr must be a positive number/,
    );
    throws(
      () => new Trainer(vae, { optimizer: { name: 'adam', betas: [0.9, 1] } }),
      ConfigError,
      /betas\[1\]/,
    );
    throws(
      () => new Trainer(vae, { optimizer: { name: 'sgd', lr: 0.1, nesterov: true } }),
      ConfigError,
      /Nesterov/,
    );
  });

  it('schedules', () => {
    throws(
      () => new Trainer(vae, { lrSchedule: { type: 'linear' } as never }),
      ConfigError,
      /unknown lrSchedule type "linear"/,
    );
    throws(
      () => new Trainer(vae, { lrSchedule: { type: 'step' } as never }),
      ConfigError,
      /lrSchedule step needs a positive integer stepSize/,
    );
    throws(
      () => new Trainer(vae, { lrSchedule: { type: 'exponential', gamma: 0 } }),
      ConfigError,
      /gamma > 0/,
    );
    throws(
      () => new Trainer(vae, { lrSchedule: { type: 'cosine', T: 10 } as never }),
      ConfigError,
      /unknown lrSchedule cosine option "T"/,
    );
  });

  it('fit options and data', async () => {
    const t = new Trainer(vae, { batchSize: 4 });
    await rejects(t.fit(x, { epochs: 0 }), ConfigError, /epochs must be a positive integer, got 0/);
    await rejects(t.fit(x, { epochs: 1.5 }), ConfigError, /epochs/);
    await rejects(
      t.fit(x, { epochs: 1, onEpoch: () => {} } as never),
      ConfigError,
      /unknown fit option "onEpoch"/,
    );
    await rejects(t.fit(x, undefined as never), ConfigError, /fit needs options/);
    await rejects(
      new Trainer(vae, { batchSize: 11 }).fit(x, { epochs: 1 }),
      ConfigError,
      /batchSize 11 is larger than the 10 training rows/,
    );
    const bad = x.slice();
    bad[2 * D + 5] = NaN;
    await rejects(
      t.fit(bad, { epochs: 1 }),
      DataError,
      /training data contains a non-finite value NaN at row 2, col 5/,
    );
    await rejects(
      t.fit(x, { epochs: 1, validationData: [[1, 2]] }),
      ShapeError,
      /validationData has 2 columns/,
    );
    const out = x.slice();
    out[3] = 2;
    await rejects(t.fit(out, { epochs: 1 }), DataError, /value 2 at row 0, col 3/);
    expect(t.optimizer.t).toBe(0); // nothing ran
  });
});

describe('reductions', () => {
  const N = 12,
    x = data(N, 4);
  /** Weights after exactly one optimizer step (the first batch) and the initial weights. */
  async function oneStep(
    reduction: 'sum' | 'mean' | 'dataset',
    lr: number,
    B: number,
    extra: TrainerOptions = {},
  ) {
    const vae = await VAE.create({ ...small, seed: 7 });
    const w0 = weights(vae);
    const t = new Trainer(vae, { batchSize: B, reduction, optimizer: { name: 'sgd', lr }, ...extra });
    const ac = new AbortController();
    await t.fit(x, { epochs: 1, signal: ac.signal, onBatchEnd: () => ac.abort() });
    expect(t.optimizer.t).toBe(1);
    return { w0, w: weights(vae) };
  }
  const delta = (r: { w0: Float32Array; w: Float32Array }) => Float64Array.from(r.w, (v, i) => v - r.w0[i]);

  it.each([
    ['elbo', {}],
    ['iwae (L = 4)', { objective: 'iwae', samples: 4 }],
    ['elbo with free bits', { freeBits: 0.05, samples: 2 }],
  ] as const)(
    '%s: one SGD step with mean and lr·B equals sum with lr; dataset scales by N/B',
    async (_n, extra) => {
      const B = 4;
      const sum = await oneStep('sum', 1e-3, B, extra as TrainerOptions);
      const mean = await oneStep('mean', 1e-3 * B, B, extra as TrainerOptions);
      expectClose(mean.w, sum.w, { atol: 1e-7, rtol: 1e-5 }, 'mean·B vs sum');
      const mean1 = await oneStep('mean', 1e-3, B, extra as TrainerOptions);
      const dSum = delta(sum),
        dMean = delta(mean1);
      expectClose(
        dMean.map((v) => v * B),
        dSum,
        { atol: 2e-7, rtol: 1e-3 },
        'Δw(mean)·B vs Δw(sum)',
      );
      const ds = await oneStep('dataset', 1e-3, B, extra as TrainerOptions);
      expectClose(
        delta(ds).map((v) => (v * B) / N),
        dSum,
        { atol: 2e-7, rtol: 1e-3 },
        'Δw(dataset)·B/N vs Δw(sum)',
      );
      let mx = 0;
      for (const v of dSum) mx = Math.max(mx, Math.abs(v));
      expect(mx).toBeGreaterThan(1e-5); // the step really moved the weights
    },
  );
});
