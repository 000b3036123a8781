/**
 * safetensors reader/writer (pure TypeScript, no Node imports: runs in browsers too).
 *
 * Format (https://huggingface.co/docs/safetensors): an 8-byte little-endian u64 header length N,
 * then N bytes of UTF-8 JSON `{"__metadata__": {string: string}, "<name>": {"dtype": "F32",
 * "shape": [..], "data_offsets": [begin, end]}, ...}`, then the data section. Offsets are relative
 * to the start of the data section; tensor data are row-major and little-endian.
 *
 * Contract:
 * - `encodeSafetensors` writes tensors contiguously in insertion order, pads the header with
 *   trailing spaces so the data section starts at an 8-byte aligned file offset, and throws
 *   `ConfigError` (bad name / dtype / array class / metadata) or `ShapeError` (bad shape, or data
 *   length != product(shape)).
 * - `decodeSafetensors` treats its input as hostile: any malformed, truncated or inconsistent
 *   input throws `FormatError` with a message naming the problem (and the tensor, where there is
 *   one); it never throws anything else for bad bytes. Every returned typed array is a fresh copy
 *   (so unaligned offsets are fine and the input buffer may be reused). Tensors must exactly tile
 *   the data section: no overlaps, no gaps, no trailing bytes. The returned Map lists tensors in
 *   header order; duplicate keys anywhere in the header are rejected.
 * - Values are read and written little-endian regardless of the host's byte order.
 */
import { ConfigError, FormatError, ShapeError } from '../errors.js';

export type Dtype = 'F32' | 'F64' | 'I32' | 'U32' | 'U8' | 'I64';

export type TensorData = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array | BigInt64Array;

export interface TensorEntry {
  dtype: Dtype;
  shape: number[];
  data: TensorData;
}

export interface DecodeOptions {
  /** Largest accepted JSON header in bytes. Default 100 MB. */
  maxHeaderBytes?: number;
}

export interface DecodedSafetensors {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

interface DtypeInfo {
  size: number;
  /** `Symbol.toStringTag` of the matching typed array class (realm independent). */
  tag: string;
  make: (length: number) => TensorData;
}

const DTYPES: Readonly<Record<Dtype, DtypeInfo>> = {
  F32: { size: 4, tag: 'Float32Array', make: (n) => new Float32Array(n) },
  F64: { size: 8, tag: 'Float64Array', make: (n) => new Float64Array(n) },
  I32: { size: 4, tag: 'Int32Array', make: (n) => new Int32Array(n) },
  U32: { size: 4, tag: 'Uint32Array', make: (n) => new Uint32Array(n) },
  U8: { size: 1, tag: 'Uint8Array', make: (n) => new Uint8Array(n) },
  I64: { size: 8, tag: 'BigInt64Array', make: (n) => new BigInt64Array(n) },
};

/** Default `maxHeaderBytes`: 100 MB. */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';
const ENTRY_FIELDS = new Set(['dtype', 'shape', 'data_offsets']);
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, s);
}

