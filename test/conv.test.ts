// Conv2d and ConvTranspose2d kernels (assembly/conv.ts) and their scalar oracles
// (assembly/conv_ref.ts) against an f64 reference written from the definition (test/ref.ts
// convRef), over named shapes, for every build this runtime runs; and the same bits for 1, 2 and 3
// threads (each share run in turn: a call's shares are independent by construction).
import { describe, it, expect, beforeAll } from 'vitest';
import { BUILDS, Heap, kernels, randArray, expectClose } from './helpers.js';
import { convRef, convOutSize, type ConvGeom } from './ref.js';
import type { Kernels } from '../src/wasm.js';

type Case = [name: string, g: ConvGeom];
const g = (
  B: number,
  C: number,
  H: number,
  W: number,
  OC: number,
  K: number | [number, number],
  stride: number,
  pad: number,
  outPad = 0,
): ConvGeom => {
  const [KH, KW] = typeof K === 'number' ? [K, K] : K;
  return { B, C, H, W, OC, KH, KW, stride, pad, outPad };
};

/** Conv2d shapes (input side). */
const CONV: Case[] = [
  ['k1_s1_p0', g(2, 3, 5, 5, 4, 1, 1, 0)],
  ['k1_s2_p0', g(2, 3, 6, 6, 4, 1, 2, 0)],
  ['k3_s1_p0', g(2, 3, 7, 7, 5, 3, 1, 0)],
  ['k3_s1_p1', g(2, 3, 7, 7, 5, 3, 1, 1)],
  ['k3_s2_p1', g(3, 3, 9, 9, 6, 3, 2, 1)],
  ['k5_s2_p2', g(2, 1, 11, 11, 8, 5, 2, 2)],
  ['k3_s1_p2', g(2, 2, 5, 5, 3, 3, 1, 2)],
  ['odd_rect', g(3, 3, 13, 9, 7, 3, 2, 1)],
  ['kernel_3x2', g(2, 2, 6, 7, 3, [3, 2], 1, 1)],
  ['k_eq_input', g(2, 3, 4, 4, 5, 4, 1, 0)],
  ['c1_to_1', g(5, 1, 6, 6, 1, 3, 1, 1)],
  ['c32', g(2, 32, 8, 8, 32, 3, 1, 1)],
  ['c64_s2', g(2, 64, 7, 7, 64, 3, 2, 1)],
  ['keras_conv1_1x28_32', g(4, 1, 28, 28, 32, 3, 2, 1)],
  ['keras_conv2_32x14_64', g(4, 32, 14, 14, 64, 3, 2, 1)],
];

/** ConvTranspose2d shapes (input side; output padding last). */
const DECONV: Case[] = [
  ['k1_s1_p0', g(2, 3, 5, 5, 4, 1, 1, 0)],
  ['k1_s2_p0_op1', g(2, 3, 4, 4, 4, 1, 2, 0, 1)],
  ['k3_s1_p0', g(2, 3, 5, 5, 5, 3, 1, 0)],
  ['k3_s1_p1', g(2, 3, 7, 7, 5, 3, 1, 1)],
  ['k3_s2_p1', g(3, 3, 5, 5, 6, 3, 2, 1)],
  ['k3_s2_p1_op1', g(3, 3, 5, 5, 6, 3, 2, 1, 1)],
  ['k5_s2_p2_op1', g(2, 1, 6, 6, 8, 5, 2, 2, 1)],
  ['k4_s2_p1', g(2, 4, 5, 5, 3, 4, 2, 1)],
  ['odd_rect', g(3, 3, 7, 5, 7, 3, 2, 1, 1)],
  ['kernel_3x2', g(2, 2, 6, 7, 3, [3, 2], 1, 1)],
  ['c32', g(2, 32, 8, 8, 32, 3, 1, 1)],
  ['c64_s2', g(2, 64, 4, 4, 64, 3, 2, 1, 1)],
  ['keras_deconv1_64x7_64', g(2, 64, 7, 7, 64, 3, 2, 1, 1)],
  ['keras_deconv2_64x14_32', g(2, 64, 14, 14, 32, 3, 2, 1, 1)],
  ['keras_out_32x28_1', g(2, 32, 28, 28, 1, 3, 1, 1)],
];

