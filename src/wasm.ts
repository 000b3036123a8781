/**
 * Loads the AssemblyScript kernels into an imported memory.
 *
 * Universal: this file references no Node module, so bundlers (Vite, webpack, esbuild, Rollup)
 * take it as is. Each build's wasm is located with a static `new URL('../build/<name>.wasm',
 * import.meta.url)` (one literal per file, which bundlers rewrite into emitted assets) and
 * compiled with `WebAssembly.compileStreaming` when the server sends application/wasm. Node reads
 * file: URLs through a reader that the Node entry registers (src/wasm-node.ts).
 *
 * Feature detection picks relaxed SIMD, then SIMD, then scalar — the best build the runtime
 * validates — unless one is asked for; the chosen build is `Kernels.build` (and `vae.build`).
 * Callers on CDNs or under a strict CSP pass their own source to `init()` (or `loadKernels`): a
 * URL, a Response, bytes, a compiled `WebAssembly.Module`, a map by build name, or a function.
 */
import { instantiate } from '@assemblyscript/loader';
import { WasmError } from './errors.js';
import { checkKeys } from './options.js';
import {
  ACTIVATION_KINDS,
  BUILD_KINDS,
  KERNEL_CONSTANTS,
  LIKELIHOOD_KINDS,
  LOGVAR_MAX,
  LOGVAR_MIN,
  type KernelExports,
} from './abi.js';

export type { KernelExports } from './abi.js';

export type BuildName = (typeof BUILD_KINDS)[number];
/** Builds, best first. */
export const BUILDS: readonly BuildName[] = [...BUILD_KINDS].reverse();

/** The kinds and ranges the kernels are compiled with (from the generated ABI, src/abi.ts). */
export interface KernelConstants {
  act: typeof ACTIVATION_KINDS;
  lik: typeof LIKELIHOOD_KINDS;
  logvarMin: number;
  logvarMax: number;
}

const CONSTANTS: KernelConstants = {
  act: ACTIVATION_KINDS,
  lik: LIKELIHOOD_KINDS,
  logvarMin: LOGVAR_MIN,
  logvarMax: LOGVAR_MAX,
};

export interface Kernels {
  readonly exports: KernelExports;
  readonly memory: WebAssembly.Memory;
  readonly build: BuildName;
  readonly shared: boolean;
  readonly constants: KernelConstants;
  /** First byte free for the arena (16-byte aligned). */
  readonly heapBase: number;
  /** The compiled module: post it to a worker to run the very same build there without refetching. */
  readonly module: WebAssembly.Module;
}

/** One wasm file: a URL (string or URL), a Response (or a promise of one), its bytes, or a compiled module. */
export type WasmSource =
  string | URL | Response | PromiseLike<Response> | ArrayBuffer | ArrayBufferView | WebAssembly.Module;
/** A kernel file's name: `<build>.wasm` or `<build>-shared.wasm`. */
export type WasmFile = `${BuildName}.wasm` | `${BuildName}-shared.wasm`;
/** Sources by build (`relaxed`, `simd`, `scalar`, and the `-shared` variants); builds left out load from the default place. */
export type WasmSourceMap = Partial<Record<BuildName | `${BuildName}-shared`, WasmSource>>;
/** Maps a file to its source, e.g. `(file) => `https://cdn.example/wasm-vae@0.1.0/build/${file}``; undefined = default place. */
export type WasmSourceResolver = (
  file: WasmFile,
  build: BuildName,
  shared: boolean,
) => WasmSource | undefined | null;
/**
 * Where the kernels come from. A single WasmSource is one build: which one is read from the
 * module itself (when `build` is also given, they must agree). A map or a resolver serves every
 * build, so feature detection still picks the best one.
 */
export type SourceSpec = WasmSource | WasmSourceMap | WasmSourceResolver;

export interface LoadOptions {
  /** Force a build; default: the one `init()` chose, else the best the runtime validates. */
  build?: BuildName;
  /** Use a SharedArrayBuffer-backed memory (for worker threads). Default false. */
  shared?: boolean;
  /** Where to get the wasm from; default: what `init()` was given, else build/<name>.wasm next to the package. */
  source?: SourceSpec;
  /** Initial memory in 64 KiB pages. */
  initialPages?: number;
}

// Tiny probe modules (the wasm-feature-detect probes): SIMD uses i8x16.popcnt, relaxed SIMD uses
// i8x16.relaxed_swizzle.
const SIMD_PROBE: Uint8Array<ArrayBuffer> = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98,
  11,
]);
const RELAXED_PROBE: Uint8Array<ArrayBuffer> = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2,
  253, 15, 253, 128, 2, 11,
]);

