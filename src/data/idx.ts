/**
 * IDX file parsing (the MNIST / Fashion-MNIST container format). Browser-safe: no Node imports.
 *
 * Contract:
 * - `parseIdx(bytes)` decodes one IDX file: bytes 0-1 are zero, byte 2 is the type code
 *   (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64), byte 3 the number of dimensions
 *   (1..255), then one big-endian u32 per dimension, then exactly prod(dims) big-endian values.
 *   The result owns its data (never a view into `bytes`). Anything else — bad magic, unknown type,
 *   zero dimensions, truncated header or body, trailing bytes, a size that cannot be represented —
 *   throws `FormatError` naming the problem.
 * - `isGzip` / `gunzip` / `parseIdxMaybeGzip` handle `.gz` files via the standard
 *   `DecompressionStream('gzip')` (Node >= 18, modern browsers). Corrupt gzip → `FormatError`.
 * - `idxImagesToFloat32(idx)` flattens (N, d1, d2, ...) into N rows of d1*d2*... columns.
 *   u8 data is scaled by 1/255 into [0, 1]; f32/f64 data is copied as is; integer types other
 *   than u8 throw `ConfigError` (their scale is unknown).
 */
import { ConfigError, FormatError, ShapeError } from '../errors.js';
import { describe } from '../options.js';
import { uint8ToUnit, type Matrix } from './preprocess.js';

export type IdxDtype = 'u8' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';
export type IdxArray = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface Idx {
  /** Dimensions, outermost first (e.g. [60000, 28, 28] for MNIST training images). */
  dims: number[];
  dtype: IdxDtype;
  /** Row-major values, length prod(dims). */
  data: IdxArray;
}

const TYPE_CODES: Record<number, { dtype: IdxDtype; size: number }> = {
  0x08: { dtype: 'u8', size: 1 },
  0x09: { dtype: 'i8', size: 1 },
  0x0b: { dtype: 'i16', size: 2 },
  0x0c: { dtype: 'i32', size: 4 },
  0x0d: { dtype: 'f32', size: 4 },
  0x0e: { dtype: 'f64', size: 8 },
};

const hex = (b: number): string => '0x' + b.toString(16).padStart(2, '0');

