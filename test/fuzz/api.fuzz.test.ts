// Property-based fuzzing of the public calls' arguments: VAE.create options, Trainer options, fit
// options, and the inputs of encode / decode / reconstruct / sample / interpolate / evaluate /
// logLikelihood / activeUnits — shapes, NaN / ±Inf, huge or negative sizes, wrong typed-array
// classes, detached buffers, non-integer counts, "__proto__" / "constructor" keys. Each call
// settles in time with a result of the right size and finite numbers, or a typed error; and the
// model still works after any refused call.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import fc from 'fast-check';
import { VAE, type VAEOptions } from '../../src/vae.js';
import { Trainer, type TrainerOptions } from '../../src/trainer.js';
import { MODEL_KEYS, parameterCount } from '../../src/config.js';
import {
  params,
  typed,
  counts,
  expectFinite,
  expectJsMemoryBelow,
  nastyInt,
  nastyValue,
  ownObject,
} from './harness.js';
import { checkLoadedModel, rows } from './models.js';

afterAll(() => {
  expectJsMemoryBelow(2 ** 30);
  console.log(`[fuzz] api: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`);
});

/** An options object: valid base values, some keys replaced by hostile ones, "__proto__" as an own key. */
function options(base: Record<string, unknown>, keys: readonly string[], value: fc.Arbitrary<unknown>) {
  return fc
    .array(fc.tuple(fc.constantFrom(...keys, '__proto__', 'constructor', 'toString', 'bogus'), value), {
      maxLength: 3,
    })
    .map((edits) => {
      const o = ownObject(Object.entries(base));
      for (const [k, v] of edits)
        Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      return o;
    });
}

const modelValue = fc.oneof(
  nastyValue,
  fc.constantFrom<unknown>(
    [65536],
    [1e9],
    [3, 3],
    [],
    [0],
    [-1],
    [1.5],
    ['3'],
    [NaN],
    'relu',
    'tanh',
    'softplus',
    'identity',
    'gaussian',
    'gaussian-learned',
    'glorot',
    'normal',
    'static',
    'threshold',
    'scalar',
    'simd',
  ),
);

const BASE_MODEL = { inputDim: 4, encoder: [3], latentDim: 2, seed: 1 };

describe('fuzz: VAE.create options', () => {
  it('options with hostile keys and values: a typed error, or a small working model', async () => {
    await fc.assert(
      fc.asyncProperty(options(BASE_MODEL, [...MODEL_KEYS, 'build', 'chunkRows'], modelValue), async (o) => {
        const r = await typed('VAE.create', () => VAE.create(o as unknown as VAEOptions));
        if (!r.ok) return;
        const vae = r.value;
        expect(vae.parameterCount).toBe(parameterCount(vae.config));
        await checkLoadedModel('VAE.create', vae);
      }),
      params('api.create', 1500),
    );
  });

  it('non-object options', async () => {
    await fc.assert(
      fc.asyncProperty(nastyValue, async (o) => {
        await typed('VAE.create', () => VAE.create(o as VAEOptions));
      }),
      params('api.create-any', 300),
    );
  });
});

// ---------------------------------------------------------------------------------------------

const trainerValue = fc.oneof(
  nastyValue,
  fc.constantFrom<unknown>(
    { name: 'adam', lr: 1e-2 },
    { name: 'adamw', lr: 1e-2, weightDecay: 0.1 },
    { name: 'sgd', lr: 1e-2, momentum: 0.9, nesterov: true },
    { name: 'adagrad', lrDecay: 0.1 },
    { name: 'adam', betas: [0.5, 0.5] },
    { name: 'adam', betas: null },
    { name: 'sgd' },
    { name: 'toString' },
    { name: '__proto__' },
    { type: 'constant' },
    { type: 'step', stepSize: 1, gamma: 0.5 },
    { type: 'step', stepSize: 1, gamma: -1 },
    { type: 'step', stepSize: 1, gamma: Infinity },
    { type: 'exponential', gamma: 0.9 },
    { type: 'exponential', gamma: Infinity },
    { type: 'cosine', epochs: 3 },
    { type: 'cosine', epochs: 0 },
    { type: 'cosine', epochs: -1 },
    { type: 'cosine', epochs: 2, minLr: NaN },
    { type: 'cosine', epochs: 0.5 },
    { type: 'iwae' },
    { type: '__proto__' },
    { steps: 3 },
    { epochs: 2 },
    { steps: 0 },
    { patience: 1, restoreBest: true },
    { patience: 0 },
    'iwae',
    'elbo',
    'mean',
    'dataset',
    'sum',
  ),
);

