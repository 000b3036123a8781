// Faults mid-training: a throwing callback, an AbortSignal at a random step, a worker thread that
// dies mid-fit, a DivergenceError mid-epoch, and a save whose rename fails. After each, the model
// is usable (finite evaluate), its weights are the last consistent ones (bit-exact against a clean
// run stopped at the same step), and Trainer.save() → Trainer.resume() continues exactly as the
// trainer would have in memory (or as an uninterrupted run, when the fault falls on an epoch end).
// For a dead worker that state is its last checkpoint, which WorkerTrainer.save() then returns.
//
// Imported from the built Node entry (npm test's pretest builds it), as test/worker-node.test.ts
// explains: the WorkerTrainer's thread runs dist/worker/node-entry.js.
import { describe, it, expect, vi, afterEach } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  VAE,
  Trainer,
  WorkerTrainer,
  DivergenceError,
  WasmError,
  writeFileAtomic,
  type TrainerOptions,
  type VAEOptions,
} from '../dist/node.js';
import type { Network } from '../src/network.js';

/** The model's network: internal (stripped from the published types), read here for raw bits. */
const netOf = (v: VAE): Network => (v as unknown as { net: Network }).net;

let failRename = false;
vi.mock('node:fs/promises', async (orig) => {
  const m = await orig<typeof import('node:fs/promises')>();
  return {
    ...m,
    rename: (a: string, b: string) =>
      failRename
        ? Promise.reject(Object.assign(new Error('EIO: injected rename failure'), { code: 'EIO' }))
        : m.rename(a, b),
  };
});
afterEach(() => {
  failRename = false;
  vi.restoreAllMocks();
});

const D = 30;
const MODEL: VAEOptions = { inputDim: D, encoder: [16], latentDim: 4, seed: 1, threads: 1 };
const B = 16;

function data(rows: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return new Float32Array(rows * D).map(() => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  });
}
const X = data(256, 7); // 16 batches of 16
const V = data(64, 9);

/** All parameters and both RNG streams' words, as raw bits. */
function state(vae: VAE): Uint32Array {
  const s = netOf(vae).snapshot();
  const p = new Uint32Array(
    s.params.buffer.slice(s.params.byteOffset, s.params.byteOffset + s.params.byteLength),
  );
  return Uint32Array.from([...p, ...s.rng]);
}
function params(vae: VAE): Uint32Array {
  const s = netOf(vae).snapshot().params;
  return new Uint32Array(s.buffer.slice(s.byteOffset, s.byteOffset + s.byteLength));
}
/** evaluate gives finite numbers (on a copy: evaluate draws from the model's sampling stream). */
async function usable(vae: VAE): Promise<void> {
  const copy = await VAE.load(vae.save(), { threads: 1 });
  const e = copy.evaluate(V);
  for (const v of [e.loss, e.elbo, e.reconstruction, e.kl]) expect(Number.isFinite(v)).toBe(true);
}
async function trainer(opts: TrainerOptions = {}): Promise<Trainer> {
  return new Trainer(await VAE.create(MODEL), { batchSize: B, yieldMs: 0, ...opts });
}
/** A clean run stopped (AbortSignal) right after optimizer step k. */
async function stoppedAt(k: number, opts: TrainerOptions = {}): Promise<Trainer> {
  const t = await trainer(opts),
    ac = new AbortController();
  const h = await t.fit(X, {
    epochs: 1000,
    signal: ac.signal,
    onBatchEnd: (b) => void (b.step === k && ac.abort()),
  });
  expect([h.stopReason, h.steps]).toEqual(['aborted', k]);
  return t;
}
/** The k steps as an independent run: no shuffle, one epoch over the first k batches' rows. */
async function firstSteps(k: number): Promise<Trainer> {
  const t = await trainer({ shuffle: false });
  const h = await t.fit(X.subarray(0, k * B * D), { epochs: 1 });
  expect(h.steps).toBe(k);
  return t;
}
/** Saves t, resumes it, and checks `more` epochs of the resumed trainer equal `more` epochs of ref. */
async function resumesLike(t: Trainer, ref: Trainer, more = 2): Promise<void> {
  const r = await Trainer.resume(t.save());
  expect(state(r.vae)).toEqual(state(ref.vae));
  const [a, b] = [await r.fit(X, { epochs: more }), await ref.fit(X, { epochs: more })];
  expect(a.steps).toBe(b.steps);
  expect(params(r.vae)).toEqual(params(ref.vae));
  expect(state(r.vae)).toEqual(state(ref.vae));
}