/** Quote a (possibly hostile, possibly huge) name for an error message. */
function q(name: string): string {
  const s = name.length > 120 ? `${name.slice(0, 120)}…` : name;
  return JSON.stringify(s);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Product of non-negative safe integers, or `null` if it is not a safe integer. */
function safeProduct(dims: readonly number[]): number | null {
  if (dims.includes(0)) return 0;
  let p = 1;
  for (const d of dims) {
    p *= d;
    if (!Number.isSafeInteger(p)) return null;
  }
  return p;
}

/** Reverse each `size`-byte group in place (LE <-> host order on big-endian hosts). */
function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i + size <= bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/**
 * Serialize tensors (in insertion order; note that a plain object lists integer-like keys
 * first) and optional string metadata to safetensors bytes. `__metadata__` is omitted when
 * `metadata` is undefined or empty.
 */
export function encodeSafetensors(
  tensors: Record<string, TensorEntry> | Map<string, TensorEntry>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries: [string, TensorEntry][] =
    tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);

  const parts: string[] = [];
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) {
      throw new ConfigError(`safetensors metadata must be an object of strings, got ${describe(metadata)}`);
    }
    const metaEntries = Object.entries(metadata);
    for (const [k, v] of metaEntries) {
      if (typeof v !== 'string') {
        throw new ConfigError(
          `safetensors metadata value for key ${q(k)} must be a string, got ${describe(v)}`,
        );
      }
    }
    if (metaEntries.length > 0) {
      const body = metaEntries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',');
      parts.push(`${JSON.stringify(METADATA_KEY)}:{${body}}`);
    }
  }

  const sources: { data: TensorData; size: number }[] = [];
  let offset = 0;
  for (const [name, entry] of entries) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new ConfigError('safetensors tensor names must be non-empty strings');
    }
    if (name === METADATA_KEY) {
      throw new ConfigError(`safetensors tensor name ${q(name)} is reserved`);
    }
    if (!isPlainObject(entry)) {
      throw new ConfigError(`tensor ${q(name)}: entry must be an object { dtype, shape, data }`);
    }
    const { dtype, shape, data } = entry;
    if (!isDtype(dtype)) {
      throw new ConfigError(
        `tensor ${q(name)}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPES).join(', ')})`,
      );
    }
    const info = DTYPES[dtype];
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      throw new ShapeError(`tensor ${q(name)}: shape must be an array of non-negative safe integers`);
    }
    const tag = ArrayBuffer.isView(data) ? Object.prototype.toString.call(data).slice(8, -1) : describe(data);
    if (tag !== info.tag) {
      throw new ConfigError(`tensor ${q(name)}: dtype ${dtype} needs a ${info.tag}, got ${tag}`);
    }
    const numel = safeProduct(shape);
    if (numel === null) {
      throw new ShapeError(`tensor ${q(name)}: element count of shape ${shapeText(shape)} overflows`);
    }
    if (data.length !== numel) {
      throw new ShapeError(
        `tensor ${q(name)}: data length ${data.length} does not match shape ${shapeText(shape)} (${numel} elements)`,
      );
    }
    const begin = offset;
    offset += numel * info.size;
    if (!Number.isSafeInteger(offset)) {
      throw new ShapeError('safetensors data section too large');
    }
    const desc = `{"dtype":${JSON.stringify(dtype)},"shape":[${shape.map((d) => (d === 0 ? 0 : d)).join(',')}],"data_offsets":[${begin},${offset}]}`;
    parts.push(`${JSON.stringify(name)}:${desc}`);
    sources.push({ data, size: info.size });
  }

  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8; // 8 + headerLen is then a multiple of 8
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);

  let pos = 8 + headerLen;
  for (const { data, size } of sources) {
    const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    out.set(src, pos);
    if (!HOST_LE && size > 1) swapBytes(out.subarray(pos, pos + src.length), size);
    pos += src.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/**
 * Reject duplicate keys in any JSON object of the header (JSON.parse silently keeps the last
 * one) and return the top-level keys in file order (JSON.parse lists integer-like keys first).
 * `text` must already be known to be a valid JSON object.
 */
function scanHeaderKeys(text: string): string[] {
  const topKeys: string[] = [];
  interface Frame {
    isObject: boolean;
    expectKey: boolean;
    keys: Set<string>;
    owner: string | null;
    lastKey: string | null;
  }
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) j += 2;
        else if (d === 0x22) break;
        else j++;
      }
      const top = stack[stack.length - 1];
      if (top !== undefined && top.isObject && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) {
          const where = top.owner === null ? 'in header' : `in entry ${q(top.owner)}`;
          throw new FormatError(`safetensors header has duplicate key ${q(key)} ${where}`);
        }
        top.keys.add(key);
        if (stack.length === 1) topKeys.push(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const parent = stack[stack.length - 1];
      stack.push({
        isObject: c === 0x7b,
        expectKey: c === 0x7b,
        keys: new Set(),
        owner: parent === undefined ? null : (parent.owner ?? parent.lastKey),
        lastKey: null,
      });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top !== undefined && top.isObject) top.expectKey = true;
    }
  }
  return topKeys;
}

