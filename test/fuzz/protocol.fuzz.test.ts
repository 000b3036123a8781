// Property-based fuzzing of the worker protocol: deserializeError on any structured-cloneable
// value, applySnapshot with hostile snapshots, and WorkerTrainer driven through its public path by
// a fake worker that answers with hostile message sequences. No message may make a handler throw
// (an exception in a message listener is an uncaught error, and the pending fit would never
// settle); fit settles with a typed error or a history; the model keeps computing finite numbers.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import fc from 'fast-check';
import { VAE } from '../../src/vae.js';
import { WorkerTrainer, type WorkerLike } from '../../src/worker/trainer.js';
import { applySnapshot, deserializeError, takeSnapshot } from '../../src/worker/protocol.js';
import {
  ConfigError,
  DataError,
  DivergenceError,
  FormatError,
  ShapeError,
  WasmError,
} from '../../src/errors.js';
import {
  params,
  typed,
  counts,
  expectFinite,
  expectJsMemoryBelow,
  nastyValue,
  nastyJson,
} from './harness.js';
import { rows } from './models.js';

afterAll(() => {
  expectJsMemoryBelow(2 ** 30);
  console.log(`[fuzz] protocol: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`);
});

const NAMES = ['ShapeError', 'DataError', 'ConfigError', 'FormatError', 'WasmError', 'DivergenceError'];
const CLASSES = { ShapeError, DataError, ConfigError, FormatError, WasmError, DivergenceError } as const;

/** Values a structured clone can carry (no functions or symbols), leaning to hostile shapes. */
const cloneable: fc.Arbitrary<unknown> = fc.oneof(
  nastyJson,
  fc.constantFrom<unknown>(
    Object.create(null),
    { toString: 'x', valueOf: 1 },
    { __proto__: null, toString: 5 },
    10n,
    new Date(0),
    new Uint8Array(3),
    NaN,
    undefined,
  ),
);

describe('fuzz: deserializeError', () => {
  it('any message field of any type gives an Error; library names give their classes', async () => {
    const serialized = fc.oneof(
      cloneable,
      fc.record(
        {
          name: fc.oneof(
            fc.constantFrom(
              ...NAMES,
              '__proto__',
              'constructor',
              'toString',
              'hasOwnProperty',
              'RangeError',
              'TypeError',
              'Error',
              '',
            ),
            cloneable,
          ),
          message: fc.oneof(fc.string({ maxLength: 20 }), cloneable),
          code: fc.oneof(fc.constantFrom('E_SHAPE', 'E_X', ''), cloneable),
          step: fc.oneof(fc.nat(), cloneable),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(serialized, async (s) => {
        const r = await typed('deserializeError', () => deserializeError(s as never));
        if (!r.ok) throw r.error; // it must return, not throw
        const e = r.value;
        expect(e).toBeInstanceOf(Error);
        expect(typeof e.message).toBe('string');
        const name = (s as { name?: unknown } | null)?.name;
        if (typeof name === 'string' && Object.hasOwn(CLASSES, name))
          expect(e).toBeInstanceOf(CLASSES[name as keyof typeof CLASSES]);
      }),
      params('proto.deserializeError', 2000),
    );
  });
});

// ---------------------------------------------------------------------------------------------

/** Snapshots: right, wrong length, wrong class, non-finite, missing parts, garbage. */
const snapshot = (floats: number): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant('good') },
    {
      weight: 4,
      arbitrary: fc.record({
        params: fc.oneof(
          fc.constantFrom(floats, floats - 1, floats + 1, 0).map((n) => new Float32Array(n).fill(0.01)),
          fc.constant(new Float32Array(floats).fill(NaN)),
          fc.constant(new Float32Array(floats).fill(Infinity)),
          fc.constant(new Float64Array(floats)),
          fc.constant(Array(floats).fill(0)),
          cloneable,
        ),
        rng: fc.oneof(
          fc.constant(undefined),
          fc.constantFrom(8, 7, 0).map((n) => new Uint32Array(n)),
          fc.constant(new Int32Array(8)),
          cloneable,
        ),
      }),
    },
    { weight: 1, arbitrary: cloneable },
  );