describe('a user callback throws', () => {
  it('onBatchEnd at step 5 of 16: fit rejects with it; weights are those of 5 steps; save/resume continues exactly', async () => {
    for (const shuffle of [false, true]) {
      const t = await trainer({ shuffle });
      const boom = new Error('callback failed');
      await expect(
        t.fit(X, {
          epochs: 3,
          onBatchEnd: (b) => {
            if (b.step === 5) throw boom;
          },
        }),
      ).rejects.toBe(boom);
      expect(t.optimizer.t).toBe(5);
      expect(t.history.steps).toBe(5);
      expect(t.epoch).toBe(0);
      await usable(t.vae);
      if (!shuffle) expect(params(t.vae)).toEqual(params((await firstSteps(5)).vae));
      const ref = await stoppedAt(5, { shuffle }); // weights, Adam state, RNG: the same trainer
      expect(state(t.vae)).toEqual(state(ref.vae));
      await resumesLike(t, ref);
    }
  });

  it('an async onBatchEnd that rejects behaves the same', async () => {
    const t = await trainer();
    await expect(
      t.fit(X, {
        epochs: 2,
        onBatchEnd: async (b) => (b.step === 9 ? Promise.reject(new RangeError('x')) : undefined),
      }),
    ).rejects.toThrow(RangeError);
    expect(state(t.vae)).toEqual(state((await stoppedAt(9)).vae));
  });

  it('onEpochEnd after epoch 2 of 4: resume + 2 epochs is bit-identical to an uninterrupted 4-epoch run', async () => {
    const opts: TrainerOptions = { lrSchedule: { type: 'step', stepSize: 1, gamma: 0.5 } };
    const t = await trainer(opts);
    await expect(
      t.fit(X, {
        epochs: 4,
        validationData: V,
        onEpochEnd: (r) => {
          if (r.epoch === 2) throw new Error('stop');
        },
      }),
    ).rejects.toThrow('stop');
    expect([t.epoch, t.optimizer.t, t.history.epochs.length]).toEqual([2, 32, 2]);
    await usable(t.vae);
    const r = await Trainer.resume(t.save());
    const h = await r.fit(X, { epochs: 2, validationData: V });
    const clean = await trainer(opts);
    const hc = await clean.fit(X, { epochs: 4, validationData: V });
    expect(params(r.vae)).toEqual(params(clean.vae));
    expect(state(r.vae)).toEqual(state(clean.vae));
    expect(h.epochs.map((e) => [e.loss, e.valLoss, e.lr])).toEqual(
      hc.epochs.map((e) => [e.loss, e.valLoss, e.lr]),
    );
  });
});

