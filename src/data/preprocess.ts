/**
 * Data preprocessing and validation. Browser-safe: no Node imports.
 *
 * Contract:
 * - Matrices are row-major `{ data: Float32Array, rows, cols }`.
 * - `toMatrix` accepts a flat Float32Array plus `cols` (returned without copying) or an array of
 *   equal-length rows (copied). Wrong shapes → `ShapeError`; empty data → `DataError`;
 *   a missing/invalid `cols` or an unsupported input type → `ConfigError`.
 * - `checkFinite` / `checkUnitInterval` throw `DataError` naming the first offending value with
 *   its 0-based row and column (and flat index).
 * - `binarizeThreshold` maps x > t to 1 and everything else to 0. (Sampled binarization, static
 *   or dynamic, runs on the wasm RNG: VAE.binarizeOnce and the trainer.)
 * - All transforms return new arrays and never modify their input.
 */
import { ConfigError, DataError, ShapeError } from '../errors.js';
import { describe } from '../options.js';

export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/**
 * How binary (Bernoulli) training data was produced, recorded with models:
 * 'none' = raw values in [0, 1]; 'static' = sampled once (on the wasm RNG, keyed by the model seed);
 * 'dynamic' = resampled every epoch; 'threshold' = `binarizeThreshold`.
 */
export type Binarization = 'none' | 'static' | 'dynamic' | 'threshold';

export const BINARIZATIONS: readonly Binarization[] = ['none', 'static', 'dynamic', 'threshold'];

export function isBinarization(x: unknown): x is Binarization {
  return typeof x === 'string' && (BINARIZATIONS as readonly string[]).includes(x);
}

function checkCols(cols: number, fn: string): void {
  if (!Number.isInteger(cols) || cols <= 0) {
    throw new ConfigError(`${fn}: cols must be a positive integer, got ${describe(cols)}`);
  }
}

/**
 * Normalise input data to a row-major matrix.
 * - `Float32Array` + `cols`: length must be a non-zero multiple of `cols`; the array is not copied.
 * - array of rows (arrays or typed arrays): all rows must have the same non-zero length, which
 *   must equal `cols` when given; values are copied into a new Float32Array.
 */
export function toMatrix(x: Float32Array | ArrayLike<number>[] | number[][], cols?: number): Matrix {
  if (x instanceof Float32Array) {
    if (cols === undefined) {
      throw new ConfigError('toMatrix: cols is required when the data is a flat Float32Array');
    }
    checkCols(cols, 'toMatrix');
    if (x.length === 0) throw new DataError('toMatrix: data is empty');
    if (x.length % cols !== 0) {
      throw new ShapeError(`toMatrix: data length ${x.length} is not divisible by cols ${cols}`);
    }
    return { data: x, rows: x.length / cols, cols };
  }
  if (!Array.isArray(x)) {
    throw new ConfigError(
      'toMatrix: expected a Float32Array (with cols) or an array of rows' +
        (ArrayBuffer.isView(x) ? '; convert other typed arrays first (e.g. uint8ToUnit for bytes)' : ''),
    );
  }
  if (cols !== undefined) checkCols(cols, 'toMatrix');
  const rows = x.length;
  if (rows === 0) throw new DataError('toMatrix: data has no rows');
  const first = x[0];
  if (first === null || typeof first !== 'object' || typeof first.length !== 'number') {
    throw new ConfigError('toMatrix: expected an array of rows (arrays of numbers)');
  }
  const width = first.length;
  if (width === 0) throw new DataError('toMatrix: rows are empty (0 columns)');
  if (cols !== undefined && width !== cols) {
    throw new ShapeError(`toMatrix: rows have ${width} columns but cols is ${cols}`);
  }
  const data = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const row = x[r];
    if (row === null || typeof row !== 'object' || typeof row.length !== 'number') {
      throw new ConfigError(`toMatrix: row ${r} is not an array`);
    }
    if (row.length !== width) {
      throw new ShapeError(`toMatrix: row ${r} has ${row.length} columns but row 0 has ${width}`);
    }
    for (let c = 0; c < width; c++) {
      const v = row[c];
      if (typeof v !== 'number') {
        throw new DataError(`toMatrix: value at row ${r}, col ${c} is not a number (${typeof v})`);
      }
      data[r * width + c] = v;
    }
  }
  return { data, rows, cols: width };
}

/**
 * A Matrix the caller built, checked before it is used: `data` a Float32Array, `rows` and `cols`
 * positive integers with rows × cols = data.length. Anything else → `ConfigError` / `ShapeError`.
 */
