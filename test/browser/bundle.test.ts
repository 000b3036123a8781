// The package loads from a plain static server, as users ship it:
// - through its `exports` map in an app built by Vite (the browser condition, the wasm located by
//   `new URL(…, import.meta.url)` and emitted as an asset, the worker bundled by Vite);
// - as the single-file build from a plain <script type="module"> (no wasm or worker file fetched:
//   the kernels are inlined and the worker starts from a Blob URL).
// In both, a Trainer and a WorkerTrainer train and report progress.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, rmSync, symlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import {
  HAS_CHROMIUM,
  ROOT,
  ARTIFACTS,
  title,
  launch,
  serve,
  requireBuild,
  blankPage,
  collectErrors,
  trainingApp,
  type TrainingAppResult,
  type Server,
} from './harness.js';

function checkResult(r: TrainingAppResult) {
  expect(r.build).toBe('relaxed'); // Chromium has relaxed SIMD on by default: the best build is picked
  expect(r.crossOriginIsolated).toBe(true);
  expect(r.afterMain).toBeLessThan(r.before);
  expect(r.epochs).toBe(3);
  expect(r.progress.length).toBe(3 * 8); // 256 rows / 32 per batch, 3 epochs
  expect(r.progress.map((p) => p.epoch)).toEqual([
    ...Array(8).fill(1),
    ...Array(8).fill(2),
    ...Array(8).fill(3),
  ]);
  for (const p of r.progress) {
    expect(p.loss).toBeCloseTo(p.reconstruction + p.kl, 3);
    expect(p.samplesPerSec).toBeGreaterThan(0);
  }
  expect(r.after).toBeLessThan(r.afterMain); // the worker's weights came back into the page's VAE
  expect(r.stopReason).toBe('aborted');
  expect(r.steps).toBeLessThan(32 + 200);
}

