import { describe, it, expect } from 'vitest';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, encodeSafetensors, tensorF32, type TensorEntry } from '../src/io/safetensors.js';
import { readFileBytes, writeFileAtomic } from '../src/io/node.js';
import { ConfigError, FormatError, ShapeError } from '../src/errors.js';

const enc = new TextEncoder();

/** Build a safetensors file from a header (object or raw JSON text) and a data section. */
function file(
  header: string | object | Uint8Array,
  data: ArrayLike<number> = [],
  opts: { declaredLen?: bigint } = {},
): Uint8Array {
  const h =
    header instanceof Uint8Array
      ? header
      : enc.encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, opts.declaredLen ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(Array.from(data), 8 + h.length);
  return out;
}

function expectFormatError(fn: () => unknown, re: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a FormatError').toBeInstanceOf(FormatError);
  expect((caught as FormatError).code).toBe('E_FORMAT');
  expect((caught as Error).message).toMatch(re);
}

const f32 = (...v: number[]) => new Float32Array(v);

describe('encode/decode round trip', () => {
  it('round-trips several dtypes and shapes, including scalars and zero-size tensors', () => {
    const tensors: Record<string, TensorEntry> = {
      'enc.w': { dtype: 'F32', shape: [2, 3], data: f32(1, -2.5, 3e-8, Infinity, -0, NaN) },
      'enc.b': { dtype: 'F64', shape: [3], data: new Float64Array([Math.PI, -1e300, 5e-324]) },
      idx: { dtype: 'I32', shape: [2, 2], data: new Int32Array([-(2 ** 31), -1, 0, 2 ** 31 - 1]) },
      mask: { dtype: 'U32', shape: [1, 1, 2], data: new Uint32Array([0, 2 ** 32 - 1]) },
      bytes: { dtype: 'U8', shape: [5], data: new Uint8Array([0, 1, 127, 128, 255]) },
      step: { dtype: 'I64', shape: [], data: new BigInt64Array([-(2n ** 63n)]) },
      scalar: { dtype: 'F32', shape: [], data: f32(0.1) },
      empty: { dtype: 'F32', shape: [0], data: new Float32Array(0) },
      empty2: { dtype: 'I64', shape: [3, 0, 7], data: new BigInt64Array(0) },
      odd: { dtype: 'U8', shape: [3], data: new Uint8Array([9, 8, 7]) },
      after_odd: { dtype: 'F64', shape: [2], data: new Float64Array([1.5, -2.25]) }, // unaligned offset
    };
    const meta = { format: 'pt', 'wasm-vae': '{"latent":2}', unicode: 'ünï €' };
    const bytes = encodeSafetensors(tensors, meta);
    const { tensors: out, metadata } = decodeSafetensors(bytes);

    expect(metadata).toEqual(meta);
    expect([...out.keys()]).toEqual(Object.keys(tensors));
    for (const [name, t] of Object.entries(tensors)) {
      const got = out.get(name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(got.data.constructor).toBe(t.data.constructor);
      // Compare bit patterns so NaN and -0 are checked exactly.
      expect(new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength)).toEqual(
        new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      );
      expect(got.data.buffer).not.toBe(bytes.buffer); // a copy
    }
    expect(Object.is(out.get('enc.w')!.data[4], -0)).toBe(true);
  });

  it('accepts a Map, keeps insertion order, and aligns the data section to 8 bytes', () => {
    const m = new Map<string, TensorEntry>([
      ['z', { dtype: 'U8', shape: [1], data: new Uint8Array([7]) }],
      ['10', { dtype: 'U8', shape: [1], data: new Uint8Array([8]) }],
      ['a', { dtype: 'U8', shape: [1], data: new Uint8Array([9]) }],
    ]);
    const bytes = encodeSafetensors(m);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    expect(Array.from(bytes.subarray(8 + n))).toEqual([7, 8, 9]);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect([...tensors.keys()]).toEqual(['z', '10', 'a']);
    expect(metadata).toEqual({});
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + n))).not.toContain('__metadata__');
  });

  it('decodes from a Uint8Array view at an odd offset into a larger buffer', () => {
    const bytes = encodeSafetensors({ w: { dtype: 'F64', shape: [2], data: new Float64Array([1, 2]) } });
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const { tensors } = decodeSafetensors(big.subarray(3));
    expect(Array.from(tensors.get('w')!.data as Float64Array)).toEqual([1, 2]);
  });

  it('matches a hand-computed byte layout exactly', () => {
    const bytes = encodeSafetensors(
      {
        a: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
        b: { dtype: 'F32', shape: [1], data: f32(1) },
      },
      { k: 'v' },
    );
    const json =
      '{"__metadata__":{"k":"v"},' +
      '"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},' +
      '"b":{"dtype":"F32","shape":[1],"data_offsets":[3,7]}}';
    expect(json.length).toBe(131);
    // 131 bytes of JSON padded with 5 spaces to 136 = 0x88, so the data starts at 8 + 136 = 144.
    const expected = [
      0x88,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...enc.encode(json),
      0x20,
      0x20,
      0x20,
      0x20,
      0x20,
      1,
      2,
      3,
      0x00,
      0x00,
      0x80,
      0x3f, // 1.0f little-endian
    ];
    expect(bytes.length).toBe(151);
    expect(Array.from(bytes)).toEqual(expected);
  });
});

