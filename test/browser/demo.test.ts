// The demo page (demo/index.html, served like `npm run demo`): trains on MNIST in a worker for a
// few batches while its canvases (curves, reconstructions, prior samples, 2-D manifold,
// interpolation, the latent scatter by digit, the per-dimension KL bars) fill with non-blank images; saves a screenshot to test-artifacts/demo.png;
// downloads the model and loads it back; shows a visible error — not a hang — for corrupt
// model files; and switches to the conv VAE (Keras-io's preset), trained in the worker on threads.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import {
  HAS_CHROMIUM,
  ARTIFACTS,
  title,
  launch,
  serve,
  requireBuild,
  collectErrors,
  type Server,
} from './harness.js';

const CANVASES = ['curves', 'recon', 'samples', 'manifold', 'interp', 'scatter', 'kldims'];
const TOOLBOX = ['aesamples', 'cvae'];

// per canvas: the share of non-white pixels and the standard deviation of the gray levels
const CANVAS_STATS = `(() => Object.fromEntries(${JSON.stringify(CANVASES)}.map((id) => {
  const c = document.getElementById(id), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0, ink = 0, s = 0, s2 = 0;
  for (let i = 0; i < d.length; i += 4) { const g = (d[i] + d[i + 1] + d[i + 2]) / 3; n++; s += g; s2 += g * g; if (g < 250) ink++; }
  const m = s / n;
  return [id, { ink: ink / n, std: Math.sqrt(Math.max(0, s2 / n - m * m)) }];
})))()`;

