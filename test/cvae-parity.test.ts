// The conditional VAE against PyTorch (scripts/make_cvae_fixture.py → test/fixtures/cvae.json):
// nn.Linear(D + C, H) on torch.cat([x, y], 1) and nn.Linear(Z + C, H') on torch.cat([z, y], 1);
// the loss parts and every gradient, on every build.
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { BUILDS, kernels, expectClose } from './helpers.js';
import { Network, elbo } from '../src/network.js';
import { resolveModelConfig, type ModelOptions } from '../src/config.js';
import type { Kernels } from '../src/wasm.js';

interface CvaeCase {
  name: string;
  config: ModelOptions;
  B: number;
  L: number;
  beta: number;
  params: Record<string, number[]>;
  x: number[];
  cond: number[];
  eps: number[];
  loss: number;
  rec: number[];
  kl: number[];
  grads: Record<string, number[]>;
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/cvae.json', import.meta.url), 'utf8'));

describe('the CVAE fixture', () => {
  it('is the version this test understands', () => {
    expect(fixture.magic).toBe('wasm-vae-cvae');
    expect(fixture.version).toBe(1);
    expect(fixture.cases.length).toBe(2);
  });
});

describe.each(BUILDS)('%s build: parity with PyTorch (test/fixtures/cvae.json)', (build) => {
  let k: Kernels;
  beforeAll(async () => {
    k = await kernels(build);
  });
  it.each((fixture.cases as CvaeCase[]).map((c) => [c.name, c] as const))(
    '%s: loss parts and every gradient',
    (_n, c) => {
      const net = new Network(k, resolveModelConfig(c.config), { dataRows: c.B, sampleRows: c.B * c.L });
      expect(net.paramSlots.map((s) => s.name).sort()).toEqual(Object.keys(c.params).sort());
      for (const s of net.paramSlots) net.view(s).set(c.params[s.name]);
      net.actView('x', c.x.length).set(c.x);
      net.put('cond', c.cond, 0, c.cond.length);
      net.actView('eps', c.eps.length).set(c.eps);
      for (const s of net.paramSlots) net.view(s, 'grad').fill(123);
      const r = net.loss(c.B, c.L, elbo(c.beta));
      expect(Math.abs(r.loss - c.loss) / Math.abs(c.loss)).toBeLessThan(1e-5);
      expectClose(net.actView('rec', c.B), c.rec, { atol: 1e-5, rtol: 1e-5 }, 'rec');
      expectClose(net.actView('kl', c.B), c.kl, { atol: 1e-5, rtol: 1e-5 }, 'kl');
      for (const s of net.paramSlots)
        expectClose(net.view(s, 'grad'), c.grads[s.name], { atol: 2e-5, rtol: 1e-4 }, `grad ${s.name}`);
    },
  );
});