interface ParsedEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(name: string, value: unknown, dataLen: number): ParsedEntry {
  const t = `tensor ${q(name)}`;
  if (name.length === 0) throw new FormatError('safetensors header has a tensor with an empty name');
  if (!isPlainObject(value)) throw new FormatError(`${t}: entry must be an object, got ${describe(value)}`);
  for (const k of Object.keys(value)) {
    if (!ENTRY_FIELDS.has(k)) throw new FormatError(`${t}: unknown field ${q(k)}`);
  }

  const { dtype, shape, data_offsets: offsets } = value;
  if (dtype === undefined) throw new FormatError(`${t}: missing dtype`);
  if (!isDtype(dtype)) {
    const shown = typeof dtype === 'string' ? q(dtype) : describe(dtype);
    throw new FormatError(`${t}: unsupported dtype ${shown} (supported: ${Object.keys(DTYPES).join(', ')})`);
  }

  if (!Array.isArray(shape)) throw new FormatError(`${t}: shape must be an array, got ${describe(shape)}`);
  for (const d of shape) {
    if (!isNonNegInt(d)) {
      throw new FormatError(
        `${t}: shape dimension ${JSON.stringify(d) ?? String(d)} is not a non-negative integer`,
      );
    }
  }
  const dims = (shape as number[]).map((d) => (d === 0 ? 0 : d)); // normalise -0