export interface Features {
  simd: boolean;
  relaxedSimd: boolean;
  sharedMemory: boolean;
}

/** What detectFeatures() found: a runtime's features do not change while it runs. */
let detected: Features | null = null;

/**
 * What this runtime's WebAssembly supports, probed once: every probe of shared memory is a
 * `WebAssembly.Memory` that V8 records for good (a slot in its isolate's list of shared memories,
 * never compacted), so probing on every model load grew the heap by 8 bytes a load.
 */
export function detectFeatures(): Features {
  detected ??= probeFeatures();
  return { ...detected };
}

function probeFeatures(): Features {
  const v = (b: Uint8Array<ArrayBuffer>) => {
    try {
      return WebAssembly.validate(b);
    } catch {
      return false;
    }
  };
  let sharedMemory = false;
  try {
    sharedMemory =
      new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    /* not cross-origin isolated, or no threads */
  }
  return { simd: v(SIMD_PROBE), relaxedSimd: v(RELAXED_PROBE), sharedMemory };
}

/** The builds this runtime can run, best first. */
export function availableBuilds(f: Features = detectFeatures()): BuildName[] {
  return BUILDS.filter(
    (b) => b === 'scalar' || (b === 'simd' && f.simd) || (b === 'relaxed' && f.relaxedSimd),
  );
}

const MAX_SHARED_PAGES = 16384; // 1 GiB, as compiled into the *-shared builds (asconfig.json)
const isNode = typeof process === 'object' && typeof process.versions === 'object' && !!process.versions.node;

// Set by the single-file build (scripts/build-inline.mjs defines it): there is no build/ folder
// next to the code, so the default URLs below must not even appear in the bundle.
declare const __WASM_VAE_INLINE__: boolean;

/**
 * The default place of each file, next to the package. One static literal per file on purpose:
 * Vite, webpack and Parcel only rewrite `new URL('<literal>', import.meta.url)` into assets.
 */
function defaultUrl(build: BuildName, shared: boolean): URL | null {
  if (typeof __WASM_VAE_INLINE__ !== 'undefined') return null;
  if (shared) {
    if (build === 'relaxed') return new URL('../build/relaxed-shared.wasm', import.meta.url);
    if (build === 'simd') return new URL('../build/simd-shared.wasm', import.meta.url);
    return new URL('../build/scalar-shared.wasm', import.meta.url);
  }
  if (build === 'relaxed') return new URL('../build/relaxed.wasm', import.meta.url);
  if (build === 'simd') return new URL('../build/simd.wasm', import.meta.url);
  return new URL('../build/scalar.wasm', import.meta.url);
}

/** Reads a URL that fetch cannot (file: in Node). Return null/undefined to decline. */
export type UrlReader = (url: URL) => Promise<ArrayBuffer | ArrayBufferView> | null | undefined;
let urlReader: UrlReader | null = null;

/** Registers the reader for file: URLs. The Node entry (dist/node.js) registers one that reads files with Node's fs module. */
export function setUrlReader(reader: UrlReader | null): void {
  urlReader = reader;
}

interface Defaults {
  source?: SourceSpec;
  build?: BuildName;
}
let defaults: Defaults = {};
const moduleCache = new Map<string, Promise<WebAssembly.Module>>();

/**
 * Sets the source that loadKernels (and so VAE.create / VAE.load) uses when none is passed, and
 * forgets compiled modules. The single-file build registers its inlined bytes through this.
 */
export function setDefaultSource(source: SourceSpec | undefined, build?: BuildName): void {
  defaults = { source, build };
  moduleCache.clear();
}

export interface InitOptions {
  /** Where the kernels come from (see SourceSpec); default: build/<name>.wasm next to the package. */
  source?: SourceSpec;
  /** Prefer this build for every later VAE.create / VAE.load / loadKernels that names none. */
  build?: BuildName;
}

export interface InitResult {
  /** The build that runs from now on when none is asked for. */
  build: BuildName;
  /** Builds this runtime validates, best first. */
  available: BuildName[];
  features: Features;
}

/**
 * Optional: configures where the kernels come from and compiles the chosen build now (so the
 * first VAE.create does not wait, and a bad URL or CSP fails here). Without init() everything
 * loads lazily from the default place.
 */
