// A convolutional VAE gives bit-identical results in Chromium and in Node for the same seed and
// build: trained for a few steps on fixed data on the page's main thread, in a WorkerTrainer, and
// in a WorkerTrainer with 2 kernel threads, compared by every loss and a hash of every weight's bits.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import {
  HAS_CHROMIUM,
  title,
  launch,
  serve,
  requireBuild,
  blankPage,
  collectErrors,
  type Server,
} from './harness.js';
import { availableBuilds } from '../../src/wasm.js';

// runs as is in Node and in the page: lib is the package's module namespace
const SCENARIO = `async (lib, build, useWorker, threads = 1) => {
  const model = {
    inputShape: [1, 12, 12], latentDim: 3, seed: 1, build,
    encoder: [{ conv: 8, kernel: 3, stride: 2, padding: 1 }, { conv: 16, kernel: 3, stride: 2, padding: 1 }, { dense: 12 }],
    decoder: [{ dense: 144 }, { reshape: [16, 3, 3] }, { deconv: 8, kernel: 3, stride: 2, padding: 1, outputPadding: 1 },
              { deconv: 4, kernel: 3, stride: 2, padding: 1, outputPadding: 1 }],
  };
  const D = 144, N = 64, x = new Float32Array(N * D);
  let s = 12345;
  for (let i = 0; i < x.length; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; x[i] = (s >>> 8) / 16777216; }
  const vae = await lib.VAE.create({ ...model, threads: 1 });
  const losses = [], opts = { batchSize: 16 };
  const fitOpts = { epochs: 2, onBatchEnd: (i) => { losses.push(i.loss, i.reconstruction, i.kl); } };
  let history, ran = 1;
  if (useWorker) { const t = await lib.WorkerTrainer.create(vae, opts, { threads }); ran = t.threads; history = await t.fit(x, fitOpts); t.terminate(); }
  else history = await new lib.Trainer(vae, opts).fit(x, fitOpts);
  const net = vae.net, p = net.layout.params >> 2;
  const bits = new Uint32Array(net.heap.slice(p, p + net.paramFloats).buffer);
  let h = 0x811c9dc5;
  for (let i = 0; i < bits.length; i++) h = Math.imul(h ^ bits[i], 0x01000193) >>> 0;
  globalThis.__threadsRan = ran;
  return { build: vae.build, losses, epochLosses: history.epochs.map((e) => e.loss), weightsHash: h.toString(16),
    sample: Array.from(vae.sample(2, { seed: 3 }).subarray(0, 12)) };
}`;

type Result = {
  build: string;
  losses: number[];
  epochLosses: number[];
  weightsHash: string;
  sample: number[];
};

describe.skipIf(!HAS_CHROMIUM)(title('conv VAE: Chromium vs Node, same numbers'), () => {
  let browser: Browser, server: Server, page: Page, errors: string[];

  beforeAll(async () => {
    requireBuild();
    [browser, server] = await Promise.all([launch(), serve()]);
    page = await browser.newPage();
    errors = collectErrors(page);
    await page.goto(server.url + (await blankPage()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const inNode = async (build: string): Promise<Result> => {
    const lib = await import('../../src/index.js');
    return new Function('lib', 'build', `return (${SCENARIO})(lib, build, false)`)(lib, build);
  };
  const inPage = (build: string, worker: boolean, threads = 1): Promise<Result> =>
    page.evaluate(
      `(async () => (${SCENARIO})(await import('/dist/inline/wasm-vae.js'), ${JSON.stringify(build)}, ${worker}, ${threads}))()`,
    );

  for (const build of ['simd', 'relaxed'] as const) {
    it(`${build}: losses and weights bit-identical (main thread, worker, worker on 2 kernel threads)`, async (ctx) => {
      if (!availableBuilds().includes(build)) ctx.skip();
      const node = await inNode(build);
      expect(node.build).toBe(build);
      expect(node.losses.length).toBe(8 * 3);
      expect(node.losses.every(Number.isFinite)).toBe(true);
      expect(node.epochLosses[1]).toBeLessThan(node.epochLosses[0]);
      expect(await inPage(build, false), `Chromium main thread vs Node (${errors.join('; ')})`).toEqual(node);
      expect(await inPage(build, true), `Chromium worker vs Node (${errors.join('; ')})`).toEqual(node);
      const threaded = await inPage(build, true, 2);
      expect(await page.evaluate('globalThis.__threadsRan')).toBe(2);
      expect(threaded, `Chromium worker on 2 threads vs Node (${errors.join('; ')})`).toEqual(node);
    });
  }

  it('logs no page errors', () => {
    expect(errors).toEqual([]);
  });
});
