// Property-based fuzzing of the data readers: parseIdx on random bytes and on mutations of valid
// IDX files (every type code, 1-3 dimensions), parseIdxMaybeGzip on their gzip and on damaged or
// bomb-like gzip streams, idxImagesToFloat32, and parseCsv on random text, hostile options and
// pathological cells — plus a round trip of numeric matrices through CSV text. Only the readers'
// typed errors come out, within the time bound, and decompression stops at the size the header
// declares (or the limit).
import { describe, it, afterAll, expect } from 'vitest';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parseIdx, parseIdxMaybeGzip, gunzip, idxImagesToFloat32 } from '../../src/data/idx.js';
import { parseCsv } from '../../src/data/csv.js';
import { FormatError, ConfigError, ShapeError, DataError } from '../../src/errors.js';
import { params, typed, counts, expectJsMemoryBelow, nastyValue } from './harness.js';
import { applyBytes, byteOp } from './files.js';

afterAll(() => {
  expectJsMemoryBelow(2 ** 30);
  console.log(`[fuzz] data: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`);
});

const TYPES = [
  { code: 0x08, size: 1, set: (v: DataView, o: number, x: number) => v.setUint8(o, x) },
  { code: 0x09, size: 1, set: (v: DataView, o: number, x: number) => v.setInt8(o, x) },
  { code: 0x0b, size: 2, set: (v: DataView, o: number, x: number) => v.setInt16(o, x, false) },
  { code: 0x0c, size: 4, set: (v: DataView, o: number, x: number) => v.setInt32(o, x, false) },
  { code: 0x0d, size: 4, set: (v: DataView, o: number, x: number) => v.setFloat32(o, x, false) },
  { code: 0x0e, size: 8, set: (v: DataView, o: number, x: number) => v.setFloat64(o, x, false) },
];

/** A valid IDX file. */
const idxFile = fc
  .record({
    type: fc.nat({ max: TYPES.length - 1 }),
    dims: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 }),
    seed: fc.nat(),
  })
  .map(({ type, dims, seed }) => {
    const t = TYPES[type],
      n = dims.reduce((a, b) => a * b, 1);
    const out = new Uint8Array(4 + 4 * dims.length + n * t.size);
    const v = new DataView(out.buffer);
    out[2] = t.code;
    out[3] = dims.length;
    dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
    let s = seed;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      t.set(v, 4 + 4 * dims.length + i * t.size, t.code >= 0x0d ? (s / 2 ** 32) * 2 - 1 : s & 0x7f);
    }
    return out;
  });

/** parseIdx under the promise: FormatError (or ConfigError for a non-Uint8Array) or a consistent result. */
async function parsesIdx(what: string, f: () => unknown): Promise<void> {
  const r = await typed(what, f as () => ReturnType<typeof parseIdx> | Promise<ReturnType<typeof parseIdx>>);
  if (!r.ok) {
    if (!(r.error instanceof FormatError || r.error instanceof ConfigError))
      throw new Error(`${what} threw ${r.error.name}: ${r.error.message}`);
    return;
  }
  const idx = r.value;
  expect(idx.data.length).toBe(idx.dims.reduce((a, b) => a * b, 1));
  const m = await typed('idxImagesToFloat32', () => idxImagesToFloat32(idx));
  if (m.ok) expect(m.value.data.length).toBe(m.value.rows * m.value.cols);
  else if (!(m.error instanceof ShapeError || m.error instanceof ConfigError)) throw m.error;
}

const bombs = new Map<string, Uint8Array>();
/** gzip of 8 + bodyBytes bytes of zeros, with (or without) an IDX header declaring far fewer. */
function bomb(rowsDeclared: number, bodyBytes: number, header: boolean): Uint8Array {
  const key = `${rowsDeclared},${bodyBytes},${header}`;
  let gz = bombs.get(key);
  if (!gz) {
    const body = new Uint8Array(8 + bodyBytes);
    if (header) {
      // u8, dims [rowsDeclared, 1]
      body.set([0, 0, 0x08, 2]);
      new DataView(body.buffer).setUint32(4, rowsDeclared, false);
      new DataView(body.buffer).setUint32(8, 1, false);
    }
    gz = new Uint8Array(gzipSync(body));
    bombs.set(key, gz);
  }
  return gz;
}