export async function init(opts: InitOptions = {}): Promise<InitResult> {
  if (!opts || typeof opts !== 'object') throw new WasmError('init expects an options object');
  checkKeys(opts, ['source', 'build'], 'init', WasmError);
  if (opts.build !== undefined && !BUILDS.includes(opts.build))
    throw new WasmError(`unknown build "${String(opts.build)}"; expected one of ${BUILDS.join(', ')}`);
  const features = detectFeatures();
  const available = availableBuilds(features);
  const source = opts.source !== undefined ? opts.source : defaults.source;
  if (source !== undefined && isSingle(source)) {
    // one module: learn its build, then keep it as that build's source (others load by default)
    const k = await loadKernels({ source, build: opts.build });
    setDefaultSource({ [k.build]: k.module }, k.build);
    moduleCache.set(`${k.build}.wasm`, Promise.resolve(k.module));
    return { build: k.build, available, features };
  }
  setDefaultSource(source, opts.build);
  const k = await loadKernels();
  defaults.build = k.build;
  return { build: k.build, available, features };
}

function isSingle(s: SourceSpec): s is WasmSource {
  return (
    typeof s === 'string' ||
    s instanceof URL ||
    s instanceof WebAssembly.Module ||
    s instanceof ArrayBuffer ||
    ArrayBuffer.isView(s) ||
    (typeof Response === 'function' && s instanceof Response) ||
    typeof (s as PromiseLike<unknown>).then === 'function'
  );
}

function pick(
  spec: SourceSpec | undefined,
  file: WasmFile,
  build: BuildName,
  shared: boolean,
): WasmSource | undefined {
  if (spec === undefined) return undefined;
  if (isSingle(spec)) return spec;
  if (typeof spec === 'function') return (spec as WasmSourceResolver)(file, build, shared) ?? undefined;
  return (spec as WasmSourceMap)[file.slice(0, -5) as keyof WasmSourceMap] ?? undefined;
}

function baseHref(): string {
  const loc = (globalThis as { location?: { href?: string } }).location;
  return loc && typeof loc.href === 'string' && /^(https?|file):/.test(loc.href) ? loc.href : import.meta.url;
}

async function readFileUrl(url: URL): Promise<ArrayBuffer | ArrayBufferView> {
  const viaReader = urlReader?.(url);
  if (viaReader) return viaReader;
  // Node without the Node entry (e.g. this file imported directly): the runtime's own fs, looked
  // up at run time so that no bundler ever sees a Node import (process.getBuiltinModule, Node ≥ 20.16)
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fs =
    typeof proc?.getBuiltinModule === 'function'
      ? (proc.getBuiltinModule('fs') as { promises: { readFile(u: URL): Promise<Uint8Array> } })
      : undefined;
  if (fs) return fs.promises.readFile(url);
  throw new WasmError(
    `cannot read ${url.href}: no file reader is registered (in Node import 'wasm-vae' through its Node entry, or pass source to init())`,
  );
}

async function compileFrom(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source))
    return WebAssembly.compile(source as BufferSource);
  let res: Response;
  if (typeof source === 'string' || source instanceof URL) {
    const url = typeof source === 'string' ? new URL(source, baseHref()) : source;
    if (url.protocol === 'file:') return WebAssembly.compile((await readFileUrl(url)) as BufferSource);
    try {
      res = await fetch(url);
    } catch (e) {
      throw new WasmError(`could not fetch the wasm kernels from ${url.href}: ${(e as Error).message}`);
    }
  } else {
    res = await source;
  }
  if (!res.ok)
    throw new WasmError(
      `could not fetch the wasm kernels: HTTP ${res.status} ${res.statusText} for ${res.url}`,
    );
  if (
    typeof WebAssembly.compileStreaming === 'function' &&
    res.headers.get('content-type')?.split(';')[0].trim() === 'application/wasm'
  ) {
    return WebAssembly.compileStreaming(res);
  }
  return WebAssembly.compile(await res.arrayBuffer());
}

function describeCompileError(e: unknown, what: string): WasmError {
  if (e instanceof WasmError) return e;
  const msg = (e as Error)?.message ?? String(e);
  const csp = /content.security.policy|unsafe-eval|CSP/i.test(msg)
    ? " (the page's Content-Security-Policy must allow 'wasm-unsafe-eval')"
    : '';
  return new WasmError(`could not compile ${what}: ${msg}${csp}`);
}

/** A module built from other sources than src/abi.ts was generated from fails here, not later. */
function checkConstants(exports: Record<string, unknown>): void {
  for (const [name, want] of Object.entries(KERNEL_CONSTANTS)) {
    const g = exports[name];
    const have = g instanceof WebAssembly.Global ? Number(g.value) : undefined;
    if (have !== want)
      throw new WasmError(
        `the wasm kernels' constant ${name} is ${have}, src/abi.ts says ${want}: rebuild with npm run build`,
      );
  }
}

