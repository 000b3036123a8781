// Every kernel against an independent f64 reference, over named shapes, for every build this
// runtime can run (scalar, SIMD, and relaxed SIMD where validated).
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { BUILDS, Heap, kernels, randArray, expectClose, expectedBuilds, isCI } from './helpers.js';
import {
  gemmRef,
  actRef,
  dactRef,
  nllRef,
  cbLogNormRef,
  cbMeanRef,
  cbCdfRef,
  type Act,
  type Lik,
} from './ref.js';
import type { Kernels } from '../src/wasm.js';

const GEMM_SHAPES: [string, number, number, number][] = [
  ['k_eq_1', 5, 9, 1],
  ['m_eq_1', 1, 8, 7],
  ['m_lt_mr', 3, 16, 10],
  ['n_lt_4', 6, 3, 12],
  ['n_eq_4', 4, 4, 5],
  ['n_lt_8', 5, 7, 9],
  ['n_gt_nr', 9, 13, 11],
  ['primes', 7, 11, 13],
  ['k_gt_kc', 6, 10, 600],
  ['k_eq_kc_plus_1', 5, 12, 257],
  ['ref_fwd_784x400', 128, 400, 784],
  ['ref_fwd_400x20', 128, 20, 400],
  ['ref_fwd_20x400', 128, 400, 20],
  ['ref_fwd_400x784', 128, 784, 400],
  ['batch_32', 32, 400, 784],
  ['odd_batch', 37, 21, 19],
];

describe('builds under test', () => {
  it('CI expects every build; WASM_VAE_EXPECT_BUILDS lists them explicitly', () => {
    expect(expectedBuilds({ CI: 'true' })).toEqual(['relaxed', 'simd', 'scalar']);
    expect(expectedBuilds({ CI: 'false' })).toEqual([]);
    expect(expectedBuilds({})).toEqual([]);
    expect(expectedBuilds({ CI: 'true', WASM_VAE_EXPECT_BUILDS: 'simd, scalar' })).toEqual([
      'simd',
      'scalar',
    ]);
    expect(() => expectedBuilds({ WASM_VAE_EXPECT_BUILDS: 'relaxed,sse' })).toThrow(/unknown build "sse"/);
  });
  it.runIf(isCI() && !process.env.WASM_VAE_EXPECT_BUILDS)('under CI, every build is tested', () => {
    expect([...BUILDS].sort()).toEqual(['relaxed', 'scalar', 'simd']);
  });
});