describe('fuzz: IDX', () => {
  it('parseIdx of random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), (b) => parsesIdx('parseIdx', () => parseIdx(b))),
      params('idx.random', 3000),
    );
  });

  it('parseIdx of mutated valid files', async () => {
    await fc.assert(
      fc.asyncProperty(idxFile, fc.array(byteOp, { maxLength: 3 }), (f, ops) =>
        parsesIdx('parseIdx', () => parseIdx(applyBytes(f, ops))),
      ),
      params('idx.mutations', 3000),
    );
  });

  it('parseIdxMaybeGzip of gzipped mutated files, and of damaged gzip', async () => {
    await fc.assert(
      fc.asyncProperty(
        idxFile,
        fc.array(byteOp, { maxLength: 2 }),
        fc.array(byteOp, { maxLength: 2 }),
        (f, inner, outer) => {
          const gz = applyBytes(gzipSync(applyBytes(f, inner)), outer);
          return parsesIdx('parseIdxMaybeGzip', () => parseIdxMaybeGzip(gz));
        },
      ),
      params('idx.gzip', 1500),
    );
  });

  it('gzip bombs: decompression stops at what the header declares, or at maxBytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 64 }),
        fc.constantFrom(2 ** 20, 2 ** 23, 2 ** 24),
        fc.boolean(),
        async (rowsDeclared, bodyBytes, header) => {
          const gz = bomb(rowsDeclared, bodyBytes, header);
          const r = await typed(
            'parseIdxMaybeGzip',
            () => parseIdxMaybeGzip(gz, { maxBytes: 2 ** 22 }),
            1000,
          );
          expect(r.ok).toBe(false);
          if (!r.ok) expect(r.error).toBeInstanceOf(FormatError);
          const g = await typed('gunzip', () => gunzip(gz, { maxBytes: 2 ** 22 }), 1000);
          if (bodyBytes + 8 > 2 ** 22) expect(g.ok).toBe(false);
          else expect(g.ok && g.value.length).toBe(bodyBytes + 8);
        },
      ),
      params('idx.bombs', 40, 400), // 384 distinct inputs
    );
  });

  it('hostile arguments', async () => {
    await fc.assert(
      fc.asyncProperty(nastyValue, nastyValue, async (b, o) => {
        await typed('parseIdx', () => parseIdx(b as Uint8Array));
        await typed('parseIdxMaybeGzip', () => parseIdxMaybeGzip(b as Uint8Array, o as never));
        await typed('gunzip', () => gunzip(new Uint8Array([0x1f, 0x8b]), o as never));
      }),
      params('idx.args', 300),
    );
  });
});

// ---------------------------------------------------------------------------------------------

const csvTyped = async (text: unknown, opts?: unknown) => {
  const r = await typed('parseCsv', () => parseCsv(text as string, opts as never));
  if (r.ok) {
    expect(r.value.data.length).toBe(r.value.rows * r.value.cols);
    expect(r.value.rows).toBeGreaterThan(0);
  } else if (!(
    r.error instanceof FormatError ||
    r.error instanceof ConfigError ||
    r.error instanceof DataError
  )) {
    throw r.error;
  }
  return r;
};

const csvChar = fc.constantFrom(...'0123456789.,;-+eE \t\n\r#"aNIfn'.split(''), '\uFEFF', '\u0000', 'é');
const csvOpts = fc.oneof(
  fc.constant(undefined),
  fc.record(
    {
      delimiter: fc.oneof(fc.constantFrom(',', ';', ' ', '\t', '', '  ', ',,', '"'), nastyValue),
      header: fc.oneof(fc.constantFrom<unknown>(true, false, 'auto'), nastyValue),
      columns: fc.oneof(fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 4 }), nastyValue),
    },
    { requiredKeys: [] },
  ),
  nastyValue,
);

describe('fuzz: CSV', () => {
  it('random text and options', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(csvChar, { maxLength: 120 }).map((a) => a.join('')),
        csvOpts,
        (t, o) => csvTyped(t, o).then(() => undefined),
      ),
      params('csv.random', 4000),
    );
  });

  it('pathological cells (very long numbers, signs, exponents) parse in linear time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1000, max: 100_000 }),
        fc.constantFrom('x', '.', 'e', 'e+', '.5e', '..', '-', ''),
        fc.constantFrom('', '-', '.', '1.'),
        async (n, tail, lead) => {
          await csvTyped(`1,2\n${lead}${'1'.repeat(n)}${tail},3\n`);
        },
      ),
      params('csv.long-cells', 60),
    );
  });

  it('numeric matrices round-trip through CSV text (delimiters, header, quotes, comments, CRLF)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }).chain((c) =>
          fc.array(
            fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e30, max: 1e30 }), {
              minLength: c,
              maxLength: c,
            }),
            {
              minLength: 1,
              maxLength: 5,
            },
          ),
        ),
        fc.constantFrom(',', ';', '\t', ' '),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.boolean(),
        fc.boolean(),
        async (m, d, nl, header, quote) => {
          const q = (s: string) => (quote ? `"${s}"` : s);
          const lines = m.map((r) => r.map((v) => q(String(v))).join(d));
          if (header) lines.unshift(m[0].map((_, j) => q(`col${j}`)).join(d));
          const text = `# a comment${nl}${lines.join(`${nl}${nl}`)}${nl}`;
          const r = await csvTyped(text, { delimiter: d });
          if (!r.ok) throw r.error;
          expect(r.value.rows).toBe(m.length);
          expect(Array.from(r.value.data)).toEqual(m.flat().map((v) => Math.fround(Number(String(v)))));
          if (header) expect(r.value.header).toEqual(m[0].map((_, j) => `col${j}`));
        },
      ),
      params('csv.roundtrip', 1500),
    );
  });
});
