// WorkerTrainer under Node's worker_threads: the worker computes exactly what Trainer computes on
// the main thread (losses, callbacks, weights, saved state and resume), aborts promptly, rejects
// bad options with the library's typed errors, and terminate() ends the thread without leaving the
// process hanging.
//
// Everything is imported from the built Node entry (dist/node.js; npm test's pretest builds it):
// in Node the worker thread runs dist/worker/node-entry.js next to dist/worker/node.js, so the
// sources under vitest cannot start it, and ConfigError etc. must be the classes the worker's
// errors are rebuilt into.
import { describe, it, expect, beforeAll, afterEach, vi } from 'vitest';
import { existsSync, statSync, readdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import {
  VAE,
  Trainer,
  WorkerTrainer,
  ConfigError,
  VaeError,
  availableBuilds,
  decodeSafetensors,
  type TrainerOptions,
  type BatchInfo,
  type EpochRecord,
  type History,
  type BuildName,
} from '../dist/node.js';

const ROOT = resolve(import.meta.dirname, '..');

beforeAll(() => {
  // the worker runs dist/: fail loudly rather than test stale or missing code
  for (const dir of ['worker', '.']) {
    for (const f of readdirSync(join(ROOT, 'src', dir)).filter((f) => f.endsWith('.ts'))) {
      const js = join(ROOT, 'dist', dir, f.replace(/\.ts$/, '.js'));
      if (!existsSync(js)) throw new Error(`${js} is missing: run npm run build first`);
      if (statSync(js).mtimeMs + 1000 < statSync(join(ROOT, 'src', dir, f)).mtimeMs)
        throw new Error(`${js} is older than its source: run npm run build first`);
    }
  }
});

const D = 30;
const MODEL = { inputDim: D, encoder: [16], latentDim: 4, seed: 7, binarization: 'dynamic' as const };
// samples 2, β 0.5 reached by a 6-step warm-up, per-datapoint loss, gradient clipping; 72 rows in
// batches of 16 leave a partial last batch of 8
const OPTS: TrainerOptions = {
  batchSize: 16,
  samples: 2,
  beta: 0.5,
  klWarmup: { steps: 6 },
  reduction: 'mean',
  optimizer: { name: 'adam', lr: 3e-3, clipGradNorm: 5 },
};

/** Deterministic data in [0, 1] (an LCG, independent of the library). */
function data(rows: number, seed: number): Float32Array {
  const x = new Float32Array(rows * D);
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = (s >>> 8) / 16777216;
  }
  return x;
}
const X = data(72, 1),
  XV = data(24, 2);

/** Every parameter's bits, by tensor name. */
function bits(vae: VAE): Record<string, Uint32Array> {
  const out: Record<string, Uint32Array> = {};
  for (const [name, t] of vae.stateDict())
    out[name] = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
  return out;
}
function expectSameWeights(a: VAE, b: VAE): void {
  const A = bits(a),
    B = bits(b);
  expect(Object.keys(A)).toEqual(Object.keys(B));
  for (const name of Object.keys(A)) expect(A[name], name).toEqual(B[name]);
}
function allFinite(vae: VAE): boolean {
  return [...vae.stateDict().values()].every((t) => t.data.every(Number.isFinite));
}

// the timing fields differ between runs; everything else must match exactly
const batchNums = ({ samplesPerSec: _, ...rest }: BatchInfo) => rest;
const epochNums = ({ seconds: _s, samplesPerSec: _p, ...rest }: EpochRecord) => rest;
const historyNums = (h: History) => ({ ...h, epochs: h.epochs.map(epochNums) });

/** A saved trainer's tensors (bits) and state, without the timing fields. */
function savedState(bytes: Uint8Array) {
  const f = decodeSafetensors(bytes);
  const tensors: Record<string, { dtype: string; shape: number[]; bits: Uint32Array }> = {};
  for (const [name, t] of f.tensors)
    tensors[name] = {
      dtype: t.dtype,
      shape: t.shape,
      bits: new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length),
    };
  const { history, ...state } = JSON.parse(f.metadata.trainer);
  return { tensors, state, history: historyNums(history) };
}