describe('AbortSignal', () => {
  it('at a random time: the weights equal a clean run stopped at the same step; save/resume continues exactly', async () => {
    const t = await trainer(),
      ac = new AbortController();
    const ms = 5 + Math.floor(Math.random() * 40);
    setTimeout(() => ac.abort(), ms);
    const h = await t.fit(X, { epochs: 10_000, signal: ac.signal });
    const k = h.steps;
    console.log(`[faults] abort after ${ms} ms: step ${k} (epoch ${t.epoch + 1}, batch ${k % 16})`);
    expect(h.stopReason).toBe('aborted');
    expect(k).toBeGreaterThan(0);
    await usable(t.vae);
    const ref = await stoppedAt(k);
    expect(state(t.vae)).toEqual(state(ref.vae));
    await resumesLike(t, ref);
  });

  it('at random steps 1…40 (seeded): every stop equals the clean run of that many steps', async () => {
    for (const k of [1, 3, 16, 17, 29, 40]) {
      const t = await trainer({ shuffle: false }),
        ac = new AbortController();
      await t.fit(X, { epochs: 5, signal: ac.signal, onBatchEnd: (b) => void (b.step === k && ac.abort()) });
      expect(t.optimizer.t).toBe(k);
      if (k <= 16) expect(params(t.vae)).toEqual(params((await firstSteps(k)).vae));
    }
  });
});

