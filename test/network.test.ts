// The whole model: PyTorch parity (fixture), finite differences of the full loss, determinism.
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { BUILDS, kernels, randArray, randn, expectClose, rand, paramsOf, checkGrad } from './helpers.js';
import { modelLossRef, type RefConfig } from './ref.js';
import { Network, elbo } from '../src/network.js';
import { resolveModelConfig, type ModelOptions, type Activation, type Likelihood } from '../src/config.js';
import { Optimizer } from '../src/optim.js';
import { initParams, seedRng } from '../src/init.js';
import { loadKernels, type Kernels } from '../src/wasm.js';

interface FixtureCase {
  name: string;
  config: ModelOptions;
  B: number;
  L: number;
  beta: number;
  params: Record<string, number[]>;
  x: number[];
  eps: number[];
  loss: number;
  rec: number[];
  kl: number[];
  grads: Record<string, number[]>;
  adam: { lr: number; eps: number[][]; losses: number[]; params: Record<string, number[]> };
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/parity.json', import.meta.url), 'utf8'));
// the continuous Bernoulli's whole-model cases (scripts/make_cb_fixture.py), in the same format
const cbFixture = JSON.parse(
  readFileSync(new URL('./fixtures/continuous-bernoulli.json', import.meta.url), 'utf8'),
);

function setInputs(net: Network, x: ArrayLike<number>, eps: ArrayLike<number>) {
  net.actView('x', x.length).set(x);
  net.actView('eps', eps.length).set(eps);
}

describe('PyTorch fixture', () => {
  it('is the version this test understands', () => {
    // a stale or foreign fixture fails loudly here, not with confusing numbers below
    expect(fixture.magic).toBe('wasm-vae-parity');
    expect(fixture.version).toBe(1);
    expect(fixture.cases.length).toBeGreaterThanOrEqual(6);
    expect(cbFixture.magic).toBe('wasm-vae-continuous-bernoulli');
    expect(cbFixture.version).toBe(1);
    expect(cbFixture.cases.length).toBe(2);
  });
});

describe.each(BUILDS)('%s build', (build) => {
  let k: Kernels;
  beforeAll(async () => {
    k = await kernels(build);
  });

  describe('parity with PyTorch (test/fixtures/parity.json)', () => {
    it.each(([...fixture.cases, ...cbFixture.cases] as FixtureCase[]).map((c) => [c.name, c] as const))(
      '%s: loss parts, every gradient, 10 Adam steps',
      (_n, c) => {
        const net = new Network(k, resolveModelConfig(c.config), { dataRows: c.B, sampleRows: c.B * c.L });
        expect(net.paramSlots.map((s) => s.name).sort()).toEqual(Object.keys(c.params).sort());
        for (const s of net.paramSlots) net.view(s).set(c.params[s.name]);
        setInputs(net, c.x, c.eps);
        // the backward pass writes every parameter gradient: stale values must not leak in
        for (const s of net.paramSlots) net.view(s, 'grad').fill(123);
        const r = net.loss(c.B, c.L, elbo(c.beta));
        expect(Math.abs(r.loss - c.loss) / Math.abs(c.loss)).toBeLessThan(1e-5);
        expectClose(net.actView('rec', c.B), c.rec, { atol: 1e-5, rtol: 1e-5 }, 'rec');
        expectClose(net.actView('kl', c.B), c.kl, { atol: 1e-5, rtol: 1e-5 }, 'kl');
        for (const s of net.paramSlots) {
          expectClose(net.view(s, 'grad'), c.grads[s.name], { atol: 2e-5, rtol: 1e-4 }, `grad ${s.name}`);
        }
        // with accumulate, two passes add up
        net.loss(c.B, c.L, elbo(c.beta), 1, true, true);
        for (const s of net.paramSlots) {
          expectClose(
            net.view(s, 'grad'),
            c.grads[s.name].map((g) => 2 * g),
            { atol: 4e-5, rtol: 1e-4 },
            `accumulated grad ${s.name}`,
          );
        }
        net.zeroGrad();
        const opt = new Optimizer(net, { name: 'adam', lr: c.adam.lr });
        const losses: number[] = [];
        for (const eps of c.adam.eps) {
          net.actView('eps', eps.length).set(eps);
          net.zeroGrad();
          losses.push(net.loss(c.B, c.L, elbo(c.beta)).loss);
          opt.step();
        }
        expectClose(losses, c.adam.losses, { atol: 1e-4, rtol: 1e-4 }, 'losses over 10 Adam steps');
        for (const s of net.paramSlots) {
          expectClose(
            net.view(s),
            c.adam.params[s.name],
            { atol: 1e-4, rtol: 1e-4 },
            `param ${s.name} after 10 steps`,
          );
        }
      },
    );
  });

  describe('central finite differences of the whole loss (ε fixed)', () => {
    const combos: [Likelihood, Activation, number][] = [
      ['bernoulli', 'relu', 1],
      ['bernoulli', 'tanh', 2],
      ['gaussian', 'elu', 2],
      ['gaussian', 'sigmoid', 1],
      ['gaussian-learned', 'softplus', 2],
      ['gaussian-learned', 'leaky_relu', 1],
      ['bernoulli', 'identity', 3],
      ['continuous-bernoulli', 'relu', 1],
      ['continuous-bernoulli', 'tanh', 2],
    ];
    it.each(combos)('%s / %s, L = %i', (lik, act, L) => {
      const cfg: ModelOptions = {
        inputDim: 11,
        encoder: [9, 7],
        latentDim: 3,
        decoder: [6, 8],
        activation: act,
        likelihood: lik,
        sigma: lik === 'gaussian' ? 0.7 : undefined,
      };
      const B = 4,
        beta = 0.8;
      const net = new Network(k, resolveModelConfig(cfg), { dataRows: B, sampleRows: B * L });
      seedRng(net, 7);
      initParams(net, 'glorot');
      const x = lik.includes('bernoulli') ? randArray(B * 11, 3, 0, 1) : randArray(B * 11, 3, -1, 1);
      const eps = Float32Array.from(randn(B * L * 3, 4));
      setInputs(net, x, eps);
      net.zeroGrad();
      net.loss(B, L, elbo(beta));
      const params = paramsOf(net);
      checkGrad(
        net,
        params,
        () => modelLossRef(cfg as RefConfig, params, x, eps, B, L, beta).loss,
        1,
        `${lik}/${act}`,
      );
    });
  });

  describe('determinism', () => {
    const cfg: ModelOptions = {
      inputDim: 30,
      encoder: [16],
      latentDim: 4,
      decoder: [16],
      activation: 'relu',
      likelihood: 'bernoulli',
    };
    async function train(kk: Kernels, seed: number, steps: number): Promise<Float32Array> {
      const net = new Network(kk, resolveModelConfig(cfg), { dataRows: 8, sampleRows: 8 });
      seedRng(net, seed);
      initParams(net, 'pytorch');
      const opt = new Optimizer(net, { name: 'adam', lr: 1e-2 });
      const x = randArray(8 * 30, 5, 0, 1);
      for (let t = 0; t < steps; t++) {
        net.actView('x', x.length).set(x);
        net.zeroGrad();
        net.sampleEps(8, 1);
        net.loss(8, 1);
        opt.step();
      }
      return new Float32Array(
        k.memory.buffer === kk.memory.buffer ? net.k.memory.buffer : kk.memory.buffer,
        net.layout.params,
        net.paramFloats,
      ).slice();
    }
    it('the same seed gives bit-identical weights after 25 steps; another seed does not', async () => {
      const a = await train(await loadKernels({ build }), 1, 25);
      const b = await train(await loadKernels({ build }), 1, 25);
      const c = await train(await loadKernels({ build }), 2, 25);
      expect(b).toEqual(a);
      expect(c).not.toEqual(a);
    });
    it('a shared (SharedArrayBuffer) memory gives the same numbers', async () => {
      const a = await train(await loadKernels({ build }), 3, 10);
      const ks = await loadKernels({ build, shared: true });
      expect(ks.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(await train(ks, 3, 10)).toEqual(a);
    });
  });

  it('training lowers the loss on a learnable data set', () => {
    const D = 20,
      N = 64;
    const net = new Network(
      k,
      resolveModelConfig({
        inputDim: D,
        encoder: [32],
        latentDim: 2,
        decoder: [32],
        activation: 'tanh',
        likelihood: 'bernoulli',
      }),
      { dataRows: N, sampleRows: N },
    );
    seedRng(net, 5);
    initParams(net, 'pytorch');
    // two prototypes with noise: a 1-D latent structure
    const r = rand(1),
      x = new Float32Array(N * D);
    for (let n = 0; n < N; n++)
      for (let d = 0; d < D; d++) x[n * D + d] = ((n % 2 ? d < 10 : d >= 10) ? 0.9 : 0.1) * (0.9 + 0.1 * r());
    const opt = new Optimizer(net, { name: 'adam', lr: 1e-2 });
    const losses: number[] = [];
    for (let t = 0; t < 150; t++) {
      net.actView('x', x.length).set(x);
      net.zeroGrad();
      net.sampleEps(N, 1);
      losses.push(net.loss(N, 1).loss / N);
      opt.step();
    }
    // the optimum here is the entropy of the soft targets: Σ_d H(x_d) ≈ 20 · 0.33 = 6.6 nats
    expect(losses[0]).toBeGreaterThan(12);
    expect(losses.at(-1)!).toBeLessThan(9);
  });
});