describe.each(BUILDS)('%s build', (build) => {
  let k: Kernels;
  let heap: Heap;
  beforeAll(async () => {
    k = await kernels(build);
    heap = new Heap(k);
  });

  /** Runs forward and backward (write, then accumulate) with nth threads, each share in turn; returns every result. */
  function run(c: ConvGeom, transposed: boolean, nth: number, inputs: ReturnType<typeof makeInputs>) {
    const e = k.exports;
    const { B, C, H, W, OC, KH, KW, stride: s, pad } = c;
    const [OH, OW] = convOutSize(c, transposed);
    const nIn = B * C * H * W,
      nOut = B * OC * OH * OW,
      nW = OC * C * KH * KW;
    const px = heap.put(inputs.x),
      pw = heap.put(inputs.w),
      pb = heap.put(inputs.b),
      pd = heap.put(inputs.dout);
    const po = heap.alloc(nOut),
      pdx = heap.alloc(nIn),
      pdw = heap.alloc(nW),
      pdb = heap.alloc(OC);
    const scratch = heap.alloc(
      transposed
        ? e.conv_transpose2d_scratch_floats(C, OC, H, W, KH, KW, nth)
        : e.conv2d_scratch_floats(C, OC, OH, OW, KH, KW, nth),
    );
    const fwd = transposed ? e.conv_transpose2d_forward : e.conv2d_forward;
    const bwd = transposed ? e.conv_transpose2d_backward : e.conv2d_backward;
    for (let i = 0; i < nth; i++)
      fwd(po, px, pw, pb, scratch, B, C, H, W, OC, OH, OW, KH, KW, s, pad, i, nth);
    heap.f32(pdx, nIn).fill(NaN); // written, not accumulated: stale values must not show
    heap.f32(pdw, nW).fill(NaN);
    heap.f32(pdb, OC).fill(NaN);
    for (let i = 0; i < nth; i++)
      bwd(pdx, pdw, pdb, pd, px, pw, scratch, B, C, H, W, OC, OH, OW, KH, KW, s, pad, false, false, i, nth);
    const first = {
      out: heap.get(po, nOut),
      dinp: heap.get(pdx, nIn),
      dw: heap.get(pdw, nW),
      db: heap.get(pdb, OC),
    };
    // accumulate: adds the same gradients once more onto what is there
    for (let i = 0; i < nth; i++)
      bwd(pdx, pdw, pdb, pd, px, pw, scratch, B, C, H, W, OC, OH, OW, KH, KW, s, pad, true, true, i, nth);
    const acc = { dinp: heap.get(pdx, nIn), dw: heap.get(pdw, nW), db: heap.get(pdb, OC) };
    // no bias, no dinp
    for (let i = 0; i < nth; i++) fwd(po, px, pw, 0, scratch, B, C, H, W, OC, OH, OW, KH, KW, s, pad, i, nth);
    const noBias = heap.get(po, nOut);
    heap.f32(pdx, nIn).fill(7);
    for (let i = 0; i < nth; i++)
      bwd(0, pdw, 0, pd, px, pw, scratch, B, C, H, W, OC, OH, OW, KH, KW, s, pad, false, false, i, nth);
    return { ...first, acc, noBias, dwOnly: heap.get(pdw, nW), untouched: heap.get(pdx, nIn) };
  }

  function makeInputs(c: ConvGeom, transposed: boolean, seed: number) {
    const [OH, OW] = convOutSize(c, transposed);
    return {
      x: randArray(c.B * c.C * c.H * c.W, seed),
      w: randArray(c.OC * c.C * c.KH * c.KW, seed + 1),
      b: randArray(c.OC, seed + 2),
      dout: randArray(c.B * c.OC * OH * OW, seed + 3),
    };
  }

  for (const transposed of [false, true]) {
    const kind = transposed ? 'conv_transpose2d' : 'conv2d';
    describe(kind, () => {
      it.each(transposed ? DECONV : CONV)('%s', (_name, c) => {
        heap.reset();
        const e = k.exports;
        const inputs = makeInputs(c, transposed, c.B * 131 + c.C * 17 + c.OC + c.KH);
        const ref = convRef(c, transposed, inputs.x, inputs.w, inputs.b, inputs.dout);
        const noBiasRef = convRef(c, transposed, inputs.x, inputs.w, null, inputs.dout).out;
        const [OH, OW] = convOutSize(c, transposed);
        // reduction lengths: the output's C·KH·KW taps, the weight gradient's B·OH·OW (B·H·W) terms
        const taps = c.C * c.KH * c.KW,
          terms = c.B * OH * OW + c.B * c.H * c.W;
        const tol = (n: number) => ({ atol: 3e-6 * Math.sqrt(n) + 1e-6, rtol: 2e-5 });
        const r = run(c, transposed, 1, inputs);
        expectClose(r.out, ref.out, tol(taps), `${kind} out`);
        expectClose(r.noBias, noBiasRef, tol(taps), `${kind} out, no bias`);
        expectClose(r.dinp, ref.dinp, tol(c.OC * c.KH * c.KW), `${kind} dinp`);
        expectClose(r.dw, ref.dweight, tol(terms), `${kind} dweight`);
        expectClose(r.db, ref.dbias, tol(terms), `${kind} dbias`);
        expectClose(r.dwOnly, r.dw, { atol: 0, rtol: 0 }, `${kind} dweight without dinp, dbias`);
        expect(
          r.untouched.every((v) => v === 7),
          'dinp = 0 leaves the input gradient alone',
        ).toBe(true);
        const twice = (a: Float64Array) => a.map((v) => 2 * v);
        expectClose(r.acc.dinp, twice(ref.dinp), tol(2 * c.OC * c.KH * c.KW), `${kind} dinp accumulated`);
        expectClose(r.acc.dw, twice(ref.dweight), tol(2 * terms), `${kind} dweight accumulated`);
        expectClose(r.acc.db, twice(ref.dbias), tol(2 * terms), `${kind} dbias accumulated`);
        // the scalar oracle, direct loops
        const { B, C, H, W, OC, KH, KW, stride: s, pad } = c;
        const px = heap.put(inputs.x),
          pw = heap.put(inputs.w),
          pb = heap.put(inputs.b),
          pd = heap.put(inputs.dout);
        const po = heap.alloc(ref.out.length),
          pdx = heap.alloc(ref.dinp.length),
          pdw = heap.alloc(ref.dweight.length),
          pdb = heap.alloc(OC);
        if (transposed) {
          e.conv_transpose2d_forward_ref(po, px, pw, pb, B, C, H, W, OC, OH, OW, KH, KW, s, pad);
          e.conv_transpose2d_backward_ref(pdx, pdw, pdb, pd, px, pw, B, C, H, W, OC, OH, OW, KH, KW, s, pad);
        } else {
          e.conv2d_forward_ref(po, px, pw, pb, B, C, H, W, OC, OH, OW, KH, KW, s, pad);
          e.conv2d_backward_ref(pdx, pdw, pdb, pd, px, pw, B, C, H, W, OC, OH, OW, KH, KW, s, pad);
        }
        expectClose(heap.get(po, ref.out.length), ref.out, tol(taps), `${kind}_ref out`);
        expectClose(heap.get(pdx, ref.dinp.length), ref.dinp, tol(c.OC * c.KH * c.KW), `${kind}_ref dinp`);
        expectClose(heap.get(pdw, ref.dweight.length), ref.dweight, tol(terms), `${kind}_ref dweight`);
        expectClose(heap.get(pdb, OC), ref.dbias, tol(terms), `${kind}_ref dbias`);
        // threads: the same bits for 2 and 3 threads
        for (const nth of [2, 3]) {
          const t = run(c, transposed, nth, inputs);
          for (const key of ['out', 'dinp', 'dw', 'db', 'noBias'] as const)
            expect(
              Buffer.compare(Buffer.from(t[key].buffer), Buffer.from(r[key].buffer)),
              `${key}, ${nth} threads`,
            ).toBe(0);
          expect(
            Buffer.compare(Buffer.from(t.acc.dw.buffer), Buffer.from(r.acc.dw.buffer)),
            `acc dw, ${nth} threads`,
          ).toBe(0);
        }
      });
    });
  }
});