describe('DivergenceError mid-epoch', () => {
  it('a NaN in batch 8 (written from onBatchEnd at step 7): DivergenceError at step 8, weights of 7 steps, then resumes exactly', async () => {
    const x = X.slice();
    const t = await trainer({ shuffle: false });
    let err: unknown;
    try {
      await t.fit(x, { epochs: 3, onBatchEnd: (b) => void (b.step === 7 && (x[7 * B * D + 3] = NaN)) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DivergenceError);
    expect((err as DivergenceError).step).toBe(8);
    expect((err as Error).message).toMatch(/step 8 \(epoch 1, batch 8\)/);
    expect(t.optimizer.t).toBe(7);
    await usable(t.vae);
    expect(params(t.vae)).toEqual(params((await firstSteps(7)).vae));
    // the diverged step drew its ε (the training stream moved on): the reference is a second
    // trainer through the same fault, continued in memory once the data is repaired
    const y = X.slice();
    const ref = await trainer({ shuffle: false });
    await expect(
      ref.fit(y, { epochs: 3, onBatchEnd: (b) => void (b.step === 7 && (y[7 * B * D + 3] = NaN)) }),
    ).rejects.toBeInstanceOf(DivergenceError);
    x[7 * B * D + 3] = y[7 * B * D + 3] = X[7 * B * D + 3];
    await resumesLike(t, ref);
  });

  it('a learning rate of 1e30: a DivergenceError, never NaN weights', async () => {
    const t = await trainer({ optimizer: { name: 'sgd', lr: 1e30 } });
    await expect(t.fit(X, { epochs: 2 })).rejects.toBeInstanceOf(DivergenceError);
    const p = netOf(t.vae).snapshot().params;
    expect(p.every((v) => !Number.isNaN(v))).toBe(true);
  });
});

/** The optimizer's state slots (Adam: exp_avg, exp_avg_sq) as raw bits. */
function optState(vae: VAE): Uint32Array[] {
  return netOf(vae)
    .stateSnapshot(2)
    .map((a) => new Uint32Array(a.buffer, a.byteOffset, a.length));
}

/** A WorkerTrainer on a Node worker thread, and that thread (to kill it as a crash would, not through terminate()). */
async function workerTrainer(
  opts: TrainerOptions,
  workerOpts: { syncWeightsMs?: number } = {},
): Promise<{ wt: WorkerTrainer; thread: Worker }> {
  const spy = vi.spyOn(Worker.prototype, 'postMessage');
  const wt = await WorkerTrainer.create(await VAE.create(MODEL), opts, { threads: 1, ...workerOpts });
  const [thread] = [...new Set(spy.mock.contexts as Worker[])];
  spy.mockRestore();
  return { wt, thread };
}

/** Runs fit until `kill(step)` says so, then kills the thread; fit must reject with a WasmError, not hang. */
async function fitUntilKilled(
  wt: WorkerTrainer,
  thread: Worker,
  kill: (step: number) => boolean,
  fit: { epochs: number; validationData?: Float32Array } = { epochs: 1000 },
): Promise<number> {
  let last = 0;
  const running = wt.fit(X, {
    ...fit,
    onBatchEnd: (b) => {
      last = b.step;
      if (kill(b.step)) void thread.terminate();
    },
  });
  const outcome = await Promise.race([
    running.then(
      () => 'resolved',
      (e: unknown) => e,
    ),
    new Promise((r) => setTimeout(() => r('hung'), 10_000)),
  ]);
  expect(outcome).toBeInstanceOf(WasmError);
  expect((outcome as Error).message).toMatch(/worker/);
  return last;
}

describe('WorkerTrainer whose worker thread dies mid-fit', () => {
  it('syncWeightsMs 0: fit rejects (no hang); the VAE and save() hold the last reported step, optimizer state included; resume continues exactly', async () => {
    const { wt, thread } = await workerTrainer({ batchSize: B, shuffle: false }, { syncWeightsMs: 0 });
    const last = await fitUntilKilled(wt, thread, (step) => step === 6);
    await usable(wt.vae);
    // the weights of every reported step came back; the last reported is what the VAE holds
    expect(last).toBeGreaterThanOrEqual(6);
    expect(params(wt.vae)).toEqual(params((await stoppedAt(last, { shuffle: false })).vae));
    // the checkpoint: that step's too, but an epoch's last batch has its checkpoint with the epoch end
    const k = wt.checkpointStep!;
    expect(k === last || (last % 16 === 0 && k === last - 1)).toBe(true);
    const ref = await stoppedAt(k, { shuffle: false }); // weights, Adam state, RNG of a clean run at step k
    // the dead worker's state, from this side: a trainer file of step k, bit-identical to the clean run's
    const r = await Trainer.resume(await wt.save());
    expect([r.optimizer.t, r.epoch, r.history.steps]).toEqual([k, ref.epoch, k]);
    expect(state(r.vae)).toEqual(state(ref.vae));
    expect(optState(r.vae)).toEqual(optState(ref.vae));
    await resumesLike(r, ref);
    wt.terminate();
  });

  it("syncWeightsMs 0: a checkpoint with every batch but an epoch's last, whose state comes with the epoch end (after its validation)", async () => {
    const { wt } = await workerTrainer({ batchSize: B }, { syncWeightsMs: 0 });
    const seen: [number, number | null, number][] = [];
    await wt.fit(X, {
      epochs: 2,
      validationData: V,
      onBatchEnd: (b) => void seen.push([b.step, wt.checkpointStep, wt.epoch]),
      onEpochEnd: (r) => void seen.push([r.epoch * 16, wt.checkpointStep, wt.epoch]),
    });
    const expected: [number, number, number][] = [];
    for (let e = 0; e < 2; e++) {
      for (let b = 1; b <= 16; b++) expected.push([e * 16 + b, b < 16 ? e * 16 + b : e * 16 + 15, e]);
      expected.push([(e + 1) * 16, (e + 1) * 16, e + 1]);
    }
    expect(seen).toEqual(expected);
    wt.terminate();
  });

  it('checkpoints at epoch ends only: killed in epoch 3, resume + the remaining epochs is bit-identical to an uninterrupted run', async () => {
    const opts: TrainerOptions = {
      batchSize: B,
      yieldMs: 0,
      lrSchedule: { type: 'step', stepSize: 1, gamma: 0.5 },
    };
    // E well past the kill: the worker reports each batch asynchronously, and on a short fit (6
    // epochs, 96 tiny steps) it could finish before the main thread handled step 39's report
    const E = 24;
    const { wt, thread } = await workerTrainer(opts);
    await fitUntilKilled(wt, thread, (step) => step === 2 * 16 + 7, { epochs: E, validationData: V });
    // the last epoch end the worker posted before it died: epoch 2's, unless it ran on before the kill landed
    const k = wt.checkpointStep!,
      e = k / 16;
    expect(Number.isInteger(e) && e >= 2 && e < E).toBe(true);
    expect(wt.epoch).toBe(e);
    const r = await Trainer.resume(await wt.save());
    expect([r.optimizer.t, r.epoch, r.history.epochs.length]).toEqual([k, e, e]);
    const h = await r.fit(X, { epochs: E - e, validationData: V });
    const clean = await trainer(opts);
    const hc = await clean.fit(X, { epochs: E, validationData: V });
    expect(state(r.vae)).toEqual(state(clean.vae));
    expect(optState(r.vae)).toEqual(optState(clean.vae));
    expect(h.epochs.map((x) => [x.epoch, x.loss, x.valLoss, x.lr])).toEqual(
      hc.epochs.map((x) => [x.epoch, x.loss, x.valLoss, x.lr]),
    );
    // the main-thread VAE holds the weights of that epoch end (and stays usable)
    const at = await trainer(opts);
    await at.fit(X, { epochs: e, validationData: V });
    expect(params(wt.vae)).toEqual(params(at.vae));
    await usable(wt.vae);
    wt.terminate();
  });

  it('killed early in the first epoch: save() gives the initial state (step 0), which resumes like a fresh trainer', async () => {
    const XL = data(16384, 13); // 1,024 steps an epoch: the kill lands long before the first epoch end
    const { wt, thread } = await workerTrainer({ batchSize: B });
    let last = 0;
    const running = wt.fit(XL, {
      epochs: 1,
      onBatchEnd: (b) => {
        last = b.step;
        if (b.step === 3) void thread.terminate();
      },
    });
    await expect(running).rejects.toBeInstanceOf(WasmError);
    expect(last).toBeLessThan(1024);
    expect(wt.checkpointStep).toBe(0);
    const r = await Trainer.resume(await wt.save());
    const fresh = await trainer();
    expect(state(r.vae)).toEqual(state(fresh.vae));
    expect(optState(r.vae).every((a) => a.every((w) => w === 0))).toBe(true);
    expect([r.optimizer.t, r.epoch]).toEqual([0, 0]);
    await r.fit(X, { epochs: 1 });
    await fresh.fit(X, { epochs: 1 });
    expect(state(r.vae)).toEqual(state(fresh.vae));
  });

  it('a live worker answers save() itself; after terminate() save() returns the last checkpoint', async () => {
    const { wt } = await workerTrainer({ batchSize: B });
    await wt.fit(X, { epochs: 1 });
    const live = await Trainer.resume(await wt.save());
    wt.terminate();
    const after = await Trainer.resume(await wt.save());
    expect(state(after.vae)).toEqual(state(live.vae));
    expect(optState(after.vae)).toEqual(optState(live.vae));
    expect(after.optimizer.t).toBe(16);
  });
});

describe('save interrupted between write and rename', () => {
  it('writeFileAtomic: the rename fails; the previous file is intact and no temporary file is left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasm-vae-faults-'));
    try {
      const path = join(dir, 'model.safetensors');
      const t = await trainer();
      await t.fit(X, { epochs: 1 });
      const before = t.save();
      await writeFileAtomic(path, before);
      await t.fit(X, { epochs: 1 });
      failRename = true;
      await expect(writeFileAtomic(path, t.save())).rejects.toThrow('EIO: injected rename failure');
      failRename = false;
      expect(readdirSync(dir)).toEqual(['model.safetensors']);
      const onDisk = new Uint8Array(readFileSync(path));
      expect(Buffer.compare(onDisk, before)).toBe(0);
      // the previous file resumes, and continues exactly like the trainer it was saved from would
      const r = await Trainer.resume(onDisk);
      await usable(r.vae);
      const ref = await trainer();
      await ref.fit(X, { epochs: 1 });
      expect(state(r.vae)).toEqual(state(ref.vae));
      await r.fit(X, { epochs: 2 });
      await ref.fit(X, { epochs: 2 });
      expect(state(r.vae)).toEqual(state(ref.vae));
      // and the next save goes through
      await writeFileAtomic(path, t.save());
      expect(readdirSync(dir)).toEqual(['model.safetensors']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