/** Decode one (uncompressed) IDX file. Throws `FormatError` on malformed input. */
export function parseIdx(bytes: Uint8Array): Idx {
  if (!(bytes instanceof Uint8Array)) {
    throw new ConfigError('parseIdx: expected a Uint8Array');
  }
  if (bytes.length < 4) {
    throw new FormatError(`IDX: truncated header: need at least 4 bytes, got ${bytes.length}`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new FormatError(
      `IDX: bad magic: the first two bytes must be 0x00 0x00, got ${hex(bytes[0]!)} ${hex(bytes[1]!)}` +
        (bytes[0] === 0x1f && bytes[1] === 0x8b
          ? ' (this looks gzip-compressed; use parseIdxMaybeGzip)'
          : ''),
    );
  }
  const code = bytes[2]!;
  const type = TYPE_CODES[code];
  if (type === undefined) {
    throw new FormatError(
      `IDX: unknown type code ${hex(code)} (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)`,
    );
  }
  const ndims = bytes[3]!;
  if (ndims === 0) throw new FormatError('IDX: zero dimensions');
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen) {
    throw new FormatError(
      `IDX: truncated header: ${ndims} dimensions need ${headerLen} bytes, got ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));

  // Element count, guarding against products that are not exactly representable.
  let count = 1;
  if (!dims.includes(0)) {
    for (const d of dims) {
      if (count > Number.MAX_SAFE_INTEGER / d / type.size) {
        throw new FormatError(
          `IDX: size overflow: dims [${dims.join(', ')}] describe more bytes than can be addressed`,
        );
      }
      count *= d;
    }
  } else {
    count = 0;
  }
  const bodyLen = count * type.size;
  const available = bytes.length - headerLen;
  if (available < bodyLen) {
    throw new FormatError(
      `IDX: truncated data: dims [${dims.join(', ')}] of ${type.dtype} need ${bodyLen} bytes after the header, got ${available}`,
    );
  }
  if (available > bodyLen) {
    throw new FormatError(
      `IDX: ${available - bodyLen} trailing bytes after the ${bodyLen} data bytes of dims [${dims.join(', ')}]`,
    );
  }

  const off = headerLen;
  let data: IdxArray;
  switch (type.dtype) {
    case 'u8':
      data = bytes.slice(off, off + count);
      break;
    case 'i8':
      data = new Int8Array(bytes.slice(off, off + count).buffer);
      break;
    case 'i16': {
      const a = new Int16Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getInt16(off + 2 * i, false);
      data = a;
      break;
    }
    case 'i32': {
      const a = new Int32Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getInt32(off + 4 * i, false);
      data = a;
      break;
    }
    case 'f32': {
      const a = new Float32Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getFloat32(off + 4 * i, false);
      data = a;
      break;
    }
    case 'f64': {
      const a = new Float64Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getFloat64(off + 8 * i, false);
      data = a;
      break;
    }
  }
  return { dims, dtype: type.dtype, data };
}

/** True when `bytes` starts with the gzip magic 0x1f 0x8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Largest decompressed size `gunzip` accepts unless told otherwise: 1 GiB (MNIST's training images are 47 MB). */
export const DEFAULT_MAX_GUNZIP_BYTES = 2 ** 30;

export interface GunzipOptions {
  /** Refuse (FormatError) once the decompressed data pass this many bytes. Default 1 GiB. */
  maxBytes?: number;
}

/**
 * Decompress a gzip stream with the platform's `DecompressionStream`. Corrupt input, or output past
 * `maxBytes` (a gzip bomb), → `FormatError`; the stream is cancelled as soon as the limit is passed.
 */
export async function gunzip(bytes: Uint8Array, opts: GunzipOptions = {}): Promise<Uint8Array> {
  const max = maxBytesOf(opts);
  return inflate(
    bytes,
    () => max,
    (n) => `gzip: the decompressed data pass the limit of ${n} bytes`,
  );
}

function maxBytesOf(opts: GunzipOptions | null | undefined): number {
  const max = opts?.maxBytes ?? DEFAULT_MAX_GUNZIP_BYTES;
  if (!Number.isSafeInteger(max) || max < 0)
    throw new ConfigError(`gunzip: maxBytes must be a non-negative integer, got ${describe(max)}`);
  return max;
}

/** Bytes the first `IDX_HEAD` decompressed bytes must cover to hold any IDX header (4 + 4 × 255). */
const IDX_HEAD = 1024;

/**
 * Inflates, refusing output past `limitOf(head)` bytes, where `head` is the first IDX_HEAD bytes so
 * far (so a caller that knows the format can tighten the limit once the header is in).
 */
async function inflate(
  bytes: Uint8Array,
  limitOf: (head: Uint8Array) => number,
  tooLong: (limit: number) => string,
): Promise<Uint8Array> {
  if (!(bytes instanceof Uint8Array)) throw new ConfigError('gunzip: expected a Uint8Array');
  if (typeof DecompressionStream === 'undefined') {
    throw new ConfigError(
      'gunzip: DecompressionStream is not available in this environment (need Node >= 18 or a modern browser)',
    );
  }
  const ds = new DecompressionStream('gzip');
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  // The stream API wants a plain ArrayBuffer-backed view; copy only if necessary.
  const input =
    bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
  const write = (async () => {
    await writer.write(input);
    await writer.close();
  })();
  write.catch(() => {
    /* reported by the reader (or moot once it is cancelled) */
  });
  const chunks: Uint8Array[] = [];
  let total = 0,
    head = new Uint8Array(0);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
      if (head.length < IDX_HEAD) {
        const h = new Uint8Array(Math.min(IDX_HEAD, head.length + value.length));
        h.set(head);
        h.set(value.subarray(0, h.length - head.length), head.length);
        head = h;
      }
      const limit = limitOf(head);
      if (total > limit) throw new FormatError(tooLong(limit));
    }
    await write;
  } catch (err) {
    reader.cancel().catch(() => {});
    if (err instanceof FormatError) throw err;
    throw new FormatError(`gzip: cannot decompress: ${err instanceof Error ? err.message : String(err)}`);
  }
  const out = new Uint8Array(total);
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/**
 * Bytes an IDX file with this header must have; null while the header is still incomplete. A
 * prefix that cannot start an IDX file throws parseIdx's FormatError for it.
 */
function idxFileBytes(head: Uint8Array): number | null {
  if (head.length < 4) return null;
  const type = TYPE_CODES[head[2]!],
    ndims = head[3]!;
  if (head[0] !== 0 || head[1] !== 0 || type === undefined || ndims === 0) parseIdx(head); // throws
  if (head.length < 4 + 4 * ndims) return null;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let n = type!.size;
  for (let i = 0; i < ndims; i++) n *= view.getUint32(4 + 4 * i, false);
  return 4 + 4 * ndims + n;
}

/**
 * `parseIdx`, decompressing first when the bytes are gzip. The decompression stops (FormatError) as
 * soon as the data pass what the IDX header declares, or `maxBytes`.
 */
export async function parseIdxMaybeGzip(bytes: Uint8Array, opts: GunzipOptions = {}): Promise<Idx> {
  if (!(bytes instanceof Uint8Array)) throw new ConfigError('parseIdx: expected a Uint8Array');
  if (!isGzip(bytes)) return parseIdx(bytes);
  const max = maxBytesOf(opts);
  let declared: number | null = null;
  const raw = await inflate(
    bytes,
    (head) => {
      declared = idxFileBytes(head);
      if (declared !== null && declared > max)
        throw new FormatError(`IDX (gzip): the header declares ${declared} bytes, past the limit of ${max}`);
      return declared ?? max;
    },
    (limit) =>
      declared !== null
        ? `IDX (gzip): the decompressed data pass the ${declared} bytes its header declares`
        : `gzip: the decompressed data pass the limit of ${limit} bytes`,
  );
  return parseIdx(raw);
}

/**
 * Flatten IDX images (N, H, W, ...) into a row-major matrix of N rows × H*W*... columns.
 * u8 is scaled to [0, 1] by /255; f32/f64 are copied unchanged; other dtypes → `ConfigError`.
 */
export function idxImagesToFloat32(idx: Idx): Matrix {
  if (idx.dims.length < 2) {
    throw new ShapeError(
      `idxImagesToFloat32: expected at least 2 dimensions (N, H, W), got [${idx.dims.join(', ')}]`,
    );
  }
  const rows = idx.dims[0]!;
  const cols = idx.dims.slice(1).reduce((a, b) => a * b, 1);
  if (idx.data.length !== rows * cols) {
    throw new ShapeError(
      `idxImagesToFloat32: data length ${idx.data.length} does not match dims [${idx.dims.join(', ')}]`,
    );
  }
  let data: Float32Array;
  if (idx.dtype === 'u8') {
    data = uint8ToUnit(idx.data as Uint8Array);
  } else if (idx.dtype === 'f32' || idx.dtype === 'f64') {
    data = Float32Array.from(idx.data as Float32Array | Float64Array);
  } else {
    throw new ConfigError(
      `idxImagesToFloat32: cannot scale ${idx.dtype} images to [0, 1]; only u8 (scaled by 1/255) and f32/f64 (copied) are supported`,
    );
  }
  return { data, rows, cols };
}