export function checkMatrix(m: { data?: unknown; rows?: unknown; cols?: unknown }, what: string): Matrix {
  const { data, rows, cols } = m;
  if (!ArrayBuffer.isView(data) || Object.prototype.toString.call(data) !== '[object Float32Array]')
    throw new ConfigError(`${what}: a { data, rows, cols } matrix needs data as a Float32Array`);
  if (
    !Number.isSafeInteger(rows) ||
    (rows as number) < 0 ||
    !Number.isSafeInteger(cols) ||
    (cols as number) < 1
  )
    throw new ConfigError(
      `${what}: a { data, rows, cols } matrix needs integer rows ≥ 0 and cols ≥ 1, got ${describe(rows)} × ${describe(cols)}`,
    );
  return { data: data as Float32Array, rows: rows as number, cols: cols as number };
}

/**
 * Throws `DataError` when a result the model computed holds NaN or ±Infinity: the model's weights
 * overflow float32 on this input (a hostile or broken model file, or an input far outside the data).
 */
export function checkComputed(data: ArrayLike<number>, what: string, cols?: number): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v))
      throw new DataError(
        `the model computes a non-finite ${what} (${v} at ${where(i, cols)}): its weights overflow float32 on this input`,
      );
  }
}

function where(i: number, cols?: number): string {
  return cols === undefined ? `index ${i}` : `row ${Math.floor(i / cols)}, col ${i % cols} (index ${i})`;
}

/**
 * Throw `DataError` when `data` holds NaN or ±Infinity. `what` names the data in the message;
 * when `cols` is given the position is reported as 0-based row and column.
 */
export function checkFinite(data: Float32Array, what: string, cols?: number): void {
  if (cols !== undefined) checkCols(cols, 'checkFinite');
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) {
      throw new DataError(`${what} contains a non-finite value ${v} at ${where(i, cols)}`);
    }
  }
}

/**
 * Throw `DataError` when any value of `data` lies outside [0, 1] (or is NaN), as the Bernoulli
 * likelihood requires. Reports the first offender with its 0-based row and column.
 */
export function checkUnitInterval(
  data: Float32Array,
  cols: number,
  what: string,
  likelihood: 'bernoulli' | 'continuous-bernoulli' = 'bernoulli',
): void {
  checkCols(cols, 'checkUnitInterval');
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!(v >= 0 && v <= 1)) {
      throw new DataError(
        `${what} has value ${v} at ${where(i, cols)} outside [0, 1], which the ${likelihood === 'bernoulli' ? 'Bernoulli' : 'continuous Bernoulli'} likelihood requires ` +
          '(scale the data into [0, 1], e.g. divide bytes by 255)',
      );
    }
  }
}

const U8_UNIT = /* @__PURE__ */ (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) t[i] = i / 255;
  return t;
})();

/** Bytes 0..255 → Float32 in [0, 1] (divided by 255). */
export function uint8ToUnit(u8: Uint8Array): Float32Array {
  const out = new Float32Array(u8.length);
  for (let i = 0; i < u8.length; i++) out[i] = U8_UNIT[u8[i]!]!;
  return out;
}

/** Deterministic binarization: out[i] = data[i] > t ? 1 : 0 (NaN → 0). */
export function binarizeThreshold(data: Float32Array, t = 0.5): Float32Array {
  if (typeof t !== 'number' || !Number.isFinite(t)) {
    throw new ConfigError(`binarizeThreshold: threshold must be a finite number, got ${describe(t)}`);
  }
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! > t ? 1 : 0;
  return out;
}

/**
 * One-hot rows from class labels (an IDX label file's u8 array, or any integers): row i has a 1 in
 * column labels[i] and 0 elsewhere — the condition of a conditional VAE. `classes` defaults to the
 * largest label + 1. A label that is not an integer in [0, classes) is a DataError naming it.
 */
export function oneHot(labels: ArrayLike<number>, classes?: number): Matrix {
  if (!labels || typeof labels.length !== 'number')
    throw new DataError('oneHot needs an array of labels (e.g. the u8 array of an IDX label file)');
  const n = labels.length;
  if (n === 0) throw new DataError('oneHot: no labels');
  let k = classes;
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    if (!Number.isInteger(c) || c < 0)
      throw new DataError(`oneHot: label ${c} at index ${i} is not a non-negative integer`);
  }
  if (k === undefined) {
    k = 0;
    for (let i = 0; i < n; i++) k = Math.max(k, labels[i] + 1);
  }
  if (!Number.isSafeInteger(k) || k < 1 || k > 65536)
    throw new DataError(`oneHot: classes must be an integer in [1, 65536], got ${k}`);
  if (n * k > 2 ** 28) throw new DataError(`oneHot: ${n} rows of ${k} classes exceed 2^28 floats`);
  const data = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    if (!Number.isInteger(c) || c < 0 || c >= k)
      throw new DataError(`oneHot: label ${c} at index ${i} is not an integer in [0, ${k})`);
    data[i * k + c] = 1;
  }
  return { data, rows: n, cols: k };
}