describe('interop fixture (test/fixtures/tiny.safetensors, made by scripts/make_safetensors_fixture.py)', () => {
  const fixturePath = fileURLToPath(new URL('./fixtures/tiny.safetensors', import.meta.url));
  const bytes = new Uint8Array(readFileSync(fixturePath));
  const fr = (...v: number[]) => v.map(Math.fround);

  it('decodes to the exact values the independent Python writer stored', () => {
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ format: 'np', note: 'tiny fixture' });
    expect([...tensors.keys()]).toEqual(['bias', 'counts', 'empty', 'scalar', 'weight']);

    expect(Array.from(tensorF32(tensors, 'bias', [3]))).toEqual([0.5, -1.25, 3]);
    const counts = tensors.get('counts')!;
    expect(counts.dtype).toBe('I32');
    expect(counts.shape).toEqual([2, 2]);
    expect(counts.data).toBeInstanceOf(Int32Array);
    expect(Array.from(counts.data as Int32Array)).toEqual([-2147483648, -1, 0, 2147483647]);
    expect(tensorF32(tensors, 'empty', [0, 4]).length).toBe(0);
    expect(Array.from(tensorF32(tensors, 'scalar', []))).toEqual(fr(0.1));
    const w = Array.from(tensorF32(tensors, 'weight', [2, 3]));
    expect(w).toEqual(fr(1e-3, 0.1, -7, 1e30, -0, 2.5));
    expect(Object.is(w[4], -0)).toBe(true);
  });

  it('re-encodes byte-identically to the Python writer', () => {
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(Array.from(encodeSafetensors(tensors, metadata))).toEqual(Array.from(bytes));
  });
});

describe('encode validation', () => {
  it('throws ShapeError when data length does not match the shape', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: f32(1, 2, 3) } })).toThrow(
      ShapeError,
    );
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: f32(1, 2, 3) } })).toThrow(
      /"w".*length 3.*\[2,2\]/,
    );
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [-1], data: f32(1) } })).toThrow(ShapeError);
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [1.5], data: f32(1) } })).toThrow(ShapeError);
  });

  it('throws ConfigError when the array class does not match the dtype, or on bad names/metadata', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float64Array(1) } })).toThrow(
      ConfigError,
    );
    expect(() => encodeSafetensors({ w: { dtype: 'I64', shape: [1], data: new Int32Array(1) } })).toThrow(
      /"w".*BigInt64Array.*Int32Array/,
    );
    expect(() =>
      encodeSafetensors({ w: { dtype: 'BF16' as 'F32', shape: [1], data: new Float32Array(1) } }),
    ).toThrow(/unsupported dtype "BF16"/);
    expect(() => encodeSafetensors({ '': { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })).toThrow(
      ConfigError,
    );
    expect(() =>
      encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }),
    ).toThrow(/reserved/);
    expect(() => encodeSafetensors({}, { a: 1 as unknown as string })).toThrow(ConfigError);
  });
});