describe.skipIf(!HAS_CHROMIUM)(title('demo page'), () => {
  let browser: Browser, server: Server, page: Page, errors: string[];

  beforeAll(async () => {
    requireBuild();
    [browser, server] = await Promise.all([launch(), serve()]);
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true });
    errors = collectErrors(page);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('trains for a few batches and draws every panel', async () => {
    await page.goto(
      server.url +
        'demo/?n=3000&epochs=100&hidden=64&latent=2&batch=50&seed=1&autostart=1&tbn=2000&tbepochs=2',
    );
    await page.waitForFunction(
      'window.__demo && (window.__demo.error || (window.__demo.batches >= 30 && window.__demo.draws >= 3))',
      null,
      { timeout: 60_000 },
    );
    expect(await page.evaluate('window.__demo.error')).toBeNull();
    expect(await page.locator('#state').textContent()).toBe('training');
    expect(await page.locator('#build').textContent()).toBe('relaxed');
    // the demo is served cross-origin isolated, so the worker trains on kernel threads
    const cores = await page.evaluate('navigator.hardwareConcurrency');
    expect(await page.evaluate('window.__demo.threads')).toBe(Math.min(Number(cores), 8));
    expect(await page.locator('#threads').textContent()).toBe(String(Math.min(Number(cores), 8)));
    expect(Number((await page.locator('#sps').textContent())!.replace(/\D/g, ''))).toBeGreaterThan(0);
    await page.waitForTimeout(700); // one more redraw of the panels with newer weights
    const stats = (await page.evaluate(CANVAS_STATS)) as Record<string, { ink: number; std: number }>;
    for (const id of CANVASES) {
      // the scatter is 1,000 dots of 3×3 pixels that overlap while the codes are still close together
      expect(stats[id].ink, `${id} has ink`).toBeGreaterThan(id === 'scatter' ? 0.005 : 0.02);
      expect(stats[id].std, `${id} is not uniform`).toBeGreaterThan(id === 'scatter' ? 4 : 8);
    }
    // the toolbox panels: every test image in the latent scatter; one KL bar per latent unit
    expect(await page.evaluate('window.__demo.scatterPoints')).toBe(1000);
    const kl = (await page.evaluate('window.__demo.klPerDim')) as number[];
    expect(kl).toHaveLength(2);
    expect(kl.every((v) => v >= 0 && Number.isFinite(v))).toBe(true);
    expect(await page.evaluate('window.__demo.activeUnits')).toBeLessThanOrEqual(2);
    // the page is responsive while the worker trains: Stop ends the run after the current batch
    await page.click('#stop');
    await page.waitForFunction("window.__demo.phase === 'stopped'", null, { timeout: 20_000 });
    // the autoencoder and the conditional VAE, trained on the page's thread (a short run: tbn, tbepochs)
    await page.click('#tbtrain');
    await page.waitForFunction(
      "window.__demo.toolbox === 'done' || window.__demo.toolbox === 'error'",
      null,
      {
        timeout: 90_000,
      },
    );
    expect(await page.evaluate('window.__demo.error')).toBeNull();
    const tb = (await page.evaluate(
      CANVAS_STATS.replace(JSON.stringify(CANVASES), JSON.stringify(TOOLBOX)),
    )) as Record<string, { ink: number; std: number }>;
    for (const id of TOOLBOX) {
      expect(tb[id].ink, `${id} has ink`).toBeGreaterThan(0.02);
      expect(tb[id].std, `${id} is not uniform`).toBeGreaterThan(8);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'demo.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('downloads the model and loads it back', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    expect(download.suggestedFilename()).toBe('wasm-vae-mnist-z2.safetensors');
    const path = join(ARTIFACTS, 'demo-model.safetensors');
    await download.saveAs(path);
    const bytes = readFileSync(path);
    expect(bytes.length).toBeGreaterThan(100_000);
    await page.setInputFiles('#load', path);
    await page.waitForFunction("window.__demo.phase === 'loaded' || window.__demo.phase === 'error'", null, {
      timeout: 20_000,
    });
    expect(await page.evaluate('window.__demo.error')).toBeNull();
    expect(await page.locator('#error').isVisible()).toBe(false);
    expect(await page.locator('#modelinfo').textContent()).toContain('loaded from demo-model.safetensors');
  });

  it('shows a visible error for a corrupt model file, and stays usable', async () => {
    const good = readFileSync(join(ARTIFACTS, 'demo-model.safetensors'));
    const cases = [
      {
        name: 'garbage.safetensors',
        buffer: Buffer.from('this is not a safetensors file at all, just text'.repeat(4)),
      },
      { name: 'truncated.safetensors', buffer: good.subarray(0, 5000) },
      { name: 'empty.safetensors', buffer: Buffer.alloc(0) },
    ];
    for (const c of cases) {
      await page.setInputFiles('#load', {
        name: c.name,
        mimeType: 'application/octet-stream',
        buffer: c.buffer,
      });
      const box = page.locator('#error');
      await box.waitFor({ state: 'visible', timeout: 10_000 });
      expect(await box.textContent()).toMatch(
        new RegExp(`could not load ${c.name.replace('.', '\\.')}: \\S`),
      );
      expect(await page.evaluate('window.__demo.phase')).toBe('error');
    }
    // still usable: the last good model is kept, and training can start again
    expect(await page.locator('#start').isEnabled()).toBe(true);
    expect(await page.locator('#download').isEnabled()).toBe(true);
  });

  it('switches to the conv VAE and trains it in the worker on kernel threads', async () => {
    const conv = await browser.newPage({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true });
    const convErrors = collectErrors(conv);
    try {
      await conv.goto(server.url + 'demo/?arch=conv&n=2000&epochs=100&latent=2&batch=32&seed=1&autostart=1');
      await conv.waitForFunction(
        'window.__demo && (window.__demo.error || (window.__demo.batches >= 12 && window.__demo.draws >= 2))',
        null,
        { timeout: 90_000 },
      );
      expect(await conv.evaluate('window.__demo.error')).toBeNull();
      expect(await conv.locator('#arch').inputValue()).toBe('conv');
      // the layers are the preset's: the hidden-width choice does not apply
      expect(await conv.locator('#hidden').isDisabled()).toBe(true);
      expect(await conv.locator('#modelinfo').textContent()).toContain(
        'conv 32 → conv 64 → dense 16 → z 2 (134,165 parameters',
      );
      const cores = await conv.evaluate('navigator.hardwareConcurrency');
      expect(await conv.evaluate('window.__demo.threads')).toBe(Math.min(Number(cores), 8));
      expect(Number((await conv.locator('#sps').textContent())!.replace(/\D/g, ''))).toBeGreaterThan(0);
      // the training curves are drawn and the reconstructions show the originals and the model's output
      const stats = (await conv.evaluate(CANVAS_STATS)) as Record<string, { ink: number; std: number }>;
      for (const id of ['curves', 'recon']) {
        expect(stats[id].ink, `${id} has ink`).toBeGreaterThan(0.02);
        expect(stats[id].std, `${id} is not uniform`).toBeGreaterThan(8);
      }
      expect(await conv.evaluate('window.__demo.scatterPoints')).toBe(1000);
      await conv.screenshot({ path: join(ARTIFACTS, 'demo-conv.png'), fullPage: true });
      await conv.click('#stop');
      await conv.waitForFunction("window.__demo.phase === 'stopped'", null, { timeout: 30_000 });
      // Stop gives the controls back, the conv choice still without a hidden width
      expect(await conv.locator('#start').isEnabled()).toBe(true);
      expect(await conv.locator('#hidden').isDisabled()).toBe(true);
      // the trained conv model downloads as a file of its 134,165 float32 parameters (and more)
      const [download] = await Promise.all([conv.waitForEvent('download'), conv.click('#download')]);
      const path = join(ARTIFACTS, 'demo-conv-model.safetensors');
      await download.saveAs(path);
      expect(readFileSync(path).length).toBeGreaterThan(134_165 * 4);
      // and loads back as a conv model: the switch follows the file
      await conv.selectOption('#arch', 'mlp');
      await conv.setInputFiles('#load', path);
      await conv.waitForFunction(
        "window.__demo.phase === 'loaded' || window.__demo.phase === 'error'",
        null,
        {
          timeout: 30_000,
        },
      );
      expect(await conv.evaluate('window.__demo.error')).toBeNull();
      expect(await conv.locator('#arch').inputValue()).toBe('conv');
      expect(await conv.locator('#modelinfo').textContent()).toContain(
        'loaded from demo-conv-model.safetensors',
      );
      expect(convErrors).toEqual([]);
    } finally {
      await conv.close();
    }
  });
});
