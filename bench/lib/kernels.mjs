// Kernel throughput in Node: the three GEMM layouts of every reference layer and the activation
// kernels, for each wasm build and for a plain TypeScript loop (the loops below are what tsc
// emits for straightforward typed-array TypeScript: no SIMD, no blocking). Every kernel is run once
// and checked against an f64 reference before it is timed.
import { measure, rate } from './measure.mjs';
import { uniform } from './refmodel.mjs';
import { verifyClose } from './verify.mjs';

/** (in, out) of the reference layers (fc21 and fc22 share a shape). */
export const GEMM_LAYERS = [
  ['fc1', 784, 400],
  ['fc21', 400, 20],
  ['fc3', 20, 400],
  ['fc4', 400, 784],
];
export const ACT_ROWS = 128,
  ACT_COLS = 400;

/** The GEMM cases of one layer at batch B: name, M, N, K as bench/peers/tfjs.mjs defines them. */
export function gemmCases(B, fin, fout) {
  return [
    ['nt', B, fout, fin], // forward  out(B,out) = inp(B,in) · W(out,in)ᵀ
    ['nn', B, fin, fout], // dinp     dinp(B,in) = dout(B,out) · W(out,in)
    ['tn', fout, fin, B], // dW       dW(out,in) = dout(B,out)ᵀ · inp(B,in)
  ];
}

// ---- plain TypeScript loops ----
/** C (M,N) = A (M,K) · B (N,K)ᵀ — dot products. */
function tsGemmNT(c, a, b, M, N, K) {
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      const ao = m * K,
        bo = n * K;
      for (let k = 0; k < K; k++) s += a[ao + k] * b[bo + k];
      c[m * N + n] = s;
    }
}
/** C (M,N) = A (M,K) · B (K,N) — i-k-j order (axpy over rows of B). */
function tsGemmNN(c, a, b, M, N, K) {
  c.fill(0, 0, M * N);
  for (let m = 0; m < M; m++) {
    const co = m * N;
    for (let k = 0; k < K; k++) {
      const av = a[m * K + k],
        bo = k * N;
      for (let n = 0; n < N; n++) c[co + n] += av * b[bo + n];
    }
  }
}
/** C (M,N) = A (K,M)ᵀ · B (K,N) — k-i-j order (rank-1 updates). */
function tsGemmTN(c, a, b, M, N, K) {
  c.fill(0, 0, M * N);
  for (let k = 0; k < K; k++) {
    const bo = k * N;
    for (let m = 0; m < M; m++) {
      const av = a[k * M + m],
        co = m * N;
      for (let n = 0; n < N; n++) c[co + n] += av * b[bo + n];
    }
  }
}
const TS_GEMM = { nt: tsGemmNT, nn: tsGemmNN, tn: tsGemmTN };

// ---- f64 references (for the check before timing) ----
// (row stride, column stride) of A (M,K) and B (K,N) as each layout stores them
const STRIDES = {
  nt: (M, N, K) => [K, 1, 1, K], // A (M,K), B stored (N,K)
  nn: (M, N, K) => [K, 1, N, 1], // A (M,K), B (K,N)
  tn: (M, N, _K) => [1, M, N, 1], // A stored (K,M), B (K,N)
};
const refCache = new Map();
/** C = op(A) · op(B) in f64 for inputs drawn with uniform(seedA) / uniform(seedB) (cached: every system uses the same inputs). */
function gemmReference(layout, a, b, M, N, K, seedA, seedB) {
  const key = `${layout} ${M} ${N} ${K} ${seedA} ${seedB}`;
  let c = refCache.get(key);
  if (c) return c;
  const [am, ak, bk, bn] = STRIDES[layout](M, N, K);
  c = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * am + k * ak] * b[k * bk + n * bn];
      c[m * N + n] = s;
    }
  refCache.set(key, c);
  return c;
}
const gemmTol = (K) => ({ atol: 1e-4 * Math.sqrt(K), rtol: 1e-4 });
const ACT_TOL = { atol: 1e-6, rtol: 1e-4 };

function tsActForward(out, inp, n, act) {
  if (act === 'relu')
    for (let i = 0; i < n; i++) {
      const x = inp[i];
      out[i] = x > 0 ? x : 0;
    }
  else for (let i = 0; i < n; i++) out[i] = Math.tanh(inp[i]);
}
function tsActBackward(dinp, dout, inp, out, n, act) {
  if (act === 'relu') for (let i = 0; i < n; i++) dinp[i] = inp[i] > 0 ? dout[i] : 0;
  else
    for (let i = 0; i < n; i++) {
      const y = out[i];
      dinp[i] = dout[i] * (1 - y * y);
    }
}

/**
 * Runs the GEMM and activation benchmarks for one system: a wasm build (`kernels` given) or the
 * TypeScript loops (`kernels` null). Returns { gemm: [...], act: [...] } rows tagged with `system`.
 */