/** The Node Worker objects WorkerTrainers start (they post 'init' from the constructor). */
function trackWorkers(): () => Worker[] {
  const spy = vi.spyOn(Worker.prototype, 'postMessage');
  return () => [...new Set(spy.mock.contexts as Worker[])];
}
afterEach(() => {
  vi.restoreAllMocks();
});

async function exits(w: Worker, ms = 5000): Promise<boolean> {
  if (w.threadId === -1) return true; // already exited
  return Promise.race([
    once(w, 'exit').then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
  ]);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}
function expectConfigError(e: unknown, message?: string | RegExp): void {
  expect(e).toBeInstanceOf(ConfigError);
  expect(e).toBeInstanceOf(VaeError);
  expect((e as Error).constructor).toBe(ConfigError);
  expect((e as ConfigError).code).toBe('E_CONFIG');
  expect((e as Error).name).toBe('ConfigError');
  if (typeof message === 'string') expect((e as Error).message).toBe(message);
  else if (message) expect((e as Error).message).toMatch(message);
}

describe('WorkerTrainer on worker_threads computes exactly what Trainer computes', () => {
  for (const build of availableBuilds() as BuildName[]) {
    it(`${build}: losses, callbacks, history and weights are bit-identical; save() resumes exactly`, async () => {
      // two identical models (not VAE.load(v1.save()): a model file holds no RNG state, and load
      // reseeds from the config seed, while create() has drawn the initial weights from that stream)
      const v1 = await VAE.create({ ...MODEL, build }),
        v2 = await VAE.create({ ...MODEL, build });
      expectSameWeights(v1, v2);
      expect(v2.build).toBe(build);

      const fitOpts = { epochs: 2, validationData: XV, validationSamples: 2 };
      const mainBatches: BatchInfo[] = [],
        mainEpochs: EpochRecord[] = [];
      const t1 = new Trainer(v1, OPTS);
      const h1 = await t1.fit(X, {
        ...fitOpts,
        onBatchEnd: (i) => {
          mainBatches.push(i);
        },
        onEpochEnd: (r) => {
          mainEpochs.push({ ...r });
        },
      });

      const workerBatches: BatchInfo[] = [],
        workerEpochs: EpochRecord[] = [],
        epochHistories: number[] = [];
      const wt = await WorkerTrainer.create(v2, OPTS);
      try {
        expect(wt.build).toBe(build);
        const h2 = await wt.fit(X, {
          ...fitOpts,
          onBatchEnd: (i) => {
            workerBatches.push(i);
          },
          onEpochEnd: (r, h) => {
            workerEpochs.push(r);
            epochHistories.push(h.epochs.length);
          },
        });

        // the run did something: 2 epochs × 5 batches, β warming up to 0.5, losses changing
        expect(h1.epochs.length).toBe(2);
        expect(h1.steps).toBe(10);
        expect(mainBatches.map((b) => b.beta).slice(0, 7)).toEqual(
          [0, 1, 2, 3, 4, 5, 6].map((s) => (0.5 * s) / 6),
        );
        expect(h1.epochs[1].loss).not.toBe(h1.epochs[0].loss);
        expect(h1.epochs.every((e) => Number.isFinite(e.loss) && Number.isFinite(e.valLoss!))).toBe(true);

        // per-epoch losses and validation losses, bit for bit
        expect(h2.epochs.map((e) => e.loss)).toEqual(h1.epochs.map((e) => e.loss));
        expect(h2.epochs.map((e) => e.valLoss)).toEqual(h1.epochs.map((e) => e.valLoss));
        for (let i = 0; i < 2; i++) {
          expect(h2.epochs[i].loss).toBe(h1.epochs[i].loss);
          expect(h2.epochs[i].valLoss).toBe(h1.epochs[i].valLoss);
        }
        expect(historyNums(h2)).toEqual(historyNums(h1));
        expect(historyNums(wt.history)).toEqual(historyNums(t1.history));
        expect(wt.epoch).toBe(t1.epoch);

        // the callbacks got the same records
        expect(workerBatches.length).toBe(10);
        expect(workerBatches.map(batchNums)).toEqual(mainBatches.map(batchNums));
        expect(workerBatches.map((b) => b.loss)).toEqual(mainBatches.map((b) => b.loss));
        expect(workerEpochs.map(epochNums)).toEqual(mainEpochs.map(epochNums));
        expect(epochHistories).toEqual([1, 2]);

        // the weights copied back into the main-thread VAE
        expectSameWeights(v2, v1);
        expect(Buffer.from(v2.save()).equals(Buffer.from(v1.save()))).toBe(true);

        // save(): the same optimizer state, step, RNG states and options as Trainer.save()
        const wBytes = await wt.save(),
          mBytes = t1.save();
        const ws = savedState(wBytes),
          ms = savedState(mBytes);
        expect(Object.keys(ws.tensors).some((n) => n.startsWith('optimizer.exp_avg_sq.'))).toBe(true);
        expect(ws).toEqual(ms);

        // ... and it resumes: one more epoch from the worker's bytes, from the main-thread trainer's
        // bytes, on the main-thread trainer itself and in the worker all agree exactly
        const fromWorker = await Trainer.resume(wBytes, { build });
        const fromMain = await Trainer.resume(mBytes, { build });
        expect(fromWorker.epoch).toBe(2);
        expect(fromWorker.optimizer.t).toBe(10);
        const more = { epochs: 1, validationData: XV };
        const [hw, hm, h1b, h2b] = await Promise.all([
          fromWorker.fit(X, more),
          fromMain.fit(X, more),
          t1.fit(X, more),
          wt.fit(X, more),
        ]);
        expect(h1b.epochs.length).toBe(3);
        expect(h1b.epochs[2].loss).not.toBe(h1b.epochs[1].loss);
        for (const h of [hw, hm, h2b]) expect(historyNums(h)).toEqual(historyNums(h1b));
        expectSameWeights(fromWorker.vae, v1);
        expectSameWeights(fromMain.vae, v1);
        expectSameWeights(v2, v1);
        expect(savedState(fromWorker.save())).toEqual(savedState(t1.save()));
        expect(savedState(await wt.save())).toEqual(savedState(t1.save()));
      } finally {
        wt.terminate();
      }
    });
  }

  it('syncWeightsMs: 0 copies the weights after every batch (each equals the main-thread Trainer at that step)', async () => {
    const v1 = await VAE.create(MODEL),
      v2 = await VAE.create(MODEL);
    const main: Record<string, Uint32Array>[] = [],
      live: Record<string, Uint32Array>[] = [];
    await new Trainer(v1, OPTS).fit(X, {
      epochs: 1,
      onBatchEnd: () => {
        main.push(structuredClone(bits(v1)));
      },
    });
    const wt = await WorkerTrainer.create(v2, OPTS, { syncWeightsMs: 0 });
    try {
      await wt.fit(X, {
        epochs: 1,
        onBatchEnd: () => {
          live.push(structuredClone(bits(v2)));
        },
      });
    } finally {
      wt.terminate();
    }
    expect(main.length).toBe(5);
    expect(live).toEqual(main);
    expect(main[1]).not.toEqual(main[0]);
  });
});

