// Counterexamples the fuzz suite (and its first probes) found, each kept as a plain test with the
// exact input, next to the fix it needed. Every test here failed before its fix: with an untyped
// error (RangeError, TypeError, a wasm trap), a hang, a non-finite result, or an allocation of
// gigabytes. They use the public API only.
import { describe, it, expect } from 'vitest';
import { gzipSync } from 'node:zlib';
import '../../src/wasm-node.js';
import { VAE } from '../../src/vae.js';
import { Trainer } from '../../src/trainer.js';
import { WorkerTrainer, type WorkerLike } from '../../src/worker/trainer.js';
import { deserializeError, takeSnapshot } from '../../src/worker/protocol.js';
import { parseCsv } from '../../src/data/csv.js';
import { parseIdxMaybeGzip } from '../../src/data/idx.js';
import { decodeSafetensors, encodeSafetensors, type TensorEntry } from '../../src/io/safetensors.js';
import { ConfigError, DataError, FormatError, VaeError, WasmError } from '../../src/errors.js';

const enc = new TextEncoder();

/** A safetensors file from a header object and a data section, written byte by byte. */
function file(header: object, data = new Uint8Array(0)): Uint8Array {
  const h = enc.encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

async function error(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The wasm memory grows the call asks for, at most. */
async function peakGrow(fn: () => Promise<unknown>): Promise<number> {
  const grow = WebAssembly.Memory.prototype.grow;
  let peak = 0;
  WebAssembly.Memory.prototype.grow = function (this: WebAssembly.Memory, d: number) {
    peak = Math.max(peak, this.buffer.byteLength + d * 65536);
    return grow.call(this, d);
  };
  try {
    await error(fn);
  } finally {
    WebAssembly.Memory.prototype.grow = grow;
  }
  return peak;
}

const META = { format: 'wasm-vae', format_version: '1' };

const x4 = new Float32Array([0.1, 0.2, 0.3, 0.4]);

describe('fuzz regressions: sizes are refused before anything is allocated', () => {
  it('a model file whose config claims 3e6 inputs (and holds no tensors) is a FormatError, with no allocation', async () => {
    const bytes = file({
      __metadata__: { ...META, config: '{"inputDim":3000000,"encoder":[1],"decoder":[1],"latentDim":1}' },
    });
    // before: RangeError "cannot grow wasm memory to 11856.1 MiB"
    expect(await error(VAE.load(bytes))).toBeInstanceOf(FormatError);
    expect(await peakGrow(() => VAE.load(bytes))).toBe(0);
  });

  it('VAE.create({ inputDim: 1e9 }) and a 65,536-wide layer are ConfigErrors (the parameter limit)', async () => {
    // before: RangeError (1e9); the 65,536-wide layer took 5.5 s and 1.7 GB of wasm memory (4 × 106.8 M floats)
    expect(await error(VAE.create({ inputDim: 1e9 }))).toBeInstanceOf(ConfigError);
    const wide = { inputDim: 784, encoder: [65536], latentDim: 20 };
    expect(await error(VAE.create(wide))).toBeInstanceOf(ConfigError);
    expect(await peakGrow(() => VAE.create(wide))).toBe(0);
  });

  it('chunkRows 1e9, batchSize 1e9 and samples 1e9 are ConfigErrors (the arena limit)', async () => {
    // before: RangeError "cannot grow wasm memory to … MiB" for each
    expect(await error(VAE.create({ inputDim: 4, chunkRows: 1e9 }))).toBeInstanceOf(ConfigError);
    const vae = await VAE.create({ inputDim: 4, encoder: [3], latentDim: 2, seed: 1 });
    expect(await error(() => new Trainer(vae, { batchSize: 1e9 }))).toBeInstanceOf(ConfigError);
    expect(await error(() => new Trainer(vae, { samples: 1e9 }))).toBeInstanceOf(ConfigError);
  });

  it('evaluate(x, { samples: 1e9 }) is a ConfigError, and the model still works after it', async () => {
    const vae = await VAE.create({ inputDim: 4, encoder: [3], latentDim: 2, seed: 1 });
    // before: RangeError, and the network kept the plan it could not allocate: every later call
    // trapped with "RuntimeError: memory access out of bounds"
    expect(await error(() => vae.evaluate(x4, { samples: 1e9 }))).toBeInstanceOf(ConfigError);
    expect(Number.isFinite(vae.evaluate(x4).loss)).toBe(true);
    const t = new Trainer(vae, { batchSize: 1 });
    expect(await error(t.fit(x4, { epochs: 1, validationData: x4, validationSamples: 1e9 }))).toBeInstanceOf(
      ConfigError,
    );
    await t.fit(x4, { epochs: 1 });
  });

  it('sample(2 ** 31) and interpolate(…, 1e9) are ConfigErrors (the output limit)', async () => {
    const vae = await VAE.create({ inputDim: 4, encoder: [3], latentDim: 2, seed: 1 });
    // before: RangeError "Invalid typed array length: 8589934592"; sample(1e9) ran 148 s and
    // interpolate(…, 1e9) was killed for lack of memory
    expect(await error(() => vae.sample(2 ** 31))).toBeInstanceOf(ConfigError);
    expect(await error(() => vae.sample(1e9))).toBeInstanceOf(ConfigError);
    expect(await error(() => vae.interpolate([0, 0, 0, 0], [1, 1, 1, 1], 1e9))).toBeInstanceOf(ConfigError);
  });

  it('a gzip IDX stream longer than its header declares stops there, not at the end of the stream', async () => {
    const body = new Uint8Array(12 + 2 ** 26); // u8, dims [4, 1], then 64 MiB of zeros
    body.set([0, 0, 0x08, 2, 0, 0, 0, 4, 0, 0, 0, 1]);
    const gz = new Uint8Array(gzipSync(body));
    const t0 = performance.now();
    const e = await error(parseIdxMaybeGzip(gz));
    // before: the whole 64 MiB was inflated, then "67108864 trailing bytes"
    expect(e).toBeInstanceOf(FormatError);
    expect((e as Error).message).toMatch(/declares/);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe('fuzz regressions: model files and trainer files', () => {
  it('weights of 1e20 (a valid F32) make evaluate a DataError, not an ELBO of -Infinity', async () => {
    const zeros = (...shape: number[]): TensorEntry => ({
      dtype: 'F32',
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
    });
    const tensors = new Map<string, TensorEntry>([
      ['fc_mu.weight', { dtype: 'F32', shape: [1, 2], data: new Float32Array([1e20, 0]) }],
      ['fc_mu.bias', zeros(1)],
      ['fc_logvar.weight', zeros(1, 2)],
      ['fc_logvar.bias', zeros(1)],
      ['fc_out.weight', zeros(2, 1)],
      ['fc_out.bias', zeros(2)],
    ]);
    const bytes = encodeSafetensors(tensors, {
      ...META,
      config: '{"inputDim":2,"encoder":[],"decoder":[],"latentDim":1}',
    });
    const vae = await VAE.load(bytes);
    // before: { elbo: -Infinity, … } (KL of μ = 1e20 overflows float32)
    expect(await error(() => vae.evaluate(new Float32Array([1, 0])))).toBeInstanceOf(DataError);
  });

  it('a trainer file whose history.epochs is not an array is a FormatError at resume, not a TypeError in fit', async () => {
    const vae = await VAE.create({ inputDim: 3, encoder: [2], latentDim: 1, seed: 2 });
    const t = new Trainer(vae, { batchSize: 2 });
    await t.fit(new Float32Array(12).fill(0.5), { epochs: 1 });
    const f = decodeSafetensors(t.save());
    const state = JSON.parse(f.metadata.trainer);
    state.history.epochs = { type: 'cosine', epochs: 0 }; // the fuzz's counterexample
    const bytes = encodeSafetensors(f.tensors, { ...f.metadata, trainer: JSON.stringify(state) });
    // before: resume succeeded and fit threw "TypeError: this.history.epochs.push is not a function"
    expect(await error(Trainer.resume(bytes))).toBeInstanceOf(FormatError);
  });

  it('a trainer file with step -1 or a negative exp_avg_sq is a FormatError, not NaN weights after fit', async () => {
    const vae = await VAE.create({ inputDim: 3, encoder: [2], latentDim: 1, seed: 2 });
    const t = new Trainer(vae, { batchSize: 2 });
    await t.fit(new Float32Array(12).fill(0.5), { epochs: 1 });
    const f = decodeSafetensors(t.save());
    const state = JSON.parse(f.metadata.trainer);
    const stepMinus1 = encodeSafetensors(f.tensors, {
      ...f.metadata,
      trainer: JSON.stringify({ ...state, step: -1 }),
    });
    expect(await error(Trainer.resume(stepMinus1))).toBeInstanceOf(FormatError);
    const sq = f.tensors.get('optimizer.exp_avg_sq.fc_mu.weight')!;
    (sq.data as Float32Array)[0] = -1;
    expect(await error(Trainer.resume(encodeSafetensors(f.tensors, f.metadata)))).toBeInstanceOf(FormatError);
  });
});

describe('fuzz regressions: option and argument checks', () => {
  it('a "__proto__" key in the options is an unknown option, not a prototype whose values are used', async () => {
    const o = JSON.parse('{"inputDim":4,"encoder":[3],"__proto__":{"latentDim":7}}');
    // before: accepted, and latentDim 7 read through the prototype
    expect(await error(VAE.create(o))).toBeInstanceOf(ConfigError);
  });

  it('build: Object.create(null) is a ConfigError', async () => {
    // before: "TypeError: Cannot convert object to primitive value" (in loadKernels)
    const o = { inputDim: 4, encoder: [3], latentDim: 2, seed: 1, build: Object.create(null) };
    expect(await error(VAE.create(o))).toBeInstanceOf(ConfigError);
  });

  it('encoder: [10n] is a ConfigError (its message cannot JSON.stringify a bigint)', async () => {
    // before: "TypeError: Do not know how to serialize a BigInt", thrown while building the message
    expect(await error(VAE.create({ inputDim: 4, encoder: [10n as unknown as number] }))).toBeInstanceOf(
      ConfigError,
    );
  });

  it('evaluate(x, null), interpolate(null, …) and encode({ data: null, … }) are ConfigErrors', async () => {
    const vae = await VAE.create({ inputDim: 4, encoder: [3], latentDim: 2, seed: 1 });
    // before: TypeErrors ("Cannot read properties of null", "object null is not iterable")
    expect(await error(() => vae.evaluate(x4, null as never))).toBeUndefined();
    expect(await error(() => vae.logLikelihood(x4, null as never))).toBeUndefined();
    expect(await error(() => vae.interpolate(null as never, [1, 1, 1, 1], 3))).toBeInstanceOf(ConfigError);
    expect(await error(() => vae.encode({ data: null as never, rows: 1, cols: 4 }))).toBeInstanceOf(
      ConfigError,
    );
  });

  it('lrSchedule step with gamma Infinity, or cosine with epochs 0, is a ConfigError, not NaN weights', async () => {
    const vae = await VAE.create({ inputDim: 4, encoder: [3], latentDim: 2, seed: 1 });
    // before: lrAt(1) = Infinity / NaN; the last update of fit wrote NaN into every weight
    expect(
      await error(() => new Trainer(vae, { lrSchedule: { type: 'step', stepSize: 1, gamma: Infinity } })),
    ).toBeInstanceOf(ConfigError);
    expect(await error(() => new Trainer(vae, { lrSchedule: { type: 'cosine', epochs: 0 } }))).toBeInstanceOf(
      ConfigError,
    );
  });

  it('parseCsv with null options, or a header option with a null prototype, is a ConfigError', () => {
    // before: TypeErrors ("Cannot read properties of null", "Cannot convert object to primitive value")
    expect(() => parseCsv('1,2\n3,4', null as never)).toThrow(ConfigError);
    expect(() => parseCsv('', { header: Object.create(null) })).toThrow(ConfigError);
  });

  it('decodeSafetensors with maxHeaderBytes: Object.create(null) is a ConfigError', () => {
    expect(() => decodeSafetensors(new Uint8Array(8), { maxHeaderBytes: Object.create(null) })).toThrow(
      ConfigError,
    );
  });

  it('parseCsv of a 100,000-digit cell followed by "x" takes linear time', () => {
    const text = `1,2\n${'1'.repeat(100_000)}x,3\n`;
    const t0 = performance.now();
    // before: the number pattern backtracked quadratically (30,000 digits took 1.4 s, this 8.7 s)
    expect(() => parseCsv(text)).toThrow(FormatError);
    expect(performance.now() - t0).toBeLessThan(200);
  });
});

describe('fuzz regressions: the worker protocol', () => {
  it('deserializeError never throws and only gives typed errors', () => {
    // before: { name: 'toString' } and { name: '__proto__' } threw "TypeError: E is not a
    // constructor", { name: 'constructor' } gave a String object, and an unnamed error a plain Error
    for (const s of [
      { name: 'toString' },
      { name: '__proto__' },
      { name: 'constructor', message: 'x' },
      {},
      null,
    ])
      expect(deserializeError(s as never)).toBeInstanceOf(VaeError);
    expect(deserializeError({ name: 'DataError', message: { toString: 'x' } } as never)).toBeInstanceOf(
      DataError,
    );
    expect(deserializeError({ name: 'TypeError', message: 'boom' })).toBeInstanceOf(WasmError);
  });
});

describe('fuzz regressions: WorkerTrainer and a hostile worker', () => {
  /** A WorkerTrainer whose fake worker answers a fit with `reply(fitId)`. */
  async function trainerWith(reply: (id: number, vae: VAE) => unknown[]) {
    const vae = await VAE.create({ inputDim: 4, encoder: [3], latentDim: 2, seed: 1 });
    const thrown: unknown[] = [];
    const listeners: ((e: { data: unknown }) => void)[] = [];
    const send = (data: unknown) => {
      for (const fn of listeners)
        try {
          fn({ data });
        } catch (e) {
          thrown.push(e);
        }
    };
    const worker: WorkerLike = {
      postMessage(msg) {
        const m = msg as { type: string; id: number };
        if (m.type === 'init') queueMicrotask(() => send({ type: 'ready', build: vae.build }));
        if (m.type === 'fit') queueMicrotask(() => reply(m.id, vae).forEach(send));
      },
      addEventListener: (type, fn) => void (type === 'message' && listeners.push(fn as never)),
      terminate() {},
    };
    return { wt: await WorkerTrainer.create(vae, { batchSize: 4 }, { worker }), thrown, vae };
  }

  it('a worker snapshot of NaN weights rejects the fit with a WasmError (no listener throws, the model is untouched)', async () => {
    const { wt, thrown, vae } = await trainerWith((id, v) => [
      {
        type: 'epoch',
        id,
        record: {},
        history: {},
        epoch: 1,
        snapshot: { params: new Float32Array(v.net.paramFloats).fill(NaN) },
      },
    ]);
    // before: applySnapshot threw inside the message listener and the fit never settled
    expect(await error(wt.fit(new Float32Array(32).fill(0.5), { epochs: 1 }))).toBeInstanceOf(WasmError);
    expect(thrown).toEqual([]);
    expect(Number.isFinite(vae.encode(x4).mu[0])).toBe(true);
    expect(takeSnapshot(vae).params.every(Number.isFinite)).toBe(true);
  });

  it('an { type: "error", id: null } message during a fit rejects it (before: it hung, even after terminate())', async () => {
    const { wt, thrown } = await trainerWith(() => [
      { type: 'error', id: null, error: { name: 'DataError', message: 'x' } },
    ]);
    const fit = wt.fit(new Float32Array(32).fill(0.5), { epochs: 1 });
    const timer = setTimeout(() => wt.terminate(), 50);
    expect(await error(fit)).toBeInstanceOf(DataError);
    clearTimeout(timer);
    expect(thrown).toEqual([]);
  });
});
