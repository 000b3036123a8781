// Convolutional VAEs (inputShape, conv / deconv / reshape entries): PyTorch parity on the fixture
// of scripts/make_conv_fixture.py, central finite differences of the whole loss for every
// parameter tensor against an f64 reference (test/ref.ts convModelLossRef), shape validation.
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { BUILDS, kernels, randArray, randn, expectClose, paramsOf, checkGrad } from './helpers.js';
import { convModelLossRef, convRef, type ConvRefConfig } from './ref.js';
import { Network, elbo } from '../src/network.js';
import { resolveModelConfig, parameterCount, type ImageModelOptions } from '../src/config.js';
import { Optimizer } from '../src/optim.js';
import { initParams, seedRng } from '../src/init.js';
import { ConfigError } from '../src/errors.js';
import type { Kernels } from '../src/wasm.js';

interface VaeCase {
  name: string;
  config: ImageModelOptions;
  B: number;
  L: number;
  beta: number;
  shapes: Record<string, number[]>;
  params: Record<string, number[]>;
  x: number[];
  eps: number[];
  loss: number;
  rec: number[];
  kl: number[];
  grads: Record<string, number[]>;
  adam: { lr: number; eps: number[][]; losses: number[]; params: Record<string, number[]> };
}
interface KernelCase {
  name: string;
  transposed: boolean;
  B: number;
  C: number;
  H: number;
  W: number;
  OC: number;
  K: number;
  stride: number;
  pad: number;
  outPad?: number;
  outShape: number[];
  x: number[];
  weight: number[];
  bias: number[];
  dout: number[];
  out: number[];
  dx: number[];
  dweight: number[];
  dbias: number[];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/conv.json', import.meta.url), 'utf8'));

describe('PyTorch conv fixture', () => {
  it('is the version this test understands', () => {
    expect(fixture.magic).toBe('wasm-vae-conv');
    expect(fixture.version).toBe(1);
    expect(fixture.kernels.length).toBeGreaterThanOrEqual(8);
    expect(fixture.vaes.length).toBeGreaterThanOrEqual(3);
  });
  it.each((fixture.kernels as KernelCase[]).map((c) => [c.name, c] as const))(
    'the f64 reference matches F.conv2d / F.conv_transpose2d: %s',
    (_n, c) => {
      const g = { ...c, KH: c.K, KW: c.K };
      const r = convRef(g, c.transposed, c.x, c.weight, c.bias, c.dout);
      // the fixture keeps 10 significant digits of inputs and results
      const tol = { atol: 1e-8, rtol: 1e-7 };
      expectClose(r.out, c.out, tol, 'out');
      expectClose(r.dinp, c.dx, tol, 'dx');
      expectClose(r.dweight, c.dweight, tol, 'dweight');
      expectClose(r.dbias, c.dbias, tol, 'dbias');
    },
  );
});

/** Small conv VAEs for the finite differences: every layer kind, both heads, every likelihood. */
const FD: [string, ImageModelOptions, number][] = [
  [
    'conv+deconv, bernoulli, relu',
    {
      inputShape: [1, 6, 6],
      encoder: [{ conv: 3, kernel: 3, stride: 2, padding: 1 }, { dense: 5 }],
      latentDim: 2,
      decoder: [
        { dense: 12 },
        { reshape: [3, 2, 2] },
        { deconv: 2, kernel: 3, stride: 2, padding: 0, outputPadding: 1 },
      ],
      activation: 'relu',
      likelihood: 'bernoulli',
    },
    1,
  ],
  [
    'conv head stack, gaussian-learned, tanh, L=2',
    {
      inputShape: [2, 5, 5],
      encoder: [
        { conv: 3, kernel: 3, padding: 1 },
        { conv: 2, kernel: 1 },
      ],
      latentDim: 3,
      decoder: [
        { dense: 8 },
        { reshape: [2, 2, 2] },
        { deconv: 3, kernel: 3, stride: 2 },
        { conv: 2, kernel: 3, padding: 1 },
      ],
      activation: 'tanh',
      likelihood: 'gaussian-learned',
    },
    2,
  ],
  [
    'dense head after a conv decoder, gaussian, elu',
    {
      inputShape: [1, 7, 5],
      encoder: [{ conv: 2, kernel: 2, stride: 2, padding: 1 }],
      latentDim: 2,
      decoder: [{ dense: 9 }, { reshape: [1, 3, 3] }, { conv: 2, kernel: 3, padding: 2 }, 6],
      activation: 'elu',
      likelihood: 'gaussian',
      sigma: 0.7,
    },
    1,
  ],
];

describe.each(BUILDS)('%s build', (build) => {
  let k: Kernels;
  beforeAll(async () => {
    k = await kernels(build);
  });

  describe('parity with PyTorch (test/fixtures/conv.json)', () => {
    it.each((fixture.vaes as VaeCase[]).map((c) => [c.name, c] as const))(
      '%s: PyTorch names and shapes, loss parts, every gradient, 10 Adam steps',
      (_n, c) => {
        const cfg = resolveModelConfig(c.config);
        const net = new Network(k, cfg, { dataRows: c.B, sampleRows: c.B * c.L });
        expect(Object.fromEntries(net.paramSlots.map((s) => [s.name, s.shape]))).toEqual(c.shapes);
        expect(parameterCount(cfg)).toBe(Object.values(c.params).reduce((n, v) => n + v.length, 0));
        for (const s of net.paramSlots) net.view(s).set(c.params[s.name]);
        net.actView('x', c.x.length).set(c.x);
        net.actView('eps', c.eps.length).set(c.eps);
        for (const s of net.paramSlots) net.view(s, 'grad').fill(123);
        const r = net.loss(c.B, c.L, elbo(c.beta));
        expect(Math.abs(r.loss - c.loss) / Math.abs(c.loss)).toBeLessThan(1e-5);
        expectClose(net.actView('rec', c.B), c.rec, { atol: 1e-4, rtol: 1e-5 }, 'rec');
        expectClose(net.actView('kl', c.B), c.kl, { atol: 1e-5, rtol: 1e-5 }, 'kl');
        for (const s of net.paramSlots)
          expectClose(net.view(s, 'grad'), c.grads[s.name], { atol: 5e-5, rtol: 1e-4 }, `grad ${s.name}`);
        net.loss(c.B, c.L, elbo(c.beta), 1, true, true);
        for (const s of net.paramSlots)
          expectClose(
            net.view(s, 'grad'),
            c.grads[s.name].map((g) => 2 * g),
            { atol: 1e-4, rtol: 1e-4 },
            `accumulated grad ${s.name}`,
          );
        const opt = new Optimizer(net, { name: 'adam', lr: c.adam.lr });
        const losses: number[] = [];
        for (const eps of c.adam.eps) {
          net.actView('eps', eps.length).set(eps);
          net.zeroGrad();
          losses.push(net.loss(c.B, c.L, elbo(c.beta)).loss);
          opt.step();
        }
        expectClose(losses, c.adam.losses, { atol: 1e-3, rtol: 1e-4 }, 'losses over 10 Adam steps');
        for (const s of net.paramSlots)
          expectClose(
            net.view(s),
            c.adam.params[s.name],
            { atol: 2e-4, rtol: 2e-4 },
            `param ${s.name} after 10 steps`,
          );
      },
    );
  });

  describe('central finite differences of the whole loss (ε fixed), every parameter tensor', () => {
    it.each(FD)('%s', (name, opts, L) => {
      const cfg = resolveModelConfig(opts);
      const B = 3,
        beta = 0.9,
        D = cfg.inputDim;
      const net = new Network(k, cfg, { dataRows: B, sampleRows: B * L });
      seedRng(net, 5);
      initParams(net, 'pytorch');
      const x = cfg.likelihood === 'bernoulli' ? randArray(B * D, 8, 0, 1) : randArray(B * D, 8, -1, 1);
      const eps = Float32Array.from(randn(B * L * cfg.latentDim, 9));
      net.actView('x', x.length).set(x);
      net.actView('eps', eps.length).set(eps);
      net.zeroGrad();
      const r = net.loss(B, L, elbo(beta));
      const params = paramsOf(net);
      const ref = convModelLossRef(opts as ConvRefConfig, params, x, eps, B, L, beta);
      expect(Math.abs(r.loss - ref.loss) / Math.abs(ref.loss)).toBeLessThan(1e-5);
      checkGrad(
        net,
        params,
        () => convModelLossRef(opts as ConvRefConfig, params, x, eps, B, L, beta).loss,
        1,
        name,
      );
    });
  });
});

describe('conv model configuration', () => {
  const ok: ImageModelOptions = {
    inputShape: [1, 28, 28],
    encoder: [
      { conv: 32, kernel: 3, stride: 2, padding: 1 },
      { conv: 64, kernel: 3, stride: 2, padding: 1 },
      { dense: 16 },
    ],
    latentDim: 2,
    decoder: [
      { dense: 7 * 7 * 64 },
      { reshape: [64, 7, 7] },
      { deconv: 64, kernel: 3, stride: 2, padding: 1, outputPadding: 1 },
      { deconv: 32, kernel: 3, stride: 2, padding: 1, outputPadding: 1 },
    ],
  };
  it('fills in inputDim, stride, padding and outputPadding; dense entries keep their form', () => {
    const c = resolveModelConfig({ ...ok, encoder: [{ conv: 4, kernel: 3 }, 10] });
    expect(c.inputDim).toBe(784);
    expect(c.encoder).toEqual([{ conv: 4, kernel: 3, stride: 1, padding: 0 }, 10]);
    expect(resolveModelConfig({ inputDim: 784 }).encoder).toEqual([400]);
  });
  const bad: [string, unknown, RegExp][] = [
    [
      'conv on a flat input',
      { inputDim: 784, encoder: [{ conv: 4, kernel: 3 }], decoder: [10] },
      /encoder\[0\] \(conv 4, kernel 3, stride 1, padding 0\) needs a \[C, H, W\] input, got \[784\]/,
    ],
    [
      'kernel larger than the padded input',
      {
        ...ok,
        encoder: [
          { conv: 4, kernel: 3, stride: 2, padding: 1 },
          { conv: 4, kernel: 3, stride: 2 },
          { conv: 4, kernel: 9 },
        ],
      },
      /encoder\[2\] \(conv 4, kernel 9.*does not fit its input \[4, 6, 6\]/,
    ],
    [
      'reshape of the wrong size',
      { ...ok, decoder: [{ dense: 100 }, { reshape: [64, 7, 7] }] },
      /decoder\[1\] \(reshape \[64, 7, 7\]\): 3136 values cannot come from the 100 of its input \[100\]/,
    ],
    [
      'decoder image of the wrong size',
      {
        ...ok,
        decoder: [{ dense: 49 }, { reshape: [1, 7, 7] }, { deconv: 8, kernel: 3, stride: 2, padding: 1 }],
      },
      /decoder\[2\] \(deconv 8.*ends on an image \[8, 13, 13\]; the output head needs the input's 28×28/,
    ],
    [
      'output padding not below the stride',
      { ...ok, decoder: [{ deconv: 3, kernel: 3, stride: 2, outputPadding: 2 }] },
      /decoder\[0\]\.outputPadding must be smaller than the stride 2, got 2/,
    ],
    [
      'an unknown key',
      { ...ok, encoder: [{ conv: 3, kernel: 3, dilation: 2 }] },
      /unknown encoder\[0\] \(conv\) option "dilation"/,
    ],
    ['no kind', { ...ok, encoder: [{ kernel: 3 }] }, /encoder\[0\] must name its kind/],
    ['a bad inputShape', { inputShape: [28, 28] }, /inputShape must be \[channels, height, width\]/],
    [
      'inputDim against inputShape',
      { ...ok, inputDim: 100 },
      /inputDim 100 does not match inputShape \[1, 28, 28\] \(784 values\)/,
    ],
    [
      'a conv encoder without a decoder',
      { inputShape: [1, 8, 8], encoder: [{ conv: 2, kernel: 3 }] },
      /needs an explicit decoder/,
    ],
    ['neither inputDim nor inputShape', { encoder: [4] }, /needs the option inputDim \(or inputShape\)/],
  ];
  it.each(bad)('%s: a ConfigError naming the layer and shape', (_n, opts, re) => {
    expect(() => resolveModelConfig(opts)).toThrow(ConfigError);
    expect(() => resolveModelConfig(opts)).toThrow(re);
  });
});
