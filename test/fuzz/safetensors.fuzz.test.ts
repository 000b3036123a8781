// Property-based fuzzing of the safetensors decoder: random bytes, bytes behind a plausible
// prefix, and mutations of real model files. decodeSafetensors promises FormatError for every bad
// input (and nothing else), copies of bounded size for every good one, and a fast answer.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import fc from 'fast-check';
import { decodeSafetensors, encodeSafetensors, type TensorEntry } from '../../src/io/safetensors.js';
import { FormatError } from '../../src/errors.js';
import { params, typed, counts, expectJsMemoryBelow } from './harness.js';
import { mutation, mutate, join, split } from './files.js';
import { buildPool, type Pool } from './models.js';

let pool: Pool;
beforeAll(async () => {
  pool = await buildPool();
});
afterAll(() => {
  expectJsMemoryBelow(2 ** 30);
  console.log(`[fuzz] safetensors: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`);
});

/** decode, under the promise; only FormatError may come out, and what comes out is no larger than the input. */
async function decodes(bytes: Uint8Array): Promise<void> {
  const r = await typed('decodeSafetensors', () => decodeSafetensors(bytes));
  if (!r.ok) {
    if (!(r.error instanceof FormatError))
      throw new Error(`decodeSafetensors threw ${r.error.name}: ${r.error.message}`);
    return;
  }
  let total = 0;
  for (const t of r.value.tensors.values()) {
    total += t.data.byteLength;
    if (t.data.buffer === bytes.buffer) throw new Error('a tensor is a view into the input');
  }
  if (total > bytes.length)
    throw new Error(`decoded ${total} bytes of tensors from a ${bytes.length}-byte file`);
}

const all = () => [...pool.models, ...pool.trainers];
const prefix = (n: bigint, rest: Uint8Array) => {
  const out = new Uint8Array(8 + rest.length);
  new DataView(out.buffer).setBigUint64(0, n, true);
  out.set(rest, 8);
  return out;
};

describe('fuzz: decodeSafetensors', () => {
  it('random bytes: FormatError or a decode, never anything else', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 96 }), decodes), params('st.random', 3000));
  });

  it('a true length prefix and random (mostly JSON-ish) header text', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 60 }).map((s) => `{${s}}`),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc
        .dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })
        .map((d) => JSON.stringify(d)),
    );
    await fc.assert(
      fc.asyncProperty(text, fc.uint8Array({ maxLength: 32 }), async (t, data) => {
        const h = new TextEncoder().encode(t);
        const body = new Uint8Array(h.length + data.length);
        body.set(h);
        body.set(data, h.length);
        await decodes(prefix(BigInt(h.length), body));
      }),
      params('st.header-text', 3000),
    );
  });

  it('mutations of real model and trainer files', async () => {
    await fc.assert(
      fc.asyncProperty(mutation(all()), (m) => decodes(mutate(all(), m))),
      params('st.mutations', 3000),
    );
  });

  it('encode → decode round-trips random tensors', async () => {
    const tensor = fc
      .record({
        shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
        dtype: fc.constantFrom('F32', 'F64', 'I32', 'U32', 'U8', 'I64'),
      })
      .chain(({ shape, dtype }) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const bytes = fc.uint8Array({ minLength: n * 8, maxLength: n * 8 });
        return bytes.map((b): TensorEntry => {
          const buf = b.buffer as ArrayBuffer;
          const data = {
            F32: () => new Float32Array(buf, 0, n),
            F64: () => new Float64Array(buf, 0, n),
            I32: () => new Int32Array(buf, 0, n),
            U32: () => new Uint32Array(buf, 0, n),
            U8: () => new Uint8Array(buf, 0, n),
            I64: () => new BigInt64Array(buf, 0, n),
          }[dtype]();
          return { dtype: dtype as TensorEntry['dtype'], shape, data };
        });
      });
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), tensor, { maxKeys: 4 }),
        fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
        async (tensors, meta) => {
          if ('__metadata__' in tensors) return;
          const file = encodeSafetensors(tensors, meta);
          const r = await typed('round trip', () => decodeSafetensors(file));
          if (!r.ok) throw r.error;
          expect([...r.value.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
          for (const [k, t] of Object.entries(tensors)) {
            const got = r.value.tensors.get(k)!;
            expect(got.shape).toEqual(t.shape);
            expect(new Uint8Array(got.data.buffer)).toEqual(
              new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
            );
          }
          expect(r.value.metadata).toEqual(Object.keys(meta).length ? meta : {});
        },
      ),
      params('st.roundtrip', 1000),
    );
  });

  it('the mutators are sound: an unmutated file splits and joins back to itself', () => {
    for (const f of [...pool.models, ...pool.trainers])
      expect(decodeSafetensors(join(split(f))).tensors.size).toBeGreaterThan(0);
  });
});
