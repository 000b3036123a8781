// npm run bench: GEMM GFLOP/s and training-step samples/s for every wasm build, with a plain
// TypeScript (JS) loop as the baseline. tinybench; warm-up first (wasm tiers up); median and spread.
// Usage: node --experimental-wasm-relaxed-simd bench/run.mjs [--json out.json] [--quick] [--builds simd,scalar]
import { Bench } from 'tinybench';
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { loadKernels, availableBuilds } from '../dist/wasm.js';
import { Network } from '../dist/network.js';
import { Optimizer } from '../dist/optim.js';
import { initParams, seedRng } from '../dist/init.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const quick = args.includes('--quick');
const builds = (opt('--builds', '') || availableBuilds().join(',')).split(',');
const jsonOut = opt('--json', null);
const time = quick ? 150 : 600;

const REF = { D: 784, H: 400, Z: 20 };
const GEMM_SHAPES = [[784, 400], [400, 20], [20, 400], [400, 784]]; // (in, out) of the reference layers
const BATCHES = [32, 128, 512];

function stats(task, work) {
  // tinybench 6: task.result.latency has samples in ms
  if (!task.result.latency) throw new Error(`bench task ${task.name} did not complete: ${task.result.state} ${task.result.error ?? ""}`);
  const lat = task.result.latency;
  const s = [...lat.samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: work / q(0.5) * 1e3, p10: work / q(0.9) * 1e3, p90: work / q(0.1) * 1e3, samples: s.length };
}

/** Plain TypeScript/JS baseline: out (M,N) = a (M,K) · b (N,K)ᵀ, i-j-k with a dot product. */
function jsGemmNT(c, a, b, M, N, K) {
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = 0; const ao = m * K, bo = n * K;
    for (let k = 0; k < K; k++) s += a[ao + k] * b[bo + k];
    c[m * N + n] = s;
  }
}

const results = { date: new Date().toISOString(), machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, v8: process.versions.v8, platform: `${os.platform()} ${os.arch()}` }, gemm: [], step: [] };
console.log(`wasm-vae bench — ${results.machine.cpu}, ${results.machine.cores} cores, Node ${process.version}, ${results.date}`);

// ---- GEMM ----
for (const build of [...builds, 'js']) {
  const k = build === 'js' ? null : await loadKernels({ build });
  for (const B of BATCHES) {
    if (build === 'js' && B !== 128) continue;
    for (const [inD, outD] of GEMM_SHAPES) {
      const bench = new Bench({ time, warmupTime: quick ? 50 : 200, retainSamples: true });
      const layouts = build === 'js' ? [['nt', B, outD, inD]] : [['nt', B, outD, inD], ['nn', B, inD, outD], ['tn', outD, inD, B]];
      const tasks = [];
      if (k) {
        const e = k.exports;
        const base = k.heapBase, sz = Math.max(B, outD) * Math.max(inD, outD, B);
        const A = base, Bp = A + sz * 4 + 64, C = Bp + sz * 4 + 64, P = C + sz * 4 + 64;
        const end = P + 4 * (e.gemm_nt_scratch_floats(B, outD, inD) + e.gemm_pack_a_floats(Math.max(B, outD, inD), Math.max(B, outD, inD))) + 4096;
        if (k.memory.buffer.byteLength < end) k.memory.grow(Math.ceil((end - k.memory.buffer.byteLength) / 65536));
        const f = new Float32Array(k.memory.buffer);
        for (let i = base / 4; i < P / 4; i++) f[i] = Math.random() - 0.5;
        for (const [layout, M, N, K] of layouts) {
          const fn = layout === 'nt' ? () => e.f32_gemm_nt(C, A, Bp, 0, P, M, N, K, 0)
            : layout === 'nn' ? () => e.f32_gemm_nn(C, A, Bp, 0, P, M, N, K, 0) : () => e.f32_gemm_tn(C, A, Bp, P, M, N, K, 1);
          bench.add(`${layout}`, fn); tasks.push([layout, M, N, K]);
        }
      } else {
        const a = new Float32Array(B * inD).map(() => Math.random()), b = new Float32Array(outD * inD).map(() => Math.random()), c = new Float32Array(B * outD);
        bench.add('nt', () => jsGemmNT(c, a, b, B, outD, inD)); tasks.push(['nt', B, outD, inD]);
      }
      await bench.run();
      bench.tasks.forEach((t, i) => {
        const [layout, M, N, K] = tasks[i];
        const s = stats(t, 2 * M * N * K / 1e9);
        results.gemm.push({ build, layout, M, N, K, batch: B, gflops: s });
      });
    }
  }
}
const ref128 = results.gemm.filter((g) => g.batch === 128 && ((g.layout === 'nt' && g.K === 784 && g.N === 400) || (g.layout === 'nn' && g.N === 784 && g.K === 400) || (g.layout === 'tn' && g.M === 400 && g.N === 784)));
console.log('\nGEMM GFLOP/s at the 784×400 layer, batch 128 (median [p10–p90]):');
for (const g of ref128) console.log(`  ${g.build.padEnd(8)} ${g.layout}  M=${g.M} N=${g.N} K=${g.K}  ${g.gflops.median.toFixed(1)} [${g.gflops.p10.toFixed(1)}–${g.gflops.p90.toFixed(1)}]`);