const TRAINER_KEYS = [
  'optimizer',
  'batchSize',
  'samples',
  'objective',
  'beta',
  'klWarmup',
  'freeBits',
  'reduction',
  'lrSchedule',
  'shuffle',
  'earlyStopping',
  'yieldMs',
];

describe('fuzz: Trainer options and fit', () => {
  let vae: VAE;
  beforeAll(async () => {
    vae = await VAE.create(BASE_MODEL);
  });

  it('Trainer options: a typed error, or a trainer whose learning rate stays finite and whose fit works or refuses', async () => {
    await fc.assert(
      fc.asyncProperty(options({ batchSize: 4 }, TRAINER_KEYS, trainerValue), async (o) => {
        const model = await VAE.create(BASE_MODEL);
        const r = await typed('new Trainer', () => new Trainer(model, o as TrainerOptions));
        if (!r.ok) return;
        const t = r.value;
        for (let e = 0; e < 12; e++) {
          const lr = t.lrAt(e);
          if (!(lr >= 0)) throw new Error(`lrAt(${e}) = ${lr}`); // Infinity (a growing schedule) fails the fit with a ConfigError
        }
        const ctrl = new AbortController();
        const timer = setTimeout(() => ctrl.abort(), 300);
        await typed('fit', () =>
          t.fit(rows(8, 4, 2), { epochs: 3, validationData: rows(3, 4, 3), signal: ctrl.signal }),
        );
        clearTimeout(timer);
        await checkLoadedModel('after fit', model);
      }),
      params('api.trainer', 1200),
    );
  });

  const fitValue = fc.oneof(
    nastyValue,
    fc.constantFrom<unknown>(
      { aborted: true },
      { aborted: false },
      AbortSignal.abort(),
      new AbortController().signal,
    ),
  );

  it('fit options: a typed error or a history, and the model still works', async () => {
    await fc.assert(
      fc.asyncProperty(
        options(
          { epochs: 1 },
          ['epochs', 'validationData', 'validationSamples', 'onBatchEnd', 'onEpochEnd', 'signal'],
          fitValue,
        ),
        async (o) => {
          const t = new Trainer(vae, { batchSize: 4 });
          const ctrl = new AbortController();
          const timer = setTimeout(() => ctrl.abort(), 300);
          // a huge epoch count runs until the abort; a hostile signal is fuzzed with the epochs it came with
          const opts = 'signal' in o ? o : { ...o, signal: ctrl.signal };
          if ('signal' in o && !(Number.isSafeInteger(o.epochs) && (o.epochs as number) <= 3)) {
            clearTimeout(timer);
            return;
          }
          const r = await typed('fit', () => t.fit(rows(8, 4, 2), opts as never));
          clearTimeout(timer);
          if (r.ok) expect(Array.isArray(r.value.epochs)).toBe(true);
          await checkLoadedModel('after fit', vae);
        },
      ),
      params('api.fit', 800),
    );
  });
});

// ---------------------------------------------------------------------------------------------

/** Values of a data row: mostly valid, sometimes not. */
const cell = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, -1, 2, 1e30, -1e30, 3e38, 5e-324, -0),
  },
);

function detached<T extends ArrayBufferView>(a: T): T {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
  return a;
}