describe('WorkerTrainer abort', () => {
  it("an AbortSignal stops a running worker fit promptly; the weights are the worker's last, and Trainer's after as many steps", async () => {
    const N = 2048,
      x = data(N, 3),
      opts = { ...OPTS, batchSize: 16 };
    const vae = await VAE.create(MODEL),
      twin = await VAE.create(MODEL);
    const wt = await WorkerTrainer.create(vae, opts);
    try {
      const ctrl = new AbortController(),
        infos: BatchInfo[] = [];
      let abortedAt = 0;
      const epochs = 100_000; // 12.8 M steps: the fit only ends through the abort
      const h = await wt.fit(x, {
        epochs,
        signal: ctrl.signal,
        onBatchEnd: (i) => {
          infos.push(i);
          if (i.step === 20) {
            abortedAt = performance.now();
            ctrl.abort();
          }
        },
      });
      const latency = performance.now() - abortedAt;
      expect(abortedAt).toBeGreaterThan(0);
      expect(h.stopReason).toBe('aborted');
      expect(wt.history.stopReason).toBe('aborted');
      expect(latency).toBeLessThan(2000);
      expect(h.steps).toBeGreaterThanOrEqual(20);
      expect(h.steps).toBeLessThan((epochs * N) / 16 / 1000);
      // every batch the worker ran was reported, in order, before fit resolved
      expect(infos.map((i) => i.step)).toEqual(Array.from({ length: h.steps }, (_, k) => k + 1));
      expect(wt.epoch).toBe(Math.floor(h.steps / (N / 16)));

      // the main-thread VAE holds finite weights, the worker's current ones
      expect(allFinite(vae)).toBe(true);
      const saved = decodeSafetensors(await wt.save());
      for (const [name, t] of vae.stateDict()) {
        const s = saved.tensors.get(name)!;
        expect(new Uint32Array(s.data.buffer, s.data.byteOffset, s.data.length), name).toEqual(
          new Uint32Array(t.data.buffer),
        );
      }
      // ... which are exactly the main-thread Trainer's after the same number of steps
      const tc = new AbortController(),
        twinInfos: BatchInfo[] = [];
      const ht = await new Trainer(twin, opts).fit(x, {
        epochs,
        signal: tc.signal,
        onBatchEnd: (i) => {
          twinInfos.push(i);
          if (i.step === h.steps) tc.abort();
        },
      });
      expect(ht.steps).toBe(h.steps);
      expect(twinInfos.map(batchNums)).toEqual(infos.map(batchNums));
      expectSameWeights(vae, twin);

      // the worker is still usable after an abort
      const h2 = await wt.fit(x.subarray(0, 64 * D), { epochs: 1 });
      expect(h2.stopReason).toBe('completed');
      expect(h2.steps).toBe(h.steps + 4);
    } finally {
      wt.terminate();
    }
  });

  it('a signal aborted before fit: resolves at once, no step taken, weights unchanged', async () => {
    const vae = await VAE.create(MODEL),
      before = structuredClone(bits(vae));
    const wt = await WorkerTrainer.create(vae, OPTS);
    try {
      const h = await wt.fit(X, { epochs: 5, signal: AbortSignal.abort() });
      expect(h.stopReason).toBe('aborted');
      expect(h.steps).toBe(0);
      expect(bits(vae)).toEqual(before);
    } finally {
      wt.terminate();
    }
  });
});