  if (!Array.isArray(offsets) || offsets.length !== 2) {
    throw new FormatError(`${t}: data_offsets must be an array of two integers`);
  }
  const [begin, end] = offsets as unknown[];
  if (!isNonNegInt(begin) || !isNonNegInt(end)) {
    throw new FormatError(`${t}: data_offsets must be non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  if (begin > end) throw new FormatError(`${t}: data_offsets begin ${begin} > end ${end}`);
  if (end > dataLen) {
    throw new FormatError(
      `${t}: data_offsets [${begin},${end}] out of bounds of the ${dataLen}-byte data section`,
    );
  }

  const numel = safeProduct(dims);
  const byteLen = numel === null ? null : numel * DTYPES[dtype].size;
  if (byteLen === null || !Number.isSafeInteger(byteLen)) {
    throw new FormatError(`${t}: element count of shape ${shapeText(dims)} overflows`);
  }
  if (byteLen !== end - begin) {
    throw new FormatError(
      `${t}: byte length ${end - begin} does not match shape ${shapeText(dims)} × ${dtype} = ${byteLen} bytes`,
    );
  }
  return { name, dtype, shape: dims, begin: begin === 0 ? 0 : begin, end: end === 0 ? 0 : end };
}

/** Decode safetensors bytes. Throws `FormatError` on any malformed input. */
export function decodeSafetensors(bytes: Uint8Array, opts: DecodeOptions = {}): DecodedSafetensors {
  const maxHeaderBytes = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!isNonNegInt(maxHeaderBytes)) {
    throw new ConfigError(
      `maxHeaderBytes must be a non-negative safe integer, got ${typeof maxHeaderBytes === 'number' ? maxHeaderBytes : typeof maxHeaderBytes}`,
    );
  }
  if (!ArrayBuffer.isView(bytes) || Object.prototype.toString.call(bytes) !== '[object Uint8Array]') {
    throw new FormatError(`safetensors input must be a Uint8Array, got ${describe(bytes)}`);
  }
  if (bytes.length < 8) {
    throw new FormatError(
      `safetensors file too short: ${bytes.length} bytes, need at least 8 for the header length`,
    );
  }

  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  const remaining = bytes.length - 8;
  if (n64 > BigInt(remaining)) {
    throw new FormatError(
      `safetensors header length ${n64} exceeds the ${remaining} bytes after the length prefix (truncated file?)`,
    );
  }
  const headerLen = Number(n64);
  if (headerLen > maxHeaderBytes) {
    throw new FormatError(
      `safetensors header length ${headerLen} exceeds maximum of ${maxHeaderBytes} bytes`,
    );
  }
  if (headerLen === 0 || bytes[8] !== 0x7b /* { */) {
    throw new FormatError("safetensors header must be a JSON object starting with '{'");
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw new FormatError('safetensors header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`safetensors header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(header)) {
    throw new FormatError(`safetensors header must be a JSON object, got ${describe(header)}`);
  }
  const keys = scanHeaderKeys(text);

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;

  let metadata: Record<string, string> = {};
  const parsed: ParsedEntry[] = [];
  for (const key of keys) {
    const value = header[key];
    if (key === METADATA_KEY) {
      if (!isPlainObject(value)) {
        throw new FormatError(
          `safetensors __metadata__ must be an object of strings, got ${describe(value)}`,
        );
      }
      for (const [mk, mv] of Object.entries(value)) {
        if (typeof mv !== 'string') {
          throw new FormatError(
            `safetensors __metadata__ value for key ${q(mk)} must be a string, got ${describe(mv)}`,
          );
        }
      }
      // Object.fromEntries defines own properties, so a "__proto__" key stays a plain key.
      metadata = Object.fromEntries(Object.entries(value as Record<string, string>));
    } else {
      parsed.push(parseEntry(key, value, dataLen));
    }
  }

  // The tensors must tile the data section exactly.
  const sorted = [...parsed].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev: ParsedEntry | null = null;
  for (const e of sorted) {
    if (e.begin < cursor) {
      throw new FormatError(
        `tensor ${q(e.name)}: data_offsets [${e.begin},${e.end}] overlap tensor ${q(prev!.name)} [${prev!.begin},${prev!.end}]`,
      );
    }
    if (e.begin > cursor) {
      throw new FormatError(
        `tensor ${q(e.name)}: gap of ${e.begin - cursor} bytes before data_offsets begin ${e.begin}`,
      );
    }
    cursor = e.end;
    prev = e;
  }
  if (cursor !== dataLen) {
    throw new FormatError(
      `safetensors data section has ${dataLen - cursor} trailing bytes not covered by any tensor`,
    );
  }

  const tensors = new Map<string, TensorEntry>();
  for (const e of parsed) {
    const info = DTYPES[e.dtype];
    const data = info.make((e.end - e.begin) / info.size);
    const dst = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    dst.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    if (!HOST_LE && info.size > 1) swapBytes(dst, info.size);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

/**
 * Fetch tensor `name` as a Float32Array, checking that it exists, is F32, (if `shape` is given)
 * has exactly that shape and (with `finite`) holds no NaN or ±Infinity. Throws `FormatError`
 * naming the tensor otherwise.
 */
export function tensorF32(
  map: Map<string, TensorEntry>,
  name: string,
  shape?: readonly number[],
  finite = false,
): Float32Array {
  const entry = map.get(name);
  if (entry === undefined) {
    const want = shape === undefined ? '' : ` with shape ${shapeText(shape)}`;
    throw new FormatError(`missing tensor ${q(name)}${want}`);
  }
  if (entry.dtype !== 'F32' || !(entry.data instanceof Float32Array)) {
    throw new FormatError(`tensor ${q(name)}: expected dtype F32, got ${entry.dtype}`);
  }
  if (shape !== undefined) {
    const same = shape.length === entry.shape.length && shape.every((d, i) => d === entry.shape[i]);
    if (!same) {
      throw new FormatError(
        `tensor ${q(name)}: expected shape ${shapeText(shape)}, got ${shapeText(entry.shape)}`,
      );
    }
  }
  if (finite) {
    const d = entry.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i]))
        throw new FormatError(`tensor ${q(name)} holds a non-finite value at index ${i}`);
    }
  }
  return entry.data;
}
