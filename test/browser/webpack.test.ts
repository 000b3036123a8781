// The package in an app bundled by webpack 5 (the README's "webpack-style bundlers"), served from a
// plain static server: 'wasm-vae' resolved through the package's `exports` map (webpack's target
// 'web' picks the `browser` condition), each wasm located by `new URL('../build/x.wasm',
// import.meta.url)` and emitted as an asset/resource, and the worker behind
// `new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })` bundled as its own chunk.
// In Chromium a Trainer trains a few epochs and a WorkerTrainer trains with progress events.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, rmSync, symlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { Browser } from 'playwright-core';
import type { Configuration, Stats } from 'webpack';
import {
  HAS_CHROMIUM,
  ROOT,
  ARTIFACTS,
  title,
  launch,
  serve,
  requireBuild,
  collectErrors,
  trainingApp,
  type TrainingAppResult,
  type Server,
} from './harness.js';

// Any webpack warning fails the test (an expression inside `new URL(…, import.meta.url)`, for one,
// would become an empty module context that throws "Cannot find module" when reached).

async function runWebpack(config: Configuration): Promise<Stats> {
  const { default: webpack } = await import('webpack');
  return new Promise((resolve, reject) => {
    const compiler = webpack(config);
    compiler.run((err, stats) => {
      compiler.close(() => {
        if (err) reject(err);
        else if (!stats) reject(new Error('webpack returned no stats'));
        else resolve(stats);
      });
    });
  });
}

