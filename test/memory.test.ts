// The memory bound README states: for the reference model (784-400-20, Bernoulli) no public call
// takes wasm memory past 64 MiB — fit at batch 512, evaluate, logLikelihood with k = 5000,
// sample, reconstruct, encode/decode of 60,000 rows. (Before the capacity was planned by rows,
// logLikelihood(k = 5000) alone grew it to 785 MiB.)
import { describe, it, expect, vi } from 'vitest';
import { VAE } from '../src/vae.js';
import { Trainer } from '../src/trainer.js';
import { randArray } from './helpers.js';

const MiB = 2 ** 20;

describe('wasm memory of the reference model', () => {
  it('stays under 64 MiB through every public call, and vae.memoryBytes reports it', async () => {
    const vae = await VAE.create({ inputDim: 784, encoder: [400], latentDim: 20, seed: 1 });
    const seen: [string, number][] = [['create', vae.memoryBytes]];
    const note = (what: string) => {
      expect(vae.memoryBytes).toBe(vae.kernels.memory.buffer.byteLength);
      seen.push([what, vae.memoryBytes]);
    };
    const x = randArray(1024 * 784, 3, 0, 1);
    await new Trainer(vae, { batchSize: 512 }).fit(x, {
      epochs: 1,
      validationData: x.subarray(0, 100 * 784),
    });
    note('fit batch 512');
    await new Trainer(vae, { batchSize: 128, samples: 4 }).fit(x.subarray(0, 256 * 784), { epochs: 1 });
    note('fit batch 128, L = 4');
    vae.evaluate(x, { samples: 10 });
    note('evaluate L = 10');
    const ll = vae.logLikelihood(x.subarray(0, 2 * 784), { k: 5000, seed: 1 });
    expect(Number.isFinite(ll.logLikelihood)).toBe(true);
    note('logLikelihood k = 5000');
    vae.sample(2000);
    note('sample 2000');
    vae.reconstruct(x, { sample: true });
    note('reconstruct');
    const big = new Float32Array(60_000 * 784);
    big.set(x);
    const { mu } = vae.encode(big);
    note('encode 60,000');
    vae.decode({ data: mu, rows: 60_000, cols: 20 });
    note('decode 60,000');
    for (const [what, bytes] of seen) expect(bytes / MiB, what).toBeLessThanOrEqual(64);
    // the capacity grew only to what fit asked for: batch rows, never batch × samples × k
    expect(vae.net.capacity.dataRows).toBe(512);
    expect(vae.net.capacity.sampleRows).toBe(512);
    console.log(
      '[memory] MiB after each call:',
      seen.map(([w, b]) => `${w} ${(b / MiB).toFixed(1)}`).join(', '),
    );
  });
});

describe('memories a model load creates', () => {
  it('one WebAssembly.Memory per model, shared ones only for threads (the feature probe runs once)', async () => {
    // V8 records every shared WebAssembly.Memory in a per-isolate list it never compacts (8 bytes
    // each, for good): probing for shared memory on every load grew the JS heap in the soak's
    // create/load cycles. Count the memories 6 loads create, and which of them are shared.
    const Memory = WebAssembly.Memory;
    const made: boolean[] = [];
    const spy = vi.spyOn(WebAssembly, 'Memory').mockImplementation(function (
      d: WebAssembly.MemoryDescriptor,
    ) {
      made.push(d.shared === true);
      return new Memory(d);
    } as unknown as typeof WebAssembly.Memory);
    try {
      const m = { inputDim: 8, encoder: [4], latentDim: 2, seed: 1 };
      const bytes = (await VAE.create({ ...m, threads: 1 })).save(); // warm: the probe may run here
      made.length = 0;
      for (let i = 0; i < 3; i++) {
        const a = await VAE.create({ ...m, threads: 1 });
        (await VAE.load(bytes, { threads: 1 })).dispose();
        a.dispose();
      }
      await import('../src/node.js'); // registers worker_threads: the threaded model below gets its pool
      const b = await VAE.create({ ...m, threads: 2 });
      expect(b.threads).toBe(2);
      b.dispose();
      expect(made).toEqual([false, false, false, false, false, false, true]);
    } finally {
      spy.mockRestore();
    }
  });
});