describe.each(BUILDS)('%s build', (build) => {
  let k: Kernels;
  let heap: Heap;
  beforeAll(async () => {
    k = await kernels(build);
    heap = new Heap(k);
  });

  it('reports the build it was compiled as', () => {
    expect(k.build).toBe(build);
    expect(k.exports.build_kind()).toBe({ scalar: 0, simd: 1, relaxed: 2 }[build]);
  });

  describe('GEMM', () => {
    for (const layout of ['nt', 'nn', 'tn'] as const) {
      it.each(GEMM_SHAPES)(`${layout} %s (M=%i N=%i K=%i)`, (_name, M, N, K) => {
        heap.reset();
        const e = k.exports;
        const a = randArray(M * K, M * 31 + K),
          b = randArray(N * K, N * 17 + K + 1),
          bias = randArray(N, N + 3),
          c0 = randArray(M * N, M + N);
        const pa = heap.put(a),
          pb = heap.put(b),
          pbias = heap.put(bias);
        const pack = heap.alloc(Math.max(e.gemm_nt_scratch_floats(M, N, K, 1), e.gemm_pack_a_floats(M, K)));
        const tol = { atol: 2e-6 * Math.sqrt(K) + 1e-6, rtol: 1e-5 };
        for (const acc of [false, true]) {
          const withBias = layout !== 'tn';
          const pc = heap.put(c0),
            pr = heap.put(c0);
          if (layout === 'nt') {
            e.f32_gemm_nt(pc, pa, pb, pbias, pack, M, N, K, acc);
            e.f32_gemm_nt_ref(pr, pa, pb, pbias, M, N, K, acc);
          }
          if (layout === 'nn') {
            e.f32_gemm_nn(pc, pa, pb, pbias, pack, M, N, K, acc);
            e.f32_gemm_nn_ref(pr, pa, pb, pbias, M, N, K, acc);
          }
          if (layout === 'tn') {
            e.f32_gemm_tn(pc, pa, pb, pack, M, N, K, acc);
            e.f32_gemm_tn_ref(pr, pa, pb, M, N, K, acc);
          }
          const ref = gemmRef(a, b, withBias ? bias : null, acc ? c0 : null, M, N, K, layout);
          expectClose(heap.get(pc, M * N), ref, tol, `${layout} acc=${acc} vs f64`);
          expectClose(heap.get(pr, M * N), ref, tol, `${layout}_ref acc=${acc} vs f64`);
        }
      });
    }

    it('transpose and column sums', () => {
      heap.reset();
      for (const [R, C] of [
        [1, 1],
        [3, 5],
        [4, 4],
        [9, 13],
        [400, 784],
      ]) {
        const src = randArray(R * C, R * C);
        const ps = heap.put(src),
          pd = heap.alloc(R * C);
        k.exports.f32_transpose(pd, ps, R, C);
        const t = heap.get(pd, R * C);
        for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) expect(t[c * R + r]).toBe(src[r * C + c]);
        const base = randArray(C, 5);
        const po = heap.put(base);
        k.exports.f32_colsum(po, ps, R, C, true);
        const ref = new Float64Array(C);
        for (let c = 0; c < C; c++) {
          let s = base[c];
          for (let r = 0; r < R; r++) s += src[r * C + c];
          ref[c] = s;
        }
        expectClose(heap.get(po, C), ref, { atol: 1e-5 * Math.sqrt(R), rtol: 1e-5 }, `colsum ${R}x${C}`);
      }
    });
  });

  describe('activations', () => {
    const specials = [
      0,
      -0,
      1e-7,
      -1e-7,
      0.3,
      -0.3,
      0.6249,
      0.626,
      1,
      -1,
      5,
      -5,
      20,
      -20,
      88,
      -88,
      100,
      -100,
      1e4,
      -1e4,
      NaN,
    ];
    const xs = Float32Array.from([...specials, ...randArray(203, 7, -8, 8)]);
    const acts: [Act, number][] = [
      ['identity', 0],
      ['relu', 0],
      ['leaky_relu', 0.01],
      ['leaky_relu', 0.2],
      ['elu', 1],
      ['elu', 0.5],
      ['tanh', 0],
      ['sigmoid', 0],
      ['softplus', 0],
    ];
    it.each(acts)('%s (alpha %s): forward, backward, large |x|, NaN', (act, alpha) => {
      heap.reset();
      const e = k.exports,
        n = xs.length,
        kind = k.constants.act[act];
      const px = heap.put(xs),
        py = heap.alloc(n),
        pd = heap.alloc(n);
      const dout = randArray(n, 11, -2, 2);
      const pdo = heap.put(dout);
      e.act_forward(py, px, n, kind, alpha, 0, 1);
      e.act_backward(pd, pdo, px, py, n, kind, alpha, 0, 1);
      const y = heap.get(py, n),
        d = heap.get(pd, n);
      const yref = Array.from(xs, (x) => actRef(x, act, alpha));
      const dref = Array.from(xs, (x, i) => dout[i] * dactRef(x, act, alpha));
      expectClose(y, yref, { atol: 2e-7, rtol: 2e-6 }, `${act} forward`);
      expectClose(d, dref, { atol: 1e-6, rtol: 2e-5 }, `${act} backward`);
      for (let i = 0; i < n; i++) {
        if (Number.isNaN(xs[i])) {
          expect(y[i], `${act}(NaN)`).toBeNaN();
          if (act !== 'identity') expect(d[i], `${act}'(NaN)`).toBeNaN();
        } else {
          expect(Number.isFinite(y[i]), `${act}(${xs[i]}) finite`).toBe(true);
          expect(Number.isFinite(d[i]), `${act}'(${xs[i]}) finite`).toBe(true);
        }
      }
      // in place (out aliasing inp) gives the same numbers
      e.act_forward(px, px, n, kind, alpha, 0, 1);
      expect(heap.get(px, n)).toEqual(y);
    });

    it('vector math: exp, log1p, expm1, tanh, sigmoid to a few ulp', () => {
      heap.reset();
      const cases: [number, (x: number) => number, number, number][] = [
        [0, Math.exp, -87, 88],
        [1, Math.log1p, 0, 1],
        [2, Math.expm1, -3, 3],
        [3, Math.tanh, -12, 12],
        [4, (x) => 1 / (1 + Math.exp(-x)), -30, 30],
      ];
      for (const [f, ref, lo, hi] of cases) {
        const xs = Float32Array.from(
          [...randArray(1001, f + 100, lo, hi), lo, hi, 1e-8, -1e-8].filter((x) => x >= lo && x <= hi),
        );
        const px = heap.put(xs),
          py = heap.alloc(xs.length);
        k.exports.vmath_eval(py, px, xs.length, f);
        expectClose(
          heap.get(py, xs.length),
          Array.from(xs, ref),
          { atol: 1e-30, rtol: 1e-6 },
          `vmath f=${f}`,
        );
      }
      const tiny = Float32Array.from([1e-10, 1e-20, 3e-8]);
      const pt = heap.put(tiny),
        po = heap.alloc(3);
      k.exports.vmath_eval(po, pt, 3, 1);
      expectClose(heap.get(po, 3), Array.from(tiny, Math.log1p), { atol: 0, rtol: 1e-6 }, 'log1p tiny');
    });
  });

  describe('ELBO', () => {
    const liks: [Lik, number][] = [
      ['bernoulli', 1],
      ['gaussian', 1],
      ['gaussian', 0.3],
      ['gaussian-learned', 1],
      ['continuous-bernoulli', 1],
    ];
    it.each(liks)('%s (sigma %s): loss parts and gradients vs f64, L = 3, beta and scale', (lik, sigma) => {
      heap.reset();
      const e = k.exports;
      const B = 5,
        L = 3,
        D = 37,
        Z = 6,
        BL = B * L,
        beta = 0.7,
        scale = 0.5;
      const out = randArray(BL * D, 1, -6, 6),
        outlv = randArray(BL * D, 2, -3, 3);
      const unit = lik === 'bernoulli' || lik === 'continuous-bernoulli';
      const x = unit ? randArray(B * D, 3, 0, 1) : randArray(B * D, 3, -2, 2);
      if (lik === 'continuous-bernoulli') {
        // logits at and around λ = ½ (the Taylor branch and its edge), and saturated ones
        out.set([0, 1e-7, -1e-3, 0.4999, -0.5, 0.5001, 40, -60], 0);
      }
      const mu = randArray(B * Z, 4, -2, 2),
        lv = randArray(B * Z, 5, -4, 2);
      lv[0] = 25;
      lv[1] = -35; // outside [LOGVAR_MIN, LOGVAR_MAX]: clamped, zero gradient
      const p = {
        out: heap.put(out),
        outlv: heap.put(outlv),
        x: heap.put(x),
        mu: heap.put(mu),
        lv: heap.put(lv),
      };
      const rec = heap.alloc(B),
        kl = heap.alloc(B),
        recs = heap.alloc(BL),
        dout = heap.alloc(BL * D),
        doutlv = heap.alloc(BL * D);
      const dmu = heap.alloc(B * Z),
        dlv = heap.alloc(B * Z);
      const learned = lik === 'gaussian-learned';
      const total = e.elbo_forward_backward(
        rec,
        kl,
        recs,
        dout,
        doutlv,
        dmu,
        dlv,
        0,
        p.out,
        learned ? p.outlv : 0,
        p.x,
        p.mu,
        p.lv,
        0,
        B,
        L,
        D,
        Z,
        k.constants.lik[lik],
        sigma,
        beta,
        scale,
        0,
        1,
      );
      const lmin = k.constants.logvarMin,
        lmax = k.constants.logvarMax;
      const clampLv = (v: number) => Math.min(Math.max(v, lmin), lmax);
      const recRef: number[] = [],
        klRef: number[] = [],
        recsRef: number[] = [];
      const doutRef = new Float64Array(BL * D),
        doutlvRef = new Float64Array(BL * D),
        dmuRef = new Float64Array(B * Z),
        dlvRef = new Float64Array(B * Z);
      let totalRef = 0;
      for (let b = 0; b < B; b++) {
        let r = 0;
        for (let l = 0; l < L; l++) {
          let s = 0;
          for (let d = 0; d < D; d++) {
            const i = (b * L + l) * D + d,
              o = out[i],
              t = x[b * D + d],
              v = clampLv(outlv[i]);
            s += nllRef(o, t, lik, sigma, v);
            const g = scale / L;
            if (lik === 'bernoulli') doutRef[i] = g * (1 / (1 + Math.exp(-o)) - t);
            else if (lik === 'continuous-bernoulli') {
              // ∂/∂l of −log p by central differences of the f64 reference (h = 1e-5)
              const h = 1e-5;
              doutRef[i] = (g * (nllRef(o + h, t, lik, 1) - nllRef(o - h, t, lik, 1))) / (2 * h);
            } else if (lik === 'gaussian') doutRef[i] = (g * (o - t)) / (sigma * sigma);
            else {
              doutRef[i] = g * (o - t) * Math.exp(-v);
              doutlvRef[i] = g * (0.5 - 0.5 * (t - o) ** 2 * Math.exp(-v));
            }
          }
          recsRef.push(s);
          r += s / L;
        }
        let kk = 0;
        for (let j = 0; j < Z; j++) {
          const i = b * Z + j,
            v = clampLv(lv[i]),
            inside = lv[i] >= lmin && lv[i] <= lmax ? 1 : 0;
          kk += -0.5 * (1 + v - mu[i] ** 2 - Math.exp(v));
          dmuRef[i] = scale * beta * mu[i];
          dlvRef[i] = scale * beta * 0.5 * (Math.exp(v) - 1) * inside;
        }
        recRef.push(r);
        klRef.push(kk);
        totalRef += r + beta * kk;
      }
      expect(Math.abs(total - totalRef) / Math.abs(totalRef)).toBeLessThan(2e-6);
      expectClose(heap.get(rec, B), recRef, { atol: 1e-4, rtol: 2e-6 }, 'rec');
      expectClose(heap.get(recs, BL), recsRef, { atol: 1e-4, rtol: 2e-6 }, 'recs');
      expectClose(heap.get(kl, B), klRef, { atol: 1e-4, rtol: 2e-6 }, 'kl');
      expectClose(heap.get(dout, BL * D), doutRef, { atol: 1e-7, rtol: 2e-5 }, 'dout');
      if (learned) expectClose(heap.get(doutlv, BL * D), doutlvRef, { atol: 1e-7, rtol: 2e-5 }, 'doutlv');
      expectClose(heap.get(dmu, B * Z), dmuRef, { atol: 1e-7, rtol: 1e-6 }, 'dmu');
      expectClose(heap.get(dlv, B * Z), dlvRef, { atol: 1e-7, rtol: 1e-5 }, 'dlogvar');
      expect(Array.from(heap.get(dlv, 2), Math.abs)).toEqual([0, 0]);
    });

    it('Bernoulli is stable for huge logits and valid for soft targets', () => {
      heap.reset();
      const e = k.exports;
      const out = Float32Array.from([1e4, -1e4, 100, -100, 0, 30, -30, 0.5]),
        x = Float32Array.from([1, 0, 0.3, 0.7, 0.5, 1, 0, 0.25]);
      const D = out.length;
      const p = { out: heap.put(out), x: heap.put(x), mu: heap.put([0]), lv: heap.put([0]) };
      const rec = heap.alloc(1),
        kl = heap.alloc(1),
        dout = heap.alloc(D);
      e.elbo_forward_backward(
        rec,
        kl,
        0,
        dout,
        0,
        0,
        0,
        0,
        p.out,
        0,
        p.x,
        p.mu,
        p.lv,
        0,
        1,
        1,
        D,
        1,
        k.constants.lik.bernoulli,
        1,
        1,
        1,
        0,
        1,
      );
      const ref = Array.from(out, (o, i) => nllRef(o, x[i], 'bernoulli', 1)).reduce((a, b) => a + b, 0);
      expect(Math.abs(heap.get(rec, 1)[0] - ref) / ref).toBeLessThan(1e-6);
      expectClose(
        heap.get(dout, D),
        Array.from(out, (o, i) => 1 / (1 + Math.exp(-o)) - x[i]),
        { atol: 1e-7, rtol: 1e-6 },
        'dlogits',
      );
    });

    describe('continuous Bernoulli', () => {
      const cbFixture = JSON.parse(
        readFileSync(new URL('./fixtures/continuous-bernoulli.json', import.meta.url), 'utf8'),
      );
      // the ELBO kernel on one row of D elements with x, logits given; returns −log p per element's sum and dlogits
      const cbRow = (logits: number[], xs: number[]) => {
        heap.reset();
        const e = k.exports,
          D = logits.length;
        const p = { out: heap.put(logits), x: heap.put(xs), mu: heap.put([0]), lv: heap.put([0]) };
        const rec = heap.alloc(1),
          kl = heap.alloc(1),
          dout = heap.alloc(D);
        e.elbo_forward_backward(
          rec,
          kl,
          0,
          dout,
          0,
          0,
          0,
          0,
          p.out,
          0,
          p.x,
          p.mu,
          p.lv,
          0,
          1,
          1,
          D,
          1,
          k.constants.lik['continuous-bernoulli'],
          1,
          1,
          1,
          0,
          1,
        );
        return { nll: heap.get(rec, 1)[0], dout: heap.get(dout, D) };
      };
      it('matches torch.distributions.ContinuousBernoulli.log_prob and its gradient, element by element', () => {
        expect(cbFixture.magic).toBe('wasm-vae-continuous-bernoulli');
        expect(cbFixture.version).toBe(1);
        const el = cbFixture.elements;
        for (let i = 0; i < el.logits.length; i++) {
          const r = cbRow([el.logits[i]], [el.x[i]]);
          // PyTorch computes log C from λ, which loses digits as λ → 1 (at l = 30 its f64 value is
          // 3.4e-5 off the logit-form reference): past |l| = 20 the f64 reference stands in
          const far = Math.abs(el.logits[i]) > 20;
          const ref = far ? nllRef(el.logits[i], el.x[i], 'continuous-bernoulli', 1) : -el.log_prob[i];
          expect(Math.abs(r.nll - ref), `log_prob at l=${el.logits[i]}, x=${el.x[i]}`).toBeLessThan(
            2e-6 * Math.max(1, Math.abs(ref)),
          );
          expect(Math.abs(r.dout[0] + el.dlog_prob[i]), `dlog_prob at l=${el.logits[i]}`).toBeLessThan(
            2e-6 * Math.max(1, Math.abs(el.dlog_prob[i])),
          );
        }
      });
      it('log C and its gradient are accurate across λ = ½ (the Taylor branch), and finite at λ → 0, 1', () => {
        const ls = [
          0, 1e-30, 1e-7, -1e-4, 0.1, -0.3, 0.4999, 0.5, -0.5, 0.50001, 0.7, -2, 5, -15, 30, 80, -88, 1e4,
          -1e6,
        ];
        const r = cbRow(
          ls,
          ls.map(() => 0.5),
        );
        // x = ½ makes the BCE part −l/2 + softplus(l); the sum of −log C is compared through the reference
        const ref = ls.reduce((s, l) => s + nllRef(l, 0.5, 'continuous-bernoulli', 1), 0);
        expect(Math.abs(r.nll - ref) / Math.abs(ref)).toBeLessThan(2e-6);
        for (let i = 0; i < ls.length; i++) {
          const l = ls[i],
            h = Math.max(1e-5, Math.abs(l) * 1e-6);
          const fd =
            (nllRef(l + h, 0.5, 'continuous-bernoulli', 1) - nllRef(l - h, 0.5, 'continuous-bernoulli', 1)) /
            (2 * h);
          expect(Math.abs(r.dout[i] - fd), `gradient at l = ${l}`).toBeLessThan(
            1e-6 * Math.max(1, Math.abs(fd)),
          );
        }
        // log C itself at the branch edge, where both forms are used on either side
        for (const l of [0.49999, 0.5, 0.50001, -0.49999, -0.50001]) {
          const one = cbRow([l], [0]);
          const bce = Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l)));
          expect(Math.abs(bce - one.nll - cbLogNormRef(l))).toBeLessThan(3e-7);
        }
      });
      it("cb_mean matches PyTorch's mean and the f64 formula, across λ = ½", () => {
        heap.reset();
        const e = k.exports;
        const el = cbFixture.elements;
        const ls = [...el.mean_logits, 0.999, 1, 1.001, -0.9999, 1e-20, 60, -90, 1e5];
        const p = heap.put(ls),
          o = heap.alloc(ls.length);
        e.cb_mean(o, p, ls.length);
        const got = heap.get(o, ls.length);
        const near = el.mean_logits.map((l: number) => Math.abs(l) <= 20); // see above: PyTorch's λ form past 20
        expectClose(
          Array.from(got.slice(0, el.mean.length)).filter((_, i) => near[i]),
          el.mean.filter((_: number, i: number) => near[i]),
          { atol: 2e-7, rtol: 0 },
          'mean vs torch',
        );
        expectClose(got, ls.map(cbMeanRef), { atol: 2e-7, rtol: 0 }, 'mean vs f64');
      });
      it('lik_draw: continuous-Bernoulli draws invert the CDF (F(x) = u), Bernoulli draws are u < σ(l), Gaussians m + s·n', () => {
        heap.reset();
        const e = k.exports;
        const ls = [-20, -5, -1, -0.2, -1e-5, 0, 3e-5, 0.3, 2, 7, 20];
        const us = [0, 0.01, 0.3, 0.5, 0.77, 0.999];
        const out: number[] = [],
          u: number[] = [];
        for (const l of ls)
          for (const v of us) {
            out.push(l);
            u.push(v);
          }
        const N = out.length,
          po = heap.put(out),
          pu = heap.put(u),
          dst = heap.alloc(N);
        e.lik_draw(dst, po, 0, pu, N, k.constants.lik['continuous-bernoulli'], 1);
        const x = heap.get(dst, N);
        for (let i = 0; i < N; i++) {
          expect(x[i]).toBeGreaterThanOrEqual(0);
          expect(x[i]).toBeLessThanOrEqual(1);
          expect(Math.abs(cbCdfRef(x[i], out[i]) - u[i]), `F(x) at l=${out[i]}, u=${u[i]}`).toBeLessThan(
            2e-6,
          );
        }
        e.lik_draw(dst, po, 0, pu, N, k.constants.lik.bernoulli, 1);
        expect(Array.from(heap.get(dst, N))).toEqual(
          out.map((l, i) => (u[i] < 1 / (1 + Math.exp(-l)) ? 1 : 0)),
        );
        e.lik_draw(dst, po, 0, pu, N, k.constants.lik.gaussian, 0.5);
        expectClose(
          heap.get(dst, N),
          out.map((m, i) => m + 0.5 * u[i]),
          { atol: 1e-6, rtol: 1e-6 },
          'gaussian',
        );
        const plv = heap.put(out.map((_, i) => (i % 7) - 3));
        e.lik_draw(dst, po, plv, pu, N, k.constants.lik['gaussian-learned'], 1);
        expectClose(
          heap.get(dst, N),
          out.map((m, i) => m + Math.exp(0.5 * ((i % 7) - 3)) * u[i]),
          { atol: 1e-6, rtol: 1e-6 },
          'gaussian-learned',
        );
      });
    });

    it.each([
      ['ELBO', false],
      ['IWAE weights', true],
    ] as const)('reparameterization forward and backward (the path through z), %s', (_n, weighted) => {
      heap.reset();
      const e = k.exports;
      const B = 4,
        L = 3,
        Z = 5;
      const mu = randArray(B * Z, 21, -2, 2),
        lv = randArray(B * Z, 22, -5, 3),
        eps = randArray(B * L * Z, 23, -3, 3),
        dz = randArray(B * L * Z, 24);
      const sw = randArray(B * L, 27, 0, 1);
      lv[3] = 40; // clamped
      const p = {
        mu: heap.put(mu),
        lv: heap.put(lv),
        eps: heap.put(eps),
        dz: heap.put(dz),
        z: heap.alloc(B * L * Z),
        sw: heap.put(sw),
      };
      const base1 = randArray(B * Z, 25),
        base2 = randArray(B * Z, 26);
      const dmu = heap.put(base1),
        dlv = heap.put(base2);
      e.reparam_forward(p.z, p.mu, p.lv, p.eps, B, L, Z);
      e.reparam_backward(dmu, dlv, p.dz, p.lv, p.eps, p.z, weighted ? p.sw : 0, B, L, Z);
      const zRef: number[] = [],
        dmuRef = Array.from(base1),
        dlvRef = Array.from(base2);
      const cl = (v: number) => Math.min(Math.max(v, k.constants.logvarMin), k.constants.logvarMax);
      for (let b = 0; b < B; b++)
        for (let l = 0; l < L; l++)
          for (let j = 0; j < Z; j++) {
            const i = (b * L + l) * Z + j,
              sd = Math.exp(0.5 * cl(lv[b * Z + j]));
            zRef[i] = mu[b * Z + j] + sd * eps[i];
            // IWAE: −log w holds ½‖z‖², whose gradient w̃·z joins dz
            const g = dz[i] + (weighted ? sw[b * L + l] * zRef[i] : 0);
            dmuRef[b * Z + j] += g;
            dlvRef[b * Z + j] += lv[b * Z + j] > k.constants.logvarMax ? 0 : g * eps[i] * 0.5 * sd;
          }
      expectClose(heap.get(p.z, B * L * Z), zRef, { atol: 1e-6, rtol: 1e-6 }, 'z');
      expectClose(heap.get(dmu, B * Z), dmuRef, { atol: 1e-5, rtol: 1e-5 }, 'dmu');
      expectClose(heap.get(dlv, B * Z), dlvRef, { atol: 1e-5, rtol: 1e-5 }, 'dlogvar');
    });
  });

  describe('optimizers (PyTorch semantics, 5 steps vs f64)', () => {
    const n = 37;
    function run(
      step: (p: number, g: number, s1: number, s2: number, t: number, gs: number) => void,
      ref: (
        p: Float64Array,
        g: Float32Array,
        s1: Float64Array,
        s2: Float64Array,
        t: number,
        gs: number,
      ) => void,
      gs = 1,
      states: 1 | 2 = 1,
    ) {
      heap.reset();
      const p0 = randArray(n, 31),
        pp = heap.put(p0),
        s1 = heap.alloc(n),
        s2 = heap.alloc(n),
        pg = heap.alloc(n);
      const P = Float64Array.from(p0),
        S1 = new Float64Array(n),
        S2 = new Float64Array(n);
      for (let t = 1; t <= 5; t++) {
        const g = randArray(n, 100 + t, -3, 3);
        heap.f32(pg, n).set(g);
        step(pp, pg, s1, s2, t, gs);
        ref(P, g, S1, S2, t, gs);
      }
      expectClose(heap.get(pp, n), P, { atol: 1e-6, rtol: 1e-5 }, 'params');
      expectClose(heap.get(s1, n), S1, { atol: 1e-6, rtol: 1e-5 }, 'state 1');
      // exp_avg_sq is ~(1 − β2)·g², so a tiny atol; rtol 2e-5 because adam_step forms 1 − β2 in f32
      // (1 − fround(0.999) is 1.3e-5 below 0.001), which PyTorch forms in f64
      if (states === 2) expectClose(heap.get(s2, n), S2, { atol: 1e-9, rtol: 2e-5 }, 'state 2');
    }
    for (const [name, wd, decoupled] of [
      ['adam', 0, false],
      ['adam+L2', 0.1, false],
      ['adamw', 0.1, true],
    ] as const) {
      it(name, () => {
        const lr = 0.01,
          b1 = 0.9,
          b2 = 0.999,
          eps = 1e-8;
        run(
          (p, g, m, v, t, gs) =>
            k.exports.adam_step(
              p,
              g,
              m,
              v,
              n,
              lr,
              b1,
              b2,
              eps,
              wd,
              lr / (1 - b1 ** t),
              Math.sqrt(1 - b2 ** t),
              gs,
              decoupled,
              0,
              1,
            ),
          (P, G, M, V, t, gs) => {
            for (let i = 0; i < n; i++) {
              let g = G[i] * gs;
              if (!decoupled) g += wd * P[i];
              else P[i] *= 1 - lr * wd;
              M[i] = b1 * M[i] + (1 - b1) * g;
              V[i] = b2 * V[i] + (1 - b2) * g * g;
              P[i] -= ((lr / (1 - b1 ** t)) * M[i]) / (Math.sqrt(V[i]) / Math.sqrt(1 - b2 ** t) + eps);
            }
          },
          name === 'adamw' ? 0.5 : 1,
          2,
        );
      });
    }
    it('adagrad with lr decay and weight decay', () => {
      const lr = 0.1,
        decay = 0.01,
        wd = 0.05,
        eps = 1e-10;
      run(
        (p, g, s, _v, t) => k.exports.adagrad_step(p, g, s, n, lr / (1 + (t - 1) * decay), eps, wd, 1, 0, 1),
        (P, G, S, _v, t) => {
          for (let i = 0; i < n; i++) {
            const g = G[i] + wd * P[i];
            S[i] += g * g;
            P[i] -= ((lr / (1 + (t - 1) * decay)) * g) / (Math.sqrt(S[i]) + eps);
          }
        },
      );
    });
    for (const nesterov of [0, 1]) {
      it(`sgd momentum${nesterov ? ' nesterov' : ''}`, () => {
        const lr = 0.05,
          mom = 0.9,
          wd = 0.01,
          damp = 0;
        run(
          (p, g, b, _s, t) =>
            k.exports.sgd_step(p, g, b, n, lr, mom, damp, wd, nesterov === 1, t === 1, 1, 0, 1),
          (P, G, Bf, _v, t) => {
            for (let i = 0; i < n; i++) {
              const d = G[i] + wd * P[i];
              Bf[i] = t === 1 ? d : mom * Bf[i] + (1 - damp) * d;
              P[i] -= lr * (nesterov ? d + mom * Bf[i] : Bf[i]);
            }
          },
        );
      });
    }
    it('sum of squares and the non-finite scan', () => {
      heap.reset();
      const x = randArray(1003, 9, -2, 2),
        px = heap.put(x);
      let ref = 0;
      for (const v of x) ref += v * v;
      expect(Math.abs(k.exports.f32_sumsq(px, x.length) - ref) / ref).toBeLessThan(1e-6);
      expect(k.exports.f32_find_nonfinite(px, x.length)).toBe(-1);
      for (const [i, v] of [
        [0, NaN],
        [17, Infinity],
        [1002, -Infinity],
        [500, NaN],
      ] as const) {
        const f = heap.f32(px, x.length);
        const old = f[i];
        f[i] = v;
        expect(k.exports.f32_find_nonfinite(px, x.length)).toBe(i);
        f[i] = old;
      }
    });
  });

  describe('Philox RNG', () => {
    it('matches the Random123 known-answer vector and is the same in every build', async () => {
      heap.reset();
      const st = heap.alloc(4),
        out = heap.alloc(4);
      k.exports.rng_seed(st, 0, 0);
      k.exports.rng_u32(out, 4, st);
      expect(Array.from(new Uint32Array(k.memory.buffer, out, 4))).toEqual([
        0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8,
      ]);
      // counter advanced by one block
      expect(Array.from(new Uint32Array(k.memory.buffer, st, 4))).toEqual([0, 0, 1, 0]);
      const other = await kernels('scalar');
      const h2 = new Heap(other);
      const n = 1001,
        s1 = heap.alloc(4),
        s2 = h2.alloc(4),
        o1 = heap.alloc(n),
        o2 = h2.alloc(n);
      k.exports.rng_seed(s1, 1234, 5);
      other.exports.rng_seed(s2, 1234, 5);
      k.exports.rng_normal(o1, n, s1, 0, 1);
      other.exports.rng_normal(o2, n, s2, 0, 1);
      expect(heap.get(o1, n)).toEqual(h2.get(o2, n));
    });

    it('normal, uniform and permutation statistics', () => {
      heap.reset();
      const n = 200_000,
        st = heap.alloc(4),
        out = heap.alloc(n);
      k.exports.rng_seed(st, 42, 0);
      k.exports.rng_normal(out, n, st, 2, 3);
      const z = heap.get(out, n);
      let m = 0,
        v = 0;
      for (const x of z) m += x;
      m /= n;
      for (const x of z) v += (x - m) ** 2;
      v /= n;
      expect(Math.abs(m - 2)).toBeLessThan((5 * 3) / Math.sqrt(n));
      expect(Math.abs(v / 9 - 1)).toBeLessThan(0.02);
      k.exports.rng_uniform(out, n, st, -1, 3);
      const u = heap.get(out, n);
      let lo = Infinity,
        hi = -Infinity;
      for (const x of u) {
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
      expect(lo).toBeGreaterThanOrEqual(-1);
      expect(lo).toBeLessThan(-0.99);
      expect(hi).toBeLessThan(3);
      expect(hi).toBeGreaterThan(2.99);
      let um = 0;
      for (const x of u) um += x;
      expect(Math.abs(um / n - 1)).toBeLessThan(0.02);
      const pn = 1000,
        pp = heap.alloc(pn);
      k.exports.rng_permutation(pp, pn, st);
      const perm = Array.from(new Uint32Array(k.memory.buffer, pp, pn));
      expect([...perm].sort((a, b) => a - b)).toEqual(Array.from({ length: pn }, (_, i) => i));
      expect(perm.filter((v, i) => v === i).length).toBeLessThan(10); // a shuffle, not the identity
    });
  });
});
