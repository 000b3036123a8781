// Test helpers: a bump allocator over a kernels instance's memory, seeded inputs, and the
// comparison every numeric test uses: |a − r| ≤ max(atol, rtol·|r|) elementwise.
import { expect } from 'vitest';
import {
  availableBuilds,
  loadKernels,
  BUILDS as ALL_BUILDS,
  type BuildName,
  type Kernels,
} from '../src/wasm.js';
import type { Network } from '../src/network.js';
import type { VAE } from '../src/vae.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import type { Params } from './ref.js';

/** CI is set to something other than '', '0' or 'false'. */
export function isCI(env: Record<string, string | undefined> = process.env): boolean {
  const v = env.CI;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/**
 * Builds the tests must cover: WASM_VAE_EXPECT_BUILDS (comma-separated, e.g. "relaxed,simd,scalar")
 * if set, else all three under CI, else none (test whatever the runtime can run).
 */
export function expectedBuilds(env: Record<string, string | undefined> = process.env): BuildName[] {
  const list = env.WASM_VAE_EXPECT_BUILDS?.trim();
  if (list) {
    const names = list
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    for (const b of names) {
      if (!(ALL_BUILDS as readonly string[]).includes(b))
        throw new Error(
          `WASM_VAE_EXPECT_BUILDS: unknown build "${b}"; expected a comma-separated list of ${ALL_BUILDS.join(', ')}`,
        );
    }
    return names as BuildName[];
  }
  return isCI(env) ? [...ALL_BUILDS] : [];
}

function checkedBuilds(): BuildName[] {
  const available = availableBuilds();
  const missing = expectedBuilds().filter((b) => !available.includes(b));
  if (missing.length > 0) {
    const why = process.env.WASM_VAE_EXPECT_BUILDS?.trim()
      ? `WASM_VAE_EXPECT_BUILDS=${process.env.WASM_VAE_EXPECT_BUILDS}`
      : `CI=${process.env.CI} (all builds expected)`;
    const how = missing.map((b) =>
      b === 'relaxed'
        ? 'relaxed needs Node started with --experimental-wasm-relaxed-simd (vitest.config.ts passes it to the test forks via execArgv: run the tests with `npm test` or `npx vitest run` so that config is used)'
        : `${b} needs a runtime with WebAssembly SIMD`,
    );
    throw new Error(
      `the ${missing.join(', ')} build${missing.length > 1 ? 's are' : ' is'} expected (${why}) but this runtime can only run ${available.join(', ')}: ${how.join('; ')}; ` +
        'or set WASM_VAE_EXPECT_BUILDS to the builds this runtime must cover',
    );
  }
  return available;
}

/**
 * Builds this runtime can run (vitest's forks get --experimental-wasm-relaxed-simd). Under CI, or
 * with WASM_VAE_EXPECT_BUILDS, a missing expected build throws here instead of dropping its tests.
 */
export const BUILDS: BuildName[] = checkedBuilds();

export class Heap {
  private top: number;
  constructor(readonly k: Kernels) {
    this.top = k.heapBase;
  }
  /** 16-byte aligned region of n floats (zeroed), growing memory as needed. */
  alloc(n: number): number {
    const p = Math.ceil(this.top / 16) * 16;
    this.top = p + Math.max(n, 1) * 4 + 64;
    const need = this.top - this.k.memory.buffer.byteLength;
    if (need > 0) this.k.memory.grow(Math.ceil(need / 65536));
    this.f32(p, n).fill(0);
    return p;
  }
  put(data: ArrayLike<number>): number {
    const p = this.alloc(data.length);
    this.f32(p, data.length).set(data);
    return p;
  }
  f32(p: number, n: number): Float32Array {
    return new Float32Array(this.k.memory.buffer, p, n);
  }
  get(p: number, n: number): Float32Array {
    return this.f32(p, n).slice();
  }
  reset(): void {
    this.top = this.k.heapBase;
  }
}

export async function kernels(build: BuildName): Promise<Kernels> {
  return loadKernels({ build });
}

/** mulberry32: a tiny seeded generator for test inputs (independent of the library's RNG). */
export function rand(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rand(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

export function randn(n: number, seed: number): Float64Array {
  const r = rand(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}

/** Asserts |actual − ref| ≤ max(atol, rtol·|ref|) everywhere (NaN matches NaN); names the worst index. */
export function expectClose(
  actual: ArrayLike<number>,
  ref: ArrayLike<number>,
  tol: { atol: number; rtol: number },
  label = '',
): void {
  expect(actual.length, `${label}: length`).toBe(ref.length);
  let worst = -1,
    worstRatio = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = actual[i],
      r = ref[i];
    if (Number.isNaN(r) && Number.isNaN(a)) continue;
    if (r === a) continue;
    const bound = Math.max(tol.atol, tol.rtol * Math.abs(r));
    const err = Math.abs(a - r);
    const ratio = Number.isNaN(err) ? Infinity : err / bound;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = i;
    }
  }
  if (worstRatio > 1) {
    expect.fail(
      `${label}: index ${worst}: got ${actual[worst]}, expected ${ref[worst]} (error ${Math.abs(actual[worst] - ref[worst]).toExponential(3)} > tolerance ${Math.max(tol.atol, tol.rtol * Math.abs(ref[worst])).toExponential(3)})`,
    );
  }
}

/** Every parameter tensor of a network as f64 copies, by PyTorch name (for the f64 references). */
export function paramsOf(net: Network): Params {
  const p: Params = {};
  for (const s of net.paramSlots) p[s.name] = Float64Array.from(net.view(s));
  return p;
}

/**
 * Central differences (h = 1e-6, f64) of the reference loss f at 6 sampled coordinates of every
 * parameter tensor against the kernels' gradient, which must equal scale · ∂f.
 */
export function checkGrad(
  net: Network,
  params: Params,
  f: () => number,
  scale: number,
  label: string,
  seed = 99,
): void {
  const r = rand(seed),
    h = 1e-6;
  for (const s of net.paramSlots) {
    const g = net.view(s, 'grad');
    const idx = Array.from({ length: Math.min(6, s.floats) }, () => Math.floor(r() * s.floats));
    const fd: number[] = [],
      an: number[] = [];
    for (const i of idx) {
      const p = params[s.name],
        old = p[i];
      p[i] = old + h;
      const up = f();
      p[i] = old - h;
      const dn = f();
      p[i] = old;
      fd.push((scale * (up - dn)) / (2 * h));
      an.push(g[i]);
    }
    expectClose(an, fd, { atol: 5e-4 * scale, rtol: 2e-3 }, `${label} ${s.name} [${idx.join(',')}]`);
  }
}

/**
 * Everything a trained model computes, as numbers to compare bit for bit (across thread counts,
 * builds, engines): its epoch losses, weights, evaluate, L_k per row, prior samples,
 * reconstructions, posterior means and the file `saveTrainer` returns, called last (optimizer state and RNG
 * streams; its metadata holds timings, which differ). `n` sets how much of each is drawn.
 */
export function fingerprint(
  vae: Pick<VAE, 'stateDict' | 'evaluate' | 'logLikelihood' | 'sample' | 'reconstruct' | 'encode'>,
  history: { epochs: { loss: number; valLoss?: number | null }[] },
  saveTrainer: () => Uint8Array,
  x: Float32Array,
  D: number,
  n: { samples: number; k: number; draws: number; recon: number },
) {
  return {
    losses: history.epochs.map((e) => [e.loss, e.valLoss]),
    weights: [...vae.stateDict().values()].map((v) => Array.from(v.data)),
    evaluate: vae.evaluate(x, { samples: n.samples, seed: 2 }),
    ll: Array.from(vae.logLikelihood(x.subarray(0, 3 * D), { k: n.k, seed: 3 }).perRow),
    sample: Array.from(vae.sample(n.draws, { seed: 4 })),
    recon: Array.from(vae.reconstruct(x.subarray(0, n.recon * D), { sample: true, seed: 5 })),
    mu: Array.from(vae.encode(x).mu),
    state: [...decodeSafetensors(saveTrainer()).tensors].map(([name, e]) => [
      name,
      Array.from(e.data as ArrayLike<number>),
    ]),
  };
}
