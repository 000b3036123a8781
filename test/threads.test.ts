// Threads: the same bits for any thread count (1 to more threads than cores), every heavy call
// on the pool, the lifecycle (dispose, errors, a program that exits by itself), and the options.
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { VAE, Trainer, ConfigError, WasmError, type VAEOptions, type TrainerOptions } from '../src/node.js';
import { BUILDS, fingerprint, randArray } from './helpers.js';

const THREADS = [1, 2, 3, 5]; // 5: more threads than this machine's cores

/** Everything a model computes, as bytes to compare. */
async function run(
  build: (typeof BUILDS)[number],
  threads: number,
  model: Partial<VAEOptions>,
  train: TrainerOptions,
) {
  const D = model.inputDim ?? 64;
  const vae = await VAE.create({
    inputDim: D,
    encoder: [48],
    latentDim: 6,
    decoder: [40],
    seed: 11,
    build,
    threads,
    ...model,
  });
  expect(vae.threads).toBe(threads);
  const x = randArray(150 * D, 4, 0, 1);
  const t = new Trainer(vae, { batchSize: 32, ...train });
  const h = await t.fit(x, { epochs: 2, validationData: x.subarray(0, 40 * D) });
  const out = fingerprint(vae, h, () => t.save(), x, D, { samples: 3, k: 300, draws: 50, recon: 20 });
  vae.dispose();
  return out;
}

describe.each(BUILDS)('%s build', (build) => {
  const cases: [string, Partial<VAEOptions>, TrainerOptions][] = [
    ['bernoulli, relu, Adam, L = 2', { activation: 'relu' }, { samples: 2 }],
    [
      'gaussian-learned, tanh, SGD momentum, mean',
      { likelihood: 'gaussian-learned', activation: 'tanh' },
      { optimizer: { name: 'sgd', lr: 1e-3, momentum: 0.9 }, reduction: 'mean' },
    ],
    [
      'IWAE k = 4, Adagrad, dynamic binarization',
      { binarization: 'dynamic' },
      { objective: 'iwae', samples: 4, optimizer: { name: 'adagrad', lr: 0.02 } },
    ],
    [
      'wide layers (column shares), free bits',
      { inputDim: 200, encoder: [160], decoder: [136] },
      { freeBits: 0.1, beta: 0.8 },
    ],
  ];
  it.each(cases)('%s: the same bits with 1, 2, 3 and 5 threads', async (_name, model, train) => {
    const ref = await run(build, 1, model, train);
    for (const n of THREADS.slice(1)) expect(await run(build, n, model, train), `${n} threads`).toEqual(ref);
  });
});