/** Inputs of every kind the Input type names, and of kinds it does not. */
const input = (D: number): fc.Arbitrary<unknown> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(D, D, D, D - 1, D + 1, 1))
        .chain(([n, w]) => fc.array(cell, { minLength: n * w, maxLength: n * w }))
        .map((v) => Float32Array.from(v)),
    },
    {
      weight: 2,
      arbitrary: fc
        .array(fc.array(cell, { minLength: D, maxLength: D }), { minLength: 1, maxLength: 3 })
        .chain((rs) =>
          fc.constantFrom<unknown>(
            rs,
            rs.map((r) => Float32Array.from(r)),
            rs.map((r) => Float64Array.from(r)),
            [...rs, rs[0].slice(1)],
            rs.map((r) => r.map(String)),
            [rs[0], null],
            [rs[0], 5],
          ),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .uint8Array({ minLength: 0, maxLength: 3 * D })
        .chain((b) =>
          fc.constantFrom<unknown>(
            b,
            new Uint8ClampedArray(b),
            new Int8Array(b),
            new Uint16Array(b),
            new Float64Array(b),
          ),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({
          rows: nastyInt,
          cols: fc.constantFrom<unknown>(D, D + 1, 0, -D, 1.5, '4', NaN),
          n: fc.integer({ min: 0, max: 3 * D }),
        })
        .chain(({ rows: r, cols, n }) =>
          fc.constantFrom<unknown>(
            { data: new Float32Array(n).fill(0.5), rows: r, cols },
            { data: new Float32Array(2 * D).fill(0.5), rows: 2, cols },
            { data: new Float32Array(2 * D).fill(0.5), rows: r, cols: D },
            { data: null, rows: r, cols },
            { data: Array(n).fill(0.5), rows: r, cols },
            { data: 'xxxx', rows: 1, cols: 4 },
            { data: new Float64Array(2 * D), rows: 2, cols: D },
          ),
        ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom<unknown>(
        detached(new Float32Array(D)),
        detached(new Uint8Array(D)),
        { data: detached(new Float32Array(D)), rows: 1, cols: D },
        new Float32Array(new SharedArrayBuffer(4 * D)),
        new Float32Array(new ArrayBuffer(4 * (D + 1)), 4, D),
        new Float32Array(2 * D).subarray(D),
        [detached(new Float32Array(D))],
        [new Float32Array(D).fill(NaN)],
      ),
    },
    { weight: 1, arbitrary: nastyValue },
  );

const optsValue = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  {
    weight: 3,
    arbitrary: fc
      .record(
        { samples: nastyInt, k: nastyInt, seed: nastyInt, sample: fc.boolean(), threshold: fc.double() },
        { requiredKeys: [] },
      )
      .map((o) => ownObject(Object.entries(o))),
  },
  { weight: 1, arbitrary: nastyValue },
);

describe('fuzz: inference inputs', () => {
  const models: VAE[] = [];
  beforeAll(async () => {
    models.push(await VAE.create({ inputDim: 4, encoder: [3], latentDim: 2, seed: 1 }));
    models.push(
      await VAE.create({ inputDim: 3, encoder: [], latentDim: 5, likelihood: 'gaussian', seed: 2 }),
    );
    models.push(
      await VAE.create({ inputDim: 2, latentDim: 1, encoder: [2], likelihood: 'gaussian-learned', seed: 3 }),
    );
  });

  const call = fc.constantFrom(
    'encode',
    'decode',
    'reconstruct',
    'evaluate',
    'logLikelihood',
    'activeUnits',
    'sample',
    'interpolate',
  );

  it('every inference call: a typed error, or a result of the right size and finite; the model still works', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 2 }),
        call,
        fc.nat({ max: 2 }).chain((m) => fc.tuple(fc.constant(m), input([4, 3, 2][m]), input([2, 5, 1][m]))),
        optsValue,
        nastyInt,
        async (mi, what, [, x, z], opts, n) => {
          const vae = models[mi];
          const D = vae.config.inputDim,
            Z = vae.config.latentDim;
          const o = opts as never;
          const r = await typed(what, () => {
            switch (what) {
              case 'encode':
                return vae.encode(x as never);
              case 'decode':
                return vae.decode(z as never);
              case 'reconstruct':
                return vae.reconstruct(x as never, o);
              case 'evaluate':
                return vae.evaluate(x as never, o);
              case 'logLikelihood': {
                const k = (opts as { k?: unknown } | undefined)?.k;
                // a k the limit allows is real work (rows × k samples): keep it small here
                if (typeof k === 'number' && k > 64) return null;
                return vae.logLikelihood(x as never, o);
              }
              case 'activeUnits':
                return vae.activeUnits(x as never, o);
              case 'sample':
                return n > 4096 && n <= 2 ** 28 ? null : vae.sample(n, o);
              case 'interpolate':
                return n > 4096 && n <= 2 ** 28 ? null : vae.interpolate(x as never, z as never, n);
            }
          });
          if (r.ok && r.value !== null) {
            const v = r.value as unknown;
            if (v instanceof Float32Array) {
              expect(v.length % D).toBe(0);
              expectFinite(what, v);
            } else if (what === 'encode') {
              const e = v as { mu: Float32Array; logvar: Float32Array; rows: number };
              expect(e.mu.length).toBe(e.rows * Z);
              expectFinite('mu', e.mu);
              expectFinite('logvar', e.logvar);
            } else if (what === 'evaluate') {
              const e = v as { elbo: number; kl: number; reconstruction: number };
              for (const k of ['elbo', 'kl', 'reconstruction'] as const) expectFinite(k, e[k]);
            } else if (what === 'logLikelihood') {
              expectFinite('logLikelihood', (v as { perRow: Float64Array }).perRow);
            }
          }
          // whatever happened, the model still computes
          const ok = vae.encode(rows(2, D, 5));
          expectFinite('encode after', ok.mu);
        },
      ),
      params('api.inference', 5000),
    );
  });
});