describe('fuzz: applySnapshot and WorkerTrainer', () => {
  let vae: VAE;
  beforeAll(async () => {
    vae = await VAE.create({ inputDim: 4, encoder: [3], latentDim: 2, seed: 1 });
  });
  const good = () => takeSnapshot(vae);
  const resolveSnap = (s: unknown) => (s === 'good' ? good() : s);

  it('applySnapshot: a typed error and the model unchanged, or applied; the model computes finite numbers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constant(null).chain(() => snapshot(vae.net.paramFloats)),
        async (s) => {
          const before = takeSnapshot(vae);
          const r = await typed('applySnapshot', () => applySnapshot(vae, resolveSnap(s) as never));
          if (!r.ok) expect(takeSnapshot(vae).params).toEqual(before.params);
          expectFinite('encode after applySnapshot', vae.encode(rows(2, 4, 1)).mu);
        },
      ),
      params('proto.applySnapshot', 1500),
    );
  });

  /** A message the fake worker sends: the right shapes with hostile fields, or garbage. */
  const message = (floats: number): fc.Arbitrary<unknown> =>
    fc.oneof(
      fc.record({
        type: fc.constant('batch'),
        id: fc.constantFrom<unknown>(1, 1, 2, 'x'),
        info: fc.oneof(fc.constant(null), cloneable),
        snapshot: fc.oneof(fc.constant(undefined), snapshot(floats)),
      }),
      fc.record({
        type: fc.constant('epoch'),
        id: fc.constant(1),
        record: cloneable,
        history: cloneable,
        epoch: cloneable,
        snapshot: snapshot(floats),
      }),
      fc.record({
        type: fc.constant('done'),
        id: fc.constantFrom<unknown>(1, 1, 3),
        history: cloneable,
        epoch: cloneable,
        snapshot: snapshot(floats),
      }),
      fc.record({
        type: fc.constant('error'),
        id: fc.constantFrom<unknown>(1, null, 7),
        error: cloneable,
        snapshot: fc.oneof(fc.constant(undefined), snapshot(floats)),
        history: cloneable,
        epoch: cloneable,
      }),
      fc.record({
        type: fc.constantFrom('ready', 'saved', 'loaded', 'toString', '__proto__'),
        id: fc.constantFrom<unknown>(1, null),
      }),
      nastyValue.filter((v) => typeof v !== 'function' && typeof v !== 'symbol'),
    );

  it('WorkerTrainer.fit against a worker that answers with hostile messages', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constant(null).chain(() => fc.array(message(vae.net.paramFloats), { maxLength: 5 })),
        fc.boolean(),
        async (script, finish) => {
          const model = await VAE.create({ inputDim: 4, encoder: [3], latentDim: 2, seed: 1 });
          const thrown: unknown[] = [];
          const listeners: ((e: { data: unknown }) => void)[] = [];
          const send = (data: unknown) => {
            for (const fn of listeners)
              try {
                fn({ data: data === 'good' ? good() : fixSnapshots(data) });
              } catch (e) {
                thrown.push(e);
              }
          };
          const fixSnapshots = (m: unknown) =>
            m && typeof m === 'object' && (m as { snapshot?: unknown }).snapshot === 'good'
              ? { ...m, snapshot: takeSnapshot(model) }
              : m;
          const worker: WorkerLike = {
            postMessage(msg) {
              const m = msg as { type: string; id?: number };
              if (m.type === 'init') queueMicrotask(() => send({ type: 'ready', build: model.build }));
              if (m.type === 'fit')
                queueMicrotask(() => {
                  for (const s of script) send(s);
                  if (finish)
                    send({
                      type: 'done',
                      id: m.id,
                      history: { epochs: [], stopReason: 'completed', bestEpoch: null, steps: 1 },
                      epoch: 1,
                      snapshot: takeSnapshot(model),
                    });
                });
            },
            addEventListener(type, fn) {
              if (type === 'message') listeners.push(fn as never);
            },
            terminate() {},
          };
          const wt = await WorkerTrainer.create(model, { batchSize: 4 }, { worker });
          const fit = wt.fit(rows(8, 4, 2), { epochs: 1 });
          // a worker that stops answering: the caller terminates it, and fit must then settle
          const timer = setTimeout(() => wt.terminate(), 1);
          await typed('WorkerTrainer.fit', () => fit);
          clearTimeout(timer);
          if (thrown.length) throw new Error(`a message listener threw: ${String(thrown[0])}`);
          const r = await typed('encode after', () => model.encode(rows(2, 4, 1)));
          if (r.ok) expectFinite('encode after', r.value.mu);
        },
      ),
      params('proto.workerTrainer', 600),
    );
  });
});