describe('WorkerTrainer rejects bad options with the typed errors', () => {
  it("batchSize larger than the data: fit rejects with ConfigError (Trainer's message); weights unchanged; the worker still serves", async () => {
    const vae = await VAE.create(MODEL),
      before = structuredClone(bits(vae));
    const opts = { ...OPTS, batchSize: 128 };
    const mainErr = await rejection(new Trainer(await VAE.create(MODEL), opts).fit(X, { epochs: 1 }));
    expectConfigError(mainErr, 'batchSize 128 is larger than the 72 training rows');
    const wt = await WorkerTrainer.create(vae, opts);
    try {
      const err = await rejection(wt.fit(X, { epochs: 1 }));
      expectConfigError(err, (mainErr as Error).message);
      expect(bits(vae)).toEqual(before);
      expect(wt.epoch).toBe(0);
      // not broken: the same trainer trains on enough rows
      const h = await wt.fit(data(256, 4), { epochs: 1 });
      expect(h.steps).toBe(2);
    } finally {
      wt.terminate();
    }
  });

  it("an unknown or invalid Trainer option: create() rejects with ConfigError (Trainer's message) and ends the worker", async () => {
    const vae = await VAE.create(MODEL);
    const workers = trackWorkers();
    for (const bad of [
      { batchsize: 16 },
      { samples: 0 },
      { optimizer: { name: 'adam', momentum: 0.9 } },
      { klWarmup: { steps: 3, epochs: 1 } },
    ] as TrainerOptions[]) {
      let mainErr: unknown;
      try {
        new Trainer(vae, bad);
      } catch (e) {
        mainErr = e;
      }
      expectConfigError(mainErr);
      const err = await rejection(WorkerTrainer.create(vae, bad));
      expectConfigError(err, (mainErr as Error).message);
    }
    const ws = workers();
    expect(ws.length).toBe(4);
    for (const w of ws) expect(await exits(w)).toBe(true);
  });

  it('an unknown Trainer option via the constructor: ready and fit reject with ConfigError, and the idle worker is ended', async () => {
    const vae = await VAE.create(MODEL);
    const workers = trackWorkers();
    const wt = new WorkerTrainer(vae, { batchsize: 16 } as TrainerOptions);
    expectConfigError(await rejection(wt.ready), /unknown Trainer option "batchsize"/);
    expectConfigError(await rejection(wt.fit(X, { epochs: 1 })), /unknown Trainer option "batchsize"/);
    expectConfigError(await rejection(wt.save()), /unknown Trainer option "batchsize"/);
    const [w] = workers();
    expect(await exits(w)).toBe(true); // a WorkerTrainer that can never train holds no thread
  });

  it('an unknown fit or WorkerTrainer option, or bad epochs: ConfigError', async () => {
    const vae = await VAE.create(MODEL);
    const wt = await WorkerTrainer.create(vae, OPTS);
    try {
      expectConfigError(
        await rejection(wt.fit(X, { epochs: 1, batchSize: 8 } as never)),
        /unknown fit option "batchSize"/,
      );
      expectConfigError(await rejection(wt.fit(X, { epochs: 0 })), /epochs must be a positive integer/);
      expect(() => new WorkerTrainer(vae, OPTS, { sync: 1 } as never)).toThrow(ConfigError);
      expect((await wt.fit(X, { epochs: 1 })).steps).toBe(5); // still fine
    } finally {
      wt.terminate();
    }
  });
});