describe('decode rejects hostile input with FormatError', () => {
  const good = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const eight = new Array(8).fill(0);

  it('accepts the baseline used below', () => {
    expect(decodeSafetensors(file(good, eight)).tensors.get('w')!.shape).toEqual([2]);
    expect(decodeSafetensors(file({})).tensors.size).toBe(0);
  });

  it('truncated file (shorter than 8 bytes)', () => {
    expectFormatError(() => decodeSafetensors(new Uint8Array(0)), /too short: 0 bytes/);
    expectFormatError(() => decodeSafetensors(new Uint8Array([1, 0, 0])), /too short: 3 bytes/);
  });

  it('header length beyond the end of the file', () => {
    const f = file(good, eight);
    expectFormatError(() => decodeSafetensors(f.subarray(0, 20)), /header length \d+ exceeds the 12 bytes/);
  });

  it('huge header length (u64 max and 2^53+1)', () => {
    expectFormatError(
      () => decodeSafetensors(file(good, eight, { declaredLen: 2n ** 64n - 1n })),
      /header length 18446744073709551615 exceeds/,
    );
    expectFormatError(
      () => decodeSafetensors(file(good, eight, { declaredLen: 2n ** 53n + 1n })),
      /header length 9007199254740993 exceeds/,
    );
  });

  it('header longer than maxHeaderBytes', () => {
    expectFormatError(
      () => decodeSafetensors(file(good, eight), { maxHeaderBytes: 16 }),
      /header length \d+ exceeds maximum of 16 bytes/,
    );
    expect(() => decodeSafetensors(file(good, eight), { maxHeaderBytes: -1 })).toThrow(ConfigError);
  });

  it('header that is not valid UTF-8', () => {
    const h = new Uint8Array([...enc.encode('{"a'), 0xff, 0xfe, ...enc.encode('":1}')]);
    expectFormatError(() => decodeSafetensors(file(h)), /not valid UTF-8/);
  });

  it('invalid JSON', () => {
    expectFormatError(() => decodeSafetensors(file('{"w": {"dtype": "F32",')), /not valid JSON/);
    expectFormatError(() => decodeSafetensors(file('{} trailing')), /not valid JSON/);
  });

  it('header that is not a JSON object', () => {
    expectFormatError(() => decodeSafetensors(file('[1,2]')), /must be a JSON object/);
    expectFormatError(() => decodeSafetensors(file('"str"')), /must be a JSON object/);
    expectFormatError(() => decodeSafetensors(file('null')), /must be a JSON object/);
    expectFormatError(() => decodeSafetensors(file(' {}')), /must be a JSON object starting with '\{'/);
    expectFormatError(() => decodeSafetensors(file('')), /must be a JSON object/);
    expectFormatError(
      () => decodeSafetensors(file({ w: [1] })),
      /tensor "w": entry must be an object, got array/,
    );
  });

  it('unknown dtype', () => {
    expectFormatError(
      () => decodeSafetensors(file({ w: { dtype: 'BF16', shape: [4], data_offsets: [0, 8] } }, eight)),
      /tensor "w": unsupported dtype "BF16"/,
    );
    expectFormatError(
      () => decodeSafetensors(file({ w: { dtype: 4, shape: [2], data_offsets: [0, 8] } }, eight)),
      /tensor "w": unsupported dtype number/,
    );
    expectFormatError(
      () => decodeSafetensors(file({ w: { dtype: '__proto__', shape: [2], data_offsets: [0, 8] } }, eight)),
      /tensor "w": unsupported dtype "__proto__"/,
    );
    expectFormatError(
      () => decodeSafetensors(file({ w: { shape: [2], data_offsets: [0, 8] } }, eight)),
      /tensor "w": missing dtype/,
    );
  });

  it('negative, non-integer or non-array shape', () => {
    const bad = (shape: unknown) => file({ w: { dtype: 'F32', shape, data_offsets: [0, 8] } }, eight);
    expectFormatError(
      () => decodeSafetensors(bad([-2])),
      /tensor "w": shape dimension -2 is not a non-negative integer/,
    );
    expectFormatError(() => decodeSafetensors(bad([1.5, 2])), /tensor "w": shape dimension 1.5 is not/);
    expectFormatError(() => decodeSafetensors(bad(['2'])), /tensor "w": shape dimension "2" is not/);
    expectFormatError(
      () => decodeSafetensors(bad([2 ** 53])),
      /tensor "w": shape dimension 9007199254740992 is not/,
    );
    expectFormatError(() => decodeSafetensors(bad(2)), /tensor "w": shape must be an array, got number/);
    expectFormatError(
      () => decodeSafetensors(file('{"w":{"dtype":"F32","shape":[1e999],"data_offsets":[0,8]}}', eight)),
      /shape dimension null is not/,
    );
  });

  it('shape whose element count overflows', () => {
    const s = 2 ** 30;
    expectFormatError(
      () => decodeSafetensors(file({ w: { dtype: 'F32', shape: [s, s], data_offsets: [0, 8] } }, eight)),
      /tensor "w": element count of shape \[1073741824,1073741824\] overflows/,
    );
    // A zero dimension makes the count 0 even when the other dimensions are huge.
    const { tensors } = decodeSafetensors(
      file({ w: { dtype: 'F32', shape: [s, s, 0], data_offsets: [0, 0] } }),
    );
    expect(tensors.get('w')!.data.length).toBe(0);
  });

  it('malformed or out-of-bounds data_offsets', () => {
    const bad = (data_offsets: unknown, data = eight) =>
      file({ w: { dtype: 'F32', shape: [2], data_offsets } }, data);
    expectFormatError(
      () => decodeSafetensors(bad([0, 16])),
      /tensor "w": data_offsets \[0,16\] out of bounds of the 8-byte data section/,
    );
    expectFormatError(() => decodeSafetensors(bad([8, 0])), /tensor "w": data_offsets begin 8 > end 0/);
    expectFormatError(
      () => decodeSafetensors(bad([-8, 0])),
      /tensor "w": data_offsets must be non-negative integers/,
    );
    expectFormatError(
      () => decodeSafetensors(bad([0.5, 8.5])),
      /tensor "w": data_offsets must be non-negative integers/,
    );
    expectFormatError(
      () => decodeSafetensors(bad([0, 4, 8])),
      /tensor "w": data_offsets must be an array of two integers/,
    );
    expectFormatError(
      () => decodeSafetensors(bad('0-8')),
      /tensor "w": data_offsets must be an array of two integers/,
    );
  });

  it('overlapping offsets', () => {
    const h = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    expectFormatError(
      () => decodeSafetensors(file(h, new Array(12).fill(0))),
      /tensor "b": data_offsets \[4,12\] overlap tensor "a" \[0,8\]/,
    );
    // Two tensors claiming the same bytes.
    const same = { a: good.w, b: good.w };
    expectFormatError(() => decodeSafetensors(file(same, eight)), /overlap/);
    // A zero-size tensor inside another tensor's range.
    const inside = { a: good.w, z: { dtype: 'U8', shape: [0], data_offsets: [4, 4] } };
    expectFormatError(
      () => decodeSafetensors(file(inside, eight)),
      /tensor "z": data_offsets \[4,4\] overlap tensor "a" \[0,8\]/,
    );
  });

  it('a gap between tensors', () => {
    const h = {
      a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] },
      b: { dtype: 'U8', shape: [2], data_offsets: [3, 5] },
    };
    expectFormatError(
      () => decodeSafetensors(file(h, [1, 2, 0, 3, 4])),
      /tensor "b": gap of 1 bytes before data_offsets begin 3/,
    );
    const lead = { b: { dtype: 'U8', shape: [2], data_offsets: [2, 4] } };
    expectFormatError(() => decodeSafetensors(file(lead, [0, 0, 1, 2])), /tensor "b": gap of 2 bytes/);
  });

  it('trailing bytes not covered by any tensor', () => {
    expectFormatError(
      () => decodeSafetensors(file(good, new Array(11).fill(0))),
      /3 trailing bytes not covered/,
    );
    expectFormatError(() => decodeSafetensors(file({}, [0])), /1 trailing bytes not covered/);
  });

  it('byte length that does not match shape × dtype size', () => {
    const h = { w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } };
    expectFormatError(
      () => decodeSafetensors(file(h, eight)),
      /tensor "w": byte length 8 does not match shape \[3\] × F32 = 12 bytes/,
    );
    const i64 = { w: { dtype: 'I64', shape: [], data_offsets: [0, 4] } };
    expectFormatError(
      () => decodeSafetensors(file(i64, [0, 0, 0, 0])),
      /tensor "w": byte length 4 does not match shape \[\] × I64 = 8 bytes/,
    );
  });

  it('bad __metadata__', () => {
    expectFormatError(
      () => decodeSafetensors(file({ __metadata__: { a: 'x', epochs: 3 } })),
      /__metadata__ value for key "epochs" must be a string, got number/,
    );
    expectFormatError(
      () => decodeSafetensors(file({ __metadata__: { n: null } })),
      /key "n" must be a string, got null/,
    );
    expectFormatError(
      () => decodeSafetensors(file({ __metadata__: ['a'] })),
      /__metadata__ must be an object of strings, got array/,
    );
    expectFormatError(
      () => decodeSafetensors(file({ __metadata__: 'x' })),
      /__metadata__ must be an object of strings, got string/,
    );
  });

  it('keeps a "__proto__" metadata key as plain data', () => {
    const { metadata } = decodeSafetensors(file('{"__metadata__":{"__proto__":"x"}}'));
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.keys(metadata)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(metadata, '__proto__')!.value).toBe('x');
  });

  it('empty tensor names, duplicate keys and unknown entry fields', () => {
    expectFormatError(
      () => decodeSafetensors(file({ '': { dtype: 'U8', shape: [0], data_offsets: [0, 0] } })),
      /tensor with an empty name/,
    );
    const dup =
      '{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\\u0077":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
    expectFormatError(() => decodeSafetensors(file(dup, [5])), /duplicate key "w" in header/);
    const dupField = '{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"dtype":"F32"}}';
    expectFormatError(() => decodeSafetensors(file(dupField, [5])), /duplicate key "dtype" in entry "w"/);
    const extra = { w: { dtype: 'U8', shape: [1], data_offsets: [0, 1], offset: 0 } };
    expectFormatError(() => decodeSafetensors(file(extra, [5])), /tensor "w": unknown field "offset"/);
  });

  it('treats a tensor named "__proto__" as an ordinary name', () => {
    const { tensors } = decodeSafetensors(
      file('{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [42]),
    );
    expect(Array.from(tensors.get('__proto__')!.data as Uint8Array)).toEqual([42]);
  });

  it('accepts header padding and out-of-order offsets', () => {
    const h = JSON.stringify({
      b: { dtype: 'U8', shape: [1], data_offsets: [2, 3] },
      a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] },
    });
    const { tensors } = decodeSafetensors(file(h + '      ', [1, 2, 3]));
    expect([...tensors.keys()]).toEqual(['b', 'a']);
    expect(Array.from(tensors.get('a')!.data as Uint8Array)).toEqual([1, 2]);
    expect(Array.from(tensors.get('b')!.data as Uint8Array)).toEqual([3]);
  });

  it('only ever throws FormatError on randomly corrupted or truncated files', () => {
    const base = encodeSafetensors(
      {
        w: { dtype: 'F32', shape: [2, 3], data: f32(1, 2, 3, 4, 5, 6) },
        i: { dtype: 'I64', shape: [1], data: new BigInt64Array([5n]) },
        u: { dtype: 'U8', shape: [0], data: new Uint8Array(0) },
      },
      { k: 'v' },
    );
    let seed = 0x12345678;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed % n;
    };
    const printable = enc.encode('{}[]",:0123456789-.eE ntrufalsF32I64U8_dtypeshape');
    let rejected = 0;
    for (let iter = 0; iter < 3000; iter++) {
      let b = base.slice();
      const kind = rand(3);
      if (kind === 0) {
        b = b.subarray(0, rand(b.length));
      } else {
        for (let k = 0, m = 1 + rand(4); k < m; k++) {
          const pos = rand(b.length);
          b[pos] = kind === 1 ? rand(256) : printable[rand(printable.length)]!;
        }
      }
      try {
        decodeSafetensors(b);
      } catch (e) {
        if (!(e instanceof FormatError))
          throw new Error(`non-FormatError at iteration ${iter}: ${String(e)}`);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(1000);
  });
});