describe.skipIf(!HAS_CHROMIUM)(title('webpack 5 bundle on a static server'), () => {
  let browser: Browser;
  let server: Server | undefined;
  beforeAll(async () => {
    requireBuild();
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("webpack app: import { VAE, Trainer, WorkerTrainer } from 'wasm-vae'", async () => {
    const app = join(ARTIFACTS, 'webpack-app'),
      out = join(app, 'dist');
    rmSync(app, { recursive: true, force: true });
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    symlinkSync(ROOT, join(app, 'node_modules', 'wasm-vae'), 'dir'); // as npm link / a workspace would
    writeFileSync(
      join(app, 'main.js'),
      trainingApp("import { VAE, Trainer, WorkerTrainer } from 'wasm-vae';", 3),
    );

    // a plain production config: no loaders, no rules, no aliases; webpack's defaults do the rest
    const stats = await runWebpack({
      context: app,
      mode: 'production',
      target: 'web',
      entry: './main.js',
      output: { path: out, filename: 'main.js', publicPath: 'auto', clean: true },
      devtool: false,
      cache: false,
      performance: { hints: false },
      infrastructureLogging: { level: 'error' },
    });
    const info = stats.toJson({
      all: false,
      errors: true,
      warnings: true,
      assets: true,
      modules: true,
      nestedModules: true,
      version: true,
    });
    const errors = (info.errors ?? []).map((e) => `${e.moduleName ?? ''} ${e.message}`);
    const warnings = (info.warnings ?? []).map((w) => `${w.moduleName ?? ''} ${w.message}`);
    expect(errors, 'webpack errors').toEqual([]);
    if (warnings.length) console.warn(`webpack ${info.version} warnings:\n${warnings.join('\n')}`);
    expect(warnings, 'webpack warnings').toEqual([]);

    // resolved through the exports map's browser entry: dist/index.js, never the Node entry or a Node builtin
    const modules = (info.modules ?? [])
      .flatMap((m) => [m, ...(m.modules ?? [])])
      .map((m) => m.nameForCondition ?? m.identifier ?? '');
    const rel = (p: string) => (p.startsWith(ROOT + sep) ? p.slice(ROOT.length + 1) : p);
    const libModules = modules.filter((m) => m.startsWith(ROOT + sep) && !m.startsWith(app + sep)).map(rel);
    expect(libModules).toContain('dist/index.js');
    expect(libModules).toContain('dist/worker/worker.js');
    expect(libModules.filter((m) => /^dist\/(node|wasm-node|worker\/node(-entry)?)\.js$/.test(m))).toEqual(
      [],
    );
    expect(modules.filter((m) => /(^|[\s!])node:/.test(m))).toEqual([]);

    // each wasm build emitted as an asset/resource, the worker as its own chunk
    const assets = info.assets ?? [];
    const wasmSource = new Map(
      assets
        .filter((a) => a.name.endsWith('.wasm'))
        .map((a) => [a.name, rel(resolve(app, String(a.info.sourceFilename ?? '')))]),
    );
    expect([...wasmSource.values()].sort()).toEqual(
      ['relaxed', 'relaxed-shared', 'scalar', 'scalar-shared', 'simd', 'simd-shared']
        .map((b) => `build/${b}.wasm`)
        .sort(),
    );
    const jsChunks = assets.filter((a) => a.name.endsWith('.js')).map((a) => a.name);
    expect(jsChunks).toContain('main.js');
    expect(jsChunks.length).toBe(2); // main.js + the worker's chunk
    expect(readdirSync(out).sort()).toEqual([...assets.map((a) => a.name)].sort());
    // the page (webpack emits no HTML without a plugin): the bundle as a classic deferred script
    writeFileSync(
      join(out, 'index.html'),
      '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><pre id="out"></pre><script defer src="./main.js"></script>\n',
    );

    server = await serve({ root: out, index: '/index.html' });
    const page = await browser.newPage();
    const pageErrors = collectErrors(page);
    const wasm: { url: string; type: string | undefined }[] = [];
    const workers: string[] = [];
    page.on('response', (r) => {
      if (r.url().endsWith('.wasm')) wasm.push({ url: r.url(), type: r.headers()['content-type'] });
    });
    page.on('worker', (w) => workers.push(w.url()));
    await page.goto(server.url);
    const r = (await page.evaluate('window.result')) as TrainingAppResult;
    expect(pageErrors).toEqual([]);

    expect(['relaxed', 'simd', 'scalar']).toContain(r.build);
    expect(r.build).toBe('relaxed'); // Chromium has relaxed SIMD on by default: the best build is picked
    expect(r.crossOriginIsolated).toBe(true);
    // Trainer on the main thread: finite losses, going down epoch after epoch
    expect(r.mainLosses.length).toBe(3);
    for (const l of [r.before, ...r.mainLosses, r.afterMain, ...r.workerLosses, r.after])
      expect(Number.isFinite(l)).toBe(true);
    for (let i = 1; i < r.mainLosses.length; i++) expect(r.mainLosses[i]).toBeLessThan(r.mainLosses[i - 1]);
    expect(r.afterMain).toBeLessThan(r.before);
    // WorkerTrainer: progress for every batch of every epoch, the weights back in the page's VAE
    expect(r.workerLosses.length).toBe(3);
    expect(r.progress.length).toBe(3 * 8); // 256 rows / 32 per batch, 3 epochs
    expect(r.progress.map((p) => p.epoch)).toEqual([
      ...Array(8).fill(1),
      ...Array(8).fill(2),
      ...Array(8).fill(3),
    ]);
    for (const p of r.progress) {
      expect(Number.isFinite(p.loss)).toBe(true);
      expect(p.loss).toBeCloseTo(p.reconstruction + p.kl, 3);
      expect(p.samplesPerSec).toBeGreaterThan(0);
    }
    expect(r.workerLosses[2]).toBeLessThan(r.workerLosses[0]);
    expect(r.after).toBeLessThan(r.afterMain);
    expect(r.stopReason).toBe('aborted');
    expect(r.steps).toBeLessThan(32 + 200);

    // the wasm came from webpack's emitted assets of the build in use, each fetched once (the worker
    // gets the compiled modules): the plain one, and the shared-memory one when the page can use it
    // for kernel threads in the worker
    const isolated = await page.evaluate('crossOriginIsolated');
    expect(wasm.length).toBe(isolated ? 2 : 1);
    const files = wasm.map((w) => {
      const fetched = new URL(w.url);
      expect(fetched.origin + '/').toBe(server!.url);
      expect(w.type).toBe('application/wasm');
      return wasmSource.get(fetched.pathname.slice(1));
    });
    expect(files.sort()).toEqual(
      [`build/${r.build}.wasm`, ...(isolated ? [`build/${r.build}-shared.wasm`] : [])].sort(),
    );
    // the worker ran webpack's worker chunk
    expect(workers.length).toBe(1);
    const workerFile = new URL(workers[0]).pathname.slice(1);
    expect(workerFile).not.toBe('main.js');
    expect(jsChunks).toContain(workerFile);
    await page.close();
  }, 60_000);
});
