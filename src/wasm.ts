/**
 * Loads the AssemblyScript kernels (through @assemblyscript/loader) into an imported memory.
 * Picks the best build the runtime validates — relaxed SIMD, then SIMD, then scalar — unless one
 * is asked for. Works in Node (reads build/*.wasm from disk) and in browsers (fetch +
 * compileStreaming), and accepts caller-supplied bytes, a URL, a Response or a compiled Module.
 */
import { instantiate } from '@assemblyscript/loader';
import { WasmError } from './errors.js';

export type BuildName = 'relaxed' | 'simd' | 'scalar';
export const BUILDS: readonly BuildName[] = ['relaxed', 'simd', 'scalar'];

/** Raw kernel exports: every pointer is a byte offset into `memory`. See assembly/index.ts. */
export interface KernelExports {
  f32_gemm_nt(c: number, a: number, b: number, bias: number, pack: number, M: number, N: number, K: number, acc: number): void;
  f32_gemm_nn(c: number, a: number, b: number, bias: number, pack: number, M: number, N: number, K: number, acc: number): void;
  f32_gemm_tn(c: number, a: number, b: number, pack: number, M: number, N: number, K: number, acc: number): void;
  f32_gemm_nt_ref(c: number, a: number, b: number, bias: number, M: number, N: number, K: number, acc: number): void;
  f32_gemm_nn_ref(c: number, a: number, b: number, bias: number, M: number, N: number, K: number, acc: number): void;
  f32_gemm_tn_ref(c: number, a: number, b: number, M: number, N: number, K: number, acc: number): void;
  f32_transpose(dst: number, src: number, R: number, C: number): void;
  f32_colsum(out: number, inp: number, M: number, N: number, acc: number): void;
  gemm_pack_a_floats(M: number, K: number): number;
  gemm_nt_scratch_floats(M: number, N: number, K: number): number;
  act_forward(out: number, inp: number, n: number, kind: number, alpha: number): void;
  act_backward(dinp: number, dout: number, inp: number, out: number, n: number, kind: number, alpha: number): void;
  vmath_eval(out: number, inp: number, n: number, f: number): void;
  reparam_forward(z: number, mu: number, logvar: number, eps: number, B: number, L: number, Z: number): void;
  reparam_backward(dmu: number, dlogvar: number, dz: number, logvar: number, eps: number, B: number, L: number, Z: number): void;
  elbo_forward_backward(rec: number, kl: number, recs: number, dout: number, doutlv: number, dmu: number, dlogvar: number,
    out: number, outlv: number, x: number, mu: number, logvar: number, sw: number,
    B: number, L: number, D: number, Z: number, lik: number, sigma: number, beta: number, scale: number): number;
  log_prior_ratio(out: number, z: number, eps: number, logvar: number, B: number, L: number, Z: number): void;
  adam_step(param: number, grad: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number,
    eps: number, wd: number, stepSize: number, bc2Sqrt: number, gs: number, decoupled: number): void;
  adagrad_step(param: number, grad: number, sum: number, n: number, clr: number, eps: number, wd: number, gs: number): void;
  sgd_step(param: number, grad: number, buf: number, n: number, lr: number, momentum: number, dampening: number,
    wd: number, nesterov: number, first: number, gs: number): void;
  f32_sumsq(x: number, n: number): number;
  f32_find_nonfinite(x: number, n: number): number;
  f32_scale(x: number, n: number, s: number): void;
  f32_fill(x: number, n: number, v: number): void;
  rng_seed(state: number, lo: number, hi: number): void;
  rng_u32(out: number, n: number, state: number): void;
  rng_uniform(out: number, n: number, state: number, lo: number, hi: number): void;
  rng_normal(out: number, n: number, state: number, mean: number, std: number): void;
  rng_permutation(out: number, n: number, state: number): void;
  rng_binarize(dst: number, src: number, n: number, state: number): void;
  linear_forward(out: number, inp: number, w: number, b: number, scratch: number, B: number, C: number, OC: number): void;
  linear_backward(dinp: number, dw: number, db: number, dout: number, inp: number, w: number, scratch: number,
    B: number, C: number, OC: number, accDinp: number): void;
  linear_scratch_floats(B: number, C: number, OC: number): number;
  heap_base(): number;
  build_kind(): number;
}

/** Enumerations read from the module's exported globals (the single source of truth). */
export interface KernelConstants {
  act: Record<'identity' | 'relu' | 'leaky_relu' | 'elu' | 'tanh' | 'sigmoid' | 'softplus', number>;
  lik: Record<'bernoulli' | 'gaussian' | 'gaussian-learned', number>;
  logvarMin: number;
  logvarMax: number;
}

export interface Kernels {
  readonly exports: KernelExports;
  readonly memory: WebAssembly.Memory;
  readonly build: BuildName;
  readonly shared: boolean;
  readonly constants: KernelConstants;
  /** First byte free for the arena (16-byte aligned). */
  readonly heapBase: number;
}

export type WasmSource = string | URL | Response | Promise<Response> | ArrayBuffer | Uint8Array | WebAssembly.Module;

export interface LoadOptions {
  /** Force a build; default: the best the runtime validates. */
  build?: BuildName;
  /** Use a SharedArrayBuffer-backed memory (for worker threads). Default false. */
  shared?: boolean;
  /** Where to get the wasm from; default: build/<name>.wasm next to the package. */
  source?: WasmSource;
  /** Initial memory in 64 KiB pages. */
  initialPages?: number;
}

// Tiny probe modules (the wasm-feature-detect probes): SIMD uses i8x16.popcnt, relaxed SIMD uses
// i8x16.relaxed_swizzle.
const SIMD_PROBE: Uint8Array<ArrayBuffer> = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
const RELAXED_PROBE: Uint8Array<ArrayBuffer> = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11]);