describe('tensorF32', () => {
  const m = decodeSafetensors(
    encodeSafetensors({
      w: { dtype: 'F32', shape: [2, 3], data: new Float32Array(6) },
      n: { dtype: 'I32', shape: [1], data: new Int32Array(1) },
    }),
  ).tensors;

  it('returns the data when dtype and shape match', () => {
    expect(tensorF32(m, 'w', [2, 3])).toBeInstanceOf(Float32Array);
    expect(tensorF32(m, 'w').length).toBe(6);
  });

  it('throws FormatError naming the tensor on a missing tensor, wrong dtype or wrong shape', () => {
    expectFormatError(() => tensorF32(m, 'dec.w', [3, 2]), /missing tensor "dec.w" with shape \[3,2\]/);
    expectFormatError(() => tensorF32(m, 'n'), /tensor "n": expected dtype F32, got I32/);
    expectFormatError(() => tensorF32(m, 'w', [3, 2]), /tensor "w": expected shape \[3,2\], got \[2,3\]/);
    expectFormatError(() => tensorF32(m, 'w', [6]), /tensor "w": expected shape \[6\], got \[2,3\]/);
  });
});

describe('writeFileAtomic / readFileBytes', () => {
  it('writes, replaces an existing file, and leaves no temp files behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wasm-vae-atomic-'));
    try {
      const target = join(dir, 'model.safetensors');
      const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: f32(1, 2) } });
      await writeFileAtomic(target, bytes);
      expect(Array.from(await readFileBytes(target))).toEqual(Array.from(bytes));
      expect(await readdir(dir)).toEqual(['model.safetensors']);

      await writeFile(join(dir, 'notes.txt'), 'old contents that are longer than the new ones');
      await writeFileAtomic(join(dir, 'notes.txt'), 'new ✓');
      expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe('new ✓');
      expect((await readdir(dir)).sort()).toEqual(['model.safetensors', 'notes.txt']);

      const read = await readFileBytes(target);
      expect(Object.getPrototypeOf(read)).toBe(Uint8Array.prototype);
      expect(tensorF32(decodeSafetensors(read).tensors, 'w', [2])).toEqual(f32(1, 2));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('removes the temp file and rethrows when the rename fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wasm-vae-atomic-'));
    try {
      const target = join(dir, 'occupied');
      await mkdir(target);
      await writeFile(join(target, 'keep'), 'x'); // non-empty directory: rename over it must fail
      await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
      expect(await readdir(dir)).toEqual(['occupied']);
      await expect(writeFileAtomic(join(dir, 'missing', 'f'), 'data')).rejects.toThrow();
      expect(await readdir(dir)).toEqual(['occupied']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