/** Instantiates one build of the kernels with a fresh memory. */
export async function loadKernels(opts: LoadOptions = {}): Promise<Kernels> {
  const { module, build } = await compileKernels(opts);
  return instantiateKernels(module, build, opts.shared ?? false, opts.initialPages);
}

/**
 * Compiles (or takes from the cache) the module loadKernels would instantiate for these options,
 * and names its build (undefined for a single given source, whose build the module reports).
 */
export async function compileKernels(
  opts: Omit<LoadOptions, 'initialPages'> = {},
): Promise<{ module: WebAssembly.Module; build: BuildName | undefined }> {
  const features = detectFeatures();
  const avail = availableBuilds(features);
  const explicit = opts.source !== undefined;
  const spec = explicit ? opts.source : defaults.source;
  const asked = opts.build ?? (explicit ? undefined : defaults.build);
  if (asked !== undefined && !BUILDS.includes(asked))
    throw new WasmError(`unknown build "${String(asked)}"; expected one of ${BUILDS.join(', ')}`);
  if (asked !== undefined && !avail.includes(asked)) {
    throw new WasmError(
      `this runtime cannot run the ${asked} build (it validates: ${avail.join(', ')})` +
        (asked === 'relaxed' && isNode ? '; in Node start it with --experimental-wasm-relaxed-simd' : ''),
    );
  }
  const shared = opts.shared ?? false;
  if (shared && !features.sharedMemory)
    throw new WasmError(
      'shared memory is not available (in browsers it needs cross-origin isolation: COOP/COEP headers)',
    );
  if (spec !== undefined && isSingle(spec)) {
    let module: WebAssembly.Module;
    try {
      module = await compileFrom(spec);
    } catch (e) {
      throw describeCompileError(e, `the ${asked ?? 'given'} wasm kernels`);
    }
    return { module, build: asked };
  }
  const build = asked ?? avail[0];
  const file = `${build}${shared ? '-shared' : ''}.wasm` as WasmFile;
  const resolve = (): WasmSource => {
    const src = pick(spec, file, build, shared) ?? defaultUrl(build, shared);
    if (src === null)
      throw new WasmError(`this single-file build carries no ${file}; pass its source to init({ source })`);
    return src;
  };
  let modP: Promise<WebAssembly.Module>;
  if (explicit) {
    modP = compileFrom(resolve());
  } else {
    modP = moduleCache.get(file) ?? compileFrom(resolve());
    moduleCache.set(file, modP);
  }
  let module: WebAssembly.Module;
  try {
    module = await modP;
  } catch (e) {
    if (!explicit && moduleCache.get(file) === modP) moduleCache.delete(file);
    throw describeCompileError(e, `the ${build} wasm kernels`);
  }
  return { module, build };
}

async function instantiateKernels(
  module: WebAssembly.Module,
  build: BuildName | undefined,
  shared: boolean,
  initialPages?: number,
): Promise<Kernels> {
  const initial = initialPages ?? 16;
  const memory = new WebAssembly.Memory(
    shared ? { initial, maximum: MAX_SHARED_PAGES, shared: true } : { initial },
  );
  // the kernels are compiled with `use: abort=` (asconfig.json): memory is their only import
  const imports = { env: { memory } };
  let exports: Record<string, unknown>;
  try {
    // Instantiated through @assemblyscript/loader; the kernels are then called through the raw
    // instance exports: every export is a function of numbers or a constant global, and the
    // loader's demangled wrappers would add a rest-argument allocation to every kernel call.
    exports = (await instantiate(module, imports)).instance.exports as Record<string, unknown>;
  } catch (e) {
    throw new WasmError(
      `could not instantiate the ${build ?? 'given'} wasm kernels${shared ? ' with a shared memory' : ''}: ${(e as Error).message}` +
        ' (the -shared builds need shared: true, the others shared: false)',
    );
  }
  const ex = exports as unknown as KernelExports & Record<string, unknown>;
  if (typeof ex.build_kind !== 'function')
    throw new WasmError('the given wasm module is not the wasm-vae kernels (no build_kind export)');
  const kind = ex.build_kind();
  const actual = BUILD_KINDS[kind];
  if (!actual) throw new WasmError(`the wasm kernels report an unknown build kind ${kind}`);
  if (build !== undefined && actual !== build)
    throw new WasmError(`the wasm file for the ${build} build reports build kind ${kind} (${actual})`);
  checkConstants(exports);
  const constants = CONSTANTS;
  const heapBase = (ex.heap_base() + 63) & ~63;
  return { exports: ex, memory, build: actual, shared, constants, heapBase, module };
}