export interface Features { simd: boolean; relaxedSimd: boolean; sharedMemory: boolean }

export function detectFeatures(): Features {
  const v = (b: Uint8Array<ArrayBuffer>) => { try { return WebAssembly.validate(b); } catch { return false; } };
  let sharedMemory = false;
  try {
    sharedMemory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch { /* not cross-origin isolated, or no threads */ }
  return { simd: v(SIMD_PROBE), relaxedSimd: v(RELAXED_PROBE), sharedMemory };
}

/** The builds this runtime can run, best first. */
export function availableBuilds(f: Features = detectFeatures()): BuildName[] {
  return BUILDS.filter((b) => b === 'scalar' || (b === 'simd' && f.simd) || (b === 'relaxed' && f.relaxedSimd));
}

const MAX_SHARED_PAGES = 16384; // 1 GiB, as compiled into the *-shared builds (asconfig.json)
const isNode = typeof process === 'object' && typeof process.versions === 'object' && !!process.versions.node;
const moduleCache = new Map<string, Promise<WebAssembly.Module>>();

function wasmUrl(file: string): URL {
  return new URL(`../build/${file}`, import.meta.url);
}

async function compileFrom(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return WebAssembly.compile(source as BufferSource);
  let res: Response;
  if (typeof source === 'string' || source instanceof URL) {
    const url = source instanceof URL ? source : new URL(source, typeof location === 'object' ? location.href : import.meta.url);
    if (isNode && url.protocol === 'file:') {
      const { readFile } = await import('node:fs/promises');
      return WebAssembly.compile(await readFile(url));
    }
    res = await fetch(url);
  } else {
    res = await source;
  }
  if (!res.ok) throw new WasmError(`could not fetch the wasm kernels: HTTP ${res.status} ${res.statusText} for ${res.url}`);
  if (typeof WebAssembly.compileStreaming === 'function' && res.headers.get('content-type')?.startsWith('application/wasm')) {
    return WebAssembly.compileStreaming(res);
  }
  return WebAssembly.compile(await res.arrayBuffer());
}

function readGlobal(exports: Record<string, unknown>, name: string): number {
  const g = exports[name];
  if (g instanceof WebAssembly.Global) return Number(g.value);
  if (typeof g === 'number') return g;
  throw new WasmError(`wasm kernels lack the exported constant ${name}; rebuild with npm run build`);
}

/** Instantiates one build of the kernels with a fresh memory. */
export async function loadKernels(opts: LoadOptions = {}): Promise<Kernels> {
  const features = detectFeatures();
  const avail = availableBuilds(features);
  const build = opts.build ?? avail[0];
  if (!BUILDS.includes(build)) throw new WasmError(`unknown build "${String(build)}"; expected one of ${BUILDS.join(', ')}`);
  if (!avail.includes(build)) {
    throw new WasmError(`this runtime cannot run the ${build} build (it validates: ${avail.join(', ')})` +
      (build === 'relaxed' && isNode ? '; in Node start it with --experimental-wasm-relaxed-simd' : ''));
  }
  const shared = opts.shared ?? false;
  if (shared && !features.sharedMemory) throw new WasmError('shared memory is not available (in browsers it needs cross-origin isolation: COOP/COEP headers)');
  const file = `${build}${shared ? '-shared' : ''}.wasm`;
  let modP: Promise<WebAssembly.Module>;
  if (opts.source !== undefined) {
    modP = compileFrom(opts.source);
  } else {
    modP = moduleCache.get(file) ?? compileFrom(wasmUrl(file));
    moduleCache.set(file, modP);
  }
  let module: WebAssembly.Module;
  try {
    module = await modP;
  } catch (e) {
    moduleCache.delete(file);
    if (e instanceof WasmError) throw e;
    throw new WasmError(`could not compile the ${build} wasm kernels: ${(e as Error).message}`);
  }
  const initial = opts.initialPages ?? 16;
  const memory = new WebAssembly.Memory(shared ? { initial, maximum: MAX_SHARED_PAGES, shared: true } : { initial });
  const imports = {
    env: {
      memory,
      abort(msg: number, file: number, line: number, col: number) {
        throw new WasmError(`wasm kernel aborted at ${line}:${col}`);
      },
    },
  };
  const { exports } = await instantiate<Record<string, unknown>>(module, imports);
  const ex = exports as unknown as KernelExports & Record<string, unknown>;
  const kind = ex.build_kind();
  const expected = build === 'relaxed' ? 2 : build === 'simd' ? 1 : 0;
  if (kind !== expected) throw new WasmError(`the wasm file for the ${build} build reports build kind ${kind}`);
  const constants: KernelConstants = {
    act: {
      identity: readGlobal(ex, 'ACT_IDENTITY'), relu: readGlobal(ex, 'ACT_RELU'), leaky_relu: readGlobal(ex, 'ACT_LEAKY_RELU'),
      elu: readGlobal(ex, 'ACT_ELU'), tanh: readGlobal(ex, 'ACT_TANH'), sigmoid: readGlobal(ex, 'ACT_SIGMOID'),
      softplus: readGlobal(ex, 'ACT_SOFTPLUS'),
    },
    lik: {
      bernoulli: readGlobal(ex, 'LIK_BERNOULLI'), gaussian: readGlobal(ex, 'LIK_GAUSSIAN'),
      'gaussian-learned': readGlobal(ex, 'LIK_GAUSSIAN_LEARNED'),
    },
    logvarMin: readGlobal(ex, 'LOGVAR_MIN'),
    logvarMax: readGlobal(ex, 'LOGVAR_MAX'),
  };
  const heapBase = (ex.heap_base() + 63) & ~63;
  return { exports: ex, memory, build, shared, constants, heapBase };
}
