// Builds the single-file ESM bundle dist/inline/wasm-vae.js (+ wasm-vae.d.ts): the universal entry
// with the relaxed-SIMD, SIMD and scalar kernels inlined and the training worker inlined as text
// (started from a Blob URL). Needs build/*.wasm (npm run build:wasm) and dist/*.d.ts (tsc) for
// the types. Prints the size, raw and gzipped, against the 215 KB gzipped budget (150 KB until the bundle carried the
// shared-memory builds for kernel threads as well: six builds, 164 KB of wasm; 160 KB until the toolbox of issue 13 —
// the continuous Bernoulli, draws, the autoencoder and the conditional VAE — added 1.4 KB of wasm to each of the six
// builds (164.6 KB measured); 170 KB until the conv kernels and their scalar oracles, assembly/conv.ts and
// conv_ref.ts, added 5.3 KB to each build (209.4 KB with both, measured 2026-12-01)).
// Usage: node scripts/build-inline.mjs
import { build } from 'esbuild';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'inline');
const BUDGET_GZ = 215 * 1024;
mkdirSync(outDir, { recursive: true });

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  // explicit: esbuild's default target would let it emit newer built-ins than browsers have
  target: 'es2020',
  minify: true,
  // keep class names: errors report err.name (ConfigError, FormatError, …)
  keepNames: true,
  legalComments: 'none',
  write: false,
  logLevel: 'warning',
};

// 1. the worker, without wasm: the main thread posts it its compiled WebAssembly.Module
const worker = await build({
  ...common,
  entryPoints: [join(root, 'src', 'worker', 'worker.ts')],
  define: { __WASM_VAE_INLINE__: 'true' },
});
const workerSource = worker.outputFiles[0].text;

// 2. the main bundle with the kernels and the worker source inlined
const wasm = {};
// the shared-memory builds too: kernel threads (in a cross-origin isolated page's worker) run them
for (const b of ['relaxed', 'simd', 'scalar', 'relaxed-shared', 'simd-shared', 'scalar-shared'])
  wasm[b] = readFileSync(join(root, 'build', `${b}.wasm`)).toString('base64');
const main = await build({
  ...common,
  entryPoints: [join(root, 'src', 'inline.ts')],
  define: {
    __WASM_VAE_INLINE__: 'true',
    __WASM_VAE_INLINE_WASM__: JSON.stringify(wasm),
    __WASM_VAE_WORKER_SOURCE__: JSON.stringify(workerSource),
  },
});
const js = main.outputFiles[0].contents;
const banner =
  '/* wasm-vae single-file build: kernels (relaxed SIMD, SIMD, scalar; plain and shared memory) and training worker inlined */\n';
const out = Buffer.concat([Buffer.from(banner), Buffer.from(js)]);
for (const bad of ['build/relaxed.wasm', 'worker.js"', 'node:']) {
  if (out.includes(bad)) throw new Error(`inline bundle still references ${bad}`);
}
writeFileSync(join(outDir, 'wasm-vae.js'), out);
writeFileSync(
  join(outDir, 'wasm-vae.d.ts'),
  "// Types of the single-file build: the same API as the universal entry.\nexport * from '../index.js';\n",
);

const gz = gzipSync(out, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const wasmRaw = Object.keys(wasm).reduce(
  (s, b) => s + readFileSync(join(root, 'build', `${b}.wasm`)).length,
  0,
);
console.log(
  `inline dist/inline/wasm-vae.js: ${kb(out.length)} raw, ${kb(gz)} gzipped (budget ${kb(BUDGET_GZ)} gzipped; ` +
    `wasm ${kb(wasmRaw)} raw as ${Object.keys(wasm).length} builds, worker ${kb(workerSource.length)} raw)`,
);
if (gz > BUDGET_GZ) {
  console.error(`inline bundle is over its size budget: ${kb(gz)} > ${kb(BUDGET_GZ)} gzipped`);
  process.exit(1);
}