describe.skipIf(!HAS_CHROMIUM)(title('bundles on a static server'), () => {
  let browser: Browser;
  const servers: Server[] = [];
  beforeAll(async () => {
    requireBuild();
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  it("Vite app: import { VAE, Trainer, WorkerTrainer } from 'wasm-vae'", async () => {
    const app = join(ARTIFACTS, 'vite-app'),
      out = join(app, 'dist');
    rmSync(app, { recursive: true, force: true });
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    symlinkSync(ROOT, join(app, 'node_modules', 'wasm-vae'), 'dir'); // as npm link / a workspace would
    writeFileSync(
      join(app, 'index.html'),
      '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><pre id="out"></pre><script type="module" src="./main.js"></script>\n',
    );
    writeFileSync(
      join(app, 'main.js'),
      trainingApp("import { VAE, Trainer, WorkerTrainer } from 'wasm-vae';", 1),
    );
    const { build } = await import('vite');
    await build({
      root: app,
      configFile: false,
      logLevel: 'warn',
      build: { outDir: out, emptyOutDir: true, target: 'es2022' },
    });
    const assets = readdirSync(join(out, 'assets'));
    expect(assets.filter((f) => f.endsWith('.wasm')).length).toBeGreaterThanOrEqual(3); // the builds, emitted as assets
    expect(assets.some((f) => /worker/i.test(f) && f.endsWith('.js'))).toBe(true); // the worker, bundled

    const server = await serve({ root: out, index: '/index.html' });
    servers.push(server);
    const page = await browser.newPage();
    const errors = collectErrors(page);
    const wasm: { url: string; type: string | undefined }[] = [];
    page.on('response', (r) => {
      if (r.url().endsWith('.wasm')) wasm.push({ url: r.url(), type: r.headers()['content-type'] });
    });
    await page.goto(server.url);
    const r = (await page.evaluate('window.result')) as TrainingAppResult;
    expect(errors).toEqual([]);
    checkResult(r);
    expect(wasm.length).toBeGreaterThanOrEqual(1);
    expect(
      wasm.every((w) => w.type === 'application/wasm' && /\/assets\/relaxed-[\w-]+\.wasm$/.test(w.url)),
    ).toBe(true);
    await page.close();
  });

  it('single-file build from a plain <script type="module">', async () => {
    const dir = join(ARTIFACTS, 'inline-app');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'index.html'),
      `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><pre id="out"></pre>
<script type="module">
${trainingApp("import { VAE, Trainer, WorkerTrainer } from '/dist/inline/wasm-vae.js';", 1)}
</script>\n`,
    );
    const server = await serve();
    servers.push(server);
    const page = await browser.newPage();
    const errors = collectErrors(page);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(server.url + 'test-artifacts/inline-app/index.html');
    const r = (await page.evaluate('window.result')) as TrainingAppResult;
    expect(errors).toEqual([]);
    checkResult(r);
    // nothing but the page and the bundle: no wasm file, no worker script (a Blob URL)
    const fetched = requests.filter((u) => u.startsWith('http')).map((u) => new URL(u).pathname);
    expect(fetched.sort()).toEqual(['/dist/inline/wasm-vae.js', '/test-artifacts/inline-app/index.html']);
    expect(requests.some((u) => u.startsWith('blob:'))).toBe(true);
    await page.close();
  });

  it('unbundled dist/ (with an import map for @assemblyscript/loader): init() and loadKernels take a URL, Response, bytes, Module, map or resolver', async () => {
    const server = await serve();
    servers.push(server);
    const page = await browser.newPage();
    const errors = collectErrors(page);
    await page.goto(server.url + (await blankPage()));
    const r = (await page.evaluate(`(async () => {
      const lib = await import('/dist/index.js');
      const r = {};
      const err = async (p) => { try { await p; return 'no error'; } catch (e) { return e.name + ': ' + e.message; } };
      r.default = (await lib.loadKernels()).build;
      r.url = (await lib.loadKernels({ source: '/build/simd.wasm' })).build;
      r.response = (await lib.loadKernels({ source: fetch('/build/scalar.wasm') })).build;
      const bytes = new Uint8Array(await (await fetch('/build/simd.wasm')).arrayBuffer());
      r.bytes = (await lib.loadKernels({ source: bytes })).build;
      const mod = await WebAssembly.compile(bytes);
      r.module = (await lib.loadKernels({ source: mod })).build;
      r.map = (await lib.loadKernels({ source: { simd: '/build/simd.wasm', scalar: '/build/scalar.wasm' }, build: 'scalar' })).build;
      r.mismatch = await err(lib.loadKernels({ source: '/build/scalar.wasm', build: 'simd' }));
      r.missing = await err(lib.loadKernels({ source: '/nope/simd.wasm' }));
      r.notWasm = await err(lib.loadKernels({ source: new Uint8Array([1, 2, 3]) }));
      const seen = [];
      const info = await lib.init({ source: (file) => { seen.push(file); return new URL('/build/' + file, location.href); } });
      const vae = await lib.VAE.create({ inputDim: 8, encoder: [4], latentDim: 2 });
      r.init = { build: info.build, available: info.available, vaeBuild: vae.build, seen };
      await lib.init({ source: mod });
      r.initModule = (await lib.VAE.create({ inputDim: 8, encoder: [4], latentDim: 2 })).build;
      r.initModuleOther = (await lib.VAE.create({ inputDim: 8, encoder: [4], latentDim: 2, build: 'scalar' })).build;
      // (the worker trainer is exercised through the Vite and inline builds: a module worker has no
      // import map for dist/'s bare import of @assemblyscript/loader)
      return r;
    })()`)) as Record<string, unknown>;
    expect(errors.filter((e) => !e.includes('404'))).toEqual([]);
    expect(r).toMatchObject({
      default: 'relaxed',
      url: 'simd',
      response: 'scalar',
      bytes: 'simd',
      module: 'simd',
      map: 'scalar',
      init: {
        build: 'relaxed',
        available: ['relaxed', 'simd', 'scalar'],
        vaeBuild: 'relaxed',
        seen: ['relaxed.wasm'],
      },
      initModule: 'simd',
      initModuleOther: 'scalar',
    });
    expect(r.mismatch).toMatch(/^WasmError: .*scalar/);
    expect(r.missing).toMatch(/^WasmError: could not fetch the wasm kernels: HTTP 404/);
    expect(r.notWasm).toMatch(/^WasmError: could not compile/);
    await page.close();
  });

  it("under a strict Content-Security-Policy: works with 'wasm-unsafe-eval' (+ worker-src blob:), says what is missing without", async () => {
    const dir = join(ARTIFACTS, 'csp');
    mkdirSync(dir, { recursive: true });
    const html = (
      policy: string,
    ) => `<!doctype html><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${policy}">
<link rel="icon" href="data:,"><script type="module" src="./csp.js"></script>\n`;
    writeFileSync(
      join(dir, 'ok.html'),
      html("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src blob:"),
    );
    writeFileSync(join(dir, 'strict.html'), html("default-src 'self'; script-src 'self'"));
    writeFileSync(
      join(dir, 'csp.js'),
      `import { VAE, WorkerTrainer } from '/dist/inline/wasm-vae.js';
window.result = (async () => {
  try {
    const vae = await VAE.create({ inputDim: 8, encoder: [4], latentDim: 2 });
    const wt = await WorkerTrainer.create(vae, { batchSize: 8 });
    const h = await wt.fit(new Float32Array(64).fill(0.25), { epochs: 2 });
    wt.terminate();
    return 'ok ' + vae.build + ' ' + h.epochs.length;
  } catch (e) { return e.name + ': ' + e.message; }
})();
`,
    );
    const server = await serve();
    servers.push(server);
    const page = await browser.newPage();
    await page.goto(server.url + 'test-artifacts/csp/ok.html');
    expect(await page.evaluate('window.result')).toBe('ok relaxed 2');
    await page.goto(server.url + 'test-artifacts/csp/strict.html');
    expect(await page.evaluate('window.result')).toMatch(
      /^WasmError: could not compile .*'wasm-unsafe-eval'/,
    );
    await page.close();
  });
});

