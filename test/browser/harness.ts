// Shared set-up of the browser tests: Chromium at /usr/bin/chromium (Debian's package) driven by
// playwright-core, pages served by scripts/serve.mjs (127.0.0.1, COOP/COEP). The tests skip, with a
// message naming the missing binary, only when Chromium is not installed.
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = join(ROOT, 'test-artifacts');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);
export const SKIP_MESSAGE = `browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
if (!HAS_CHROMIUM) console.warn(SKIP_MESSAGE);

/** describe-title suffix that says why a suite is skipped. */
export const title = (name: string) => (HAS_CHROMIUM ? name : `${name} [${SKIP_MESSAGE}]`);

/** The built files the browser tests load; `npm test` builds them first (pretest). */
export function requireBuild(): void {
  for (const f of ['dist/index.js', 'dist/worker/worker.js', 'dist/inline/wasm-vae.js', 'build/simd.wasm']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run npm run build first`);
  }
  const inline = statSync(join(ROOT, 'dist/inline/wasm-vae.js')).mtimeMs,
    ts = statSync(join(ROOT, 'dist/index.js')).mtimeMs;
  if (inline + 60_000 < ts)
    console.warn('dist/inline/wasm-vae.js is older than dist/index.js: run npm run build:inline');
}

export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

export interface Server {
  url: string;
  close(): Promise<void>;
}

export async function serve(opts: { root?: string; index?: string } = {}): Promise<Server> {
  const mod = (await import('../../scripts/serve.mjs' as string)) as {
    startServer(o: object): Promise<Server>;
  };
  return mod.startServer({ root: opts.root ?? ROOT, index: opts.index });
}

/** Collects console errors and uncaught exceptions of a page, for failure messages. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** A blank same-origin page to run scripts in: test-artifacts/browser/blank.html (written on demand). */
export async function blankPage(): Promise<string> {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(join(ARTIFACTS, 'browser'), { recursive: true });
  // dist/ imports @assemblyscript/loader by its package name: unbundled pages map it (bundlers and
  // the inline build resolve it themselves)
  const importMap =
    '<script type="importmap">{"imports":{"@assemblyscript/loader":"/node_modules/@assemblyscript/loader/index.js"}}</script>';
  writeFileSync(
    join(ARTIFACTS, 'browser', 'blank.html'),
    `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>blank</title>${importMap}\n`,
  );
  return 'test-artifacts/browser/blank.html';
}

/**
 * The test app's code (the same for every bundling route; only the import line differs): trains
 * `mainEpochs` on the main thread with Trainer, then 3 epochs and an aborted fit with WorkerTrainer,
 * on a 256×64 data set, and publishes the figures as `window.result`.
 */
export function trainingApp(importLine: string, mainEpochs: number): string {
  return `${importLine}
const out = document.getElementById('out');
window.result = (async () => {
  const D = 64, N = 256, x = new Float32Array(N * D);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 2654435761) >>> 0) % 1000 / 1000;
  const vae = await VAE.create({ inputDim: D, encoder: [32], latentDim: 2, seed: 1 });
  const before = vae.evaluate(x, { seed: 1 }).loss;
  const main = await new Trainer(vae, { batchSize: 32 }).fit(x, { epochs: ${mainEpochs} });
  const afterMain = vae.evaluate(x, { seed: 1 }).loss;
  const progress = [];
  const wt = await WorkerTrainer.create(vae, { batchSize: 32 });
  const history = await wt.fit(x, { epochs: 3, onBatchEnd: (b) => progress.push({ epoch: b.epoch, batch: b.batch, loss: b.loss,
    reconstruction: b.reconstruction, kl: b.kl, samplesPerSec: b.samplesPerSec }) });
  // abort: a long fit stopped from the main thread after a few batches
  const ctrl = new AbortController();
  const aborted = await wt.fit(x, { epochs: 1000, signal: ctrl.signal, onBatchEnd: (b) => { if (b.step >= 40) ctrl.abort(); } });
  wt.terminate();
  const after = vae.evaluate(x, { seed: 1 }).loss;
  const r = { build: vae.build, before, mainLosses: main.epochs.map((e) => e.loss), afterMain, after, progress,
    epochs: history.epochs.length, workerLosses: history.epochs.map((e) => e.loss), stopReason: aborted.stopReason,
    steps: aborted.steps, crossOriginIsolated: self.crossOriginIsolated };
  out.textContent = JSON.stringify(r);
  return r;
})();
`;
}

/** What trainingApp() publishes. */
export interface TrainingAppResult {
  build: string;
  before: number;
  mainLosses: number[];
  afterMain: number;
  after: number;
  epochs: number;
  workerLosses: number[];
  stopReason: string;
  steps: number;
  crossOriginIsolated: boolean;
  progress: {
    epoch: number;
    batch: number;
    loss: number;
    reconstruction: number;
    kl: number;
    samplesPerSec: number;
  }[];
}