// ---- training step ----
console.log('\nTraining step, 784-400-20 / 20-400-784, ReLU, Bernoulli, Adam 1e-3 (samples/s, median [p10–p90]):');
for (const build of builds) {
  const k = await loadKernels({ build });
  for (const B of BATCHES) {
    const net = new Network(k, { inputDim: 784, encoder: [400], latentDim: 20, decoder: [400], activation: 'relu', likelihood: 'bernoulli' }, { batch: B, samples: 1 });
    seedRng(net, 1); initParams(net, 'pytorch');
    const optim = new Optimizer(net, { name: 'adam', lr: 1e-3 });
    const x = net.actView('x');
    for (let i = 0; i < x.length; i++) x[i] = Math.random() < 0.2 ? Math.random() : 0;
    const bench = new Bench({ time: build === "scalar" ? time / 2 : time * 2, warmupTime: quick ? 100 : 500, retainSamples: true });
    bench.add('step', () => { net.zeroGrad(); net.sampleEps(B, 1); net.lossAndGrad(B, 1); optim.step(); });
    await bench.run();
    const s = stats(bench.tasks[0], B);
    results.step.push({ build, batch: B, samplesPerSec: s });
    console.log(`  ${build.padEnd(8)} batch ${String(B).padStart(3)}  ${Math.round(s.median).toLocaleString('en-US').padStart(7)} [${Math.round(s.p10)}–${Math.round(s.p90)}]  (${(s.median * 3.28e6 / 1e9).toFixed(1)} GFLOP/s effective)`);
  }
}
const best = results.step.filter((s) => s.batch === 128).sort((a, b) => b.samplesPerSec.median - a.samplesPerSec.median)[0];
const bestGemm = Math.min(...ref128.filter((g) => g.build === best.build).map((g) => g.gflops.median));
console.log(`\nTargets (single thread): ≥ 55 GFLOP/s every layout at 128×784×400 — ${best.build}: min ${bestGemm.toFixed(1)} (${bestGemm >= 55 ? 'met' : `missed by ${(55 - bestGemm).toFixed(1)}`});`);
console.log(`  ≥ 15,000 samples/s at batch 128 — ${best.build}: ${Math.round(best.samplesPerSec.median)} (${best.samplesPerSec.median >= 15000 ? 'met' : `missed by ${Math.round(15000 - best.samplesPerSec.median)}`})`);
if (jsonOut) { writeFileSync(jsonOut, JSON.stringify(results, null, 2)); console.log(`wrote ${jsonOut}`); }
