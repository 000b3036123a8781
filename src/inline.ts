/**
 * Entry of the single-file build (dist/inline/wasm-vae.js, the `wasm-vae/inline` export), made by
 * scripts/build-inline.mjs with esbuild: everything in the universal entry, with the relaxed-SIMD,
 * SIMD and scalar kernels inlined (base64, decoded on first use) and the training worker inlined
 * as source text started from a Blob URL. Nothing is fetched, so it works from a plain
 * `<script type="module">`, behind any bundler and from a CDN. The shared-memory builds (kernel
 * threads) are inlined too.
 *
 * The constants below are defined by the build script; this file compiled by tsc alone is inert.
 */
import { setDefaultSource, type BuildName, type WasmSourceResolver } from './wasm.js';
import { setWorkerFactory, type WorkerLike } from './worker/trainer.js';

declare const __WASM_VAE_INLINE_WASM__: Record<BuildName | `${BuildName}-shared`, string>;
declare const __WASM_VAE_WORKER_SOURCE__: string;

function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64),
    out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

if (typeof __WASM_VAE_INLINE_WASM__ !== 'undefined') {
  const wasm = __WASM_VAE_INLINE_WASM__;
  const resolver: WasmSourceResolver = (_file, build, shared) =>
    decodeBase64(wasm[shared ? (`${build}-shared` as const) : build]);
  setDefaultSource(resolver);
  let workerUrl: string | null = null;
  setWorkerFactory((): WorkerLike => {
    workerUrl ??= URL.createObjectURL(new Blob([__WASM_VAE_WORKER_SOURCE__], { type: 'text/javascript' }));
    return new Worker(workerUrl, { type: 'module' }) as unknown as WorkerLike;
  });
}

export * from './index.js';