describe('WorkerTrainer.terminate', () => {
  it('ends the worker thread mid-fit; the fit and every later call reject with ConfigError, save() returns the last checkpoint', async () => {
    const vae = await VAE.create(MODEL);
    const workers = trackWorkers();
    const wt = await WorkerTrainer.create(vae, OPTS);
    const [w] = workers();
    expect(w.threadId).toBeGreaterThan(0);
    let batches = 0;
    const running = wt.fit(data(2048, 5), {
      epochs: 100_000,
      onBatchEnd: () => {
        if (++batches === 3) wt.terminate();
      },
    });
    expectConfigError(await rejection(running), 'the WorkerTrainer was terminated');
    expect(await exits(w)).toBe(true);
    expect(allFinite(vae)).toBe(true);
    expectConfigError(await rejection(wt.fit(X, { epochs: 1 })), 'the WorkerTrainer was terminated');
    // no epoch ended (and no syncWeightsMs): the last checkpoint is the initial state
    expect(wt.checkpointStep).toBe(0);
    expect((await Trainer.resume(await wt.save())).optimizer.t).toBe(0);
    expectConfigError(await rejection(wt.pushWeights()), 'the WorkerTrainer was terminated');
    wt.terminate(); // twice is harmless
  });

  it('a Node program with terminated, finished and forgotten WorkerTrainers exits on its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasm-vae-worker-'));
    try {
      const script = join(dir, 'main.mjs');
      writeFileSync(
        script,
        `
import { VAE, WorkerTrainer } from ${JSON.stringify(join(ROOT, 'dist/node.js'))};
const D = 30, x = new Float32Array(512 * D).map((_, i) => (i % 11) / 11);
const vae = await VAE.create({ inputDim: D, encoder: [16], latentDim: 4, seed: 1 });
const done = await WorkerTrainer.create(vae, { batchSize: 16 });
const h = await done.fit(x, { epochs: 1 });
const killed = await WorkerTrainer.create(vae, { batchSize: 16 });
let n = 0, rejected = '';
await killed.fit(x, { epochs: 100000, onBatchEnd: () => { if (++n === 3) killed.terminate(); } }).catch((e) => { rejected = e.name; });
const later = await killed.fit(x, { epochs: 1 }).then(() => 'resolved', (e) => e.name);
const forgotten = new WorkerTrainer(vae, { batchSize: 16 });
await forgotten.ready;
console.log(JSON.stringify({ steps: h.steps, rejected, later }));
`,
      );
      const t0 = performance.now();
      const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((res) => {
        const child = execFile(process.execPath, [script], { timeout: 30_000 }, (_err, stdout) =>
          res({ stdout, code: child.exitCode }),
        );
      });
      const seconds = (performance.now() - t0) / 1000;
      expect(code).toBe(0); // null would mean the timeout killed it: the process hung
      expect(JSON.parse(stdout.trim())).toEqual({ steps: 32, rejected: 'ConfigError', later: 'ConfigError' });
      expect(seconds).toBeLessThan(15);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