// Not a browser: the same exports map under Node picks dist/node.js (file reading, worker_threads).
describe('the package in Node, through its exports map', () => {
  it("'wasm-vae' resolves to the Node entry, and WorkerTrainer runs on worker_threads; 'wasm-vae/inline' runs too", () => {
    requireBuild();
    const app = join(ARTIFACTS, 'node-app');
    rmSync(app, { recursive: true, force: true });
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    symlinkSync(ROOT, join(app, 'node_modules', 'wasm-vae'), 'dir');
    writeFileSync(
      join(app, 'main.mjs'),
      `
import * as lib from 'wasm-vae';
import * as inline from 'wasm-vae/inline';
const D = 32, x = new Float32Array(64 * D).map((_, i) => (i % 7) / 7);
const vae = await lib.VAE.create({ inputDim: D, encoder: [16], latentDim: 2, seed: 1, build: 'simd' });
const twin = await inline.VAE.create({ inputDim: D, encoder: [16], latentDim: 2, seed: 1, build: 'simd' });
let batches = 0;
const wt = await lib.WorkerTrainer.create(vae, { batchSize: 16 });
const h = await wt.fit(x, { epochs: 2, onBatchEnd: () => { batches++; } });
const h2 = await new inline.Trainer(twin, { batchSize: 16 }).fit(x, { epochs: 2 });
const same = Buffer.from(vae.save()).equals(Buffer.from(twin.save()));
console.log(JSON.stringify({ node: typeof lib.loadMnist, build: vae.build, batches, loss: h.epochs.map((e) => e.loss), inlineLoss: h2.epochs.map((e) => e.loss), same }));
`,
    );
    const out = execFileSync(process.execPath, ['main.mjs'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r.node).toBe('function'); // the Node entry's file helpers
    expect(r.build).toBe('simd');
    expect(r.batches).toBe(8);
    expect(r.inlineLoss).toEqual(r.loss); // worker (dist/node.js) and main thread (inline build) agree exactly
    expect(r.same).toBe(true);
  });
});