describe('threads: options and lifecycle', () => {
  it("'auto' keeps small models on one thread and gives the reference model the cores", async () => {
    const small = await VAE.create({ inputDim: 30, encoder: [16], latentDim: 4 });
    expect(small.threads).toBe(1);
    small.dispose();
    const big = await VAE.create({ inputDim: 784, encoder: [400], latentDim: 20 });
    const cores = (await import('node:os')).availableParallelism();
    expect(big.threads).toBe(Math.min(cores, 8));
    expect(big.threadsNote).toBe('');
    big.dispose();
  });

  it('rejects a bad thread count with a ConfigError', async () => {
    for (const threads of [0, -1, 1.5, 'two'])
      await expect(VAE.create({ inputDim: 4, threads: threads as never })).rejects.toThrow(ConfigError);
  });

  it('a kernel that fails on a thread comes back as a WasmError, and the pool stays usable', async () => {
    const vae = await VAE.create({ inputDim: 64, encoder: [48], latentDim: 6, threads: 2 });
    // an activation over a range past the end of memory traps in the threads' shares
    const far = vae.kernels.memory.buffer.byteLength;
    expect(() => vae.net.par.act_forward(far, far, 1 << 20, 1, 0)).toThrow(WasmError);
    const x = randArray(64 * 64, 1, 0, 1);
    const e = vae.evaluate(x, { seed: 1 });
    expect(Number.isFinite(e.loss)).toBe(true);
    vae.dispose();
    expect(() => vae.net.par.act_forward(0, 0, 4, 1, 0)).toThrow(/stopped/);
  });

  describe('a kernel thread that dies (ThreadPool.stallMs 300 ms here)', () => {
    type PoolInternals = { workers: { terminate(): Promise<number> }[]; c: Int32Array; taken: number };
    const poolOf = (v: VAE) => (v as unknown as { pool: PoolInternals }).pool;
    const M: VAEOptions = { inputDim: 64, encoder: [48], latentDim: 6, decoder: [40], seed: 5 };
    async function withStall(fn: () => Promise<void>): Promise<void> {
      const { ThreadPool } = await import('../src/threads.js');
      const saved = ThreadPool.stallMs;
      ThreadPool.stallMs = 300;
      try {
        await fn();
      } finally {
        ThreadPool.stallMs = saved;
      }
    }
    const bits = (f: Float32Array) => new Uint32Array(f.buffer, f.byteOffset, f.length);

    it('while idle: the next call completes on the calling thread with the same bits, and the model goes on on 1 thread', async () => {
      await withStall(async () => {
        const vae = await VAE.create({ ...M, threads: 3 });
        const one = await VAE.create({ ...M, threads: 1 });
        const x = randArray(64 * 64, 1, 0, 1);
        expect(vae.evaluate(x, { seed: 1 })).toEqual(one.evaluate(x, { seed: 1 }));
        expect([vae.threads, vae.threadsNote]).toEqual([3, '']);
        await poolOf(vae).workers[0].terminate();
        // the calling thread takes over the dead thread's share at once (no stall), the same bits;
        // once it has missed every call for stallMs (and 1,000 calls), the pool retires its workers
        const t0 = performance.now();
        const want = one.evaluate(x, { seed: 2 });
        let calls = 0;
        while (vae.threads > 1 && performance.now() - t0 < 20_000) {
          expect(vae.evaluate(x, { seed: 2 })).toEqual(want);
          calls++;
        }
        console.log(
          `[threads] a dead thread retired after ${(performance.now() - t0).toFixed(0)} ms (${calls} evaluate calls, ${poolOf(vae).taken} shares taken over)`,
        );
        expect(poolOf(vae).taken).toBeGreaterThanOrEqual(1000);
        expect(vae.threads).toBe(1);
        expect(vae.threadsNote).toMatch(
          /^1 of 2 kernel thread\(s\) stopped responding in \w+ \(no progress for 300 ms\): the model runs on 1 thread/,
        );
        // every later call: one thread, the same numbers
        expect(bits(vae.decode(x.subarray(0, 20 * 6)))).toEqual(bits(one.decode(x.subarray(0, 20 * 6))));
        expect(vae.logLikelihood(x.subarray(0, 64 * 3), { k: 50, seed: 3 })).toEqual(
          one.logLikelihood(x.subarray(0, 64 * 3), { k: 50, seed: 3 }),
        );
        // the surviving worker was stopped too: none is left running
        await new Promise((r) => setTimeout(r, 200));
        expect(process.getActiveResourcesInfo().filter((r) => /Worker/i.test(r)).length).toBe(0);
        vae.dispose();
        expect(() => vae.evaluate(x)).toThrow(ConfigError);
      });
    });

    it('a thread that wakes up for every call but always too late (a busy machine) is kept', async () => {
      await withStall(async () => {
        const { CONTROL } = await import('../src/threads.js');
        const vae = await VAE.create({ ...M, threads: 2 });
        const one = await VAE.create({ ...M, threads: 1 });
        const x = randArray(64 * 64, 1, 0, 1);
        vae.evaluate(x, { seed: 1 });
        const pool = poolOf(vae);
        // the worker is stopped, so the caller takes over its share on every call; its seen word is
        // moved on before each call, as a live thread does when it wakes up too late to claim
        await pool.workers[0].terminate();
        const want = one.evaluate(x, { seed: 2 });
        const t0 = performance.now();
        let calls = 0;
        while (performance.now() - t0 < 900 || calls < 1500) {
          Atomics.store(pool.c, CONTROL.seenAt(1), Atomics.load(pool.c, CONTROL.GEN));
          expect(vae.evaluate(x, { seed: 2 })).toEqual(want);
          calls++;
        }
        // well past stallMs (300 ms) and 1,000 missed calls, and still on 2 threads
        expect(pool.taken).toBeGreaterThanOrEqual(1500);
        expect([vae.threads, vae.threadsNote]).toEqual([2, '']);
        // once the seen word stops moving (the thread is dead), the pool retires it
        const t1 = performance.now();
        while (vae.threads > 1 && performance.now() - t1 < 20_000)
          expect(vae.evaluate(x, { seed: 2 })).toEqual(want);
        expect(vae.threads).toBe(1);
        expect(vae.threadsNote).toMatch(/^1 of 1 kernel thread\(s\) stopped responding/);
        vae.dispose();
        one.dispose();
      });
    });

    it('mid-training: fit goes on and its weights, optimizer state and losses are bit-identical to a 1-thread run', async () => {
      await withStall(async () => {
        const x = randArray(160 * 64, 7, 0, 1);
        const runOn = async (threads: number, kill: boolean) => {
          const vae = await VAE.create({ ...M, threads });
          const t = new Trainer(vae, { batchSize: 16 });
          const h = await t.fit(x, {
            epochs: 3,
            onBatchEnd: async (b) => {
              if (kill && b.step === 13) await poolOf(vae).workers[1].terminate();
            },
          });
          return { vae, t, h };
        };
        const a = await runOn(3, true),
          b = await runOn(1, false);
        // the dead thread's shares were taken over by the calling thread from the next call on
        expect(poolOf(a.vae).taken).toBeGreaterThan(100);
        expect(a.h.steps).toBe(30);
        expect(a.h.epochs.map((e) => e.loss)).toEqual(b.h.epochs.map((e) => e.loss));
        expect(Buffer.compare(a.vae.save(), b.vae.save())).toBe(0);
        const st = (t: Trainer) =>
          (t.vae as unknown as { net: { stateSnapshot(n: number): Float32Array[] } }).net.stateSnapshot(2);
        expect(st(a.t).map(bits)).toEqual(st(b.t).map(bits));
        a.vae.dispose();
      });
    });

    it('inside its share (half-written outputs): a WasmError, and the model refuses further calls', async () => {
      await withStall(async () => {
        const { CONTROL } = await import('../src/threads.js');
        const vae = await VAE.create({ ...M, threads: 3 });
        const x = randArray(64 * 64, 1, 0, 1);
        vae.evaluate(x, { seed: 1 });
        const pool = poolOf(vae);
        await pool.workers[0].terminate();
        // fake what a worker killed mid-kernel leaves: the next call claimed, never done
        const next = Atomics.load(pool.c, CONTROL.GEN) + 1;
        Atomics.store(pool.c, CONTROL.claimAt(1), next);
        expect(() => vae.evaluate(x, { seed: 1 })).toThrow(/died inside its share of the call.*half-written/);
        expect(() => vae.evaluate(x, { seed: 1 })).toThrow(WasmError); // the threads are stopped
        vae.dispose();
      });
    });
  });

  it('many create / train / dispose cycles leave no thread behind', async () => {
    const x = randArray(64 * 64, 2, 0, 1);
    for (let i = 0; i < 12; i++) {
      const vae = await VAE.create({ inputDim: 64, encoder: [48], latentDim: 6, threads: 3, seed: i });
      await new Trainer(vae, { batchSize: 32 }).fit(x, { epochs: 1 });
      vae.dispose();
    }
    // the workers exit on dispose: give them a moment, then count the process's threads
    await new Promise((r) => setTimeout(r, 300));
    const workers = process.getActiveResourcesInfo().filter((r) => /Worker/i.test(r)).length;
    expect(workers).toBe(0);
  });

  it('an AbortSignal stops threaded training after the current batch', async () => {
    const vae = await VAE.create({ inputDim: 64, encoder: [48], latentDim: 6, threads: 2 });
    const ctrl = new AbortController();
    const x = randArray(640 * 64, 3, 0, 1);
    const h = await new Trainer(vae, { batchSize: 16 }).fit(x, {
      epochs: 50,
      signal: ctrl.signal,
      onBatchEnd: (b) => {
        if (b.step === 3) ctrl.abort();
      },
    });
    expect(h.stopReason).toBe('aborted');
    expect(h.steps).toBe(3);
    vae.dispose();
  });

  it('a Node program with a threaded model exits by itself, disposed or not', async () => {
    const src = `
      import { VAE, Trainer } from ${JSON.stringify(new URL('../dist/node.js', import.meta.url).href)};
      const vae = await VAE.create({ inputDim: 64, encoder: [48], latentDim: 6, threads: 2 });
      await new Trainer(vae, { batchSize: 8 }).fit(new Float32Array(64 * 64).fill(0.5), { epochs: 1 });
      console.log('trained on', vae.threads, 'threads');`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', src], { timeout: 20_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      );
    });
    expect(out).toMatch(/trained on 2 threads/);
  });
});