export function benchKernels(system, kernels, { batches, gemmSeconds, warmSeconds, log }) {
  const gemm = [],
    act = [];
  const timing = { seconds: gemmSeconds, warmSeconds, minSampleMs: 10, minSamples: 5 };
  let seed = 1000;
  for (const B of batches) {
    for (const [layer, fin, fout] of GEMM_LAYERS) {
      const cases = gemmCases(B, fin, fout);
      const aMax = Math.max(...cases.map(([, M, , K]) => M * K)),
        bMax = Math.max(...cases.map(([, , N, K]) => N * K)),
        cMax = Math.max(...cases.map(([, M, N]) => M * N));
      const seedA = seed++,
        seedB = seed++;
      const a = uniform(seedA, aMax),
        b = uniform(seedB, bMax);
      let run, result;
      if (kernels) {
        const e = kernels.exports;
        const al = (n) => Math.ceil((n * 4) / 64) * 64 + 64;
        const A = kernels.heapBase,
          Bp = A + al(aMax),
          C = Bp + al(bMax),
          P = C + al(cMax);
        const scratch = Math.max(
          ...cases.map(([, M, N, K]) => e.gemm_nt_scratch_floats(M, N, K, 1) + e.gemm_pack_a_floats(M, K)),
        );
        const end = P + al(scratch);
        if (kernels.memory.buffer.byteLength < end)
          kernels.memory.grow(Math.ceil((end - kernels.memory.buffer.byteLength) / 65536));
        const f = new Float32Array(kernels.memory.buffer);
        f.set(a, A / 4);
        f.set(b, Bp / 4);
        run = (layout, M, N, K) =>
          layout === 'nt'
            ? () => e.f32_gemm_nt(C, A, Bp, 0, P, M, N, K, 0)
            : layout === 'nn'
              ? () => e.f32_gemm_nn(C, A, Bp, 0, P, M, N, K, 0)
              : () => e.f32_gemm_tn(C, A, Bp, P, M, N, K, 0);
        result = (M, N) => new Float32Array(kernels.memory.buffer, C, M * N);
      } else {
        const c = new Float32Array(cMax);
        run = (layout, M, N, K) => () => TS_GEMM[layout](c, a, b, M, N, K);
        result = (M, N) => c.subarray(0, M * N);
      }
      for (const [layout, M, N, K] of cases) {
        const fn = run(layout, M, N, K);
        fn();
        verifyClose(
          result(M, N),
          gemmReference(layout, a, b, M, N, K, seedA, seedB),
          gemmTol(K),
          `${system} gemm ${layout} ${layer} (batch ${B}, M=${M} N=${N} K=${K}) vs the f64 reference`,
        );
        const r = measure(fn, timing);
        const g = rate(r, (2 * M * N * K) / 1e9, 4);
        gemm.push({ system, layer, layout, batch: B, in: fin, out: fout, M, N, K, gflops: g });
        log?.(
          `  ${system.padEnd(18)} gemm ${layout} ${layer.padEnd(4)} M=${M} N=${N} K=${K}: ${g.median} GFLOP/s [${g.p10}–${g.p90}]`,
        );
      }
    }
  }
  // activations on (128, 400)
  const n = ACT_ROWS * ACT_COLS;
  const x = uniform(3000, n).map((v) => 4 * v - 2),
    dy = uniform(3001, n).map((v) => 2 * v - 1);
  for (const name of ['relu', 'tanh']) {
    // f64 references: y = act(x), dx = dy · act'(x)
    const yRef = Float64Array.from(x, (v) => (name === 'relu' ? (v > 0 ? v : 0) : Math.tanh(v)));
    const dxRef = Float64Array.from(x, (v, i) =>
      name === 'relu' ? (v > 0 ? dy[i] : 0) : dy[i] * (1 - Math.tanh(v) ** 2),
    );
    let fwd, bwd, yOut, dxOut;
    if (kernels) {
      const e = kernels.exports,
        kind = kernels.constants.act[name];
      const X = kernels.heapBase,
        Y = X + n * 4 + 64,
        DY = Y + n * 4 + 64,
        DX = DY + n * 4 + 64;
      const f = new Float32Array(kernels.memory.buffer);
      f.set(x, X / 4);
      f.set(dy, DY / 4);
      fwd = () => e.act_forward(Y, X, n, kind, 0, 0, 1);
      bwd = () => e.act_backward(DX, DY, X, Y, n, kind, 0, 0, 1);
      yOut = () => new Float32Array(kernels.memory.buffer, Y, n);
      dxOut = () => new Float32Array(kernels.memory.buffer, DX, n);
    } else {
      const y = new Float32Array(n),
        dx = new Float32Array(n);
      fwd = () => tsActForward(y, x, n, name);
      bwd = () => tsActBackward(dx, dy, x, y, n, name);
      yOut = () => y;
      dxOut = () => dx;
    }
    // forward first: the backward reads its output
    for (const [dir, fn, out, ref] of [
      ['forward', fwd, yOut, yRef],
      ['backward', bwd, dxOut, dxRef],
    ]) {
      fn();
      verifyClose(
        out(),
        ref,
        ACT_TOL,
        `${system} ${name} ${dir} ${ACT_ROWS}×${ACT_COLS} vs the f64 reference`,
      );
      const r = measure(fn, timing);
      const g = rate(r, n / 1e9, 4);
      act.push({ system, act: name, dir, rows: ACT_ROWS, cols: ACT_COLS, n, gelems: g });
      log?.(
        `  ${system.padEnd(18)} ${name} ${dir.padEnd(8)} ${ACT_ROWS}×${ACT_COLS}: ${g.median} Gelem/s [${g.p10}–${g.p90}]`,
      );
    }
  }
  return { gemm, act };
}
